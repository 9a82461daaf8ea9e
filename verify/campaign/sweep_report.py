"""``kflow sweep report STORE``: phase diagrams and report.md from a sweep's store.

For every pair of the sweep's parameters that take two or more values (the pairs with the most grid points first, at
most MAX_DIAGRAMS diagrams), and every metric, a phase diagram: the
metric's mean over seeds and the other parameters, on the grid of the two (a heatmap with the values written in);
report.md lists the sweep (study, spec, revision, cells done / failed), the failed cells with their errors, and
the diagrams.
"""
from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import numpy as np

from verify.core.files import write_atomically

#: the most phase diagrams one report draws (pairs × metrics)
MAX_DIAGRAMS = 24


def load_rows(store_path) -> tuple[dict, list[dict]]:
    """(the sweep's metadata, every cell as a dict) from the store, read-only."""
    path = Path(store_path)
    if not path.is_file():
        raise ValueError(f"store: {path} does not exist")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        meta = dict(connection.execute("SELECT key, value FROM sweep").fetchall())
        cursor = connection.execute("SELECT id, parameters, seed, status, metrics, error, seconds FROM cells")
        rows = [{"id": i, "parameters": json.loads(p), "seed": s, "status": st, "metrics": json.loads(m) if m else None,
                 "error": e, "seconds": sec} for i, p, s, st, m, e, sec in cursor]
        connection.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"store: {path} is not a kflow sweep store ({exc})") from None
    return meta, rows


def phase_diagrams(rows: list[dict]) -> list[dict]:
    """For each pair of varying parameters and each metric: {x, y, x values, y values, metric, mean (len(y) × len(x))}."""
    done = [r for r in rows if r["status"] == "done" and r["metrics"]]
    if not done:
        return []
    names = sorted(done[0]["parameters"])
    values = {k: sorted({r["parameters"][k] for r in done}, key=lambda v: (isinstance(v, str), v)) for k in names}
    varying = [k for k in names if len(values[k]) > 1]
    metrics = [m for m in done[0]["metrics"] if all(isinstance(r["metrics"].get(m), (int, float)) for r in done)]
    out = []
    # the richest pairs first (most grid points), so the cap on diagrams drops the coarse ones
    pairs = sorted(itertools.combinations(varying, 2), key=lambda p: -len(values[p[0]]) * len(values[p[1]]))
    for (x, y), metric in itertools.product(pairs, metrics):
        grid = np.full((len(values[y]), len(values[x])), np.nan)
        for i, yv in enumerate(values[y]):
            for j, xv in enumerate(values[x]):
                picked = [r["metrics"][metric] for r in done if r["parameters"][x] == xv and r["parameters"][y] == yv]
                if picked:
                    grid[i, j] = float(np.mean(picked))
        out.append({"x": x, "y": y, "x values": values[x], "y values": values[y], "metric": metric, "mean": grid})
        if len(out) >= MAX_DIAGRAMS:
            break
    return out


def write_sweep_report(store_path, out_dir) -> Path:
    """Draw the phase diagrams into ``out_dir``/figures and write ``out_dir``/report.md; return the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, rows = load_rows(store_path)
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    lines = [f"# Sweep report: {meta.get('study', '?')}", "",
             f"- store: `{store_path}`", f"- cells: {len(rows)} recorded, {len(done)} done, {len(failed)} failed",
             f"- wall time of the cells: {sum(r['seconds'] or 0 for r in rows):.1f} s in all", ""]
    if meta.get("spec"):
        lines += ["## Spec", "", "```toml", meta["spec"].strip(), "```", ""]
    diagrams = phase_diagrams(rows)
    if diagrams:
        lines += ["## Phase diagrams", "", "Each cell of a diagram is the metric's mean over seeds and the other "
                  "parameters.", ""]
    for k, d in enumerate(diagrams):
        fig, ax = plt.subplots(figsize=(1.2 * len(d["x values"]) + 2.5, 0.8 * len(d["y values"]) + 2))
        image = ax.imshow(d["mean"], origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(d["x values"])), [str(v) for v in d["x values"]])
        ax.set_yticks(range(len(d["y values"])), [str(v) for v in d["y values"]])
        ax.set_xlabel(d["x"])
        ax.set_ylabel(d["y"])
        ax.set_title(f"{d['metric']} (mean)", fontsize=9)
        for (i, j), value in np.ndenumerate(d["mean"]):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=7)
        fig.colorbar(image, ax=ax)
        name = f"phase-{k:02d}-{_slug(d['metric'])}-{_slug(d['y'])}-vs-{_slug(d['x'])}.png"
        fig.tight_layout()
        fig.savefig(out / "figures" / name, dpi=110)
        plt.close(fig)
        lines += [f"![{d['metric']} over {d['y']} × {d['x']}](figures/{name})", ""]
    if failed:
        lines += ["## Failed cells", "", "| id | parameters | seed | error |", "|---|---|---|---|"]
        lines += [f"| {r['id']} | {json.dumps(r['parameters'], sort_keys=True)} | {r['seed']} | "
                  f"{(r['error'] or '').splitlines()[0][:160]} |" for r in failed]
        lines.append("")
    report = out / "report.md"
    write_atomically(report, "\n".join(lines))
    return report


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-").lower()
