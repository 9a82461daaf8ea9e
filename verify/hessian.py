"""Hessian outliers of a trained network's objective and the gradient's overlap with them (T10).

For a model of :mod:`verify.networks` with parameters θ (all arrays flattened, in ``parameter_names``
order) and training objective L(θ) = Σ_i ℓ(f_i, y_i) + Σ (decay/2)‖θ‖²:

    Hv ≈ (∇L(θ + εv) − ∇L(θ − εv)) / (2ε),   ε = HVP_STEP · max(1, ‖θ‖) / ‖v‖

(central differences of the analytic gradient; O(ε²) for smooth activations, and for ReLU exact
wherever no unit changes sign inside the step). The top eigenpairs come from Lanczos
(``scipy.sparse.linalg.eigsh``) on that operator, so no D × D matrix is formed. Gur-Ari, Roberts and
Dyer (2018) report about C outliers and a gradient that lies mostly in the top-C subspace:
``gradient_overlap`` = ‖V_Cᵀ g‖² / ‖g‖² with V_C the top-C eigenvectors.

>>> import numpy as np, theory
>>> from verify.networks import TwoLayer
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.standard_normal((3, 8)), np.eye(2)[:, rng.integers(0, 2, 8)]
>>> model = TwoLayer.random(rng, 3, 5, 2, 0.1, 0.1, "linear")
>>> H = dense_hessian(model, theory.losses.squared(2), X, Y)
>>> bool(np.allclose(H, H.T, atol=1e-6 * np.abs(H).max()))
True
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

#: relative finite-difference step of the Hessian-vector product (central differences: error ~ step²)
HVP_STEP = 1e-5


def flatten(model) -> np.ndarray:
    """θ: every trainable array of ``model``, raveled and concatenated in ``parameter_names`` order."""
    return np.concatenate([np.ravel(a) for a in model.parameters().values()])


def unflatten(model, theta) -> object:
    """A copy of ``model`` with its trainable arrays taken from the flat vector ``theta``."""
    theta = np.asarray(theta, dtype=float)
    size = sum(a.size for a in model.parameters().values())
    if theta.shape != (size,):
        raise ValueError(f"theta must have {size} entries (the model's parameter count), got shape {theta.shape}")
    arrays, start = {}, 0
    for name, array in model.parameters().items():
        arrays[name] = theta[start:start + array.size].reshape(array.shape)
        start += array.size
    return model._stepped(arrays)


def flat_gradient(model, loss, X, Y) -> np.ndarray:
    """∇L(θ) as a flat vector (analytic, decay included)."""
    grad = model.gradient(loss, X, Y)
    return np.concatenate([np.ravel(grad[name]) for name in model.parameter_names])


def hessian_vector_product(model, loss, X, Y, vector) -> np.ndarray:
    """Hv by central differences of the analytic gradient (module docstring)."""
    theta = flatten(model)
    vector = np.asarray(vector, dtype=float)
    if vector.shape != theta.shape:
        raise ValueError(f"vector must have shape {theta.shape} (one entry per parameter), got {vector.shape}")
    norm = np.linalg.norm(vector)
    if norm == 0:
        return np.zeros_like(theta)
    eps = HVP_STEP * max(1.0, np.linalg.norm(theta)) / norm
    plus = flat_gradient(unflatten(model, theta + eps * vector), loss, X, Y)
    minus = flat_gradient(unflatten(model, theta - eps * vector), loss, X, Y)
    return (plus - minus) / (2 * eps)


def dense_hessian(model, loss, X, Y) -> np.ndarray:
    """The D × D Hessian from D Hessian-vector products, symmetrised (small models: instrument checks)."""
    D = flatten(model).size
    H = np.column_stack([hessian_vector_product(model, loss, X, Y, e) for e in np.eye(D)])
    return (H + H.T) / 2


def top_hessian_eigenpairs(model, loss, X, Y, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k algebraically largest eigenvalues (descending) of ∇²L(θ) and their eigenvectors (D × k), by Lanczos."""
    theta = flatten(model)
    D = theta.size
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < D - 1:
        raise ValueError(f"k must be an int in 1..{D - 2} (fewer than the {D} parameters), got {k!r}")
    operator = LinearOperator((D, D), matvec=lambda x: hessian_vector_product(model, loss, X, Y, np.ravel(x)),
                              dtype=float)
    start = np.random.default_rng(seed).standard_normal(D)
    values, vectors = eigsh(operator, k=k, which="LA", v0=start, tol=1e-8)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def gradient_overlap(gradient, vectors) -> float:
    """‖Vᵀg‖² / ‖g‖²: the fraction of the gradient's squared norm inside the span of the orthonormal columns of V."""
    g = np.asarray(gradient, dtype=float)
    V = np.asarray(vectors, dtype=float)
    if V.ndim != 2 or V.shape[0] != g.size:
        raise ValueError(f"vectors must be D × k with D = {g.size} (the gradient's length), got shape {V.shape}")
    norm = float(g @ g)
    return float(np.sum((V.T @ g) ** 2) / norm) if norm > 0 else 0.0
