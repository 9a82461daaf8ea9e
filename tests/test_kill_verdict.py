"""Mutation-killing tests for verify/core/verdict.py and verify/claims/common.py (benchmarks/mutation.py, group verdict).

Each test pins a behaviour that a surviving mutant changed: the exact fields of a Verdict built by
judge() and combine(), its repr, its JSON form, and which part combine() reports as the worst.
"""
import math

import pytest

from verify.claims.common import combine, error_ratio
from verify.core.verdict import CheckError, Verdict, judge


def test_judge_fields_when_passing():
    v = judge("T2", [1e-9, 3e-9], 1e-6, 7)
    assert v == Verdict("T2", True, 2, 3e-9, 1e-6, 7, "", {})
    assert repr(v) == "Verdict(T2: PASS on 2 instances, worst error 3e-09 <= 1e-06, seed 7)"


def test_judge_fields_and_reason_when_failing():
    v = judge("T3", [1e-7, 2e-6, 1e-6], 1e-6, 4, details={"k": 1})
    assert (v.claim, v.passed, v.instances, v.worst_error, v.tolerance, v.seed) == ("T3", False, 3, 2e-6, 1e-6, 4)
    assert v.details == {"k": 1}
    # an error equal to the tolerance passes, so only one instance fails
    assert v.reason == "error 2e-06 > 1e-06 on 1 of 3 instances"
    assert repr(v) == ("Verdict(T3: FAIL on 3 instances, worst error 2e-06 > 1e-06, seed 4; "
                       "error 2e-06 > 1e-06 on 1 of 3 instances)")
    assert judge("T3", [2.0], 1.0, 0, what="gap").reason == "gap 2 > 1 on 1 of 1 instances"


def test_judge_with_no_errors_fails_with_its_fields():
    v = judge("T4", [], 1e-3, 9, details={"why": "x"})
    assert v == Verdict("T4", False, 0, math.inf, 1e-3, 9, "no instances were checked", {"why": "x"})
    assert v.passed is False


def test_judge_with_a_nonfinite_error_reports_inf():
    v = judge("T2", [1e-9, float("nan")], 1e-6, 0)
    assert not v.passed and v.worst_error == math.inf
    assert v.to_dict()["worst_error"] is None
    assert judge("T2", [1e-9], 1e-6, 0).to_dict()["worst_error"] == 1e-9


def test_verdict_repr_of_a_failing_verdict_within_tolerance():
    v = Verdict("T5", False, 1, 1e-9, 1e-6, 0, "control not rejected")
    assert repr(v) == "Verdict(T5: FAIL on 1 instances, worst error 1e-09 <= 1e-06, seed 0; control not rejected)"
    assert repr(Verdict("T5", True, 1, 1e-6, 1e-6, 0)) == "Verdict(T5: PASS on 1 instances, worst error 1e-06 <= 1e-06, seed 0)"


def _part(error, tolerance, passed=True, instances=2, reason=""):
    return Verdict("p", passed, instances, error, tolerance, 0, reason)


def test_combine_reports_the_worst_ratio_part_and_its_fields():
    parts = {"a": _part(1e-3, 1.0), "b": _part(1e-8, 1e-6), "c": _part(0.0, 0.5)}  # ratios 1e-3, 1e-2, 0
    controls = {"ctl": Verdict("p", False, 3, 1.0, 1e-6, 0, "rejected")}
    v = combine("T6", 11, parts, controls=controls, details={"extra": 1})
    assert (v.claim, v.passed, v.instances, v.worst_error, v.tolerance, v.seed, v.reason) == \
        ("T6", True, 6, 1e-8, 1e-6, 11, "")
    assert v.details["extra"] == 1
    assert v.details["parts"] == {k: p.to_dict() for k, p in parts.items()}
    assert v.details["controls"] == {"ctl": {"rejected": True, "instances": 3, "reason": "rejected"}}


def test_combine_reasons_of_failed_parts_and_controls():
    parts = {"a": _part(2.0, 1.0, passed=False, reason="too big"), "b": _part(2.0, 1.0, passed=False)}
    controls = {"ctl": Verdict("p", True, 1, 0.0, 1.0, 0)}
    v = combine("T6", 0, parts, controls=controls)
    assert not v.passed
    assert v.reason == "a: too big; b: failed; negative control 'ctl' was not rejected"


def _derivation():
    """Real steps certified by their own checks: one true identity (K + K = 2K) and two false ones (K = 2K)."""
    from theory import notation as nt
    from theory.certify import Derivation, Identity, Step

    derivation = Derivation()
    derivation.claim = "T1"
    derivation.steps = tuple(Step("T1", name, "a doubling", lhs, 2 * nt.K, Identity("doubling"))
                             for name, lhs in (("one", nt.K + nt.K), ("two", nt.K), ("three", nt.K)))
    return derivation


def test_combine_with_a_derivation_names_failed_steps_and_lists_all():
    derivation = _derivation()
    v = combine("T1", 0, {"a": _part(0.0, 1.0)}, derivation=derivation)
    assert v.reason == "uncertified derivation steps: T1·two, T1·three"
    assert v.details["derivation"] == [{"step": s.name, "claim": "T1", "certificate": s.certificate.summary(),
                                        "holds": s.holds, "equation": s.latex(), "markdown": s._repr_markdown_()}
                                       for s in derivation.steps]
    assert [d["certificate"].split()[0] for d in v.details["derivation"]] == ["certified", "FAILED", "FAILED"]


def test_combine_empty_control_error_names_every_empty_control():
    controls = {"x": Verdict("p", False, 0, 1.0, 1.0, 0), "y": Verdict("p", False, 0, 1.0, 1.0, 0)}
    with pytest.raises(CheckError, match=r"negative control\(s\) 'x', 'y' checked no instance"):
        combine("T1", 0, {"a": _part(0.0, 1.0)}, controls=controls)


@pytest.mark.parametrize("error, tolerance, ratio", [
    (1e-8, 1e-6, 1e-2), (0.5, 0.25, 2.0), (3.0, 1.0, 3.0), (0.0, 0.0, 0.0), (1e-9, 0.0, math.inf),
    (math.inf, 1.0, math.inf), (math.nan, 1.0, math.inf)])
def test_ratio(error, tolerance, ratio):
    assert error_ratio(_part(error, tolerance)) == ratio
