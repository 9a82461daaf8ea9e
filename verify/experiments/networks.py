"""NumPy networks whose last hidden layer carries the kernel K = ΦᵀΦ: models, GD/SGD with weight decay.

Every model has a last-hidden-layer feature matrix Φ (m × n, column i = φ(x_i)), a linear readout
W (C × m), outputs F = WΦ (C × n), and is trained on the objective of docs/theory.md#setting (sums, not means)

    L(θ) = Σ_i ℓ(f_i, y_i) + Σ_layers (decay/2)‖θ_layer‖²

with G = ∂ℓ/∂F (C × n) from ``verify.core.loss_numeric.numeric_loss(loss)`` for any ``theory.losses.Loss``.
The chain rule gives ∂L/∂W = GΦᵀ + λW and ∂L/∂Φ = WᵀG; per model:

    UFM            Φ is the parameter               ∂L/∂Φ = WᵀG + μΦ
    FixedFeatures  Φ = UΨ, Ψ = ψ(X) fixed (p × n)   ∂L/∂U = WᵀGΨᵀ + μU
    TwoLayer       Φ = σ(AX + b1ᵀ), σ ∈ {relu, id}  ∂L/∂A = ΔXᵀ + μA, ∂L/∂b = Δ1 + μb, Δ = (WᵀG) ⊙ σ'(AX + b1ᵀ)

:func:`train` runs full-batch gradient descent or minibatch SGD (batches drawn without replacement;
the data gradient is rescaled by n/batch, so it is an unbiased estimate of the full-sum gradient;
the decay terms are not rescaled) and records the objective and the kernel K = ΦᵀΦ of the training
inputs. :func:`kernel_flow_tracking_error` compares GD on the fixed-feature model with the coupled
gradient flow it discretises (T5; GD is its explicit Euler scheme, so the error is O(η)).
:func:`kernel_rank_report` summarises a kernel's spectrum for T10 without judging it.

>>> import numpy as np, theory, verify
>>> rng = np.random.default_rng(0)
>>> Y = np.eye(2)[:, [0, 1, 0, 1, 0, 1]]
>>> model = UFM(Phi=rng.standard_normal((8, 6)), W=rng.standard_normal((2, 8)), lam=0.3, mu=0.3)
>>> record = train(model, theory.losses.squared(2), None, Y, steps=2000, lr=0.1, seed=0, record_every=1000)
>>> record.steps
array([   0, 1000, 2000])
>>> np.round(np.linalg.eigvalsh(record.kernels[-1])[::-1][:3], 6) + 0.0
array([1.432051, 1.432051, 0.      ])
>>> np.round(verify.water_filling_spectrum(Y, 0.3, 0.3)[:3], 6)
array([1.432051, 1.432051, 0.      ])
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import solve_ivp

from verify.core import validation as v
from verify.core.errors import ConvergenceError
from verify.core.linalg import numerical_rank, relative_error
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL

ACTIVATIONS = ("relu", "linear")


# ----------------------------------------------------------------------------------------------
# models


class Model:
    """Shared machinery. Subclasses define ``parameter_names``, ``decays()``, ``_forward`` and ``_backward``."""

    parameter_names: tuple[str, ...] = ()

    # --- public ---------------------------------------------------------------------------------

    def parameters(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name (W last)."""
        return {name: getattr(self, name) for name in self.parameter_names}

    def with_parameters(self, **arrays) -> Model:
        """A copy with some trainable arrays replaced (validated; the model itself is never mutated)."""
        return replace(self, **arrays)

    def _stepped(self, arrays) -> Model:
        """A copy with trainable arrays replaced, without re-validation (the training loop's update)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(arrays)
        return new

    def features(self, X) -> np.ndarray:
        """Φ, m × n: the last hidden layer's features of the inputs X (columns = samples)."""
        return self._forward(self._inputs(X))[0]

    def outputs(self, X) -> np.ndarray:
        """F = WΦ, C × n."""
        return self.W @ self.features(X)

    def kernel(self, X) -> np.ndarray:
        """K = ΦᵀΦ, n × n, the last-hidden-layer kernel of the inputs X."""
        Phi = self.features(X)
        return Phi.T @ Phi

    def objective(self, loss, X, Y) -> float:
        """L = Σ_i ℓ(f_i, y_i) + Σ_layers (decay/2)‖θ‖²."""
        total, _ = loss_functions(loss, self.W.shape[0])
        Y = self._targets(Y, X)
        return total(self.outputs(X), Y) + self.decay_penalty()

    def decay_penalty(self) -> float:
        """Σ_layers (decay/2)‖θ‖²."""
        return float(sum(d / 2 * np.sum(getattr(self, name) ** 2) for name, d in self.decays().items()))

    def gradient(self, loss, X, Y) -> dict[str, np.ndarray]:
        """∂L/∂θ for every trainable array (analytic; see the module docstring for the formulas)."""
        _, grad = loss_functions(loss, self.W.shape[0])
        Y = self._targets(Y, X)
        data = self._data_gradient(grad, self._inputs(X), Y, None, 1.0)
        return self._add_decay(data)

    # --- internal -------------------------------------------------------------------------------

    def _data_gradient(self, grad, X, Y, columns, scale):
        """scale · ∂/∂θ Σ_{i ∈ columns} ℓ(f_i, y_i) (all columns when ``columns`` is None); X validated."""
        if columns is not None:
            X = self._select(X, columns)
            Y = Y[:, columns]
        Phi, cache = self._forward(X)
        G = grad(self.W @ Phi, Y)
        if scale != 1.0:
            G = scale * G
        out = self._backward(X, cache, self.W.T @ G, columns)
        out["W"] = G @ Phi.T
        return out

    def _add_decay(self, data):
        decays = self.decays()
        return {name: data[name] + decays[name] * getattr(self, name) for name in self.parameter_names}

    def _select(self, X, columns):
        return X[:, columns]

    def _targets(self, Y, X):
        n = self.n_samples(self._inputs(X))
        return v.matrix("Y", Y, rows=self.W.shape[0], cols=n)

    def n_samples(self, X) -> int:
        return X.shape[1]


def _check_decays(lam, mu):
    return v.nonnegative("lam", lam), v.nonnegative("mu", mu)


@dataclass(frozen=True, eq=False)
class UFM(Model):
    """Unconstrained features: Φ (m × n) is itself trained, with decay μ; readout W (C × m) with decay λ.

    The model has no inputs: ``features(X)`` returns Φ for ``X=None`` (or an array with n columns,
    which is only shape-checked), so ``train(model, loss, None, Y, ...)``.
    """

    Phi: np.ndarray
    W: np.ndarray
    lam: float
    mu: float

    parameter_names = ("Phi", "W")

    def __post_init__(self):
        Phi = v.matrix("Phi", self.Phi)
        object.__setattr__(self, "Phi", Phi)
        object.__setattr__(self, "W", v.matrix("W", self.W, cols=Phi.shape[0]))
        lam, mu = _check_decays(self.lam, self.mu)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "mu", mu)

    def decays(self):
        return {"Phi": self.mu, "W": self.lam}

    def _inputs(self, X):
        """None: the UFM has no inputs (an X that is given is only shape-checked)."""
        if X is not None:
            v.matrix("X", X, cols=self.Phi.shape[1])

    def n_samples(self, X) -> int:
        return self.Phi.shape[1]

    def _select(self, X, columns):
        return columns  # the "inputs" of a minibatch are its sample indices

    def _forward(self, X):
        return (self.Phi if X is None else self.Phi[:, X]), None

    def _backward(self, X, cache, dPhi, columns):
        if columns is None:
            return {"Phi": dPhi}
        full = np.zeros_like(self.Phi)
        full[:, columns] = dPhi  # minibatch indices are distinct
        return {"Phi": full}


@dataclass(frozen=True, eq=False)
class FixedFeatures(Model):
    """Linear last layer on fixed features: Φ = UΨ with Ψ = ψ(X) (p × n) fixed, U (m × p) trained with decay μ,
    readout W (C × m) with decay λ.

    ψ(X) = X when ``R`` is None (the inputs *are* the fixed features Ψ); otherwise the random ReLU
    features ψ(X) = max(RX, 0)/√p with R (p × d) fixed. :meth:`random` builds the latter.
    """

    U: np.ndarray
    W: np.ndarray
    lam: float
    mu: float
    R: np.ndarray | None = None

    parameter_names = ("U", "W")

    def __post_init__(self):
        U = v.matrix("U", self.U)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "W", v.matrix("W", self.W, cols=U.shape[0]))
        if self.R is not None:
            object.__setattr__(self, "R", v.matrix("R", self.R, rows=U.shape[1]))
        lam, mu = _check_decays(self.lam, self.mu)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "mu", mu)

    @classmethod
    def random(cls, rng: np.random.Generator, d: int, p: int, m: int, C: int, lam: float, mu: float,
               scale: float = 1.0) -> FixedFeatures:
        """Random ReLU features ψ(X) = max(RX, 0)/√p (R ~ N(0, 1/d)), U ~ N(0, scale²/p), W ~ N(0, scale²/m)."""
        R = rng.standard_normal((p, d)) / np.sqrt(d)
        U = scale * rng.standard_normal((m, p)) / np.sqrt(p)
        W = scale * rng.standard_normal((C, m)) / np.sqrt(m)
        return cls(U=U, W=W, lam=lam, mu=mu, R=R)

    def input_features(self, X) -> np.ndarray:
        """Ψ = ψ(X), p × n (fixed, not trained)."""
        return self._psi(self._inputs(X))

    def decays(self):
        return {"U": self.mu, "W": self.lam}

    def _inputs(self, X):
        if self.R is None:
            return v.matrix("X", X, rows=self.U.shape[1])
        return v.matrix("X", X, rows=self.R.shape[1])

    def _psi(self, X):
        if self.R is None:
            return X
        return np.maximum(self.R @ X, 0.0) / np.sqrt(self.R.shape[0])

    def _forward(self, X):
        Psi = self._psi(X)
        return self.U @ Psi, Psi

    def _backward(self, X, Psi, dPhi, columns):
        return {"U": dPhi @ Psi.T}


@dataclass(frozen=True, eq=False)
class TwoLayer(Model):
    """Φ = σ(AX + b1ᵀ) with σ = ReLU (``"relu"``) or the identity (``"linear"``); X is d × n.

    A (m × d) and b (m) carry decay μ, the readout W (C × m) decay λ. σ'(0) is taken as 0 for ReLU.
    """

    A: np.ndarray
    b: np.ndarray
    W: np.ndarray
    lam: float
    mu: float
    activation: str = "relu"

    parameter_names = ("A", "b", "W")

    def __post_init__(self):
        A = v.matrix("A", self.A)
        object.__setattr__(self, "A", A)
        b = v.finite_values("b", self.b)
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must be a 1-D array of length {A.shape[0]} (rows of A), got shape {b.shape}")
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "W", v.matrix("W", self.W, cols=A.shape[0]))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        lam, mu = _check_decays(self.lam, self.mu)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "mu", mu)

    @classmethod
    def random(cls, rng: np.random.Generator, d: int, m: int, C: int, lam: float, mu: float,
               activation: str = "relu", scale: float = 1.0) -> TwoLayer:
        """A ~ N(0, scale²/d), b ~ N(0, 0.1²·scale²), W ~ N(0, scale²/m)."""
        A = scale * rng.standard_normal((m, d)) / np.sqrt(d)
        b = 0.1 * scale * rng.standard_normal(m)
        W = scale * rng.standard_normal((C, m)) / np.sqrt(m)
        return cls(A=A, b=b, W=W, lam=lam, mu=mu, activation=activation)

    def decays(self):
        return {"A": self.mu, "b": self.mu, "W": self.lam}

    def _inputs(self, X):
        return v.matrix("X", X, rows=self.A.shape[1])

    def _forward(self, X):
        Z = self.A @ X + self.b[:, None]
        if self.activation == "linear":
            return Z, Z
        return np.maximum(Z, 0.0), Z

    def _backward(self, X, Z, dPhi, columns):
        delta = dPhi if self.activation == "linear" else dPhi * (Z > 0)
        return {"A": delta @ X.T, "b": delta.sum(axis=1)}


def loss_functions(loss, C):
    """The (total, gradient) callables of ``loss`` (:func:`verify.core.loss_numeric.numeric_loss`): Σ_i ℓ(f_i, y_i)
    and G = ∂ℓ/∂F (C × n), for a readout with ``C`` rows.

    TypeError when ``loss`` is not a :class:`theory.losses.Loss`; ValueError when its number of outputs is not ``C``."""
    if not hasattr(loss, "expr") or not hasattr(loss, "C"):
        raise TypeError(f"loss must be a theory.losses.Loss, got {type(loss).__name__}")
    if loss.C != C:
        raise ValueError(f"loss has {loss.C} outputs but the readout W has {C} rows")
    return numeric_loss(loss)


# ----------------------------------------------------------------------------------------------
# training


@dataclass(frozen=True, eq=False)
class TrainingRecord:
    """What :func:`train` saw: at ``steps[k]`` the objective ``losses[k]`` and the kernel ``kernels[k]`` (n × n)."""

    steps: np.ndarray
    losses: np.ndarray
    kernels: np.ndarray
    model: Model
    batch_size: int | None
    lr: float
    #: what ``observe(model)`` returned at each recorded step (empty without ``observe``)
    observations: tuple = ()
    #: the full objective L(θ_k) after every step k = 0..steps (``track_objective=True``; else None)
    step_objectives: np.ndarray | None = None

    def increases(self) -> int:
        """#{k ≥ 1: L(θ_k) > L(θ_{k−1})}, the steps that raised the objective (needs ``step_objectives``)."""
        if self.step_objectives is None:
            raise ValueError("step_objectives were not recorded: train with track_objective=True")
        return int(np.sum(np.diff(self.step_objectives) > 0))


def _recorded_steps(steps: int, record_every: int | None) -> np.ndarray:
    if record_every is None:
        return np.array([0, steps])
    marks = np.arange(0, steps + 1, record_every)
    return marks if marks[-1] == steps else np.append(marks, steps)


def train(model: Model, loss, X, Y, *, steps: int, lr: float, batch_size: int | None = None, seed: int = 0,
          record_every: int | None = None, observe=None, track_objective: bool = False) -> TrainingRecord:
    """Gradient descent θ ← θ − η ∇L on L = Σ_i ℓ(f_i, y_i) + Σ (decay/2)‖θ‖².

    ``batch_size=None``: full batch. Otherwise each step draws a minibatch B of ``batch_size`` samples
    without replacement (``numpy.random.default_rng(seed)``) and uses
    (n/|B|)·∂/∂θ Σ_{i∈B} ℓ(f_i, y_i) + decay·θ, an unbiased estimate of ∇L (decay not rescaled).

    X: the model's inputs (None for the :class:`UFM`); Y: C × n targets; ``steps`` ≥ 1; η = ``lr`` > 0;
    ``batch_size`` in 1..n. Records at steps 0, ``record_every``, 2·``record_every``, … and at the last
    step (only first and last when ``record_every`` is None); ``observe(model)``, if given, is called at
    each recorded step and its results kept in ``observations``. Returns a :class:`TrainingRecord`
    with the trained model. ``track_objective=True`` also evaluates the full objective L(θ_k) after every
    step (one more forward pass per step) into ``step_objectives``. FloatingPointError if the iteration
    diverges (η too large).
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a UFM, FixedFeatures or TwoLayer, got {type(model).__name__}")
    total, grad = loss_functions(loss, model.W.shape[0])
    Xv = model._inputs(X)
    n = model.n_samples(Xv)
    Y = v.matrix("Y", Y, rows=model.W.shape[0], cols=n)
    steps = v.count("steps", steps, 1)
    lr = v.positive("lr", lr)
    if batch_size is not None:
        batch_size = v.count("batch_size", batch_size, 1, n)
    if record_every is not None:
        record_every = v.count("record_every", record_every, 1)
    marks = _recorded_steps(steps, record_every)
    rng = np.random.default_rng(seed)

    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be callable as observe(model), got {type(observe).__name__}")
    observations = []
    if not isinstance(track_objective, bool):
        raise TypeError(f"track_objective must be True or False, got {type(track_objective).__name__}")
    every_step = []

    def objective(current):
        with np.errstate(over="ignore", invalid="ignore"):
            return total(current.W @ current._forward(Xv)[0], Y) + current.decay_penalty()

    def record(current, step=0):
        Phi = current._forward(Xv)[0]
        value = total(current.W @ Phi, Y) + current.decay_penalty()
        if not np.isfinite(value):
            raise FloatingPointError(f"training diverged at step {step} (objective {value}); lower lr = {lr:g}")
        if observe is not None:
            observations.append(observe(current))
        return value, Phi.T @ Phi

    losses, kernels = [], []
    if marks[0] == 0:
        value, K = record(model)
        losses.append(value)
        kernels.append(K)
    if track_objective:
        every_step.append(objective(model))
    next_mark = 1
    for step in range(1, steps + 1):
        if batch_size is None or batch_size == n:
            data = model._data_gradient(grad, Xv, Y, None, 1.0)
        else:
            batch = draw_batch(rng, n, batch_size)
            data = model._data_gradient(grad, Xv, Y, batch, n / batch_size)
        update = model._add_decay(data)
        model = model._stepped({name: getattr(model, name) - lr * g for name, g in update.items()})
        if track_objective:
            every_step.append(objective(model))
            if not np.isfinite(every_step[-1]):
                raise FloatingPointError(f"training diverged at step {step} (objective {every_step[-1]}); "
                                         f"lower lr = {lr:g}")
        if step == marks[next_mark]:
            with np.errstate(over="ignore", invalid="ignore"):
                value, K = record(model, step)
            losses.append(value)
            kernels.append(K)
            next_mark += 1
    return TrainingRecord(marks, np.array(losses), np.stack(kernels), model, batch_size, lr, tuple(observations),
                          np.array(every_step) if track_objective else None)


def draw_batch(rng: np.random.Generator, n: int, batch_size: int, *, replacement: bool = False) -> np.ndarray:
    """The minibatch of one SGD step: ``batch_size`` sample indices out of n, drawn uniformly without
    replacement (sorted), as :func:`train` draws them; ``replacement=True`` draws them with replacement
    (repeats possible, in draw order), for SGD variants that sample that way."""
    n = v.count("n", n, 1)
    batch_size = v.count("batch_size", batch_size, 1, None if replacement else n)
    picks = rng.choice(n, size=batch_size, replace=replacement)
    return picks if replacement else np.sort(picks)


def minibatch_gradient(model: Model, loss, X, Y, batch) -> dict[str, np.ndarray]:
    """The SGD direction for minibatch ``batch`` (distinct sample indices): (n/|B|)·∂/∂θ Σ_{i∈B} ℓ + decay·θ."""
    _, grad = loss_functions(loss, model.W.shape[0])
    Xv = model._inputs(X)
    n = model.n_samples(Xv)
    Y = v.matrix("Y", Y, rows=model.W.shape[0], cols=n)
    batch = np.asarray(batch)
    if batch.ndim != 1 or batch.size == 0 or batch.dtype.kind not in "iu":
        raise ValueError(f"batch must be a non-empty 1-D array of sample indices, got {batch!r}")
    if np.any(batch < 0) or np.any(batch >= n) or np.unique(batch).size != batch.size:
        raise ValueError(f"batch must hold distinct indices in 0..{n - 1}, got {batch!r}")
    return model._add_decay(model._data_gradient(grad, Xv, Y, batch, n / batch.size))


# ----------------------------------------------------------------------------------------------
# GD against the coupled gradient flow


@dataclass(frozen=True, eq=False)
class TrackingReport:
    """Kernel of GD after k steps against the flow at t = kη: relative errors at the recorded steps."""

    steps: np.ndarray
    times: np.ndarray
    errors: np.ndarray
    max_error: float


def kernel_flow_tracking_error(model: FixedFeatures, X, Y, *, lr: float, steps: int, loss=None,
                               record_every: int | None = None, return_info: bool = False):
    """max_k ‖K_net(k) − K_flow(kη)‖_F / ‖K_flow(kη)‖_F over the recorded GD steps k.

    K_net(k) = Ψᵀ U_kᵀ U_k Ψ after k full-batch GD steps of size η = ``lr`` on the fixed-feature model;
    K_flow(t) = ΨᵀU(t)ᵀU(t)Ψ with (U, W) from the coupled gradient flow of the same objective (T5),

        Ẇ = −GΦᵀ − λW,   U̇ = −WᵀGΨᵀ − μU,   Φ = UΨ,   G = ∂ℓ/∂F (squared loss unless ``loss`` is given),

    integrated by ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-10) from the model's (U0, W0).
    GD is the explicit Euler discretisation of this flow, so the error is O(η) at fixed t = kη.
    Records every ``record_every`` steps (default: about 20 records). Returns the maximum, or a
    :class:`TrackingReport` when ``return_info``.
    """
    if not isinstance(model, FixedFeatures):
        raise TypeError(f"model must be a FixedFeatures model, got {type(model).__name__}")
    C = model.W.shape[0]
    if loss is None:
        import theory

        loss = theory.losses.squared(C)
    steps = v.count("steps", steps, 1)
    lr = v.positive("lr", lr)
    if record_every is None:
        record_every = max(1, steps // 20)
    record = train(model, loss, X, Y, steps=steps, lr=lr, record_every=record_every)

    _, grad = loss_functions(loss, C)
    Psi = model.input_features(X)
    Y = v.matrix("Y", Y, rows=C, cols=Psi.shape[1])
    U_shape, W_shape = model.U.shape, model.W.shape
    split = model.U.size

    def flow(_, theta):
        U, W = theta[:split].reshape(U_shape), theta[split:].reshape(W_shape)
        Phi = U @ Psi
        G = grad(W @ Phi, Y)
        dU = -(W.T @ G) @ Psi.T - model.mu * U
        dW = -G @ Phi.T - model.lam * W
        return np.concatenate([dU.ravel(), dW.ravel()])

    times = record.steps * lr
    theta0 = np.concatenate([model.U.ravel(), model.W.ravel()])
    sol = solve_ivp(flow, (0.0, times[-1]), theta0, method="DOP853", t_eval=times, rtol=TOL.integration,
                    atol=TOL.integration * 1e-2 * np.abs(theta0).max())
    if not sol.success:
        raise ConvergenceError(f"coupled flow integration failed: {sol.message}")
    errors = []
    for K_net, theta in zip(record.kernels, sol.y.T):
        Phi = theta[:split].reshape(U_shape) @ Psi
        errors.append(relative_error(K_net, Phi.T @ Phi))
    errors = np.array(errors)
    report = TrackingReport(record.steps, times, errors, float(errors.max()))
    return report if return_info else report.max_error


# ----------------------------------------------------------------------------------------------
# rank summary (T10)


@dataclass(frozen=True, eq=False)
class KernelRankReport:
    """Spectral summary of a kernel: no verdict, just numbers.

    ``numerical_rank``: #{σ_i > TOL.rank_rtol·σ_max}; ``effective_rank``: exp(H(p)) with p_i = κ_i/Σκ
    (κ clipped at 0); ``outside_top_C``: 1 − (κ_1 + … + κ_C)/tr K, the trace fraction outside the
    top-C eigenspace; ``eigenvalues``: descending.
    """

    numerical_rank: int
    effective_rank: float
    outside_top_C: float
    eigenvalues: np.ndarray
    C: int


def kernel_rank_report(K, C: int) -> KernelRankReport:
    """Numerical rank, effective rank exp(−Σ p_i log p_i) and trace fraction outside the top-C eigenspace of K.

    K: symmetric PSD n × n; C: number of classes (1 ≤ C ≤ n). For K = 0 the effective rank and the
    fraction are 0.
    """
    K = v.kernel("K", K, psd=True)
    C = v.count("C", C, 1, K.shape[0])
    kappa = np.clip(np.linalg.eigvalsh(K)[::-1], 0.0, None)
    trace = kappa.sum()
    if trace == 0:
        return KernelRankReport(0, 0.0, 0.0, kappa, C)
    p = kappa / trace
    p = p[p > 0]
    effective = float(np.exp(-np.sum(p * np.log(p))))
    outside = float(max(0.0, 1.0 - kappa[:C].sum() / trace))
    return KernelRankReport(numerical_rank(K, TOL.rank_rtol), effective, outside, kappa, C)
