"""Write the campaign report: ``report.json`` (machine-readable), ``report.md`` (readable), ``figures/``.

What the report says, it says about this run only:

- :func:`prepare_output` clears what an earlier run left in the folder (``report.json``,
  ``report.md``, the PNG files of ``figures/`` and stray temporary files) and writes a placeholder
  report with status ``running``: a run that is killed leaves that placeholder, never the previous
  run's verdicts;
- every claim has a status (pass / fail / error, see :mod:`verify.campaign.runner`); the headline counts
  claims by status and findings by outcome; the worst figure of each claim names its kind;
- ``provenance`` records the run id, UTC start and end, the command line, the package version, the
  git revision (when run from a checkout), the machine and the Python version; an interrupted run
  says so (status ``interrupted``, with the claims not run).

Files are written atomically with ordinary permissions (:mod:`verify.core.files`). The same seed gives
the same ``report.json`` except for the ``seconds`` fields and ``provenance``.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from importlib import metadata
from pathlib import Path

from verify.campaign import runner as campaign
from verify.campaign.runner import ClaimResult
from verify.core.files import write_atomically

PACKAGES = ("kernel-flows", "numpy", "scipy", "sympy", "mpmath")
#: the files of a run, in the output folder
REPORT_FILES = ("report.json", "report.md")
FIGURES = "figures"


def versions() -> dict:
    """The versions a report records: {"python": version} and {package: version} for each of :data:`PACKAGES`, None
    for a package that is not installed."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def package_version() -> str:
    """The installed version of kernel-flows (from the package metadata), or "unknown" when it is not installed (a
    source checkout on ``sys.path``)."""
    try:
        return metadata.version("kernel-flows")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- provenance ----------------------------------------------------------------------------------------


def utc_now() -> str:
    """The current time in UTC as a report records it: ISO 8601 to the second with a Z suffix (e.g.
    ``2026-12-01T09:30:00Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def git_revision(where: Path | None = None) -> dict | None:
    """{"revision": …, "dirty": bool} of the checkout the package runs from; None outside a git checkout."""
    where = where or Path(__file__).resolve().parent.parent
    if not (where / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": head.stdout.strip(),
            "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The machine a run ran on, as a report records it: {"platform", "machine", "cpu" (model name), "cpu_count",
    "usable_cpus" (the CPUs this process may run on, when the OS tells), "python" (implementation and version)}."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "usable_cpus": usable,
            "python": f"{platform.python_implementation()} {platform.python_version()}"}


def provenance(argv=None) -> dict:
    """Where this run comes from: run id, UTC start, command line, package version, git revision, machine."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return {"run_id": uuid.uuid4().hex[:12], "started": utc_now(), "finished": None,
            "command": " ".join(["kflow", *argv]), "argv": ["kflow", *argv], "kernel_flows": package_version(),
            "git": git_revision(), "machine": machine()}


# --- the output folder ---------------------------------------------------------------------------------


def prepare_output(out: str | os.PathLike) -> Path:
    """Create the output folder, prove it is writable and clear what an earlier run left there (the report
    files, ``figures/*.png``, stray temporary files); ValueError with a clear message otherwise."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".kflow-write-test-"):
            pass
        clear_output(path)
    except OSError as exc:
        raise ValueError(f"cannot write to output folder {path}: {exc.strerror or exc}") from None
    return path


def clear_output(path: Path) -> list[str]:
    """Remove an earlier run's files from ``path``; returns their names (relative to ``path``)."""
    removed = []
    stale = [path / name for name in REPORT_FILES]
    stale += [p for p in path.glob(".report.*.tmp")] + [p for p in path.glob(".kflow-write-test-*")]
    figures = path / FIGURES
    if figures.is_dir():
        stale += sorted(figures.glob("*.png")) + sorted(figures.glob(".*.tmp"))
    for file in stale:
        if file.is_file() or file.is_symlink():
            file.unlink()
            removed.append(str(file.relative_to(path)))
    if figures.is_dir() and not any(figures.iterdir()):
        figures.rmdir()
    return removed


# --- report data ---------------------------------------------------------------------------------------


def _clean(value):
    """JSON-safe: non-finite floats become null, tuples and arrays lists, numpy scalars Python numbers,
    findings and other dataclasses dicts, anything else its ``str``."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_clean(v) for v in items]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return _clean(value.tolist())
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _clean(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _clean(dataclasses.asdict(value))
    if isinstance(value, complex):
        return str(value)
    return str(value)


def _claim_entry(r: ClaimResult) -> dict:
    entry = {"id": r.claim.id, "title": r.claim.title, "statement": r.claim.statement,
             "assumptions": r.claim.assumptions, "status": r.status, "seconds": round(r.seconds, 3)}
    if r.error is not None:
        entry["error"] = r.error
    entry["findings"] = campaign.finding_counts(campaign.findings_of(r.verdict.details))
    entry["verdict"] = r.verdict.to_dict()
    return entry


def report_data(results: list[ClaimResult], *, profile: str, seed: int, provenance: dict | None = None,
                time_limit: float | None = None, not_run=None, interrupted: str | None = None,
                running: bool = False) -> dict:
    """The content of ``report.json``. ``interrupted``: the signal that ended the run early (None if none);
    ``running``: the placeholder written before any claim has run."""
    claims = [_claim_entry(r) for r in results]
    statuses = campaign.status_counts(r.status for r in results)
    findings = campaign.finding_counts([f for r in results for f in campaign.findings_of(r.verdict.details)])
    not_run = list(not_run or [])
    if running:
        status, text = "running", f"RUNNING (or killed before it finished): {len(not_run)} claims to run"
    else:
        status = "interrupted" if interrupted else ("error" if statuses["error"] and not statuses["fail"] else
                                                    "fail" if statuses["fail"] else "pass")
        text = campaign.headline(statuses, findings, interrupted=bool(interrupted), not_run=len(not_run))
    data = {
        "project": "kernel-flows",
        "status": status,
        "passed": status == "pass",
        "headline": text,
        "counts": {"claims": statuses, "findings": findings},
        "exit_status": None if running else (campaign.INTERRUPTED_EXIT.get(interrupted, 130) if interrupted
                                             else campaign.exit_status(statuses)),
        "profile": profile,
        "seed": seed,
        "time_limit": time_limit,
        "not_run": not_run,
        "provenance": dict(provenance or {}),
        "versions": versions(),
        "claims": claims,
    }
    if interrupted:
        data["interrupted_by"] = interrupted
    return _clean(data)


# --- report.md -----------------------------------------------------------------------------------------


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _seconds(value) -> str:
    return "none" if value is None else f"{value:g} s"


def _number(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _figure(value, tolerance, measure) -> str:
    if value is None:
        return "—"
    return f"{value:.2e} / {_number(tolerance, '.0e')}" + (f" ({measure})" if measure else "")


def _provenance_lines(data: dict) -> list[str]:
    p = data.get("provenance") or {}
    if not p:
        return []
    git = p.get("git")
    revision = ("not a git checkout" if not git else
                f"`{git['revision'][:12]}`" + (" (with uncommitted changes)" if git.get("dirty") else ""))
    m = p.get("machine") or {}
    return ["| run | |", "|---|---|",
            f"| run id | `{p.get('run_id')}` |",
            f"| started (UTC) | {p.get('started')} |",
            f"| finished (UTC) | {p.get('finished') or '—'} |",
            f"| command | `{_cell(p.get('command'))}` |",
            f"| kernel-flows | {p.get('kernel_flows')}, git {revision} |",
            f"| machine | {_cell(m.get('cpu'))}, {m.get('usable_cpus')} of {m.get('cpu_count')} CPUs, "
            f"{_cell(m.get('platform'))} |",
            f"| python | {m.get('python')} |",
            f"| time limit per claim | {_seconds(data.get('time_limit'))} |",
            ""]


def markdown(data: dict) -> str:
    """``report.md``: the Markdown of a report's ``data`` (what ``report.json`` holds).

    The headline, the provenance, a table of the claims (instances, worst error/tolerance with its kind, findings,
    status), then per claim its statement, assumptions, status, time and details. A run still marked "running" says
    so first. A claim whose details cannot be rendered gets a one-line note instead: the report is still written."""
    findings = data["counts"]["findings"]
    show_findings = any(c["findings"] and any(c["findings"].values()) for c in data["claims"])
    lines = ["# kernel-flows verification report", "",
             f"Profile `{data['profile']}`, seed {data['seed']}: **{data['headline']}**.", ""]
    if data["status"] == "running":
        lines += ["This run has not finished: it is still running, or it was killed before it could write its "
                  "report. Nothing below comes from an earlier run.", ""]
    if data.get("not_run") and data["status"] != "running":
        lines += [f"Not run (the run was interrupted): {', '.join(data['not_run'])}.", ""]
    lines += _provenance_lines(data)
    lines += ["Status: **pass** — the check confirms the claim; **FAIL** — the check disproves it on the instances "
              "shown; **ERROR** — the check could not judge the claim (it raised, exited, ran past the time limit "
              "or returned no Verdict). The worst figure is the worst error/tolerance ratio among the claim's "
              "parts, with the kind of figure it is (relative error, z-score, rank excess, …)."
              + (" Findings answer empirical questions the claims do not decide (holds / holds approximately / "
                 "does not hold) and are counted apart from the status." if sum(findings.values()) else ""), ""]
    header = "| claim | title | instances | worst / tolerance (kind) |" + (" findings |" if show_findings else "") \
        + " status |"
    lines += [header, "|" + "---|" * header.count(" |")]
    for c in data["claims"]:
        v = c["verdict"]
        row = (f"| {c['id']} | {_cell(c['title'])} | {v['instances']} | "
               f"{'—' if c['status'] == 'error' else _figure(v['worst_error'], v['tolerance'], v.get('measure'))} |")
        if show_findings:
            row += " " + (", ".join(f"{n} {o}" for o, n in (c["findings"] or {}).items() if n) or "—") + " |"
        lines.append(row + f" {c['status'].upper() if c['status'] != 'pass' else 'pass'} |")
    for c in data["claims"]:
        lines += ["", f"## {c['id']} — {c['title']}", "", str(c["statement"]), "",
                  f"*Assumptions:* {c['assumptions']}", "", f"*Status:* **{c['status']}** ({c['seconds']:.1f} s)", ""]
        try:
            lines += _claim_body(c)
        except Exception as exc:  # noqa: BLE001 - a user's odd details must not cost the report
            lines += [f"*(details could not be rendered: {type(exc).__name__}: {exc}; see report.json)*"]
    versions_line = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    return "\n".join(lines + ["", f"*Versions:* {versions_line}", ""])


def _claim_body(c: dict) -> list[str]:
    v = c["verdict"]
    lines = []
    if c["status"] == "error":
        error = c.get("error") or {}
        lines += [f"**Error** ({error.get('kind', 'error')}): {v['reason']}", ""]
        if error.get("traceback"):
            lines += ["<details><summary>traceback</summary>", "", "```", error["traceback"].rstrip("\n"), "```", "",
                      "</details>", ""]
        return lines
    if v["reason"]:
        lines += [f"**Failure:** {v['reason']}", ""]
    for name, part in v["details"].get("parts", {}).items():
        err = "—" if part["worst_error"] is None else f"{part['worst_error']:.2e}"
        kind = part.get("measure") or "error"
        lines.append(f"- {name}: {part['instances']} instances, worst {kind} {err} (tolerance {part['tolerance']:.0e})")
    for name, control in v["details"].get("controls", {}).items():
        lines.append(f"- negative control *{name}*: {'rejected' if control['rejected'] else 'NOT rejected'}"
                     + (f" ({control['reason']})" if control["reason"] else ""))
    for key, value in v["details"].items():
        if key == "figures":
            for spec in value:
                if "file" in spec:
                    lines.append(f"\n![{spec.get('title', spec.get('name', 'figure'))}]({spec['file']})")
                elif "error" in spec:
                    lines.append(f"\n*(figure {spec.get('name', '?')} could not be drawn: {spec['error']})*")
        elif key not in ("parts", "controls", "derivation"):
            lines += _detail(key, value)
    lines += _derivation(v["details"].get("derivation", []))
    return lines


def _derivation(steps: list[dict]) -> list[str]:
    """Each derivation (one per label: C = 1, 2, 3; one per loss) with its steps as ``kflow derive --format md``
    renders them (the Markdown each step gave of itself, ``Step._repr_markdown_``)."""
    if not steps:
        return []
    groups: dict[str, list[dict]] = {}
    for s in steps:
        groups.setdefault(s.get("group", ""), []).append(s)
    lines = []
    for label, members in groups.items():
        certified = all(s.get("holds", not s["certificate"].startswith("FAILED")) for s in members)
        lines += ["", f"### Derivation{f' ({label})' if label else ''}: {len(members)} steps, "
                      f"{'all certified' if certified else 'NOT all certified'}", ""]
        for i, s in enumerate(members, 1):
            text = s.get("markdown") or f"**{s['step']}**: {s['certificate']}"
            lines += [f"{i}. {text}", ""]
    return lines


def _table(rows: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    fmt = lambda x: f"{x:.3g}" if isinstance(x, float) else _cell(x)  # noqa: E731  (| ends a cell)
    return (["| " + " | ".join(_cell(k) for k in keys) + " |", "|" + "---|" * len(keys)]
            + ["| " + " | ".join(fmt(row.get(k, "")) for k in keys) + " |" for row in rows])


def _detail(key: str, value) -> list[str]:
    """Markdown for one detail entry: tables for lists of records, nested sections for dicts of them."""
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return ["", f"*{key}:*", ""] + _table(value)
    if isinstance(value, dict) and value and all(isinstance(x, list) for x in value.values()):
        out = []
        for sub, rows in value.items():
            out += _detail(sub, rows)
        return out
    return [f"- {key}: {value}"]


# --- writing -------------------------------------------------------------------------------------------


def write_figures(out: Path, data: dict) -> None:
    """Draw every figure spec found in the claims' details to ``out/figures`` and record the file names; a spec
    that cannot be drawn records its error instead."""
    from verify.campaign.figures import draw

    for claim in data["claims"]:
        specs = claim["verdict"]["details"].get("figures", [])
        if not isinstance(specs, list):
            continue
        for spec in specs:
            if not isinstance(spec, dict):
                continue
            try:
                folder = out / FIGURES
                folder.mkdir(exist_ok=True)
                path = draw(spec, folder / f"{claim['id']}-{spec['name']}.png")
                spec["file"] = f"{FIGURES}/{path.name}"
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - a malformed spec costs its figure, not the report
                spec["error"] = f"{type(exc).__name__}: {exc}"


def write_data(out: Path, data: dict) -> None:
    """Write ``report.json`` (``data`` as indented UTF-8 JSON) and ``report.md`` (:func:`markdown`) into the folder
    ``out``, each atomically (:func:`verify.core.files.write_atomically`): a reader never sees half a file."""
    write_atomically(out / "report.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_atomically(out / "report.md", markdown(data))


def start_report(out: Path, claim_ids, *, profile: str, seed: int, provenance: dict | None = None,
                 time_limit: float | None = None) -> dict:
    """The placeholder report (status ``running``) written before the first claim runs."""
    data = report_data([], profile=profile, seed=seed, provenance=provenance, time_limit=time_limit,
                       not_run=claim_ids, running=True)
    write_data(out, data)
    return data


def write_report(out: Path, results: list[ClaimResult], *, profile: str, seed: int, provenance: dict | None = None,
                 time_limit: float | None = None, not_run=None, interrupted: str | None = None) -> dict:
    """Draw the figures and write ``report.json`` and ``report.md``; OSError (disk full, …) propagates."""
    if provenance is not None:
        provenance = {**provenance, "finished": utc_now()}
    data = report_data(results, profile=profile, seed=seed, provenance=provenance, time_limit=time_limit,
                       not_run=not_run, interrupted=interrupted)
    write_figures(out, data)
    write_data(out, data)
    return data
