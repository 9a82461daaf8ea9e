"""The fixed-feature model's steady state as a convex problem (T5): nuclear-norm-regularised regression.

With Φ = UΨ and ℓ2 penalties (λ/2)‖W‖² + (μ/2)‖U‖², only M = WU (C × p) enters the loss, and
min over factorisations of (λ/2)‖W‖² + (μ/2)‖U‖² with WU = M is √(λμ)‖M‖_* (balanced factors).
For the squared loss the coupled flow's minimum therefore solves

    min_M ½‖MΨ − Y‖² + √(λμ)‖M‖_*,

computed here by accelerated proximal gradient (FISTA) with singular-value soft-thresholding —
an independent route to compare the coupled flow against.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Psi, Y = rng.standard_normal((5, 8)), rng.standard_normal((2, 8))
>>> M = nuclear_norm_regression(Psi, Y, 0.3)
>>> float(np.linalg.norm(M)) > 0
True
"""
from __future__ import annotations

import numpy as np

from verify.core import validation as v
from verify.core.errors import ConvergenceError


def singular_value_threshold(M: np.ndarray, tau: float) -> np.ndarray:
    """prox of τ‖·‖_*: U diag((σ − τ)₊) Vᵀ."""
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return (U * np.maximum(s - tau, 0.0)) @ Vt


def nuclear_norm_regression(Psi, Y, strength, *, tol: float = 1e-13, max_iter: int = 200000) -> np.ndarray:
    """argmin_M ½‖MΨ − Y‖_F² + strength·‖M‖_* by FISTA (step 1/‖Ψ‖₂²), stopped when the fixed-point
    residual ‖M − prox(M − step·∇)‖/‖M‖ < ``tol``."""
    Psi, Y = v.matrix("Psi", Psi), v.matrix("Y", Y)
    if Psi.shape[1] != Y.shape[1]:
        raise ValueError(f"Psi (p × n) and Y (C × n) must have the same n, got {Psi.shape} and {Y.shape}")
    strength = v.positive("strength", strength)
    step = 1.0 / np.linalg.norm(Psi, 2) ** 2
    M = np.zeros((Y.shape[0], Psi.shape[0]))
    Z, t = M.copy(), 1.0
    for _ in range(max_iter):
        M_next = singular_value_threshold(Z - step * (Z @ Psi - Y) @ Psi.T, step * strength)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Z = M_next + (t - 1) / t_next * (M_next - M)
        M, t = M_next, t_next
        fixed = singular_value_threshold(M - step * (M @ Psi - Y) @ Psi.T, step * strength)
        if np.linalg.norm(fixed - M) <= tol * max(np.linalg.norm(M), np.finfo(float).tiny):
            return M
    raise ConvergenceError(f"proximal gradient did not converge in {max_iter} iterations")
