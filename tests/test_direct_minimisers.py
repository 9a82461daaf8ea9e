"""Direct minimisers (ground truth for T3, T4, T8): exact commuting cases, gradients, controls, bad input."""
import ast
from pathlib import Path

import numpy as np
import pytest

import verify.truth.direct_minimisers as dm
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.truth.direct_minimisers import (
    MinimisationError,
    full_objective,
    minimise_full_objective,
    minimise_reduced_objective,
    minimise_ssl_energy,
    reduced_objective,
    ssl_energy,
)

LAM, MU = 0.3, 0.1


def _diagonal_labels():
    """Y = [σ_i e_iᵀ]: S = diag(σ²) is diagonal, so the minimiser is diag((√(λs/μ) − λ)₊), s = σ², by hand;
    s/λμ = 40, 5, 0.5: two modes filled, one cut off, three unlabelled."""
    s = LAM * MU * np.array([40.0, 5.0, 0.5])
    Y = np.zeros((3, 6))
    Y[range(3), range(3)] = np.sqrt(s)
    kappa = np.concatenate([np.maximum(np.sqrt(LAM * s / MU) - LAM, 0.0), np.zeros(3)])
    return Y, np.diag(kappa)


def _complete_graph(n):
    """L = nI − 11ᵀ: eigenvalue 0 on 1/√n, n on its complement; the minimiser is κ₀·11ᵀ/n + κ₁(I − 11ᵀ/n)."""
    return n * np.eye(n) - np.ones((n, n))


def test_reduced_objective_minimiser_is_the_exact_diagonal_solution():
    Y, expected = _diagonal_labels()
    K = minimise_reduced_objective(Y, LAM, MU, seed=1)
    assert relative_error(K, expected) <= TOL.direct_minimiser
    assert relative_error(minimise_reduced_objective(Y, LAM, MU, seed=2), expected) <= TOL.direct_minimiser


def test_full_objective_minimiser_is_the_exact_diagonal_solution():
    Y, expected = _diagonal_labels()
    assert relative_error(minimise_full_objective(Y, LAM, MU, seed=0), expected) <= TOL.direct_minimiser
    # a narrow network (m = 2 = number of filled modes) reaches the same minimum
    assert relative_error(minimise_full_objective(Y, LAM, MU, width=2, seed=0), expected) <= TOL.direct_minimiser


def test_ssl_energy_minimiser_is_the_exact_complete_graph_solution():
    n, mu, beta = 7, 0.2, 1.0
    eps = beta / np.sqrt(mu * (n + mu))  # between the two thresholds: the constant mode filled, the rest cut
    P = np.ones((n, n)) / n
    expected = (beta / mu - eps) * P
    assert relative_error(minimise_ssl_energy(_complete_graph(n), mu, beta, eps, seed=3), expected) <= TOL.direct_minimiser
    eps = 0.01  # every mode filled
    expected = (beta / mu - eps) * P + (beta / (n + mu) - eps) * (np.eye(n) - P)
    assert relative_error(minimise_ssl_energy(_complete_graph(n), mu, beta, eps), expected) <= TOL.direct_minimiser


def test_negative_control_minimiser_at_doubled_mu_is_far_from_the_solution_at_mu():
    Y, expected = _diagonal_labels()
    assert relative_error(minimise_reduced_objective(Y, LAM, 2 * MU), expected) > 1e3 * TOL.direct_minimiser


def test_eliminating_W_gives_the_reduced_objective():
    """min_W L(W, Φ) is attained at W = Y(K + λI)⁻¹Φᵀ and equals L*(ΦᵀΦ); any other W is worse."""
    rng = np.random.default_rng(0)
    Y, Phi = rng.standard_normal((2, 7)), rng.standard_normal((5, 7))
    K = Phi.T @ Phi
    W = Y @ np.linalg.solve(K + LAM * np.eye(7), Phi.T)
    assert full_objective(W, Phi, Y, LAM, MU) == pytest.approx(reduced_objective(K, Y, LAM, MU), rel=TOL.round_off)
    assert full_objective(W + 1e-3 * rng.standard_normal(W.shape), Phi, Y, LAM, MU) > reduced_objective(K, Y, LAM, MU)


@pytest.mark.parametrize("which", ["reduced", "ssl"])
def test_hand_gradients_match_central_differences(which):
    """The K-gradients the minimisers descend, against central differences of the objectives as defined."""
    rng = np.random.default_rng(1)
    n = 6
    B = rng.standard_normal((n, n))
    K, H = B.T @ B / n, rng.standard_normal((n, n))
    H = (H + H.T) / 2
    if which == "reduced":
        Y = rng.standard_normal((2, n))
        f = lambda K: reduced_objective(K, Y, LAM, MU)  # noqa: E731
        grad = dm.reduced_value_and_K_gradient(K, Y, LAM, MU)[1]
    else:
        L = _complete_graph(n)
        f = lambda K: ssl_energy(K, L, 0.2, 1.0, 0.05)  # noqa: E731
        grad = dm.ssl_value_and_K_gradient(K, L, 0.2, 1.0, 0.05)[1]
    h = 1e-6
    numeric = (f(K + h * H) - f(K - h * H)) / (2 * h)
    assert abs(numeric - np.sum(grad * H)) <= TOL.finite_differences * max(abs(numeric), 1.0)
    # control: a gradient missing its decay term fails the same comparison
    assert abs(numeric - np.sum((grad - MU / 2 * np.eye(n)) * H)) > TOL.finite_differences * max(abs(numeric), 1.0)


def test_convergence_check_refuses_an_unconverged_run(monkeypatch):
    Y, _ = _diagonal_labels()
    monkeypatch.setattr(dm, "MINIMISER_OPTIONS", {**dm.MINIMISER_OPTIONS, "maxiter": 2})
    with pytest.raises(MinimisationError, match="relative gradient"):
        minimise_reduced_objective(Y, LAM, MU)


def test_certificate_refuses_a_saddle_with_a_filled_mode_left_empty():
    """From a factor with no component along a fillable mode, gradient descent never fills it (B𝒢 keeps the
    zero column): a stationary point in B that is not the minimum, which the 𝒢 ⪰ 0 certificate rejects."""
    Y, _ = _diagonal_labels()
    B0 = np.eye(6)
    B0[1, 1] = 0.0  # mode 2 (s = 5λμ) left empty
    with pytest.raises(MinimisationError, match="saddle"):
        minimise_reduced_objective(Y, LAM, MU, B0=B0)


@pytest.mark.parametrize("call, match", [
    (lambda Y: minimise_reduced_objective(Y, 0.0, MU), "lam must be"),
    (lambda Y: minimise_reduced_objective(Y, LAM, -1.0), "mu must be"),
    (lambda Y: minimise_reduced_objective(Y * np.nan, LAM, MU), "Y contains NaN"),
    (lambda Y: minimise_reduced_objective(Y.T, LAM, MU), "Y must be C × n"),
    (lambda Y: minimise_reduced_objective(Y, LAM, MU, rank=0), "rank must be"),
    (lambda Y: minimise_reduced_objective(Y, LAM, MU, B0=np.eye(5)), "B0 must have 6 columns"),
    (lambda Y: minimise_reduced_objective(Y, LAM, MU, rank=2, B0=np.eye(6)), "give rank or B0"),
    (lambda Y: minimise_full_objective(Y, LAM, MU, width=0), "width must be"),
    (lambda Y: minimise_ssl_energy(np.eye(6), MU, 1.0, 0.01), "L must be a graph Laplacian"),
    (lambda Y: minimise_ssl_energy(_complete_graph(6), MU, 1.0, 0.0), "eps must be"),
    (lambda Y: minimise_ssl_energy(_complete_graph(6), MU, -1.0, 0.01), "beta must be"),
    (lambda Y: reduced_objective(np.eye(5), Y, LAM, MU), "K must be 6 × 6"),
])
def test_bad_input_is_refused_naming_the_argument(call, match):
    Y, _ = _diagonal_labels()
    with pytest.raises(ValueError, match=match):
        call(Y)


def test_direct_minimisers_share_nothing_with_the_derivation_chain():
    """The module is ground truth only if it imports neither theory nor the generated code."""
    tree = ast.parse(Path(dm.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    forbidden = {"theory", "verify.flows.kernel_ode", "verify.flows.codegen", "verify.flows.kernel_flow", "verify.flows.water_filling", "verify.flows.ssl_flow"}
    assert not {m for m in imported if m.split(".")[0] == "theory" or m in forbidden}, imported
    assert imported >= {"verify.core.validation"}  # the walk sees the imports (the check can fail)
