"""Mutation-killing tests for theory/t3_water_filling.py (T3's water-filling derivation; benchmarks/mutation.py,
group spectral).

The law κ∞(s) itself (both branches), the reproducibility of the certificate instances (seeded), the
sizes of the commuting-reduction check (C = 1 included) and the names the derivation shows.
"""
import sympy as sp

import theory
from theory.losses import squared
from theory.notation import kappa, lam, mu, s
from theory.t3_water_filling import WaterFillingLaw, fillable_parameters


def test_T3_stable_value_is_the_water_filling_law_with_zero_below_threshold():
    law = theory.derive_water_filling()
    at = {lam: 1, mu: 1}
    assert law.stable_value.xreplace(at | {s: 4}) == 1  # √(λs/μ) − λ = 2 − 1
    assert law.stable_value.xreplace(at | {s: sp.Rational(1, 2)}) == 0
    assert law.stable_value.xreplace({lam: 2, mu: sp.Rational(1, 2), s: 9}) == sp.sqrt(36) - 2


def test_T3_certificates_are_reproducible_and_check_C_equal_one():
    first, second = WaterFillingLaw(squared(1)), WaterFillingLaw(squared(1))
    assert [st.certificate.trials for st in first.steps] == [st.certificate.trials for st in second.steps]
    trials = first.step("commuting reduction").certificate.trials
    assert trials == ("n=3, C=2, rational orthogonal V", "n=4, C=2, rational orthogonal V",
                      "n=3, C=1, rational orthogonal V")
    assert first.step("commuting reduction").certificate.identity == "K̇(V diag κ Vᵀ) = V diag(f(κ_i, s_i)) Vᵀ"
    assert first.step("threshold").certificate.trials == ("f'(0) above the boundary", "f'(0) below the boundary",
                                                          "κ* above the boundary", "κ* below the boundary")


def test_T3_fixed_points_step_shows_its_sides_and_checks():
    step = theory.derive_water_filling().step("fixed points")
    assert step.lhs == sp.Symbol("kappa_fixed")
    assert step.certificate.identity == ("f vanishes at each fixed point; "
                                         "every root of f on κ ≥ 0, at rational λ, μ, s > λμ")
    assert step.rhs.has(kappa) is False and 0 in step.rhs


def test_T3_root_set_parameters_are_two_fillable_rational_instances():
    """s > λμ with κ* = √(λs/μ) − λ a positive rational: the root isolation then has exact roots to find."""
    params = fillable_parameters(0)
    assert len(params) == 2
    for p in params:
        assert p[s] > p[lam] * p[mu]
        star = sp.sqrt(p[lam] * p[s] / p[mu]) - p[lam]
        assert star.is_Rational and star > 0


def test_T3_threshold_signs_name_their_parametrisation():
    cert = theory.derive_water_filling().step("threshold").certificate
    assert cert.method == "symbolic sign analysis (s = boundary·(1+w)^±2, w > 0)"
