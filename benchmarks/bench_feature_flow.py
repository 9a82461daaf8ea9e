"""The feature-space engine at data-set scale (not a test): n = 60 000 samples, m = 256 features, C = 10.

    python benchmarks/bench_feature_flow.py [n] [m]

Features Φ0 = ReLU(RX)/√m of a 10-class Gaussian mixture in 64 dimensions (R ~ N(0, 1/64)); λ = 100,
μ = 1 (sums over n samples: λ of the order of a class size's square root keeps s/λ moderate). Prints
the wall time of each stage (after a first call on 40 samples has derived and generated the code, which every
process does once) against one numpy.linalg.eigh of the m × m feature Gram matrix ΦΦᵀ and
a matrix product Φ0Φ0ᵀ (the O(m²n) floor of anything that looks at the data), the peak resident
memory, and the error of the steady spectrum against the water-filling law for the reduced labels.
"""
from __future__ import annotations

import resource
import sys
import time

import numpy as np

LAM, MU = 100.0, 1.0


def main(n: int = 60000, m: int = 256) -> None:
    from verify import instances, water_filling_spectrum
    from verify.core.linalg import relative_error
    from verify.flows.feature_flow import feature_steady_state, reachable_basis

    rng = np.random.default_rng(0)
    X, Y = instances.gaussian_mixture(rng, n, 10, 64)
    R = rng.standard_normal((m, 64)) / 8.0
    Phi0 = np.maximum(R @ X, 0.0) / np.sqrt(m)
    lam, mu = LAM, MU
    start = time.perf_counter()
    feature_steady_state(Phi0[:, :40], Y[:, :40], lam, mu)  # derivations and generated code, once per process
    cold = time.perf_counter() - start

    start = time.perf_counter()
    gram = Phi0 @ Phi0.T
    floor = time.perf_counter() - start
    start = time.perf_counter()
    np.linalg.eigh(gram)
    eigh = time.perf_counter() - start
    start = time.perf_counter()
    V = reachable_basis(Phi0, Y)
    basis = time.perf_counter() - start
    start = time.perf_counter()
    state = feature_steady_state(Phi0, Y, lam, mu)
    total = time.perf_counter() - start
    law = water_filling_spectrum(Y @ state.basis, lam, mu)
    error = relative_error(state.eigenvalues[:law.size], law[:state.eigenvalues.size])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB → GiB on Linux
    print(f"n = {n}, m = {m}, C = 10, r = {V.shape[1]} (reachable basis), λ = {lam:g}, μ = {mu:g}")
    print(f"Φ0Φ0ᵀ (m²n floor)            {floor:8.2f} s")
    print(f"eigh of the m × m Gram       {eigh:8.3f} s")
    print(f"reachable basis (thin QR)    {basis:8.2f} s")
    print(f"feature_steady_state (total) {total:8.2f} s = {total / floor:.0f} × the m²n floor = {total / basis:.1f} × the thin "
          f"QR; method {state.method}")
    print(f"first call in a process      {cold:8.2f} s more (derivations, certificates, generated code; n = 40)")
    print(f"rank K∞ = {state.rank} (C = 10); spectrum vs water-filling law of YV: {error:.1e}")
    print(f"peak resident memory         {peak:8.2f} GiB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
