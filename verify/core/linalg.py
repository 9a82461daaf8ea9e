"""Ranks, closeness and symmetric coordinates: the numerical conventions of docs/conventions.md.

>>> import numpy as np
>>> numerical_rank(np.diag([1.0, 1e-3, 1e-14]))
2
>>> certified_rank(np.array([[1.0, 2.0], [2.0, 4.0]]))
1
"""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from verify.core.tolerances import TOL
from verify.core.validation import matrix, positive


def relative_error(actual, expected) -> float:
    """‖actual − expected‖_F / ‖expected‖_F (absolute when expected = 0); refuses broadcasting and non-finite values."""
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape} (no broadcasting in comparisons)")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    # both sides divided by one power of two near their largest entry: the norms cannot overflow
    top = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
    unit = float(np.ldexp(1.0, np.frexp(top)[1] - 1)) if top > 0 else 1.0
    scale = np.linalg.norm(b / unit)
    diff = np.linalg.norm(a / unit - b / unit)
    return float(diff / scale) if scale > 0 else float(diff * unit)


def singular_values(M) -> np.ndarray:
    """σ(M), descending; OverflowError when the largest does not fit in float64 (entries near 1.8e308)."""
    sv, scale = _scaled_singular_values(M)
    with np.errstate(over="ignore"):
        out = sv * scale
    if not np.all(np.isfinite(out)):
        raise OverflowError(f"M: its largest singular value ({sv[0]:.3g} × {scale:.3g}) overflows float64; "
                            "scale M down (ranks and ratios of singular values do not depend on the scale)")
    return out


def binary_scale(A) -> float:
    """A power of two 2^e with max|A_ij| in [2^e, 2^(e+1)) (1 for A = 0): dividing by it is exact and leaves
    entries of order 1, so products and sums of squares of A/2^e cannot overflow."""
    top = float(np.abs(np.asarray(A, dtype=float)).max(initial=0.0))
    return float(np.ldexp(1.0, np.frexp(top)[1] - 1)) if top > 0 else 1.0


def _scaled_singular_values(M) -> tuple[np.ndarray, float]:
    """σ(M/2^e) and 2^e ≈ max|M_ij| (an exact power of two): the SVD never sees an overflowing sum of squares."""
    A = matrix("M", M)
    scale = binary_scale(A)
    return np.linalg.svd(A / scale, compute_uv=False), scale


def numerical_rank(M, rtol: float = TOL.rank_rtol) -> int:
    """#{σ_i > rtol · σ_max}: the rank up to relative threshold ``rtol`` (0 for the zero matrix; any scale)."""
    rtol = positive("rtol", rtol)
    sv, _ = _scaled_singular_values(M)
    if sv[0] == 0:
        return 0
    return int(np.sum(sv > rtol * sv[0]))


def rank_margin(M, rtol: float = TOL.rank_rtol) -> float:
    """Distance (in factors) from the threshold rtol·σ_max to the nearest singular value; ∞ if none near."""
    sv, _ = _scaled_singular_values(M)
    if sv[0] == 0:
        return float("inf")
    ratios = sv / (rtol * sv[0])
    ratios = ratios[ratios > 0]
    return float(np.min(np.maximum(ratios, 1 / ratios))) if ratios.size else float("inf")


def exact_rank(M) -> int:
    """Rank of the exact rational matrix whose entries are the given floats (a float is an exact rational)."""
    A = matrix("M", M)
    rows = [[QQ(Fraction(float(x)).numerator, Fraction(float(x)).denominator) for x in row] for row in A]
    return DomainMatrix(rows, A.shape, QQ).rank()


def high_precision_rank(M, rtol: float = TOL.rank_rtol, digits: int = 50) -> int:
    """Numerical rank with singular values computed by mpmath at ``digits`` digits from the exact float entries."""
    A = matrix("M", M)
    with mpmath.workdps(digits):
        sv = mpmath.svd_r(mpmath.matrix(A.tolist()), compute_uv=False)
        values = sorted((abs(v) for v in sv), reverse=True)
        if values[0] == 0:
            return 0
        return sum(1 for v in values if v > rtol * values[0])


def certified_rank(M, rtol: float | None = None) -> int:
    """A rank that does not depend on floating-point SVD.

    ``rtol=None``: the exact rank of the matrix of the given numbers (exact rational arithmetic;
    meant for matrices built exactly, e.g. from rational instances — rounding noise counts).
    ``rtol`` given: the rank at relative threshold ``rtol`` with singular values computed at
    50 digits, to confirm a float rank whose singular values lie near the threshold.
    """
    return exact_rank(M) if rtol is None else high_precision_rank(M, positive("rtol", rtol))


def confirmed_rank(M, rtol: float = TOL.rank_rtol) -> int:
    """numerical_rank, confirmed in high precision when a singular value lies within TOL.rank_margin of the threshold."""
    if rank_margin(M, rtol) < TOL.rank_margin:
        return high_precision_rank(M, rtol)
    return numerical_rank(M, rtol)


# ----------------------------------------------------------------------------------------------
# symmetric coordinates: the n(n+1)/2 upper-triangular entries of a symmetric matrix


def to_symmetric_coordinates(K: np.ndarray) -> np.ndarray:
    """The n(n + 1)/2 upper-triangular entries of a symmetric n × n matrix, row by row (``numpy.triu_indices``
    order): the coordinates the Jacobians of the kernel ODE act on. Inverse: :func:`from_symmetric_coordinates`."""
    return K[np.triu_indices(K.shape[0])]


def from_symmetric_coordinates(x: np.ndarray, n: int) -> np.ndarray:
    """The symmetric n × n matrix whose upper-triangular entries (``numpy.triu_indices`` order) are ``x``: the
    inverse of :func:`to_symmetric_coordinates`."""
    K = np.zeros((n, n), dtype=x.dtype)
    K[np.triu_indices(n)] = x
    return K + np.triu(K, 1).T


def frobenius_weights(n: int) -> np.ndarray:
    """Weights making the Euclidean norm of symmetric coordinates the Frobenius norm of the matrix."""
    rows, cols = np.triu_indices(n)
    return np.where(rows == cols, 1.0, np.sqrt(2.0))
