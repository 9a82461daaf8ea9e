"""steady_state's trajectory method against its floor and two baselines, measured in the same run (not a test).

The default method (certified continuation) has its own benchmark, ``bench_continuation.py``; this one
measures ``method="flow"``, which follows the trajectory, against other ways of following it.

    python benchmarks/bench_steady_state.py [n ...]        (default: 500)

For each n (one-hot labels, C = 3, λ = 0.1, μ = 0.05, a generic PSD K(0)):
- ``verify.steady_state(..., method="flow")`` to ‖dK/dt‖/‖K‖ < 1e-11 (integration to 1e-6, Newton–Krylov, stability check),
  against one ``numpy.linalg.eigh`` of the same size — the O(n³) floor;
- SciPy ``solve_ivp`` with its default settings (RK45, rtol 1e-3) on the same generated right-hand side,
  run to the time steady_state needed: its wall time and the residual it reaches;
- plain gradient descent on the unconstrained-features model (Φ n × n, W C × n) with the step
  0.5/(‖K0‖ + √(λ/μ)‖Y‖ + λ + μ) (kernel scales at the start and at the labels' level), halved and restarted
  if it diverges, until ‖ΦᵀΦ − K∞‖/‖K∞‖ < 1e-6 or CAP seconds.
"""
from __future__ import annotations

import sys
import time

import numpy as np

CAP = 300.0


def run(n: int) -> list[tuple[str, str]]:
    from scipy.integrate import solve_ivp

    import theory
    from verify import instances, relative_error, steady_state
    from verify.core.linalg import from_symmetric_coordinates, to_symmetric_coordinates
    from verify.experiments.networks import UFM, train
    from verify.flows.kernel_ode import compiled_rhs

    rng = np.random.default_rng(0)
    lam, mu = 0.1, 0.05
    Y = instances.one_hot_labels(rng, n, 3)
    K0 = instances.generic_kernel(rng, n)
    rhs = compiled_rhs(3)
    rhs(K0, Y, lam, mu)
    start = time.perf_counter()
    np.linalg.eigh(K0)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    info = steady_state(K0, Y, lam, mu, method="flow", return_info=True)
    ours = time.perf_counter() - start
    rows = [(f"steady_state n={n}", f"{ours:.1f} s = {ours / floor:.0f} × eigh ({floor * 1e3:.1f} ms); {info.method}, "
                                    f"{info.nfev} rhs evaluations, t = {info.time:.0f}")]

    def f(_, x):
        return to_symmetric_coordinates(rhs(from_symmetric_coordinates(x, n), Y, lam, mu))

    start = time.perf_counter()
    sol = solve_ivp(f, (0.0, info.time), to_symmetric_coordinates(K0))
    default = time.perf_counter() - start
    K_end = from_symmetric_coordinates(sol.y[:, -1], n)
    residual = np.linalg.norm(rhs(K_end, Y, lam, mu)) / np.linalg.norm(K_end)
    rows.append((f"solve_ivp defaults n={n}", f"{default:.1f} s = {default / ours:.2f} × steady_state; residual "
                                              f"{residual:.1e} (steady_state: {info.residual:.1e}), error vs K∞ "
                                              f"{relative_error(K_end, info.kernel):.1e}"))

    w, U = np.linalg.eigh(K0)
    Phi = (U * np.sqrt(np.clip(w, 0, None))).T  # ΦᵀΦ = K0
    start_model = UFM(Phi=Phi, W=np.zeros((3, n)), lam=lam, mu=mu)
    model = start_model
    lr = 0.5 / (np.linalg.norm(K0, 2) + np.sqrt(lam / mu) * np.linalg.norm(Y, 2) + lam + mu)
    loss = theory.losses.squared(3)
    start, steps, error = time.perf_counter(), 0, np.inf
    while time.perf_counter() - start < CAP:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                model = train(model, loss, None, Y, steps=2000, lr=lr).model
        except FloatingPointError:
            model, lr, steps = start_model, lr / 2, 0
            continue
        steps += 2000
        error = relative_error(model.Phi.T @ model.Phi, info.kernel)
        if error < 1e-6:
            break
    gd = time.perf_counter() - start
    reached = "reached" if error < 1e-6 else f"not reached in {CAP:.0f} s (error {error:.1e})"
    rows.append((f"GD on the UFM n={n}", f"{gd:.1f} s = {gd / ours:.1f} × steady_state, {steps} steps of {lr:.2g}; "
                                         f"‖K − K∞‖/‖K∞‖ < 1e-6 {reached}"))
    return rows


def main(sizes) -> None:
    rows = [row for n in sizes for row in run(n)]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [500])
