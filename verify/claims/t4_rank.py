"""T4 — every steady state has rank K ≤ rank D ≤ C (stable or not)."""
from __future__ import annotations

import numpy as np

import theory
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import kernel_flow_problems
from verify.core.linalg import confirmed_rank
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.kernel_flow import (
    ConvergenceError,
    integrate_kernel_flow,
    newton_steady_state,
    problem_scale,
    steady_state,
    steady_state_rank,
)
from verify.flows.kernel_ode import drive_operator
from verify.flows.stability import commuting_steady_states
from verify.truth import instances
from verify.truth.direct_minimisers import MinimisationError, minimise_reduced_objective


def rank_excess(K, C, scale: float | None = None) -> float:
    """max(0, rank K − C): 0 when the bound rank K ≤ C holds (rank by :func:`steady_state_rank`)."""
    return float(max(0, steady_state_rank(K, scale) - C))


def range_inclusion_error(K, Y, lam, mu, scale: float) -> float:
    """‖(D − μI)K‖ / (μ·max(‖K‖, TOL.steady_state_floor·scale)): range K ⊆ ker(D − μI), relative to K
    except for a K∞ that is 0 up to the steady-state floor, where the relative measure is 0/0."""
    D = drive_operator(K, Y, lam)
    reference = max(np.linalg.norm(K), TOL.steady_state_floor * scale, np.finfo(float).tiny)
    return float(np.linalg.norm((D - mu * np.eye(K.shape[0])) @ K) / (mu * reference))


def rank_against_C_figure(ctx: Context) -> dict:
    """rank K∞ against C (one-hot labels) with and without feature decay."""
    rng = ctx.rng(9)
    n = ctx.pick(12, 24)
    classes = list(range(1, 7))
    with_decay, without = [], []
    for C in classes:
        Y = instances.one_hot_labels(rng, n, C)
        K0 = instances.generic_kernel(rng, n)
        with_decay.append(confirmed_rank(steady_state(K0, Y, 0.2, 0.05)))
        without.append(confirmed_rank(integrate_kernel_flow(K0, Y, 0.2, 0.0, 20.0).kernels[-1]))
    return {"name": "rank-vs-C", "title": f"T4: rank of K∞ against the number of classes (n = {n})",
            "xlabel": "C", "ylabel": "numerical rank", "x": classes,
            "series": {"K∞ (μ = 0.05)": with_decay, "bound C": classes, "μ = 0, K(20) (control)": without},
            "styles": {"bound C": "k--", "μ = 0, K(20) (control)": "s:"}}


#: sizes of the random PSD perturbation of a commuting steady state that starts Newton, relative to its norm,
#: tried in turn: stiff problems (s ≫ λμ) can defeat Newton from 5% away but not from closer
NEWTON_PERTURBATIONS = (0.05, 0.01, 0.001)


def newton_steady_states(Y, lam, mu, rng, count: int = 3):
    """Steady states found by Newton from generic perturbations of commuting steady states.

    Starting points are non-commuting (a random PSD perturbation of 5% of the norm; 1% then 0.1% where
    Newton fails from there), so whatever Newton converges to — often an unstable state with a fillable
    mode empty — was not built with the low-rank structure. Starts where Newton fails at every size are
    skipped. Newton may also land on an *indefinite* fixed point of the ODE, outside the lemma's
    hypothesis K ⪰ 0 (those can exceed rank C); they are returned separately as (psd, indefinite).
    """
    found, indefinite = [], []
    for state in commuting_steady_states(Y, lam, mu)[-count:]:
        n = state.kernel.shape[0]
        for size in NEWTON_PERTURBATIONS:
            B = rng.standard_normal((n, n))
            start = state.kernel + size * max(np.linalg.norm(state.kernel), 1.0) * (B @ B.T) / np.linalg.norm(B @ B.T)
            try:
                K = newton_steady_state(start, Y, lam, mu)
            except ConvergenceError:
                continue
            psd = np.linalg.eigvalsh(K)[0] >= -TOL.rank_rtol * max(np.linalg.norm(K), np.finfo(float).tiny)
            (found if psd else indefinite).append(K)
            break
    return found, indefinite


def measure(K0, Y, lam, mu, rng) -> dict:
    """What the T4 check measures on one problem: K∞ from K0 (kernel, rank, rank excess, range-inclusion
    error) and the rank excess of the PSD steady states Newton finds (plus the indefinite ones, unjudged).
    Rank and inclusion use the steady-state floor against :func:`problem_scale`, so a K∞ = 0 (every label
    mode below threshold) is rank 0 and in the kernel of D − μI."""
    C = Y.shape[0]
    K = steady_state(K0, Y, lam, mu)
    scale = problem_scale(K0, Y, lam, mu)
    psd, indefinite = newton_steady_states(Y, lam, mu, rng)
    return {"K": K, "scale": scale, "rank": steady_state_rank(K, scale), "excess": rank_excess(K, C, scale),
            "inclusion": range_inclusion_error(K, Y, lam, mu, scale),
            "newton excess": [rank_excess(S, C, scale) for S in psd], "indefinite": indefinite}


def check(ctx: Context):
    """The check of T4: rank K∞ ≤ C (confirmed ranks) at the flow's steady states and at steady states found by
    Newton (stable or not), range K∞ ⊆ ker(D − μI), and the rank #{s > λμ} of direct minimisers of L*(K).

    Controls that must fail: μ = 0 (the flow keeps the rank of K(0)) and a count without the threshold λμ. Returns
    the combined :class:`~verify.core.verdict.Verdict`, with the measured ranks and a figure."""
    excess, inclusion, ranks, newton, outside = [], [], [], [], []
    for K0, Y, lam, mu in kernel_flow_problems(ctx, salt=5):
        C = Y.shape[0]
        m = measure(K0, Y, lam, mu, ctx.rng(len(ranks) + 1))
        inclusion.append(m["inclusion"])
        ranks.append((K0.shape[0], C, m["rank"]))
        excess.append(m["excess"])
        newton.extend(m["newton excess"])
        outside.extend((K.shape[0], C, confirmed_rank(K)) for K in m["indefinite"])
    parts = {"rank K∞ − C (confirmed rank)": judge("T4", excess, 0.0, ctx.seed, what="rank excess"),
             "rank − C at steady states found by Newton (stable or not)": judge("T4", newton, 0.0, ctx.seed,
                                                                                 what="rank excess"),
             "range K∞ ⊆ ker(D − μI)": judge("T4", inclusion, TOL.range_inclusion, ctx.seed)}
    direct = direct_minimiser_ranks(ctx)
    parts["direct minimiser of L*(K): rank = #{s > λμ} and ≤ C"] = judge_direct_ranks(ctx, direct)
    # controls: without decay the flow preserves rank (K(t) = TᵀK(0)T), so rank stays n > C
    no_decay = []
    for K0, Y, lam, _ in list(kernel_flow_problems(ctx, salt=5))[:2]:
        K_T = integrate_kernel_flow(K0, Y, lam, 0.0, 20.0).kernels[-1]
        no_decay.append(rank_excess(K_T, Y.shape[0]))
    controls = {"mu = 0: K(T) keeps the rank of K(0)": judge("T4", no_decay, 0.0, ctx.seed, what="rank excess")}
    controls["direct minimiser's rank against a count without the threshold, #{s > 0}"] = judge_direct_ranks(
        ctx, direct, threshold=lambda lam, mu: 0.0)
    return combine("T4", ctx.seed, parts, derivation=theory.derive_rank_lemma(), controls=controls,
                   details={"figures": [rank_against_C_figure(ctx)], "(n, C, rank K∞)": ranks,
                            "indefinite fixed points found by Newton (outside K ⪰ 0), (n, C, rank)": outside})


def direct_minimiser_ranks(ctx: Context):
    """(C, label spectrum s, λ, μ, rank of K) with K the direct minimiser of L*(K) = (λ/2)tr(Y(K + λI)⁻¹Yᵀ) +
    (μ/2)tr K (``verify.truth.direct_minimisers``: no derivation, no flow), or rank None if it was not certified.

    The rank counts eigenvalues above TOL.rank_rtol·max(‖K‖₂, λ): λ is the scale of κ = λ(√(s/λμ) − 1), so a
    minimiser that is 0 up to rounding (every mode below threshold) has rank 0, not the rank of its rounding.
    """
    out = []
    for k, (_, Y, lam, mu) in enumerate(kernel_flow_problems(ctx, salt=5)):
        s = np.linalg.svd(Y, compute_uv=False) ** 2  # the label modes, straight from Y
        try:
            K = minimise_reduced_objective(Y, lam, mu, seed=k)
        except MinimisationError:
            out.append((Y.shape[0], s, lam, mu, None))
            continue
        eig = np.linalg.eigvalsh(K)
        out.append((Y.shape[0], s, lam, mu, int(np.sum(eig > TOL.rank_rtol * max(eig[-1], lam)))))
    return out


def judge_direct_ranks(ctx: Context, direct, threshold=lambda lam, mu: lam * mu):
    """Error |rank K − #{s > threshold}| + max(0, rank K − C) per problem (0 when the exact law's count holds
    and the lemma's bound too). A problem with a mode within TOL.threshold_margin of λμ (filled or empty is
    then decided by a tiny κ) is skipped and counted; ``threshold`` other than λμ is a negative control."""
    errors, rows, skipped = [], [], 0
    for C, s, lam, mu, rank in direct:
        if np.any(np.abs(s / (lam * mu) - 1) < TOL.threshold_margin):
            skipped += 1
            continue
        count = int(np.sum(s > threshold(lam, mu)))
        errors.append(np.inf if rank is None else abs(rank - count) + max(0, rank - C))
        rows.append((C, count, rank))
    return judge("T4", errors, 0.0, ctx.seed, what="rank − law count",
                 details={"(C, law count, rank of the direct minimiser)": rows,
                          f"skipped: a label mode within {TOL.threshold_margin:.0%} of λμ": skipped})


register(Claim(
    "T4", "Rank lemma",
    "Every steady state satisfies range K ⊆ ker(D − μI) ⊆ range D, hence rank K∞ ≤ rank D ≤ C.",
    "squared loss, fast readout, μ > 0; stability not needed",
    check))
