"""Argument validation at the public boundary: clear errors that name the argument.

>>> positive("lam", 0.0)
Traceback (most recent call last):
...
ValueError: lam must be a finite number > 0, got 0.0
"""
from __future__ import annotations

import numbers

import numpy as np


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def positive(name: str, value) -> float:
    """``value`` as a float when it is a finite real number > 0.

    TypeError naming ``name`` for a bool or a non-real value; ValueError for 0, a negative number, NaN or inf."""
    x = _number(name, value)
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def nonnegative(name: str, value) -> float:
    """``value`` as a float when it is a finite real number ≥ 0.

    TypeError naming ``name`` for a bool or a non-real value; ValueError for a negative number, NaN or inf."""
    x = _number(name, value)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def _real_array(name: str, value, expected: str) -> np.ndarray:
    """float64 array of ``value``; TypeError naming ``name`` for non-numeric or complex input (never drops Im)."""
    try:
        arr = np.asarray(value)
        complex_ = arr.dtype.kind == "c"
        if not complex_:
            arr = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}") from exc
    if complex_:
        raise TypeError(f"{name} must be {expected}, got complex values")
    return arr


def matrix(name: str, value, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A finite float64 2-D array, optionally with a given number of rows/columns."""
    arr = _real_array(name, value, "a real 2-D array")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def kernel(name: str, value, *, psd: bool = False, rtol: float = 1e-10) -> np.ndarray:
    """A finite symmetric n × n float64 array (and positive semidefinite when ``psd``)."""
    K = matrix(name, value)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be square (n × n), got shape {K.shape}")
    scale = max(np.abs(K).max(), np.finfo(float).tiny)
    if np.abs(K - K.T).max() > rtol * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} − {name}ᵀ| = {np.abs(K - K.T).max():.3g}")
    if psd:
        smallest = np.linalg.eigvalsh((K + K.T) / 2)[0]
        if smallest < -1e-8 * scale:
            raise ValueError(f"{name} must be positive semidefinite; its smallest eigenvalue is {smallest:.3g}")
    return K


def labels(name: str, value, n: int | None = None) -> np.ndarray:
    """Targets Y, C × n with 1 <= C <= n."""
    Y = matrix(name, value, cols=n)
    if Y.shape[0] > Y.shape[1]:
        raise ValueError(f"{name} must be C × n with C <= n (outputs × samples), got shape {Y.shape}")
    return Y


def times(name: str, value) -> np.ndarray:
    """A strictly increasing 1-D array of times >= 0 (a scalar T means [0, T])."""
    arr = np.atleast_1d(_real_array(name, value, "a real time or 1-D array of times"))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite time or 1-D array of times, got {value!r}")
    if arr.size == 1:
        arr = np.array([0.0, arr[0]])
    if arr[0] < 0 or np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be increasing and start at a time >= 0, got {arr}")
    return arr


def finite_values(name: str, value, *, minimum: float | None = None) -> np.ndarray:
    """A finite real float64 array of any shape (a scalar gives a 0-d array), >= ``minimum`` when given."""
    arr = _real_array(name, value, "a real number or array")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and np.any(arr < minimum):
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return arr


def count(name: str, value, low: int, high: int | None = None) -> int:
    """An int (not a bool) in low..high (no upper bound when ``high`` is None), or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value
