"""Real data: scikit-learn's digits (1797 × 64, 10 classes, shipped with the package, no download).

scikit-learn is an optional extra (``pip install 'kernel-flows[data]'``; the ``test`` extra includes it);
without it :func:`load_digits` raises an ImportError naming the extra. Loaders return plain arrays:
X (d × n, columns = samples), labels (n,) and images (n × 8 × 8).

>>> X, labels, images = load_digits(n=50, seed=0)
>>> X.shape, images.shape, sorted(set(labels.tolist()))[:3]
((64, 50), (50, 8, 8), [0, 1, 2])
"""
from __future__ import annotations

import numpy as np


def load_digits(n: int | None = None, seed: int = 0):
    """(X, labels, images) for n digits drawn without replacement (all 1797 when n is None), pixels in [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:  # optional dependency
        raise ImportError("the digits data need scikit-learn: pip install 'kernel-flows[data]'") from exc
    digits = sklearn_digits()
    images, labels = digits.images / 16.0, digits.target
    if n is not None:
        if not 1 <= n <= len(labels):
            raise ValueError(f"n must be in 1..{len(labels)}, got {n}")
        pick = np.sort(np.random.default_rng(seed).choice(len(labels), size=n, replace=False))
        images, labels = images[pick], labels[pick]
    return images.reshape(len(labels), -1).T.copy(), labels.copy(), images.copy()


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The image moved by (dx, dy) pixels, zero-filled (an augmentation)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h + min(-dy, 0),
                                                                      max(-dx, 0):w + min(-dx, 0)]
    return out


def augmentation_graph(images: np.ndarray, k: int, shifts=((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))) -> np.ndarray:
    """Symmetric 0/1 adjacency: i ~ j when j is among the k nearest images to some augmentation (pixel shift)
    of image i, distance d(i, j) = min_s ‖shift_s(x_i) − x_j‖."""
    n = images.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in 1..n-1={n - 1}, got {k}")
    flat = images.reshape(n, -1)
    dist = np.full((n, n), np.inf)
    for dx, dy in shifts:
        moved = np.stack([shifted(img, dx, dy) for img in images]).reshape(n, -1)
        d = np.linalg.norm(moved[:, None, :] - flat[None, :, :], axis=-1)
        dist = np.minimum(dist, d)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :k]
    A = np.zeros((n, n))
    A[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(A, A.T)
