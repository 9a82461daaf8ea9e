"""E2 — a penalty (ν/4)‖K‖²_F on the kernel (worked extension): rank K∞ ≤ C, T3's threshold, a cubic level.

The derivation is :func:`theory.derive_kernel_penalty`; the numerics integrate the kernel ODE generated from it
(:func:`verify.flows.extensions.penalty_rhs`) from generic K(0) and compare with the law generated from its level
equation (:func:`verify.flows.extensions.penalty_law_spectrum`) and with the independent ground truth: L(W, Φ) +
(ν/4)‖ΦᵀΦ‖² minimised directly (:func:`verify.truth.direct_minimisers.minimise_penalised_objective`). Negative
controls: T3's law (ν = 0), the law at ν/2, and the bound C − 1 (too tight: the penalty does not lower the rank).
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
from verify.flows.extensions import flow_steady_state, penalty_law_spectrum, penalty_rhs
from verify.flows.water_filling import water_filling_spectrum
from verify.truth import instances
from verify.truth.direct_minimisers import MinimisationError, minimise_penalised_objective


def problems(ctx: Context):
    """(K0, Y, λ, μ, ν): one-hot or real labels, ν from 0.05 to 5, labelled modes far from the threshold λμ."""
    rng = ctx.rng(32)
    out = []
    for k in range(ctx.pick(4, 12)):
        C = 2 + k % 2
        n = int(rng.integers(C + 3, C + 7))
        Y = instances.one_hot_labels(rng, n, C) if k % 3 else instances.real_labels(rng, n, C)
        lam, mu = instances.log_uniform(rng, 0.1, 1.0), instances.log_uniform(rng, 0.02, 0.1)
        out.append((instances.generic_kernel(rng, n), Y, lam, mu, instances.log_uniform(rng, 0.05, 5.0)))
    return out


def check(ctx: Context):
    """E2's verdict: the generated flow and the direct minimiser against the cubic law and rank ≤ C, on
    :func:`problems`, with the controls of the module docstring that must be rejected."""
    cases = problems(ctx)
    flows, minima = [], []
    for k, (K0, Y, lam, mu, nu) in enumerate(cases):
        try:
            flows.append(flow_steady_state(penalty_rhs, K0, Y, lam, mu, nu))
        except ConvergenceError:
            flows.append(None)
        try:
            minima.append(minimise_penalised_objective(Y, lam, mu, nu, seed=k))
        except MinimisationError:
            minima.append(None)
    laws = [penalty_law_spectrum(Y, lam, mu, nu) for _, Y, lam, mu, nu in cases]
    C = [Y.shape[0] for _, Y, *_ in cases]
    parts = {
        "integrated K∞ (generated E2 flow, generic K(0)): spectrum vs the cubic law": judge(
            "E2", [state_spectrum_error(K, law) for K, law in zip(flows, laws)], TOL.law, ctx.seed),
        "direct minimiser of L(W, Φ) + (ν/4)‖K‖²: spectrum vs the cubic law": judge(
            "E2", [state_spectrum_error(K, law) for K, law in zip(minima, laws)], TOL.direct_minimiser, ctx.seed),
        "integrated K∞ vs direct minimiser": judge(
            "E2", [np.inf if K is None or M is None else relative_error(K, M) for K, M in zip(flows, minima)],
            TOL.law, ctx.seed),
        "rank K∞ ≤ C": judge("E2", [state_rank_excess(K, c) for K, c in zip(flows + minima, C + C)], 0.0, ctx.seed,
                             what="rank excess"),
    }
    controls = {
        "T3's law (ν = 0) against the penalised steady states": judge(
            "E2", [state_spectrum_error(K, water_filling_spectrum(Y, lam, mu)) for K, (_, Y, lam, mu, _) in
                   zip(minima, cases)], TOL.direct_minimiser, ctx.seed),
        "the law at ν/2": judge(
            "E2", [state_spectrum_error(K, penalty_law_spectrum(Y, lam, mu, nu / 2)) for K, (_, Y, lam, mu, nu) in
                   zip(flows, cases)], TOL.law, ctx.seed),
        "the bound C − 1 (too tight)": judge(
            "E2", [state_rank_excess(K, c - 1) for K, c in zip(flows, C)], 0.0, ctx.seed, what="rank excess"),
    }
    return combine("E2", ctx.seed, parts, derivation=theory.derive_kernel_penalty(2), controls=controls,
                   details={"rank bound": "rank K∞ ≤ rank D ≤ C; a mode fills iff s > λμ (T3's threshold)",
                            "law": "filled level: the root κ > 0 of (κ + λ)²(μ + νκ) = λs"})


register(Claim(
    "E2", "Extension: a penalty on the kernel",
    "With (ν/4)‖K‖²_F added, steady states have rank K ≤ C; a mode fills iff s > λμ, to the root of "
    "(κ + λ)²(μ + νκ) = λs.",
    "squared loss, fast readout, λ, μ, ν > 0",
    check))
