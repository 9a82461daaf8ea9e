"""SGD noise of the features (T7): exact covariances, Monte Carlo estimates, kernel increments.

    ξ = WᵀG·diag(c),  c_i = (n/b)·N_i − 1   (N_i: times sample i is in the minibatch)
    E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW,  Σ_c = κ(I − 11ᵀ/n)       (m × m, rank ≤ C; C − 1 for cross-entropy)
    δK = ξᵀΦ + Φᵀξ                                           (n × n, rank ≤ 2C)

κ = n(n−b)/(b(n−1)) without replacement and n/b with replacement, generated from
``theory.t7_noise.derive_noise()``. The m × m covariance is assembled from its C × C core, so the cost
is O(nC² + m²C) and the rank can be read off the m × C factor for any width.

>>> import numpy as np, theory
>>> rng = np.random.default_rng(0)
>>> Phi, W, Y = rng.standard_normal((50, 8)), rng.standard_normal((2, 50)), np.eye(2)[:, [0, 1] * 4]
>>> cov = feature_noise_covariance(theory.losses.squared(2), Phi, W, Y, batch_size=3)
>>> from verify.core.linalg import numerical_rank
>>> cov.shape, numerical_rank(cov)
((50, 50), 2)
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from theory.t7_noise import b_s, derive_noise, n_s
from verify.core import validation as v
from verify.core.linalg import binary_scale, numerical_rank
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL


@lru_cache(maxsize=None)
def _kappas():
    noise = derive_noise()
    return (sp.lambdify((n_s, b_s), noise.kappa_without_replacement),
            sp.lambdify((n_s, b_s), noise.kappa_with_replacement))


def second_moment_scale(n: int, batch_size: int, replacement: bool = False) -> float:
    """E[c_i²] = κ(1 − 1/n): the factor in E[ξξᵀ] = E[c_i²]·WᵀGGᵀW."""
    return weight_covariance_scale(n, batch_size, replacement) * (1 - 1 / n)


def weight_covariance_scale(n: int, batch_size: int, replacement: bool = False) -> float:
    """κ in Σ_c = κ(I − 11ᵀ/n) for minibatches of ``batch_size`` out of n samples."""
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in 1..n={n}, got {batch_size!r}")
    if n < 2:
        raise ValueError(f"Y: need n >= 2 samples (columns of Y and Phi) for minibatch noise, got n={n}")
    return float(_kappas()[1 if replacement else 0](n, int(batch_size)))


def _validated(loss, Phi, W, Y):
    Y = v.matrix("Y", Y, rows=loss.C)
    Phi = v.matrix("Phi", Phi, cols=Y.shape[1])
    W = v.matrix("W", W, rows=loss.C, cols=Phi.shape[0])
    return Phi, W, Y


def _finite(value: np.ndarray, what: str, culprit: str) -> np.ndarray:
    if not np.all(np.isfinite(value)):
        raise OverflowError(f"{culprit}: {what} is not finite in float64 (entries beyond 1.8e308, or NaN); rescale "
                            "the inputs")
    return value


def noise_factor(loss, Phi, W, Y, batch_size: int, *, replacement: bool = False) -> np.ndarray:
    """An m × C factor F with E[ξξᵀ] = F Fᵀ: F = Wᵀ L, L Lᵀ = E[c_i²]·GGᵀ (the C × C core).

    G is divided by a power of two s ≈ max|G| before GGᵀ is formed and F multiplied by s after (both exact),
    so the factor is finite whenever its true entries are; OverflowError naming the inputs otherwise.
    """
    Phi, W, Y = _validated(loss, Phi, W, Y)
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = _finite(W @ Phi, "the outputs WΦ", "Phi, W")
        G = _finite(numeric_loss(loss)[1](outputs, Y), "the loss gradient G at WΦ", "Y, Phi, W")
        s = binary_scale(G)
        core = second_moment_scale(Y.shape[1], batch_size, replacement) * (G / s) @ (G / s).T
        values, vectors = np.linalg.eigh((core + core.T) / 2)
        L = vectors * np.sqrt(np.clip(values, 0.0, None))
        return _finite((W.T @ L) * s, "the noise factor WᵀL", "W, Phi, Y")


def covariance_rank(factor: np.ndarray) -> int:
    """numerical_rank of F Fᵀ at TOL.rank_rtol, read off the factor: σ_i(FFᵀ) = σ_i(F)², so the factor's
    threshold is √rtol (for any width without forming the m × m matrix)."""
    return numerical_rank(factor, rtol=float(np.sqrt(TOL.rank_rtol)))


def feature_noise_covariance(loss, Phi, W, Y, batch_size: int, *, replacement: bool = False) -> np.ndarray:
    """E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW (m × m), the exact second moment of the minibatch feature-gradient noise
    ξ = WᵀG·diag(c) (E[ξ] = 0, so it is its covariance in the sense Σ_i Cov(ξ e_i)).

    ``loss``: a ``theory.losses.Loss``; Φ: m × n; W: C × m; Y: C × n; ``batch_size`` b in 1..n;
    sampling without replacement unless ``replacement``.
    """
    F = noise_factor(loss, Phi, W, Y, batch_size, replacement=replacement)
    t = binary_scale(F)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite(((F / t) @ (F / t).T) * t * t, "the covariance E[ξξᵀ]", "W, Phi, Y")


def sample_weights(rng: np.random.Generator, n: int, batch_size: int, replacement: bool = False) -> np.ndarray:
    """One draw of c = (n/b)·N − 1 for a minibatch of b samples."""
    return batch_weights(n, rng.choice(n, size=batch_size, replace=replacement))


def batch_weights(n: int, batch) -> np.ndarray:
    """c = (n/b)·N − 1 for a given minibatch of b sample indices (N_i: how often i appears in it)."""
    batch = np.asarray(batch)
    if batch.ndim != 1 or batch.size == 0 or batch.dtype.kind not in "iu" or batch.min() < 0 or batch.max() >= n:
        raise ValueError(f"batch must be a non-empty 1-D array of sample indices in 0..{n - 1}, got {batch!r}")
    return n / batch.size * np.bincount(batch, minlength=n) - 1.0


def monte_carlo_feature_noise_covariance(loss, Phi, W, Y, batch_size: int, samples: int, rng, *,
                                         replacement: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(mean of ξξᵀ over ``samples`` minibatches, standard error of each entry), ξ = WᵀG·diag(c)."""
    Phi, W, Y = _validated(loss, Phi, W, Y)
    A = W.T @ numeric_loss(loss)[1](W @ Phi, Y)  # m × n
    total = np.zeros((A.shape[0], A.shape[0]))
    square = np.zeros_like(total)
    for _ in range(int(samples)):
        xi = A * sample_weights(rng, Y.shape[1], batch_size, replacement)[None, :]
        outer = xi @ xi.T
        total += outer
        square += outer**2
    mean = total / samples
    return mean, np.sqrt(np.maximum(square / samples - mean**2, 0.0) / samples)


def kernel_increment(Phi, W, G, c) -> np.ndarray:
    """δK = ξᵀΦ + Φᵀξ with ξ = WᵀG·diag(c) (n × n; rank ≤ 2C)."""
    xi = (W.T @ G) * np.asarray(c, dtype=float)[None, :]
    return xi.T @ Phi + Phi.T @ xi
