"""Write the campaign report: ``report.json`` (machine-readable) and ``report.md`` (readable).

Files are written atomically (temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written report. The same seed gives the same ``report.json``
except for the ``seconds`` fields.
"""
from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from verify.campaign import ClaimResult

PACKAGES = ("kernel-flows", "numpy", "scipy", "sympy", "mpmath")


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def prepare_output(out: str | os.PathLike) -> Path:
    """Create the output folder and prove it is writable; OSError/ValueError with a clear message otherwise."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".kflow-write-test-"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write to output folder {path}: {exc.strerror or exc}") from None
    return path


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(value):
    """JSON-safe: non-finite floats become null, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_data(results: list[ClaimResult], *, profile: str, seed: int) -> dict:
    return _clean({
        "project": "kernel-flows",
        "versions": versions(),
        "profile": profile,
        "seed": seed,
        "passed": all(r.verdict.passed for r in results),
        "claims": [{"id": r.claim.id, "title": r.claim.title, "statement": r.claim.statement,
                    "assumptions": r.claim.assumptions, "seconds": round(r.seconds, 3),
                    "verdict": r.verdict.to_dict()} for r in results],
    })


def markdown(data: dict) -> str:
    lines = ["# kernel-flows verification report", "",
             f"Profile `{data['profile']}`, seed {data['seed']}: "
             f"**{'all claims pass' if data['passed'] else 'some claims FAIL'}**.", "",
             "| claim | title | instances | worst error | tolerance | verdict |", "|---|---|---|---|---|---|"]
    for c in data["claims"]:
        v = c["verdict"]
        err = "—" if v["worst_error"] is None else f"{v['worst_error']:.2e}"
        lines.append(f"| {c['id']} | {c['title']} | {v['instances']} | {err} | {v['tolerance']:.0e} | "
                     f"{'PASS' if v['passed'] else 'FAIL'} |")
    for c in data["claims"]:
        v = c["verdict"]
        lines += ["", f"## {c['id']} — {c['title']}", "", c["statement"], "", f"*Assumptions:* {c['assumptions']}", ""]
        if v["reason"]:
            lines += [f"**Failure:** {v['reason']}", ""]
        for name, part in v["details"].get("parts", {}).items():
            err = "—" if part["worst_error"] is None else f"{part['worst_error']:.2e}"
            lines.append(f"- {name}: {part['instances']} instances, worst {err} (tolerance {part['tolerance']:.0e})")
        for name, control in v["details"].get("controls", {}).items():
            lines.append(f"- negative control *{name}*: {'rejected' if control['rejected'] else 'NOT rejected'}"
                         + (f" ({control['reason']})" if control["reason"] else ""))
        for key, value in v["details"].items():
            if key == "figures":
                lines += [f"\n![{spec.get('title', spec['name'])}]({spec['file']})" for spec in value if "file" in spec]
            elif key not in ("parts", "controls", "derivation"):
                lines += _detail(key, value)
        steps = v["details"].get("derivation", [])
        if steps:
            lines += ["", "Derivation steps:"] + [f"- {s['claim']} · {s['step']}: {s['certificate']}" for s in steps]
    versions_line = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    return "\n".join(lines + ["", f"*Versions:* {versions_line}", ""])


def _table(rows: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    fmt = lambda x: f"{x:.3g}" if isinstance(x, float) else str(x).replace("|", "\\|")  # noqa: E731  (| ends a cell)
    return (["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
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


def write_figures(out: Path, data: dict) -> None:
    """Draw every figure spec found in the claims' details to ``out/figures`` and record the file names."""
    from verify.figures import draw

    for claim in data["claims"]:
        for spec in claim["verdict"]["details"].get("figures", []):
            folder = out / "figures"
            folder.mkdir(exist_ok=True)
            path = draw(spec, folder / f"{claim['id']}-{spec['name']}.png")
            spec["file"] = f"figures/{path.name}"


def write_report(out: Path, results: list[ClaimResult], *, profile: str, seed: int) -> dict:
    data = report_data(results, profile=profile, seed=seed)
    write_figures(out, data)
    write_atomically(out / "report.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_atomically(out / "report.md", markdown(data))
    return data
