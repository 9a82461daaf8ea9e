"""Figures for the report: claims describe them as data, this module draws them (matplotlib, Agg).

A figure spec is a plain dict, JSON-safe so that it can live in ``report.json``::

    {"name": "rank-vs-width", "title": "...", "xlabel": "width m", "ylabel": "rank",
     "x": [16, 64, ...], "series": {"squared": [3, 3, ...], "bound C": [3, 3, ...]},
     "logx": True}

Files are written atomically (temporary file, then rename), with ordinary permissions, under the output folder.
"""
from __future__ import annotations

from pathlib import Path

from verify.core.files import atomic_target


def draw(spec: dict, path: Path) -> Path:
    """Draw one line-plot spec to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    styles = spec.get("styles", {})
    for label, values in spec["series"].items():
        ax.plot(spec["x"], values, styles.get(label, "o-"), label=label)
    if spec.get("logx"):
        ax.set_xscale("log", base=2)
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(spec.get("xlabel", ""))
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.set_title(spec.get("title", ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_target(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path
