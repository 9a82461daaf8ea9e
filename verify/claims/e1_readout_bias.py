"""E1 — a readout with a bias (worked extension): rank K∞ ≤ rank(YH) (C − 1 for one-hot labels), water-filling of HSH.

The derivation is :func:`theory.derive_readout_bias`; the numerics integrate the kernel ODE generated from it
(:func:`verify.flows.extensions.bias_rhs`) from generic K(0), and compare with the independent ground truth: the
objective L(W, b, Φ) minimised directly over W, b and Φ (:func:`verify.truth.direct_minimisers.minimise_bias_objective`,
hand-written gradients, no derivation). Negative controls: the same model without the bias (T2's steady state) breaks
the bound C − 1, T3's law with the uncentred labels and the law at 2μ are rejected.
"""
from __future__ import annotations

import numpy as np

import theory
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import state_rank_excess, state_spectrum_error
from verify.core.errors import ConvergenceError
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.extensions import bias_law_spectrum, bias_rhs, flow_steady_state
from verify.flows.kernel_flow import steady_state
from verify.flows.water_filling import water_filling_spectrum
from verify.truth import instances
from verify.truth.direct_minimisers import MinimisationError, minimise_bias_objective


def problems(ctx: Context):
    """(K0, Y, λ, μ, rank bound, kind): one-hot labels (bound C − 1) and real labels (bound C), every labelled
    mode far above its threshold (s̃ ≥ 1 ≫ λμ)."""
    rng = ctx.rng(31)
    out = []
    for k in range(ctx.pick(4, 12)):
        C = 2 + k % 2
        n = int(rng.integers(C + 3, C + 7))
        one_hot = k % 4 != 3
        Y = instances.one_hot_labels(rng, n, C) if one_hot else instances.real_labels(rng, n, C)
        lam, mu = instances.log_uniform(rng, 0.1, 1.0), instances.log_uniform(rng, 0.02, 0.1)
        bound = C - 1 if one_hot else C
        out.append((instances.generic_kernel(rng, n), Y, lam, mu, bound, "one-hot" if one_hot else "real"))
    return out


def check(ctx: Context):
    """E1's verdict: the generated flow and the direct minimiser against the law and the bound rank(YH), on
    :func:`problems`, with the controls of the module docstring that must be rejected."""
    cases = problems(ctx)
    flows, minima = [], []
    for k, (K0, Y, lam, mu, *_rest) in enumerate(cases):
        try:
            flows.append(flow_steady_state(bias_rhs, K0, Y, lam, mu))
        except ConvergenceError:
            flows.append(None)
        try:
            minima.append(minimise_bias_objective(Y, lam, mu, seed=k))
        except MinimisationError:
            minima.append(None)
    laws = [bias_law_spectrum(Y, lam, mu) for _, Y, lam, mu, *_ in cases]
    bounds = [bound for *_, bound, _ in cases]
    parts = {
        "integrated K∞ (generated E1 flow, generic K(0)): spectrum vs water-filling of HSH": judge(
            "E1", [state_spectrum_error(K, law) for K, law in zip(flows, laws)], TOL.law, ctx.seed),
        "direct minimiser of L(W, b, Φ): spectrum vs water-filling of HSH": judge(
            "E1", [state_spectrum_error(K, law) for K, law in zip(minima, laws)], TOL.direct_minimiser, ctx.seed),
        "integrated K∞ vs direct minimiser": judge(
            "E1", [np.inf if K is None or M is None else relative_error(K, M) for K, M in zip(flows, minima)],
            TOL.law, ctx.seed),
        "rank K∞ ≤ rank(YH) (C − 1 one-hot, C real labels)": judge(
            "E1", [state_rank_excess(K, b) for K, b in zip(flows + minima, bounds + bounds)], 0.0, ctx.seed,
            what="rank excess"),
        "mean feature decays: ‖K∞1‖/‖K∞‖": judge(
            "E1", [np.inf if K is None else np.linalg.norm(K.sum(axis=1)) / np.linalg.norm(K) for K in flows],
            TOL.law, ctx.seed),
    }
    one_hot = [(K0, Y, lam, mu, b) for K0, Y, lam, mu, b, kind in cases if kind == "one-hot"][:2]
    controls = {
        "no bias (T2's steady state) against the bound C − 1": judge(
            "E1", [state_rank_excess(steady_state(K0, Y, lam, mu), b) for K0, Y, lam, mu, b in one_hot], 0.0, ctx.seed,
            what="rank excess"),
        "T3's law with the uncentred labels (S, not HSH)": judge(
            "E1", [state_spectrum_error(K, water_filling_spectrum(Y, lam, mu)) for K, (_, Y, lam, mu, *_) in
                   zip(minima, cases)], TOL.direct_minimiser, ctx.seed),
        "direct minimiser at 2μ vs the law at μ": judge(
            "E1", [state_spectrum_error(minimise_bias_objective(Y, lam, 2 * mu, seed=0), bias_law_spectrum(Y, lam, mu))
                   for _, Y, lam, mu, *_ in cases[:2]], TOL.direct_minimiser, ctx.seed),
    }
    derivation = theory.derive_readout_bias(2)
    return combine("E1", ctx.seed, parts, derivation=derivation, controls=controls,
                   details={"rank bound": "rank K∞ ≤ rank(YH): C − 1 for one-hot labels, C for real labels",
                            "law": "water-filling of HSH: κ = (√(λs̃/μ) − λ)₊, s̃ the eigenvalues of (YH)ᵀ(YH)"})


register(Claim(
    "E1", "Extension: a readout with a bias",
    "With F = WΦ + b1ᵀ (b unpenalised), steady states have rank K ≤ rank(YH) — C − 1 for one-hot labels — and the "
    "spectrum of HSH water-filled; the mean feature decays.",
    "squared loss, fast readout and bias, λ, μ > 0",
    check))

