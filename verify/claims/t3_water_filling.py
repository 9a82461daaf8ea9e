"""T3 — the water-filling law: steady states from generic non-commuting K(0), and t(κ)."""
from __future__ import annotations

import itertools

import numpy as np
from scipy.integrate import solve_ivp

import theory
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import kernel_flow_problems
from verify.core.errors import ConvergenceError
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.kernel_flow import integrate_kernel_flow, steady_state
from verify.flows.stability import label_eigenbasis
from verify.flows.water_filling import (
    label_spectrum,
    mode_rhs,
    mode_value,
    time_to_reach,
    water_filling_spectrum,
)
from verify.truth import instances
from verify.truth.direct_minimisers import (
    MinimisationError,
    minimise_full_objective,
    minimise_reduced_objective,
)


def law_kernel(Y, lam, mu) -> np.ndarray:
    """The law as a matrix: V diag(κ∞(s)) Vᵀ with V the eigenvectors of S (unique: κ∞ is constant on
    each eigenspace of S)."""
    s, V = label_eigenbasis(Y)
    return (V * mode_value(s, lam, mu)) @ V.T


def steady_states(ctx: Context, mu_override=None, limit=None):
    """(K∞ or None if no convergence, Y, λ, μ) for the T3 problems."""
    for K0, Y, lam, mu in itertools.islice(kernel_flow_problems(ctx), limit):
        try:
            yield steady_state(K0, Y, lam, mu if mu_override is None else mu_override), Y, lam, mu
        except ConvergenceError:
            yield None, Y, lam, mu


def direct_minima(ctx: Context, mu_factor: float = 1.0, limit=None, objective=minimise_reduced_objective):
    """(K minimising the objective itself or None if not certified, Y, λ, μ) for the T3 problems.

    ``objective``: :func:`minimise_reduced_objective` (L*(K), W eliminated) or :func:`minimise_full_objective`
    (L(W, Φ)); both know nothing of the derivation or the generated flow. The objective is minimised at
    μ·``mu_factor`` and returned with μ (a factor ≠ 1 is the negative control).
    """
    for k, (_, Y, lam, mu) in enumerate(itertools.islice(kernel_flow_problems(ctx), limit)):
        try:
            yield objective(Y, lam, mu * mu_factor, seed=k), Y, lam, mu
        except MinimisationError:
            yield None, Y, lam, mu


def law_errors(states, law=water_filling_spectrum, transform=None):
    """(spectrum errors, kernel errors): eigenvalues of K∞ against the law, and K∞ against V diag(κ∞) Vᵀ."""
    spectrum, kernel = [], []
    for K, Y, lam, mu in states:
        if K is None:
            spectrum.append(np.inf)
            kernel.append(np.inf)
            continue
        K = transform(K) if transform is not None else K
        spectrum.append(relative_error(np.linalg.eigvalsh(K)[::-1], law(Y, lam, mu)))
        kernel.append(relative_error(K, law_kernel(Y, lam, mu)))
    return spectrum, kernel


def closed_form_time_errors(ctx: Context):
    """t(κ) from the closed form against the event time of the numerically integrated mode ODE."""
    rng = ctx.rng(4)
    errors = []
    for _ in range(ctx.pick(6, 20)):
        lam, mu = instances.log_uniform(rng, 0.05, 1.0), instances.log_uniform(rng, 0.02, 0.3)
        s = lam * mu * instances.log_uniform(rng, 1.5, 200.0)
        star = np.sqrt(lam * s / mu) - lam
        kappa0 = star * float(rng.choice([rng.uniform(0.01, 0.5), rng.uniform(1.5, 3.0)]))
        target = kappa0 + (star - kappa0) * 0.9
        event = lambda t, k: k[0] - target  # noqa: E731
        event.terminal = True
        sol = solve_ivp(lambda t, k: mode_rhs(k, s, lam, mu), (0, 1e6), [kappa0], events=event, method="LSODA",
                        rtol=1e-12, atol=1e-14 * star)
        t_numeric = sol.t_events[0][0]
        errors.append(abs(time_to_reach(target, kappa0, s, lam, mu) - t_numeric) / t_numeric)
    return errors


def no_cutoff_law(Y, lam, mu):
    """Control: κ = √(λs/μ) − λ on every labelled mode, without the (·)₊ threshold."""
    s = label_spectrum(Y)
    out = np.where(s > 0, np.sqrt(lam * s / mu) - lam, 0.0)
    return np.sort(out)[::-1]


def check(ctx: Context):
    """The check of T3: steady states from generic non-commuting K(0) against the law κ∞ = (√(λs/μ) − λ)₊ (spectrum,
    and the kernel V diag(κ∞) Vᵀ in the eigenvectors of S), the closed-form t(κ) against an integrated mode, and
    direct minimisers of L*(K) and of L(W, Φ) (no flow, no derivation) against the law and the flow.

    Controls that must fail: the law without its threshold, K∞ rotated off the eigenvectors of S, a minimiser at 2μ
    against the law at μ, and μ = 0. Returns the combined :class:`~verify.core.verdict.Verdict`, with figures."""
    states = list(steady_states(ctx))
    spectrum, kernel = law_errors(states)
    # independent ground truth: the objective minimised directly (L-BFGS over K = BᵀB, no derivation, no flow)
    minima = list(direct_minima(ctx))
    direct_spectrum, direct_kernel = law_errors(minima)
    flow_vs_direct = [relative_error(K, D) if K is not None and D is not None else np.inf
                      for (K, *_), (D, *_) in zip(states, minima)]
    parts = {"spectrum of K∞ (generic K(0)) vs law": judge("T3", spectrum, TOL.law, ctx.seed),
             "K∞ vs V diag(κ∞) Vᵀ (eigenvectors of S)": judge("T3", kernel, TOL.law, ctx.seed),
             "closed-form t(κ) vs integrated mode": judge("T3", closed_form_time_errors(ctx),
                                                         TOL.closed_form_time, ctx.seed),
             "direct minimisation of L*(K): spectrum vs law": judge("T3", direct_spectrum, TOL.direct_minimiser,
                                                                    ctx.seed),
             "direct minimisation of L*(K): kernel vs V diag(κ∞) Vᵀ": judge("T3", direct_kernel,
                                                                           TOL.direct_minimiser, ctx.seed),
             "direct minimisation of L(W, Φ) (W not eliminated): kernel ΦᵀΦ vs law": judge(
                 "T3", law_errors(direct_minima(ctx, objective=minimise_full_objective))[1], TOL.direct_minimiser,
                 ctx.seed),
             "integrated K∞ vs direct minimiser of L*(K)": judge("T3", flow_vs_direct, TOL.law, ctx.seed)}
    rng = ctx.rng(7)

    def rotate(K):  # same spectrum, wrong eigenvectors
        Q, _ = np.linalg.qr(rng.standard_normal(K.shape))
        return Q @ K @ Q.T

    controls = {"law without the threshold (·)₊": judge("T3", law_errors(states, law=no_cutoff_law)[0], TOL.law,
                                                        ctx.seed),
                "K∞ rotated off the eigenvectors of S": judge("T3", law_errors(states, transform=rotate)[1], TOL.law,
                                                              ctx.seed),
                "direct minimiser of L*(K) at 2μ vs the law at μ": judge(
                    "T3", law_errors(direct_minima(ctx, mu_factor=2.0, limit=2))[1], TOL.direct_minimiser, ctx.seed),
                "mu = 0 (no decay: no steady state)": judge(
                    "T3", law_errors(steady_states(ctx, mu_override=0.0, limit=2))[0], TOL.law, ctx.seed)}
    return combine("T3", ctx.seed, parts, derivation=theory.derive_water_filling(), controls=controls,
                   details={"law": str(theory.derive_water_filling().stable_value),
                            "figures": [trajectory_figure(ctx), spectrum_figure(states)]})


def trajectory_figure(ctx: Context) -> dict:
    """Eigenvalues of K(t) from the matrix flow (commuting start) against the derived mode ODE."""
    rng = ctx.rng(8)
    lam, mu = 0.2, 0.05
    Y = instances.labels_with_spectrum(rng, 6, np.sqrt(lam * mu * np.array([400.0, 60.0, 0.5])))
    s, V = label_eigenbasis(Y)
    kappa0 = np.full(6, 0.05)
    times = np.linspace(0.0, 60.0, 31)
    flow = integrate_kernel_flow((V * kappa0) @ V.T, Y, lam, mu, times)
    modes = solve_ivp(lambda _, k: mode_rhs(k, s, lam, mu), (0, times[-1]), kappa0, t_eval=times, rtol=1e-12,
                      atol=1e-14).y
    series, styles = {}, {}
    for i, label in enumerate(("s = 400λμ", "s = 60λμ", "s = 0.5λμ (cut off)")):
        projected = np.einsum("j,tjk,k->t", V[:, i], flow.kernels, V[:, i])
        series[f"flow, {label}"] = list(projected)
        series[f"mode ODE, {label}"] = list(modes[i])
        styles[f"mode ODE, {label}"] = "k:"
    return {"name": "water-filling-trajectories", "title": "T3: modes of K(t) (flow) against the derived mode ODE",
            "xlabel": "time t", "ylabel": "κ(t) = vᵀK(t)v", "x": list(times), "series": series, "styles": styles}


def spectrum_figure(states) -> dict:
    """Sorted eigenvalues of one integrated K∞ (generic start) against the water-filling law."""
    K, Y, lam, mu = next(s for s in states if s[0] is not None)
    eig = np.linalg.eigvalsh(K)[::-1]
    law = water_filling_spectrum(Y, lam, mu)
    floor = 1e-16 * max(law[0], 1e-300)
    return {"name": "steady-spectrum-vs-law", "title": "T3: spectrum of K∞ from a generic K(0) against the law",
            "xlabel": "eigenvalue index", "ylabel": "eigenvalue", "x": list(range(1, eig.size + 1)), "logy": True,
            "series": {"integrated K∞": list(np.maximum(eig, floor)), "law (√(λs/μ) − λ)₊": list(np.maximum(law, floor))},
            "styles": {"law (√(λs/μ) − λ)₊": "kx--"}}


register(Claim(
    "T3", "Water-filling law",
    "From generic K(0) ≻ 0 the flow converges to K∞ with eigenvalues κ∞ = (√(λs/μ) − λ)₊ on the eigenvectors of S.",
    "squared loss, fast readout, λ, μ > 0",
    check))
