"""Verdict: the outcome of judging a claim (or a user's candidate) on random instances.

>>> Verdict("T2", True, 5, 3e-9, 1e-6, seed=0)
Verdict(T2: PASS on 5 instances, worst error 3e-09 <= 1e-06, seed 0)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


class CheckError(RuntimeError):
    """A check that could not judge its claim (e.g. a negative control that ran on no instance).

    Not a failed claim but a broken check: the campaign reports the claim with status "error" (exit
    status 3), never as disproved.
    """


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging a claim on random instances: the ``claim`` id, whether it ``passed``, the number of
    ``instances``, the ``worst_error`` and the ``tolerance`` it was held to, the ``seed``, a ``reason`` when it
    failed, ``details`` for the report, and the ``measure`` the error is in.

    True in a boolean context exactly when it passed."""

    claim: str
    passed: bool
    instances: int
    worst_error: float
    tolerance: float
    seed: int
    reason: str = ""
    details: dict = field(default_factory=dict)
    #: what ``worst_error`` and ``tolerance`` measure ("relative error", "z-score", "rank excess", …)
    #: (descriptive only: not compared by ``==``)
    measure: str = field(default="", compare=False)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        rel = "<=" if self.worst_error <= self.tolerance else ">"
        text = (f"Verdict({self.claim}: {word} on {self.instances} instances, worst error {self.worst_error:.3g} "
                f"{rel} {self.tolerance:.3g}, seed {self.seed}")
        return text + (f"; {self.reason})" if self.reason else ")")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["worst_error"] = None if not math.isfinite(self.worst_error) else self.worst_error
        return out


def judge(claim: str, errors, tolerance: float, seed: int, *, what: str = "error", details: dict | None = None,
          measure: str | None = None) -> Verdict:
    """A Verdict from per-instance errors: passes when every error is finite and <= tolerance.

    ``what`` names the error in the failure reason; ``measure`` (default: ``what``, and "relative error"
    for the plain "error", every tolerance of ``verify.TOL`` being relative) says what kind of figure the
    worst error is, for the report's tables.
    """
    measure = measure or ("relative error" if what == "error" else what)
    errors = [float(e) for e in errors]
    if not errors:
        return Verdict(claim, False, 0, math.inf, tolerance, seed, "no instances were checked", details or {}, measure)
    worst = max(errors, key=lambda e: math.inf if not math.isfinite(e) else e)
    worst = worst if math.isfinite(worst) else math.inf
    passed = worst <= tolerance
    failing = sum(1 for e in errors if not e <= tolerance)
    reason = "" if passed else f"{what} {worst:.3g} > {tolerance:.3g} on {failing} of {len(errors)} instances"
    return Verdict(claim, passed, len(errors), worst, tolerance, seed, reason, details or {}, measure)
