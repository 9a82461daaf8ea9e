"""Run registered claims and collect their outcomes (profiles, seeds, progress, time limits).

Every claim ends with one of :data:`STATUSES`:

- ``pass``: its check returned a passing :class:`~verify.core.verdict.Verdict`;
- ``fail``: its check returned a failing Verdict — the claim is disproved on the instances shown;
- ``error``: its check could not judge the claim — it raised (any exception, ``sys.exit`` included,
  or :class:`~verify.core.verdict.CheckError`), returned something other than a Verdict, ran past the time
  limit, or its process died. A broken check is never reported as a disproved claim.

Checks run one after the other in a worker process (forked, so claims registered by a claims file
are there too): a check that loops is stopped at ``time_limit`` seconds and the worker replaced, and
one that calls ``os._exit`` or crashes the interpreter costs only its own claim. Where ``fork`` is
not available the checks run in this process, with the time limit enforced by ``SIGALRM`` where
that exists.

>>> results = run(["T1"], profile="quick", seed=0, progress=False)
>>> results[0].status, results[0].verdict.passed
('pass', True)
"""
from __future__ import annotations

import math
import multiprocessing
import numbers
import os
import signal
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from verify.claims import PROFILES, Claim, Context, registry
from verify.core.findings import OUTCOMES
from verify.core.verdict import CheckError, Verdict

#: the outcome of one claim
STATUSES = ("pass", "fail", "error")
#: exit status of a run ended by a signal (128 + the signal's number)
INTERRUPTED_EXIT = {"SIGINT": 130, "SIGTERM": 143}
#: default per-claim time limit in seconds (the largest claim of the full profile takes about a minute)
DEFAULT_TIME_LIMIT = 1800.0


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of running one claim: the claim, its :class:`~verify.core.verdict.Verdict`, the seconds it took,
    its status and, for status "error", what went wrong.

    ``status`` defaults to "pass" or "fail" from the verdict; any other value than those of :data:`STATUSES` raises
    ValueError."""

    claim: Claim
    verdict: Verdict
    seconds: float
    #: "pass", "fail" or "error" (default: from the verdict)
    status: str = ""
    #: for status "error": {"kind": "exception" | "exit" | "timeout" | "bad result" | "crash", "message": …,
    #: "traceback": … (when there is one)}
    error: dict | None = field(default=None)

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status", "pass" if self.verdict.passed else "fail")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM): ``results`` holds the claims finished, ``not_run`` the rest."""

    def __init__(self, results: list[ClaimResult], not_run: list[str], signal_name: str = "SIGINT"):
        super().__init__(f"interrupted ({signal_name}) after {len(results)} claims")
        self.results, self.not_run, self.signal_name = results, not_run, signal_name


def parse_claims(text: str | None, profile: str = "quick") -> list[str]:
    """Claim ids from "T1,T3" (None or "all": every registered claim whose ``profiles`` include ``profile``);
    ValueError naming unknown ids."""
    if text is None or text.strip().lower() == "all":
        chosen = [c for c, claim in registry.REGISTRY.items() if profile in claim.profiles]
        # the theory's claims T1, T2, …, T10 first, then the extensions (E1, E2) and a user's claims, each by number
        return sorted(chosen, key=lambda c: (c[0] != "T", c[0], not c[1:].isdigit(),
                                             int(c[1:]) if c[1:].isdigit() else 0, c))
    ids = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not ids:
        raise ValueError("--claims is empty; give ids like T1,T2 or 'all'")
    for claim_id in ids:
        registry.get(claim_id)
    return list(dict.fromkeys(ids))


def check_profile(profile: str) -> str:
    """``profile`` itself when it names a profile of :data:`~verify.claims.registry.PROFILES` ("quick", "full");
    ValueError naming the profiles otherwise."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    return profile


def check_time_limit(seconds) -> float | None:
    """A positive finite number of seconds, or None (0 or None: no limit); ValueError otherwise."""
    if seconds is None:
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"--time-limit must be a number of seconds, got {seconds!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--time-limit must be a finite number of seconds >= 0 (0: no limit), got {seconds}")
    return value or None


# --- running one check ---------------------------------------------------------------------------------


def _where(exc: BaseException) -> str:
    """"file.py:12 in check" for the innermost frame of ``exc``'s traceback ("" when there is none)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" ({os.path.basename(last.filename)}:{last.lineno} in {last.name})"


def _malformed(verdict: Verdict) -> str:
    """Why a returned Verdict cannot be reported ("" when it can)."""
    problems = []
    if not isinstance(verdict.passed, (bool, numbers.Integral)):
        problems.append(f"passed is {type(verdict.passed).__name__}, not bool")
    if not isinstance(verdict.instances, numbers.Integral):
        problems.append(f"instances is {type(verdict.instances).__name__}, not int")
    for name in ("worst_error", "tolerance"):
        if not isinstance(getattr(verdict, name), numbers.Real):
            problems.append(f"{name} is {type(getattr(verdict, name)).__name__}, not a number")
    if not isinstance(verdict.details, dict):
        problems.append(f"details is {type(verdict.details).__name__}, not dict")
    return "; ".join(problems)


def _check_once(claim: Claim, ctx: Context, *, in_worker: bool = False) -> tuple:
    """Run one check here: ("ok", verdict, seconds) or ("error", kind, message, traceback text, seconds).

    Catches everything the check may raise, ``SystemExit`` included, except the time limit's own alarm
    and — in this process — KeyboardInterrupt (the user's Ctrl-C, which ends the run). In the worker,
    which ignores Ctrl-C, a KeyboardInterrupt can only be the check's own, and is an error like any other.
    """
    start = time.perf_counter()
    try:
        verdict = claim.check(ctx)
    except _Alarm:
        raise
    except KeyboardInterrupt:
        if not in_worker:
            raise
        return ("error", "exception", "check raised KeyboardInterrupt", traceback.format_exc(),
                time.perf_counter() - start)
    except SystemExit as exc:
        return ("error", "exit", f"check called sys.exit({exc.code!r}){_where(exc)}", traceback.format_exc(),
                time.perf_counter() - start)
    except CheckError as exc:
        return ("error", "exception", f"broken check: {exc}{_where(exc)}", traceback.format_exc(),
                time.perf_counter() - start)
    except BaseException as exc:  # noqa: BLE001 - a check that raises is an error, reported, not a traceback
        return ("error", "exception", f"check raised {type(exc).__name__}: {exc}{_where(exc)}",
                traceback.format_exc(), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if not isinstance(verdict, Verdict):
        return ("error", "bad result", f"check returned {type(verdict).__name__}, not a verify.core.verdict.Verdict",
                "", seconds)
    problem = _malformed(verdict)
    if problem:
        return ("error", "bad result", f"check returned a malformed Verdict: {problem}", "", seconds)
    return ("ok", verdict, seconds)


def _worker(conn, profile: str, seed: int, device: str = "cpu",
            progress: bool = False) -> None:  # pragma: no cover - runs in the child process
    """Child process: run the checks the parent names, one at a time, and send back their outcomes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ctx = Context(profile, seed, device, progress)
    while True:
        try:
            claim_id = conn.recv()
        except EOFError:
            return
        if claim_id is None:
            return
        outcome = _check_once(registry.get(claim_id), ctx, in_worker=True)
        try:
            conn.send(outcome)
        except Exception as exc:  # noqa: BLE001 - e.g. details that cannot be pickled
            conn.send(("error", "bad result", f"the check's Verdict could not be sent back: "
                                              f"{type(exc).__name__}: {exc}", "", outcome[-1]))


class _Worker:
    """The forked worker process and the parent's end of its pipe."""

    def __init__(self, profile: str, seed: int, device: str = "cpu", progress: bool = False):
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, profile, seed, device, progress), daemon=True,
                                       name="kflow-check")
        self.process.start()
        child.close()

    def run(self, claim_id: str, time_limit: float | None) -> tuple:
        self.conn.send(claim_id)
        deadline = None if time_limit is None else time.monotonic() + time_limit
        while True:  # poll in short slices, so that the death of the worker is noticed at once
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return ("error", "timeout", f"check exceeded the time limit of {time_limit:g} s and was stopped",
                        "", time_limit)
            if self.conn.poll(0.2 if left is None else min(0.2, left)):
                try:
                    return self.conn.recv()
                except (EOFError, OSError):
                    return self._died()
            if not self.process.is_alive():
                if self.conn.poll(0):
                    try:
                        return self.conn.recv()
                    except (EOFError, OSError):
                        pass
                return self._died()

    def _died(self) -> tuple:
        self.process.join(1)
        code = self.process.exitcode
        how = (f"was killed by signal {-code}" if code is not None and code < 0
               else f"exited with status {code}")
        return ("error", "crash", f"the process running the check {how} (os._exit, a crash or out of memory)",
                "", 0.0)

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(0.5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class _Alarm(BaseException):
    """The in-process time limit (SIGALRM) went off."""


def _run_in_process(claim: Claim, ctx: Context, time_limit: float | None) -> tuple:
    """Fallback without fork: the check runs here; SIGALRM stops it at the limit where it exists."""
    use_alarm = time_limit is not None and hasattr(signal, "setitimer")
    if use_alarm:
        def _ring(signum, frame):
            raise _Alarm()

        previous = signal.signal(signal.SIGALRM, _ring)
        signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        return _check_once(claim, ctx)
    except _Alarm:
        return ("error", "timeout", f"check exceeded the time limit of {time_limit:g} s and was stopped", "",
                time_limit)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _result(claim: Claim, outcome: tuple, seed: int) -> ClaimResult:
    if outcome[0] == "ok":
        _, verdict, seconds = outcome
        return ClaimResult(claim, verdict, seconds)
    _, kind, message, trace, seconds = outcome
    verdict = Verdict(claim.id, False, 0, math.inf, 0.0, seed, message)
    error = {"kind": kind, "message": message}
    if trace:
        error["traceback"] = trace
    return ClaimResult(claim, verdict, seconds, "error", error)


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run(claim_ids, *, profile: str = "quick", seed: int = 0, progress: bool = True,
        time_limit: float | None = DEFAULT_TIME_LIMIT, isolate: bool | None = None,
        device: str = "cpu") -> list[ClaimResult]:
    """Run each claim's check and return one :class:`ClaimResult` per claim, in order.

    ``time_limit``: seconds per claim (None: no limit). ``isolate``: run the checks in a worker
    process (default: wherever ``fork`` exists). ``device``: where the real-architecture experiments run.
    KeyboardInterrupt becomes :class:`Interrupted`, carrying the results so far.
    """
    check_profile(profile)
    time_limit = check_time_limit(time_limit)
    isolate = _can_fork() if isolate is None else isolate
    ctx = Context(profile, seed, device, progress)
    claims = [registry.get(claim_id) for claim_id in claim_ids]
    results: list[ClaimResult] = []
    worker = None
    bar = None
    try:
        if isolate:
            worker = _Worker(profile, seed, device, progress)  # before the progress bar starts its thread
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(claims), unit="claim", leave=False)
        for claim in claims:
            if bar is not None:
                bar.set_description(f"{claim.id} {claim.title}")
            if worker is None:
                outcome = _run_in_process(claim, ctx, time_limit)
            else:
                if not worker.alive():
                    worker.stop()
                    worker = _Worker(profile, seed, device, progress)
                start = time.perf_counter()
                outcome = worker.run(claim.id, time_limit)
                outcome = outcome[:-1] + (time.perf_counter() - start,)  # the wall time, as the user waited
                if outcome[0] == "error" and outcome[1] in ("timeout", "crash"):
                    worker.stop()  # stopped mid-check, or dead: the next claim gets a fresh worker
                    worker = None if claim is claims[-1] else _Worker(profile, seed, device, progress)
            results.append(_result(claim, outcome, seed))
            if bar is not None:
                bar.update()
    except KeyboardInterrupt as exc:
        done = {r.claim.id for r in results}
        raise Interrupted(results, [c.id for c in claims if c.id not in done],
                          getattr(exc, "signal_name", "SIGINT")) from None
    finally:
        if worker is not None:
            worker.stop()
        if bar is not None:
            bar.close()
    return results


# --- summaries -----------------------------------------------------------------------------------------


def findings_of(details) -> list[dict]:
    """Every finding (a dict or object with a ``question`` and an ``outcome`` of :data:`OUTCOMES`) found
    anywhere in a verdict's details."""
    found = []

    def walk(value):
        if hasattr(value, "to_dict") and hasattr(value, "outcome"):
            value = value.to_dict()
        if isinstance(value, dict):
            if value.get("outcome") in OUTCOMES and "question" in value:
                found.append(value)
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(details)
    return found


def status_counts(statuses) -> dict[str, int]:
    """{status: count} over :data:`STATUSES` ("pass", "fail", "error"; 0 for a status that does not occur) for an
    iterable of claim statuses."""
    counts = Counter(statuses)
    return {status: counts.get(status, 0) for status in STATUSES}


def finding_counts(findings) -> dict[str, int]:
    """{outcome: count} over :data:`~verify.core.findings.OUTCOMES` (0 for an outcome that does not occur) for
    findings given as dicts with an "outcome" key (``Finding.to_dict``)."""
    counts = Counter(f["outcome"] for f in findings)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def headline(statuses: dict[str, int], findings: dict[str, int], *, interrupted: bool = False,
             not_run: int = 0) -> str:
    """One sentence that says what happened: claims by status, then findings by outcome (never "all claims
    pass" alone while findings say "does not hold").

    >>> headline({"pass": 10, "fail": 0, "error": 0}, {"holds": 20, "holds approximately": 3, "does not hold": 36})
    'all 10 claims pass; 59 findings on empirical questions the claims do not decide: 20 holds, 3 holds approximately, 36 does not hold'
    >>> headline({"pass": 1, "fail": 0, "error": 1}, {}, interrupted=True, not_run=2)
    'INTERRUPTED after 2 of 4 claims (2 not run): 1 pass, 1 ERROR'
    """
    total = sum(statuses.values())
    counts = ", ".join(f"{n} {word}" for word, n in (("pass", statuses["pass"]), ("FAIL", statuses["fail"]),
                                                      ("ERROR", statuses["error"])) if n)
    if interrupted:
        text = f"INTERRUPTED after {total} of {total + not_run} claims ({not_run} not run)"
        text += f": {counts}" if total else ""
    elif not total:
        text = "no claims were run"
    elif statuses["pass"] == total:
        text = f"all {total} claims pass" if total > 1 else "the claim passes"
    else:
        text = f"{counts} of {total} claims"
    found = sum(findings.values())
    if found:
        text += (f"; {found} findings on empirical questions the claims do not decide: "
                 + ", ".join(f"{n} {outcome}" for outcome, n in findings.items()))
    return text


def exit_status(statuses: dict[str, int]) -> int:
    """0: every claim passed; 1: some claim failed (disproved); 3: none failed but some check errored."""
    if statuses["fail"]:
        return 1
    if statuses["error"]:
        return 3
    return 0


def describe_error(verdict: Verdict) -> str:
    """"3.1e-10 / 1e-09 (relative error)"; "—" when nothing was measured."""
    if not math.isfinite(verdict.worst_error) and verdict.instances == 0:
        return "—"
    kind = f" ({verdict.measure})" if verdict.measure else ""
    return f"{verdict.worst_error:.2e} / {verdict.tolerance:.0e}{kind}"


def summary_table(results: list[ClaimResult]) -> str:
    """A plain-text table: claim, title, instances, worst figure vs tolerance (and its kind), findings,
    status, time; then the failures and errors, and the counts by status and by finding outcome."""
    findings = {r.claim.id: finding_counts(findings_of(r.verdict.details)) for r in results}
    show_findings = any(sum(c.values()) for c in findings.values())
    header = ("claim", "title", "instances", "worst / tolerance (kind)", "status", "time")
    if show_findings:
        header = header[:4] + ("findings",) + header[4:]
    rows = [header]
    for r in results:
        v = r.verdict
        row = [v.claim, r.claim.title, str(v.instances), describe_error(v), r.status.upper(), f"{r.seconds:.1f}s"]
        if show_findings:
            counts = findings[r.claim.id]
            row.insert(4, ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "—")
        rows.append(tuple(row))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failures = [f"  {r.verdict.claim}: {r.verdict.reason}" for r in results if r.status == "fail"]
    errors = [f"  {r.verdict.claim}: {r.verdict.reason}" for r in results if r.status == "error"]
    lines += (["failures (claim disproved):"] + failures if failures else [])
    lines += (["errors (check could not judge the claim):"] + errors if errors else [])
    total = finding_counts([f for r in results for f in findings_of(r.verdict.details)])
    lines.append(headline(status_counts(r.status for r in results), total))
    return "\n".join(lines)
