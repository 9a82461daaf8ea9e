"""T4 — every steady state has rank K ≤ rank D ≤ C (stable or not)."""
from __future__ import annotations

import numpy as np

import theory
from verify.claims import Claim, Context, register
from verify.claims.common import combine
from verify.claims.water_filling import problems
from verify.flows import integrate_kernel_flow, steady_state
from verify.kernel_ode import drive_operator
from verify.linalg import confirmed_rank
from verify.stability import commuting_steady_states
from verify.verdict import judge


def rank_excess(K, C) -> float:
    """max(0, rank K − C): 0 when the bound rank K ≤ C holds."""
    return float(max(0, confirmed_rank(K) - C))


def check(ctx: Context):
    excess, inclusion, ranks = [], [], []
    for K0, Y, lam, mu in problems(ctx, salt=5):
        C = Y.shape[0]
        K = steady_state(K0, Y, lam, mu)
        # range K ⊆ ker(D − μI): ‖(D − μI)K‖ / (μ‖K‖)
        D = drive_operator(K, Y, lam)
        inclusion.append(np.linalg.norm((D - mu * np.eye(K.shape[0])) @ K) / (mu * np.linalg.norm(K)))
        ranks.append((K.shape[0], C, confirmed_rank(K)))
        excess.append(rank_excess(K, C))
        if K.shape[0] <= 30:  # unstable steady states obey the bound too
            excess += [rank_excess(s.kernel, C) for s in commuting_steady_states(Y, lam, mu) if s.kernel.any()]
    parts = {"rank K∞ − C (confirmed rank)": judge("T4", excess, 0.0, ctx.seed, what="rank excess"),
             "range K∞ ⊆ ker(D − μI)": judge("T4", inclusion, 1e-8, ctx.seed)}
    # controls: without decay the flow preserves rank (K(t) = TᵀK(0)T), so rank stays n > C
    no_decay = []
    for K0, Y, lam, _ in list(problems(ctx, salt=5))[:2]:
        K_T = integrate_kernel_flow(K0, Y, lam, 0.0, 20.0).kernels[-1]
        no_decay.append(rank_excess(K_T, Y.shape[0]))
    controls = {"mu = 0: K(T) keeps the rank of K(0)": judge("T4", no_decay, 0.0, ctx.seed, what="rank excess")}
    return combine("T4", ctx.seed, parts, derivation=theory.rank_lemma(), controls=controls,
                   details={"(n, C, rank K∞)": ranks})


register(Claim(
    "T4", "Rank lemma",
    "Every steady state satisfies range K ⊆ ker(D − μI) ⊆ range D, hence rank K∞ ≤ rank D ≤ C.",
    "squared loss, fast readout, μ > 0; stability not needed",
    check))
