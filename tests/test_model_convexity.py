"""derive_model, steps "objective in K", "gradient in K", "convex in K", and the certified continuation: L̃(K) against
the objective's values at the eliminated minimiser, convexity by rules (each rule needed, each refusal real, a
loosened rule caught by midpoint convexity computed from values alone), and the continuation's KKT certificate
(agreeing with the trajectory, rejecting perturbed kernels)."""
import random

import numpy as np
import pytest
import sympy as sp

import theory
from theory import kernel_objective as ko, notation as nt
from theory.certify import evaluate, standard_instance
from verify.claims.model import eliminated_shapes, fixed_arguments, instance_values
from verify.claims.model_corpus import BY_NAME, CORPUS
from verify.core.linalg import relative_error
from verify.flows.model_flow import model_kkt, model_objective, model_steady_state
from verify.truth import instances
from verify.truth.model_objective import objective_at_minimiser

CLOSED = [c for c in CORPUS if c.closed]
BASE = BY_NAME["baseline (T2)"].objective
R = sp.Inverse(nt.lam * sp.Identity(nt.n) + nt.K)
M = sp.MatrixSymbol("M", nt.n, nt.n)
PSD = {M: theory.objective_language.Declared(True, False, "positive definite")}


def derive(entry):
    return theory.derive_model(entry.objective, declare=entry.declare, eliminate=entry.eliminate)


def problem(model, entry, n, seed):
    rng = np.random.default_rng(seed)
    Y = instances.real_labels(rng, n, model.C)
    return Y, instance_values(model, rng, n, n + 2, entry.values), instances.generic_kernel(rng, n)


def midpoint_gaps(model, entry, pairs: int, seed: int) -> list[float]:
    """(L̃(mid) − (L̃(K₁) + L̃(K₂))/2)/scale over random PSD pairs, L̃ from the objective's values at the minimiser of the
    eliminated variables (no derived formula): ≤ rounding for a convex L̃, > 0 somewhere for a non-convex one."""
    value = model_objective(model)
    rng = np.random.default_rng(seed)
    n, m = model.C + 3, model.C + 5
    Y = instances.real_labels(rng, n, model.C)
    values = instance_values(model, rng, n, m, entry.values)
    shapes, fixed = eliminated_shapes(model, n, m, model.C), fixed_arguments(model, Y, values)

    def L(Phi):
        return float(np.real(objective_at_minimiser(value, Phi, shapes, fixed)))

    gaps = []
    for _ in range(pairs):
        P1, P2 = rng.standard_normal((m, n)) * rng.uniform(0.1, 3), rng.standard_normal((m, n)) * rng.uniform(0.1, 3)
        K = (P1.T @ P1 + P2.T @ P2) / 2
        w, V = np.linalg.eigh(K)
        mid = np.vstack([(V * np.sqrt(np.clip(w, 0, None))).T, np.zeros((m - n, n))])  # midᵀmid = (K₁ + K₂)/2
        a, b, c = L(P1), L(P2), L(mid)
        gaps.append((c - (a + b) / 2) / max(abs(a), abs(b), 1.0))
    return gaps


@pytest.mark.parametrize("entry", CLOSED, ids=lambda c: c.name)
def test_model_objective_in_K_is_certified_and_convexity_is_decided(entry):
    model = derive(entry)
    step = model.step("objective in K")
    assert step.holds and not step.rhs.has(nt.Phi)
    assert model.convex is entry.convex, model.reasons.get("convexity")
    if entry.convex:
        assert model.step("gradient in K").holds and model.step("convex in K").holds
    else:
        assert "not certified convex" in model.reasons["convexity"] and "the term" in model.reasons["convexity"]


def test_model_objective_in_K_of_the_baseline_is_T2s():
    """T2's objective (λ/2)tr(S(K + λI)⁻¹) + (μ/2)tr K, compared exactly at a random rational instance."""
    model = theory.derive_model(BASE)
    values = standard_instance(random.Random(5), {nt.n: 4, nt.m: 3, nt.C: 2})
    t2 = nt.lam / 2 * sp.Trace(nt.S * R) + nt.mu / 2 * sp.Trace(nt.K)
    assert evaluate(model.objective_in_K, values) == evaluate(t2, values)
    assert evaluate(model.objective_in_K, values) != evaluate(t2 + nt.mu / 2 * sp.Trace(nt.K), values)


@pytest.mark.parametrize("entry", [c for c in CLOSED if c.convex], ids=lambda c: c.name)
def test_model_certified_convex_objective_is_midpoint_convex_from_values_alone(entry):
    assert max(midpoint_gaps(derive(entry), entry, 12, 1)) <= 1e-12


NONCONVEX = BY_NAME["baseline (T2)"].__class__("concave tr(K)^2 penalty", BASE + " - nu/4*tr(Phi.T@Phi)**2",
                                                {"nu": "positive"}, values={"nu": 0.05})


def test_model_refused_concave_penalty_is_really_not_convex_and_a_loosened_rule_would_certify_it(monkeypatch):
    """The rules refuse −ν/4·tr(K)² (coefficient < 0); the values confirm it is not convex; with the sign test
    loosened the rules would call it convex — the midpoint test is the negative control that catches that."""
    model = derive(NONCONVEX)
    assert model.closed and not model.convex and "not known to be ≥ 0" in model.reasons["convexity"]
    assert max(midpoint_gaps(model, NONCONVEX, 12, 1)) > 1e-6
    monkeypatch.setattr(ko, "_nonnegative", lambda c: True)
    assert ko.convexity_in_kernel(model.objective_in_K, {})[0]  # the loosened rule is fooled ...
    theory.derive_model.cache_clear()
    try:
        loosened = derive(NONCONVEX)
        assert loosened.convex  # ... and so would be a derivation built on it, which the values refute above
    finally:
        theory.derive_model.cache_clear()


EXAMPLES = {  # an objective in K that needs exactly this rule
    "constant": sp.Trace(nt.S) / 2 + nt.mu / 2 * sp.Trace(nt.K),
    "affine": nt.mu / 2 * sp.Trace(nt.K),
    "resolvent": nt.lam / 2 * sp.Trace(nt.S * R),
    "square": nt.mu * sp.Trace(nt.K * M * nt.K),
    "power of a trace": nt.mu * sp.Trace(nt.K) ** 3,
}


@pytest.mark.parametrize("rule", ko.RULES)
def test_model_each_convexity_rule_is_needed(rule):
    example = EXAMPLES[rule]
    assert ko.convexity_in_kernel(example, PSD) == (True, "")
    without = tuple(r for r in ko.RULES if r != rule)
    assert not ko.convexity_in_kernel(example, PSD, rules=without)[0]


@pytest.mark.parametrize("objective, phrase", [
    (-sp.Trace(nt.S * R), "not known to be ≥ 0"),
    (sp.Trace(nt.S * R * R), "not of a convex form"),
    (sp.Trace(nt.S * sp.Inverse(nt.K - nt.lam * sp.Identity(nt.n))), "not of a convex form"),
    (sp.Trace(nt.K * sp.MatrixSymbol("N", nt.n, nt.n) * nt.K), "not of a convex form"),
    (sp.Trace(nt.K * sp.MatrixSymbol("N", nt.n, nt.n)) ** 3, "power of"),
    (sp.Trace(nt.K) * sp.Trace(nt.K * M), "product of several traces"),
    (-nt.mu * sp.Trace(nt.K * nt.K), "not known to be ≥ 0"),
], ids=["negative resolvent", "squared resolvent", "resolvent with a negative shift", "tr(K N K), N indefinite",
        "odd power of an indefinite trace", "product of traces", "concave square"])
def test_model_convexity_rules_refuse_what_they_do_not_prove(objective, phrase):
    convex, why = ko.convexity_in_kernel(objective, PSD)
    assert not convex and phrase in why


def test_model_wrong_objective_in_K_or_gradient_is_rejected(monkeypatch):
    """A dropped shift in resolvent absorption breaks "objective in K"; −A (a missing ½) fails "gradient in K"."""
    model = theory.derive_model(BASE + " + nu/4*fro2(Phi.T@Phi)", declare={"nu": "positive"})
    step = model.step("gradient in K")
    assert step.holds and not step.recheck(rhs=-model.drive).passed
    assert not model.step("objective in K").recheck(rhs=2 * model.objective_in_K).passed
    real = ko.mt.absorb_resolvents

    def dropped_shift(terms, symmetric):
        return real([ko.mt.Term(t.coeff, t.factors, t.shape) for t in terms], symmetric)[:1]

    monkeypatch.setattr(ko.mt, "absorb_resolvents", dropped_shift)
    theory.derive_model.cache_clear()
    try:
        wrong = theory.derive_model(BASE)
        assert not wrong.step("objective in K").holds and not wrong.certified
    finally:
        theory.derive_model.cache_clear()


@pytest.mark.parametrize("entry", [c for c in CLOSED if c.convex], ids=lambda c: c.name)
def test_model_continuation_is_certified_and_agrees_with_the_trajectory(entry):
    model = derive(entry)
    Y, values, K0 = problem(model, entry, 7, 4)
    fast = model_steady_state(model, K0, Y, return_info=True, **values)
    slow = model_steady_state(model, K0, Y, method="flow", return_info=True, **values)
    assert fast.method == "continuation" and slow.method == "flow"
    assert fast.certificate.passed and fast.certificate.convex and "global minimiser" in str(fast.certificate)
    assert relative_error(fast.kernel, slow.kernel) <= 1e-7
    assert fast.max_real_eigenvalue <= 1e-8 * np.linalg.norm(fast.kernel)


@pytest.mark.parametrize("entry", [c for c in CLOSED if c.convex][:3], ids=lambda c: c.name)
def test_model_kkt_certificate_rejects_a_scaled_kernel_and_an_emptied_mode(entry):
    model = derive(entry)
    Y, values, K0 = problem(model, entry, 6, 8)
    K = model_steady_state(model, K0, Y, **values)
    def certificate(kernel):
        return model_kkt(model, kernel, Y, tol=1e-10, **values)

    assert certificate(K).passed
    assert certificate(1.01 * K).stationarity > 1e-4
    w, V = np.linalg.eigh(K)
    emptied = (V[:, :-1] * w[:-1]) @ V[:, :-1].T  # the top filled mode removed: it is fillable, so A grows it
    gap = certificate(emptied)
    assert gap.dual_gap > 1e-3 and not gap.passed and abs(gap.direction @ V[:, -1]) > 0.99


def test_model_nonconvex_model_uses_the_trajectory_and_says_what_its_certificate_means():
    entry = BY_NAME["sample-weighted loss"]
    model = derive(entry)
    Y, values, K0 = problem(model, entry, 6, 2)
    info = model_steady_state(model, K0, Y, return_info=True, **values)
    assert info.method == "flow" and info.certificate.passed and not info.certificate.convex
    assert "first-order conditions only" in str(info.certificate)
    with pytest.raises(ValueError, match="method: 'continuation' needs a model whose objective in K is certified"):
        model_steady_state(model, K0, Y, method="continuation", **values)
    with pytest.raises(ValueError, match="method must be"):
        model_steady_state(model, K0, Y, method="newton", **values)
