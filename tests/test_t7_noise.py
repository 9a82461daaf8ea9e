"""T7 SGD noise: exact second moment vs Monte Carlo, rank ≤ C at any width, increments ≤ 2C, controls."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import theory
from theory.t5_coupled import rank_bound
from theory.t7_noise import enumerate_weight_covariance
from verify import instances
from verify.claims.shared import LOSSES
from verify.claims.t7_noise import Z_MAX, noise_problem
from verify.core.linalg import confirmed_rank, numerical_rank
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL
from verify.experiments.networks import UFM, minibatch_gradient
from verify.flows.noise import (
    covariance_rank,
    feature_noise_covariance,
    kernel_increment,
    monte_carlo_feature_noise_covariance,
    noise_factor,
    sample_weights,
    second_moment_scale,
    weight_covariance_scale,
)


@pytest.mark.parametrize("replacement", [False, True])
def test_T7_weight_covariance_matches_enumeration(replacement):
    for n, b in ((5, 2), (6, 3), (4, 4)):
        k = weight_covariance_scale(n, b, replacement)
        exact = np.array(enumerate_weight_covariance(n, b, replacement), dtype=float)
        assert np.allclose(exact, k * (np.eye(n) - np.ones((n, n)) / n), rtol=0, atol=1e-14)
        assert second_moment_scale(n, b, replacement) == pytest.approx(exact[0, 0], rel=1e-14)


@pytest.mark.parametrize("replacement", [False, True])
def test_T7_monte_carlo_agrees_with_the_exact_covariance_and_rejects_the_wrong_scheme(replacement):
    rng = np.random.default_rng(1)
    loss, Phi, W, Y = noise_problem(rng, "softmax_cross_entropy", 3, 12, 15)
    exact = feature_noise_covariance(loss, Phi, W, Y, 4, replacement=replacement)
    wrong = feature_noise_covariance(loss, Phi, W, Y, 4, replacement=not replacement)
    mean, se = monte_carlo_feature_noise_covariance(loss, Phi, W, Y, 4, 20000, rng, replacement=replacement)
    z = np.abs(mean - exact) / np.maximum(se, np.finfo(float).tiny)
    assert z.max() <= Z_MAX
    assert (np.abs(mean - wrong) / np.maximum(se, np.finfo(float).tiny)).max() > 10 * Z_MAX  # control


@pytest.mark.parametrize("name", [nm for nm, _, _ in LOSSES])
@given(C=st.integers(2, 4), n=st.integers(6, 30), m=st.integers(5, 60), b=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_T7_feature_noise_rank_is_at_most_C_or_C_minus_1(name, C, n, m, b, seed):
    rng = np.random.default_rng(seed)
    loss, Phi, W, Y = noise_problem(rng, name, C, n, m)
    cov = feature_noise_covariance(loss, Phi, W, Y, min(b, n - 1))
    assert confirmed_rank(cov) <= rank_bound(loss)  # derived: C, or C − 1 when the columns of G sum to 0


def test_T7_rank_does_not_move_with_width():
    rng = np.random.default_rng(2)
    C, n = 3, 20
    Y = instances.one_hot_labels(rng, n, C)
    ranks = {}
    for m in (16, 64, 256, 1024, 4096):
        Phi, W = rng.standard_normal((m, n)), rng.standard_normal((C, m)) / np.sqrt(m)
        for loss, bound in ((theory.losses.squared(C), C), (theory.losses.softmax_cross_entropy(C), C - 1)):
            factor = noise_factor(loss, Phi, W, Y, 5)
            ranks[(m, loss.name)] = covariance_rank(factor)
            if m <= 256:  # the m × m matrix itself agrees
                assert numerical_rank(feature_noise_covariance(loss, Phi, W, Y, 5)) == ranks[(m, loss.name)]
            assert ranks[(m, loss.name)] <= bound, ranks


@given(C=st.integers(1, 4), n=st.integers(6, 25), m=st.integers(3, 40), b=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_T7_each_kernel_increment_has_rank_at_most_2C(C, n, m, b, seed):
    rng = np.random.default_rng(seed)
    loss, Phi, W, Y = noise_problem(rng, "squared", C, n, m)
    G = numeric_loss(loss)[1](W @ Phi, Y)
    dK = kernel_increment(Phi, W, G, sample_weights(rng, n, min(b, n - 1)))
    assert confirmed_rank(dK) <= 2 * C


def test_T7_sgd_noise_steps_stay_in_the_task_subspace():
    """SGD on the UFM (gradients from verify.experiments.networks, not from the noise formula): every noise step ξ has
    no component outside range Wᵀ, to rounding."""
    rng = np.random.default_rng(3)
    C, n, m = 3, 15, 30
    Y = instances.one_hot_labels(rng, n, C)
    model = UFM(Phi=rng.standard_normal((m, n)), W=rng.standard_normal((C, m)), lam=0.1, mu=0.1)
    loss = theory.losses.squared(C)
    full = model.gradient(loss, None, Y)["Phi"]
    Q, _ = np.linalg.qr(model.W.T)  # orthonormal basis of range Wᵀ
    for _ in range(20):
        batch = rng.choice(n, size=4, replace=False)
        xi = minibatch_gradient(model, loss, None, Y, batch)["Phi"] - full
        outside = xi - Q @ (Q.T @ xi)
        assert np.linalg.norm(outside) <= TOL.generated_code * np.linalg.norm(xi)


def test_T7_negative_control_isotropic_noise_has_full_rank():
    rng = np.random.default_rng(4)
    m, n = 40, 10
    samples = [rng.standard_normal((m, n)) for _ in range(2000)]
    second_moment = sum(x @ x.T for x in samples) / len(samples)
    assert numerical_rank(second_moment) == m


def test_T7_negative_control_noise_without_linear_readout_is_not_confined():
    """With a nonlinear readout f = W tanh(φ) the per-sample feature gradients (1 − tanh²φ_i) ⊙ Wᵀg_i
    leave range Wᵀ, and the same second-moment construction exceeds rank C."""
    rng = np.random.default_rng(5)
    C, n, m, b = 2, 12, 10, 3
    Y = instances.one_hot_labels(rng, n, C)
    Phi, W = rng.standard_normal((m, n)), rng.standard_normal((C, m))
    G = W @ np.tanh(Phi) - Y  # squared loss gradient at the nonlinear outputs
    A = (1 - np.tanh(Phi) ** 2) * (W.T @ G)
    second_moment = second_moment_scale(n, b) * A @ A.T
    assert numerical_rank(second_moment) > C


def test_T7_campaign_entry_passes_and_draws_rank_against_width(tmp_path):
    from verify.campaign.cli import main

    assert main(["verify", "--claims", "T7", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "figures" / "T7-rank-vs-width.png").stat().st_size > 1000
    assert "figures/T7-rank-vs-width.png" in (tmp_path / "report.md").read_text()


# --- T7 from the network code: ξ and δK from verify.experiments.networks, not from the noise formula ------------------------

from verify.experiments.network_noise import (  # noqa: E402
    network_enumerated_feature_noise_covariance,
    network_kernel_increment,
    network_monte_carlo_feature_noise_covariance,
)
from verify.experiments.networks import draw_batch  # noqa: E402
from verify.flows.noise import batch_weights  # noqa: E402


@pytest.mark.parametrize("name", [nm for nm, _, _ in LOSSES])
def test_T7_sgd_kernel_increment_from_network_features_is_xi_T_Phi_plus_Phi_T_xi(name):
    """One SGD step of a UFM, steps ±η: the kernel increment read off the updated features equals
    kernel_increment(Φ, W, G, c) to rounding; the one-sided 2Φᵀξ is rejected by the same comparison."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        C, n = int(rng.integers(2, 4)), int(rng.integers(5, 12))
        loss, Phi, W, Y = noise_problem(rng, name, C, n, int(rng.integers(C + 2, 15)))
        model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
        batch = draw_batch(rng, n, int(rng.integers(1, n)))
        G = numeric_loss(loss)[1](W @ Phi, Y)
        c = batch_weights(n, batch)
        measured = network_kernel_increment(model, loss, Y, batch, 0.1)
        assert np.linalg.norm(measured - kernel_increment(Phi, W, G, c)) <= TOL.round_off * np.linalg.norm(measured)
        xi = (W.T @ G) * c[None, :]
        assert np.linalg.norm(measured - 2 * Phi.T @ xi) > 1e-3 * np.linalg.norm(measured)  # control
        assert confirmed_rank(measured) <= 2 * loss.C


def test_T7_network_kernel_increment_is_exact_for_any_step_size():
    """The ±η combination cancels the η² term exactly: the same increment for η = 1e-3 and η = 1."""
    rng = np.random.default_rng(8)
    loss, Phi, W, Y = noise_problem(rng, "squared", 2, 9, 6)
    model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
    batch = draw_batch(rng, 9, 3)
    small, large = (network_kernel_increment(model, loss, Y, batch, eta) for eta in (1e-3, 1.0))
    assert np.linalg.norm(small - large) <= 1e3 * TOL.round_off * np.linalg.norm(large)
    # control: the one-sided difference D(η)/(−η) keeps its O(η) error at η = 1
    g_b = minibatch_gradient(model, loss, None, Y, batch)["Phi"]
    g = model.gradient(loss, None, Y)["Phi"]
    one_sided = -((Phi - g_b).T @ (Phi - g_b) - (Phi - g).T @ (Phi - g))
    assert np.linalg.norm(one_sided - large) > 1e-3 * np.linalg.norm(large)


@pytest.mark.parametrize("replacement", [False, True])
def test_T7_every_minibatch_of_network_noise_averages_to_the_formula(replacement):
    rng = np.random.default_rng(9)
    for name in ("squared", "softmax_cross_entropy"):
        loss, Phi, W, Y = noise_problem(rng, name, 3, 7, 5)
        model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
        enumerated = network_enumerated_feature_noise_covariance(model, loss, Y, 3, replacement=replacement)
        exact = feature_noise_covariance(loss, Phi, W, Y, 3, replacement=replacement)
        wrong = feature_noise_covariance(loss, Phi, W, Y, 3, replacement=not replacement)
        assert np.linalg.norm(enumerated - exact) <= TOL.round_off * np.linalg.norm(exact)
        assert np.linalg.norm(enumerated - wrong) > 0.1 * np.linalg.norm(exact)  # control: the other scheme


@pytest.mark.parametrize("replacement", [False, True])
def test_T7_monte_carlo_of_network_sgd_agrees_with_the_exact_covariance(replacement):
    """Minibatches drawn by verify.experiments.networks.draw_batch, ξ from the UFM's gradients: z-scores within Z_MAX of the
    exact E[ξξᵀ], far outside it for the other sampling scheme's formula."""
    rng = np.random.default_rng(10)
    loss, Phi, W, Y = noise_problem(rng, "huber", 3, 12, 10)
    model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
    mean, se = network_monte_carlo_feature_noise_covariance(model, loss, Y, 4, 4000, rng, replacement=replacement)
    se = np.maximum(se, np.finfo(float).tiny)
    assert (np.abs(mean - feature_noise_covariance(loss, Phi, W, Y, 4, replacement=replacement)) / se).max() <= Z_MAX
    wrong = feature_noise_covariance(loss, Phi, W, Y, 4, replacement=not replacement)
    assert (np.abs(mean - wrong) / se).max() > Z_MAX  # control: the same judge rejects it


def test_T7_draw_batch_is_the_sampling_of_train_and_refuses_bad_sizes():
    """train draws its minibatches with draw_batch: the same generator state gives the same batch."""
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(draw_batch(a, 10, 4), np.sort(b.choice(10, size=4, replace=False)))
    assert np.unique(draw_batch(a, 10, 10)).size == 10
    assert draw_batch(a, 3, 7, replacement=True).size == 7
    with pytest.raises(ValueError, match="batch_size"):
        draw_batch(a, 5, 6)
    with pytest.raises(ValueError, match="batch must"):
        batch_weights(5, np.array([0, 5]))
    with pytest.raises(TypeError, match="UFM"):
        network_kernel_increment(object(), theory.losses.squared(2), np.eye(2), np.array([0]), 0.1)
