"""Self-supervised kernel flow (T8), numerically: steady states of dK/dt = −(K∇E + ∇E K).

    ∇E = L + μI − β(K + εI)⁻¹,   predicted K∞ = V diag((β/(ℓ_j + μ) − ε)₊) Vᵀ,  L = V diag(ℓ) Vᵀ

The right-hand side is generated from ``theory.derive_ssl_filter().rhs``. The flow descends a strictly convex
energy (``theory.derive_ssl_jacobian``), so its steady state from a positive definite start is the energy's unique
minimiser: by default it is computed as such (:mod:`verify.flows.ssl_continuation`, Newton's method along a barrier
path, O(n³) per step) and returned only with a passing KKT certificate (:mod:`verify.flows.ssl_kkt`) and
‖dK/dt‖_F / ‖K‖_F < tol. ``method="flow"`` integrates the trajectory instead, in symmetric coordinates (LSODA
with the complex-step Jacobian for n(n+1)/2 ≤ 1000, else DOP853) to a 1e-6 residual, finished by Newton–Krylov
(accepted only without an unstable direction).

>>> import numpy as np
>>> A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
>>> L = np.diag(A.sum(1)) - A
>>> K = ssl_steady_state(L, mu=0.1, beta=1.0, eps=0.01)
>>> np.allclose(np.sort(np.linalg.eigvalsh(K)), np.sort(ssl_filter_spectrum(L, 0.1, 1.0, 0.01)), rtol=1e-8)
True
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

import theory
from theory import notation as nt
from theory.t8_ssl import L as L_symbol, beta as beta_symbol, ell, eps as eps_symbol
from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.linalg import (
    frobenius_weights,
    from_symmetric_coordinates,
    to_symmetric_coordinates,
)
from verify.core.tolerances import TOL
from verify.flows.codegen import generate
from verify.flows.kernel_ode import jacobian_unchecked, rightmost_jacobian_mode
from verify.flows.solver_checks import check_kernels, newton_polish
from verify.flows.ssl_continuation import ssl_continuation_steady_state


@lru_cache(maxsize=None)
def compiled_ssl_jvp():
    """J[Δ](K, Δ, L, μ, β, ε) = −(ΔA + AΔ) + 2βε RΔR generated from ``theory.derive_ssl_jacobian().jacobian``."""
    from theory.t8_ssl import Delta

    return generate(theory.derive_ssl_jacobian().jacobian, (nt.K, Delta, L_symbol, nt.mu, beta_symbol, eps_symbol))


def ssl_flow_jvp(K, E, L, mu, beta, eps) -> np.ndarray:
    """J[E]: the derivative of the SSL flow's right-hand side at K along the symmetric direction E,

        J[E] = −(EA + AE) + 2βε R E R,   A = L + μI,  R = (K + εI)⁻¹,

    generated from the certified factored form (``theory.derive_ssl_jacobian``)."""
    L, mu, beta, eps = _validate(L, mu, beta, eps)
    K = v.kernel("K", K)
    E = v.kernel("E", E)
    if K.shape != L.shape or E.shape != L.shape:
        raise ValueError(f"K and E must be {L.shape[0]} × {L.shape[0]} like L, got {K.shape} and {E.shape}")
    return np.asarray(compiled_ssl_jvp()(K, E, L, mu, beta, eps), dtype=float)


@lru_cache(maxsize=None)
def compiled_ssl():
    """(rhs(K, L, μ, β, ε), κ∞(ℓ, μ, β, ε)) generated from the T8 derivation."""
    law = theory.derive_ssl_filter()
    rhs = generate(law.rhs, (nt.K, L_symbol, nt.mu, beta_symbol, eps_symbol))
    value = sp.lambdify((ell, nt.mu, beta_symbol, eps_symbol), law.steady_value, modules="numpy")
    return rhs, value


def _validate(L, mu, beta, eps):
    L = v.kernel("L", L)
    if np.abs(L.sum(axis=1)).max() > 1e-9 * max(np.abs(L).max(), 1.0):
        raise ValueError("L must be a graph Laplacian: its rows must sum to 0")
    return L, v.positive("mu", mu), v.nonnegative("beta", beta), v.positive("eps", eps)


def ssl_filter_spectrum(L, mu, beta, eps) -> np.ndarray:
    """(β/(ℓ_j + μ) − ε)₊ for the eigenvalues ℓ_j of L, in the order of ``numpy.linalg.eigh``."""
    L, mu, beta, eps = _validate(L, mu, beta, eps)
    ells = np.clip(np.linalg.eigvalsh(L), 0.0, None)
    return np.asarray(compiled_ssl()[1](ells, mu, beta, eps), dtype=float) * np.ones_like(ells)


def ssl_steady_state(L, mu, beta, eps, *, K0=None, seed: int = 0, tol: float = TOL.steady_state,
                     max_time: float | None = None, method: str = "continuation") -> np.ndarray:
    """K∞ of dK/dt = −(K∇E + ∇E K), ∇E = L + μI − β(K + εI)⁻¹, from K0 (default: a generic PSD kernel at the
    problem's scale max(ε, β/(‖L‖₂ + μ))).

    ``method="continuation"`` (default): the energy's certified minimiser, which the flow reaches from every
    positive definite K0 (K0 only sets where the search starts); ``method="flow"``: the trajectory from K0
    integrated (then ``max_time`` bounds it; a K0 without some fillable direction stays on a stationary state).

    Solved in the flow's own units (‖L‖₂ + μ = 1, max(ε, β) = 1; two exact symmetries) and checked finite and
    PSD; a problem whose K∞ + εI would have condition > SSL_MAX_CONDITION is refused with a ValueError naming
    beta, and a breakdown of the integration (a K0 far from the law's scale) is a ConvergenceError."""
    L, mu, beta, eps = _validate(L, mu, beta, eps)
    n = L.shape[0]
    default = K0 is None
    if default:
        B = np.random.default_rng(seed).standard_normal((n + 2, n))
        K0 = B.T @ B / n
    K0 = v.kernel("K0", K0, psd=True)
    if K0.shape != L.shape:
        raise ValueError(f"K0 must be {n} × {n} like L, got {K0.shape}")
    tol = v.positive("tol", tol)
    # The flow's symmetries (K, β, ε) → (cK, cβ, cε) and (L, μ, β, t) → (aL, aμ, aβ, t/a): solve with
    # ‖L‖₂ + μ = 1 and max(ε, β) = 1, so scales from 1e-300 to 1e300 meet one bounded problem, and map back.
    top = max(np.abs(L).max(), mu)
    ell_max = np.linalg.norm(L / top, 2) * top
    a = ell_max + mu
    c = max(eps, beta / a)
    if default:  # a generic kernel at the problem's own scale
        K0 = K0 * c
    mu_s, beta_s, eps_s = mu / a, (beta / a) / c, eps / c
    # condition of K∞ + εI: (β/μ) / max(β/(ℓ_max + μ), ε) (the constant mode, ℓ = 0, fills most)
    with np.errstate(over="ignore"):  # an overflowing condition is refused below like any large one
        condition = min((beta_s / mu_s) / eps_s, 1.0 / mu_s) if beta_s > 0 else 1.0
    if condition > SSL_MAX_CONDITION:
        raise ValueError(f"beta: the steady state's K + εI would have condition {condition:.3g} > "
                         f"{SSL_MAX_CONDITION:g} (β/(εμ) = {(beta_s / mu_s) / eps_s:.3g}, (‖L‖ + μ)/μ = {1 / mu_s:.3g}), "
                         "beyond float64 integration; lower beta or raise eps or mu (ssl_filter_spectrum gives the "
                         "law without integration)")
    if method not in ("continuation", "flow"):
        raise ValueError(f"method must be 'continuation' or 'flow', got {method!r}")
    if max_time is not None:
        if method != "flow":
            raise ValueError("max_time bounds an integration: it needs method='flow'")
        max_time = v.positive("max_time", max_time) * a
    if method == "continuation":
        rhs, L_s, floor = compiled_ssl()[0], L / a, flow_floor(K0 / c, beta_s, mu_s, eps_s)
        kernel = ssl_continuation_steady_state(L_s, mu_s, beta_s, eps_s, K0 / c, tol, floor,
                                               lambda K: rhs(K, L_s, mu_s, beta_s, eps_s))[0]
        check_kernels("ssl_steady_state", kernel, floor)
        return kernel * c
    try:
        kernel = _ssl_flow(L / a, mu_s, beta_s, eps_s, K0 / c, tol, max_time)
    except (np.linalg.LinAlgError, ValueError) as exc:  # arguments are valid by now: the integration broke down
        raise ConvergenceError(f"SSL flow: the integration broke down ({exc}) for K0 at {np.abs(K0).max():.3g} "
                               f"against the law's scale {max(eps, beta / a):.3g}; start K0 nearer the law") from exc
    return kernel * c


#: largest condition of K∞ + εI for which SSL steady states are computed
SSL_MAX_CONDITION = 1e6


def flow_floor(K0, beta, mu, eps) -> float:
    """The residual's floor in the flow's units: TOL.steady_state_floor × the scale the flow ends at (K0's, capped by
    the law's largest κ, or by 1 where nothing fills)."""
    fill = max(beta / mu - eps, 0.0)
    size = np.linalg.norm(K0)
    return TOL.steady_state_floor * max(min(size, max(fill, 1.0)) if fill > 0 else min(size, 1.0), 1e-250)


def _ssl_flow(L, mu, beta, eps, K0, tol, max_time):
    """The SSL flow with ‖L‖₂ + μ = 1 and max(ε, β) = 1 (see ssl_steady_state)."""
    n = L.shape[0]
    rhs = compiled_ssl()[0]
    weights = frobenius_weights(n)

    def f(_, x):
        return to_symmetric_coordinates(rhs(from_symmetric_coordinates(x, n), L, mu, beta, eps))

    def residual(x):
        return np.linalg.norm(f(0, x) * weights) / max(np.linalg.norm(x * weights), floor)

    fill = max(beta / mu - eps, 0.0)  # the law's largest κ
    floor = flow_floor(K0, beta, mu, eps)

    small = n * (n + 1) // 2 <= 1000
    kwargs = {}
    if small:
        kwargs["jac"] = lambda _, x: jacobian_unchecked(rhs, from_symmetric_coordinates(x, n), L, mu, beta, eps)
    if max_time is None:  # hundreds of decay times, plus the time to grow or decay from K0's scale
        max_time = (200.0 + abs(np.log(max(np.linalg.norm(K0), 1e-250) / max(fill, eps)))) / mu
    def margin(K):
        """TOL.stability × the Jacobian's scale at K: 2(‖L‖₁ + μ + β‖K‖/(λ_min(K) + ε)²) (the resolvent term)."""
        low = max(np.linalg.eigvalsh(K)[0], 0.0) + eps
        return TOL.stability * 2 * (np.abs(L).sum(axis=1).max() + mu + beta * max(np.abs(K).max(), eps) / low / low)

    def integrate(x0, t0, target):
        def reached(_, x):
            return np.log(residual(x) / target)

        reached.terminal, reached.direction = True, -1
        sol = solve_ivp(f, (t0, max_time), x0, method="LSODA" if small else "DOP853", events=reached,
                        rtol=TOL.integration, atol=TOL.integration * 1e-3, **kwargs)
        return sol.y[:, -1], float(sol.t[-1])

    # near-threshold modes (β ≈ ε(ℓ + μ)) relax slowly: integrate to a handoff, then Newton–Krylov, accepted
    # only at a point the flow can end at (no unstable direction), as for the kernel flow
    x, time = integrate(to_symmetric_coordinates(K0), 0.0, max(tol, 1e-6))
    if residual(x) >= tol:
        polished = newton_polish(lambda t, y: f(t, y), x, tol, residual)
        candidate = from_symmetric_coordinates(polished, n) if polished is not None else None
        if polished is not None and rightmost_jacobian_mode(rhs, candidate, L, mu, beta, eps)[0] <= margin(candidate):
            x = polished
        else:
            x, time = integrate(x, time, tol)
    if residual(x) > tol * 1.01:
        raise ConvergenceError(f"SSL flow: ‖dK/dt‖/‖K‖ = {residual(x):.3g} > {tol:g} at t = {time:.4g}")
    kernel = from_symmetric_coordinates(x, n)
    check_kernels("ssl_steady_state", kernel, floor)
    return kernel


def normalised_adjacency(A) -> np.ndarray:
    """D^{-1/2} A D^{-1/2} for a symmetric nonnegative adjacency with no isolated vertex."""
    A = v.kernel("A", A)
    degrees = A.sum(axis=1)
    if np.any(degrees <= 0):
        raise ValueError("A has an isolated vertex (a zero row); the normalised adjacency is undefined")
    scale = 1 / np.sqrt(degrees)
    return scale[:, None] * A * scale[None, :]


def spectral_contrastive_embedding(A, k: int, *, seed: int = 0) -> np.ndarray:
    """Minimise the population spectral contrastive loss (HaoChen et al., NeurIPS 2021) over a free embedding.

        L(f) = −2 Σ_{x,x'} w_{xx'} f_xᵀf_{x'} + Σ_{x,x'} w_x w_{x'} (f_xᵀf_{x'})²,   w = A / ΣA, w_x = Σ_{x'} w_{xx'}

    by L-BFGS from a random start; returns U = diag(√w_x)·F (n × k), whose span is compared with the top-k
    eigenvectors of D^{-1/2}AD^{-1/2} (with U = diag(√w)F the loss is ‖Ā − UUᵀ‖² + const).
    """
    from scipy.optimize import minimize

    A = v.kernel("A", A)
    n = A.shape[0]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an int in 1..n={n}, got {k!r}")
    w = A / A.sum()
    wx = w.sum(axis=1)

    def loss_and_grad(flat):
        F = flat.reshape(n, k)
        G = F @ F.T
        value = -2 * np.sum(w * G) + np.sum(np.outer(wx, wx) * G**2)
        grad = (-4 * w + 4 * np.outer(wx, wx) * G) @ F
        return value, grad.ravel()

    rng = np.random.default_rng(seed)
    res = minimize(loss_and_grad, rng.standard_normal(n * k), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-14, "ftol": 1e-16, "maxiter": 50000, "maxcor": 30})
    return np.sqrt(wx)[:, None] * res.x.reshape(n, k)
