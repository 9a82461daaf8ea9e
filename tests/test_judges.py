"""Judges, tolerances and rank functions fed known-bad inputs (claims T2, T3, T4, T6 and every claim's combine).

Each test gives an input that a loosened or broken judge would let through, so "loosen the judge" (a larger
tolerance, an absolute instead of a relative threshold, "undecided" read as "stable", a control that checks
nothing counted as rejected) makes a test fail. Where a tolerance is involved the test asserts the margin:
the bad input's error lies far above the tolerance and far below the loosened value it guards against.
"""
import math

import numpy as np
import pytest

from verify import instances
from verify.claims.common import combine
from verify.claims.t3_water_filling import law_errors
from verify.claims.t4_rank import range_inclusion_error, rank_excess, steady_state_rank
from verify.claims.t6_stability import classification_error
from verify.core.linalg import confirmed_rank, high_precision_rank, numerical_rank
from verify.core.tolerances import TOL
from verify.core.verdict import CheckError, Verdict, judge
from verify.flows.kernel_ode import kernel_ode_rhs
from verify.flows.stability import label_eigenbasis, linear_stability
from verify.flows.water_filling import mode_value
from verify.truth.finite_differences import check_kernel_ode


def _rotation(rng, n):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q


def _psd_with_spectrum(rng, values):
    Q = _rotation(rng, len(values))
    return (Q * np.asarray(values, float)) @ Q.T


# ---------------------------------------------------------------------------------------------------------------
# verify.core.verdict.judge (every claim T1–T10 is judged by it)


def test_judge_all_claims_error_10x_the_tolerance_fails():
    v = judge("T1", [1e-12, 1e-8], 1e-9, seed=0)
    assert not v.passed and v.worst_error == 1e-8 and v.instances == 2
    assert "1 of 2" in v.reason


def test_judge_all_claims_error_exactly_at_the_tolerance_passes():
    # the bound is inclusive: a judge using < would reject the boundary, one using a looser bound passes the above
    assert judge("T1", [0.0, 1e-9], 1e-9, seed=0).passed


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_judge_all_claims_non_finite_error_fails(bad):
    # NaN compares False with everything: a judge written as "not worst > tol" would let it through
    v = judge("T2", [1e-12, bad, 1e-12], 1.0, seed=0)
    assert not v.passed and v.worst_error == math.inf


def test_judge_all_claims_no_instance_fails_with_zero_instances():
    v = judge("T3", [], 1.0, seed=0)
    assert not v.passed and v.instances == 0 and "no instances" in v.reason


# ---------------------------------------------------------------------------------------------------------------
# verify.claims.common.combine: derivation certificates, parts and negative controls (T1–T10)


def _derivation(*passed):
    """A derivation of real steps, each certified by its own check: K + K = 2K (true) or K = 2K (false)."""
    from theory import notation as nt
    from theory.certify import Derivation, Identity, Step

    derivation = Derivation()
    derivation.claim = "T2"
    derivation.steps = tuple(Step("T2", f"step {i}", "a doubling", nt.K + nt.K if p else nt.K, 2 * nt.K,
                                  Identity("doubling")) for i, p in enumerate(passed))
    return derivation


def test_combine_T9_definitions_alone_certify_nothing():
    from theory import notation as nt
    from theory.certify import Definition, Derivation, Step

    derivation = Derivation()
    derivation.claim = "T9"
    derivation.steps = (Step("T9", "define", "M := UᵀU", nt.K, nt.K, Definition("a symbol introduced")),)
    v = combine("T9", 0, {"part": _good("T9")}, derivation=derivation)
    assert not v.passed and "no step is a certificate" in v.reason


def _good(claim="T2"):
    return judge(claim, [1e-12], 1e-9, seed=0)


def _rejected(claim="T2"):
    return judge(claim, [1.0], 1e-9, seed=0)


def test_combine_T2_passes_with_certified_steps_passing_parts_and_rejected_controls():
    # the baseline the failure tests below depart from by one ingredient each
    v = combine("T2", 0, {"part": _good()}, derivation=_derivation(True, True), controls={"wrong": _rejected()})
    assert v.passed and v.instances == 1


def test_combine_T2_a_failed_certificate_fails_the_claim():
    v = combine("T2", 0, {"part": _good()}, derivation=_derivation(True, False), controls={"wrong": _rejected()})
    assert not v.passed and "T2·step 1" in v.reason


def test_combine_T4_a_control_that_passes_fails_the_claim():
    v = combine("T4", 0, {"part": _good("T4")}, controls={"mu = 0": _good("T4")})
    assert not v.passed and "'mu = 0' was not rejected" in v.reason


def test_combine_T6_a_control_with_zero_instances_raises():
    # judge([]) is a failed Verdict: counted as "rejected" it would let the claim pass on a check of nothing
    with pytest.raises(CheckError, match=r"T6.*'partial state'.*no instance"):
        combine("T6", 0, {"part": _good("T6")}, controls={"partial state": judge("T6", [], 0.0, seed=0)})


@pytest.mark.parametrize("empty", [judge("T9", [], 1e-9, seed=0),
                                   Verdict("T9", True, 0, 0.0, 1e-9, 0)])  # even one built as passed
def test_combine_T9_a_part_with_zero_instances_fails_the_claim(empty):
    v = combine("T9", 0, {"checked": _good("T9"), "empty": empty}, controls={"wrong": _rejected("T9")})
    assert not v.passed and "empty: checked no instance" in v.reason


def test_combine_T1_without_parts_raises():
    with pytest.raises(CheckError, match="no parts"):
        combine("T1", 0, {}, controls={"wrong": _rejected("T1")})


# ---------------------------------------------------------------------------------------------------------------
# T4: rank_excess, the steady-state floor, and the rank functions it rests on


def test_T4_rank_excess_counts_a_direction_at_1e6_relative():
    """Rank C + 1 with σ_{C+1}/σ_max = 1e-6: 100× above TOL.rank_rtol, so the bound rank ≤ C is violated."""
    rng = np.random.default_rng(0)
    C = 2
    K = _psd_with_spectrum(rng, [1.0, 0.3, 1e-6, 0.0, 0.0, 0.0])
    assert rank_excess(K, C) == 1.0
    assert rank_excess(K, C, scale=np.linalg.norm(K)) == 1.0
    # the margin: a rank_rtol loosened to 1e-4 (or a judge allowing rank C + 1) would accept this K
    assert numerical_rank(K, rtol=1e-4) == C


def test_T4_a_decayed_K_inf_is_rank_0_but_a_small_real_one_is_not():
    """Every label mode below threshold: K∞ = 0 up to rounding (~1e-25) counts as rank 0; a K of rank C + 1 at
    1e-6 of the problem scale is far above TOL.steady_state_floor and keeps its excess (a looser floor fails)."""
    rng = np.random.default_rng(1)
    C, scale = 1, 2.0
    noise = _psd_with_spectrum(rng, rng.uniform(0.5, 1.0, 8)) * 1e-25
    assert confirmed_rank(noise) == 8  # why the floor is needed: a relative rank sees noise as full rank
    assert steady_state_rank(noise, scale) == 0 and rank_excess(noise, C, scale) == 0.0
    assert rank_excess(np.zeros((8, 8)), C, scale) == 0.0
    small = _psd_with_spectrum(rng, [1.0, 0.5, 0, 0, 0, 0, 0, 0]) * 1e-6 * scale
    assert rank_excess(small, C, scale) == 1.0


def test_T4_range_inclusion_of_a_zero_K_inf_is_measured_against_the_floor():
    rng = np.random.default_rng(2)
    n, lam, mu = 6, 0.5, 0.1
    Y = instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * np.array([0.3])))  # below threshold: K∞ = 0
    assert range_inclusion_error(np.zeros((n, n)), Y, lam, mu, scale=1.0) == 0.0
    noise = _psd_with_spectrum(rng, rng.uniform(0.5, 1.0, n)) * 1e-25
    assert range_inclusion_error(noise, Y, lam, mu, scale=1.0) <= TOL.range_inclusion
    # a K that is not 0 and not in ker(D − μI) is still rejected: the floor does not mask a real violation
    assert range_inclusion_error(np.eye(n), Y, lam, mu, scale=1.0) > 1e-2


def test_T4_numerical_rank_is_relative_not_absolute():
    rng = np.random.default_rng(3)
    M = _psd_with_spectrum(rng, [1.0, 1e-3, 1e-12, 0.0])
    assert numerical_rank(M) == 2
    # an absolute threshold would give 0 for the first and 4 (or 3) for the second
    assert numerical_rank(1e-30 * M) == numerical_rank(1e30 * M) == 2
    assert confirmed_rank(1e-30 * M) == confirmed_rank(1e30 * M) == 2


@pytest.mark.parametrize("near, rank", [(1.001e-8, 2), (0.999e-8, 1)])
def test_T4_confirmed_rank_at_the_threshold_agrees_with_high_precision(near, rank):
    """A singular value 0.1% either side of rank_rtol·σ_max: the constructed rank, confirmed in 50 digits."""
    rng = np.random.default_rng(4)
    M = _psd_with_spectrum(rng, [1.0, near, 0.0])
    assert confirmed_rank(M) == high_precision_rank(M) == rank


# ---------------------------------------------------------------------------------------------------------------
# T6: linear_stability's classification and how the claim check consumes it


def _single_mode(ratio, lam=0.5, mu=0.1):
    """K = 0 with one label mode at s = ratio·λμ: top Jacobian eigenvalue 2(s/λ − μ) = 2μ(ratio − 1)."""
    return np.zeros((3, 3)), np.array([[np.sqrt(lam * mu * ratio), 0.0, 0.0]]), lam, mu


def test_T6_top_eigenvalue_at_zero_is_undecided():
    result = linear_stability(*_single_mode(1.0))
    assert result.classification == "undecided"
    assert abs(result.max_real) <= TOL.stability * np.abs(result.eigenvalues).max()


@pytest.mark.parametrize("ratio, word", [(1 + 1e-5, "unstable"), (1 - 1e-5, "stable")])
def test_T6_top_eigenvalue_1e5_relative_from_zero_is_decided(ratio, word):
    """max Re λ = ±1e-5 ρ: 1e4× TOL.stability, so decided; a TOL.stability loosened to 1e-4 would say undecided."""
    result = linear_stability(*_single_mode(ratio))
    assert result.classification == word
    assert 1e3 * TOL.stability < abs(result.max_real) / np.abs(result.eigenvalues).max() < 1e-4


@pytest.mark.parametrize("water_filled", [True, False])
def test_T6_undecided_is_never_counted_as_the_claimed_classification(water_filled):
    assert classification_error("undecided", water_filled) == 1.0
    # the same rule fails the claim's judge for a state actually computed as undecided
    result = linear_stability(*_single_mode(1.0))
    assert not judge("T6", [classification_error(result.classification, water_filled)], 0.0, seed=0).passed


def test_T6_classification_error_baseline_and_bad_words():
    assert classification_error("stable", True) == classification_error("unstable", False) == 0.0
    assert classification_error("unstable", True) == classification_error("stable", False) == 1.0
    with pytest.raises(ValueError, match="classification must be"):
        classification_error("Stable", True)


# ---------------------------------------------------------------------------------------------------------------
# T2: TOL.finite_differences is tight enough to reject a 1e-4 slip


def test_T2_true_kernel_ode_passes_finite_differences():
    assert check_kernel_ode(kernel_ode_rhs, seed=0, count=2).passed


def test_T2_a_1e4_relative_slip_in_the_kernel_ode_is_rejected():
    """The true rhs times (1 + 1e-4): its error 1e-4 is 1e3× TOL.finite_differences and 1e3× below 1e-1,
    so a tolerance loosened to 1e-1 would accept it (rounding puts it a hair either side of 1e-4)."""
    v = check_kernel_ode(lambda K, Y, lam, mu: (1 + 1e-4) * kernel_ode_rhs(K, Y, lam, mu), seed=0, count=2)
    assert not v.passed
    assert 1e2 * TOL.finite_differences <= v.worst_error <= 1e-3
    assert check_kernel_ode(lambda K, Y, lam, mu: (1 + 1e-4) * kernel_ode_rhs(K, Y, lam, mu), seed=0, count=2,
                            tolerance=1e-1).passed


def test_T2_decay_rate_off_by_1e4_is_rejected():
    """μ → μ(1 + 1e-4) in the rhs: a slip in one coefficient, error ~1e-5, ≥ 100× TOL.finite_differences."""
    v = check_kernel_ode(lambda K, Y, lam, mu: kernel_ode_rhs(K, Y, lam, mu * (1 + 1e-4)), seed=0, count=2)
    assert not v.passed
    assert 1e2 * TOL.finite_differences <= v.worst_error <= 1e-3


# ---------------------------------------------------------------------------------------------------------------
# T3: TOL.law rejects a steady-state spectrum off by 1e-5


def _law_state(rng, n=8, lam=0.4, mu=0.1):
    ratios = np.array([30.0, 5.0, 0.4])  # two filled modes, one cut off
    Y = instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * ratios))
    s, V = label_eigenbasis(Y)
    return (V * mode_value(s, lam, mu)) @ V.T, Y, lam, mu


def test_T3_law_errors_reject_a_spectrum_off_by_1e5():
    rng = np.random.default_rng(5)
    K, Y, lam, mu = _law_state(rng)
    exact_spectrum, _ = law_errors([(K, Y, lam, mu)])
    assert judge("T3", exact_spectrum, TOL.law, seed=0).passed  # baseline: the law itself passes
    spectrum, kernel = law_errors([((1 + 1e-5) * K, Y, lam, mu)])
    assert not judge("T3", spectrum, TOL.law, seed=0).passed and not judge("T3", kernel, TOL.law, seed=0).passed
    # the margin: 1e-5 is 1e3× TOL.law; a law tolerance loosened to 1e-4 would accept it
    assert spectrum[0] == pytest.approx(1e-5, rel=1e-3)
    assert 1e2 * TOL.law <= spectrum[0] < 1e-4
