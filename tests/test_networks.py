"""verify.experiments.networks: analytic gradients, GD/SGD, GD tracking the coupled flow (T5), water-filling reached by GD (T3),
the no-decay control, the rank report (T10) and input validation."""
import itertools

import numpy as np
import pytest

import theory
import verify
from verify import instances
from verify.core.linalg import numerical_rank, relative_error
from verify.core.tolerances import TOL
from verify.experiments.networks import (
    UFM,
    FixedFeatures,
    TwoLayer,
    kernel_flow_tracking_error,
    kernel_rank_report,
    minibatch_gradient,
    train,
)

C = 2
LOSSES = {"squared": theory.losses.squared(C), "softmax_ce": theory.losses.softmax_cross_entropy(C)}


def _instance(kind: str, seed: int = 0, n: int = 6):
    """(model, X, Y) of a small instance of each architecture; one-hot Y (valid for both losses)."""
    rng = np.random.default_rng(seed)
    Y = instances.one_hot_labels(rng, n, C)
    if kind == "ufm":
        return UFM(Phi=instances.features(rng, 5, n), W=instances.features(rng, C, 5), lam=0.3, mu=0.2), None, Y
    if kind == "fixed":
        d = 4
        X = rng.standard_normal((d, n))
        return FixedFeatures.random(rng, d=d, p=7, m=5, C=C, lam=0.3, mu=0.2), X, Y
    d = 3
    X = rng.standard_normal((d, n))
    activation = kind.split("-")[1]
    return TwoLayer.random(rng, d=d, m=6, C=C, lam=0.3, mu=0.2, activation=activation), X, Y


KINDS = ["ufm", "fixed", "two-relu", "two-linear"]


def _finite_difference_gradient(model, loss, X, Y, h=1e-6):
    """Central differences (L(θ + hE) − L(θ − hE))/2h of the objective, entry by entry."""
    out = {}
    for name, theta in model.parameters().items():
        g = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            up, down = theta.copy(), theta.copy()
            up[idx] += h
            down[idx] -= h
            g[idx] = (model.with_parameters(**{name: up}).objective(loss, X, Y)
                      - model.with_parameters(**{name: down}).objective(loss, X, Y)) / (2 * h)
        out[name] = g
    return out


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("kind", KINDS)
def test_analytic_gradient_matches_finite_differences(kind, loss_name):
    model, X, Y = _instance(kind)
    loss = LOSSES[loss_name]
    analytic = model.gradient(loss, X, Y)
    numeric = _finite_difference_gradient(model, loss, X, Y)
    assert set(analytic) == set(model.parameter_names)
    for name in model.parameter_names:
        assert analytic[name].shape == getattr(model, name).shape
        assert relative_error(analytic[name], numeric[name]) <= TOL.finite_differences, name


def test_finite_difference_check_catches_a_wrong_gradient():
    """Control: dropping the decay term of W is detected by the same check."""
    model, X, Y = _instance("fixed")
    loss = LOSSES["squared"]
    wrong = model.gradient(loss, X, Y)["W"] - model.lam * model.W
    assert relative_error(wrong, _finite_difference_gradient(model, loss, X, Y)["W"]) > 1e-3


@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_sgd_gradient_is_unbiased(kind, batch):
    """E_B[(n/|B|)∇Σ_{i∈B}ℓ + decay·θ] over all C(n, |B|) minibatches, enumerated exactly, is ∇L."""
    model, X, Y = _instance(kind, seed=3)
    loss = LOSSES["softmax_ce"]
    n = Y.shape[1]
    full = model.gradient(loss, X, Y)
    batches = list(itertools.combinations(range(n), batch))
    mean = {name: np.zeros_like(g) for name, g in full.items()}
    for B in batches:
        for name, g in minibatch_gradient(model, loss, X, Y, np.array(B)).items():
            mean[name] += g / len(batches)
    for name in full:
        assert relative_error(mean[name], full[name]) <= 1e-12, name
    # control: a single minibatch is not the full gradient
    single = minibatch_gradient(model, loss, X, Y, np.array(batches[0]))
    assert max(relative_error(single[k], full[k]) for k in full) > 1e-3


def test_full_size_minibatch_is_gradient_descent():
    model, X, Y = _instance("two-relu")
    loss = LOSSES["squared"]
    gd = train(model, loss, X, Y, steps=5, lr=0.05, seed=0)
    sgd = train(model, loss, X, Y, steps=5, lr=0.05, batch_size=Y.shape[1], seed=1)
    assert relative_error(sgd.kernels[-1], gd.kernels[-1]) <= 1e-14


def test_sgd_trains_and_records():
    model, X, Y = _instance("fixed", n=8)
    record = train(model, LOSSES["softmax_ce"], X, Y, steps=300, lr=0.05, batch_size=3, seed=7, record_every=100)
    assert list(record.steps) == [0, 100, 200, 300]
    assert record.kernels.shape == (4, 8, 8) and record.losses.shape == (4,)
    assert record.losses[-1] < record.losses[0]
    again = train(model, LOSSES["softmax_ce"], X, Y, steps=300, lr=0.05, batch_size=3, seed=7, record_every=100)
    assert np.array_equal(again.kernels, record.kernels)  # seeded


def test_objective_tracked_at_every_step():
    """step_objectives[k] = L(θ_k) for k = 0..steps, the recorded objectives among them; increases() counts rises."""
    model, X, Y = _instance("two-relu", n=8)
    record = train(model, LOSSES["squared"], X, Y, steps=40, lr=0.05, record_every=10, track_objective=True)
    assert record.step_objectives.shape == (41,)
    assert np.allclose(record.step_objectives[record.steps], record.losses, rtol=1e-13)
    assert record.increases() == int(np.sum(np.diff(record.step_objectives) > 0))
    # η·λ_max(θ_0) ≈ 2.8: the objective rises on some steps
    unstable = train(model, LOSSES["squared"], X, Y, steps=40, lr=0.25, track_objective=True)
    assert unstable.increases() > 0
    with pytest.raises(ValueError, match="track_objective=True"):
        train(model, LOSSES["squared"], X, Y, steps=2, lr=0.05).increases()
    with pytest.raises(TypeError, match="track_objective must be"):
        train(model, LOSSES["squared"], X, Y, steps=2, lr=0.05, track_objective=1)


def _ufm_problem(mu):
    rng = np.random.default_rng(11)
    n, m, lam = 8, 10, 0.3
    Y = instances.one_hot_labels(rng, n, C)
    model = UFM(Phi=instances.features(rng, m, n), W=instances.features(rng, C, m), lam=lam, mu=mu)
    return model, Y


UFM_STEPS, UFM_LR = 1500, 0.1


def test_T3_gd_on_ufm_reaches_the_water_filling_spectrum():
    """T3 via T5 (squared loss: coupled = adiabatic): GD on (Φ, W) ends with spec K = (√(λs/μ) − λ)₊."""
    model, Y = _ufm_problem(mu=0.3)
    record = train(model, LOSSES["squared"], None, Y, steps=UFM_STEPS, lr=UFM_LR, record_every=UFM_STEPS)
    spectrum = np.linalg.eigvalsh(record.kernels[-1])[::-1]
    predicted = verify.water_filling_spectrum(Y, model.lam, model.mu)
    assert relative_error(spectrum, predicted) <= 1e-6
    assert numerical_rank(record.kernels[-1]) <= C
    assert np.all(np.diff(record.losses) < 0)


def test_T3_negative_control_without_feature_decay_keeps_full_rank():
    """μ = 0: nothing removes the feature directions outside the labels, so rank K stays > C."""
    model, Y = _ufm_problem(mu=0.0)
    record = train(model, LOSSES["squared"], None, Y, steps=UFM_STEPS, lr=UFM_LR, record_every=UFM_STEPS)
    assert numerical_rank(record.kernels[-1]) > C


TRACKING_ETAS = (0.01, 0.005, 0.0025)
TRACKING_TIME = 2.0


def test_T5_gd_kernel_tracks_the_coupled_flow_to_first_order():
    """K after k GD steps vs the coupled flow's K at t = kη: error O(η) (explicit Euler), small for small η."""
    rng = np.random.default_rng(1)
    n, p, m = 12, 8, 10
    Y = instances.one_hot_labels(rng, n, C)
    Psi = rng.standard_normal((p, n)) / np.sqrt(p)
    model = FixedFeatures(U=instances.features(rng, m, p), W=instances.features(rng, C, m), lam=0.3, mu=0.3)
    errors = [kernel_flow_tracking_error(model, Psi, Y, lr=eta, steps=round(TRACKING_TIME / eta))
              for eta in TRACKING_ETAS]
    ratios = [a / b for a, b in itertools.pairwise(errors)]
    assert all(1.6 <= r <= 2.4 for r in ratios), (errors, ratios)
    assert errors[-1] < 1e-2
    # the kernel really moves over [0, T], so a small error is not trivial
    record = train(model, LOSSES["squared"], Psi, Y, steps=round(TRACKING_TIME / TRACKING_ETAS[-1]),
                   lr=TRACKING_ETAS[-1])
    assert relative_error(record.kernels[-1], record.kernels[0]) > 100 * errors[-1]


def test_tracking_report_records_errors():
    rng = np.random.default_rng(2)
    Psi = rng.standard_normal((4, 6))
    Y = instances.one_hot_labels(rng, 6, C)
    model = FixedFeatures(U=instances.features(rng, 5, 4), W=instances.features(rng, C, 5), lam=0.5, mu=0.5)
    report = kernel_flow_tracking_error(model, Psi, Y, lr=0.01, steps=50, record_every=10, return_info=True)
    assert list(report.steps) == [0, 10, 20, 30, 40, 50]
    assert np.allclose(report.times, report.steps * 0.01)
    assert report.errors[0] <= 1e-15 and report.max_error == report.errors.max()


def test_kernel_rank_report():
    K = np.diag([3.0, 1.0, 0.0, 0.0])
    report = kernel_rank_report(K, 1)
    assert report.numerical_rank == 2
    assert report.effective_rank == pytest.approx(np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))), rel=1e-14)
    assert report.outside_top_C == pytest.approx(0.25, rel=1e-14)
    assert kernel_rank_report(K, 2).outside_top_C == pytest.approx(0.0, abs=1e-15)
    assert kernel_rank_report(np.eye(5), 2).effective_rank == pytest.approx(5.0, rel=1e-14)
    with pytest.raises(ValueError, match="C"):
        kernel_rank_report(K, 5)


# ----------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_learning_rate(lr):
    model, X, Y = _instance("two-relu")
    with pytest.raises(ValueError, match="lr"):
        train(model, LOSSES["squared"], X, Y, steps=1, lr=lr)


@pytest.mark.parametrize("batch_size", [0, 7])
def test_bad_batch_size(batch_size):
    model, X, Y = _instance("fixed")  # n = 6
    with pytest.raises(ValueError, match="batch_size"):
        train(model, LOSSES["squared"], X, Y, steps=1, lr=0.1, batch_size=batch_size)


def test_bad_steps_and_record_every():
    model, X, Y = _instance("ufm")
    with pytest.raises(ValueError, match="steps"):
        train(model, LOSSES["squared"], X, Y, steps=0, lr=0.1)
    with pytest.raises(ValueError, match="record_every"):
        train(model, LOSSES["squared"], X, Y, steps=2, lr=0.1, record_every=0)
    with pytest.raises(TypeError, match="steps"):
        train(model, LOSSES["squared"], X, Y, steps=2.5, lr=0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_shapes(kind):
    model, X, Y = _instance(kind)
    loss = LOSSES["squared"]
    with pytest.raises(ValueError, match="Y"):
        train(model, loss, X, Y[:, :-1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="Y"):
        train(model, loss, X, np.vstack([Y, Y]), steps=1, lr=0.1)
    bad_X = np.ones((3, 5)) if X is None else np.vstack([X, X])
    with pytest.raises(ValueError, match="X"):
        train(model, loss, bad_X, Y, steps=1, lr=0.1)


def test_wrong_parameter_shapes():
    with pytest.raises(ValueError, match="W"):
        UFM(Phi=np.ones((4, 6)), W=np.ones((2, 5)), lam=0.1, mu=0.1)
    with pytest.raises(ValueError, match="W"):
        FixedFeatures(U=np.ones((4, 3)), W=np.ones((2, 5)), lam=0.1, mu=0.1)
    with pytest.raises(ValueError, match="b"):
        TwoLayer(A=np.ones((4, 3)), b=np.ones(3), W=np.ones((2, 4)), lam=0.1, mu=0.1)
    with pytest.raises(ValueError, match="activation"):
        TwoLayer(A=np.ones((4, 3)), b=np.ones(4), W=np.ones((2, 4)), lam=0.1, mu=0.1, activation="tanh")
    with pytest.raises(ValueError, match="mu"):
        UFM(Phi=np.ones((4, 6)), W=np.ones((2, 4)), lam=0.1, mu=-1.0)


def test_loss_must_match_the_readout():
    model, X, Y = _instance("ufm")
    with pytest.raises(ValueError, match="loss"):
        train(model, theory.losses.squared(3), X, Y, steps=1, lr=0.1)


def test_minibatch_indices_validated():
    model, X, Y = _instance("ufm")
    with pytest.raises(ValueError, match="batch"):
        minibatch_gradient(model, LOSSES["squared"], X, Y, np.array([0, 0]))
    with pytest.raises(ValueError, match="batch"):
        minibatch_gradient(model, LOSSES["squared"], X, Y, np.array([6]))
