"""T8 (symbolic part): the derived SSL filter law against the reference, and a certificate that must fail."""
import sympy as sp

from theory import notation as nt
from theory.t8_ssl import L, beta, derive_ssl_filter, ell, eps

LAW = derive_ssl_filter()


def test_T8_filter_law_equals_the_reference():
    """docs/theory.md#t8: κ_j = (β/(ℓ_j + μ) − ε)₊, compared after the derivation."""
    assert sp.simplify(LAW.kappa_star - (beta / (ell + nt.mu) - eps)) == 0
    assert sp.simplify(LAW.mode_rhs - (-2 * nt.kappa * (ell + nt.mu - beta / (nt.kappa + eps)))) == 0
    assert LAW.threshold == (beta > eps * (ell + nt.mu))


def test_T8_epsilon_to_zero_gives_the_low_pass_filter():
    assert sp.limit(LAW.kappa_star, eps, 0) == beta / (ell + nt.mu)


def test_T8_gradient_certificate_rejects_a_wrong_gradient():
    """Negative control: the directional-derivative certificate fails for ∇E without the log-det term."""
    step = derive_ssl_filter().step("energy gradient")
    assert step.certificate.passed
    assert not step.recheck(rhs=L + nt.mu * nt.I_n).passed


import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402
from scipy.linalg import subspace_angles  # noqa: E402

from verify import instances  # noqa: E402
from verify.core.linalg import numerical_rank, relative_error  # noqa: E402
from verify.core.tolerances import TOL  # noqa: E402
from verify.flows.ssl_flow import ssl_filter_spectrum, ssl_steady_state  # noqa: E402


def _graph(rng, family, n):
    if family == "sbm":
        return instances.laplacian(instances.stochastic_block_model(rng, n, 3, 0.6, 0.08)[0])
    A, _ = instances.random_geometric_graph(rng, n, 0.45)
    return instances.laplacian(A)


@given(family=st.sampled_from(["sbm", "rgg"]), n=st.integers(6, 16), mu=st.floats(0.05, 1.0),
       beta=st.floats(0.2, 3.0), eps=st.floats(0.005, 0.2), seed=st.integers(0, 2**16))
def test_T8_steady_state_obeys_the_filter_law_and_aligns_with_smooth_eigenvectors(family, n, mu, beta, eps, seed):
    rng = np.random.default_rng(seed)
    L = _graph(rng, family, n)
    K = ssl_steady_state(L, mu, beta, eps, seed=seed)
    law = ssl_filter_spectrum(L, mu, beta, eps)
    assert relative_error(np.sort(np.linalg.eigvalsh(K)), np.sort(law)) <= TOL.law
    # K∞ = V diag(κ∞(ℓ)) Vᵀ: the top eigenvectors of K span the low-frequency eigenvectors of L
    ells, V = np.linalg.eigh(L)
    assert relative_error(K, (V * law) @ V.T) <= TOL.law


def test_T8_rank_is_far_above_C_on_a_block_graph():
    rng = np.random.default_rng(1)
    L = _graph(rng, "sbm", 24)
    K = ssl_steady_state(L, 0.1, 1.0, 0.01)
    assert numerical_rank(K) == 24  # high rank, unlike the supervised bound C = 3
    top = np.linalg.eigh(K)[1][:, -3:]
    low = np.linalg.eigh(L)[1][:, :3]
    assert np.max(subspace_angles(top, low)) <= 1e-6


def test_T8_negative_control_without_log_det_the_kernel_collapses():
    rng = np.random.default_rng(2)
    L = _graph(rng, "rgg", 10)
    K = ssl_steady_state(L, 0.2, 0.0, 0.01)
    assert np.linalg.norm(K) <= TOL.steady_state_floor * 10


def test_T8_negative_control_a_wrong_filter_law_is_rejected():
    rng = np.random.default_rng(3)
    L = _graph(rng, "sbm", 12)
    mu, beta, eps = 0.3, 1.0, 0.02
    eig = np.sort(np.linalg.eigvalsh(ssl_steady_state(L, mu, beta, eps)))
    ells = np.clip(np.linalg.eigvalsh(L), 0, None)
    wrong = np.sort(np.maximum(beta / (ells + 2 * mu) - eps, 0))  # μ counted twice
    assert relative_error(eig, wrong) > 1e3 * TOL.law


def test_T8_bad_input_is_refused():
    with pytest.raises(ValueError, match="Laplacian"):
        ssl_steady_state(np.eye(3), 0.1, 1.0, 0.01)
    with pytest.raises(ValueError, match="eps"):
        ssl_steady_state(np.zeros((3, 3)), 0.1, 1.0, 0.0)


@pytest.mark.parametrize("family", ["sbm", "rgg"])
def test_T8_spectral_contrastive_loss_spans_the_top_normalised_eigenvectors(family):
    """Published anchor (HaoChen et al. 2021): the minimiser's span = top-k eigenvectors of D^-1/2 A D^-1/2;
    the bottom-k eigenvectors (control) are far from it."""
    from verify.flows.ssl_flow import normalised_adjacency, spectral_contrastive_embedding

    rng = np.random.default_rng(7)
    if family == "sbm":
        A = instances.stochastic_block_model(rng, 30, 3, 0.6, 0.05)[0]
    else:
        A = instances.random_geometric_graph(rng, 30, 0.45)[0]
    U = spectral_contrastive_embedding(A, 3)
    vectors = np.linalg.eigh(normalised_adjacency(A))[1]
    assert np.max(subspace_angles(U, vectors[:, -3:])) <= TOL.principal_angle
    assert np.max(subspace_angles(U, vectors[:, :3])) > 0.1


def test_T8_campaign_entry_passes_with_the_contrast_figure(tmp_path):
    from verify.campaign.cli import main

    assert main(["verify", "--claims", "T8", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "figures" / "T8-supervised-vs-ssl.png").stat().st_size > 1000


def test_T8_digits_augmentation_graph_obeys_the_law():
    pytest.importorskip("sklearn")
    from verify.experiments.data import augmentation_graph, load_digits

    _, _, images = load_digits(n=30, seed=1)
    A = augmentation_graph(images, 5)
    assert np.allclose(A, A.T) and A.sum(axis=1).min() >= 5
    L = instances.laplacian(A)
    K = ssl_steady_state(L, 0.1, 1.0, 0.05)
    assert relative_error(np.sort(np.linalg.eigvalsh(K)), np.sort(ssl_filter_spectrum(L, 0.1, 1.0, 0.05))) <= TOL.law
    assert numerical_rank(K) > 10  # far above the 10 classes


def test_digits_loader_refuses_bad_sizes():
    pytest.importorskip("sklearn")
    from verify.experiments.data import load_digits

    with pytest.raises(ValueError, match="n must be"):
        load_digits(n=0)


def test_T8_claim_degrades_cleanly_without_scikit_learn(monkeypatch):
    import verify.claims.t8_ssl as claim
    from verify.claims import Context

    monkeypatch.setattr(claim, "digits_available", lambda: False)
    verdict = claim.check(Context())
    assert verdict.passed
    assert any("skipped" in str(row["model"]) for row in verdict.details["supervised vs self-supervised on one mixture"])


# --- T8 against direct minimisation of E(K) (verify.truth.direct_minimisers: no derivation, no flow) -------------------

from hypothesis import assume  # noqa: E402

from verify.claims.t8_ssl import cutting_eps, filled_count, judge_counts, kernel_rank, near_threshold  # noqa: E402
from verify.truth.direct_minimisers import minimise_ssl_energy  # noqa: E402


@given(family=st.sampled_from(["sbm", "rgg"]), n=st.integers(6, 12), mu=st.floats(0.05, 1.0),
       beta=st.floats(0.2, 3.0), log_eps=st.floats(-5.0, 1.0), seed=st.integers(0, 2**16))
def test_T8_direct_minimiser_obeys_the_filter_and_its_rank_is_the_law_count(family, n, mu, beta, log_eps, seed):
    """ε from e⁻⁵ to e: from every mode filled to most cut; rank = #{j : β/(ℓ_j + μ) > ε} exactly."""
    rng = np.random.default_rng(seed)
    L = _graph(rng, family, n)
    eps = float(np.exp(log_eps))
    ells, V = np.linalg.eigh(L)
    assume(not near_threshold(ells, mu, beta, eps))
    K = minimise_ssl_energy(L, mu, beta, eps, seed=seed)
    law = ssl_filter_spectrum(L, mu, beta, eps)
    assert relative_error(K, (V * law) @ V.T) <= TOL.direct_minimiser
    assert kernel_rank(K, eps) == filled_count(ells, mu, beta, eps) == int(np.sum(law > 0))


def test_T8_integrated_steady_state_is_the_direct_minimiser():
    rng = np.random.default_rng(41)
    L = _graph(rng, "sbm", 10)
    mu, beta = 0.2, 1.0
    eps = cutting_eps(np.linalg.eigvalsh(L), mu, beta)
    assert not near_threshold(np.linalg.eigvalsh(L), mu, beta, eps)
    K = ssl_steady_state(L, mu, beta, eps)
    D = minimise_ssl_energy(L, mu, beta, eps)
    assert relative_error(K, D) <= TOL.law
    assert 2 <= kernel_rank(D, eps) < 10  # the cutting ε keeps some modes and cuts others


def test_T8_negative_controls_of_the_direct_and_count_judges():
    """The energy minimised at 2μ is rejected against the filter at μ; the filter without its threshold (count n)
    is rejected by the exact-count judge; β = 0 (no log det) collapses to rank 0, rejected against the count
    with the log-det term; a near-threshold instance is skipped and said so."""
    rng = np.random.default_rng(42)
    L = _graph(rng, "rgg", 10)
    mu, beta = 0.2, 1.0
    ells, V = np.linalg.eigh(L)
    eps = cutting_eps(ells, mu, beta)
    law = ssl_filter_spectrum(L, mu, beta, eps)
    assert relative_error(minimise_ssl_energy(L, 2 * mu, beta, eps), (V * law) @ V.T) > 1e3 * TOL.direct_minimiser
    from verify.claims import Context

    rank = kernel_rank(minimise_ssl_energy(L, mu, beta, eps), eps)
    assert judge_counts(Context(), [(rank, filled_count(ells, mu, beta, eps))], 0).passed
    assert not judge_counts(Context(), [(rank, ells.size)], 0).passed
    collapsed = kernel_rank(ssl_steady_state(L, mu, 0.0, eps), eps)
    assert collapsed == 0 and not judge_counts(Context(), [(collapsed, filled_count(ells, mu, beta, eps))], 0).passed
    at_threshold = beta / (ells[3] + mu)  # mode 4 exactly on the threshold
    assert near_threshold(ells, mu, beta, at_threshold)
    assert judge_counts(Context(), [], 1).details["skipped: a mode within 5% of the threshold"] == 1
