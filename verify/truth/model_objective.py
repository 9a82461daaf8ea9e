"""Ground truth for a derived model: the kernel velocity from the objective's *values* alone.

For an objective L(Z, Φ) quadratic in the eliminated variables Z (the readout W, a bias b, …) the minimiser is read
off values of L: with z = vec Z, L(z) = ½zᵀHz + gᵀz + c, and second differences of L at z = 0 with a unit step give
H and g exactly up to rounding (a quadratic has no higher terms), so z* = −H⁻¹g. The reduced objective
L̃(Φ) = L(z*(Φ), Φ) is then differentiated by the complex step, ∂L̃/∂Φ_ij = Im L̃(Φ + i·h·E_ij)/h (h = 1e-30: no
subtractive cancellation, exact to rounding for the rational functions of the objective language), and

    dK/dt = Φ̇ᵀΦ + ΦᵀΦ̇,    Φ̇ = −∇_Φ L̃.

Nothing here uses a derivative, a readout formula or a right-hand side derived by the theory: only a callable that
evaluates L at given matrices (complex ones included).

>>> import numpy as np
>>> def L(W, Phi, Y, lam, mu):      # ½‖WΦ − Y‖² + λ/2‖W‖² + μ/2‖Φ‖² (sums of squares, analytic: no abs)
...     R = W @ Phi - Y
...     return 0.5 * np.sum(R * R) + lam / 2 * np.sum(W * W) + mu / 2 * np.sum(Phi * Phi)
>>> Phi, Y = np.eye(2), np.array([[1.0, 0.0]])
>>> kernel_velocity(L, Phi, {"W": (1, 2)}, {"Y": Y, "lam": 1.0, "mu": 0.5}).round(6)
array([[-0.5,  0. ],
       [ 0. , -1. ]])
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

#: the complex step: far below rounding of any entry, far above the smallest normal number
COMPLEX_STEP = 1e-30


def _unpack(z, shapes: Mapping) -> dict:
    out, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = z[start:start + size].reshape(shape)
        start += size
    return out


def eliminated_minimiser(value: Callable, Phi, shapes: Mapping, fixed: Mapping) -> dict:
    """The minimiser {name: matrix} of ``value(**Z, Phi=Phi, **fixed)`` over the variables of ``shapes``, for an
    objective quadratic in them, from values alone (module docstring); ValueError when H is not positive definite."""
    size = sum(int(np.prod(s)) for s in shapes.values())
    dtype = np.result_type(Phi, float)

    def at(z):
        return value(**_unpack(z, shapes), Phi=Phi, **fixed)

    zero = np.zeros(size, dtype=dtype)
    base = at(zero)
    eye = np.eye(size)
    plus = [at(eye[i].astype(dtype)) for i in range(size)]
    minus = [at(-eye[i].astype(dtype)) for i in range(size)]
    g = np.array([(p - q) / 2 for p, q in zip(plus, minus)])
    H = np.empty((size, size), dtype=dtype)
    for i in range(size):
        H[i, i] = plus[i] - 2 * base + minus[i]
        for j in range(i + 1, size):
            H[i, j] = H[j, i] = at((eye[i] + eye[j]).astype(dtype)) - plus[i] - plus[j] + base
    real = H.real
    if not np.all(np.isfinite(real)) or np.linalg.eigvalsh((real + real.T) / 2)[0] <= 0:
        raise ValueError("the objective is not strictly convex in the eliminated variables at this Φ")
    return _unpack(np.linalg.solve(H, -g), shapes)


def objective_at_minimiser(value: Callable, Phi, shapes: Mapping, fixed: Mapping):
    """L̃(Φ) = min over the variables of ``shapes`` of ``value`` (module docstring)."""
    return value(**eliminated_minimiser(value, Phi, shapes, fixed), Phi=Phi, **fixed)


def feature_gradient(value: Callable, Phi, shapes: Mapping, fixed: Mapping) -> np.ndarray:
    """∇_Φ L̃ by the complex step, one entry of Φ at a time."""
    Phi = np.asarray(Phi, dtype=float)
    out = np.empty_like(Phi)
    for index in np.ndindex(Phi.shape):
        moved = Phi.astype(complex)
        moved[index] += 1j * COMPLEX_STEP
        out[index] = np.imag(objective_at_minimiser(value, moved, shapes, fixed)) / COMPLEX_STEP
    return out


def kernel_velocity(value: Callable, Phi, shapes: Mapping, fixed: Mapping) -> np.ndarray:
    """dK/dt = Φ̇ᵀΦ + ΦᵀΦ̇ with Φ̇ = −∇_Φ L̃ (module docstring)."""
    Phi = np.asarray(Phi, dtype=float)
    Phi_dot = -feature_gradient(value, Phi, shapes, fixed)
    return Phi_dot.T @ Phi + Phi.T @ Phi_dot
