"""Direct minimisers: ground truth for T3, T4 and T8 that shares nothing with the derivation chain.

The kernel flows of ``theory`` are gradient flows; their stable steady states must be the minimisers of
the objectives they descend. This module minimises those objectives *as defined*, in plain NumPy with
hand-written gradients and ``scipy.optimize.minimize(method="L-BFGS-B")``. It imports neither ``theory``
nor the generated code (``verify.flows.kernel_ode``, ``verify.flows.codegen``, ``verify.flows.kernel_flow``,
``verify.flows.water_filling``, ``verify.flows.ssl_flow``), so a mistake in a derivation, in code generation or in an
integrator cannot reappear here.

Supervised (squared loss, sums over the n samples; Y is C × n, S = YᵀY, Φ is m × n, K = ΦᵀΦ):

    L(W, Φ) = ½‖WΦ − Y‖² + (λ/2)‖W‖² + (μ/2)‖Φ‖²
    min_W L = L*(K) = (λ/2)·tr(Y(K + λI)⁻¹Yᵀ) + (μ/2)·tr K        (W = Y(K + λI)⁻¹Φᵀ)

Self-supervised (graph Laplacian L, n × n):

    E(K) = tr(LK) + μ·tr K − β·log det(K + εI)

Both are convex in K ⪰ 0. They are minimised over a factor B (r × n, K = BᵀB, r = n by default, so
the rank is not imposed), and the result is certified by the first-order conditions of the convex
problem in K (see ``_certify``): the K-gradient 𝒢 annihilates K and is ⪰ 0, which no saddle of the
factorisation (a fillable mode left empty) satisfies.

>>> import numpy as np
>>> Y = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
>>> K = minimise_reduced_objective(Y, lam=0.5, mu=0.1, seed=0)
>>> np.round(np.linalg.eigvalsh(K)[::-1], 6) + 0.0    # (√(λs/μ) − λ)₊ with s = 2, 2, 0, 0
array([2.662278, 2.662278, 0.      , 0.      ])
"""
from __future__ import annotations

import numbers
from contextlib import nullcontext

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import minimize

from verify.core import validation as v

try:  # the matrices here are small: BLAS threads only add synchronisation (10-30× slower on a busy 2-core machine)
    from threadpoolctl import threadpool_limits
except ImportError:  # optional (it comes with scikit-learn); without it BLAS keeps its default threading
    threadpool_limits = None

#: L-BFGS-B settings: far tighter than the accuracy asked of the result (ftol = 0: never stop on a small
#: decrease), so that a pass stops on rounding rather than on a loose criterion; ``_run``'s relative
#: gradient and ``_certify`` then decide
MINIMISER_OPTIONS = {"gtol": 1e-14, "ftol": 0.0, "maxiter": 100_000, "maxfun": 200_000, "maxcor": 30}
#: the result is accepted when the relative gradient (see ``_run``) is at most this; measured ≤ 6e-12 after
#: the second pass on ~150 instances (n ≤ 80), ~1e-7 after the first alone
GRADIENT_RTOL = 1e-9


class MinimisationError(RuntimeError):
    """L-BFGS-B stopped at a point that is not a (certified) minimiser."""


# ----------------------------------------------------------------------------------------------
# the supervised objectives


def reduced_objective(K, Y, lam, mu) -> float:
    """L*(K) = (λ/2)·tr(Y(K + λI)⁻¹Yᵀ) + (μ/2)·tr K: the squared-loss objective with W eliminated."""
    Y = v.labels("Y", Y)
    K = v.kernel("K", K, psd=True)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    _check_square("K", K, Y.shape[1])
    value, _ = reduced_value_and_K_gradient(K, Y, lam, mu)
    return value


def full_objective(W, Phi, Y, lam, mu) -> float:
    """L(W, Φ) = ½‖WΦ − Y‖² + (λ/2)‖W‖² + (μ/2)‖Φ‖²."""
    Y = v.labels("Y", Y)
    Phi = v.matrix("Phi", Phi, cols=Y.shape[1])
    W = v.matrix("W", W, rows=Y.shape[0], cols=Phi.shape[0])
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    return 0.5 * np.sum((W @ Phi - Y) ** 2) + lam / 2 * np.sum(W**2) + mu / 2 * np.sum(Phi**2)


def reduced_value_and_K_gradient(K, Y, lam, mu):
    """(L*(K), 𝒢 = ∂L*/∂K = −(λ/2)(K + λI)⁻¹S(K + λI)⁻¹ + (μ/2)I), with Z = (K + λI)⁻¹Yᵀ (n × C):
    tr(Y(K + λI)⁻¹Yᵀ) = tr(YZ) and (K + λI)⁻¹S(K + λI)⁻¹ = ZZᵀ (d(A⁻¹) = −A⁻¹ dA A⁻¹)."""
    n = K.shape[0]
    Z = cho_solve(cho_factor(K + lam * np.eye(n)), Y.T)
    value = lam / 2 * np.sum(Y.T * Z) + mu / 2 * np.trace(K)
    return value, -lam / 2 * (Z @ Z.T) + mu / 2 * np.eye(n)


def minimise_reduced_objective(Y, lam, mu, *, rank: int | None = None, seed: int = 0, B0=None) -> np.ndarray:
    """argmin over K = BᵀB ⪰ 0 of L*(K) = (λ/2)·tr(Y(K + λI)⁻¹Yᵀ) + (μ/2)·tr K, by L-BFGS-B over B (r × n).

    Gradient (by hand). With M = (K + λI)⁻¹ and S = YᵀY, d tr(YMYᵀ) = −tr(MSM dK), so

        𝒢 = ∂L*/∂K = −(λ/2)·MSM + (μ/2)·I,
        dK = dBᵀB + BᵀdB  ⇒  dL* = 2·tr(𝒢Bᵀ dB)  ⇒  ∂L*/∂B = 2B𝒢 = −λ(BZ)Zᵀ + μB,  Z = MYᵀ.

    Y: C × n targets; λ = ``lam`` > 0; μ = ``mu`` > 0; ``rank`` r in 1..n (default n: no rank imposed;
    a smaller r minimises over rank ≤ r and is then certified only as a stationary point); B0: r × n
    start (default: i.i.d. normal with BᵀB ≈ (√(λ‖S‖/μ) + λ)·I, from ``seed``). Returns K = BᵀB (n × n).
    MinimisationError when the relative gradient exceeds ``GRADIENT_RTOL`` or, for r = n, when 𝒢 is
    not ⪰ 0 (a saddle of the factorisation, not the minimum).
    """
    Y = v.labels("Y", Y)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    n = Y.shape[1]
    scale = np.sqrt(lam * np.linalg.norm(Y, 2) ** 2 / mu) + lam  # κ of the strongest mode, plus λ
    B0 = _start("B0", B0, rank, n, seed, scale)

    def fun(flat):
        B = flat.reshape(B0.shape)
        value, grad_K = reduced_value_and_K_gradient(B.T @ B, Y, lam, mu)
        return value, (2 * B @ grad_K).ravel()

    def change(flat, ref):  # L*(K) − L*(K₁) = −(λ/2)·tr(ZᵀΔZ₁) + (μ/2)·tr Δ, Δ = K − K₁ (M − M₁ = −MΔM₁)
        B, B1 = flat.reshape(B0.shape), ref.reshape(B0.shape)
        delta = _difference_of_grams(B, B1)
        Z, Z1 = (cho_solve(cho_factor(A.T @ A + lam * np.eye(n)), Y.T) for A in (B, B1))
        return -lam / 2 * np.sum(Z * (delta @ Z1)) + mu / 2 * np.trace(delta)

    def parts(B):  # ∂L*/∂B = −λ(BZ)Zᵀ + μB: the two terms whose cancellation is stationarity
        Z = cho_solve(cho_factor(B.T @ B + lam * np.eye(n)), Y.T)
        return lam * np.linalg.norm((B @ Z) @ Z.T), mu * np.linalg.norm(B)

    B = _run(fun, change, B0, parts, mu * np.sqrt(scale), "L*(K)")
    K = B.T @ B
    _certify(lambda K: reduced_value_and_K_gradient(K, Y, lam, mu)[1], K, B0.shape[0] == n, mu / 2, "L*(K)")
    return (K + K.T) / 2


def minimise_full_objective(Y, lam, mu, *, width: int | None = None, seed: int = 0) -> np.ndarray:
    """K = ΦᵀΦ at a minimiser of L(W, Φ) = ½‖WΦ − Y‖² + (λ/2)‖W‖² + (μ/2)‖Φ‖² over W (C × m) and Φ (m × n).

    Gradients: R = WΦ − Y, ∂L/∂W = RΦᵀ + λW, ∂L/∂Φ = WᵀR + μΦ. Width m = ``width`` (default n). This is
    the objective before W is eliminated; it is not convex, so the result is certified as a stationary
    point in (W, Φ) (where W = Y(K + λI)⁻¹Φᵀ and ∂L/∂Φ = 2Φ𝒢, so 𝒢K = 0) and, for m ≥ n, by 𝒢(K) ⪰ 0:
    then K is the global minimiser of L*.
    """
    Y = v.labels("Y", Y)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    C, n = Y.shape
    m = n if width is None else _integer("width", width, 1, None)
    rng = np.random.default_rng(_integer("seed", seed, 0, None))
    scale = np.sqrt(lam * np.linalg.norm(Y, 2) ** 2 / mu) + lam
    x0 = np.concatenate([rng.standard_normal(C * m) * np.sqrt(mu / lam * scale / m),
                         rng.standard_normal(m * n) * np.sqrt(scale / m)])

    def split(x):
        return x[:C * m].reshape(C, m), x[C * m:].reshape(m, n)

    def fun(x):
        W, Phi = split(x)
        R = W @ Phi - Y
        value = 0.5 * np.sum(R**2) + lam / 2 * np.sum(W**2) + mu / 2 * np.sum(Phi**2)
        return value, np.concatenate([(R @ Phi.T + lam * W).ravel(), (W.T @ R + mu * Phi).ravel()])

    def change(x, ref):  # ‖a‖² − ‖a₁‖² = ⟨a − a₁, a + a₁⟩ for each term, R − R₁ = (W − W₁)Φ + W₁(Φ − Φ₁)
        (W, Phi), (W1, Phi1) = split(x), split(ref)
        R, R1 = W @ Phi - Y, W1 @ Phi1 - Y
        dR = (W - W1) @ Phi + W1 @ (Phi - Phi1)
        return (0.5 * np.sum(dR * (R + R1)) + lam / 2 * np.sum((W - W1) * (W + W1))
                + mu / 2 * np.sum((Phi - Phi1) * (Phi + Phi1)))

    def parts(x):
        W, Phi = split(x)
        R = W @ Phi - Y
        return np.hypot(np.linalg.norm(R @ Phi.T), np.linalg.norm(W.T @ R)), np.hypot(
            lam * np.linalg.norm(W), mu * np.linalg.norm(Phi))

    x = _run(fun, change, x0, parts, mu * np.sqrt(scale), "L(W, Φ)")
    Phi = split(x)[1]
    K = Phi.T @ Phi
    _certify(lambda K: reduced_value_and_K_gradient(K, Y, lam, mu)[1], K, m >= n, mu / 2, "L(W, Φ)")
    return (K + K.T) / 2


def minimise_bias_objective(Y, lam, mu, *, width: int | None = None, seed: int = 0) -> np.ndarray:
    """K = ΦᵀΦ at a minimiser of L(W, b, Φ) = ½‖WΦ + b1ᵀ − Y‖² + (λ/2)‖W‖² + (μ/2)‖Φ‖² (a readout with an
    unpenalised bias b, C × 1) over W, b and Φ (m × n, m = ``width``, default n), by L-BFGS-B.

    Gradients (by hand): R = WΦ + b1ᵀ − Y, ∂L/∂W = RΦᵀ + λW, ∂L/∂b = R1, ∂L/∂Φ = WᵀR + μΦ. Certified as a
    stationary point and, for m ≥ n, by the K-gradient of the problem with W and b eliminated being ⪰ 0:
    with H = I − 11ᵀ/n and M = (HKH + λI)⁻¹, 𝒢 = −(λ/2)·HMHSHMH + (μ/2)·I (the objective is convex in K).
    """
    Y = v.labels("Y", Y)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    C, n = Y.shape
    m = n if width is None else _integer("width", width, 1, None)
    rng = np.random.default_rng(_integer("seed", seed, 0, None))
    scale = np.sqrt(lam * np.linalg.norm(Y, 2) ** 2 / mu) + lam
    x0 = np.concatenate([rng.standard_normal(C * m) * np.sqrt(mu / lam * scale / m), rng.standard_normal(C),
                         rng.standard_normal(m * n) * np.sqrt(scale / m)])

    def split(x):
        return x[:C * m].reshape(C, m), x[C * m:C * m + C].reshape(C, 1), x[C * m + C:].reshape(m, n)

    def fun(x):
        W, b, Phi = split(x)
        R = W @ Phi + b - Y
        value = 0.5 * np.sum(R**2) + lam / 2 * np.sum(W**2) + mu / 2 * np.sum(Phi**2)
        return value, np.concatenate([(R @ Phi.T + lam * W).ravel(), R.sum(axis=1), (W.T @ R + mu * Phi).ravel()])

    def change(x, ref):  # ‖a‖² − ‖a₁‖² = ⟨a − a₁, a + a₁⟩ for each term
        (W, b, Phi), (W1, b1, Phi1) = split(x), split(ref)
        R, R1 = W @ Phi + b - Y, W1 @ Phi1 + b1 - Y
        dR = (W - W1) @ Phi + W1 @ (Phi - Phi1) + (b - b1)
        return (0.5 * np.sum(dR * (R + R1)) + lam / 2 * np.sum((W - W1) * (W + W1))
                + mu / 2 * np.sum((Phi - Phi1) * (Phi + Phi1)))

    def parts(x):
        W, b, Phi = split(x)
        R = W @ Phi + b - Y
        return np.hypot(np.linalg.norm(R @ Phi.T), np.linalg.norm(W.T @ R)), np.hypot(
            lam * np.linalg.norm(W), mu * np.linalg.norm(Phi))

    x = _run(fun, change, x0, parts, mu * np.sqrt(scale), "L(W, b, Φ)")
    Phi = split(x)[2]
    K = Phi.T @ Phi
    H = np.eye(n) - np.full((n, n), 1.0 / n)

    def gradient_K(K):
        Z = np.linalg.solve(H @ K @ H + lam * np.eye(n), H @ Y.T)
        return -lam / 2 * H @ Z @ Z.T @ H + mu / 2 * np.eye(n)

    _certify(gradient_K, K, m >= n, mu / 2, "L(W, b, Φ)")
    return (K + K.T) / 2


def minimise_penalised_objective(Y, lam, mu, nu, *, width: int | None = None, seed: int = 0) -> np.ndarray:
    """K = ΦᵀΦ at a minimiser of L(W, Φ) = ½‖WΦ − Y‖² + (λ/2)‖W‖² + (μ/2)‖Φ‖² + (ν/4)‖ΦᵀΦ‖² over W and Φ
    (m × n, m = ``width``, default n), by L-BFGS-B.

    Gradients (by hand): R = WΦ − Y, ∂L/∂W = RΦᵀ + λW, ∂L/∂Φ = WᵀR + μΦ + νΦ(ΦᵀΦ). Certified as a stationary
    point and, for m ≥ n, by the K-gradient with W eliminated being ⪰ 0: M = (K + λI)⁻¹,
    𝒢 = −(λ/2)·MSM + (μ/2)·I + (ν/2)·K (the objective is convex in K).
    """
    Y = v.labels("Y", Y)
    lam, mu, nu = v.positive("lam", lam), v.positive("mu", mu), v.positive("nu", nu)
    C, n = Y.shape
    m = n if width is None else _integer("width", width, 1, None)
    rng = np.random.default_rng(_integer("seed", seed, 0, None))
    scale = np.sqrt(lam * np.linalg.norm(Y, 2) ** 2 / mu) + lam
    x0 = np.concatenate([rng.standard_normal(C * m) * np.sqrt(mu / lam * scale / m),
                         rng.standard_normal(m * n) * np.sqrt(scale / m)])

    def split(x):
        return x[:C * m].reshape(C, m), x[C * m:].reshape(m, n)

    def fun(x):
        W, Phi = split(x)
        R = W @ Phi - Y
        K = Phi.T @ Phi
        value = 0.5 * np.sum(R**2) + lam / 2 * np.sum(W**2) + mu / 2 * np.sum(Phi**2) + nu / 4 * np.sum(K**2)
        return value, np.concatenate([(R @ Phi.T + lam * W).ravel(), (W.T @ R + mu * Phi + nu * Phi @ K).ravel()])

    def change(x, ref):
        (W, Phi), (W1, Phi1) = split(x), split(ref)
        R, R1 = W @ Phi - Y, W1 @ Phi1 - Y
        dR = (W - W1) @ Phi + W1 @ (Phi - Phi1)
        K, K1 = Phi.T @ Phi, Phi1.T @ Phi1
        dK = _difference_of_grams(Phi, Phi1)
        return (0.5 * np.sum(dR * (R + R1)) + lam / 2 * np.sum((W - W1) * (W + W1))
                + mu / 2 * np.sum((Phi - Phi1) * (Phi + Phi1)) + nu / 4 * np.sum(dK * (K + K1)))

    def parts(x):
        W, Phi = split(x)
        R = W @ Phi - Y
        return np.hypot(np.linalg.norm(R @ Phi.T), np.linalg.norm(W.T @ R)), np.hypot(
            lam * np.linalg.norm(W), np.linalg.norm(mu * Phi + nu * Phi @ (Phi.T @ Phi)))

    x = _run(fun, change, x0, parts, mu * np.sqrt(scale), "L(W, Φ) + (ν/4)‖K‖²")
    Phi = split(x)[1]
    K = Phi.T @ Phi

    def gradient_K(K):
        Z = np.linalg.solve(K + lam * np.eye(n), Y.T)
        return -lam / 2 * Z @ Z.T + mu / 2 * np.eye(n) + nu / 2 * K

    _certify(gradient_K, K, m >= n, mu / 2, "L(W, Φ) + (ν/4)‖K‖²")
    return (K + K.T) / 2


# ----------------------------------------------------------------------------------------------
# the self-supervised energy


def ssl_energy(K, L, mu, beta, eps) -> float:
    """E(K) = tr(LK) + μ·tr K − β·log det(K + εI)."""
    L, mu, beta, eps = _ssl_arguments(L, mu, beta, eps)
    K = v.kernel("K", K, psd=True)
    _check_square("K", K, L.shape[0])
    return ssl_value_and_K_gradient(K, L, mu, beta, eps)[0]


def ssl_value_and_K_gradient(K, L, mu, beta, eps):
    """(E(K), ∂E/∂K = L + μI − β(K + εI)⁻¹); d log det A = tr(A⁻¹dA)."""
    n = K.shape[0]
    factor = cho_factor(K + eps * np.eye(n))
    logdet = 2 * np.sum(np.log(np.diag(factor[0])))
    value = np.sum(L * K) + mu * np.trace(K) - beta * logdet
    inverse = cho_solve(factor, np.eye(n))
    return value, L + mu * np.eye(n) - beta * (inverse + inverse.T) / 2


def minimise_ssl_energy(L, mu, beta, eps, *, rank: int | None = None, seed: int = 0, B0=None) -> np.ndarray:
    """argmin over K = BᵀB ⪰ 0 of E(K) = tr(LK) + μ·tr K − β·log det(K + εI), by L-BFGS-B over B (r × n).

    Gradient (by hand). d log det(K + εI) = tr((K + εI)⁻¹dK), so

        𝒢 = ∂E/∂K = L + μI − β(K + εI)⁻¹,   ∂E/∂B = 2B𝒢   (dK = dBᵀB + BᵀdB, 𝒢 symmetric).

    L: graph Laplacian (n × n, symmetric, rows summing to 0); μ = ``mu`` > 0; β = ``beta`` ≥ 0;
    ε = ``eps`` > 0; ``rank``, ``seed``, B0 as in :func:`minimise_reduced_objective` (default start
    BᵀB ≈ (β/μ)·I). Returns K = BᵀB; MinimisationError when not certified.
    """
    L, mu, beta, eps = _ssl_arguments(L, mu, beta, eps)
    n = L.shape[0]
    scale = max(beta / mu, eps)  # κ of the smoothest mode is at most β/μ
    B0 = _start("B0", B0, rank, n, seed, scale)

    def fun(flat):
        B = flat.reshape(B0.shape)
        value, grad_K = ssl_value_and_K_gradient(B.T @ B, L, mu, beta, eps)
        return value, (2 * B @ grad_K).ravel()

    def change(flat, ref):  # E(K) − E(K₁) = tr((L + μI)Δ) − β·Σ log(1 + x_i), x = eig(R⁻ᵀΔR⁻¹), RᵀR = K₁ + εI
        B, B1 = flat.reshape(B0.shape), ref.reshape(B0.shape)
        delta = _difference_of_grams(B, B1)
        R = np.linalg.cholesky(B1.T @ B1 + eps * np.eye(n)).T
        X = solve_triangular(R, solve_triangular(R, delta, trans="T").T, trans="T")
        return np.sum((L + mu * np.eye(n)) * delta) - beta * np.sum(np.log1p(np.linalg.eigvalsh((X + X.T) / 2)))

    def parts(B):  # ∂E/∂B = 2B(L + μI) − 2β B(K + εI)⁻¹
        inverse = cho_solve(cho_factor(B.T @ B + eps * np.eye(n)), np.eye(n))
        return 2 * np.linalg.norm(B @ L + mu * B), 2 * beta * np.linalg.norm(B @ inverse)

    B = _run(fun, change, B0, parts, mu * np.sqrt(scale), "E(K)")
    K = B.T @ B
    _certify(lambda K: ssl_value_and_K_gradient(K, L, mu, beta, eps)[1], K, B0.shape[0] == n, mu, "E(K)")
    return (K + K.T) / 2


def _ssl_arguments(L, mu, beta, eps):
    L = v.kernel("L", L)
    if np.abs(L.sum(axis=1)).max() > 1e-9 * max(np.abs(L).max(), 1.0):
        raise ValueError("L must be a graph Laplacian: its rows must sum to 0")
    return L, v.positive("mu", mu), v.nonnegative("beta", beta), v.positive("eps", eps)


# ----------------------------------------------------------------------------------------------
# shared machinery


def _integer(name, value, low, high) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an int in {low}..{'' if high is None else high}, got {value}")
    return int(value)


def _check_square(name, K, n):
    if K.shape != (n, n):
        raise ValueError(f"{name} must be {n} × {n} (one row and column per sample), got shape {K.shape}")


def _start(name, B0, rank, n, seed, scale) -> np.ndarray:
    """The r × n starting factor: B0 if given, else i.i.d. normal with E[BᵀB] = scale·I."""
    if B0 is not None:
        if rank is not None:
            raise ValueError(f"give rank or {name}, not both: the rank is the number of rows of {name}")
        return v.matrix(name, B0, cols=n).copy()
    r = n if rank is None else _integer("rank", rank, 1, n)
    rng = np.random.default_rng(_integer("seed", seed, 0, None))
    return rng.standard_normal((r, n)) * np.sqrt(scale / r)


def _difference_of_grams(B, B1) -> np.ndarray:
    """BᵀB − B₁ᵀB₁ = DᵀB + B₁ᵀD with D = B − B₁: accurate relative to the difference, not to ‖B‖²."""
    D = B - B1
    return D.T @ B + B1.T @ D


def _run(fun, change, x0, parts, floor, what):
    """Two L-BFGS-B passes; MinimisationError unless ‖∇‖ ≤ GRADIENT_RTOL·(‖first part‖ + ‖second part‖).

    Pass 1 minimises f from x0 and stops once f − f* is lost in the rounding of f itself (relative
    error of x near √eps). Pass 2 restarts from its result x₁ on the same function written as the
    difference f(x) − f(x₁) (``change``, evaluated in closed form from x − x₁, so accurate relative to
    the difference): the same gradient, but progress stays visible down to the gradient's own rounding.
    Stationarity is the cancellation of the data term against the decay term in the gradient, so the
    gradient is measured against their sizes (``parts``); ``floor`` (μ·√scale, a decay gradient at the
    natural size of the factor) keeps the measure meaningful when the minimiser is K = 0.
    """
    shape = np.shape(x0)
    with threadpool_limits(1, user_api="blas") if threadpool_limits is not None else nullcontext():
        first = minimize(fun, np.asarray(x0, dtype=float).ravel(), jac=True, method="L-BFGS-B", options=MINIMISER_OPTIONS)
        ref = first.x.copy()
        res = minimize(lambda x: (change(x, ref), fun(x)[1]), ref, jac=True, method="L-BFGS-B", options=MINIMISER_OPTIONS)
    x = res.x.reshape(shape)
    gradient = np.linalg.norm(fun(res.x)[1])
    a, b = parts(x)
    relative = gradient / max(a + b, floor)
    if not np.isfinite(relative) or relative > GRADIENT_RTOL:
        raise MinimisationError(f"L-BFGS-B on {what} stopped at relative gradient {relative:.3g} > {GRADIENT_RTOL:g} "
                                f"after {first.nit} + {res.nit} iterations ({res.message})")
    return x


def _certify(gradient_K, K, full_rank_factor: bool, scale: float, what: str) -> None:
    """First-order conditions of the convex problem in K: 𝒢 ⪰ 0 and 𝒢K = 0 make K the global minimiser.

    𝒢K = 0 follows from the B-gradient 2B𝒢 = 0 checked by ``_run``; 𝒢 ⪰ 0 is what a stationary point of
    the factorisation can miss (a saddle with a mode left empty), checked here when the factor was not
    rank-restricted. ``scale``: the size of 𝒢's decay term (μ/2 or μ), against which −λ_min(𝒢) is read.
    """
    if not full_rank_factor:
        return
    G = gradient_K(K)
    smallest = np.linalg.eigvalsh((G + G.T) / 2)[0]
    if smallest < -np.sqrt(GRADIENT_RTOL) * scale:
        raise MinimisationError(f"{what}: stationary point is not the minimum: the K-gradient has eigenvalue "
                                f"{smallest:.3g} < 0 (a saddle of the factorisation); try another seed")
