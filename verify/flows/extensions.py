"""Numerics of the worked extensions E1 (readout bias) and E2 (kernel penalty), generated from their derivations.

Every formula here is code generated from a certified step of :func:`theory.derive_readout_bias` or
:func:`theory.derive_kernel_penalty` (``results["rhs"]``, ``results["level_equation"]``); only the integration and
the root finding are written here.

- E1: dK/dt = K D_b + D_b K − 2μK, D_b = λR̃HSHR̃, R̃ = (HKH + λI)⁻¹, H = I − 11ᵀ/n; steady states: water-filling
  of HSH (``bias_law_spectrum``), rank ≤ rank(YH) (C − 1 for one-hot labels).
- E2: dK/dt = K D + D K − 2μK − 2νK²; a mode with s > λμ fills to the root of (κ + λ)²(μ + νκ) = λs
  (``penalty_law_spectrum``), every other mode empties.

>>> import numpy as np
>>> Y = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
>>> bias_law_spectrum(Y, lam=0.5, mu=0.1)[:2]        # one-hot, C = 2: rank C − 1 = 1
array([2.66227766, 0.        ])
>>> K = flow_steady_state(bias_rhs, np.eye(4), Y, 0.5, 0.1)
>>> bool(np.allclose(np.linalg.eigvalsh(K)[::-1], bias_law_spectrum(Y, 0.5, 0.1), atol=1e-9))
True
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import theory
from theory import notation as nt
from theory.e1_readout_bias import H as H_symbol
from theory.e2_kernel_penalty import nu as nu_symbol
from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.tolerances import TOL
from verify.flows.codegen import generate
from verify.flows.kernel_ode import label_scale, scaled_finite
from verify.flows.water_filling import water_filling_spectrum


@lru_cache(maxsize=None)
def _bias_rhs_code(C: int):
    derivation = theory.derive_readout_bias(C)
    rhs = derivation.results["rhs"].xreplace({nt.S: nt.Y.T * nt.Y})
    return generate(rhs, (nt.K, nt.Y, H_symbol, nt.lam, nt.mu))


@lru_cache(maxsize=None)
def _penalty_rhs_code(C: int):
    rhs = theory.derive_kernel_penalty(C).results["rhs"].xreplace({nt.S: nt.Y.T * nt.Y})
    return generate(rhs, (nt.K, nt.Y, nt.lam, nt.mu, nu_symbol))


@lru_cache(maxsize=None)
def _scaled_level_code():
    """ψ(z) = level_equation/(μU²) at κ = Uz − λ, s = μU²/λ, ν = qμ (U = √(λs/μ), T3's level plus λ; q = ν/μ), put by
    SymPy from the derivation's certified level equation into the form z²(qUz − qλ + 1) − 1 on z ∈ [λ/U, 1]: of
    order 1 whatever the scale of s, λ, μ, ν (the equation in κ overflows for s near 1e300, and an expanded form
    subtracts infinities)."""
    equation = theory.derive_kernel_penalty(2).results["level_equation"]
    z, U, q = sp.symbols("z U q", positive=True)
    scaled = sp.expand(equation.xreplace({nt.kappa: U * z - nt.lam, nt.s: nt.mu * U**2 / nt.lam, nu_symbol: q * nt.mu})
                       / (nt.mu * U**2))
    grouped = sp.factor(scaled + 1) - 1  # z²(Uqz − λq + 1) − 1: the product Uq comes first, and it is checked finite
    return sp.lambdify((z, U, q, nt.lam), grouped, modules="math")


def centring(n: int) -> np.ndarray:
    """H = I − 11ᵀ/n (n × n), the projection that removes the mean over samples."""
    return np.eye(n) - np.full((n, n), 1.0 / n)


def bias_rhs(K, Y, lam, mu) -> np.ndarray:
    """dK/dt = K D_b + D_b K − 2μK of the readout-with-bias model (E1), generated from the derivation.

    Homogeneous in the labels like T2's flow: evaluated at Y/c, μ/c² (c a power of two near max|Y|) and scaled back
    by c², so YᵀY never overflows; OverflowError naming Y when the true entries exceed float64."""
    K, Y, lam, mu = _problem(K, Y, lam, mu)
    c = label_scale(Y)
    with _resolvent_of(lam, "HKH + λI"):
        value = _bias_rhs_code(Y.shape[0])(K, Y / c, centring(K.shape[0]), lam, mu / c / c)
    return scaled_finite("dK/dt", value, "Y", c * c)


def penalty_rhs(K, Y, lam, mu, nu) -> np.ndarray:
    """dK/dt = K D + D K − 2μK − 2νK² of the kernel-penalty model (E2), generated from the derivation; evaluated
    at Y/c, μ/c², ν/c² and scaled back by c² (see :func:`bias_rhs`)."""
    K, Y, lam, mu = _problem(K, Y, lam, mu)
    nu = v.positive("nu", nu)
    c = label_scale(Y)
    with _resolvent_of(lam, "K + λI"):
        value = _penalty_rhs_code(Y.shape[0])(K, Y / c, lam, mu / c / c, nu / c / c)
    return scaled_finite("dK/dt", value, "Y", c * c)


def bias_law_spectrum(Y, lam, mu) -> np.ndarray:
    """E1's law, descending, length n: κ = (√(λs̃/μ) − λ)₊ for the eigenvalues s̃ of HSH = (YH)ᵀ(YH) — T3's law with
    the centred labels YH (the centred-steady-states step of E1)."""
    Y = v.labels("Y", Y)
    return water_filling_spectrum(Y @ centring(Y.shape[1]), lam, mu)


def penalty_level(s, lam, mu, nu) -> float:
    """E2's filled level for one label eigenvalue s: the root κ > 0 of (κ + λ)²(μ + νκ) = λs when s > λμ, else 0.

    The cubic is the derivation's ``level_equation``, rescaled (:func:`_scaled_level_code`) by κ = Uz − λ with
    U = √(λs/μ): its root z lies in [λ/U, 1] (the level is below T3's U − λ; the cubic is increasing, certified step
    "g decreasing"), found by Brent's method to a relative 4ε. ValueError naming the argument when s, λ, μ or ν make
    U or νU/μ overflow float64.
    """
    lam, mu, nu = v.positive("lam", lam), v.positive("mu", mu), v.positive("nu", nu)
    s = float(s)
    if not np.isfinite(s):
        raise ValueError(f"s must be a finite label eigenvalue, got {s!r}")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if not s > lam * mu:
            return 0.0
        U = np.sqrt(lam) * np.sqrt(s) / np.sqrt(mu)
        growth = U * (nu / mu)
    if not (np.isfinite(U) and np.isfinite(growth)):
        raise ValueError(f"s, lam, mu, nu: the level's scale √(λs/μ) = {U:.3g} or νU/μ = {growth:.3g} overflows "
                         "float64; rescale the problem")
    psi = _scaled_level_code()

    def scaled(z):
        try:
            return min(psi(z, U, nu / mu, lam), 1e300)
        except OverflowError:  # only the positive term ν(Uz − λ)/μ can overflow: ψ is large and positive
            return 1e300

    low = lam / U
    if scaled(low) >= 0:  # the level underflows against λ: κ = 0 to float64 precision
        return 0.0
    z = brentq(scaled, low, 1.0, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=2000)
    return float(U * (z - low))


def penalty_law_spectrum(Y, lam, mu, nu) -> np.ndarray:
    """E2's law, descending, length n: :func:`penalty_level` of each eigenvalue of S = YᵀY."""
    Y = v.labels("Y", Y)
    c = label_scale(Y)
    with np.errstate(over="ignore"):
        sigma = np.linalg.svd(Y / c, compute_uv=False) * c
        s = np.concatenate([sigma**2, np.zeros(Y.shape[1] - sigma.size)])  # the eigenvalues of S = YᵀY
    if not np.all(np.isfinite(s)):
        raise ValueError("Y: the label Gram YᵀY overflows float64 (singular values of Y above 1.3e154); rescale")
    return np.sort([penalty_level(x, lam, mu, nu) for x in s])[::-1]


def flow_steady_state(rhs, K0, Y, lam, mu, *more, tol: float = TOL.steady_state, max_time: float = 1e5) -> np.ndarray:
    """K∞ of dK/dt = ``rhs(K, Y, lam, mu, *more)`` from K0, integrated by LSODA (rtol 1e-11) over growing horizons
    until ‖dK/dt‖_F ≤ tol·‖K‖_F (the steady-state criterion of docs/conventions.md); ConvergenceError past
    ``max_time``.

    Time is measured in units of the fastest rate the flow can have, r = max(2μ, 2‖Y‖₂²/λ) (the decay, and the
    growth of an empty labelled mode), so a problem at scale 1e±100 takes as many steps as one at scale 1; the
    absolute tolerance follows ‖K‖ from horizon to horizon (a decaying K is resolved at its own size).
    """
    Y = v.labels("Y", Y)
    K = v.kernel("K0", K0, psd=True)
    lam, mu = v.positive("lam", lam), v.nonnegative("mu", mu)
    n = K.shape[0]
    if n != Y.shape[1]:
        raise ValueError(f"K0 must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")
    c = np.float64(label_scale(Y))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        top = np.linalg.norm(Y / c, 2) ** 2 * (c * c / lam)
        rate = float(max(2 * mu, 2 * top, np.finfo(float).tiny))
    if not np.isfinite(rate):
        raise ValueError(f"Y, lam: the flow's rate 2‖Y‖₂²/λ overflows float64 (lam = {lam:.3g}); rescale the problem")

    def f(_, x):  # in units of 1/r
        M = x.reshape(n, n)
        return rhs((M + M.T) / 2, Y, lam, mu, *more).ravel() / rate

    tau, horizon, tau_max = 0.0, 10.0, max_time * rate
    while tau < tau_max:
        scale = max(np.linalg.norm(K), 1e-300)
        sol = solve_ivp(f, (tau, tau + horizon), K.ravel(), method="LSODA", rtol=1e-11, atol=1e-16 * scale)
        if not sol.success:
            raise ConvergenceError(f"LSODA failed at t = {tau / rate:.3g}: {sol.message}")
        K = sol.y[:, -1].reshape(n, n)
        K = (K + K.T) / 2
        tau += horizon
        if np.linalg.norm(rhs(K, Y, lam, mu, *more)) <= tol * max(np.linalg.norm(K), 1e-300):
            return K
        horizon *= 2
    residual = np.linalg.norm(rhs(K, Y, lam, mu, *more)) / max(np.linalg.norm(K), 1e-300)
    raise ConvergenceError(f"no steady state by t = {max_time:g}: ‖dK/dt‖/‖K‖ = {residual:.3g} > {tol:g}")


@contextmanager
def _resolvent_of(lam: float, matrix: str):
    """A singular ``matrix`` in the generated solve becomes a ValueError naming λ (it is below K's rounding)."""
    try:
        yield
    except np.linalg.LinAlgError:
        raise ValueError(f"lam: {matrix} is singular in float64 (λ = {lam:.3g} is below the rounding of K); raise lam "
                         "or rescale K") from None


def _problem(K, Y, lam, mu):
    Y = v.labels("Y", Y)
    K = v.kernel("K", K)
    if K.shape[0] != Y.shape[1]:
        raise ValueError(f"K must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")
    return K, Y, v.positive("lam", lam), v.nonnegative("mu", mu)
