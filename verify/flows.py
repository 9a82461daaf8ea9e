"""Integrators for the kernel ODE (T2): trajectories and steady states.

    dK/dt = K·D(K) + D(K)·K − 2μK         (D(K) = λ(K + λI)⁻¹YᵀY(K + λI)⁻¹)

The flow is integrated in symmetric coordinates (the n(n+1)/2 entries K_ij, i ≤ j) with SciPy's
``solve_ivp``. Mode rates range from 2μ (decay outside the labels) to about 2s/λ, so the flow is
stiff when λμ ≪ s. With ``method="auto"`` the stiff-switching LSODA method is used with the exact
Jacobian (complex-step differentiation of the generated right-hand side) while
n(n+1)/2 ≤ ``DENSE_JACOBIAN_LIMIT``; above it a dense Jacobian (O(n⁴) memory, O(n⁶) to factor)
costs more than it saves and the explicit DOP853 method is used.

Steady states are declared by ‖dK/dt‖_F / max(‖K‖_F, 1e-8‖K0‖_F) < tol, never by a fixed end time. Explicit methods
stall at a noise floor near 1e-10 (their step sits at the stability limit of the stiff modes),
so :func:`steady_state` integrates until the residual reaches ``handoff`` (1e-3) and then solves
dK/dt = 0 by Newton–Krylov (``scipy.optimize.newton_krylov``) from there. Newton converges
quadratically but may land on any nearby fixed point (e.g. one with a slowly growing mode still
empty), so its result is accepted only if it is not linearly unstable — the rightmost eigenvalue
of the Jacobian (dense for small n, ARPACK on Jacobian-vector products otherwise) is not positive —
as a limit of the flow from a generic start must be. Otherwise integration continues to ``tol``,
and an unstable end point is left along its unstable direction (see :func:`steady_state`).
If nothing meets the criterion by ``max_time``, :class:`ConvergenceError` says how far it got.

>>> import numpy as np
>>> K_inf = steady_state(np.eye(3), np.array([[1.0, 1.0, 0.0]]), lam=0.5, mu=0.1)
>>> np.round(np.linalg.eigvalsh(K_inf)[::-1], 6) + 0.0
array([2.662278, 0.      , 0.      ])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import NoConvergence, newton_krylov

from verify import validation as v
from verify.kernel_ode import compiled_rhs, jacobian_unchecked, rightmost_jacobian_mode, validate_problem
from verify.linalg import from_symmetric_coordinates, to_symmetric_coordinates
from verify.tolerances import TOL

#: largest number of symmetric coordinates for which the dense exact Jacobian is used (n ≈ 44)
DENSE_JACOBIAN_LIMIT = 1000
#: relative size of the step off an unstable steady state along its unstable direction
ESCAPE_SIZE = 1e-3
METHODS = ("auto", "Radau", "BDF", "LSODA", "DOP853", "RK45")


class ConvergenceError(RuntimeError):
    """The flow did not meet the steady-state criterion within the allowed time."""


@dataclass(frozen=True)
class KernelTrajectory:
    """K(t) at the requested times. ``kernels[k]`` is the n × n kernel at ``times[k]``."""

    times: np.ndarray
    kernels: np.ndarray
    method: str
    nfev: int

    def spectra(self) -> np.ndarray:
        """Eigenvalues of K(t), descending, shape (len(times), n)."""
        return np.linalg.eigvalsh(self.kernels)[:, ::-1]


@dataclass(frozen=True)
class SteadyState:
    """A converged steady state: the kernel, when and how it was reached, its residual."""

    kernel: np.ndarray
    time: float
    residual: float
    method: str
    nfev: int
    max_real_eigenvalue: float


def _choose(method: str, n: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    return "LSODA" if n * (n + 1) // 2 <= DENSE_JACOBIAN_LIMIT else "DOP853"


def _system(K0, Y, lam, mu, method):
    n = K0.shape[0]
    rhs = compiled_rhs(Y.shape[0])

    def f(_, x):
        return to_symmetric_coordinates(rhs(from_symmetric_coordinates(x, n), Y, lam, mu))

    def jac(_, x):
        return jacobian_unchecked(rhs, from_symmetric_coordinates(x, n), Y, lam, mu)

    kwargs = {"jac": jac} if method in ("Radau", "BDF", "LSODA") else {}
    return f, kwargs


def _tolerances(K0, Y, lam, mu, rtol):
    # absolute tolerance at the scale of the larger of K(0) and the predicted steady state
    from verify.water_filling import label_spectrum

    scale = max(np.abs(K0).max(), 1.0 if mu == 0 else np.sqrt(lam * label_spectrum(Y)[0] / mu))
    return rtol, rtol * scale * 1e-2


def integrate_kernel_flow(K0, Y, lam, mu, t, *, method: str = "auto", rtol: float = TOL.integration):
    """Integrate dK/dt = K·D(K) + D(K)·K − 2μK from K(0) = K0 and return K at the times ``t``.

    K0: symmetric PSD n × n; Y: C × n; λ > 0; μ ≥ 0; ``t``: end time or increasing array of times
    (starting at 0 or later; the flow starts at t = 0). Returns a :class:`KernelTrajectory`.
    """
    K0, Y, lam, mu = validate_problem(K0, Y, lam, mu, psd=True, name="K0")
    times = v.times("t", t)
    rtol = v.positive("rtol", rtol)
    chosen = _choose(method, K0.shape[0])
    f, kwargs = _system(K0, Y, lam, mu, chosen)
    rtol, atol = _tolerances(K0, Y, lam, mu, rtol)
    sol = solve_ivp(f, (0.0, times[-1]), to_symmetric_coordinates(K0), method=chosen, t_eval=times,
                    rtol=rtol, atol=atol, **kwargs)
    if not sol.success:
        raise ConvergenceError(f"solve_ivp ({chosen}) failed: {sol.message}")
    n = K0.shape[0]
    kernels = np.stack([from_symmetric_coordinates(x, n) for x in sol.y.T])
    return KernelTrajectory(sol.t, kernels, chosen, sol.nfev)


def steady_state(K0, Y, lam, mu, *, tol: float = TOL.steady_state, max_time: float | None = None,
                 method: str = "auto", rtol: float = TOL.integration, handoff: float = 1e-3,
                 escape_unstable: bool = True, return_info: bool = False):
    """K∞: follow the kernel ODE from K0 until ‖dK/dt‖_F / max(‖K‖_F, TOL.steady_state_floor·‖K0‖_F) < ``tol``.

    Integration (``method``) until the residual is below ``handoff``, then Newton–Krylov on
    dK/dt = 0 (see the module docstring). Every state is confirmed by the rightmost eigenvalue of
    the Jacobian before it is returned. A generic trajectory cannot end at an unstable steady state,
    but a slow unstable mode (s just above λμ, started near 0) can satisfy the residual criterion
    before it grows; with ``escape_unstable`` (default) such a state is left along its unstable
    direction and the flow continued (at most 3 times). Pass ``escape_unstable=False`` for the flow's
    own limit from a start exactly on an unstable state's stable manifold (e.g. a fillable mode
    exactly 0).

    ``max_time`` defaults to 200/μ (hundreds of the slowest decay time 1/(2μ)); with μ = 0 labelled
    modes grow without bound and a :class:`ConvergenceError` is raised. Returns K∞ (n × n), or a
    :class:`SteadyState` with time, residual, method, cost and rightmost eigenvalue when ``return_info``.
    """
    K0, Y, lam, mu = validate_problem(K0, Y, lam, mu, psd=True, name="K0")
    tol = v.positive("tol", tol)
    handoff = max(v.positive("handoff", handoff), tol)
    max_time = v.positive("max_time", max_time if max_time is not None else (200.0 / mu if mu > 0 else 1e4))
    chosen = _choose(method, K0.shape[0])
    f, kwargs = _system(K0, Y, lam, mu, chosen)
    rtol, atol = _tolerances(K0, Y, lam, mu, v.positive("rtol", rtol))
    n = K0.shape[0]
    weights = _weights(n)
    floor = TOL.steady_state_floor * np.linalg.norm(K0)
    rhs = compiled_rhs(Y.shape[0])
    # rates of the flow range up to about 2(s_max/λ + μ): eigenvalues within TOL.stability of 0 on that
    # scale are undecided and not treated as unstable
    margin = TOL.stability * 2 * (np.linalg.norm(Y, 2) ** 2 / lam + mu)
    evaluations = [0]

    def counted(t, x):
        evaluations[0] += 1
        return f(t, x)

    def residual(x):
        return np.linalg.norm(f(0.0, x) * weights) / max(np.linalg.norm(x * weights), floor, np.finfo(float).tiny)

    def integrate(x0, t0, target):
        def reached(_, x):
            return np.log(residual(x) / target)

        reached.terminal, reached.direction = True, -1
        sol = solve_ivp(counted, (t0, max_time), x0, method=chosen, events=reached, rtol=rtol, atol=atol, **kwargs)
        x_end, t_end = sol.y[:, -1], float(sol.t[-1])
        if residual(x_end) >= target * 1.01:  # the terminal event stops at the crossing itself
            raise _no_convergence(t_end, max_time, residual(x_end), target, mu, sol)
        return x_end, t_end

    def rightmost(x):
        return rightmost_jacobian_mode(rhs, from_symmetric_coordinates(x, n), Y, lam, mu)

    x, time = to_symmetric_coordinates(K0), 0.0
    for escape in range(4):
        if residual(x) >= handoff:
            x, time = integrate(x, time, handoff)
        how = chosen
        if residual(x) >= tol:
            polished = _newton_polish(counted, x, tol, residual)
            if polished is not None and rightmost(polished)[0] <= margin:
                x, how = polished, f"{chosen} + Newton-Krylov"
            else:
                x, time = integrate(x, time, tol)
        top, direction = rightmost(x)
        if top <= margin or not escape_unstable:
            result = SteadyState(from_symmetric_coordinates(x, n), time, residual(x), how, evaluations[0], top)
            return result if return_info else result.kernel
        if escape == 3 or direction is None:
            break
        x = _escape(x, direction, n, ESCAPE_SIZE)
    raise ConvergenceError(f"the flow keeps settling on an unstable steady state (rightmost eigenvalue {top:.3g} "
                           f"> 0 at t = {time:.4g}); a mode sits too close to the threshold s = λμ")


def _escape(x, direction, n, size):
    """Step off an unstable steady state along its unstable direction, keeping K positive semidefinite."""
    K = from_symmetric_coordinates(x, n)
    E = from_symmetric_coordinates(direction, n)
    E *= size * np.linalg.norm(K) / max(np.linalg.norm(E), np.finfo(float).tiny)
    options = [K + E, K - E]
    best = max(options, key=lambda M: np.linalg.eigvalsh(M)[0])
    return to_symmetric_coordinates(best)


def newton_steady_state(K_start, Y, lam, mu, *, tol: float = TOL.steady_state) -> np.ndarray:
    """A steady state near ``K_start`` by Newton–Krylov on dK/dt = 0 alone — stable *or unstable*.

    Unlike :func:`steady_state` nothing follows the flow: this finds whichever fixed point Newton
    converges to (the rank lemma T4 is about every steady state). ConvergenceError if Newton fails
    to bring ‖dK/dt‖_F / ‖K‖_F below ``tol``.
    """
    K_start, Y, lam, mu = validate_problem(K_start, Y, lam, mu, name="K_start")
    n = K_start.shape[0]
    f, _ = _system(K_start, Y, lam, mu, "DOP853")
    weights = _weights(n)
    floor = TOL.steady_state_floor * np.linalg.norm(K_start)

    def residual(x):
        return np.linalg.norm(f(0.0, x) * weights) / max(np.linalg.norm(x * weights), floor, np.finfo(float).tiny)

    root = _newton_polish(f, to_symmetric_coordinates(K_start), v.positive("tol", tol), residual)
    if root is None:
        raise ConvergenceError("Newton–Krylov found no steady state near K_start")
    return from_symmetric_coordinates(root, n)


def _newton_polish(f, x, tol, residual):
    """Newton–Krylov on f(x) = 0 from x; None if it does not reach residual < tol."""
    target = tol * 1e-2 * np.abs(x).max()
    try:
        root = newton_krylov(lambda y: f(0.0, y), x, f_tol=target, method="lgmres", maxiter=50)
    except (NoConvergence, ValueError, np.linalg.LinAlgError):
        return None
    return root if residual(root) < tol else None


def _no_convergence(time, max_time, res, target, mu, sol):
    message = (f"no steady state by t = {time:.4g} (max_time = {max_time:.4g}): "
               f"‖dK/dt‖/‖K‖ = {res:.3g} > {target:g}")
    if mu == 0:
        message += " — with mu = 0 labelled modes grow without bound"
    if not sol.success:
        message += f"; solver: {sol.message}"
    return ConvergenceError(message)


def _weights(n: int) -> np.ndarray:
    """Weights making the Euclidean norm of symmetric coordinates the Frobenius norm of the matrix."""
    rows, cols = np.triu_indices(n)
    return np.where(rows == cols, 1.0, np.sqrt(2.0))
