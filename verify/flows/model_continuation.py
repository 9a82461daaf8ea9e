"""The steady state of a derived model as a certified minimiser: pseudo-transient continuation and its KKT test.

When :func:`theory.derive_model` certifies the objective in K, L̃, convex on K ⪰ 0 with ∂L̃/∂K = −A/2 (steps
"objective in K", "gradient in K", "convex in K"), a kernel K ⪰ 0 is L̃'s global minimiser iff (KKT)

    AK = 0   and   λ_max(A) ≤ 0          (∇L̃ = −A/2 ⪰ 0 and ⟨∇L̃, K⟩ = 0),

measured as stationarity = ‖AK‖_F / (r·max(‖K‖_F, floor)) and dual gap = λ_max(A)/r with r = μ, the decay rate
of the features' ℓ2 penalty (T2's certificate is the case A = D − μI). Without convexity the same two numbers
still say something about the flow itself: AK = 0 is its steady state, and λ_max(A) > 0 names a direction u
(A u = λu, u ⊥ range K) along which an empty mode grows (K̇ = 2λ·uuᵀ there); the certificate then reads
"stationary, no growing empty mode", not "global minimiser".

Search (convex models): pseudo-transient continuation (:mod:`verify.flows.pseudo_transient`) on the n × n kernel:
implicit Euler steps (σ − J)δ = F with J the Jacobian of the generated dK/dt on the n(n + 1)/2 symmetric
coordinates, each column the complex-step derivative Im F(K + ihE)/h (exact to rounding, no subtraction),
accepted while K stays PSD and L̃ decreases; when the residual is below ``tol`` the certificate decides, and a
fillable mode left empty gets a step along A's top eigenvector, as the flow would leave it (the first step, the
escape step and their number are T2's, :mod:`verify.flows.continuation`). The dense Jacobian
costs n(n + 1)/2 right-hand sides per step: :data:`CONTINUATION_LIMIT` bounds n, above it the trajectory method
is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.linalg import eigh, solve

from theory import notation as nt
from theory.objective_language import ONES
from verify.core.linalg import from_symmetric_coordinates, to_symmetric_coordinates
from verify.flows.codegen import generate, step_function
from verify.flows.continuation import ESCAPE_STEP, FIRST_STEP, MAX_ESCAPES
from verify.flows.kkt import KKTCertificate
from verify.flows.pseudo_transient import continue_to_steady_state
from verify.flows.scaling import safe_norm

#: largest n for the continuation (its dense Jacobian takes n(n + 1)/2 right-hand sides per step)
CONTINUATION_LIMIT = 40
#: complex-step size relative to ‖K‖ (any h below ~1e-8 gives the derivative to rounding; this one never underflows)
JACOBIAN_STEP = 1e-20


@dataclass(frozen=True)
class ModelKKTCertificate(KKTCertificate):
    """:class:`verify.flows.kkt.KKTCertificate` for a derived model; ``convex`` says whether passing proves the global
    minimiser (L̃ certified convex) or only a stationary state without a growing empty mode."""

    convex: bool = False

    def __str__(self) -> str:
        if self.convex:
            return super().__str__()
        verdict = "stationary, no growing empty mode" if self.passed else "NOT a stable stationary state"
        return (f"{self.label} (L̃ not certified convex: first-order conditions only): {verdict} (stationarity "
                f"{self.stationarity:.3g}, dual gap {self.dual_gap:.3g}, tolerance {self.tolerance:g})")


def drive_and_rhs(model, args, backend: str = "numpy"):
    """(A(K, …), dK/dt(K, …)): A generated from the certified step "A is symmetric" (S = YᵀY substituted) and
    dK/dt = KA + (KA)ᵀ — the certified "kernel ODE" KA + AK with the certified Aᵀ = A, so A is evaluated once per
    right-hand side (generating KA + AK as written would evaluate it twice)."""
    if model.kernel_rhs != nt.K * model.drive + model.drive * nt.K:
        raise ValueError(f"model: its kernel ODE is not KA + AK with A symmetric ({sp.sstr(model.kernel_rhs)})")
    if not (model.step("kernel ODE").holds and model.step("A is symmetric").holds):
        raise ValueError("model: its kernel ODE or the symmetry of A is not certified; no code is generated")
    drive = step_function(model.step("A is symmetric"), args, substitute={nt.S: nt.Y.T * nt.Y}, backend=backend)

    def A(K, *rest):
        try:
            return drive(K, *rest)
        except np.linalg.LinAlgError:
            raise ValueError("lam: a resolvent of the model is singular in float64 here (λ is below the rounding of "
                             "K, or K is outside the model's domain); raise lam or rescale K") from None

    def rhs(K, *rest):
        KA = K @ A(K, *rest)
        return KA + KA.T

    return A, rhs


class ModelFunctions:
    """The generated A(K), dK/dt and L̃(K) of a derived model, as functions of K (Y and the values bound), in the
    argument order of :func:`verify.flows.model_flow.model_rhs`."""

    def __init__(self, model, Y: np.ndarray, arguments: list, values: list, n: int):
        extra = [ONES] if model.kernel_rhs.has(ONES) or model.drive.has(ONES) or (
            model.objective_in_K is not None and model.objective_in_K.has(ONES)) else []
        args = (nt.K, nt.Y, *arguments, *extra)
        bound = [Y, *values, *([np.ones((n, 1))] if extra else [])]
        substitute = {nt.S: nt.Y.T * nt.Y}
        drive, rhs = drive_and_rhs(model, args)
        self.drive = lambda K: drive(K, *bound)
        self.rhs = lambda K: rhs(K, *bound)
        self.terms = []
        if model.objective_in_K is not None:
            step = model.step("objective in K")
            for term in sp.Add.make_args(sp.expand(step.rhs)):  # each term apart: their sizes are L̃'s rounding scale
                code = generate(term.xreplace(substitute), args)
                self.terms.append(lambda K, code=code: code(K, *bound))
        self.n = n

    def objective(self, K) -> tuple[float, float]:
        parts = [float(np.real(t(K))) for t in self.terms]
        return float(sum(parts)), float(sum(abs(p) for p in parts))


def model_kkt_certificate(functions: ModelFunctions, K: np.ndarray, rate: float, *, tol: float, floor: float,
                          convex: bool) -> ModelKKTCertificate:
    """Stationarity ‖AK‖_F/(r·max(‖K‖_F, floor)) and dual gap λ_max(A)/r (module docstring), A's top eigenvector."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        A = np.asarray(functions.drive(K), dtype=float)
        if not np.all(np.isfinite(A)):
            raise ValueError("lam, mu: the drive A(K) is not finite in float64 at this scale (a singular resolvent or "
                             "an overflow); rescale K, Y, lam and mu")
        A = (A + A.T) / 2
        values, vectors = eigh(A)
        # divided step by step (never rate·floor, which underflows at 1e-300); an overflow reads as ∞: not passed
        stationarity = safe_norm(A @ K) / max(safe_norm(K), floor, np.finfo(float).tiny) / rate
        gap = float(values[-1]) / rate
    return ModelKKTCertificate(_measure(stationarity), _measure(gap), tol, vectors[:, -1], convex=convex)


def _measure(x) -> float:
    """x, with NaN (0/0 or ∞/∞ of an extreme scale) read as ∞, so that it can never pass."""
    return float(x) if not np.isnan(x) else float("inf")


class ModelProblem:
    """The derived kernel ODE for :func:`verify.flows.pseudo_transient.continue_to_steady_state`."""

    def __init__(self, functions: ModelFunctions, rate: float, floor: float):
        self.f, self.rate, self.floor = functions, rate, floor

    def prepare(self, k):
        with np.errstate(over="ignore", invalid="ignore"):
            F = np.asarray(self.f.rhs(k), dtype=float)
        if not np.all(np.isfinite(F)):
            raise ValueError("K0, lam: dK/dt is not finite here in float64 (a singular resolvent or an overflow); "
                             "rescale K0, Y, lam and mu towards 1")
        return F

    def residual(self, k, F) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            return _measure(safe_norm(F) / max(safe_norm(k), self.floor, np.finfo(float).tiny) / (2 * self.rate))

    def objective(self, k, _F):
        return self.f.objective(k)

    def jacobian(self, k) -> np.ndarray:
        """J on the symmetric coordinates, column by column by the complex step Im F(k + ihE)/h."""
        n = k.shape[0]
        h = JACOBIAN_STEP * max(safe_norm(k), self.floor)
        rows, cols = np.triu_indices(n)
        columns = []
        for i, j in zip(rows, cols):
            E = np.zeros((n, n), dtype=complex)
            E[i, j] = E[j, i] = 1.0
            columns.append(to_symmetric_coordinates(np.imag(self.f.rhs(k + 1j * h * E)) / h))
        return np.column_stack(columns)

    def shifted_solve(self, k, F, sigma: float) -> np.ndarray:
        """δ with (σ − J/r)δ = F/r: pseudo-time in units of 1/r, so the shared loop's steps are dimensionless."""
        J = self.jacobian(k) / self.rate
        delta = solve(sigma * np.eye(J.shape[0]) - J, to_symmetric_coordinates(F) / self.rate, check_finite=False)
        return from_symmetric_coordinates(delta, k.shape[0])

    def rightmost(self, k) -> float:
        """The largest real part of the Jacobian's spectrum at k (units of the original time)."""
        return float(np.linalg.eigvals(self.jacobian(k)).real.max())


def model_continuation_steady_state(functions: ModelFunctions, K0: np.ndarray, rate: float, scale: float, tol: float,
                              convex: bool):
    """(K∞, certificate, steps, rightmost) by continuation and escape steps (module docstring); ``rate`` r = μ,
    ``scale`` the size below which K counts as 0; rightmost: the largest real part of J's spectrum at K∞."""
    problem = ModelProblem(functions, rate, scale)
    k, steps, escapes = K0.copy(), 0, 0
    while True:
        k, _, _, taken = continue_to_steady_state(problem, k, tol, floor=scale, first_step=FIRST_STEP,
                                                   who="model_steady_state", retry_hint="; try method='flow'")
        steps += taken
        k = (k + k.T) / 2
        certificate = model_kkt_certificate(functions, k, rate, tol=10 * tol, floor=scale, convex=convex)
        if certificate.passed or escapes >= MAX_ESCAPES:
            return k, certificate, steps, problem.rightmost(k)
        escapes += 1
        u = certificate.direction
        k = k + ESCAPE_STEP * max(safe_norm(k), scale) * np.outer(u, u)

