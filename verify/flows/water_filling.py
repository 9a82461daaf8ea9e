"""Numeric water-filling law (T3), generated from ``theory.derive_water_filling()``.

    κ∞(s) = (√(λs/μ) − λ)₊   for each eigenvalue s of S = YᵀY (s_i = σ_i(Y)², zero beyond rank Y)

and the closed-form time t(κ; κ₀, s) for a mode to go from κ₀ to κ. Eigenvalues of S come from
the SVD of the C × n matrix Y; no n × n matrix is formed.

>>> import numpy as np
>>> water_filling_spectrum(np.array([[2.0, 0.0, 0.0]]), lam=1.0, mu=1.0)
array([1., 0., 0.])
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

import theory
from theory import notation as nt
from verify.core import validation as v
from verify.core.linalg import binary_scale


@lru_cache(maxsize=None)
def _law():
    law = theory.derive_water_filling()
    stable = sp.lambdify((nt.s, nt.lam, nt.mu), law.stable_value, modules="numpy")
    time = sp.lambdify((nt.kappa, nt.kappa0, nt.s, nt.lam, nt.mu), law.time_to_reach, modules="numpy")
    mode = sp.lambdify((nt.kappa, nt.s, nt.lam, nt.mu), law.mode_rhs, modules="numpy")
    return stable, time, mode


def label_spectrum(Y) -> np.ndarray:
    """Eigenvalues of S = YᵀY, descending, length n (σ_i(Y)² then zeros)."""
    Y = v.matrix("Y", Y)
    sigma = np.linalg.svd(Y, compute_uv=False)
    out = np.zeros(Y.shape[1])
    out[: sigma.size] = sigma**2
    return out


def mode_value(s, lam, mu) -> np.ndarray:
    """κ∞ = (√(λs/μ) − λ)₊ elementwise for label eigenvalues ``s`` ≥ 0 (the Piecewise from theory)."""
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    s = np.asarray(s, dtype=np.float64)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError("s must be finite and >= 0 (eigenvalues of YᵀY)")
    return np.asarray(_law()[0](s, lam, mu), dtype=np.float64) * np.ones_like(s)


def water_filling_spectrum(Y, lam, mu) -> np.ndarray:
    """Predicted eigenvalues of K∞, descending, length n: κ∞(s_i) for the eigenvalues s_i of YᵀY.

    Requires μ > 0: with μ = 0 there is no finite steady state for labelled modes (the law's
    √(λs/μ) diverges), which is one of the negative controls. Labels whose squares overflow or underflow
    (|Y| > 1e150 or < 1e-150) use the flow's symmetry κ∞(c²s, cλ, cμ) = c·κ∞(s, λ, μ) with c a power of two near max|Y|.
    """
    Y = v.labels("Y", Y)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    top = np.abs(Y).max()
    c = binary_scale(Y) if top > 1e150 or 0 < top < 1e-150 else 1.0
    if c != 1.0:
        with np.errstate(over="ignore", under="ignore"):
            lam_c, mu_c = lam / c, mu / c
        if not (0 < lam_c < np.inf and 0 < mu_c < np.inf):
            raise ValueError(f"Y: max|Y| = {top:.3g} with lam = {lam:.3g}, mu = {mu:.3g} spans more than float64's "
                             "range (|Y|² over- or underflows and λ/|Y|, μ/|Y| leave it too); rescale the problem")
        with np.errstate(over="ignore"):
            law = c * np.sort(mode_value(label_spectrum(Y / c), lam_c, mu_c))[::-1]
    else:
        law = np.sort(mode_value(label_spectrum(Y), lam, mu))[::-1]
    if not np.all(np.isfinite(law)):  # √(λs/μ) beyond float64: the true law cannot be returned
        raise OverflowError(f"Y, lam, mu: the law's largest eigenvalue √(λs/μ) − λ exceeds float64 "
                            f"(max|Y| = {top:.3g}, lam = {lam:.3g}, mu = {mu:.3g}); rescale the problem")
    return law


def mode_rhs(kappa, s, lam, mu) -> np.ndarray:
    """dκ/dt = 2κ[λs/(κ + λ)² − μ] (generated from the derived mode ODE)."""
    return _law()[2](np.asarray(kappa, dtype=float), np.asarray(s, dtype=float), float(lam), float(mu))


def time_to_reach(kappa, kappa0, s, lam, mu) -> np.ndarray:
    """Closed-form t(κ) = ∫_{κ₀}^{κ} dk / f(k): the time a mode needs to go from κ₀ to κ.

    Defined only where the mode actually travels from κ₀ to κ: κ, κ₀ > 0 (κ = 0 is a fixed point),
    s ≠ λμ (at the threshold the two fixed points merge), and κ, κ₀ strictly on the same side of
    the fixed point κ* = √(λs/μ) − λ when s > λμ (it is never crossed). ValueError otherwise.
    """
    kappa, kappa0 = v.finite_values("kappa", kappa, minimum=0.0), v.finite_values("kappa0", kappa0, minimum=0.0)
    s = v.finite_values("s", s, minimum=0.0)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    if np.any(kappa == 0) or np.any(kappa0 == 0):
        raise ValueError("kappa and kappa0 must be > 0: κ = 0 is a fixed point, reached or left only in infinite time")
    if np.any(np.isclose(s, lam * mu, rtol=1e-12, atol=0)):
        raise ValueError(f"s must differ from the threshold λμ = {lam * mu:g}: there the closed form is singular")
    star = np.sqrt(lam * s / mu) - lam
    crossing = (s > lam * mu) & ((kappa - star) * (kappa0 - star) <= 0)
    if np.any(crossing):
        raise ValueError("kappa and kappa0 must lie strictly on the same side of the fixed point "
                         "κ* = √(λs/μ) − λ, which the mode never crosses")
    return _law()[1](kappa, kappa0, s, lam, mu)
