"""Helpers shared by the claim checks: derivation certificates and combining sub-results."""
from __future__ import annotations

import math

from verify.verdict import CheckError, Verdict


def certificate_failures(derivation) -> list[str]:
    """Names of the derivation steps that do not hold — a failed certificate, or one not issued for the step's
    own sides — (empty when all are certified); a derivation of definitions alone certifies nothing."""
    failed = [f"{s.claim}·{s.name}" for s in derivation.steps if not s.holds]
    if not failed and not derivation.certified:
        failed.append(f"{derivation.claim or 'derivation'}: no step is a certificate")
    return failed


def combine(claim: str, seed: int, parts: dict[str, Verdict], *, derivation=None, controls: dict | None = None,
            details: dict | None = None) -> Verdict:
    """One Verdict for a claim from its numeric parts, its derivation and its negative controls.

    ``parts``: name → Verdict of a numeric check that must pass. ``controls``: name → Verdict of
    the same check applied to a deliberately wrong input, which must *fail*. The worst error
    reported is the worst error/tolerance ratio among the parts (as error and tolerance of that part).

    A part that checked no instance fails the claim (nothing was shown). A control that checked no
    instance raises :class:`CheckError`: it rejected nothing, so counting it as rejected would make
    the claim pass on a check that cannot fail.
    """
    if not parts:
        raise CheckError(f"claim {claim}: combine() got no parts; a claim needs at least one numeric check")
    empty = [name for name, verdict in (controls or {}).items() if verdict.instances == 0]
    if empty:
        raise CheckError(f"claim {claim}: negative control(s) {', '.join(repr(n) for n in empty)} checked no "
                         f"instance; a control must run on at least one instance to count as rejected")
    reasons = []
    if derivation is not None:
        failed = certificate_failures(derivation)
        if failed:
            reasons.append(f"uncertified derivation steps: {', '.join(failed)}")
    for name, verdict in parts.items():
        if verdict.instances == 0:  # even a Verdict built as passed: no instance shows nothing
            reasons.append(f"{name}: checked no instance")
        elif not verdict.passed:
            reasons.append(f"{name}: {verdict.reason or 'failed'}")
    for name, verdict in (controls or {}).items():
        if verdict.passed:
            reasons.append(f"negative control '{name}' was not rejected")
    worst_name, worst = max(parts.items(), key=lambda kv: _ratio(kv[1]))
    info = dict(details or {})
    info["parts"] = {k: v.to_dict() for k, v in parts.items()}
    info["controls"] = {k: {"rejected": not v.passed, "instances": v.instances, "reason": v.reason}
                        for k, v in (controls or {}).items()}
    if derivation is not None:
        info["derivation"] = [{"step": s.name, "claim": s.claim, "certificate": s.certificate.summary()}
                              for s in derivation.steps]
    return Verdict(claim, not reasons, sum(v.instances for v in parts.values()), worst.worst_error,
                   worst.tolerance, seed, "; ".join(reasons), info)


def _ratio(v: Verdict) -> float:
    if not math.isfinite(v.worst_error):
        return math.inf
    return v.worst_error / v.tolerance if v.tolerance > 0 else (0.0 if v.worst_error == 0 else math.inf)
