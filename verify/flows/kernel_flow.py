"""Integrators for the kernel ODE (T2): trajectories and steady states.

    dK/dt = K·D(K) + D(K)·K − 2μK         (D(K) = λ(K + λI)⁻¹YᵀY(K + λI)⁻¹)

The flow is integrated in symmetric coordinates (the n(n+1)/2 entries K_ij, i ≤ j) with SciPy's
``solve_ivp``. Mode rates range from 2μ (decay outside the labels) to about 2s/λ, so the flow is
stiff when λμ ≪ s. With ``method="auto"`` the stiff-switching LSODA method is used with the exact
Jacobian (complex-step differentiation of the generated right-hand side) while
n(n+1)/2 ≤ ``DENSE_JACOBIAN_LIMIT``; above it a dense Jacobian (O(n⁴) memory, O(n⁶) to factor)
costs more than it saves and the explicit DOP853 method is used.

Scales. The flow has two exact symmetries, (K, Y, λ, μ, t) → (cK, cY, cλ, cμ, t/c) and (Y, μ, t) → (cY, c²μ, t/c²),
so both integrators work in units where λ = 1 and the labels' scale σ = max(‖Y‖₂, √(λμ)) is 1:

    K = λK̃,  Y = σỸ,  μ̃ = λμ/σ² ≤ 1,  dK̃/dτ = F(K̃, Ỹ, 1, μ̃)/ρ,  ρ = 1 + μ̃,  t = λτ/(σ²ρ),

(F the generated right-hand side), and map the result back. Labels, kernels and decays from 1e-300 to 1e300
then meet the same bounded problem instead of overflowing or setting tolerances at the wrong scale.

Steady states are declared by a dimensionless residual, never by a fixed end time:

    r(K) = ‖dK/dt‖_F / (2μ · max(‖K‖_F, floor)) < tol,

the velocity over the slowest decay rate 2μ (every mode outside the labels' span relaxes at 2μ, a filled mode
at about 4μ), i.e. an estimate of ‖K − K∞‖/‖K‖; floor = TOL.steady_state_floor · λ · min(‖K̃0‖_F, max(1, κ̃))
(κ̃ the law's largest eigenvalue over λ; ‖K̃0‖ alone when the law is 0, at most 1, at least 1e-250): the scale
the flow ends at, not the one it starts from. Explicit methods
stall at a noise floor near 1e-10 (their step sits at the stability limit of the stiff modes),
so :func:`steady_state` integrates until the residual reaches ``handoff`` (1e-3) and then solves
dK/dt = 0 by Newton's method from there, each step exact by the certified reduced shifted solve
(:mod:`verify.flows.shifted_solve`: n × C unknowns, no n² × n² Jacobian). Newton converges
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

from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.linalg import (
    confirmed_rank,
    frobenius_weights,
    from_symmetric_coordinates,
    to_symmetric_coordinates,
)
from verify.core.tolerances import TOL
from verify.flows.continuation import continuation_steady_state
from verify.flows.kernel_ode import (
    compiled_rhs,
    factored_jacobian,
    rightmost_jacobian_mode,
    validate_problem,
)
from verify.flows.kkt import KKTCertificate, scaled_kkt_certificate
from verify.flows.scaling import (
    ScaledProblem,
    attainable,
    check_resolvable,
    safe_norm,
)
from verify.flows.shifted_solve import kernel_newton
from verify.flows.solver_checks import check_kernels
from verify.flows.water_filling import label_spectrum, mode_value

#: largest number of symmetric coordinates for which the dense exact Jacobian is used (n ≈ 44)
DENSE_JACOBIAN_LIMIT = 1000
#: relative size of the step off an unstable steady state along its unstable direction
ESCAPE_SIZE = 1e-3
#: longest trajectory integrate_kernel_flow follows, in units of the fastest rate (‖Y‖₂²/λ + μ)⁻¹
MAX_SCALED_TIME = 1e15
#: "continuation": the certified minimiser (verify.flows.continuation); "flow": the trajectory's own limit by
#: LSODA (small n) or DOP853; the SciPy names force that integrator; "auto" is continuation unless
#: escape_unstable=False asks for the trajectory's own limit
METHODS = ("auto", "continuation", "flow", "Radau", "BDF", "LSODA", "DOP853", "RK45")


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
    #: the KKT certificate of the kernel as the global minimiser of the objective the flow descends
    certificate: KKTCertificate | None = None


def _choose(method: str, n: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method not in ("auto", "flow", "continuation"):
        return method
    return "LSODA" if n * (n + 1) // 2 <= DENSE_JACOBIAN_LIMIT else "DOP853"


def _system(scaled: ScaledProblem, method):
    """dK̃/dτ = F(K̃, Ỹ, 1, μ̃)/ρ in symmetric coordinates, and its Jacobian for the implicit methods."""
    n = scaled.K0.shape[0]
    rhs = compiled_rhs(scaled.Y.shape[0])
    Y, mu, rho = scaled.Y, scaled.mu, scaled.rho

    def singular(K):
        return ConvergenceError(f"K0: K/λ + I is numerically singular (‖K/λ‖ = {safe_norm(K):.3g} with a direction of "
                                "eigenvalue ~0: float64 cannot hold both); K0 is too large relative to lam — rescale "
                                "K0 or raise lam")

    def f(_, x):
        K = from_symmetric_coordinates(x, n)
        try:
            return to_symmetric_coordinates(rhs(K, Y, 1.0, mu)) / rho
        except np.linalg.LinAlgError:
            raise singular(K) from None

    def jac(_, x):
        K = from_symmetric_coordinates(x, n)
        try:
            return factored_jacobian(K, Y, 1.0, mu) / rho
        except np.linalg.LinAlgError:
            raise singular(K) from None

    kwargs = {"jac": jac} if method in ("Radau", "BDF", "LSODA") else {}
    return f, kwargs


def _tolerances(scaled: ScaledProblem, rtol):
    # absolute tolerance at the scale the flow ends at (K0's when it starts below it)
    return rtol, rtol * scaled.reference * 1e-2


def integrate_kernel_flow(K0, Y, lam, mu, t, *, method: str = "auto", rtol: float = TOL.integration):
    """Integrate dK/dt = K·D(K) + D(K)·K − 2μK from K(0) = K0 and return K at the times ``t``.

    K0: symmetric PSD n × n; Y: C × n; λ > 0; μ ≥ 0; ``t``: end time or increasing array of times
    (starting at 0 or later; the flow starts at t = 0). Returns a :class:`KernelTrajectory`.
    """
    K0, Y, lam, mu = validate_problem(K0, Y, lam, mu, psd=True, name="K0")
    times = v.times("t", t)
    rtol = v.positive("rtol", rtol)
    chosen = _choose(method, K0.shape[0])
    scaled = ScaledProblem.of(K0, Y, lam, mu)
    f, kwargs = _system(scaled, chosen)
    rtol, atol = _tolerances(scaled, rtol)
    taus = np.array([scaled.tau(t) for t in times])
    if taus[-1] > MAX_SCALED_TIME:
        raise ValueError(f"t: {times[-1]:.3g} is {taus[-1]:.3g} units of the flow's fastest rate (‖Y‖₂²/λ + μ); "
                         f"beyond {MAX_SCALED_TIME:g} the trajectory is not resolvable step by step — integrate to a "
                         "shorter time, or use steady_state for the limit")
    if np.any(np.diff(taus) <= 0) or not np.all(np.isfinite(taus)):
        raise ValueError(f"t: the times are not resolved in the flow's own units (t·‖Y‖₂²/λ·(1 + λμ/‖Y‖₂²) = "
                         f"{taus[-1]:.3g}); integrate over fewer, farther-apart times")
    n = K0.shape[0]
    x0 = to_symmetric_coordinates(scaled.K0)
    if taus[-1] * scaled.rate(scaled.K0) <= 1e-3 * rtol:
        # too short to resolve (an integrator's first step would underflow): one Euler step, whose error
        # (τ·rate)² is far below rtol, gives K at each time
        velocity = f(0.0, x0)
        kernels = np.stack([from_symmetric_coordinates(x0 + tau * velocity, n) for tau in taus]) * lam
        check_kernels("integrate_kernel_flow", kernels, lam * scaled.floor)
        return KernelTrajectory(times, kernels, "Euler (times below the flow's resolution)", 1)
    sol = solve_ivp(f, (0.0, taus[-1]), x0, method=chosen, t_eval=taus, rtol=rtol, atol=atol, **kwargs)
    if not sol.success:
        raise ConvergenceError(f"solve_ivp ({chosen}) failed: {sol.message}")
    kernels = np.stack([from_symmetric_coordinates(x, n) for x in sol.y.T]) * lam
    check_kernels("integrate_kernel_flow", kernels, lam * scaled.floor)
    return KernelTrajectory(times[: len(sol.t)], kernels, chosen, sol.nfev)


def problem_scale(K0, Y, lam, mu) -> float:
    """max(‖K0‖_F, largest κ∞ of the law): the size of a T4 problem, against which absolute floors are set."""
    return float(max(np.linalg.norm(K0), mode_value(label_spectrum(Y), lam, mu).max()))


def steady_state_rank(K, scale: float | None = None) -> int:
    """confirmed_rank(K), and 0 when ‖K‖_F ≤ TOL.steady_state_floor · ``scale``.

    The rank is relative to σ_max, so a K∞ that decayed to rounding noise (every label mode below
    the threshold: the true K∞ is 0) would have full rank. Below the floor the steady-state criterion
    itself cannot tell K from 0 (its residual is measured against the same floor), so K counts as 0.
    """
    if scale is not None and np.linalg.norm(K) <= TOL.steady_state_floor * scale:
        return 0
    return confirmed_rank(K)


def steady_state(K0, Y, lam, mu, *, tol: float = TOL.steady_state, max_time: float | None = None,
                 method: str = "auto", rtol: float = TOL.integration, handoff: float = 1e-3,
                 escape_unstable: bool = True, return_info: bool = False):
    """K∞: the state the kernel ODE settles in from K0, with the dimensionless residual r(K) < ``tol``.

    ``method="auto"`` (default) with ``escape_unstable``: the flow descends the convex objective L, so the state it
    settles in, unstable states left, is L's global minimiser; it is found by pseudo-transient continuation in the
    labels' span and returned only with a passing KKT certificate in the full space ((D − μI)K = 0, λ_max(D) ≤ μ;
    :mod:`verify.flows.continuation`), no trajectory integrated. ``method="flow"`` (or a SciPy integrator's name)
    follows the trajectory itself:
    integration until the residual is below ``handoff``, then Newton's method on
    dK/dt = 0 (see the module docstring). Every state is confirmed by the rightmost eigenvalue of
    the Jacobian before it is returned. A generic trajectory cannot end at an unstable steady state,
    but a slow unstable mode (s just above λμ, started near 0) can satisfy the residual criterion
    before it grows; with ``escape_unstable`` (default) such a state is left along its unstable
    direction and the flow continued (at most 3 times). Pass ``escape_unstable=False`` for the flow's
    own limit from a start exactly on an unstable state's stable manifold (e.g. a fillable mode
    exactly 0). The result is checked before it is returned: finite, positive semidefinite, residual
    below ``tol``; otherwise :class:`ConvergenceError`.

    ``max_time`` defaults to (200 + |ln(‖K0‖/K∞ scale)|)/μ (hundreds of the slowest decay time 1/(2μ), plus
    the time to grow or decay from K0's scale); with μ = 0 labelled modes grow without bound and a
    :class:`ConvergenceError` is raised. Returns K∞ (n × n), or a :class:`SteadyState` with time (NaN for the
    continuation, which follows no trajectory), residual, method, cost (right-hand sides or continuation steps),
    rightmost eigenvalue (in the original time units) and the KKT certificate when ``return_info``.
    """
    K0, Y, lam, mu = validate_problem(K0, Y, lam, mu, psd=True, name="K0")
    tol = v.positive("tol", tol)
    handoff = max(v.positive("handoff", handoff), tol)
    scaled = ScaledProblem.of(K0, Y, lam, mu)
    check_resolvable(scaled, mu)
    tol = attainable(tol, scaled)
    if max_time is None:
        travel = abs(np.log(max(scaled.size, 1e-250) / max(1.0, scaled.law))) if np.isfinite(scaled.law) else 0.0
        max_time = (200.0 + travel) / mu if mu > 0 else 1e4
    max_tau = scaled.tau(v.positive("max_time", max_time))
    if method == "continuation" and not escape_unstable:
        raise ValueError("method: 'continuation' finds the minimiser, leaving every unstable state; the trajectory's "
                         "own limit (escape_unstable=False) needs method='flow'")
    if method in ("auto", "continuation") and escape_unstable:
        if mu == 0:
            raise ConvergenceError("no steady state: with mu = 0 labelled modes grow without bound")
        kernel, certificate, steps, top = continuation_steady_state(K0, Y, lam, mu, scaled, tol)
        check_kernels("steady_state", kernel, lam * scaled.floor)
        if not certificate.passed:
            raise ConvergenceError(f"steady_state: the continuation's end point is not certified ({certificate}); "
                                   "try method='flow'")
        rate = top * (scaled.sigma / lam) * scaled.sigma
        result = SteadyState(kernel, float("nan"), certificate.stationarity, "continuation", steps, rate, certificate)
        return result if return_info else result.kernel
    chosen = _choose(method, K0.shape[0])
    f, kwargs = _system(scaled, chosen)
    rtol, atol = _tolerances(scaled, v.positive("rtol", rtol))
    n = K0.shape[0]
    weights = frobenius_weights(n)
    floor = scaled.floor
    rhs = compiled_rhs(Y.shape[0])
    # eigenvalues within TOL.stability of 0, relative to the flow's rates at that state, are undecided and not
    # treated as unstable
    def margin(x):
        return TOL.stability * scaled.rate(from_symmetric_coordinates(x, n))
    evaluations = [0]

    def counted(t, x):
        evaluations[0] += 1
        return f(t, x)

    def residual(x):  # ≈ ‖K − K∞‖/‖K‖: the velocity over the slowest decay rate
        return safe_norm(f(0.0, x) * weights) / scaled.slowest / max(safe_norm(x * weights), floor, np.finfo(float).tiny)

    def integrate(x0, t0, target):
        def reached(_, x):
            return np.log(max(residual(x), np.finfo(float).tiny) / target)

        reached.terminal, reached.direction = True, -1
        sol = solve_ivp(counted, (t0, max_tau), x0, method=chosen, events=reached, rtol=rtol, atol=atol, **kwargs)
        x_end, t_end = sol.y[:, -1], float(sol.t[-1])
        if not np.all(np.isfinite(x_end)) or residual(x_end) >= target * 1.01:  # the event stops at the crossing
            raise _no_convergence(scaled.time(t_end), max_time, residual(x_end), target, mu, sol)
        return x_end, t_end

    def rightmost(x):
        return rightmost_jacobian_mode(rhs, from_symmetric_coordinates(x, n), scaled.Y, 1.0, scaled.mu)

    def exact_newton(x):
        """Newton's method with the certified reduced shifted solve (σ = 0), in the scaled units."""
        root = kernel_newton(from_symmetric_coordinates(x, n), scaled.Y, 1.0, scaled.mu, tol,
                             lambda K: residual(to_symmetric_coordinates(K)), lambda K: rhs(K, scaled.Y, 1.0, scaled.mu))
        return None if root is None else to_symmetric_coordinates(root)

    x, time = to_symmetric_coordinates(scaled.K0), 0.0
    for escape in range(4):
        if residual(x) >= handoff:
            x, time = integrate(x, time, handoff)
        how = chosen
        if residual(x) >= tol:
            polished = exact_newton(x)
            if polished is not None and rightmost(polished)[0] / scaled.rho <= margin(polished):
                x, how = polished, f"{chosen} + Newton (reduced shifted solve)"
            else:
                x, time = integrate(x, time, tol)
        top, direction = rightmost(x)
        top /= scaled.rho  # the scaled flow's rate
        if top <= margin(x) or not escape_unstable:
            kernel = from_symmetric_coordinates(x, n) * lam
            check_kernels("steady_state", kernel, lam * floor)
            rate = top * scaled.rho * (scaled.sigma / lam) * scaled.sigma
            certificate = scaled_kkt_certificate(from_symmetric_coordinates(x, n), scaled.Y, scaled.mu, tol=10 * tol,
                                                 floor=floor) if mu > 0 else None
            result = SteadyState(kernel, scaled.time(time), residual(x), how, evaluations[0], rate, certificate)
            return result if return_info else result.kernel
        if escape == 3 or direction is None:
            break
        x = _escape(x, direction, n, ESCAPE_SIZE, floor)
    raise ConvergenceError(f"the flow keeps settling on an unstable steady state (rightmost eigenvalue "
                           f"{top * scaled.rho * (scaled.sigma / lam) * scaled.sigma:.3g} > 0 at "
                           f"t = {scaled.time(time):.4g}); a mode sits too close to the threshold s = λμ")


def _escape(x, direction, n, size, floor):
    """Step off an unstable steady state along its unstable direction, keeping K positive semidefinite
    (by ``size`` of ‖K‖, and at least 1000× the residual floor, so that the step is seen by the residual)."""
    K = from_symmetric_coordinates(x, n)
    E = from_symmetric_coordinates(direction, n)
    E *= size * max(safe_norm(K), 1e3 * floor) / max(safe_norm(E), np.finfo(float).tiny)
    options = [K + E, K - E]
    best = max(options, key=lambda M: np.linalg.eigvalsh(M)[0])
    # an indefinite direction (a mix of tied unstable modes) would leave a negative eigenvalue, which the flow
    # keeps: step to the nearest PSD matrix instead
    values, vectors = np.linalg.eigh(best)
    return to_symmetric_coordinates((vectors * np.clip(values, 0.0, None)) @ vectors.T)


def newton_steady_state(K_start, Y, lam, mu, *, tol: float = TOL.steady_state) -> np.ndarray:
    """A steady state near ``K_start`` by Newton's method on dK/dt = 0 alone — stable *or unstable*.

    Unlike :func:`steady_state` nothing follows the flow: this finds whichever fixed point Newton
    converges to (the rank lemma T4 is about every steady state). Each step is exact, δ = (−J)⁻¹F by the
    certified reduced shifted solve (:mod:`verify.flows.shifted_solve`, n × C unknowns). ConvergenceError if
    Newton fails to bring the residual r(K) of the module docstring below ``tol``, or ends at a kernel that is
    not positive semidefinite (a fixed point of the algebraic equation that is no kernel).
    """
    K_start, Y, lam, mu = validate_problem(K_start, Y, lam, mu, name="K_start")
    scaled = ScaledProblem.of(K_start, Y, lam, mu)
    check_resolvable(scaled, mu)
    rhs = compiled_rhs(Y.shape[0])
    floor = scaled.floor

    def F(K):
        return rhs(K, scaled.Y, 1.0, scaled.mu)

    def residual(K):  # as in steady_state: ‖F‖/(2μ̃ max(‖K‖, floor)) in the scaled units
        return safe_norm(F(K)) / (2 * scaled.mu) / max(safe_norm(K), floor, np.finfo(float).tiny)

    root = kernel_newton(scaled.K0, scaled.Y, 1.0, scaled.mu, attainable(v.positive("tol", tol), scaled), residual, F)
    if root is None:
        raise ConvergenceError("Newton's method found no steady state near K_start")
    kernel = root * lam
    check_kernels("newton_steady_state", kernel, lam * floor)
    return kernel


def _no_convergence(time, max_time, res, target, mu, sol):
    message = (f"no steady state by t = {time:.4g} (max_time = {max_time:.4g}): "
               f"‖dK/dt‖/‖K‖ = {res:.3g} > {target:g}")
    if mu == 0:
        message += " — with mu = 0 labelled modes grow without bound"
    if not sol.success:
        message += f"; solver: {sol.message}"
    return ConvergenceError(message)
