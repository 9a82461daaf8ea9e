"""T10 instruments and experiments: data loaders, collapse metrics, Hessian tools, findings, the claim.

The instruments must be right on exact cases and must reject wrong inputs; the experiments' findings
are reported, not asserted (the theory proves nothing about trained two-layer networks).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import theory
from verify.campaign import runner as campaign
from verify.core import findings
from verify.core.tolerances import TOL
from verify.experiments import data, hessian
from verify.experiments.collapse import collapse_metrics
from verify.experiments.networks import UFM, FixedFeatures, TwoLayer, train
from verify.experiments.real_networks import STEP_FRACTION, hessian_study, step_size, tracking_study, training_study
from verify.truth.instances import gaussian_mixture


def simplex_features(C, per_class, ambient, rng, noise=0.0):
    rotation = np.linalg.qr(rng.standard_normal((ambient, ambient)))[0][:, :C]
    frame = rotation @ (np.eye(C) - 1.0 / C)
    labels = np.repeat(np.arange(C), per_class)
    H = frame[:, labels] + noise * rng.standard_normal((ambient, labels.size))
    return H, labels, frame.T


# --- data -----------------------------------------------------------------------------------------

def test_loader_interface_round_trip_and_custom_loader():
    data.register_loader("two-blobs", lambda n, seed: (np.arange(2.0 * (n or 4)).reshape(2, -1), np.arange(n or 4) % 2))
    try:
        d = data.load("two-blobs", n=6)
        assert d.X.shape == (2, 6) and d.C == 2 and d.Y.shape == (2, 6)
        assert np.array_equal(d.Y.argmax(axis=0), d.labels)
        train, test = d.split(4, seed=1)
        assert sorted(np.concatenate([train.labels, test.labels]).tolist()) == sorted(d.labels.tolist())
    finally:
        del data.LOADERS["two-blobs"]


def test_normalised_uses_the_reference_statistics():
    d = data.load("gaussian-mixture", n=50, seed=0)
    train, test = d.split(40)
    t = train.normalised()
    assert np.allclose(t.X.mean(axis=1), 0) and np.isclose(np.mean(np.sum(t.X ** 2, axis=0)), 1)
    held = test.normalised(reference=train)
    centre = train.X.mean(axis=1, keepdims=True)
    assert np.allclose(held.X * np.sqrt(np.mean(np.sum((train.X - centre) ** 2, axis=0))), test.X - centre)


@pytest.mark.parametrize("call, message", [
    (lambda: data.load("imagenet"), "unknown data set 'imagenet'"),
    (lambda: data.from_arrays(np.ones((3, 4)), np.array([0, 1, 0])), "labels must be 4 integers"),
    (lambda: data.from_arrays(np.ones((3, 2)), np.array([0, 0])), "at least two classes"),
    (lambda: data.load("gaussian-mixture", n=20).split(20), "n_train must be in 1..19"),
    (lambda: data.register_loader("x", 3), "loader must be callable"),
])
def test_data_errors_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# --- collapse metrics -------------------------------------------------------------------------------

@given(C=st.integers(2, 6), per_class=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_simplex_frame_is_fully_collapsed(C, per_class, seed):
    H, labels, W = simplex_features(C, per_class, C + 3, np.random.default_rng(seed))
    m = collapse_metrics(H, labels, C, W)
    assert max(m.nc1, m.cosine_deviation, m.norm_variation, m.self_duality) < 1e-12
    assert m.ncc_agreement == 1.0


def test_nc1_matches_the_dense_definition_and_grows_with_within_class_noise():
    rng = np.random.default_rng(3)
    H, labels, W = simplex_features(4, 30, 9, rng, noise=0.2)
    C, n = 4, H.shape[1]
    means = np.stack([H[:, labels == c].mean(axis=1) for c in range(C)], axis=1)
    R = H - means[:, labels]
    M = means - H.mean(axis=1, keepdims=True)
    dense = np.trace((R @ R.T / n) @ np.linalg.pinv(M @ M.T / C)) / C
    assert np.isclose(collapse_metrics(H, labels, C).nc1, dense, rtol=1e-10)
    noisier = collapse_metrics(simplex_features(4, 30, 9, np.random.default_rng(3), noise=0.6)[0], labels, C).nc1
    assert noisier > collapse_metrics(H, labels, C).nc1


def test_collapse_errors():
    with pytest.raises(ValueError, match="labels must cover every class"):
        collapse_metrics(np.ones((3, 4)), np.array([0, 0, 1, 1]), 3)
    with pytest.raises(ValueError, match="W must"):
        collapse_metrics(np.eye(3), np.array([0, 1, 2]), 3, W=np.ones((2, 3)))


# --- Hessian tools ----------------------------------------------------------------------------------

def small_problem(activation="linear"):
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((4, 12)), np.eye(3)[:, np.arange(12) % 3]
    return TwoLayer.random(rng, 4, 5, 3, 0.2, 0.4, activation), theory.losses.squared(3), X, Y


def test_flatten_round_trip():
    model, *_ = small_problem()
    theta = hessian.flatten(model)
    assert np.array_equal(hessian.flatten(hessian.unflatten(model, theta)), theta)
    with pytest.raises(ValueError, match="theta must have"):
        hessian.unflatten(model, theta[:-1])


def test_hessian_of_a_quadratic_objective_is_exact():
    """Linear features and a fixed first layer make L quadratic in W: ∇²_W L = (ΦΦᵀ + λI) ⊗ I_C exactly."""
    model, loss, X, Y = small_problem()
    H = hessian.dense_hessian(model, loss, X, Y)
    Phi = model.features(X)
    D = hessian.flatten(model).size
    w = slice(D - model.W.size, D)  # W is last, raveled row-major: index c·m + j
    expected = np.kron(np.eye(3), Phi @ Phi.T + model.lam * np.eye(Phi.shape[0]))
    assert np.allclose(H[w, w], expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max())


def test_lanczos_top_eigenvalues_match_dense_and_overlap_is_a_fraction():
    model, loss, X, Y = small_problem("relu")
    dense = np.linalg.eigvalsh(hessian.dense_hessian(model, loss, X, Y))[::-1]
    top, vectors = hessian.top_hessian_eigenpairs(model, loss, X, Y, 4)
    assert np.allclose(top, dense[:4], rtol=1e-7)
    g = hessian.flat_gradient(model, loss, X, Y)
    assert 0.0 <= hessian.gradient_overlap(g, vectors) <= 1.0 + 1e-12
    assert np.isclose(hessian.gradient_overlap(vectors[:, 0], vectors), 1.0)
    with pytest.raises(ValueError, match="k must be an int"):
        hessian.top_hessian_eigenpairs(model, loss, X, Y, 0)


# --- exact Hessian-vector products on a trained ReLU network ------------------------------------------

def relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def trained_relu():
    """A two-layer ReLU network trained by GD (η·λ_max(θ_0) = STEP_FRACTION, 3000 steps, decay 1) on a Gaussian
    mixture: weight decay has driven some pre-activations to within ~1e-10 of their kinks."""
    rng = np.random.default_rng([0, 110])
    X, Y = gaussian_mixture(rng, 60, 4, 16)
    d = data.from_arrays(X, np.argmax(Y, axis=0)).normalised()
    loss = theory.losses.squared(4)
    model = TwoLayer.random(rng, 16, 16, 4, 1.0, 1.0, "relu")
    lr, _ = step_size(model, loss, d)
    return train(model, loss, d.X, d.Y, steps=3000, lr=lr).model, loss, d.X, d.Y


def pattern(model, X):
    return model.A @ X + model.b[:, None] > 0


def dense_by_gradient_differences(model, loss, X, Y):
    """Independent of verify.experiments.hessian: column k from Richardson-extrapolated central differences of the analytic
    gradient, with a step h_k below half the distance of every pre-activation from its kink along e_k, and
    the activation pattern checked at every evaluated point. The gradient is cubic along a line inside one
    pattern region (squared loss), so the extrapolation is exact up to rounding."""
    names = model.parameter_names
    theta = np.concatenate([getattr(model, k).ravel() for k in names])
    shapes = [getattr(model, k).shape for k in names]
    Z, base = model.A @ X + model.b[:, None], pattern(model, X)

    def at(t):
        arrays, start = {}, 0
        for k, shape in zip(names, shapes):
            arrays[k] = t[start:start + int(np.prod(shape))].reshape(shape)
            start += int(np.prod(shape))
        return model.with_parameters(**arrays)

    def grad(t):
        g = at(t).gradient(loss, X, Y)
        return np.concatenate([g[k].ravel() for k in names])

    columns = []
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = 1.0
        moved = at(e)  # Z is affine in θ: the change of Z along e_k is Z(e_k) − Z(0)
        dZ = moved.A @ X + moved.b[:, None] - at(np.zeros_like(theta)).A @ X - at(np.zeros_like(theta)).b[:, None]
        mask = dZ != 0
        h = 1e-3 * np.linalg.norm(theta)
        if mask.any():
            h = min(h, 0.5 * np.min(np.abs(Z[mask]) / np.abs(dZ[mask])))
        for t in (h, -h, h / 2, -h / 2):
            assert np.array_equal(pattern(at(theta + t * e), X), base)
        full = (grad(theta + h * e) - grad(theta - h * e)) / (2 * h)
        half = (grad(theta + h / 2 * e) - grad(theta - h / 2 * e)) / h
        columns.append((4 * half - full) / 3)
    return np.column_stack(columns)


@pytest.fixture(scope="module")
def reference_hessian(trained_relu):
    return dense_by_gradient_differences(*trained_relu)


def test_trained_network_sits_near_kinks(trained_relu):
    """The setting where the former instrument fails: pre-activations closer to 0 than its step moves them."""
    model, loss, X, Y = trained_relu
    theta = hessian.flatten(model)
    v = np.random.default_rng(1).standard_normal(theta.size)
    old_step = hessian.HVP_STEP * max(1.0, np.linalg.norm(theta)) / np.linalg.norm(v)
    assert hessian.pattern_safe_step(model, X, v) < old_step / 10
    assert np.min(np.abs(model.A @ X + model.b[:, None])) < 1e-8


def test_exact_hvp_matches_the_pattern_preserving_dense_hessian(trained_relu, reference_hessian):
    model, loss, X, Y = trained_relu
    H = hessian.dense_hessian(model, loss, X, Y, symmetrise=False)
    assert relative(H, reference_hessian) <= TOL.finite_differences
    rng = np.random.default_rng(2)
    for _ in range(3):
        v = rng.standard_normal(H.shape[0])
        assert relative(hessian.hessian_vector_product(model, loss, X, Y, v), reference_hessian @ v) \
            <= TOL.finite_differences
    # the library's own cross-check agrees with the independent construction
    assert relative(hessian.finite_difference_hessian(model, loss, X, Y), reference_hessian) <= TOL.finite_differences


def test_negative_control_the_kink_crossing_finite_difference_is_rejected(trained_relu, reference_hessian):
    """The same comparison rejects the former instrument (central differences with step 1e-5·‖θ‖)."""
    model, loss, X, Y = trained_relu
    rng = np.random.default_rng(2)
    errors = []
    for _ in range(3):
        v = rng.standard_normal(reference_hessian.shape[0])
        errors.append(relative(hessian.finite_difference_hvp(model, loss, X, Y, v), reference_hessian @ v))
    assert min(errors) > 1e3 * TOL.finite_differences


def test_exact_hvp_is_linear_and_symmetric_the_finite_difference_is_not(trained_relu):
    model, loss, X, Y = trained_relu
    op = hessian.HessianOperator(model, loss, X, Y)
    rng = np.random.default_rng(3)
    u, w = rng.standard_normal(op.size), rng.standard_normal(op.size)
    Hu, Hw, Huw = op.matvec(u), op.matvec(w), op.matvec(u + w)
    assert relative(Hu + Hw, Huw) <= TOL.round_off
    assert abs(u @ Hw - w @ Hu) <= TOL.round_off * np.linalg.norm(u) * np.linalg.norm(Hw)
    H = hessian.dense_hessian(model, loss, X, Y, symmetrise=False)
    assert np.abs(H - H.T).max() <= TOL.round_off * np.abs(H).max()
    defects = []
    for _ in range(3):  # a pair whose steps cross the same kinks the same way can look linear: take the worst
        u, w = rng.standard_normal(op.size), rng.standard_normal(op.size)
        fd = [hessian.finite_difference_hvp(model, loss, X, Y, x) for x in (u, w, u + w)]
        defects.append(relative(fd[0] + fd[1], fd[2]))
    assert max(defects) > 1e9 * TOL.round_off


@pytest.mark.parametrize("kind", ["relu", "linear", "fixed", "ufm"])
@pytest.mark.parametrize("loss_name", ["squared", "cross-entropy"])
def test_exact_hvp_on_every_model_and_loss(kind, loss_name):
    """Smooth pieces (linear layer, fixed features, UFM, softmax cross-entropy) are exact too: against the
    finite-difference cross-check, whose steps keep the activation pattern."""
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((4, 15)), np.eye(3)[:, np.arange(15) % 3]
    loss = theory.losses.squared(3) if loss_name == "squared" else theory.losses.softmax_cross_entropy(3)
    if kind in ("relu", "linear"):
        model = TwoLayer.random(rng, 4, 6, 3, 0.2, 0.4, kind)
    elif kind == "fixed":
        model = FixedFeatures.random(rng, 4, 7, 5, 3, 0.3, 0.2)
    else:
        model, X = UFM(Phi=rng.standard_normal((5, 15)), W=rng.standard_normal((3, 5)), lam=0.3, mu=0.2), None
    H = hessian.dense_hessian(model, loss, X, Y, symmetrise=False)
    assert relative(H, hessian.finite_difference_hessian(model, loss, X, Y)) <= TOL.finite_differences
    assert np.abs(H - H.T).max() <= TOL.round_off * np.abs(H).max()


def test_pattern_safe_step_is_the_distance_to_the_nearest_kink():
    model, loss, X, Y = small_problem("relu")
    v = np.random.default_rng(4).standard_normal(hessian.flatten(model).size)
    t = hessian.pattern_safe_step(model, X, v)
    theta, base = hessian.flatten(model), hessian.activation_pattern(model, X)
    inside = [hessian.activation_pattern(hessian.unflatten(model, theta + s * 0.99 * t * v), X) for s in (1, -1)]
    outside = [hessian.activation_pattern(hessian.unflatten(model, theta + s * 1.01 * t * v), X) for s in (1, -1)]
    assert all(np.array_equal(p, base) for p in inside)
    assert any(not np.array_equal(p, base) for p in outside)
    assert hessian.pattern_safe_step(small_problem("linear")[0], X, v) == np.inf


def test_finite_difference_hessian_refuses_a_unit_at_its_kink():
    model, loss, X, Y = small_problem("relu")
    A, b = model.A.copy(), model.b.copy()
    A[0], b[0] = 0.0, 0.0  # unit 0 at exactly 0 on every sample: any step along A[0] moves it across
    with pytest.raises(ValueError, match="exactly at its kink"):
        hessian.finite_difference_hessian(model.with_parameters(A=A, b=b), loss, X, Y)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, l, X, Y: hessian.hessian_vector_product(m, l, X, Y, np.ones(3)), ValueError, "vector must have"),
    (lambda m, l, X, Y: hessian.finite_difference_hvp(m, l, X, Y, np.ones(3)), ValueError, "vector must have"),
    (lambda m, l, X, Y: hessian.finite_difference_hvp(m, l, X, Y, hessian.flatten(m), step=0.0), ValueError,
     "step must be"),
    (lambda m, l, X, Y: hessian.HessianOperator("model", l, X, Y), TypeError, "model must be"),
    (lambda m, l, X, Y: hessian.HessianOperator(m, theory.losses.squared(2), X, Y), ValueError, "loss has 2 outputs"),
    (lambda m, l, X, Y: hessian.HessianOperator(m, l, X[:2], Y), ValueError, "X must have"),
    (lambda m, l, X, Y: hessian.pattern_safe_step(m, X, np.ones(2)), ValueError, "vector must have"),
])
def test_hessian_errors_name_the_argument(call, error, message):
    model, loss, X, Y = small_problem("relu")
    with pytest.raises(error, match=message):
        call(model, loss, X, Y)


# --- step size: η·λ_max(H) below 2, objective decreasing ---------------------------------------------

def test_step_rule_sets_eta_lambda_max_and_gd_never_raises_the_objective():
    d = data.load("gaussian-mixture", n=40, seed=4).normalised()
    study = training_study(d, activation="relu", width=64, steps=60, records=3)
    s = study["summary"]
    assert np.isclose(s["η·λ_max init"], STEP_FRACTION, rtol=1e-6)
    assert max(study["series"]["η·λ_max"]) == s["η·λ_max max"] < 2
    assert s["objective increases"] == 0 and np.all(np.diff(study["step objectives"]) <= 0)
    regime = study["findings"][-1]
    assert "gradient-flow regime" in regime.question and regime.outcome == "holds"
    sgd = training_study(d, activation="relu", width=64, steps=20, records=2, batch_size=8)
    assert not any("gradient-flow regime" in f.question for f in sgd["findings"])
    timed = training_study(d, activation="relu", width=16, horizon=0.05, records=4)
    t = timed["summary"]
    assert t["steps"] % 4 == 0 and 0.05 <= t["flow time"] < 0.05 + 4 * t["η·n"] / d.n
    assert np.allclose(timed["series"]["flow time"], np.array(timed["series"]["step"]) * timed["lr"])
    with pytest.raises(ValueError, match="give steps or horizon"):
        training_study(d, width=8, steps=2, horizon=1.0)
    with pytest.raises(ValueError, match="horizon must be"):
        training_study(d, width=8, horizon=0.0)
    with pytest.raises(ValueError, match="lr must be"):
        training_study(d, width=8, steps=2, lr=-1.0)
    with pytest.raises(TypeError, match="data must be"):
        training_study(d.X, width=8, steps=2)


def test_cross_entropy_step_allows_for_the_growth_of_the_loss_curvature():
    """η·λ_max(θ_0) = STEP_FRACTION · c_0/(1/2), c_0 = max_i λ_max(diag(p_i) − p_i p_iᵀ) at initialisation."""
    d = data.load("gaussian-mixture", n=30, seed=5).normalised()
    model = TwoLayer.random(np.random.default_rng(0), d.X.shape[0], 16, d.C, 1.0, 1.0, "relu")
    loss = theory.losses.softmax_cross_entropy(d.C)
    lr, top = step_size(model, loss, d, curvature_sup=0.5)
    F = model.outputs(d.X)
    P = np.exp(F - F.max(axis=0)) / np.exp(F - F.max(axis=0)).sum(axis=0)
    c0 = max(np.linalg.eigvalsh(np.diag(p) - np.outer(p, p))[-1] for p in P.T)
    assert np.isclose(lr * top, STEP_FRACTION * c0 / 0.5, rtol=1e-9) and c0 < 0.5
    assert np.isclose(step_size(model, loss, d)[0] * top, STEP_FRACTION, rtol=1e-12)
    with pytest.raises(ValueError, match="curvature_sup must be"):
        step_size(model, loss, d, curvature_sup=0.0)
    with pytest.raises(ValueError, match="fraction must be"):
        step_size(model, loss, d, fraction=-1.0)


TABULAR_GRID = [("iris", 32), ("wine", 256), ("breast-cancer", 1024), ("iris", 1024), ("breast-cancer", 32)]


@pytest.mark.parametrize("name, width", TABULAR_GRID)
def test_training_study_is_stable_on_standardised_tabular_data(name, width):
    """η = 1/λ_max(H(θ_0)): finite, the objective falls at every GD step, η·λ_max < 2 at every checkpoint,
    at widths 32–1024 on standardised iris, wine and breast-cancer (where η = 1/n diverges)."""
    pytest.importorskip("sklearn")
    d = data.load(name).standardised()
    study = training_study(d, width=width, steps=25, records=2)
    objectives = study["step objectives"]
    assert np.all(np.isfinite(objectives)) and np.all(np.diff(objectives) < 0)
    assert objectives[-1] < 0.9 * objectives[0]
    assert study["summary"]["η·λ_max max"] < 2


def test_negative_control_eta_one_over_n_diverges_on_standardised_iris():
    pytest.importorskip("sklearn")
    d = data.load("iris").standardised()
    with pytest.raises(FloatingPointError, match="diverged"):
        training_study(d, width=256, steps=25, records=2, lr=1.0 / d.n)


def test_standardised_and_tabular_loaders():
    d = data.load("gaussian-mixture", n=50, seed=0)
    X = d.X.copy()
    X[3] = 7.0  # a constant feature is only centred
    s = data.from_arrays(X, d.labels).standardised()
    assert np.allclose(s.X.mean(axis=1), 0) and np.allclose(np.delete(s.X.std(axis=1), 3), 1) and np.all(s.X[3] == 0)
    with pytest.raises(ValueError, match="reference must be a Dataset with 64"):
        d.standardised(reference=data.from_arrays(np.ones((3, 4)), np.array([0, 1, 0, 1])))
    with pytest.raises(ValueError, match="name must be one of"):
        data.load_tabular("mnist")
    pytest.importorskip("sklearn")
    shapes = {name: data.load(name).X.shape for name in data.TABULAR}
    assert shapes == {"iris": (4, 150), "wine": (13, 178), "breast-cancer": (30, 569)}
    with pytest.raises(ValueError, match="n must be an int in 1..150"):
        data.load("iris", n=151)


# --- findings -------------------------------------------------------------------------------------

def test_findings_rule_is_fixed_and_outcomes_are_closed():
    assert findings.graded("q", exact=False, defect=TOL.approximate, observed="", property_="p", defect_name="d").outcome \
        == "holds approximately"
    assert findings.graded("q", exact=False, defect=2 * TOL.approximate, observed="", property_="p",
                           defect_name="d").outcome == "does not hold"
    with pytest.raises(ValueError, match="outcome must be one of"):
        findings.Finding("q", "mostly", "", "")


# --- experiments and the claim (quick sizes) ---------------------------------------------------------

def test_linear_network_kernel_rank_is_bounded_by_its_input_span():
    """A linear hidden layer cannot exceed rank d + 1 (inputs plus bias): an exact bound the study must respect."""
    d = data.load("gaussian-mixture", n=40, seed=1).normalised()
    study = training_study(d, activation="linear", width=80, steps=50, records=2)
    assert study["summary"]["numerical rank"] <= d.X.shape[0] + 1
    assert [f.outcome in findings.OUTCOMES for f in study["findings"]] == [True, True, True]
    assert len(study["series"]["NC1"]) == len(study["series"]["step"]) == 3


def test_hessian_study_reports_counts_and_overlap():
    d = data.load("gaussian-mixture", n=30, seed=2).normalised()
    study = training_study(d, activation="relu", width=16, steps=40, records=4)
    h = hessian_study(d, study["model"], study["models"][1], label="mixture")
    assert 1 <= h["hessian outliers"] <= 3 * d.C and 1 <= h["noise outliers"] <= 3 * d.C
    assert 0.0 <= h["gradient overlap top-C"] <= 1.0 + 1e-12


def test_gd_tracking_error_halves_with_the_step_on_data():
    d = data.load("gaussian-mixture", n=30, seed=3).normalised()
    rows = tracking_study(d, width=8, rates=(0.25, 0.125), time=0.5)
    ratio = rows[0]["max relative kernel error"] / rows[1]["max relative kernel error"]
    assert abs(np.log2(ratio) - 1) <= TOL.convergence_order
    assert rows[0]["max relative distance from K(0)"] > 10 * rows[0]["max relative kernel error"]


def test_T10_quick_passes_and_is_not_in_the_default_quick_selection():
    assert "T10" not in campaign.parse_claims(None, "quick") and "T10" in campaign.parse_claims(None, "full")
    [result] = campaign.run(["T10"], profile="quick", seed=0, progress=False)
    v = result.verdict
    assert v.passed, v.reason
    assert all(c["rejected"] for c in v.details["controls"].values())
    assert {f["outcome"] for f in v.details["findings"]} <= set(findings.OUTCOMES)
    assert len(v.details["figures"]) >= 3
