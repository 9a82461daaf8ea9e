"""T5 — coupled feature–readout dynamics: rank K ≤ C at every stationary point, C − 1 for cross-entropy."""
from __future__ import annotations

import numpy as np

import theory
from theory.t5_coupled import derive_coupled, rank_bound
from verify.claims.common import combine, own_steps
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import LOSSES, labels
from verify.core.linalg import confirmed_rank, relative_error
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.experiments.studies import tracking_errors, two_layer_kernel_ranks
from verify.flows.coupled import (
    coupled_flow,
    fixed_feature_flow,
    integrate_coupled_flow,
)
from verify.flows.water_filling import water_filling_spectrum
from verify.truth import instances
from verify.truth.nuclear_norm import nuclear_norm_regression


#: (name, loss constructor of C, label kind): the losses the claim is checked for
def problems(ctx: Context, salt: int):
    """The T5 instances, drawn from ``ctx.rng(salt)``: ``ctx.pick(2, 5)`` rounds over
    :data:`~verify.claims.shared.LOSSES`, each yielding (loss name, loss, Y, m, λ, μ, rng) with C in [2, 5) (1 for
    the logistic loss), n from C + 4, m in [n/2, n + 6) and λ, μ log-uniform in [0.05, 0.5]."""
    rng = ctx.rng(salt)
    for k in range(ctx.pick(2, 5)):
        for name, make, kind in LOSSES:
            C = 1 if name == "logistic" else int(rng.integers(2, 5))
            n = int(rng.integers(C + 4, ctx.pick(16, 40)))
            m = int(rng.integers(n // 2, n + 6))
            lam, mu = instances.log_uniform(rng, 0.05, 0.5), instances.log_uniform(rng, 0.05, 0.5)
            yield name, make(C), labels(rng, kind, n, C), m, lam, mu, rng


def check(ctx: Context):
    """The check of T5: the coupled flow of W and Φ (and of the fixed-feature model Φ = UΨ) for every loss of
    :func:`problems` ends at a stationary point (finite differences of L) with rank K ≤ C, or C − 1 for softmax
    cross-entropy; for the squared loss its spectrum follows the water-filling law and WU the nuclear-norm
    regression.

    Controls that must fail: μ = 0, a perturbed stationary point, and the C − 1 bound for the squared loss. Returns
    the combined :class:`~verify.core.verdict.Verdict`, with the measured ranks and network runs as details."""
    excess, stationarity, law, nuclear, measured = [], [], [], [], []
    for name, loss, Y, m, lam, mu, rng in problems(ctx, salt=11):
        C, n = Y.shape
        state = coupled_flow(loss, rng.standard_normal((m, n)), rng.standard_normal((C, m)), Y, lam, mu,
                             return_info=True)
        r = confirmed_rank(state.Phi.T @ state.Phi)
        excess.append(max(0, r - rank_bound(loss)))
        stationarity.append(finite_difference_stationarity(loss, state.Phi, state.W, Y, lam, mu))
        measured.append({"loss": name, "model": "UFM", "n": n, "m": m, "C": C, "bound": rank_bound(loss), "rank K": r})
        if name == "squared":
            law.append(relative_error(np.linalg.eigvalsh(state.Phi.T @ state.Phi)[::-1],
                                      water_filling_spectrum(Y, lam, mu)))
        p = int(rng.integers(C + 1, n + 3))
        Psi = rng.standard_normal((p, n)) / np.sqrt(p)
        U, W = fixed_feature_flow(loss, rng.standard_normal((m, p)), rng.standard_normal((C, m)), Psi, Y, lam, mu)
        r = confirmed_rank((U @ Psi).T @ (U @ Psi))
        excess.append(max(0, r - rank_bound(loss)))
        measured.append({"loss": name, "model": "fixed features", "n": n, "m": m, "p": p, "C": C,
                         "bound": rank_bound(loss), "rank K": r})
        if name == "squared":
            M = nuclear_norm_regression(Psi, Y, np.sqrt(lam * mu))
            nuclear.append(relative_error(W @ U, M))
    parts = {"rank K − bound at stationary points": judge("T5", excess, 0.0, ctx.seed, what="rank excess"),
             "‖∇L‖ by finite differences of L at the returned point": judge("T5", stationarity,
                                                                             TOL.finite_differences, ctx.seed),
             "squared loss: coupled spectrum vs water-filling law": judge("T5", law, TOL.law, ctx.seed),
             "fixed features: WU vs nuclear-norm regression": judge("T5", nuclear, TOL.closed_form_vs_solver,
                                                                     ctx.seed)}
    controls = {"mu = 0: K keeps more than C directions": _no_decay_control(ctx),
                "a perturbed stationary point (Φ + 1e-4‖Φ‖Δ) is not stationary": _perturbed_state(ctx),
                "the C − 1 bound for the squared loss (columns of G do not sum to 0)": _wrong_bound(ctx)}
    merged = {name: own_steps(derive_coupled(make(1 if name == "logistic" else 2)), "T5") for name, make, _ in LOSSES}
    networks = {
        "fixed-feature network, GD vs integrated coupled flow (error should halve with the step)":
            tracking_errors(ctx.seed),
        "two-layer networks: last-hidden-layer kernel against C (measured, not judged; T10)":
            two_layer_kernel_ranks(ctx.seed, **({"classes": (3,), "steps": 10000} if ctx.profile == "quick" else {})),
    }
    return combine("T5", ctx.seed, parts, derivation=merged, controls=controls,
                   details={"losses": [name for name, _, _ in LOSSES], "models": ["UFM", "fixed features (Φ = UΨ)"],
                            "measured ranks": measured, "networks": networks})


def finite_difference_stationarity(loss, Phi, W, Y, lam, mu) -> float:
    """‖∇L‖ / (λ‖W‖ + μ‖Φ‖) with ∇L from central differences of the objective value alone (no gradient
    formula): an independent check of what the solver reports (step 1e-6 relative)."""
    total, _ = numeric_loss(loss)
    theta = np.concatenate([W.ravel(), Phi.ravel()])

    def objective(th):
        W_, Phi_ = th[: W.size].reshape(W.shape), th[W.size:].reshape(Phi.shape)
        return total(W_ @ Phi_, Y) + lam / 2 * np.sum(W_**2) + mu / 2 * np.sum(Phi_**2)

    h = 1e-6 * max(1.0, np.abs(theta).max())
    grad = np.empty_like(theta)
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        grad[k] = (objective(up) - objective(down)) / (2 * h)
    return float(np.linalg.norm(grad) / (lam * np.linalg.norm(W) + mu * np.linalg.norm(Phi)))


def _no_decay_control(ctx: Context):
    rng = ctx.rng(12)
    loss = theory.losses.squared(2)
    excess = []
    for _ in range(2):
        n = 10
        Y = instances.one_hot_labels(rng, n, 2)
        Phi, _ = integrate_coupled_flow(loss, rng.standard_normal((n, n)), rng.standard_normal((2, n)), Y, 0.2, 0.0,
                                        t=50.0)
        excess.append(max(0, confirmed_rank(Phi.T @ Phi) - 2))
    return judge("T5", excess, 0.0, ctx.seed, what="rank excess")


def _perturbed_state(ctx: Context):
    """The same finite-difference stationarity check applied to converged states moved slightly off."""
    rng = ctx.rng(13)
    residuals = []
    for name, loss, Y, m, lam, mu, _ in list(problems(ctx, salt=14))[:2]:
        C, n = Y.shape
        Phi, W = coupled_flow(loss, rng.standard_normal((m, n)), rng.standard_normal((C, m)), Y, lam, mu)
        Delta = rng.standard_normal(Phi.shape)
        Phi = Phi + 1e-4 * np.linalg.norm(Phi) * Delta / np.linalg.norm(Delta)
        residuals.append(finite_difference_stationarity(loss, Phi, W, Y, lam, mu))
    return judge("T5", residuals, TOL.finite_differences, ctx.seed)


def _wrong_bound(ctx: Context):
    """Cross-entropy's rank ≤ C − 1 applied to the squared loss (its gradient columns do not sum to 0):
    its stationary points reach rank C, so the tighter bound must fail."""
    rng = ctx.rng(15)
    excess = []
    for C in (2, 3):
        Y = instances.one_hot_labels(rng, 10, C)
        Phi, _ = coupled_flow(theory.losses.squared(C), rng.standard_normal((8, 10)), rng.standard_normal((C, 8)), Y,
                              0.1, 0.1)
        excess.append(max(0, confirmed_rank(Phi.T @ Phi) - (C - 1)))
    return judge("T5", excess, 0.0, ctx.seed, what="rank excess over C − 1")


register(Claim(
    "T5", "Coupled dynamics, any loss",
    "Every stationary point of the coupled flow (UFM or fixed features Φ = UΨ) has Φ = −WᵀG/μ, so rank K ≤ C; "
    "≤ C − 1 for softmax cross-entropy; for the squared loss it is the water-filled state, and the fixed-feature "
    "model solves nuclear-norm-regularised regression.",
    "λ, μ > 0; squared, Huber, logistic, softmax cross-entropy (any differentiable loss for the bound)",
    check))
