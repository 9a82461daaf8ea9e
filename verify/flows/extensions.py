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
def _level_code():
    equation = theory.derive_kernel_penalty(2).results["level_equation"]
    return sp.lambdify((nt.kappa, nt.s, nt.lam, nt.mu, nu_symbol), equation, modules="math")


def centring(n: int) -> np.ndarray:
    """H = I − 11ᵀ/n (n × n), the projection that removes the mean over samples."""
    return np.eye(n) - np.full((n, n), 1.0 / n)


def bias_rhs(K, Y, lam, mu) -> np.ndarray:
    """dK/dt = K D_b + D_b K − 2μK of the readout-with-bias model (E1), generated from the derivation."""
    K, Y, lam, mu = _problem(K, Y, lam, mu)
    return _bias_rhs_code(Y.shape[0])(K, Y, centring(K.shape[0]), lam, mu)


def penalty_rhs(K, Y, lam, mu, nu) -> np.ndarray:
    """dK/dt = K D + D K − 2μK − 2νK² of the kernel-penalty model (E2), generated from the derivation."""
    K, Y, lam, mu = _problem(K, Y, lam, mu)
    nu = v.positive("nu", nu)
    return _penalty_rhs_code(Y.shape[0])(K, Y, lam, mu, nu)


def bias_law_spectrum(Y, lam, mu) -> np.ndarray:
    """E1's law, descending, length n: κ = (√(λs̃/μ) − λ)₊ for the eigenvalues s̃ of HSH = (YH)ᵀ(YH) — T3's law with
    the centred labels YH (the centred-steady-states step of E1)."""
    Y = v.labels("Y", Y)
    return water_filling_spectrum(Y @ centring(Y.shape[1]), lam, mu)


def penalty_level(s, lam, mu, nu) -> float:
    """E2's filled level for one label eigenvalue s: the root κ > 0 of (κ + λ)²(μ + νκ) = λs when s > λμ, else 0.
    The cubic is generated from the derivation's ``level_equation``; it is increasing in κ ≥ 0 (certified step
    "g decreasing"), so the root is bracketed by 0 and T3's level √(λs/μ) − λ and found by Brent's method."""
    lam, mu, nu = v.positive("lam", lam), v.positive("mu", mu), v.positive("nu", nu)
    s = float(s)
    if not s > lam * mu:
        return 0.0
    level = _level_code()
    upper = np.sqrt(lam * s / mu) - lam
    return brentq(lambda k: level(k, s, lam, mu, nu), 0.0, upper, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                  maxiter=500)


def penalty_law_spectrum(Y, lam, mu, nu) -> np.ndarray:
    """E2's law, descending, length n: :func:`penalty_level` of each eigenvalue of S = YᵀY."""
    Y = v.labels("Y", Y)
    s = np.clip(np.linalg.eigvalsh(Y.T @ Y)[::-1], 0.0, None)
    return np.sort([penalty_level(x, lam, mu, nu) for x in s])[::-1]


def flow_steady_state(rhs, K0, Y, *params, tol: float = TOL.steady_state, max_time: float = 1e5) -> np.ndarray:
    """K∞ of dK/dt = ``rhs(K, Y, *params)`` from K0, integrated by LSODA (rtol 1e-11) over growing horizons until
    ‖dK/dt‖_F ≤ tol·‖K‖_F (the steady-state criterion of docs/conventions.md); ConvergenceError past ``max_time``."""
    Y = v.labels("Y", Y)
    K = v.kernel("K0", K0, psd=True)
    n = K.shape[0]
    if n != Y.shape[1]:
        raise ValueError(f"K0 must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")

    def f(_, x):
        M = x.reshape(n, n)
        M = (M + M.T) / 2
        return rhs(M, Y, *params).ravel()

    t, horizon = 0.0, 10.0
    while t < max_time:
        scale = max(np.linalg.norm(K), 1e-300)
        sol = solve_ivp(f, (t, t + horizon), K.ravel(), method="LSODA", rtol=1e-11, atol=1e-16 * scale)
        if not sol.success:
            raise ConvergenceError(f"LSODA failed at t = {t:.3g}: {sol.message}")
        K = sol.y[:, -1].reshape(n, n)
        K = (K + K.T) / 2
        t += horizon
        if np.linalg.norm(rhs(K, Y, *params)) <= tol * max(np.linalg.norm(K), 1e-300):
            return K
        horizon *= 2
    raise ConvergenceError(f"no steady state by t = {max_time:g}: ‖dK/dt‖/‖K‖ = "
                           f"{np.linalg.norm(rhs(K, Y, *params)) / max(np.linalg.norm(K), 1e-300):.3g} > {tol:g}")


def _problem(K, Y, lam, mu):
    Y = v.labels("Y", Y)
    K = v.kernel("K", K)
    if K.shape[0] != Y.shape[1]:
        raise ValueError(f"K must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")
    return K, Y, v.positive("lam", lam), v.positive("mu", mu)
