"""T1 — readout elimination: generated W* and min_W L against a numerical minimiser."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

import theory
from theory import notation as nt
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.codegen import generate
from verify.truth import instances
from verify.truth.finite_differences import optimal_readout, reduced_objective


@lru_cache(maxsize=None)
def compiled_readout(C: int):
    """(W*(K, Φ, Y, λ), G*(K, Y, λ), min_W L(K, Y, λ, μ)) generated from the T1 derivation."""
    t1 = theory.derive_readout(theory.losses.squared(C))
    return (generate(t1.W_star, (nt.K, nt.Phi, nt.Y, nt.lam)), generate(t1.G_star, (nt.K, nt.Y, nt.lam)),
            generate(t1.reduced_objective, (nt.K, nt.Y, nt.lam, nt.mu)))


def cases(ctx: Context):
    """The T1 instances (Φ, Y, λ, μ), drawn from ``ctx.rng(1)``: ``ctx.pick(6, 20)`` problems with n in [4, 30)
    (quick) or [4, 100) (full), C ≤ min(n, 5), m in [n/3, 2n), one-hot and real labels in turn, λ log-uniform in
    [0.01, 3] and μ log-uniform in [0.01, 1]."""
    rng = ctx.rng(1)
    for k in range(ctx.pick(6, 20)):
        n = int(rng.integers(4, ctx.pick(30, 100)))
        C = int(rng.integers(1, min(n, 5) + 1))
        m = int(rng.integers(max(1, n // 3), 2 * n))
        Y = instances.one_hot_labels(rng, n, C) if k % 2 else instances.real_labels(rng, n, C)
        yield instances.features(rng, m, n), Y, instances.log_uniform(rng, 0.01, 3.0), instances.log_uniform(rng, 0.01, 1.0)


def readout_errors(ctx: Context, readout=None, objective=None):
    """Relative errors of W*, G* = W*Φ − Y and min_W L (generated, or the given replacements)
    against a least-squares minimiser and the objective evaluated at it."""
    w_err, g_err, l_err = [], [], []
    for Phi, Y, lam, mu in cases(ctx):
        W_gen, G_gen, L_gen = compiled_readout(Y.shape[0])
        loss = theory.losses.squared(Y.shape[0])
        K = Phi.T @ Phi
        W_num = optimal_readout(loss, Phi, Y, lam)
        W = W_gen(K, Phi, Y, lam) if readout is None else readout(K, Phi, Y, lam)
        L = L_gen(K, Y, lam, mu) if objective is None else objective(K, Y, lam, mu)
        L_num = reduced_objective(loss, Phi, Y, lam, mu)
        w_err.append(relative_error(W, W_num))
        g_err.append(relative_error(G_gen(K, Y, lam), W_num @ Phi - Y))
        l_err.append(abs(L - L_num) / abs(L_num))
    return w_err, g_err, l_err


def check(ctx: Context):
    """The check of T1: the generated W*, G* = W*Φ − Y and min_W L against a least-squares solve and the objective at
    its minimiser, on :func:`cases` (tolerance ``TOL.closed_form_vs_solver``).

    Controls that must fail: the readout without the ridge term (YΦ⁺) and min_W L with (K + 2λI)⁻¹. Returns the
    combined :class:`~verify.core.verdict.Verdict`, with the derivation of T1 (squared loss)."""
    w_err, g_err, l_err = readout_errors(ctx)
    parts = {"W* vs least squares": judge("T1", w_err, TOL.closed_form_vs_solver, ctx.seed),
             "G* vs W*Φ − Y at the least-squares W*": judge("T1", g_err, TOL.closed_form_vs_solver, ctx.seed),
             "min_W L vs objective at the minimiser": judge("T1", l_err, TOL.closed_form_vs_solver, ctx.seed)}
    # controls: the ridge-free readout YΦᵀ(ΦΦᵀ)⁺ is not the optimum; a shifted resolvent in min_W L
    # is not the minimum value
    w_bad, _, _ = readout_errors(ctx, readout=lambda K, Phi, Y, lam: Y @ np.linalg.pinv(Phi))
    _, _, l_bad = readout_errors(ctx, objective=lambda K, Y, lam, mu: lam / 2 * np.trace(
        Y @ np.linalg.solve(K + 2 * lam * np.eye(K.shape[0]), Y.T)) + mu / 2 * np.trace(K))
    controls = {"readout without the ridge term": judge("T1", w_bad, TOL.closed_form_vs_solver, ctx.seed),
                "min_W L with (K + 2λI)⁻¹": judge("T1", l_bad, TOL.closed_form_vs_solver, ctx.seed)}
    return combine("T1", ctx.seed, parts, derivation=theory.derive_readout(theory.losses.squared(2)),
                   controls=controls)


register(Claim(
    "T1", "Readout elimination",
    "W* = Y(K+λI)⁻¹Φᵀ (push-through), G* = −λY(K+λI)⁻¹, min_W L = (λ/2)tr(Y(K+λI)⁻¹Yᵀ) + (μ/2)tr K.",
    "squared loss (any loss with gradient affine in f), λ > 0",
    check))
