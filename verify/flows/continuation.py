"""The kernel flow's steady state as a certified minimiser: continuation in the labels' span, KKT in full.

The kernel ODE descends the convex objective L(K) = (λ/2)tr(S(K + λI)⁻¹) + (μ/2)tr K (T2, steps
"gradient flow" and "convexity"), so the state a generic trajectory settles in — every unstable state
being left along its growing direction — is L's global minimiser over K ⪰ 0, characterised by KKT:
(D − μI)K = 0 and λ_max(D) ≤ μ (:mod:`verify.flows.kkt`). That state lies in P = span(Yᵀ) (n × p,
p = rank Y ≤ C): restricted to P the flow is the same kernel ODE at size p with labels YP (T9's
reduction), F(PkPᵀ) = P F_p(k) Pᵀ, so the search runs on p × p matrices and the answer is certified in
the full n × n space, where nothing about P is assumed.

Search: pseudo-transient continuation on k from the compressed start k₀ = PᵀK₀P (rescaled to the minimiser's
scale when it is 1000× off: the start selects directions, not the answer) — implicit Euler steps
(σ − J)δ = F with σ = 1/h, J the factored Jacobian of T2 (``theory.derive_kernel_jacobian``) assembled on
the p(p + 1)/2 symmetric coordinates in one vectorised pass (the tests hold it to the generated
Jacobian-vector product, column by column), accepted while k stays PSD and L decreases, h grown
with the residual's decrease until the steps are Newton's (σ → 0). When the residual is below ``tol``
the full-space KKT certificate decides: passed → returned with the kernel; a fillable mode left empty
(dual gap > 0, e.g. K₀ orthogonal to a label direction) → a step along D's top eigenvector, then
continue, as the flow leaves an unstable state. Cost: an SVD of Y (O(nC²)), O(p⁶) per step on the
small problem, and O(n³/3) for the certificate's Cholesky factorisation of the returned kernel.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve

from verify.core.linalg import from_symmetric_coordinates, to_symmetric_coordinates
from verify.flows.kernel_ode import compiled_jvp, factored_jacobian
from verify.flows.kkt import scaled_kkt_certificate
from verify.flows.pseudo_transient import continue_to_steady_state
from verify.flows.scaling import ScaledProblem, safe_norm

#: most steps along D's top eigenvector off a stationary state that is not the minimiser
MAX_ESCAPES = 4
#: first pseudo-time step, in units of the scaled flow's fastest rate (≤ 6‖D̃‖ + 2μ̃ ≤ 8)
FIRST_STEP = 0.1
#: relative size of a step off a non-minimising stationary state (of ‖k‖, at least of the floor)
ESCAPE_STEP = 1e-3


def label_basis(Y_scaled: np.ndarray) -> np.ndarray:
    """P: orthonormal basis of range(Yᵀ) (n × p), singular values below n·eps·σ_max(Y) dropped."""
    _, singular, Vt = np.linalg.svd(Y_scaled, full_matrices=False)
    if singular.size == 0 or singular[0] == 0:
        return np.zeros((Y_scaled.shape[1], 0))
    keep = singular > max(Y_scaled.shape) * np.finfo(float).eps * singular[0]
    return Vt[keep].T


class ReducedProblem:
    """The scaled kernel ODE on p × p kernels k with labels Yp (λ = 1), its objective and its Jacobian."""

    def __init__(self, Yp: np.ndarray, mu: float, floor: float = 0.0):
        self.Yp, self.mu, self.p, self.floor = Yp, mu, Yp.shape[1], floor
        self.rows, self.cols = np.triu_indices(self.p)

    def prepare(self, k):
        """The Cholesky factor of k + I (raises LinAlgError outside k ≻ −I)."""
        return cho_factor(k + np.eye(self.p), lower=True, check_finite=False)

    def residual(self, k, chol) -> float:
        """‖F(k)‖_F / (2μ̃ max(‖k‖_F, floor)): the residual in units of the slowest rate."""
        return safe_norm(self.rhs(k, chol)) / (2 * self.mu) / max(safe_norm(k), self.floor, np.finfo(float).tiny)

    def shifted_solve(self, k, chol, sigma: float) -> np.ndarray:
        """δ with (σ − J)δ = F(k), J assembled on the p(p + 1)/2 symmetric coordinates (dense: p ≤ C)."""
        F = to_symmetric_coordinates(self.rhs(k, chol))
        J = self.jacobian(k)
        return from_symmetric_coordinates(solve(sigma * np.eye(J.shape[0]) - J, F, check_finite=False), self.p)

    def rhs(self, k, chol):
        Z = cho_solve(chol, self.Yp.T, check_finite=False)
        kZ = k @ Z
        return kZ @ Z.T + Z @ kZ.T - 2 * self.mu * k

    def objective(self, k, chol) -> tuple[float, float]:
        """(L(k), its magnitude): both terms are ≥ 0, so L is its own rounding scale."""
        Z = cho_solve(chol, self.Yp.T, check_finite=False)
        value = 0.5 * float(np.sum(self.Yp.T * Z)) + 0.5 * self.mu * float(np.trace(k))
        return value, abs(value)

    def jacobian(self, k):
        """J on the p(p + 1)/2 symmetric coordinates (:func:`verify.flows.kernel_ode.factored_jacobian`)."""
        return factored_jacobian(k, self.Yp, 1.0, self.mu)

    def jacobian_by_generated_code(self, k):
        """The same matrix column by column from the generated J[E] (slow; the reference for tests)."""
        columns = []
        for i, j in zip(self.rows, self.cols):
            E = np.zeros((self.p, self.p))
            E[i, j] = E[j, i] = 1.0
            columns.append(to_symmetric_coordinates(compiled_jvp(self.Yp.shape[0])(k, E, self.Yp, 1.0, self.mu)))
        return np.column_stack(columns)

    def rightmost(self, k, chol, n: int) -> float:
        """The largest real part of the full n × n Jacobian's spectrum at PkPᵀ, from the factored J[E]:
        on symmetric E inside P it is the reduced Jacobian; on E = uwᵀ + wuᵀ with u ⊥ P, w in P (there
        Ku = 0, Zᵀu = 0, so X = u·wᵀZ) J acts on w as −2μ + (I − k)d with d = ZZᵀ; on E ⊥ P both sides
        it is −2μ."""
        Z = cho_solve(chol, self.Yp.T, check_finite=False)
        parts = [np.linalg.eigvals(self.jacobian(k)).real.max()]
        if n > self.p:
            cross = -2 * self.mu * np.eye(self.p) + (np.eye(self.p) - k) @ (Z @ Z.T)
            parts += [np.linalg.eigvals(cross).real.max(), -2 * self.mu]
        return float(max(parts))

    def top_drive(self, k, chol):
        """(λ_max(d), its unit eigenvector) of the reduced drive d = ZZᵀ."""
        Z = cho_solve(chol, self.Yp.T, check_finite=False)
        values, vectors = np.linalg.eigh(Z @ Z.T)
        return float(values[-1]), vectors[:, -1]


def continuation_steady_state(K0, Y, lam, mu, scaled: ScaledProblem, tol: float):
    """(K∞, KKTCertificate, steps, rightmost): the certified minimiser (module docstring) and the largest real part
    of the Jacobian's spectrum there, in the scaled flow's units (F of λ = 1, Ỹ, μ̃; multiply by σ²/λ). Arguments
    validated by the caller; ``scaled`` is the problem in the flow's units, ``tol`` the attainable residual target."""
    n = K0.shape[0]
    P = label_basis(scaled.Y)
    if P.shape[1] == 0:  # no labels: every mode decays at 2μ, K∞ = 0
        kernel = np.zeros((n, n))
        return kernel, scaled_kkt_certificate(kernel, scaled.Y, scaled.mu, tol=tol, floor=scaled.floor), 0, -2 * scaled.mu
    reduced = ReducedProblem(scaled.Y @ P, scaled.mu, scaled.floor)
    reference = max(1.0, scaled.law)  # the scale of the minimiser: its largest eigenvalue, in units of λ
    noise = 10 * n * np.finfo(float).eps * safe_norm(scaled.K0)
    k = _at_working_scale(P.T @ scaled.K0 @ P, reference, noise)
    floor = scaled.floor
    steps = escapes = 0
    while True:
        k, chol, _, taken = continue_to_steady_state(reduced, k, tol, floor=floor, first_step=FIRST_STEP,
                                                     who="steady_state", retry_hint="; try method='flow'")
        steps += taken
        unit_kernel = P @ k @ P.T
        unit_kernel = (unit_kernel + unit_kernel.T) / 2  # the returned kernel is λ times this
        kernel = lam * unit_kernel
        certificate = scaled_kkt_certificate(unit_kernel, scaled.Y, scaled.mu, tol=_certificate_tolerance(tol),
                                             floor=floor)
        if certificate.passed or escapes >= MAX_ESCAPES:
            return kernel, certificate, steps, reduced.rightmost(k, chol, n)
        # a stationary state with a fillable mode left empty: step along d's top eigenvector, as the flow would
        escapes += 1
        _, u = reduced.top_drive(k, chol)
        k = k + ESCAPE_STEP * max(safe_norm(k), reference) * np.outer(u, u)


def _at_working_scale(k: np.ndarray, reference: float, noise: float) -> np.ndarray:
    """k with eigenvalues below ``noise`` (the rounding of forming PᵀK₀P) set to 0 and, when its norm is more than
    1000× off the minimiser's scale, rescaled to it.

    The minimiser does not depend on where the search starts, only the directions the start contains (a label
    direction k₀ lacks is added by an escape step); a start at 1e-300 or 1e300 would otherwise spend hundreds of
    steps on the linear growth or decay that only changes its scale, and rescaled rounding noise would be an
    indefinite start."""
    values, vectors = np.linalg.eigh((k + k.T) / 2)
    values = np.where(values > noise, values, 0.0)
    k = (vectors * values) @ vectors.T
    size = safe_norm(k)
    if size > 0 and not 1e-3 * reference <= size <= 1e3 * reference:
        k = k * (reference / size)
    return k


def _certificate_tolerance(tol: float) -> float:
    """The KKT measures are relative errors of the same order as the residual r (filled modes relax at ~4μ):
    a factor 10 leaves room for the rounding of forming PkPᵀ in n dimensions."""
    return 10 * tol

