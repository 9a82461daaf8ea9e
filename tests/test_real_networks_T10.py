"""T10 instruments and experiments: data loaders, collapse metrics, Hessian tools, findings, the claim.

The instruments must be right on exact cases and must reject wrong inputs; the experiments' findings
are reported, not asserted (the theory proves nothing about trained two-layer networks).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory
from verify import campaign, data, findings, hessian
from verify.collapse import collapse_metrics
from verify.networks import TwoLayer
from verify.real_networks import hessian_study, tracking_study, training_study
from verify.tolerances import TOL


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
    assert [f.outcome in findings.OUTCOMES for f in study["findings"]] == [True, True]
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
