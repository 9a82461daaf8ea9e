"""Core timings as ratios against baselines measured in the same run (not a test).

    python benchmarks/bench_core.py

- derivations (T1+T2, T3, T6): cold (first call in the process) and cached;
- generated kernel_ode_rhs against a hand-written NumPy right-hand side (np.linalg.solve), and the
  numba backend against the NumPy one when numba is installed;
- ``kflow verify --profile quick`` wall time (a subprocess, as a user runs it).

steady_state and the feature-space engine have their own scripts (bench_steady_state.py,
bench_feature_flow.py).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import timeit

import numpy as np


def per_call(fn, number: int, repeat: int = 5) -> float:
    """Best over ``repeat`` runs of the mean time of ``number`` calls (small calls need many)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def hand_rhs(K, Y, lam, mu):
    G = np.linalg.solve(K + lam * np.eye(K.shape[0]), Y.T).T  # Y(K + λI)⁻¹ (K symmetric)
    KD = lam * (K @ G.T) @ G
    return KD + KD.T - 2 * mu * K


def main():
    import theory
    from verify import instances
    from verify.flows.kernel_ode import compiled_rhs

    rows = []
    for name, build in [("T1+T2 kernel ODE (C=3)", lambda: theory.derive_kernel_ode(theory.losses.squared(3))),
                        ("T3 water-filling", theory.derive_water_filling),
                        ("T6 pair rates", theory.derive_linearisation)]:
        cold, _ = timed(build)
        warm, _ = timed(build, repeat=5)
        rows.append((f"derive {name}", f"cold {cold:.2f} s, cached {warm * 1e6:.1f} µs"))

    rng = np.random.default_rng(0)
    for n in (100, 400, 1600):
        Y = instances.one_hot_labels(rng, n, 10)
        K = instances.generic_kernel(rng, n)
        rhs = compiled_rhs(10)
        number = {100: 200, 400: 20, 1600: 3}[n]
        generated = per_call(lambda: rhs(K, Y, 0.1, 0.05), number)
        hand = per_call(lambda: hand_rhs(K, Y, 0.1, 0.05), number)
        rows.append((f"kernel_ode_rhs n={n}", f"generated/hand-written = {generated / hand:.2f} ({generated * 1e3:.2f} ms)"))

    from verify.flows.codegen import numba_available

    if numba_available():
        for n in (100, 400):
            Y = instances.one_hot_labels(rng, n, 10)
            K = instances.generic_kernel(rng, n)
            jit = compiled_rhs(10, "numba")
            jit(K, Y, 0.1, 0.05)  # compile
            number = {100: 200, 400: 20}[n]
            fast = per_call(lambda: jit(K, Y, 0.1, 0.05), number)
            plain = per_call(lambda: compiled_rhs(10)(K, Y, 0.1, 0.05), number)
            rows.append((f"numba backend n={n}", f"numba/numpy = {fast / plain:.2f}"))
    else:
        rows.append(("numba backend", "not measured (pip install 'kernel-flows[numba]')"))

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "verify.campaign.cli", "verify", "--no-progress", "--out", out],
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
    rows.append(("kflow verify --profile quick", f"{wall:.1f} s wall, exit {done.returncode}"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
