"""steady_state (default: certified continuation) against one eigh of the same size, and the trajectory method.

    python benchmarks/bench_continuation.py [n ...]        (default: 40 100 200 500 1000 2000)

One process, one BLAS thread (set before NumPy loads), medians of 7 interleaved repeats: for each n,
one-hot labels with C = 10 classes (C = 3 below n = 100), λ = 0.1, μ = 0.05, a generic PSD K(0):
- ``numpy.linalg.eigh(K0)``: the O(n³) floor;
- ``verify.steady_state`` (method "auto" = continuation) to ‖dK/dt‖/‖K‖ < 1e-11 with its KKT certificate;
- ``method="flow"`` (the trajectory, DOP853/LSODA + Newton–Krylov; the previous default) where it takes
  under a few minutes (n ≤ 200);
the error of the continuation's spectrum against the law, and the fitted cost exponent in n.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

REPEATS = 7
FLOW_LIMIT = 200


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def run(n: int) -> dict:
    from verify import instances, steady_state, water_filling_spectrum

    rng = np.random.default_rng(0)
    C = 10 if n >= 100 else 3
    lam, mu = 0.1, 0.05
    Y = instances.one_hot_labels(rng, n, C)
    K0 = instances.generic_kernel(rng, n)
    steady_state(K0[:12, :12], Y[:, :12], lam, mu)  # derivations and generated code, once per process
    eig, ours = [], []
    for _ in range(REPEATS):  # interleaved, so that both see the same machine state
        eig.append(timed(lambda: np.linalg.eigh(K0))[0])
        seconds, info = timed(lambda: steady_state(K0, Y, lam, mu, return_info=True))
        ours.append(seconds)
    law = water_filling_spectrum(Y, lam, mu)
    spectrum = np.linalg.eigvalsh(info.kernel)[::-1]
    row = dict(n=n, C=C, eigh=float(np.median(eig)), ours=float(np.median(ours)), steps=info.nfev,
               certificate=str(info.certificate), error=float(np.abs(spectrum - law).max() / law.max()),
               residual=info.residual)
    if n <= FLOW_LIMIT:
        seconds, flow = timed(lambda: steady_state(K0, Y, lam, mu, method="flow", return_info=True))
        row.update(flow=seconds, flow_method=flow.method,
                   agreement=float(np.linalg.norm(flow.kernel - info.kernel) / np.linalg.norm(info.kernel)))
    return row


def main(argv) -> None:
    sizes = [int(a) for a in argv] or [40, 100, 200, 500, 1000, 2000]
    rows = [run(n) for n in sizes]
    print("| n | C | steady_state | × one eigh | steps | spectrum vs law | trajectory method (previous default) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        flow = (f"{r['flow']:.2f} s = {r['flow'] / r['ours']:.0f} × ({r['flow_method']}; ‖ΔK‖/‖K‖ = {r['agreement']:.1e})"
                if "flow" in r else "not run")
        print(f"| {r['n']} | {r['C']} | {r['ours'] * 1e3:.1f} ms | {r['ours'] / r['eigh']:.2f} | {r['steps']} | "
              f"{r['error']:.1e} | {flow} |")
    if len(rows) >= 3:
        large = [r for r in rows if r["n"] >= 200] or rows
        slope = np.polyfit(np.log([r["n"] for r in large]), np.log([r["ours"] for r in large]), 1)[0]
        print(f"\nfitted cost exponent (n ≥ 200): steady_state ∝ n^{slope:.2f}")
    print("\n" + "\n".join(f"n = {r['n']}: {r['certificate']}" for r in rows))


if __name__ == "__main__":
    main(sys.argv[1:])
