"""Instances and conditions that several claims share (one definition, so that the claims agree on them).

``LOSSES`` and ``labels``: the losses of T5 and T7 with the label kind each expects;
``kernel_flow_problems``: the (K0, Y, λ, μ) instances of T3 and T4; ``digits_available``: whether the
digits of the optional ``data`` extra can be loaded (T8–T10 fall back and say so).
"""
from __future__ import annotations

import importlib.util

import numpy as np

import theory
from verify.claims.registry import Context
from verify.core.linalg import confirmed_rank, relative_error
from verify.truth import instances

LOSSES = (
    ("squared", theory.losses.squared, "one-hot"),
    ("huber", theory.losses.huber, "real"),
    ("logistic", lambda C: theory.losses.logistic(), "signs"),
    ("softmax_cross_entropy", theory.losses.softmax_cross_entropy, "one-hot"),
)


def labels(rng, kind: str, n: int, C: int) -> np.ndarray:
    """C × n labels of the ``kind`` a loss expects, drawn from ``rng``: "one-hot" (every class present,
    :func:`~verify.truth.instances.one_hot_labels`), "signs" (a 1 × n row of ±1 for the logistic loss; ``C`` is not
    used), anything else real Gaussian labels (:func:`~verify.truth.instances.real_labels`)."""
    if kind == "one-hot":
        return instances.one_hot_labels(rng, n, C)
    if kind == "signs":
        return np.where(rng.random((1, n)) < 0.5, -1.0, 1.0)
    return instances.real_labels(rng, n, C)


def kernel_flow_problems(ctx: Context, salt: int = 3):
    """(K0, Y, λ, μ): generic K0; one-hot labels, real labels, and labels with modes on both sides of λμ."""
    rng = ctx.rng(salt)
    for k in range(ctx.pick(4, 12)):
        n = int(rng.integers(5, ctx.pick(24, 80)))
        C = int(rng.integers(1, min(n, 4) + 1))
        lam, mu = instances.log_uniform(rng, 0.05, 1.0), instances.log_uniform(rng, 0.02, 0.3)
        if k % 3 == 0:
            Y = instances.one_hot_labels(rng, n, C)
        elif k % 3 == 1:
            Y = instances.real_labels(rng, n, C)
        else:  # one mode cut off (s ∈ [0.1, 0.6]λμ), the others filled (s ∈ [2, 100]λμ)
            ratios = np.concatenate([rng.uniform(0.1, 0.6, 1), np.exp(rng.uniform(np.log(2.0), np.log(100.0), C - 1))])
            sigma = np.sqrt(lam * mu * ratios)
            Y = instances.labels_with_spectrum(rng, n, sigma)
        yield instances.generic_kernel(rng, n, scale=float(rng.uniform(0.3, 3.0))), Y, lam, mu


def digits_available() -> bool:
    """The digits need scikit-learn (optional extra ``data``); without it those checks are skipped and said so."""
    return importlib.util.find_spec("sklearn") is not None


def state_spectrum_error(K, law) -> float:
    """Relative error of the descending spectrum of a steady state K against ``law`` (inf when K is None: the flow
    or the minimiser did not converge, which a judge must count as a failure)."""
    return np.inf if K is None else relative_error(np.linalg.eigvalsh(K)[::-1], law)


def state_rank_excess(K, bound) -> float:
    """max(0, rank K − bound) by :func:`verify.core.linalg.confirmed_rank` (inf when K is None)."""
    return np.inf if K is None else float(max(0, confirmed_rank(K) - bound))
