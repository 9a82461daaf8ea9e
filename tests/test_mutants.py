"""Mutation tests of the derivations: every certified step must reject wrong right-hand sides.

A certificate that accepts a wrong formula certifies nothing. For every step of every registered
derivation (T1–T9, C = 2 and 3) the rhs is perturbed the way derivations go wrong — scaled by 8/7,
plus μI or a rank-one term, a factor transposed, a term dropped (``theory.mutation``) — and the step's
own check, re-run on the mutant, must fail. The worked extensions E1 and E2 (built with
``theory.DerivationBuilder``) are registered derivations too, so their steps face the same mutants. The mutants that escaped earlier versions of the
certificates are pinned by name below.
"""
import pytest
import sympy as sp

import theory
from theory import notation as nt
from theory.mutation import mutants

CASES = [(claim, C) for claim in theory.DERIVATIONS for C in (2, 3)]


def _steps(claim, C):
    """Every step of the derivation, inherited ones included (T5's gradient steps are for its own loss)."""
    return theory.DERIVATIONS[claim][1](C).steps


@pytest.mark.parametrize("claim, C", CASES)
def test_every_step_rejects_every_mutant_of_its_rhs(claim, C):
    survivors, unmutable = [], []
    for step in _steps(claim, C):
        if step.is_definition:
            continue
        candidates = mutants(step.rhs)
        if not candidates:
            unmutable.append(f"{step.claim}·{step.name}")
        for name, mutant in candidates:
            if step.recheck(rhs=mutant).passed:
                survivors.append(f"{step.claim}·{step.name}: {name}")
    assert not unmutable, f"steps whose rhs is a phrase, not an expression a check could reject: {unmutable}"
    assert not survivors, f"mutants certified as correct: {survivors}"


@pytest.mark.parametrize("claim, C", CASES)
def test_every_step_still_certifies_its_own_rhs(claim, C):
    """Control for the test above: re-running a check on the unchanged sides passes (the check is not broken)."""
    for step in _steps(claim, C):
        assert step.recheck().passed, f"{step.claim}·{step.name}: {step.recheck().detail}"


def test_definitions_are_few_and_named():
    """Labelling a step a definition exempts it from mutation: the list is short and fixed."""
    definitions = {(s.claim, s.name) for claim in theory.DERIVATIONS for s in _steps(claim, 2) if s.is_definition}
    assert definitions == {("T9", "fixed-feature kernel"), ("T9", "orthonormal rows"), ("E1", "model"), ("E2", "model")}


# --- the mutants that survived the earlier certificates, each killed by a certificate of its own step ---


def test_T5_fixed_feature_kernel_flow_with_half_the_decay_is_rejected():
    """−2μK → −μK in K̇ = −(FᵀG·K_Ψ + K_Ψ·GᵀF) − 2μK."""
    step = theory.derive_coupled(theory.losses.squared(2)).step("fixed-feature kernel flow")
    wrong = -(nt.F.T * nt.G * nt.K_Psi + nt.K_Psi * nt.G.T * nt.F) - nt.mu * nt.K
    assert step.certificate.passed and not step.recheck(rhs=wrong).passed


@pytest.mark.parametrize("loss", [theory.losses.squared(2), theory.losses.softmax_cross_entropy(3)], ids=str)
def test_T1_feature_gradient_with_twice_the_decay_is_rejected(loss):
    """μΦ → 2μΦ in ∂L/∂Φ = WᵀG + μΦ, for the loss of T1 and the loss of T5."""
    step = theory.derive_gradients(loss).step("feature gradient")
    assert step.certificate.passed and not step.recheck(rhs=nt.W.T * nt.G + 2 * nt.mu * nt.Phi).passed


def test_T3_time_to_reach_with_the_constant_added_is_rejected():
    """t(κ) = F(κ) − F(κ₀) → F(κ) + F(κ₀): the same derivative in κ, but t(κ₀) ≠ 0."""
    step = theory.derive_water_filling().step("time to reach")
    minus_F_at_start = sum(term for term in sp.Add.make_args(sp.expand(step.rhs)) if term.has(nt.kappa0))
    assert minus_F_at_start != 0
    wrong = step.rhs - 2 * minus_F_at_start
    assert sp.simplify(sp.diff(wrong - step.rhs, nt.kappa)) == 0  # a mutant that only the value at κ₀ can catch
    assert step.certificate.passed and not step.recheck(rhs=wrong).passed


def test_T7_kernel_increment_without_its_transpose_is_rejected():
    """δK = ξᵀΦ + Φᵀξ → 2Φᵀξ (symmetric only when ξᵀΦ is)."""
    from theory.t7_noise import xi

    step = theory.derive_noise().step("kernel increment")
    assert step.certificate.passed and not step.recheck(rhs=2 * nt.Phi.T * xi).passed


def test_T9_reduction_needs_orthonormal_rows():
    from theory.t9_fixed_features import reduction_certificate

    assert reduction_certificate("orthonormal").passed
    assert not reduction_certificate("generic").passed
