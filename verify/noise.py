"""SGD noise of the features (T7): exact covariances, Monte Carlo estimates, kernel increments.

    ξ = WᵀG·diag(c),  c_i = (n/b)·N_i − 1   (N_i: times sample i is in the minibatch)
    E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW,  Σ_c = κ(I − 11ᵀ/n)       (m × m, rank ≤ C; C − 1 for cross-entropy)
    δK = ξᵀΦ + Φᵀξ                                           (n × n, rank ≤ 2C)

κ = n(n−b)/(b(n−1)) without replacement and n/b with replacement, generated from
``theory.noise.derive_noise()``. The m × m covariance is assembled from its C × C core, so the cost
is O(nC² + m²C) and the rank can be read off the m × C factor for any width.

>>> import numpy as np, theory
>>> rng = np.random.default_rng(0)
>>> Phi, W, Y = rng.standard_normal((50, 8)), rng.standard_normal((2, 50)), np.eye(2)[:, [0, 1] * 4]
>>> cov = feature_noise_covariance(theory.losses.squared(2), Phi, W, Y, batch_size=3)
>>> from verify.linalg import numerical_rank
>>> cov.shape, numerical_rank(cov)
((50, 50), 2)
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from theory.noise import b_s, derive_noise, n_s
from verify import validation as v
from verify.linalg import binary_scale, numerical_rank
from verify.loss_numeric import numeric_loss
from verify.tolerances import TOL


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


# ----------------------------------------------------------------------------------------------
# the same quantities from the network code (verify.networks), not from the noise formula


def _ufm(model):
    from verify.networks import UFM

    if not isinstance(model, UFM):
        raise TypeError(f"model must be a verify.networks.UFM (its features Φ are the parameter), got "
                        f"{type(model).__name__}")
    return model


def network_feature_noise(model, loss, Y, batch) -> np.ndarray:
    """ξ = (SGD direction of minibatch ``batch``) − (full gradient), for Φ of the UFM ``model``, both from
    ``verify.networks`` (``minibatch_gradient`` and ``model.gradient``): nothing of ξ = WᵀG·diag(c) is used.

    Distinct indices: one minibatch gradient (n/b)·∂/∂Φ Σ_{i∈B} ℓ_i + μΦ. Repeated indices (sampling with
    replacement): the SGD direction (n/b)·Σ_k ∂ℓ_{i_k}/∂Φ + μΦ is the mean of the b single-draw directions
    ``minibatch_gradient([i_k])``. The decay μΦ is in both terms and cancels.
    """
    batch = np.asarray(batch)
    return _network_noises(model, loss, Y, batch[None, :], np.unique(batch).size != batch.size)[0]


def _network_noises(model, loss, Y, batches, replacement: bool) -> np.ndarray:
    """ξ for each row of ``batches`` (s × b), as in :func:`network_feature_noise`: s × m × n. A minibatch's
    gradient does not depend on the draw, so the network is asked once per distinct minibatch (without
    replacement) or once per sample (with replacement: the n single-draw directions, averaged per row)."""
    from verify.networks import minibatch_gradient

    model = _ufm(model)
    full = model.gradient(loss, None, Y)["Phi"]
    batches = np.asarray(batches)
    if replacement:
        single = np.stack([minibatch_gradient(model, loss, None, Y, np.array([i]))["Phi"]
                           for i in range(model.Phi.shape[1])])
        return single[batches].mean(axis=1) - full
    distinct, inverse = np.unique(batches, axis=0, return_inverse=True)
    noise = np.stack([minibatch_gradient(model, loss, None, Y, b)["Phi"] - full for b in distinct])
    return noise[inverse.ravel()]


def network_monte_carlo_feature_noise_covariance(model, loss, Y, batch_size: int, samples: int, rng, *,
                                                 replacement: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(mean of ξξᵀ over ``samples`` SGD minibatches, standard error of each entry), m × m.

    Minibatches are drawn by ``verify.networks.draw_batch`` (the sampling of ``verify.networks.train``), and
    ξ = :func:`network_feature_noise` comes from the network's gradients.
    """
    from verify.networks import draw_batch

    model = _ufm(model)
    samples = int(samples)
    if samples < 2:
        raise ValueError(f"samples must be an int >= 2 (a standard error needs two), got {samples!r}")
    n = model.Phi.shape[1]
    batches = np.stack([draw_batch(rng, n, batch_size, replacement=replacement) for _ in range(samples)])
    xi = _network_noises(model, loss, Y, batches, replacement)
    outer = np.einsum("sik,sjk->sij", xi, xi)
    mean = outer.mean(axis=0)
    return mean, np.sqrt(np.maximum((outer**2).mean(axis=0) - mean**2, 0.0) / samples)


def network_enumerated_feature_noise_covariance(model, loss, Y, batch_size: int, *,
                                                replacement: bool = False) -> np.ndarray:
    """E[ξξᵀ] exactly, as the mean of ξξᵀ over every equally likely minibatch: all C(n, b) subsets without
    replacement, all n^b ordered draws with replacement; ξ from the network's gradients
    (:func:`network_feature_noise`). Small n and b only (at most 200 000 minibatches)."""
    from itertools import combinations, product
    from math import comb

    model = _ufm(model)
    n = model.Phi.shape[1]
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in 1..n={n}, got {batch_size!r}")
    count = n**batch_size if replacement else comb(n, batch_size)
    if count > 200_000:
        raise ValueError(f"{count} minibatches to enumerate (n = {n}, b = {batch_size}); use "
                         "network_monte_carlo_feature_noise_covariance instead")
    batches = np.array(list(product(range(n), repeat=batch_size) if replacement
                            else combinations(range(n), batch_size)))
    xi = _network_noises(model, loss, Y, batches, replacement)
    return np.einsum("sik,sjk->ij", xi, xi) / count


def network_kernel_increment(model, loss, Y, batch, lr: float) -> np.ndarray:
    """The kernel noise increment of one SGD step, read off the updated features of the UFM ``model``.

    With g_B the SGD direction of ``batch`` and g the full gradient (both from ``verify.networks``), a step
    of size ±η gives Φ'_± = Φ ∓ ηg_B and Φ''_± = Φ ∓ ηg; with ξ = g_B − g,

        D(±η) = Φ'_±ᵀΦ'_± − Φ''_±ᵀΦ''_± = ∓η(ξᵀΦ + Φᵀξ) + η²(ξᵀg + gᵀξ + ξᵀξ),

    so −(D(η) − D(−η))/(2η) = ξᵀΦ + Φᵀξ exactly (the η² part is even in η and cancels): the increment the
    noise adds to K per unit step, against which ``kernel_increment`` is compared. η = ``lr`` > 0 (any size;
    only rounding, of order eps·‖Φ‖/(η‖ξ‖), depends on it).
    """
    from verify.networks import minibatch_gradient

    model = _ufm(model)
    lr = v.positive("lr", lr)
    g_batch = minibatch_gradient(model, loss, None, Y, np.asarray(batch))["Phi"]
    g_full = model.gradient(loss, None, Y)["Phi"]

    def D(step):
        sgd, full = (model.with_parameters(Phi=model.Phi - step * g) for g in (g_batch, g_full))
        return sgd.kernel(None) - full.kernel(None)

    return -(D(lr) - D(-lr)) / (2 * lr)
