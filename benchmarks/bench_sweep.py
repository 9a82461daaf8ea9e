"""Throughput of ``kflow sweep`` on the default LocalCluster with 1 and 2 worker processes, in one run.

    python benchmarks/bench_sweep.py [cells]        (default 60)

CPU-bound cells: two-layer ReLU networks of width 256 trained on 150 Gaussian-mixture samples to flow time 4 (``two-layer-network``,
about a second of NumPy each), one BLAS thread per worker (set before NumPy loads, inherited by the workers). Reports
cells per second for each worker count and the speed-up; the wall time includes the cluster's start-up.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def run(cells: int, workers: int) -> dict:
    from verify.campaign.sweep_runner import run_sweep
    from verify.campaign.sweep_spec import parse_spec

    spec = parse_spec({"study": "two-layer-network", "seeds": cells,
                       "grid": {"width": [256], "n": [150], "horizon": [4.0], "decay": [1.0]}})
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        summary = run_sweep(spec, Path(folder) / "store.sqlite", workers=workers, progress=False)
        wall = time.perf_counter() - start
    return {"workers": workers, "cells": summary.done, "wall": wall, "sweep": summary.seconds}


def main(argv) -> None:
    cells = int(argv[0]) if argv else 60
    rows = [run(cells, w) for w in (1, 2)]
    print("| workers | cells | wall time (incl. cluster start) | cells per second |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['cells']} | {r['wall']:.1f} s | {r['cells'] / r['wall']:.2f} |")
    print(f"\nspeed-up with 2 workers: {rows[0]['wall'] / rows[1]['wall']:.2f}×")


if __name__ == "__main__":
    main(sys.argv[1:])
