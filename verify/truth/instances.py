"""Random instances: labels, kernels, features. Plain functions of a ``numpy.random.Generator``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> one_hot_labels(rng, n=6, C=3).sum(axis=1)
array([2., 2., 2.])
"""
from __future__ import annotations

import numpy as np


def _check_sizes(n: int, C: int) -> None:
    if not (isinstance(n, (int, np.integer)) and isinstance(C, (int, np.integer))):
        raise TypeError(f"n and C must be ints, got {type(n).__name__} and {type(C).__name__}")
    if C < 1 or n < C:
        raise ValueError(f"need 1 <= C <= n, got n={n}, C={C}")


def one_hot_labels(rng: np.random.Generator, n: int, C: int) -> np.ndarray:
    """C × n one-hot targets, every class present (balanced up to one sample), in random order."""
    _check_sizes(n, C)
    classes = rng.permutation(np.arange(n) % C)
    return np.eye(C)[:, classes]


def real_labels(rng: np.random.Generator, n: int, C: int) -> np.ndarray:
    """C × n real-valued targets with i.i.d. standard normal entries (regression)."""
    _check_sizes(n, C)
    return rng.standard_normal((C, n))


def labels_with_spectrum(rng: np.random.Generator, n: int, sigma) -> np.ndarray:
    """C × n targets with prescribed singular values ``sigma`` and random singular vectors.

    Used to put label modes s = σ² on both sides of the water-filling threshold λμ.
    """
    sigma = np.asarray(sigma, dtype=float)
    C = sigma.size
    _check_sizes(n, C)
    U, _ = np.linalg.qr(rng.standard_normal((C, C)))
    V, _ = np.linalg.qr(rng.standard_normal((n, C)))
    return U @ np.diag(sigma) @ V.T


def features(rng: np.random.Generator, m: int, n: int, scale: float = 1.0) -> np.ndarray:
    """m × n features Φ with i.i.d. N(0, scale²/m) entries, so K = ΦᵀΦ has O(scale²) diagonal."""
    return scale * rng.standard_normal((m, n)) / np.sqrt(m)


def generic_kernel(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """A full-rank PSD n × n kernel in general position (commutes with no given label Gram)."""
    Phi = features(rng, n + 2, n, scale)
    return Phi.T @ Phi


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A float drawn log-uniformly from [``low``, ``high``]: exp(u) with u uniform on [ln low, ln high] (both > 0)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def gaussian_mixture(rng: np.random.Generator, n: int, C: int, d: int, separation: float = 3.0):
    """(X, Y): n points in d dimensions from C Gaussian classes (unit covariance, means at distance
    ``separation`` along random directions), X d × n, Y one-hot C × n, classes balanced."""
    _check_sizes(n, C)
    Y = one_hot_labels(rng, n, C)
    means = separation * rng.standard_normal((d, C)) / np.sqrt(2.0)
    X = means @ Y + rng.standard_normal((d, n))
    return X, Y


def laplacian(A: np.ndarray) -> np.ndarray:
    """Combinatorial graph Laplacian D − A of a symmetric nonnegative adjacency matrix."""
    return np.diag(A.sum(axis=1)) - A


def stochastic_block_model(rng: np.random.Generator, n: int, blocks: int, p_in: float, p_out: float):
    """(A, labels): symmetric 0/1 adjacency with edge probability p_in inside blocks and p_out across."""
    _check_sizes(n, blocks)
    labels = rng.permutation(np.arange(n) % blocks)
    probs = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = np.triu(rng.random((n, n)) < probs, 1)
    A = (upper | upper.T).astype(float)
    return A, labels


def random_geometric_graph(rng: np.random.Generator, n: int, radius: float, dim: int = 2):
    """(A, points): n uniform points in [0, 1]^dim, joined when closer than ``radius``."""
    points = rng.random((n, dim))
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    A = ((dist < radius) & ~np.eye(n, dtype=bool)).astype(float)
    return A, points


def knn_graph(X: np.ndarray, k: int) -> np.ndarray:
    """Symmetric 0/1 adjacency joining each column of X (d × n) to its k nearest neighbours (either way)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[1]
    if not 1 <= k < n:
        raise ValueError(f"k must be in 1..n-1={n - 1}, got {k}")
    dist = np.linalg.norm(X[:, :, None] - X[:, None, :], axis=0)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :k]
    A = np.zeros((n, n))
    A[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(A, A.T)
