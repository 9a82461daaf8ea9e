"""The kernel flow without n × n matrices: features Φ (m × n) in the basis of the rows they can reach.

The feature flow at the optimal readout (T2) is Φ̇ = Φ(D(K) − μI) with D = λ(K + λI)⁻¹YᵀY(K + λI)⁻¹
and K = ΦᵀΦ. D maps ℝⁿ into span(rows of Y, rows of Φ), so the rows of Φ(t) never leave
R = span(rows of Φ0, rows of Y), of dimension r ≤ m + C. With V (n × r) an orthonormal basis of R,
Φ = φVᵀ and K = VkVᵀ with φ = ΦV (m × r) and k = φᵀφ (r × r); the resolvent splits as
(K + λI)⁻¹ = V(k + λI)⁻¹Vᵀ + (I − VVᵀ)/λ (Woodbury with orthonormal Ψ = Vᵀ, certified in
``theory.DERIVATIONS["T9"]``: steps "Woodbury", "resolvent", "compressed flow"), which gives exactly

    φ̇ = φ(d(k) − μI),   k̇ = k·d + d·k − 2μk,   d(k) = λ(k + λI)⁻¹ỸᵀỸ(k + λI)⁻¹,   Ỹ = YV (C × r),

the same flow in r dimensions with labels Ỹ. Cost: one thin QR of the n × (m + C) matrix [Φ0; Y]ᵀ
(O(n(m + C)²)) and Φ0V (O(mnr)); after that nothing depends on n. Trajectories integrate φ
(generated drive operator, ``solve_ivp``); steady states reuse :func:`verify.steady_state` on k.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Phi0, Y = rng.standard_normal((4, 50)), np.eye(2)[:, rng.integers(0, 2, 50)]
>>> state = feature_steady_state(Phi0, Y, lam=0.5, mu=0.1)
>>> state.basis.shape, state.rank <= 2
((50, 6), True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.tolerances import TOL
from verify.flows.kernel_flow import problem_scale, steady_state, steady_state_rank
from verify.flows.kernel_ode import compiled_drive


def reachable_basis(Phi0, Y, *, rtol: float = TOL.rank_rtol) -> np.ndarray:
    """V (n × r): orthonormal basis of span(rows of Φ0, rows of Y), by a thin QR with column pivoting of
    [Φ0; Y]ᵀ; directions below ``rtol`` × the largest are dropped. Nothing n × n is formed."""
    from scipy.linalg import qr

    stacked = np.vstack([Phi0 / max(np.linalg.norm(Phi0), np.finfo(float).tiny),
                         Y / max(np.linalg.norm(Y), np.finfo(float).tiny)]).T
    Q, R, _ = qr(stacked, mode="economic", pivoting=True, check_finite=False)
    diag = np.abs(np.diag(R))
    keep = int(np.sum(diag > rtol * diag[0])) if diag.size and diag[0] > 0 else 0
    return Q[:, :keep]


def _validated(Phi0, Y, lam, mu):
    Phi0 = v.matrix("Phi0", Phi0)
    Y = v.matrix("Y", Y, cols=Phi0.shape[1])
    return Phi0, Y, v.positive("lam", lam), v.nonnegative("mu", mu)


@dataclass(frozen=True, eq=False)
class FeatureTrajectory:
    """Φ(t_k) = coefficients[k] · basisᵀ (m × n), never stored at full size."""

    times: np.ndarray
    coefficients: np.ndarray  # (len(times), m, r)
    basis: np.ndarray  # n × r
    method: str
    nfev: int

    def features(self, k: int) -> np.ndarray:
        """Φ at ``times[k]``, m × n."""
        return self.coefficients[k] @ self.basis.T

    def spectra(self) -> np.ndarray:
        """Non-zero part of the spectrum of K(t) = ΦᵀΦ (the eigenvalues of φφᵀ, m × m), descending."""
        return np.linalg.eigvalsh(self.coefficients @ np.swapaxes(self.coefficients, 1, 2))[:, ::-1]


def integrate_feature_flow(Phi0, Y, lam, mu, t, *, method: str = "DOP853", rtol: float = TOL.integration) -> FeatureTrajectory:
    """Integrate Φ̇ = Φ(D(ΦᵀΦ) − μI) from Φ0 (m × n) in the reachable basis (module docstring) to the times ``t``.

    Y: C × n targets; λ > 0; μ ≥ 0; ``t``: end time or increasing times. Returns a :class:`FeatureTrajectory`.
    """
    Phi0, Y, lam, mu = _validated(Phi0, Y, lam, mu)
    times = v.times("t", t)
    V = reachable_basis(Phi0, Y)
    phi0, Yr = Phi0 @ V, Y @ V
    m, r = phi0.shape
    drive = compiled_drive(Y.shape[0])
    scale = max(np.abs(phi0).max(), np.finfo(float).tiny)

    def rhs(_, x):
        phi = x.reshape(m, r)
        return (phi @ drive(phi.T @ phi, Yr, lam) - mu * phi).ravel()

    sol = solve_ivp(rhs, (0.0, times[-1]), phi0.ravel(), method=method, t_eval=times, rtol=rtol,
                    atol=rtol * 1e-2 * scale)
    if not sol.success:
        raise ConvergenceError(f"feature flow integration failed: {sol.message}")
    coefficients = sol.y.T.reshape(len(times), m, r)
    return FeatureTrajectory(times, coefficients, V, method, int(sol.nfev))


@dataclass(frozen=True, eq=False)
class FeatureSteadyState:
    """K∞ = basis · reduced · basisᵀ (n × n, never formed); ``eigenvalues`` its non-zero spectrum (descending)."""

    basis: np.ndarray  # n × r
    reduced: np.ndarray  # r × r
    eigenvalues: np.ndarray
    rank: int
    method: str

    def factor(self) -> np.ndarray:
        """L (n × rank) with K∞ = LLᵀ."""
        w, U = np.linalg.eigh(self.reduced)
        keep = w > TOL.rank_rtol * max(w.max(), np.finfo(float).tiny)
        return self.basis @ (U[:, keep] * np.sqrt(w[keep]))

    def kernel(self) -> np.ndarray:
        """K∞ as an n × n matrix (small n only: for checks against the kernel engine)."""
        return self.basis @ self.reduced @ self.basis.T


def feature_steady_state(Phi0, Y, lam, mu, *, tol: float = TOL.steady_state, **options) -> FeatureSteadyState:
    """The limit of the feature flow from Φ0: :func:`verify.steady_state` on k = VᵀΦ0ᵀΦ0V with labels YV
    (r × r, r ≤ m + C), the same convergence and stability criteria; ``options`` are passed on."""
    Phi0, Y, lam, mu = _validated(Phi0, Y, lam, mu)
    V = reachable_basis(Phi0, Y)
    if V.shape[1] == 0:  # Φ0 = 0 and Y = 0: nothing is reachable, the flow stays at Φ = 0
        return FeatureSteadyState(V, np.zeros((0, 0)), np.zeros(0), 0, "trivial (Phi0 = 0 and Y = 0)")
    phi0 = Phi0 @ V
    k0 = phi0.T @ phi0
    try:
        info = steady_state((k0 + k0.T) / 2, Y @ V, lam, mu, tol=tol, return_info=True, **options)
    except (ValueError, ConvergenceError) as exc:
        if not str(exc).startswith("K0:"):
            raise
        # the kernel engine's K0 is Φ0ᵀΦ0 (reduced): the user's argument is Phi0
        raise type(exc)("Phi0: through K0 = Φ0ᵀΦ0, " + str(exc)[len("K0: "):]) from None
    eigenvalues = np.linalg.eigvalsh(info.kernel)[::-1]
    # rank 0 below the steady-state floor: a K∞ = 0 reached up to rounding has no relative rank
    rank = steady_state_rank(info.kernel, problem_scale(k0, Y @ V, lam, mu))
    return FeatureSteadyState(V, info.kernel, eigenvalues, rank, info.method)
