"""Time to derive each corpus model with theory.derive_model: cold (a fresh process per model, the symbolic work and
every certificate) and cached (the second call), the generated rhs against T2's generated rhs at n = 400, and the
certified continuation against the trajectory for the models whose objective in K is proved convex (n = 20).

    python benchmarks/bench_model_derivation.py

Each cold figure runs in its own interpreter, so no model profits from another's caches; the import of theory
itself (SymPy) is measured separately and not counted.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import theory
from verify.claims.model_corpus import BY_NAME
t1 = time.perf_counter()
entry = BY_NAME[sys.argv[1]]
model = theory.derive_model(entry.objective, declare=entry.declare, eliminate=entry.eliminate)
t2 = time.perf_counter()
again = theory.derive_model(entry.objective, declare=entry.declare, eliminate=entry.eliminate)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "cold": t2 - t1, "cached": t3 - t2, "certified": model.certified,
                  "closed": model.closed, "rank": str(model.rank_bound), "steps": len(model.steps)}))
"""


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from verify.claims.model_corpus import CORPUS

    print("| model | closed | rank bound | steps | cold | cached |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for entry in CORPUS:
        out = subprocess.run([sys.executable, "-c", CHILD, entry.name], cwd=ROOT, capture_output=True, text=True,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
                             check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        worst = max(worst, row["cold"])
        assert row["certified"], entry.name
        print(f"| {entry.name} | {row['closed']} | {row['rank']} | {row['steps']} | {row['cold']:.2f} s | "
              f"{row['cached'] * 1e6:.0f} µs |")
    print(f"\nslowest cold derivation: {worst:.2f} s (target ≤ 10 s)")

    import numpy as np

    import theory
    from verify.flows.kernel_ode import kernel_ode_rhs
    from verify.flows.model_flow import model_rhs
    from verify.truth import instances

    rhs = model_rhs(theory.derive_model(CORPUS[0].objective))
    rng = np.random.default_rng(0)
    K, Y = instances.generic_kernel(rng, 400), instances.real_labels(rng, 400, 10)

    def best(f):
        times = []
        for _ in range(20):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)

    ours, t2 = best(lambda: rhs(K, Y, lam=0.5, mu=0.1)), best(lambda: kernel_ode_rhs(K, Y, 0.5, 0.1))
    print(f"engine-derived baseline rhs / T2's generated rhs, n = 400, C = 10: {ours / t2:.2f} ({ours * 1e3:.1f} ms)")

    from verify.claims.model import instance_values
    from verify.flows.model_flow import model_steady_state

    print("\n| model (convex in K) | n | continuation | trajectory | ratio | relative difference |")
    print("|---|---|---|---|---|---|")
    for entry in [e for e in CORPUS if e.convex]:
        model = theory.derive_model(entry.objective, declare=entry.declare, eliminate=entry.eliminate)
        rng = np.random.default_rng(1)
        n = 20
        Y = instances.real_labels(rng, n, 2)
        values = instance_values(model, rng, n, n + 2, entry.values)
        K0 = instances.generic_kernel(rng, n)
        timed = {}
        for method in ("continuation", "flow"):
            t = time.perf_counter()
            timed[method] = (model_steady_state(model, K0, Y, method=method, **values), time.perf_counter() - t)
        (fast, tf), (slow, ts) = timed["continuation"], timed["flow"]
        gap = np.linalg.norm(fast - slow) / np.linalg.norm(slow)
        print(f"| {entry.name} | {n} | {tf:.2f} s | {ts:.2f} s | {ts / tf:.1f}× | {gap:.1e} |")


if __name__ == "__main__":
    main()
