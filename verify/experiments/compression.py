"""T9 numerics: supervised kernel compression of whitened inputs, and kernel-ridge bias and variance.

Fixed features Φ = UΨ with Ψ (p × n) the *whitened* training inputs: X − c = EΣBᵀ (thin SVD, singular
values above TOL.rank_rtol·σ_max kept), Ψ = Bᵀ = Σ⁻¹Eᵀ(X − c), so ΨΨᵀ = I_p, and a new input gets
ψ(x) = Σ⁻¹Eᵀ(x − c) (the training transform). With M = UᵀU the kernel is K = ΨᵀMΨ; the raw kernel is
M = I_p (K0 = ΨᵀΨ, the projector on the centred training inputs). By the T9 derivation
(``theory.t9_fixed_features``) the adiabatic flow of M is T2's kernel ODE at size p with labels
Ỹ = YΨᵀ (C × p), so the compressed kernel is

    M∞ = verify.steady_state(I_p, Ỹ, λ, μ),   eig M∞ = verify.water_filling_spectrum(Ỹ, λ, μ),
    k∞(x, x') = ψ(x)ᵀM∞ψ(x'),

and every kernel-ridge prediction f(x) = Y(K + λI_n)⁻¹k(x), k(x) = ΨᵀMψ(x), is computed with p × n work
by push-through as f(x) = YΨᵀ(MΨΨᵀ + λI_p)⁻¹Mψ(x) (valid for any Ψ; Ỹ(M + λI)⁻¹Mψ(x) when ΨΨᵀ = I).
Effective degrees of freedom: df = Σκ/(κ + λ) = tr K(K + λI)⁻¹ over the eigenvalues κ of K.

Bias and variance are measured, not modelled: over R disjoint training draws S_1..S_R of size n,
on a held-out pool of N inputs with one-hot targets y(x),

    f̄(x) = (1/R)Σ_r f_{S_r}(x),  bias² = (1/N)Σ_x ‖f̄(x) − y(x)‖²,  variance = (1/RN)Σ_{r,x} ‖f_{S_r}(x) − f̄(x)‖²,

and the held-out squared error mse = (1/RN)Σ_{r,x} ‖f_{S_r}(x) − y(x)‖² equals bias² + variance exactly
(plug-in means, 1/R; the identity is checked, it is not used to compute either side). bias² is measured
against the observed label, so it contains the irreducible label noise, and with plug-in means it is
biased upward by variance/R. The per-mode split projects the N-vectors f̄ − y and f_r − f̄ (per output)
on an orthonormal basis of R^N: see :func:`population_modes`; the parts sum to the totals exactly.

>>> from verify.experiments.data import load
>>> data = load("gaussian-mixture", n=240, seed=0)
>>> study = compression_study(data, sizes=(40, 80), lam=0.1, mu=10.0, draws=2, pool=80, seed=0)
>>> [row["n"] for row in study.rows], study.rows[-1]["df compressed"] <= data.C
([40, 80], True)
>>> study.identity_error <= TOL.round_off
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from verify.core import validation as v
from verify.core.tolerances import TOL
from verify.experiments.data import Dataset
from verify.flows.kernel_flow import steady_state
from verify.flows.water_filling import mode_value

METHODS = ("flow", "law")


# ----------------------------------------------------------------------------------------------
# whitening


@dataclass(frozen=True)
class Whitening:
    """The training transform ψ(x) = Σ⁻¹Eᵀ(x − c) and the whitened training features Ψ = Bᵀ (p × n)."""

    centre: np.ndarray  # d × 1
    transform: np.ndarray  # p × d: Σ⁻¹Eᵀ
    Psi: np.ndarray  # p × n, orthonormal rows

    @property
    def p(self) -> int:
        return self.Psi.shape[0]

    def __call__(self, X) -> np.ndarray:
        """ψ(x) for the columns of X (d × N): p × N, the training transform (held-out data are not re-whitened)."""
        X = v.matrix("X", X, rows=self.centre.shape[0])
        return self.transform @ (X - self.centre)


def whiten(X, *, rtol: float = TOL.rank_rtol) -> Whitening:
    """Whitening of the training inputs X (d × n, columns = samples).

    X − c = EΣBᵀ (c the column mean; thin SVD), directions with σ_i ≤ ``rtol``·σ_max dropped (near-null:
    constant pixels, n ≤ d), Ψ = Bᵀ: p × n with ΨΨᵀ = I_p; equivalently Ψ = (X̄X̄ᵀ)^{+1/2}X̄ in the basis E.
    ValueError when X has fewer than 2 columns or all columns are equal (nothing to whiten).
    """
    X = v.matrix("X", X)
    rtol = v.positive("rtol", rtol)
    if X.shape[1] < 2:
        raise ValueError(f"X must have at least 2 columns (samples) to whiten, got shape {X.shape}")
    centre = X.mean(axis=1, keepdims=True)
    E, s, Bt = np.linalg.svd(X - centre, full_matrices=False)
    if s[0] == 0:
        raise ValueError("X has identical columns: the centred inputs are 0 and cannot be whitened")
    keep = s > rtol * s[0]
    return Whitening(centre, E[:, keep].T / s[keep, None], Bt[keep])


# ----------------------------------------------------------------------------------------------
# kernels and kernel ridge


def _psd(name: str, M, p: int | None = None) -> np.ndarray:
    M = v.kernel(name, M, psd=True)
    if p is not None and M.shape[0] != p:
        raise ValueError(f"{name} must be {p} × {p} (one row per feature), got shape {M.shape}")
    return M


def ridge_predict(Psi, Y, Psi_new, lam, M=None) -> np.ndarray:
    """Kernel-ridge predictions f(x) = Y(K + λI_n)⁻¹k(x), K = ΨᵀMΨ, k(x) = ΨᵀMψ(x), for the columns of Ψ_new.

    Computed without any n × n or N × N matrix by push-through: f = YΨᵀ(MΨΨᵀ + λI_p)⁻¹MΨ_new (any Ψ).
    Ψ: p × n training features; Y: C × n; Ψ_new: p × N; λ > 0; M: p × p PSD (None: I_p, the raw kernel).
    Returns C × N.
    """
    Psi = v.matrix("Psi", Psi)
    p, n = Psi.shape
    Y = v.matrix("Y", Y, cols=n)
    Psi_new = v.matrix("Psi_new", Psi_new, rows=p)
    lam = v.positive("lam", lam)
    M = np.eye(p) if M is None else _psd("M", M, p)
    A = M @ (Psi @ Psi.T) + lam * np.eye(p)
    return (Y @ Psi.T) @ np.linalg.solve(A, M @ Psi_new)


def effective_dof(kappa, lam) -> float:
    """df = Σ_i κ_i/(κ_i + λ) for kernel eigenvalues κ_i ≥ 0 (each term < 1; zero modes add nothing)."""
    kappa = v.finite_values("kappa", kappa)
    lam = v.positive("lam", lam)
    scale = max(float(np.max(np.abs(kappa), initial=0.0)), lam)
    if np.any(kappa < -1e-10 * scale):
        raise ValueError(f"kappa must be >= 0 (eigenvalues of a PSD kernel), got min {kappa.min():.3g}")
    kappa = np.clip(kappa, 0.0, None)
    return float(np.sum(kappa / (kappa + lam)))


def kernel_dof(M, lam, Psi=None) -> float:
    """df = tr K(K + λI)⁻¹ for K = ΨᵀMΨ: the non-zero eigenvalues of K are those of M^{1/2}ΨΨᵀM^{1/2}
    (p × p); with Ψ = None (orthonormal rows) those of M."""
    M = _psd("M", M)
    if Psi is None:
        return effective_dof(np.linalg.eigvalsh(M), lam)
    Psi = v.matrix("Psi", Psi, rows=M.shape[0])
    w, Q = np.linalg.eigh(M)
    root = (Q * np.sqrt(np.clip(w, 0.0, None))) @ Q.T
    G = root @ Psi @ Psi.T @ root
    return effective_dof(np.linalg.eigvalsh((G + G.T) / 2), lam)


def law_kernel(Ytilde, lam, mu) -> np.ndarray:
    """V diag(κ∞(s̃)) Vᵀ: the water-filling law (T3) as a p × p matrix, V the right singular vectors of Ỹ
    (unique where it matters: κ∞ is constant on each eigenspace of ỸᵀỸ)."""
    Ytilde = v.matrix("Ytilde", Ytilde)
    _, sigma, Vt = np.linalg.svd(Ytilde, full_matrices=False)
    kappa = mode_value(sigma**2, lam, mu)
    return (Vt.T * kappa) @ Vt


# ----------------------------------------------------------------------------------------------
# compression


@dataclass(frozen=True)
class Compression:
    """A compressed kernel: whitening of the training inputs, Ỹ = YΨᵀ, M∞ and the problem it solves."""

    whitening: Whitening
    Y: np.ndarray  # C × n training targets
    Ytilde: np.ndarray  # C × p
    M: np.ndarray  # p × p, M∞
    lam: float
    mu: float
    method: str

    @property
    def Psi(self) -> np.ndarray:
        return self.whitening.Psi

    @property
    def dof(self) -> float:
        """Σκ/(κ + λ) over the eigenvalues of K∞ (those of M∞: ΨΨᵀ = I)."""
        return kernel_dof(self.M, self.lam)

    @property
    def raw_dof(self) -> float:
        """Σκ/(κ + λ) for the raw kernel K0 = ΨᵀΨ: p/(1 + λ)."""
        return effective_dof(np.ones(self.whitening.p), self.lam)

    def predict(self, X, *, raw: bool = False) -> np.ndarray:
        """Kernel-ridge predictions (C × N) at the columns of X (d × N) with K∞, or with K0 when ``raw``."""
        return ridge_predict(self.Psi, self.Y, self.whitening(X), self.lam, None if raw else self.M)

    def kernel(self, X1, X2=None) -> np.ndarray:
        """k∞(x, x') = ψ(x)ᵀM∞ψ(x') between the columns of X1 and X2 (default X1)."""
        P1 = self.whitening(X1)
        P2 = P1 if X2 is None else self.whitening(X2)
        return P1.T @ self.M @ P2


def compress(train: Dataset, lam, mu, *, method: str = "flow", M0=None, max_time: float | None = None,
             solver: str = "LSODA", rtol: float = TOL.rank_rtol) -> Compression:
    """Whiten ``train`` and compress its kernel: M∞ of the flow Ṁ = MD̃ + D̃M − 2μM (T2 at size p, labels Ỹ = YΨᵀ).

    ``method="flow"``: M∞ = verify.steady_state(M0, Ỹ, λ, μ, method=solver) from M0 (default I_p, i.e.
    K(0) = K0 = ΨᵀΨ, the raw kernel), integrated until ‖Ṁ‖/‖M‖ < TOL.steady_state. ``max_time`` defaults to
    10⁴/μ because label modes near the threshold s̃ = λμ converge at the slow rate 2μ|1 − s̃/λμ|
    (ConvergenceError if not reached). ``solver`` defaults to the implicit LSODA: the explicit method that
    steady_state's "auto" picks above p ≈ 44 stalls at its absolute-tolerance floor when every label mode is
    below the threshold (M∞ = 0), so its residual never falls below the criterion.
    ``method="law"``: the T3 closed form V diag(κ∞(s̃)) Vᵀ, which the flow reaches (checked by claim T9).
    λ > 0, μ > 0; the flow needs p ≥ C whitened dimensions.
    """
    if not isinstance(train, Dataset):
        raise TypeError(f"train must be a verify.experiments.data.Dataset, got {type(train).__name__}")
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    white = whiten(train.X, rtol=rtol)
    Y = train.Y
    Ytilde = Y @ white.Psi.T
    if method == "law":
        M = law_kernel(Ytilde, lam, mu)
    else:
        if white.p < train.C:
            raise ValueError(f"train: the whitened inputs have p = {white.p} < C = {train.C} dimensions; the flow "
                             "needs p >= C (use more training samples, or method='law')")
        M0 = np.eye(white.p) if M0 is None else _psd("M0", M0, white.p)
        max_time = 1e4 / mu if max_time is None else v.positive("max_time", max_time)
        M = steady_state(M0, Ytilde, lam, mu, max_time=max_time, method=solver)
    return Compression(white, Y, Ytilde, M, lam, mu, method)


# ----------------------------------------------------------------------------------------------
# bias and variance


@dataclass(frozen=True)
class BiasVariance:
    """Held-out bias², variance and mse (per held-out point, summed over outputs); per-mode parts when a basis
    was given (one entry per basis column, then the residual outside the basis)."""

    bias2: float
    variance: float
    mse: float
    mode_bias2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mode_variance: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def identity_error(self) -> float:
        """|mse − bias² − variance| / mse: zero up to rounding."""
        return abs(self.mse - self.bias2 - self.variance) / max(self.mse, np.finfo(float).tiny)

    @property
    def split_error(self) -> float:
        """Largest relative gap between a per-mode split and its total (0 when no basis was given)."""
        if self.mode_bias2.size == 0:
            return 0.0
        return max(abs(self.mode_bias2.sum() - self.bias2) / max(self.bias2, np.finfo(float).tiny),
                   abs(self.mode_variance.sum() - self.variance) / max(self.variance, np.finfo(float).tiny))


def bias_variance(predictions, targets, basis=None, *, variance_denominator: str = "R") -> BiasVariance:
    """Empirical bias², variance and mse of ``predictions`` (R × C × N, one C × N block per training draw)
    against ``targets`` (C × N), averaged over the N held-out points (see the module docstring for the formulas).

    ``basis``: N × k with orthonormal columns; then bias² and variance are also split along its columns,
    ‖(f̄ − y)v_j‖²/N and Σ_r‖(f_r − f̄)v_j‖²/(RN), plus the residual outside span(basis) (computed directly, so
    the sum against the total is a check). ``variance_denominator="R - 1"`` uses the unbiased 1/(R − 1): then
    mse = bias² + variance no longer holds (a negative control for that identity).
    """
    F = v.finite_values("predictions", predictions)
    if F.ndim != 3 or F.shape[0] < 2:
        raise ValueError(f"predictions must be R × C × N with R >= 2 training draws, got shape {F.shape}")
    R, C, N = F.shape
    y = v.matrix("targets", targets, rows=C, cols=N)
    if variance_denominator not in ("R", "R - 1"):
        raise ValueError(f"variance_denominator must be 'R' or 'R - 1', got {variance_denominator!r}")
    mean = F.mean(axis=0)
    bias = mean - y
    spread = F - mean
    denominator = R if variance_denominator == "R" else R - 1
    bias2 = float(np.sum(bias**2) / N)
    variance = float(np.sum(spread**2) / (denominator * N))
    mse = float(np.sum((F - y) ** 2) / (R * N))
    if basis is None:
        return BiasVariance(bias2, variance, mse)
    V = v.matrix("basis", basis, rows=N)
    gram_error = np.abs(V.T @ V - np.eye(V.shape[1])).max()
    if gram_error > 1e-8:
        raise ValueError(f"basis must have orthonormal columns; max |VᵀV − I| = {gram_error:.3g}")
    bias_coef = bias @ V  # C × k
    spread_coef = spread @ V  # R × C × k
    mode_bias = np.sum(bias_coef**2, axis=0) / N
    mode_var = np.sum(spread_coef**2, axis=(0, 1)) / (denominator * N)
    rest_bias = float(np.sum((bias - bias_coef @ V.T) ** 2) / N)
    rest_var = float(np.sum((spread - spread_coef @ V.T) ** 2) / (denominator * N))
    return BiasVariance(bias2, variance, mse, np.append(mode_bias, rest_bias), np.append(mode_var, rest_var))


def population_modes(pool: Dataset, *, rtol: float = TOL.rank_rtol) -> tuple[np.ndarray, np.ndarray]:
    """(basis, σ): an orthonormal N × (1 + p) basis of held-out functions, ordered as population modes.

    The raw kernel's population operator on whitened inputs is the identity on the p linear directions
    (whitening makes the held-out Gram matrix of the pool's own whitened features Ψ_poolᵀΨ_pool a projector),
    so its eigenvectors are fixed only up to a rotation inside its range. The rotation is fixed by the labels:
    the right singular vectors r_j of Ỹ_pool = Y_pool Ψ_poolᵀ (σ_j descending, then the rest of R^p), which also
    diagonalise the pool's compressed kernel Ψ_poolᵀ M∞ Ψ_pool (T3 on Ỹ_pool). Columns: the constant 1/√N
    (no kernel here has it: features are centred), then Ψ_poolᵀ r_j. Everything outside (non-linear functions
    of x) is the residual of :func:`bias_variance`. σ has length p (zeros beyond rank Ỹ_pool).
    """
    if not isinstance(pool, Dataset):
        raise TypeError(f"pool must be a verify.experiments.data.Dataset, got {type(pool).__name__}")
    white = whiten(pool.X, rtol=rtol)
    Yt = pool.Y @ white.Psi.T
    _, sigma, Vt = np.linalg.svd(Yt, full_matrices=True)
    out = np.zeros(white.p)
    out[: sigma.size] = sigma
    constant = np.full((pool.n, 1), 1.0 / np.sqrt(pool.n))
    return np.hstack([constant, white.Psi.T @ Vt.T]), out


# ----------------------------------------------------------------------------------------------
# the experiment


def study_draws(dataset: Dataset, sizes, *, draws: int, pool: int, seed: int = 0):
    """(pool, training sets): a held-out pool of ``pool`` samples and, for each draw r, nested training sets of
    the requested ``sizes`` taken from a block of max(sizes) samples; pool and blocks are disjoint."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a verify.experiments.data.Dataset, got {type(dataset).__name__}")
    sizes = _sizes(sizes)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 2:
        raise ValueError(f"draws must be an int >= 2 (bias and variance need several training sets), got {draws!r}")
    if isinstance(pool, bool) or not isinstance(pool, (int, np.integer)) or pool < 2:
        raise ValueError(f"pool must be an int >= 2 (held-out samples), got {pool!r}")
    need = pool + draws * sizes[-1]
    if need > dataset.n:
        raise ValueError(f"dataset has {dataset.n} samples; pool + draws·max(sizes) = {pool} + {draws}·{sizes[-1]} = "
                         f"{need} are needed (reduce sizes, draws or pool)")
    order = np.random.default_rng(seed).permutation(dataset.n)
    held_out = dataset.subset(np.sort(order[:pool]))
    blocks = [order[pool + r * sizes[-1]: pool + (r + 1) * sizes[-1]] for r in range(draws)]
    return held_out, [[dataset.subset(np.sort(block[:n])) for block in blocks] for n in sizes]


def _sizes(sizes) -> tuple[int, ...]:
    try:
        values = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be increasing ints >= 3 (training-set sizes), got {sizes!r}") from None
    if (not values or any(int(n) != n or isinstance(n, bool) for n in sizes) or values[0] < 3
            or any(b <= a for a, b in zip(values, values[1:]))):
        raise ValueError(f"sizes must be increasing ints >= 3 (training-set sizes), got {sizes!r}")
    return values


@dataclass(frozen=True)
class CompressionStudy:
    """Rows (one per training size), per-mode bias²/variance for each size, and the basis' σ_j (pool labels)."""

    rows: list
    modes: dict  # n → {"bias² raw": array, "variance raw": ..., "bias² compressed": ..., "variance compressed": ...}
    sigma: np.ndarray
    identity_error: float  # worst |mse − bias² − variance|/mse over sizes and kernels
    split_error: float  # worst per-mode split against its total
    compressions: dict  # n → list of Compression (one per draw)
    dataset: str = ""
    lam: float = 0.0
    mu: float = 0.0


def compression_study(dataset: Dataset, sizes, *, lam, mu, draws: int = 4, pool: int = 400, seed: int = 0,
                      method: str = "law") -> CompressionStudy:
    """Raw (K0 = ΨᵀΨ) against compressed (K∞ = ΨᵀM∞Ψ) kernel ridge on held-out data, for growing n.

    For each n in ``sizes``: ``draws`` disjoint training sets (:func:`study_draws`), each whitened and compressed
    (:func:`compress` with ``method``; "law" is the T3 closed form, which claim T9 checks against the flow), both
    kernels' ridge predictions on the pool, and :func:`bias_variance` per kernel with the :func:`population_modes`
    split. Row keys: n, p (mean whitened dimension), df raw, df compressed (means over draws), bias², variance,
    mse (held-out squared error) and error (held-out classification error, argmax of f, mean over draws), each
    for raw and compressed.
    """
    held_out, sets = study_draws(dataset, sizes, draws=draws, pool=pool, seed=seed)
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    basis, sigma = population_modes(held_out)
    rows, modes, compressions = [], {}, {}
    identity, split = 0.0, 0.0
    for n, trains in zip(_sizes(sizes), sets):
        comps = [compress(train, lam, mu, method=method) for train in trains]
        raw = np.stack([c.predict(held_out.X, raw=True) for c in comps])
        comp = np.stack([c.predict(held_out.X) for c in comps])
        bv = {"raw": bias_variance(raw, held_out.Y, basis), "compressed": bias_variance(comp, held_out.Y, basis)}
        errors = {name: float(np.mean(np.argmax(F, axis=1) != held_out.labels[None, :]))
                  for name, F in (("raw", raw), ("compressed", comp))}
        row = {"n": n, "p": float(np.mean([c.whitening.p for c in comps])),
               "df raw": float(np.mean([c.raw_dof for c in comps])),
               "df compressed": float(np.mean([c.dof for c in comps]))}
        for quantity in ("bias²", "variance", "mse", "error"):
            for name in ("raw", "compressed"):
                value = errors[name] if quantity == "error" else getattr(
                    bv[name], {"bias²": "bias2", "variance": "variance", "mse": "mse"}[quantity])
                row[f"{quantity} {name}"] = value
        rows.append(row)
        modes[n] = {f"{q} {name}": getattr(bv[name], attr) for name in ("raw", "compressed")
                    for q, attr in (("bias²", "mode_bias2"), ("variance", "mode_variance"))}
        identity = max(identity, *(b.identity_error for b in bv.values()))
        split = max(split, *(b.split_error for b in bv.values()))
        compressions[n] = comps
    return CompressionStudy(rows, modes, sigma, identity, split, compressions, dataset.name, lam, mu)
