"""Instruments on PyTorch models by automatic differentiation: Hessian-vector products, Hessian outliers,
per-sample gradients and the SGD noise they make.

For a :class:`~verify.experiments.nets.models.FeatureNet` with parameters θ (all tensors flattened, in
``model.parameters()`` order: the body's, then W) and the training objective of
:mod:`verify.experiments.nets.training`, L(θ) = Σ_i ℓ(f_i, y_i) + (λ/2)‖W‖² + (μ/2)Σ_body‖θ‖²:

- :func:`hessian_vector_product`: ∇²L(θ)v exactly, forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``);
- :func:`hessian_top`: the top eigenpairs by Lanczos (``scipy.sparse.linalg.eigsh``) on that operator, no D × D
  matrix; :func:`dense_hessian` (``torch.func.hessian``) only for small models and tests;
- :func:`per_sample_gradients`: g_i = ∇_θ ℓ(f_i, y_i) for every sample at once (``torch.func.vmap`` of
  ``torch.func.grad``), for all parameters or one named group (``"readout"``: W; ``"last"``: the layer that
  produces φ; ``"body"``);
- :func:`sgd_noise_spectrum`: the covariance of the SGD direction's noise, (n/b)Σ_{i∈B} g_i − Σ_i g_i for a
  minibatch B of b samples drawn without replacement, Cov = n²(n − b)/(b(n − 1)) · (1/n)Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ,
  whose eigenvalues are those of the n × n centred Gram matrix (the batch size scales it, never its shape).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from verify.core import validation as v
from verify.experiments.nets.backend import require_torch
from verify.experiments.nets.models import FeatureNet
from verify.experiments.nets.training import TrainingSpec, data_loss

torch = require_torch()
func = torch.func


def _plain_attention(function):
    """``function`` run with PyTorch's plain ("math") attention: the fused CPU kernel has no forward-mode derivative
    (Hessian-vector products are forward-over-reverse) and no batching rule of its own; the math path computes the
    same attention with ordinary operations."""
    from functools import wraps

    from torch.nn.attention import SDPBackend, sdpa_kernel

    @wraps(function)
    def wrapped(*args, **kwargs):
        with sdpa_kernel(SDPBackend.MATH):
            return function(*args, **kwargs)

    return wrapped

GROUPS = ("all", "readout", "last", "body")


def _named(model: FeatureNet) -> dict:
    return {name: p.detach() for name, p in model.named_parameters()}


def _tensors(model: FeatureNet, X, Y):
    p = next(model.parameters())
    cast = lambda a: torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=p.dtype, device=p.device)
    return cast(X), cast(Y)


def _objective(model: FeatureNet, spec: TrainingSpec, X, Y):
    """(L as a function of the flat parameter vector, θ₀ flat, the names and shapes)."""
    params = _named(model)
    names = list(params)
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]
    body = [k for k in names if k.startswith("body.")]

    def unflatten(theta):
        return {k: t.reshape(s) for k, t, s in zip(names, torch.split(theta, sizes), shapes)}

    def L(theta):
        p = unflatten(theta)
        F = func.functional_call(model, p, (X,))
        penalty = spec.lam / 2 * (p["readout.weight"] ** 2).sum() + spec.mu / 2 * sum((p[k] ** 2).sum() for k in body)
        return data_loss(spec.loss, F, Y) + penalty

    theta = torch.cat([params[k].reshape(-1) for k in names])
    return L, theta


@_plain_attention
def hessian_vector_product(model: FeatureNet, spec: TrainingSpec, X, Y, vector) -> np.ndarray:
    """∇²L(θ)v for the model's current θ (forward-over-reverse autodiff), v and the result flat NumPy vectors."""
    X, Y = _tensors(model, X, Y)
    L, theta = _objective(model, spec, X, Y)
    v_t = torch.as_tensor(np.asarray(vector), dtype=theta.dtype, device=theta.device)
    if v_t.shape != theta.shape:
        raise ValueError(f"vector must have {theta.numel()} entries (all parameters), got {tuple(v_t.shape)}")
    return func.jvp(func.grad(L), (theta,), (v_t,))[1].detach().cpu().numpy()


@_plain_attention
def gradient(model: FeatureNet, spec: TrainingSpec, X, Y) -> np.ndarray:
    """∇L(θ), flat."""
    X, Y = _tensors(model, X, Y)
    L, theta = _objective(model, spec, X, Y)
    return func.grad(L)(theta).detach().cpu().numpy()


@_plain_attention
def dense_hessian(model: FeatureNet, spec: TrainingSpec, X, Y) -> np.ndarray:
    """∇²L(θ) as a D × D matrix (``torch.func.hessian``): for small models and for checking the products."""
    X, Y = _tensors(model, X, Y)
    L, theta = _objective(model, spec, X, Y)
    return func.hessian(L)(theta).detach().cpu().numpy()


@_plain_attention
def hessian_top(model: FeatureNet, spec: TrainingSpec, X, Y, k: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(the k algebraically largest eigenvalues of ∇²L(θ), descending; their eigenvectors D × k) by Lanczos on
    exact Hessian-vector products (one forward-over-reverse pass each)."""
    X, Y = _tensors(model, X, Y)
    L, theta = _objective(model, spec, X, Y)
    D = theta.numel()
    k = v.count("k", k, 1, D - 1)
    product = lambda vec: func.jvp(func.grad(L), (theta,), (torch.as_tensor(vec, dtype=theta.dtype,
                                                                              device=theta.device),))[1]
    operator = LinearOperator((D, D), matvec=lambda vec: product(np.ravel(vec)).detach().cpu().numpy(),
                              dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(D)
    values, vectors = eigsh(operator, k=k, which="LA", v0=start, tol=1e-10)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def _group(model: FeatureNet, group: str) -> list[str]:
    names = [name for name, _ in model.named_parameters()]
    if group == "all":
        return names
    if group == "readout":
        return ["readout.weight"]
    body = [k for k in names if k.startswith("body.")]
    if group == "body":
        return body
    # "last": the parameters of the last body module that has any (the layer producing φ)
    modules = [name for name, m in model.body.named_modules() if any(True for _ in m.parameters(recurse=False))]
    last = f"body.{modules[-1]}." if modules else ""
    return [k for k in body if k.startswith(last)]


@_plain_attention
def per_sample_gradients(model: FeatureNet, spec: TrainingSpec, X, Y, group: str = "all") -> np.ndarray:
    """n × D_group: row i = ∇ ℓ(f_i, y_i) over the parameters of ``group`` (decay excluded), all samples at once."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    X, Y = _tensors(model, X, Y)
    params = _named(model)
    chosen = _group(model, group)

    def sample_loss(selected, x, y):
        F = func.functional_call(model, {**params, **selected}, (x[None],))
        return data_loss(spec.loss, F, y[None])

    grads = func.vmap(func.grad(sample_loss), in_dims=(None, 0, 0))({k: params[k] for k in chosen}, X, Y)
    return torch.cat([grads[k].reshape(X.shape[0], -1) for k in chosen], dim=1).detach().cpu().numpy()


def sgd_noise_spectrum(gradients: np.ndarray, batch_size: int) -> np.ndarray:
    """Eigenvalues (descending, the nonzero part: at most n − 1) of the covariance of the SGD noise
    (n/b)Σ_{i∈B} g_i − Σ_i g_i for minibatches of b samples without replacement (module docstring), from the
    n × D per-sample gradients."""
    g = v.matrix("gradients", gradients)
    n = g.shape[0]
    b = v.count("batch_size", batch_size, 1, n)
    centred = g - g.mean(axis=0)
    factor = n * (n - b) / (b * (n - 1)) if n > 1 else 0.0
    singular = np.linalg.svd(centred, compute_uv=False)
    return factor * singular ** 2
