"""Coupled feature–readout gradient flow (T5), numerically, for any loss.

    UFM:            Ẇ = −GΦᵀ − λW,          Φ̇ = −WᵀG − μΦ
    fixed features: Ẇ = −G(UΨ)ᵀ − λW,       U̇ = −WᵀGΨᵀ − μU        (Φ = UΨ)

with G the output gradient of the loss (generated from its SymPy expression). A stationary point is
declared by the relative gradient norm ‖∇L‖ / (λ‖W‖ + μ‖Φ‖) < ``tol`` (the two weight-decay forces
balance the data force there), never by a fixed end time. The flow is first integrated (RK45)
until that ratio is below ``handoff``, so the point reached is in the flow's basin; then damped
Newton steps on ∇L = 0 (MINRES with exact Hessian-vector products from the loss's derived Hessian)
converge quadratically to the stationary point the flow is heading to, with a trust-region
minimiser (``scipy.optimize.minimize(method="trust-krylov")``) as fallback — plain gradient descent
needs thousands of slow steps for cross-entropy, whose curvature vanishes along confident directions.

>>> import numpy as np, theory
>>> rng = np.random.default_rng(0)
>>> Y = np.eye(3)[:, rng.permutation(np.arange(9) % 3)]
>>> Phi, W = coupled_flow(theory.losses.softmax_cross_entropy(3), rng.standard_normal((6, 9)),
...                       rng.standard_normal((3, 6)), Y, lam=0.1, mu=0.1)
>>> from verify.core.linalg import numerical_rank
>>> numerical_rank(Phi.T @ Phi) <= 2
True
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import minimize
from scipy.sparse.linalg import LinearOperator, minres

from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.loss_numeric import numeric_hessian, numeric_loss
from verify.core.tolerances import TOL


@dataclass(frozen=True)
class CoupledState:
    """A stationary point: features Φ (and U for the fixed-feature model), readout W, the flow time before
    the Newton phase, the final stationarity ratio and the number of trust-region fallback steps."""

    Phi: np.ndarray
    W: np.ndarray
    U: np.ndarray | None
    time: float
    stationarity: float
    iterations: int


class _Problem:
    """Objective and gradient in one parameter vector θ = (W, P) with P = Φ (UFM) or U (Φ = UΨ)."""

    def __init__(self, loss, Y, lam, mu, P_shape, W_shape, Psi=None):
        self.total, self.gradient = numeric_loss(loss)
        self.hessian = numeric_hessian(loss)
        self.Y, self.lam, self.mu, self.Psi = Y, lam, mu, Psi
        self.W_size = int(np.prod(W_shape))
        self.W_shape, self.P_shape = W_shape, P_shape
        #: the stationarity ratio's floor (set from the start): a flow that decays to the zero minimiser converges
        self.floor = np.finfo(float).tiny

    def split(self, theta):
        return theta[: self.W_size].reshape(self.W_shape), theta[self.W_size:].reshape(self.P_shape)

    def features(self, P):
        return P if self.Psi is None else P @ self.Psi

    def value_and_gradient(self, theta):
        W, P = self.split(theta)
        Phi = self.features(P)
        F = W @ Phi
        G = self.gradient(F, self.Y)
        value = self.total(F, self.Y) + self.lam / 2 * np.sum(W**2) + self.mu / 2 * np.sum(P**2)
        grad_W = G @ Phi.T + self.lam * W
        grad_Phi = W.T @ G
        grad_P = grad_Phi if self.Psi is None else grad_Phi @ self.Psi.T
        return value, np.concatenate([grad_W.ravel(), (grad_P + self.mu * P).ravel()])

    def hessian_vector(self, theta, direction):
        """d∇L[dθ]: with F = WΦ, dF = dW·Φ + W·dΦ and dG_i = ∇²ℓ_i dF_i (exact, from the derived Hessian)."""
        W, P = self.split(theta)
        dW, dP = self.split(direction)
        Phi, dPhi = self.features(P), self.features(dP)
        F = W @ Phi
        G = self.gradient(F, self.Y)
        dF = dW @ Phi + W @ dPhi
        dG = np.einsum("abi,bi->ai", self.hessian(F, self.Y), dF)
        d_grad_W = dG @ Phi.T + G @ dPhi.T + self.lam * dW
        d_grad_Phi = dW.T @ G + W.T @ dG
        d_grad_P = d_grad_Phi if self.Psi is None else d_grad_Phi @ self.Psi.T
        return np.concatenate([d_grad_W.ravel(), (d_grad_P + self.mu * dP).ravel()])

    def stationarity(self, theta):
        """‖∇L‖ / max(λ‖W‖ + μ‖P‖, floor): the data force against the decay forces. The ratio alone is scale-free
        and settles at a constant on the way to the zero minimiser (W, Φ → 0); the floor,
        TOL.steady_state_floor × its value at the start, lets such a flow converge."""
        W, P = self.split(theta)
        scale = self.lam * np.linalg.norm(W) + self.mu * np.linalg.norm(P)
        return float(np.linalg.norm(self.value_and_gradient(theta)[1]) / max(scale, self.floor))

    def set_floor(self, theta):
        W, P = self.split(theta)
        scale = self.lam * np.linalg.norm(W) + self.mu * np.linalg.norm(P)
        self.floor = max(TOL.steady_state_floor * scale, np.finfo(float).tiny)


def _validate(loss, P0, W0, Y, lam, mu, P_name, Psi=None):
    if not hasattr(loss, "expr") or not hasattr(loss, "gradient"):
        raise TypeError(f"loss must be a theory.losses.Loss, got {type(loss).__name__}")
    Y = v.matrix("Y", Y, rows=loss.C)
    n = Y.shape[1]
    if Psi is not None:
        Psi = v.matrix("Psi", Psi, cols=n)
    P0 = v.matrix(P_name, P0, cols=n if Psi is None else Psi.shape[0])
    W0 = v.matrix("W0", W0, rows=loss.C, cols=P0.shape[0])
    return P0, W0, Y, v.positive("lam", lam), v.nonnegative("mu", mu), Psi


#: gradient evaluations the coupled flow may spend before it gives up (a run of the suite uses < 1e4)
MAX_EVALUATIONS = 200_000


class _OverBudget(Exception):
    pass


def _run(problem, theta0, tol, handoff, max_time):
    """Flow to ``handoff``, polish by Newton; accept only a local minimum no higher than the handoff point.

    Newton converges to whatever stationary point is near, a saddle included (a hidden unit that is
    still small may be about to grow). The polished point is therefore accepted only if L did not
    increase and the Hessian has no negative eigenvalue beyond rounding (its zero eigenvalues along the
    hidden-unit rotations are allowed); otherwise the flow is followed further (handoff ÷ 100) and
    the polish retried.
    """
    evaluations = [0]

    def flow(_, theta):
        evaluations[0] += 1
        if evaluations[0] > MAX_EVALUATIONS:
            raise _OverBudget
        return -problem.value_and_gradient(theta)[1]

    problem.set_floor(theta0)
    theta, time, target, iterations = theta0, 0.0, handoff, 0
    for _ in range(4):
        if problem.stationarity(theta) > target:
            def reached(_, th, target=target):
                return np.log(problem.stationarity(th) / target)

            reached.terminal, reached.direction = True, -1
            try:
                # absolute tolerance far below the stationarity floor, so a state decaying to 0 is resolved there
                sol = solve_ivp(flow, (time, max_time), theta, method="RK45", events=reached, rtol=1e-6,
                                atol=1e-5 * problem.floor / max(problem.lam, problem.mu, 1e-300))
            except _OverBudget:
                raise ConvergenceError(
                    f"coupled flow: no stationary point after {MAX_EVALUATIONS} gradient evaluations (‖∇L‖ ratio "
                    f"{problem.stationarity(theta):.3g} at the last accepted state); a loss whose gradient does not "
                    "vanish at its minimum (a kink, as |f − y|) makes the flow chatter there") from None
            if sol.status == -1:
                raise ConvergenceError(f"coupled flow integration failed: {sol.message}")
            theta, time = sol.y[:, -1], float(sol.t[-1])
        candidate, steps = _polish(problem, theta, tol)
        iterations += steps
        if problem.stationarity(candidate) <= tol and _is_local_minimum(problem, candidate, theta):
            return candidate, time, problem.stationarity(candidate), iterations
        if problem.stationarity(theta) > target * 1.01:
            # max_time reached short of the handoff and Newton found no minimum from there: a slow mode (one
            # just above its threshold relaxes at a rate ∝ its gap) needs a longer flow
            raise ConvergenceError(
                f"coupled flow: ‖∇L‖/(λ‖W‖ + μ‖Φ‖) = {problem.stationarity(theta):.3g} > {target:g} at max_time = "
                f"{max_time:.4g}, and Newton found no local minimum from there"
                + (" — with mu = 0 the features need not settle" if problem.mu == 0 else "; raise max_time"))
        target = max(target / 100, tol)
    raise ConvergenceError(f"coupled flow: no local minimum with ‖∇L‖/(λ‖W‖ + μ‖Φ‖) <= {tol:g} found by t = "
                           f"{time:.4g} (Newton kept reaching a saddle or stalled)")


def _polish(problem, theta, tol):
    """Damped Newton on ∇L = 0, with a trust-region minimiser as fallback when Newton stalls."""
    polished = _newton_on_gradient(problem, theta, tol)
    if problem.stationarity(polished) <= tol:
        return polished, 0
    W, P = problem.split(polished)
    force = problem.lam * np.linalg.norm(W) + problem.mu * np.linalg.norm(P)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
        # a trust radius shrinking to nothing can produce NaN trial points; they are discarded below
        warnings.simplefilter("ignore", RuntimeWarning)
        result = minimize(problem.value_and_gradient, polished, jac=True, hessp=problem.hessian_vector,
                          method="trust-krylov", options={"gtol": 0.1 * tol * force, "maxiter": 200})
    if np.all(np.isfinite(result.x)) and problem.stationarity(result.x) < problem.stationarity(polished):
        polished = _newton_on_gradient(problem, result.x, tol)
    return polished, int(result.nit)


def smallest_hessian_eigenvalue(problem, theta) -> tuple[float, float]:
    """(λ_min, ‖H‖) of the Hessian of L at θ: dense from N Hessian-vector products for N ≤ 1500, else Lanczos."""
    N = theta.size
    if N <= 1500:
        H = np.array([problem.hessian_vector(theta, e) for e in np.eye(N)])
        values = np.linalg.eigvalsh((H + H.T) / 2)
        return float(values[0]), float(np.abs(values).max())
    from scipy.sparse.linalg import eigsh

    op = LinearOperator((N, N), matvec=lambda d: problem.hessian_vector(theta, d), dtype=float)
    low = eigsh(op, k=1, which="SA", tol=1e-8, return_eigenvectors=False)[0]
    high = eigsh(op, k=1, which="LM", tol=1e-8, return_eigenvectors=False)[0]
    return float(low), float(abs(high))


def _is_local_minimum(problem, candidate, start) -> bool:
    value, start_value = problem.value_and_gradient(candidate)[0], problem.value_and_gradient(start)[0]
    if value > start_value + 1e-12 * max(abs(start_value), 1.0):
        return False
    low, norm = smallest_hessian_eigenvalue(problem, candidate)
    return low >= -TOL.stability * norm


def _newton_on_gradient(problem, theta, tol, steps: int = 40):
    """Damped Newton steps on ∇L = 0: solve (H + δI)Δ = −∇L by MINRES with exact Hessian-vector products.

    The objective is invariant under rotations of the hidden units (W → WQᵀ, Φ → QΦ), so H is
    singular along those directions; the damping δ (starting at ‖∇L‖, raised tenfold when a step
    does not lower the gradient, lowered when it does) keeps steps out of the flat directions while
    keeping Newton's quadratic convergence. Unlike the trust-region method, this works on ∇L alone,
    which still resolves when changes of L have fallen below rounding.
    """
    N = theta.size
    current = problem.stationarity(theta)
    damping = None
    for _ in range(steps):
        if current < tol:
            break
        grad = problem.value_and_gradient(theta)[1]
        damping = np.linalg.norm(grad) if damping is None else damping
        H = LinearOperator((N, N), matvec=lambda d, th=theta, dm=damping: problem.hessian_vector(th, d) + dm * d,
                           dtype=float)
        step, _ = minres(H, -grad, rtol=1e-12, maxiter=10 * N)
        candidate = theta + step
        value = problem.stationarity(candidate)
        if value < current:
            theta, current, damping = candidate, value, damping / 10
        else:
            damping *= 10
            if damping > 1e6 * (problem.lam + problem.mu):
                break
    return theta


def coupled_flow(loss, Phi0, W0, Y, lam, mu, *, tol: float = TOL.stationarity, handoff: float = 1e-3,
                 max_time: float | None = None, return_info: bool = False):
    """(Φ, W) at the stationary point the coupled flow Ẇ = −GΦᵀ − λW, Φ̇ = −WᵀG − μΦ reaches from (Φ0, W0).

    ``loss``: a ``theory.losses.Loss``; Φ0: m × n; W0: C × m; Y: C × n; λ > 0; μ ≥ 0.
    Stationary: ‖∇L‖ / max(λ‖W‖ + μ‖Φ‖, floor) < ``tol``, floor = TOL.steady_state_floor × its value at the start
    (so the zero minimiser is reached). Returns (Φ, W), or a :class:`CoupledState` when ``return_info``.
    ConvergenceError if the criterion is not met, or after MAX_EVALUATIONS gradient evaluations (a loss with a
    kink at its minimum).
    """
    Phi0, W0, Y, lam, mu, _ = _validate(loss, Phi0, W0, Y, lam, mu, "Phi0")
    problem = _Problem(loss, Y, lam, mu, Phi0.shape, W0.shape)
    max_time = v.positive("max_time", max_time if max_time is not None else 50.0 / min(lam, max(mu, 1e-3)))
    theta, time, final, nit = _run(problem, np.concatenate([W0.ravel(), Phi0.ravel()]), v.positive("tol", tol),
                                   v.positive("handoff", handoff), max_time)
    W, Phi = problem.split(theta)
    state = CoupledState(Phi, W, None, time, final, nit)
    return state if return_info else (Phi, W)


def fixed_feature_flow(loss, U0, W0, Psi, Y, lam, mu, *, tol: float = TOL.stationarity, handoff: float = 1e-3,
                       max_time: float | None = None, return_info: bool = False):
    """(U, W) at the stationary point of the fixed-feature model Φ = UΨ:
    Ẇ = −G(UΨ)ᵀ − λW, U̇ = −WᵀGΨᵀ − μU. U0: m × p; Ψ: p × n (fixed). Same criterion as :func:`coupled_flow`."""
    U0, W0, Y, lam, mu, Psi = _validate(loss, U0, W0, Y, lam, mu, "U0", Psi=Psi)
    problem = _Problem(loss, Y, lam, mu, U0.shape, W0.shape, Psi=Psi)
    max_time = v.positive("max_time", max_time if max_time is not None else 50.0 / min(lam, max(mu, 1e-3)))
    theta, time, final, nit = _run(problem, np.concatenate([W0.ravel(), U0.ravel()]), v.positive("tol", tol),
                                   v.positive("handoff", handoff), max_time)
    W, U = problem.split(theta)
    state = CoupledState(U @ Psi, W, U, time, final, nit)
    return state if return_info else (U, W)


def integrate_coupled_flow(loss, Phi0, W0, Y, lam, mu, t: float) -> tuple[np.ndarray, np.ndarray]:
    """(Φ(t), W(t)) of the UFM coupled flow after time ``t`` (LSODA, rtol 1e-8) — no stationarity asked."""
    Phi0, W0, Y, lam, mu, _ = _validate(loss, Phi0, W0, Y, lam, mu, "Phi0")
    t = v.positive("t", t)
    problem = _Problem(loss, Y, lam, mu, Phi0.shape, W0.shape)
    sol = solve_ivp(lambda _, th: -problem.value_and_gradient(th)[1], (0.0, t),
                    np.concatenate([W0.ravel(), Phi0.ravel()]), method="LSODA", rtol=1e-8, atol=1e-12)
    if not sol.success:
        raise ConvergenceError(f"coupled flow integration failed: {sol.message}")
    W, Phi = problem.split(sol.y[:, -1])
    return Phi, W
