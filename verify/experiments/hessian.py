"""Hessian of a network's training objective: exact Hessian-vector products, outliers, gradient overlap (T10).

For a model of :mod:`verify.experiments.networks` with parameters θ (all arrays flattened, in ``parameter_names``
order) and training objective L(θ) = Σ_i ℓ(f_i, y_i) + Σ (decay/2)‖θ‖², the product Hv = ∇²L(θ)v is
the directional derivative of the analytic gradient, d/dt ∇L(θ + tv) at t = 0, carried through the
forward and backward pass (the R-operator, Pearlmutter 1994: forward-over-reverse). With F = WΦ,
G = ∂ℓ/∂F (C × n), P = WᵀG = ∂L_data/∂Φ and, per sample, the loss Hessian ∇²ℓ_i (C × C):

    dF = dW·Φ + W·dΦ,        dG_i = ∇²ℓ_i · dF_i,        dP = dWᵀG + WᵀdG
    (Hv)_W = dG·Φᵀ + G·dΦᵀ + λ·dW

and per model (σ' and σ'' evaluated at the pre-activations Z = AX + b1ᵀ of the point θ):

    UFM            dΦ = dΦ_param                 (Hv)_Φ = dP + μ·dΦ
    FixedFeatures  dΦ = dU·Ψ                     (Hv)_U = dP·Ψᵀ + μ·dU
    TwoLayer       dZ = dA·X + db·1ᵀ,  dΦ = σ'(Z) ⊙ dZ,  dΔ = dP ⊙ σ'(Z) + P ⊙ σ''(Z) ⊙ dZ,
                   (Hv)_A = dΔ·Xᵀ + μ·dA,  (Hv)_b = dΔ·1 + μ·db

This is exact (up to rounding) for smooth activations. For ReLU, L is a polynomial on each region of
fixed activation pattern s = (Z > 0); there σ' = s and σ'' = 0, and Hv is the exact Hessian of that
polynomial piece at θ — the Hessian of L wherever it exists (no unit at its kink), and the same
one-sided piece (σ'(0) = 0, the convention of the gradient) where a unit sits exactly at 0.

Finite differences of the gradient are kept only as cross-checks: :func:`finite_difference_hvp` (the
former instrument, a central difference with step HVP_STEP·max(1, ‖θ‖)/‖v‖, which is wrong whenever a
pre-activation changes sign inside the step) and :func:`finite_difference_hessian` (column by column,
with steps that provably keep the activation pattern, which it checks).

The top eigenpairs come from Lanczos (``scipy.sparse.linalg.eigsh``) on the exact operator, so no
D × D matrix is formed. Gur-Ari, Roberts and Dyer (2018) report about C outliers and a gradient that
lies mostly in the top-C subspace: ``gradient_overlap`` = ‖V_Cᵀ g‖² / ‖g‖² with V_C the top-C eigenvectors.

>>> import numpy as np, theory
>>> from verify.experiments.networks import TwoLayer
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.standard_normal((3, 8)), np.eye(2)[:, rng.integers(0, 2, 8)]
>>> model = TwoLayer.random(rng, 3, 5, 2, 0.1, 0.1, "relu")
>>> loss = theory.losses.squared(2)
>>> H = dense_hessian(model, loss, X, Y)
>>> bool(np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max())
True
>>> bool(np.allclose(H, finite_difference_hessian(model, loss, X, Y), rtol=0, atol=1e-7 * np.abs(H).max()))
True
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from verify.core import validation as v
from verify.core.loss_numeric import numeric_hessian
from verify.core.tolerances import TOL
from verify.experiments.networks import (
    UFM,
    FixedFeatures,
    Model,
    TwoLayer,
    loss_functions,
)

#: relative step of the finite-difference cross-check :func:`finite_difference_hvp` (the former instrument):
#: ε = HVP_STEP·max(1, ‖θ‖)/‖v‖ — O(ε²) for smooth activations, wrong by O(jump/ε) when a ReLU crosses
#: its kink
HVP_STEP = 1e-5
#: relative base step of :func:`finite_difference_hessian`, before it is shrunk to keep the activation pattern
DENSE_STEP = 1e-3

#: σ'(Z) and σ''(Z) of each activation of :data:`verify.experiments.networks.ACTIVATIONS`; ReLU: σ'(0) = 0 as in the
#: gradient, σ'' = 0 on every region of fixed activation pattern
ACTIVATION_DERIVATIVES = {
    "relu": (lambda Z: (Z > 0).astype(float), lambda Z: np.zeros_like(Z)),
    "linear": (lambda Z: np.ones_like(Z), lambda Z: np.zeros_like(Z)),
}


def _check_model(model) -> Model:
    if not isinstance(model, (UFM, FixedFeatures, TwoLayer)):
        raise TypeError(f"model must be a UFM, FixedFeatures or TwoLayer model, got {type(model).__name__}")
    return model


def flatten(model) -> np.ndarray:
    """θ: every trainable array of ``model``, raveled and concatenated in ``parameter_names`` order."""
    return np.concatenate([np.ravel(a) for a in _check_model(model).parameters().values()])


def _split(model, theta, name="theta") -> dict[str, np.ndarray]:
    """The flat vector ``theta`` cut into arrays shaped like the model's parameters (``name`` in errors)."""
    theta = np.asarray(theta, dtype=float)
    shapes = {key: a.shape for key, a in model.parameters().items()}
    size = sum(int(np.prod(s)) for s in shapes.values())
    if theta.shape != (size,):
        raise ValueError(f"{name} must have {size} entries (the model's parameter count), got shape {theta.shape}")
    arrays, start = {}, 0
    for key, shape in shapes.items():
        count = int(np.prod(shape))
        arrays[key] = theta[start:start + count].reshape(shape)
        start += count
    return arrays


def unflatten(model, theta) -> object:
    """A copy of ``model`` with its trainable arrays taken from the flat vector ``theta``."""
    return _check_model(model)._stepped(_split(model, theta))


def flat_gradient(model, loss, X, Y) -> np.ndarray:
    """∇L(θ) as a flat vector (analytic, decay included)."""
    grad = _check_model(model).gradient(loss, X, Y)
    return np.concatenate([np.ravel(grad[name]) for name in model.parameter_names])


class HessianOperator:
    """v ↦ ∇²L(θ)v at the point ``model`` by the R-operator (equations in the module docstring).

    The forward pass, G and the per-sample loss Hessians are computed once here; each product then
    costs about two forward-backward passes. ``matvec(v)`` takes and returns flat vectors (D,);
    ``linear_operator()`` wraps it for SciPy.
    """

    def __init__(self, model, loss, X, Y):
        self.model = _check_model(model)
        C = model.W.shape[0]
        _, grad = loss_functions(loss, C)
        self.X = model._inputs(X)
        self.Y = model._targets(Y, X)
        if isinstance(model, TwoLayer):
            if model.activation not in ACTIVATION_DERIVATIVES:
                raise NotImplementedError(f"no σ', σ'' for activation {model.activation!r}; "
                                          f"known: {sorted(ACTIVATION_DERIVATIVES)}")
            first, second = ACTIVATION_DERIVATIVES[model.activation]
            self.Z = model.A @ self.X + model.b[:, None]
            self.slope, self.curvature = first(self.Z), second(self.Z)
        self.Phi = model._forward(self.X)[0]
        F = model.W @ self.Phi
        self.G = grad(F, self.Y)
        self.loss_hessian = numeric_hessian(loss)(F, self.Y)  # C × C × n
        self.P = model.W.T @ self.G
        self.size = sum(a.size for a in model.parameters().values())

    def matvec(self, vector) -> np.ndarray:
        """Hv for a flat direction ``vector`` of D entries (one per parameter)."""
        model = self.model
        d = _split(model, vector, "vector")
        decays = model.decays()
        if isinstance(model, UFM):
            dPhi = d["Phi"] if self.X is None else d["Phi"][:, self.X]
        elif isinstance(model, FixedFeatures):
            Psi = model._psi(self.X)
            dPhi = d["U"] @ Psi
        else:
            dZ = d["A"] @ self.X + d["b"][:, None]
            dPhi = self.slope * dZ
        dF = d["W"] @ self.Phi + model.W @ dPhi
        dG = np.einsum("abi,bi->ai", self.loss_hessian, dF)
        out = {"W": dG @ self.Phi.T + self.G @ dPhi.T + decays["W"] * d["W"]}
        dP = d["W"].T @ self.G + model.W.T @ dG
        if isinstance(model, UFM):
            out["Phi"] = dP + decays["Phi"] * d["Phi"]
        elif isinstance(model, FixedFeatures):
            out["U"] = dP @ Psi.T + decays["U"] * d["U"]
        else:
            dDelta = dP * self.slope + self.P * self.curvature * dZ
            out["A"] = dDelta @ self.X.T + decays["A"] * d["A"]
            out["b"] = dDelta.sum(axis=1) + decays["b"] * d["b"]
        return np.concatenate([np.ravel(out[name]) for name in model.parameter_names])

    def linear_operator(self) -> LinearOperator:
        """The D × D operator for ``scipy.sparse.linalg`` (symmetric)."""
        return LinearOperator((self.size, self.size), matvec=lambda x: self.matvec(np.ravel(x)), dtype=float)


def hessian_vector_product(model, loss, X, Y, vector) -> np.ndarray:
    """Hv = ∇²L(θ)v, exact: the R-operator of :class:`HessianOperator` (module docstring)."""
    return HessianOperator(model, loss, X, Y).matvec(vector)


def dense_hessian(model, loss, X, Y, *, symmetrise: bool = True) -> np.ndarray:
    """The D × D Hessian, column k = H e_k from the exact product; symmetrised (H + Hᵀ)/2 unless told not to."""
    op = HessianOperator(model, loss, X, Y)
    H = np.column_stack([op.matvec(e) for e in np.eye(op.size)])
    return (H + H.T) / 2 if symmetrise else H


def top_hessian_eigenpairs(model, loss, X, Y, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k algebraically largest eigenvalues (descending) of ∇²L(θ) and their eigenvectors (D × k), by Lanczos
    on the exact product (convergence tolerance TOL.lanczos, relative to the eigenvalues)."""
    op = HessianOperator(model, loss, X, Y)
    D = op.size
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < D - 1:
        raise ValueError(f"k must be an int in 1..{D - 2} (fewer than the {D} parameters), got {k!r}")
    start = np.random.default_rng(seed).standard_normal(D)
    values, vectors = eigsh(op.linear_operator(), k=k, which="LA", v0=start, tol=TOL.lanczos)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def top_hessian_eigenvalue(model, loss, X, Y, seed: int = 0) -> float:
    """λ_max(∇²L(θ)), the algebraically largest eigenvalue (Lanczos on the exact product)."""
    return float(top_hessian_eigenpairs(model, loss, X, Y, 1, seed=seed)[0][0])


def gradient_overlap(gradient, vectors) -> float:
    """‖Vᵀg‖² / ‖g‖²: the fraction of the gradient's squared norm inside the span of the orthonormal columns of V."""
    g = np.asarray(gradient, dtype=float)
    V = np.asarray(vectors, dtype=float)
    if V.ndim != 2 or V.shape[0] != g.size:
        raise ValueError(f"vectors must be D × k with D = {g.size} (the gradient's length), got shape {V.shape}")
    norm = float(g @ g)
    return float(np.sum((V.T @ g) ** 2) / norm) if norm > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# cross-checks: finite differences of the analytic gradient


def activation_pattern(model, X) -> np.ndarray:
    """s = (Z > 0), m × n, for a ReLU TwoLayer (Z = AX + b1ᵀ); an empty array for models whose objective is
    smooth in θ (UFM, FixedFeatures — its ReLU features ψ(X) do not depend on θ — and linear TwoLayer)."""
    model = _check_model(model)
    if isinstance(model, TwoLayer) and model.activation == "relu":
        X = model._inputs(X)
        return model.A @ X + model.b[:, None] > 0
    return np.zeros((0, 0), dtype=bool)


def pattern_safe_step(model, X, vector) -> float:
    """sup{t ≥ 0: the activation pattern is the same at θ ± t'v for all t' < t}: min |z_ij|/|dz_ij| over the
    pre-activations with dz = dA·X + db·1ᵀ ≠ 0 (Z is affine in θ along v); inf when no pre-activation moves
    (or the model has no kinks), 0 when one at exactly 0 moves."""
    model = _check_model(model)
    direction = _split(model, vector, "vector")
    if not (isinstance(model, TwoLayer) and model.activation == "relu"):
        return float("inf")
    X = model._inputs(X)
    Z = model.A @ X + model.b[:, None]
    dZ = direction["A"] @ X + direction["b"][:, None]
    moving = dZ != 0
    if not moving.any():
        return float("inf")
    return float(np.min(np.abs(Z[moving]) / np.abs(dZ[moving])))


def finite_difference_hvp(model, loss, X, Y, vector, step: float = HVP_STEP) -> np.ndarray:
    """Cross-check only (the former instrument): Hv ≈ (∇L(θ + εv) − ∇L(θ − εv)) / (2ε) with
    ε = ``step``·max(1, ‖θ‖)/‖v‖. O(ε²) for smooth activations; for ReLU wrong by O(jump/ε) whenever a
    pre-activation changes sign inside the step (see :func:`pattern_safe_step`)."""
    theta = flatten(model)
    vector = np.asarray(vector, dtype=float)
    if vector.shape != theta.shape:
        raise ValueError(f"vector must have shape {theta.shape} (one entry per parameter), got {vector.shape}")
    step = v.positive("step", step)
    norm = np.linalg.norm(vector)
    if norm == 0:
        return np.zeros_like(theta)
    eps = step * max(1.0, np.linalg.norm(theta)) / norm
    plus = flat_gradient(unflatten(model, theta + eps * vector), loss, X, Y)
    minus = flat_gradient(unflatten(model, theta - eps * vector), loss, X, Y)
    return (plus - minus) / (2 * eps)


def finite_difference_hessian(model, loss, X, Y) -> np.ndarray:
    """Cross-check only: the D × D Hessian column by column from the analytic gradient, independent of the
    R-operator. Column k is the Richardson-extrapolated central difference

        H e_k ≈ (4·D(h/2) − D(h)) / 3,   D(h) = (∇L(θ + h e_k) − ∇L(θ − h e_k)) / (2h),

    with h = min(DENSE_STEP·max(1, ‖θ‖), pattern_safe_step(e_k)/2): the activation pattern is the same at
    every evaluated point (checked; ValueError if not), where L is a polynomial (exact for the squared loss,
    whose gradient is cubic along a line; O(h⁴) otherwise). Not symmetrised."""
    theta = flatten(model)
    pattern = activation_pattern(model, X)
    base = DENSE_STEP * max(1.0, np.linalg.norm(theta))
    columns = []
    for k, e in enumerate(np.eye(theta.size)):
        safe = pattern_safe_step(model, X, e)
        if safe == 0:
            raise ValueError(f"parameter {k}: a pre-activation sits exactly at its kink and moves along it; "
                             "no finite difference keeps the activation pattern")
        h = min(base, safe / 2)
        grads = {}
        for t in (h, -h, h / 2, -h / 2):
            shifted = unflatten(model, theta + t * e)
            if not np.array_equal(activation_pattern(shifted, X), pattern):
                raise ValueError(f"parameter {k}: the activation pattern changed at step {t:.3g}")
            grads[t] = flat_gradient(shifted, loss, X, Y)
        full = (grads[h] - grads[-h]) / (2 * h)
        half = (grads[h / 2] - grads[-h / 2]) / h
        columns.append((4 * half - full) / 3)
    return np.column_stack(columns)
