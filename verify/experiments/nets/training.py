"""Training a :class:`~verify.experiments.nets.models.FeatureNet`: optimisers, batch sizes, learning-rate schedules.

The objective is the one of :mod:`verify.experiments.networks` (sums over samples):

    L(θ) = Σ_i ℓ(f_i, y_i) + (λ/2)‖W‖² + (μ/2) Σ_{body} ‖θ‖²,   ℓ squared (½‖f − y‖²) or softmax cross-entropy.

- ``"gd"``: full-batch gradient descent θ ← θ − η_k ∇L;
- ``"sgd"``: minibatches of ``batch_size`` drawn without replacement by
  :func:`verify.experiments.networks.draw_batch` (the same draws as the NumPy :func:`~verify.experiments.networks.train`
  for the same seed), the data term rescaled by n/|B| (an unbiased estimate of ∇L), heavy-ball momentum
  (PyTorch's SGD: v ← βv + g, θ ← θ − η_k v);
- ``"adamw"``: AdamW on the data term (n/|B|-rescaled as above) with *decoupled* decay, θ ← θ − η_k·decay·θ with
  decay λ for W and μ for the body (what the decay means for AdamW's users, not the ℓ2 penalty).

Schedules η_k over k = 0..steps−1 (:func:`learning_rate`): constant; step (×0.1 at 50 % and 75 % of the run);
cosine (η·½(1 + cos πk/steps)); warm-up (linear from 0 over the first ``warmup`` fraction, then cosine).
Training is deterministic on CPU for a seed (batches from NumPy's generator, no dropout). The kernel K = ΦᵀΦ of
a fixed probe set is recorded at steps 0, ``record_every``, … and the last.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from verify.core import validation as v
from verify.experiments.nets.backend import require_torch
from verify.experiments.nets.models import FeatureNet
from verify.experiments.networks import draw_batch

torch = require_torch()

OPTIMIZERS = ("gd", "sgd", "adamw")
SCHEDULES = ("constant", "step", "cosine", "warmup")
LOSSES = ("squared", "cross-entropy")


@dataclass(frozen=True)
class TrainingSpec:
    """How to train: optimiser, base learning rate η, steps, batch size (None: full batch), schedule, decays."""

    optimizer: str = "gd"
    lr: float = 1e-2
    steps: int = 100
    batch_size: int | None = None
    schedule: str = "constant"
    lam: float = 1e-2
    mu: float = 1e-2
    loss: str = "squared"
    momentum: float = 0.9
    warmup: float = 0.1
    seed: int = 0
    record_every: int | None = None

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        v.positive("lr", self.lr)
        v.count("steps", self.steps, 1)
        v.nonnegative("lam", self.lam)
        v.nonnegative("mu", self.mu)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0 < self.warmup < 1:
            raise ValueError(f"warmup must be a fraction in (0, 1), got {self.warmup!r}")
        if self.optimizer == "gd" and self.batch_size is not None:
            raise ValueError("batch_size: 'gd' is full-batch; use optimizer='sgd' (or 'adamw') for minibatches")
        if self.batch_size is not None:
            v.count("batch_size", self.batch_size, 1)
        if self.record_every is not None:
            v.count("record_every", self.record_every, 1)


def learning_rate(spec: TrainingSpec, k: int) -> float:
    """η_k of ``spec.schedule`` at step k (0-based; module docstring)."""
    base, steps = spec.lr, spec.steps
    if spec.schedule == "constant":
        return base
    if spec.schedule == "step":
        return base * 0.1 ** ((k >= steps // 2) + (k >= (3 * steps) // 4))
    if spec.schedule == "cosine":
        return base * 0.5 * (1 + np.cos(np.pi * k / steps))
    ramp = max(int(round(spec.warmup * steps)), 1)
    if k < ramp:
        return base * (k + 1) / ramp
    return base * 0.5 * (1 + np.cos(np.pi * (k - ramp) / max(steps - ramp, 1)))


@dataclass(frozen=True, eq=False)
class TorchRecord:
    """What :func:`train` saw: at ``steps[j]`` the objective ``losses[j]`` and the probe kernel ``kernels[j]``;
    the learning rate of every step; the trained model."""

    steps: np.ndarray
    losses: np.ndarray
    kernels: np.ndarray
    learning_rates: np.ndarray
    model: FeatureNet
    spec: TrainingSpec
    observations: tuple = field(default_factory=tuple)


def data_loss(name: str, F, Y):
    """Σ_i ℓ(f_i, y_i) for outputs F and one-hot targets Y (both n × C): ½‖F − Y‖² or Σ_i CE(f_i, y_i)."""
    if name == "squared":
        return 0.5 * ((F - Y) ** 2).sum()
    return torch.nn.functional.cross_entropy(F, Y.argmax(dim=1), reduction="sum")


def objective(model: FeatureNet, spec: TrainingSpec, X, Y) -> float:
    """L(θ) on rows X (n × d) and one-hot Y (n × C), with the ℓ2 decay of ``spec``."""
    with torch.no_grad():
        return float(data_loss(spec.loss, model(X), Y) + model.decay_penalty(spec.lam, spec.mu))


def _optimizer(model: FeatureNet, spec: TrainingSpec):
    if spec.optimizer == "adamw":
        groups = [{"params": [model.readout.weight], "weight_decay": spec.lam},
                  {"params": model.body_parameters(), "weight_decay": spec.mu}]
        return torch.optim.AdamW(groups, lr=spec.lr)
    return torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum if spec.optimizer == "sgd" else 0.0)


def train(model: FeatureNet, X, Y, spec: TrainingSpec, *, probe=None, observe=None) -> TorchRecord:
    """Train ``model`` in place on rows X (n × d) and one-hot Y (n × C) — NumPy arrays or tensors, moved to the
    model's device and dtype — as ``spec`` says (module docstring); record the kernel of ``probe`` (rows; default X)
    and ``observe(model)`` at the recorded steps. FloatingPointError when the objective becomes non-finite."""
    if not isinstance(model, FeatureNet):
        raise TypeError(f"model must be a verify.experiments.nets.models.FeatureNet, got {type(model).__name__}")
    parameter = next(model.parameters())
    as_tensor = lambda a: torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=parameter.dtype,
                                          device=parameter.device)
    X, Y = as_tensor(X), as_tensor(Y)
    n = X.shape[0]
    if Y.shape != (n, model.C):
        raise ValueError(f"Y must be n × C = {n} × {model.C} (one-hot rows), got {tuple(Y.shape)}")
    probe = X if probe is None else as_tensor(probe)
    if spec.batch_size is not None and spec.batch_size > n:
        raise ValueError(f"batch_size must be at most n = {n}, got {spec.batch_size}")
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be callable as observe(model), got {type(observe).__name__}")
    marks = np.arange(0, spec.steps + 1, spec.record_every) if spec.record_every else np.array([0, spec.steps])
    if marks[-1] != spec.steps:
        marks = np.append(marks, spec.steps)
    optimizer = _optimizer(model, spec)
    rng = np.random.default_rng(spec.seed)
    losses, kernels, rates, observations = [], [], [], []

    def record(step):
        value = objective(model, spec, X, Y)
        if not np.isfinite(value):
            raise FloatingPointError(f"training diverged at step {step} (objective {value}); lower lr = {spec.lr:g}")
        losses.append(value)
        kernels.append(model.kernel(probe))
        if observe is not None:
            observations.append(observe(model))

    record(0)
    for k in range(spec.steps):
        rate = learning_rate(spec, k)
        for group in optimizer.param_groups:
            group["lr"] = rate
        rates.append(rate)
        if spec.batch_size is None or spec.batch_size == n:
            batch, scale = slice(None), 1.0
        else:
            batch, scale = torch.as_tensor(draw_batch(rng, n, spec.batch_size), device=X.device), n / spec.batch_size
        optimizer.zero_grad()
        total = scale * data_loss(spec.loss, model(X[batch]), Y[batch])
        if spec.optimizer != "adamw":
            total = total + model.decay_penalty(spec.lam, spec.mu)
        total.backward()
        optimizer.step()
        if k + 1 in marks:
            record(k + 1)
    return TorchRecord(marks, np.array(losses), np.stack(kernels), np.array(rates), model, spec, tuple(observations))
