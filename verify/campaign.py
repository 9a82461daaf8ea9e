"""Run registered claims and collect their verdicts (profiles, seeds, progress, timing).

>>> results = run(["T1"], profile="quick", seed=0, progress=False)
>>> results[0].verdict.passed
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from verify import claims as registry
from verify.claims import PROFILES, Claim, Context
from verify.verdict import Verdict


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: Verdict
    seconds: float


def parse_claims(text: str | None, profile: str = "quick") -> list[str]:
    """Claim ids from "T1,T3" (None or "all": every registered claim whose ``profiles`` include ``profile``);
    ValueError naming unknown ids."""
    if text is None or text.strip().lower() == "all":
        chosen = [c for c, claim in registry.REGISTRY.items() if profile in claim.profiles]
        return sorted(chosen, key=lambda c: (not c[1:].isdigit(), int(c[1:]) if c[1:].isdigit() else 0, c))
    ids = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not ids:
        raise ValueError("--claims is empty; give ids like T1,T2 or 'all'")
    for claim_id in ids:
        registry.get(claim_id)
    return list(dict.fromkeys(ids))


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    return profile


def run(claim_ids, *, profile: str = "quick", seed: int = 0, progress: bool = True) -> list[ClaimResult]:
    """Run each claim's checks; a check that raises becomes a failing verdict naming the error."""
    check_profile(profile)
    ctx = Context(profile, seed)
    results = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(claim_ids), unit="claim", leave=False)
    for claim_id in claim_ids:
        claim = registry.get(claim_id)
        if bar is not None:
            bar.set_description(f"{claim_id} {claim.title}")
        start = time.perf_counter()
        try:
            verdict = claim.check(ctx)
        except Exception as exc:  # a crashing check is a failed claim, reported, not a traceback
            verdict = Verdict(claim_id, False, 0, float("inf"), 0.0, seed, f"check raised {type(exc).__name__}: {exc}")
        results.append(ClaimResult(claim, verdict, time.perf_counter() - start))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return results


def summary_table(results: list[ClaimResult]) -> str:
    """A plain-text table: claim, title, instances, worst error vs tolerance, verdict, time."""
    header = ("claim", "title", "instances", "worst error / tol", "verdict", "time")
    rows = [header]
    for r in results:
        v = r.verdict
        rows.append((v.claim, r.claim.title, str(v.instances), f"{v.worst_error:.2e} / {v.tolerance:.0e}",
                     "PASS" if v.passed else "FAIL", f"{r.seconds:.1f}s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failures = [f"  {r.verdict.claim}: {r.verdict.reason}" for r in results if not r.verdict.passed]
    return "\n".join(lines + (["failures:"] + failures if failures else []))
