"""The SGD noise of T7 read off the network code, not from the noise formula.

Each function here trains nothing and assumes nothing about the noise: it takes minibatch gradients
of a UFM (``verify.experiments.networks``: ``minibatch_gradient``, ``draw_batch``, the sampling of
``train``) and forms ξ = (minibatch direction) − (full gradient), the kernel increment of one SGD step,
and their covariances by Monte Carlo or by enumerating every minibatch. T7's check compares them with
``verify.flows.noise``, which evaluates the derived formula.
"""
from __future__ import annotations

import numpy as np

from verify.core import validation as v
from verify.experiments.networks import UFM, draw_batch, minibatch_gradient


def _ufm(model):
    if not isinstance(model, UFM):
        raise TypeError(f"model must be a verify.experiments.networks.UFM (its features Φ are the parameter), got "
                        f"{type(model).__name__}")
    return model


def network_feature_noise(model, loss, Y, batch) -> np.ndarray:
    """ξ = (SGD direction of minibatch ``batch``) − (full gradient), for Φ of the UFM ``model``, both from
    ``verify.experiments.networks`` (``minibatch_gradient`` and ``model.gradient``): nothing of ξ = WᵀG·diag(c) is used.

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

    Minibatches are drawn by ``verify.experiments.networks.draw_batch`` (the sampling of ``verify.experiments.networks.train``), and
    ξ = :func:`network_feature_noise` comes from the network's gradients.
    """
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

    With g_B the SGD direction of ``batch`` and g the full gradient (both from ``verify.experiments.networks``), a step
    of size ±η gives Φ'_± = Φ ∓ ηg_B and Φ''_± = Φ ∓ ηg; with ξ = g_B − g,

        D(±η) = Φ'_±ᵀΦ'_± − Φ''_±ᵀΦ''_± = ∓η(ξᵀΦ + Φᵀξ) + η²(ξᵀg + gᵀξ + ξᵀξ),

    so −(D(η) − D(−η))/(2η) = ξᵀΦ + Φᵀξ exactly (the η² part is even in η and cancels): the increment the
    noise adds to K per unit step, against which ``kernel_increment`` is compared. η = ``lr`` > 0 (any size;
    only rounding, of order eps·‖Φ‖/(η‖ξ‖), depends on it).
    """
    model = _ufm(model)
    lr = v.positive("lr", lr)
    g_batch = minibatch_gradient(model, loss, None, Y, np.asarray(batch))["Phi"]
    g_full = model.gradient(loss, None, Y)["Phi"]

    def D(step):
        sgd, full = (model.with_parameters(Phi=model.Phi - step * g) for g in (g_batch, g_full))
        return sgd.kernel(None) - full.kernel(None)

    return -(D(lr) - D(-lr)) / (2 * lr)
