"""T9: fixed-feature compression (certificates, instruments, negative controls) and the exploratory claim."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import theory
from theory import notation as nt
from theory.t9_fixed_features import M, derive_fixed_features, fixed_feature_instance, reduction_certificate, sigma
from verify import instances
from verify.core.findings import OUTCOMES
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.experiments.compression import (
    bias_variance,
    compress,
    compression_study,
    effective_dof,
    kernel_dof,
    law_kernel,
    population_modes,
    ridge_predict,
    study_draws,
    whiten,
)
from verify.experiments.data import from_arrays, load
from verify.flows.coupled import fixed_feature_flow
from verify.flows.kernel_flow import integrate_kernel_flow, steady_state
from verify.flows.water_filling import water_filling_spectrum

T9 = derive_fixed_features(2)
STEPS = ["fixed-feature kernel", "orthonormal rows", "penalty", "Woodbury", "resolvent", "push-through",
         "reduced objective", "compressed flow", "compressed steady state", "kernel-ridge predictor",
         "degrees of freedom", "soft thresholding", "fixed-kernel bias and variance"]


# ------------------------------------------------------------------------------------------------ certificates

def test_T9_every_step_is_certified_and_registered():
    assert [s.name for s in T9.steps] == STEPS
    assert T9.certified, "\n".join(str(s) for s in T9.steps if not s.certificate.passed)
    assert theory.DERIVATIONS["T9"][1]() is T9


def test_T9_one_output_is_certified_too():
    assert derive_fixed_features(1).certified


def test_T9_derived_forms_equal_the_reference():
    """docs/theory.md#t9, compared after the derivation (never used by it)."""
    lam, mu, k = nt.lam, nt.mu, nt.kappa
    assert T9.resolvent == nt.Psi.T * (M + lam * sp.Identity(nt.p)).I * nt.Psi + (nt.I_n - nt.Psi.T * nt.Psi) / lam
    assert sp.simplify(T9.mode_weight - (sigma - sp.sqrt(lam * mu))) == 0
    assert sp.simplify(T9.mode_dof - (1 - sp.sqrt(lam * mu) / sigma)) == 0
    assert sp.simplify(T9.mode_bias - lam / (k + lam)) == 0
    assert sp.simplify(T9.mode_variance - (k / (k + lam)) ** 2) == 0


def test_T9_reduction_needs_orthonormal_rows():
    """Negative control: the same identities re-certified with a generic rational Ψ must fail."""
    assert reduction_certificate("orthonormal").passed
    bad = reduction_certificate("generic")
    assert not bad.passed and "residue" in bad.detail


def test_T9_Woodbury_holds_for_any_rows_but_the_resolvent_does_not():
    import random

    from theory.certify import evaluate

    v = fixed_feature_instance(random.Random(3), {nt.n: 4, nt.p: 2, nt.m: 3, nt.C: 2}, rows="generic")
    lhs = evaluate(T9.step("Woodbury").lhs, v)
    assert lhs == evaluate(T9.step("Woodbury").rhs, v)
    assert lhs != evaluate(T9.resolvent, v)


# ------------------------------------------------------------------------------------------------ instruments

def _data(rng, n, d=6, C=3, separation=3.0):
    X, Y = instances.gaussian_mixture(rng, n, C, d, separation)
    return from_arrays(X, np.argmax(Y, axis=0), "mixture")


def test_T9_whitening_gives_orthonormal_rows_and_the_training_transform():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 40)) * np.array([[1e3], [1.0], [1e-2], [3.0], [1.0]])
    white = whiten(X)
    assert white.p == 5
    assert np.abs(white.Psi @ white.Psi.T - np.eye(5)).max() < 1e-12
    assert relative_error(white(X), white.Psi) < 1e-12
    # n ≤ d: the centred inputs span n − 1 directions
    assert whiten(rng.standard_normal((10, 6))).p == 5


@pytest.mark.parametrize("rows", ["orthonormal", "generic"])
def test_T9_push_through_predictions_and_dof_match_the_n_by_n_formulas(rows):
    rng = np.random.default_rng(1)
    n, p, C, N, lam = 12, 5, 3, 7, 0.3
    Psi = np.linalg.qr(rng.standard_normal((n, n)))[0][:p] if rows == "orthonormal" else rng.standard_normal((p, n))
    B = rng.standard_normal((p, p))
    Mv, Y, new = B @ B.T, rng.standard_normal((C, n)), rng.standard_normal((p, N))
    K = Psi.T @ Mv @ Psi
    naive = Y @ np.linalg.solve(K + lam * np.eye(n), Psi.T @ Mv @ new)
    assert relative_error(ridge_predict(Psi, Y, new, lam, Mv), naive) <= TOL.closed_form_vs_solver
    assert abs(kernel_dof(Mv, lam, Psi) - np.trace(K @ np.linalg.inv(K + lam * np.eye(n)))) < 1e-10
    if rows == "orthonormal":
        assert abs(kernel_dof(Mv, lam) - kernel_dof(Mv, lam, Psi)) < 1e-10


def test_T9_flow_reaches_the_law_with_Ytilde_and_not_with_Y():
    rng = np.random.default_rng(2)
    train = _data(rng, 30)
    c = compress(train, 0.2, 0.5)  # the flow from I_p
    assert relative_error(np.linalg.eigvalsh(c.M)[::-1], water_filling_spectrum(c.Ytilde, 0.2, 0.5)) <= TOL.law
    assert relative_error(c.M, compress(train, 0.2, 0.5, method="law").M) <= TOL.law
    # negative control: the law with the raw labels Y (n-vector) against the spectrum of K∞ = ΨᵀM∞Ψ
    kernel = np.zeros(train.n)
    kernel[: c.M.shape[0]] = np.linalg.eigvalsh(c.M)[::-1]
    assert relative_error(kernel, water_filling_spectrum(train.Y, 0.2, 0.5)) > 1e-2
    # the compressed kernel extends to new inputs: k∞ on the training inputs is ΨᵀM∞Ψ
    assert relative_error(c.kernel(train.X), c.Psi.T @ c.M @ c.Psi) < 1e-12


def test_T9_coupled_fixed_feature_flow_reaches_PsiT_M_Psi_only_for_orthonormal_rows():
    rng = np.random.default_rng(3)
    n, p, C, m, lam, mu = 8, 5, 2, 6, 0.3, 0.1
    Y = instances.one_hot_labels(rng, n, C)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0][:p]
    errors = {}
    for name, Psi in (("orthonormal", Q), ("rescaled", np.diag([0.5, 0.8, 1.0, 1.5, 2.0]) @ Q)):
        U, _ = fixed_feature_flow(theory.losses.squared(C), rng.standard_normal((m, p)), rng.standard_normal((C, m)),
                                  Psi, Y, lam, mu)
        Minf = steady_state(np.eye(p), Y @ Psi.T, lam, mu)
        errors[name] = relative_error(Psi.T @ U.T @ U @ Psi, Psi.T @ Minf @ Psi)
    assert errors["orthonormal"] <= TOL.closed_form_vs_solver
    assert errors["rescaled"] > 1e-3


def test_T9_bias_variance_identity_and_mode_split_are_exact():
    rng = np.random.default_rng(4)
    R, C, N = 5, 3, 40
    F, y = rng.standard_normal((R, C, N)), rng.standard_normal((C, N))
    basis = np.linalg.qr(rng.standard_normal((N, 7)))[0]
    bv = bias_variance(F, y, basis)
    assert bv.identity_error <= TOL.round_off
    assert bv.split_error <= TOL.round_off
    assert bv.mode_bias2.size == 8 and np.all(bv.mode_variance >= 0)
    # negative control: the unbiased 1/(R − 1) variance breaks mse = bias² + variance
    assert bias_variance(F, y, variance_denominator="R - 1").identity_error > 1e-3
    # a complete basis leaves no residual
    full = bias_variance(F, y, np.linalg.qr(rng.standard_normal((N, N)))[0])
    assert abs(full.mode_bias2[-1]) < 1e-12 * full.bias2


def test_T9_population_modes_are_orthonormal_and_label_ordered():
    data = load("gaussian-mixture", n=200, seed=1)
    basis, s = population_modes(data)
    assert basis.shape == (200, 65)
    assert np.abs(basis.T @ basis - np.eye(65)).max() < 1e-10
    assert np.all(np.diff(s) <= 1e-12) and np.count_nonzero(s > 1e-8) <= data.C - 1  # centred features: rank ≤ C − 1


def test_T9_no_decay_keeps_the_degrees_of_freedom_high():
    """Negative control: without decay (μ = 0) the same df ≤ C check fails: the flow does not compress."""
    rng = np.random.default_rng(5)
    train = _data(rng, 30)
    c = compress(train, 0.2, 0.5, method="law")
    assert c.dof <= train.C
    flow = integrate_kernel_flow(np.eye(c.M.shape[0]), c.Ytilde, 0.2, 0.0, [0.0, 20.0])
    assert effective_dof(np.linalg.eigvalsh(flow.kernels[-1]), 0.2) > train.C


@given(n=st.integers(8, 60), d=st.integers(2, 12), C=st.integers(2, 5), lam=st.floats(0.01, 2.0),
       mu=st.floats(1e-3, 2.0), seed=st.integers(0, 2**16))
def test_T9_compressed_dof_is_at_most_C(n, d, C, lam, mu, seed):
    rng = np.random.default_rng(seed)
    n = max(n, C)
    train = _data(rng, n, d=d, C=C, separation=float(rng.uniform(0.0, 4.0)))
    c = compress(train, lam, mu, method="law")
    sv = np.linalg.svd(c.Ytilde, compute_uv=False)
    assert c.dof <= train.C
    # the derived closed form: df(K∞) = Σ(1 − √(λμ)/σ)₊ over the singular values of Ỹ
    assert abs(c.dof - np.sum(np.clip(1 - np.sqrt(lam * mu) / np.maximum(sv, 1e-300), 0, None))) < 1e-9 * max(c.dof, 1)
    assert c.raw_dof == pytest.approx(c.whitening.p / (1 + lam))


def test_T9_study_rows_and_identity():
    data = load("gaussian-mixture", n=300, seed=2)
    study = compression_study(data, (30, 60), lam=0.1, mu=10.0, draws=3, pool=120, seed=0)
    assert [r["n"] for r in study.rows] == [30, 60]
    assert study.identity_error <= TOL.round_off and study.split_error <= TOL.round_off
    for row in study.rows:
        assert row["df compressed"] <= data.C < row["df raw"]
        for name in ("raw", "compressed"):
            assert row[f"mse {name}"] == pytest.approx(row[f"bias² {name}"] + row[f"variance {name}"], rel=1e-12)
            assert 0 <= row[f"error {name}"] <= 1


# ------------------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("call, match", [
    (lambda: whiten(np.ones((3, 1))), "at least 2 columns"),
    (lambda: whiten(np.ones((3, 4))), "identical columns"),
    (lambda: whiten(np.full((3, 4), np.nan)), "X contains NaN"),
    (lambda: ridge_predict(np.eye(2, 3), np.ones((1, 4)), np.ones((2, 1)), 0.1), "Y must have 3 columns"),
    (lambda: ridge_predict(np.eye(2, 3), np.ones((1, 3)), np.ones((3, 1)), 0.1), "Psi_new must have 2 rows"),
    (lambda: ridge_predict(np.eye(2, 3), np.ones((1, 3)), np.ones((2, 1)), 0.0), "lam must be a finite number > 0"),
    (lambda: ridge_predict(np.eye(2, 3), np.ones((1, 3)), np.ones((2, 1)), 0.1, -np.eye(2)), "M must be positive"),
    (lambda: effective_dof([-1.0, 2.0], 0.1), "kappa must be >= 0"),
    (lambda: bias_variance(np.ones((1, 2, 3)), np.ones((2, 3))), "R >= 2"),
    (lambda: bias_variance(np.ones((2, 2, 3)), np.ones((2, 3)), np.ones((3, 2))), "orthonormal columns"),
    (lambda: bias_variance(np.ones((2, 2, 3)), np.ones((2, 3)), variance_denominator="n"), "variance_denominator"),
    (lambda: law_kernel(np.ones((2, 3)), 0.1, 0.0), "mu must be a finite number > 0"),
])
def test_T9_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_T9_bad_datasets_and_designs_are_named():
    data = load("gaussian-mixture", n=100, seed=0)
    with pytest.raises(TypeError, match="train must be a verify.experiments.data.Dataset"):
        compress(data.X, 0.1, 0.1)
    with pytest.raises(ValueError, match="method must be one of"):
        compress(data, 0.1, 0.1, method="closed")
    with pytest.raises(ValueError, match="p = 5 < C = 10"):
        compress(data.subset(np.arange(6)), 0.1, 0.1)
    with pytest.raises(ValueError, match="pool \\+ draws·max\\(sizes\\)"):
        study_draws(data, (20, 40), draws=3, pool=10)
    with pytest.raises(ValueError, match="sizes must be increasing ints"):
        study_draws(data, (40, 20), draws=2, pool=10)
    with pytest.raises(ValueError, match="draws must be an int >= 2"):
        study_draws(data, (20,), draws=1, pool=10)
    with pytest.raises(ValueError, match="rows must be one of"):
        fixed_feature_instance(None, {nt.n: 3, nt.p: 2, nt.m: 1, nt.C: 1}, rows="skew")
    with pytest.raises(ValueError, match="C must be a positive int"):
        derive_fixed_features(0)


# ------------------------------------------------------------------------------------------------ the claim

def test_T9_claim_passes_in_the_quick_profile():
    from verify.claims import Context, get

    verdict = get("T9").check(Context("quick", 0))
    assert verdict.passed, verdict.reason
    details = verdict.details
    assert all(c["rejected"] for c in details["controls"].values())
    assert len(details["findings"]) == 3
    for finding in details["findings"]:
        assert finding["outcome"] in OUTCOMES and "holds:" in finding["rule"]
    for rows in details["rows"].values():
        assert [r["n"] for r in rows] == [32, 64, 128, 256]
    assert [f["name"] for f in details["figures"]] == ["bias-variance-vs-n", "bias-variance-per-mode"]


def test_T9_full_profile_falls_back_to_the_mixture_without_scikit_learn(monkeypatch):
    import verify.claims.t9_compression as claim
    from verify.claims import Context

    monkeypatch.setattr(claim, "digits_available", lambda: False)
    plan = claim.design(Context("full"))
    assert plan["data"] == "gaussian-mixture" and "scikit-learn not installed" in plan["note"]
    monkeypatch.setattr(claim, "digits_available", lambda: True)
    assert claim.design(Context("full"))["data"] == "digits"


def test_T9_finding_rule_is_graded_as_stated():
    from verify.claims.t9_compression import lowers_variance_finding

    def row(n, v0, v1, e0, e1):
        return {"n": n, "variance raw": v0, "variance compressed": v1, "mse raw": e0, "mse compressed": e1,
                "bias² raw": e0 - v0, "bias² compressed": e1 - v1}

    assert lowers_variance_finding("q", [row(1, 1, 0.5, 2, 1.5)])["outcome"] == "holds"
    assert lowers_variance_finding("q", [row(1, 1, 0.5, 2, 2.05)])["outcome"] == "holds approximately"
    assert lowers_variance_finding("q", [row(1, 1, 0.5, 2, 2.5)])["outcome"] == "does not hold"
    assert lowers_variance_finding("q", [row(1, 1, 1.5, 2, 1.5)])["outcome"] == "does not hold"
