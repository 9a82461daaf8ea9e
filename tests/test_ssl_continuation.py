"""T8 numerics on the SSL flow's derived Jacobian and convex energy: the generated J[Δ], the KKT certificate of
the energy's minimiser, and the default steady-state solver (Newton along a barrier path), each with the wrong
answers it must reject, and a robustness sweep over graphs and parameters."""
import numpy as np
import pytest

from verify.core.errors import ConvergenceError
from verify.core.tolerances import TOL
from verify.flows.ssl_continuation import BarrierPath
from verify.flows.ssl_flow import compiled_ssl, ssl_filter_spectrum, ssl_flow_jvp, ssl_steady_state
from verify.flows.ssl_kkt import ssl_kkt_certificate
from verify.truth import instances


def _graph(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "block model":
        return instances.laplacian(instances.stochastic_block_model(rng, n, 3, 0.6, 0.08)[0])
    if kind == "geometric":
        return instances.laplacian(instances.random_geometric_graph(rng, n, 0.45)[0])
    if kind == "kNN":
        return instances.laplacian(instances.knn_graph(instances.gaussian_mixture(rng, n, 3, 5)[0], 4))
    ring = np.roll(np.eye(n), 1, axis=1)
    return instances.laplacian(ring + ring.T)


def _relative(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), np.finfo(float).tiny))


def _complex_step(K, E, L, mu, beta, eps):
    h = 1e-30 * max(np.abs(K).max(), 1.0)
    return compiled_ssl()[0](K + 1j * h * E, L, mu, beta, eps).imag / h


def _instance(seed, n=6):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    E = rng.standard_normal((n, n))
    return B @ B.T / n, E + E.T, _graph("geometric", n, seed)


@pytest.mark.parametrize("seed", range(4))
def test_T8_generated_jvp_is_the_complex_step_derivative_of_the_generated_rhs(seed):
    K, E, L = _instance(seed)
    assert _relative(ssl_flow_jvp(K, E, L, 0.1, 1.0, 0.05), _complex_step(K, E, L, 0.1, 1.0, 0.05)) < TOL.generated_code


def test_T8_jvp_comparison_rejects_a_frozen_resolvent_and_a_halved_kronecker_term():
    """The same comparison on wrong derivatives: −(EG + GE) with G = ∇E held fixed, and βε RER for 2βε RER."""
    K, E, L = _instance(7)
    mu, beta, eps = 0.1, 1.0, 0.05
    truth = _complex_step(K, E, L, mu, beta, eps)
    R = np.linalg.inv(K + eps * np.eye(6))
    A = L + mu * np.eye(6)
    G = A - beta * R
    for wrong in (-(E @ G + G @ E), -(E @ A + A @ E) + beta * eps * R @ E @ R):
        assert _relative(wrong, truth) > 1e-3
    assert _relative(-(E @ A + A @ E) + 2 * beta * eps * R @ E @ R, truth) < TOL.generated_code


def test_T8_jvp_refuses_mismatched_shapes():
    K, E, L = _instance(0)
    with pytest.raises(ValueError, match="K and E must be 6 × 6"):
        ssl_flow_jvp(K[:5, :5], E[:5, :5], L, 0.1, 1.0, 0.05)


# --- the KKT certificate of the energy's minimiser ---

PARAMETERS = (0.1, 1.0, 0.3)  # μ, β, ε: some modes filled, some empty on the graphs below


def _minimiser():
    L = _graph("block model", 16, 3)
    return L, ssl_steady_state(L, *PARAMETERS)


def test_T8_certificate_passes_at_the_steady_state_and_rejects_the_start_and_a_scaled_state():
    L, K = _minimiser()
    assert ssl_kkt_certificate(K, L, *PARAMETERS).passed
    rng = np.random.default_rng(0)
    B = rng.standard_normal((18, 16))
    for wrong in (B.T @ B / 16, 1.001 * K):
        assert not ssl_kkt_certificate(wrong, L, *PARAMETERS).passed


def test_T8_certificate_names_an_emptied_filled_mode_as_its_growth_direction():
    L, K = _minimiser()
    values, vectors = np.linalg.eigh(K)
    top = vectors[:, -1]
    emptied = K - values[-1] * np.outer(top, top)
    cert = ssl_kkt_certificate(emptied, L, *PARAMETERS)
    assert not cert.passed and cert.dual_gap > 1e-3
    assert abs(cert.direction @ top) > 1 - 1e-6


def test_T8_certificate_rejects_the_state_of_another_decay_and_a_non_psd_kernel():
    L, K = _minimiser()
    mu, beta, eps = PARAMETERS
    assert not ssl_kkt_certificate(ssl_steady_state(L, 2 * mu, beta, eps), L, mu, beta, eps).passed
    assert not ssl_kkt_certificate(K - 2 * eps * np.eye(16), L, mu, beta, eps).passed


def test_T8_certificate_of_the_empty_kernel_decides_by_the_threshold():
    """K = 0 minimises E iff β/ε ≤ ℓ + μ for every mode, i.e. β/ε ≤ μ (the constant mode, ℓ = 0)."""
    L = _graph("ring", 8, 0)
    assert ssl_kkt_certificate(np.zeros((8, 8)), L, 0.2, 0.019, 0.1).passed
    assert not ssl_kkt_certificate(np.zeros((8, 8)), L, 0.2, 0.021, 0.1).passed


# --- the default solver against the law, the trajectory, and wrong instruments ---


@pytest.mark.parametrize("method", ["continuation", "flow"])
def test_T8_both_methods_reach_the_filter_law(method):
    L = _graph("kNN", 14, 5)
    K = ssl_steady_state(L, 0.1, 1.0, 0.05, method=method)
    law = np.sort(ssl_filter_spectrum(L, 0.1, 1.0, 0.05))
    assert _relative(np.sort(np.linalg.eigvalsh(K)), law) < TOL.law


def test_T8_continuation_finds_the_minimiser_from_a_start_the_flow_cannot_leave():
    """K0 = 0 is a stationary state of the flow (F(0) = 0); the energy's minimiser is reached from it all the same."""
    L = _graph("ring", 10, 0)
    zero = np.zeros((10, 10))
    assert np.abs(ssl_steady_state(L, 0.1, 1.0, 0.05, K0=zero, method="flow")).max() == 0
    K = ssl_steady_state(L, 0.1, 1.0, 0.05, K0=zero)
    assert _relative(np.sort(np.linalg.eigvalsh(K)), np.sort(ssl_filter_spectrum(L, 0.1, 1.0, 0.05))) < TOL.law


def test_T8_barrier_path_residual_is_the_generated_flow_and_rejects_a_wrong_rhs():
    """The path ends on the flow's own residual: a right-hand side with half the resolvent term never converges."""
    L = _graph("ring", 8, 0)
    rhs = compiled_ssl()[0]
    path = BarrierPath(L + 0.1 * np.eye(8), 1.0, 0.3, 1e-8, lambda K: rhs(K, L, 0.1, 1.0, 0.3))
    K = ssl_steady_state(L, 0.1, 1.0, 0.3)
    assert path.residual(K) < TOL.steady_state
    wrong = BarrierPath(L + 0.1 * np.eye(8), 1.0, 0.3, 1e-8, lambda K: rhs(K, L, 0.1, 0.5, 0.3))
    assert wrong.residual(K) > 1e-3


def test_T8_method_and_max_time_are_validated():
    L = _graph("ring", 6, 0)
    with pytest.raises(ValueError, match="method must be 'continuation' or 'flow'"):
        ssl_steady_state(L, 0.1, 1.0, 0.05, method="newton")
    with pytest.raises(ValueError, match="max_time bounds an integration"):
        ssl_steady_state(L, 0.1, 1.0, 0.05, max_time=10.0)


SWEEP = [(kind, n, seed, mu, beta, eps)
         for kind, n in (("block model", 24), ("geometric", 18), ("kNN", 30), ("ring", 12))
         for seed in (0, 1)
         for mu, beta, eps in ((1e-2, 1.0, 1e-3), (0.1, 1.0, 0.3), (1.0, 1e-3, 1e-3), (1e2, 1.0, 1e-3))]


@pytest.mark.parametrize("kind, n, seed, mu, beta, eps", SWEEP)
def test_T8_robustness_sweep_reaches_the_law_with_a_passing_certificate_or_refuses(kind, n, seed, mu, beta, eps):
    """32 cases: four graph families × seeds × (μ, β, ε) from 1e-3 to 1e2 (all modes filled, some, none)."""
    L = _graph(kind, n, seed)
    try:
        K = ssl_steady_state(L, mu, beta, eps, seed=seed)
    except (ValueError, ConvergenceError) as refused:  # a clear refusal is allowed, a silent wrong answer is not
        assert "beta" in str(refused) or "ssl_steady_state" in str(refused)
        return
    law = np.sort(ssl_filter_spectrum(L, mu, beta, eps))
    assert np.abs(np.sort(np.linalg.eigvalsh(K)) - law).max() <= TOL.law * max(law.max(), eps)
    assert ssl_kkt_certificate(K, L, mu, beta, eps).passed


def test_T8_polish_operator_is_the_generated_jvp_in_the_kernels_eigenbasis():
    """The polish solves with J written in K's eigenbasis; the generated J[Δ] of the certified factored form says
    what J is, and a polish operator with the Kronecker term on the wrong side (εr_i r_j → r_i r_j) differs."""
    K, E, L = _instance(11)
    mu, beta, eps = 0.1, 1.0, 0.05
    w, U = np.linalg.eigh(K)
    path = BarrierPath(L + mu * np.eye(6), beta, eps, 1e-8, None)
    E_hat = U.T @ E @ U
    ours = U @ path.jvp_in_eigenbasis(w, U.T @ (L + mu * np.eye(6)) @ U, E_hat) @ U.T
    generated = ssl_flow_jvp(K, E, L, mu, beta, eps)
    assert _relative(ours, generated) < TOL.generated_code
    wrong = BarrierPath(L + mu * np.eye(6), beta / eps, 1.0, 1e-8, None)  # 2β r_i r_j E_ij with r = 1/(w + 1)
    assert _relative(U @ wrong.jvp_in_eigenbasis(w, U.T @ (L + mu * np.eye(6)) @ U, E_hat) @ U.T, generated) > 1e-3


def test_T8_certificate_refuses_an_L_of_another_size_by_name():
    L = _graph("ring", 6, 0)
    with pytest.raises(ValueError, match="L must be 5 × 5 like K"):
        ssl_kkt_certificate(np.eye(5), L, 0.1, 1.0, 0.05)


def test_T8_certificate_says_what_it_certifies():
    L, K = _minimiser()
    assert str(ssl_kkt_certificate(K, L, *PARAMETERS)).startswith("KKT (SSL energy): global minimiser")
    assert "NOT the global minimiser" in str(ssl_kkt_certificate(np.zeros((16, 16)), L, *PARAMETERS))
