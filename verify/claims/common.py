"""Helpers shared by the claim checks: derivation certificates and combining sub-results."""
from __future__ import annotations

import math
from collections.abc import Mapping

from verify.core.verdict import CheckError, Verdict


def certificate_failures(derivation) -> list[str]:
    """Names of the derivation steps that do not hold — a failed certificate, or one not issued for the step's
    own sides — (empty when all are certified); a derivation of definitions alone certifies nothing.

    ``derivation`` is a Derivation, or a mapping label → Derivation (one derivation per loss or per C);
    the names of a labelled derivation's steps carry the label: "T2·drive (C = 3)".
    """
    failed = []
    for label, part in _labelled(derivation):
        suffix = f" ({label})" if label else ""
        failed += [f"{s.claim}·{s.name}{suffix}" for s in part.steps if not s.holds]
        if not any(not s.holds for s in part.steps) and not part.certified:
            failed.append(f"{part.claim or 'derivation'}{suffix}: no step is a certificate")
    return failed


def own_steps(derivation, claim: str):
    """The steps of ``derivation`` that belong to ``claim`` (a derivation of T2 repeats T1's steps first),
    as a Derivation of their own."""
    from theory.certify import Derivation

    own = Derivation()  # a real Derivation: combine() reads .certified and .claim as well as .steps
    own.claim, own.steps = claim, tuple(s for s in derivation.steps if s.claim == claim)
    return own


def _labelled(derivation) -> list[tuple[str, object]]:
    """[(label, Derivation)]: "" for a single derivation, the mapping's keys for labelled ones."""
    if isinstance(derivation, Mapping):
        return [(str(label), part) for label, part in derivation.items()]
    return [("", derivation)]


def derivation_details(derivation) -> list[dict]:
    """The report's record of every step: claim, name, certificate, the equation (LaTeX, ``Step.latex``),
    its Markdown as ``kflow derive --format md`` renders it (``Step._repr_markdown_``), and for a labelled
    derivation the label ("C = 2", "softmax cross-entropy") that tells its repeated steps apart."""
    rows = []
    for label, part in _labelled(derivation):
        for s in part.steps:
            row = {"step": s.name, "claim": s.claim, "certificate": s.certificate.summary(), "holds": s.holds}
            if label:
                row["group"] = label
            row["equation"] = s.latex()
            row["markdown"] = s._repr_markdown_()
            rows.append(row)
    return rows


def combine(claim: str, seed: int, parts: dict[str, Verdict], *, derivation=None, controls: dict | None = None,
            details: dict | None = None) -> Verdict:
    """One Verdict for a claim from its numeric parts, its derivation and its negative controls.

    ``derivation``: a Derivation, or a mapping label → Derivation when the claim is derived several
    times (for C = 1, 2, 3; for each loss), so that the report can label the repeated steps.

    ``parts``: name → Verdict of a numeric check that must pass. ``controls``: name → Verdict of
    the same check applied to a deliberately wrong input, which must *fail*. The worst error
    reported is the worst error/tolerance ratio among the parts (as error, tolerance and measure of that part).

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
    worst_name, worst = max(parts.items(), key=lambda kv: error_ratio(kv[1]))
    info = dict(details or {})
    info["parts"] = {k: v.to_dict() for k, v in parts.items()}
    info["controls"] = {k: {"rejected": not v.passed, "instances": v.instances, "reason": v.reason}
                        for k, v in (controls or {}).items()}
    if derivation is not None:
        info["derivation"] = derivation_details(derivation)
    return Verdict(claim, not reasons, sum(v.instances for v in parts.values()), worst.worst_error,
                   worst.tolerance, seed, "; ".join(reasons), info, worst.measure)


def error_ratio(v: Verdict) -> float:
    """worst error / tolerance of a Verdict: how far a part is from failing (> 1: it fails).

    inf when the worst error is not finite, or when the tolerance is 0 and the error is not; 0 when both are 0."""
    if not math.isfinite(v.worst_error):
        return math.inf
    return v.worst_error / v.tolerance if v.tolerance > 0 else (0.0 if v.worst_error == 0 else math.inf)
