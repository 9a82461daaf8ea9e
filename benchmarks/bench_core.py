"""Core timings as ratios against baselines measured in the same run (not a test).

    python benchmarks/bench_core.py

- derivations (T1+T2, T3, T6): cold (first call in the process) and cached;
- generated kernel_ode_rhs against a hand-written NumPy right-hand side (np.linalg.solve);
- steady_state at n = 100 and 200 against one numpy.linalg.eigh of the same size (the O(n³) floor).
"""
from __future__ import annotations

import time

import numpy as np


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
    from verify import instances, kernel_ode_rhs, steady_state
    from verify.kernel_ode import compiled_rhs

    rows = []
    for name, build in [("T1+T2 kernel ODE (C=3)", lambda: theory.derive_kernel_ode(theory.losses.squared(3))),
                        ("T3 water-filling", theory.water_filling),
                        ("T6 pair rates", theory.linearisation_at_commuting_points)]:
        cold, _ = timed(build)
        warm, _ = timed(build, repeat=5)
        rows.append((f"derive {name}", f"cold {cold:.2f} s, cached {warm * 1e6:.1f} µs"))

    rng = np.random.default_rng(0)
    for n in (100, 400, 1600):
        Y = instances.one_hot_labels(rng, n, 10)
        K = instances.generic_kernel(rng, n)
        rhs = compiled_rhs(10)
        generated, _ = timed(lambda: rhs(K, Y, 0.1, 0.05), repeat=5)
        hand, _ = timed(lambda: hand_rhs(K, Y, 0.1, 0.05), repeat=5)
        rows.append((f"kernel_ode_rhs n={n}", f"generated/hand-written = {generated / hand:.2f} ({generated * 1e3:.2f} ms)"))

    for n in (100, 200):
        Y = instances.one_hot_labels(rng, n, 3)
        K0 = instances.generic_kernel(rng, n)
        kernel_ode_rhs(K0, Y, 0.1, 0.05)
        floor, _ = timed(lambda: np.linalg.eigh(K0), repeat=5)
        t, info = timed(lambda: steady_state(K0, Y, 0.1, 0.05, return_info=True))
        rows.append((f"steady_state n={n} (λ=0.1, μ=0.05, C=3)",
                     f"{t:.2f} s = {t / floor:.0f} × eigh; {info.method}, {info.nfev} rhs evaluations"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
