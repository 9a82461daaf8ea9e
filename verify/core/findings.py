"""Findings: the honest three-word outcome of an empirical question (T9, T10).

The theory proves nothing about trained two-layer networks or held-out error; those experiments
answer a question with one of :data:`OUTCOMES` and the numbers behind it. The rule is fixed in
advance and stated in the finding: "holds" when the property holds exactly (within the numerical
tolerance of the table), "holds approximately" when the measured defect is at most
``TOL.approximate``, "does not hold" otherwise — with what was seen.

>>> rank_finding("digits, ReLU, width 256", numerical_rank=10, effective_rank=9.2, outside_top_C=0.0, C=10).outcome
'holds'
>>> rank_finding("digits, ReLU, width 256", numerical_rank=60, effective_rank=10.4, outside_top_C=0.012, C=10).outcome
'holds approximately'
>>> rank_finding("digits, ReLU, width 256", numerical_rank=60, effective_rank=19.0, outside_top_C=0.31, C=10).outcome
'does not hold'
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from verify.core.tolerances import TOL

OUTCOMES = ("holds", "holds approximately", "does not hold")


@dataclass(frozen=True)
class Finding:
    """The answer to an empirical question: the ``question``, its ``outcome`` (one of :data:`OUTCOMES`), what was
    ``observed`` (the numbers) and the ``rule`` fixed in advance that turned them into the outcome.

    An outcome outside :data:`OUTCOMES` raises ValueError."""

    question: str
    outcome: str
    observed: str
    rule: str

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def graded(question: str, *, exact: bool, defect: float, observed: str, property_: str, defect_name: str) -> Finding:
    """"holds" if ``exact``; "holds approximately" if ``defect`` ≤ TOL.approximate; else "does not hold"."""
    outcome = "holds" if exact else ("holds approximately" if defect <= TOL.approximate else "does not hold")
    rule = (f"holds: {property_}; approximately: {defect_name} ≤ {TOL.approximate:g}; otherwise does not hold")
    return Finding(question, outcome, observed, rule)


def rank_finding(question: str, *, numerical_rank: int, effective_rank: float, outside_top_C: float, C: int) -> Finding:
    """Does the kernel have rank ≤ C? Exactly: numerical rank (TOL.rank_rtol) ≤ C; approximately: the trace
    fraction outside the top-C eigenspace ≤ TOL.approximate."""
    observed = (f"numerical rank {numerical_rank}, effective rank {effective_rank:.2f}, "
                f"{100 * outside_top_C:.2f}% of the trace outside the top-{C} eigenspace (C = {C})")
    return graded(question, exact=numerical_rank <= C, defect=outside_top_C, observed=observed,
                  property_=f"numerical rank ≤ C (relative threshold {TOL.rank_rtol:g})",
                  defect_name="trace fraction outside the top-C eigenspace")
