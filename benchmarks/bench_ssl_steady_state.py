"""ssl_steady_state (default: Newton along a barrier path, KKT-certified) against one eigh and the trajectory.

    python benchmarks/bench_ssl_steady_state.py [n ...]        (default: 20 40 100 200 500 1000)

One process, one BLAS thread (set before NumPy loads), medians of 5 interleaved repeats: for each n the
Laplacian of a random geometric graph (radius 0.3 in the unit square), μ = 0.1, β = 1, ε = 0.05 (some modes
filled, some empty), the default generic start:
- ``numpy.linalg.eigh(L)``: the O(n³) floor;
- ``ssl_steady_state`` (method "continuation") to ‖dK/dt‖/‖K‖ < 1e-11 with a passing KKT certificate;
- ``method="flow"`` (LSODA/DOP853 + Newton–Krylov, the previous default) where it takes under a minute (n ≤ 100);
the error of the spectrum against the filter law, and the fitted cost exponent in n.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

REPEATS = 5
FLOW_LIMIT = 100
PARAMETERS = (0.1, 1.0, 0.05)


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def run(n: int) -> dict:
    from verify import instances, ssl_kkt_certificate, ssl_steady_state
    from verify.flows.ssl_flow import ssl_filter_spectrum

    rng = np.random.default_rng(0)
    L = instances.laplacian(instances.random_geometric_graph(rng, n, 0.3)[0])
    ssl_steady_state(L[:6, :6] - np.diag(L[:6, :6].sum(1)), *PARAMETERS)  # derivation and generated code, once
    eig, ours = [], []
    for _ in range(REPEATS):  # interleaved, so that both see the same machine state
        eig.append(timed(lambda: np.linalg.eigh(L))[0])
        seconds, K = timed(lambda: ssl_steady_state(L, *PARAMETERS))
        ours.append(seconds)
    law = np.sort(ssl_filter_spectrum(L, *PARAMETERS))
    row = dict(n=n, eigh=float(np.median(eig)), ours=float(np.median(ours)), filled=int(np.sum(law > 0)),
               error=float(np.abs(np.sort(np.linalg.eigvalsh(K)) - law).max() / law.max()),
               certificate=str(ssl_kkt_certificate(K, L, *PARAMETERS)))
    if n <= FLOW_LIMIT:
        seconds, flow = timed(lambda: ssl_steady_state(L, *PARAMETERS, method="flow"))
        row.update(flow=seconds, agreement=float(np.linalg.norm(flow - K) / np.linalg.norm(K)))
    return row


def main(argv) -> None:
    sizes = [int(a) for a in argv] or [20, 40, 100, 200, 500, 1000]
    rows = [run(n) for n in sizes]
    print("| n | filled modes | ssl_steady_state | × one eigh | spectrum vs law | trajectory method (previous default) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        flow = (f"{r['flow']:.2f} s = {r['flow'] / r['ours']:.0f} × (‖ΔK‖/‖K‖ = {r['agreement']:.1e})"
                if "flow" in r else "not run")
        print(f"| {r['n']} | {r['filled']} | {r['ours'] * 1e3:.1f} ms | {r['ours'] / r['eigh']:.0f} | {r['error']:.1e} | "
              f"{flow} |")
    if len(rows) >= 3:
        large = [r for r in rows if r["n"] >= 100] or rows
        slope = np.polyfit(np.log([r["n"] for r in large]), np.log([r["ours"] for r in large]), 1)[0]
        print(f"\nfitted cost exponent (n ≥ 100): ssl_steady_state ∝ n^{slope:.2f}")
    print("\n" + "\n".join(f"n = {r['n']}: {r['certificate']}" for r in rows))


if __name__ == "__main__":
    main(sys.argv[1:])
