"""T7 — SGD noise is low rank: E[ξξᵀ] has rank ≤ C (C − 1 for cross-entropy) at any width; δK ≤ 2C."""
from __future__ import annotations

import numpy as np

import theory
from theory.t5_coupled import rank_bound
from theory.t7_noise import derive_noise
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import LOSSES, labels
from verify.core.linalg import confirmed_rank, numerical_rank, relative_error
from verify.core.loss_numeric import numeric_loss
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.experiments.network_noise import (
    network_enumerated_feature_noise_covariance,
    network_kernel_increment,
    network_monte_carlo_feature_noise_covariance,
)
from verify.experiments.networks import (
    UFM,
    FixedFeatures,
    draw_batch,
    minibatch_gradient,
)
from verify.experiments.studies import gradient_noise_outliers
from verify.flows.noise import (
    batch_weights,
    covariance_rank,
    feature_noise_covariance,
    kernel_increment,
    noise_factor,
    second_moment_scale,
)
from verify.truth import instances

#: a Monte Carlo estimate agrees when every entry lies within this many standard errors of the exact value
Z_MAX = 5.0
WIDTHS = (16, 64, 256, 1024, 4096)


def noise_problem(rng, name, C, n, m):
    """One T7 instance for the loss named ``name`` in :data:`~verify.claims.shared.LOSSES`: (loss, Φ, W, Y) with Φ (m
    × n) and W (C × m) standard normal from ``rng`` and labels of the loss's kind (the logistic loss has C = 1)."""
    make, kind = {nm: (mk, k) for nm, mk, k in LOSSES}[name]
    loss = make(1 if name == "logistic" else C)
    return loss, rng.standard_normal((m, n)), rng.standard_normal((loss.C, m)), labels(rng, kind, n, loss.C)


def _monte_carlo(ctx, replacement: bool, wrong: bool = False):
    """Max z-score per loss of the mean of ξξᵀ over SGD minibatches of a UFM (drawn and differentiated by
    verify.experiments.networks, not by the noise model) against E[ξξᵀ] = κ(1 − 1/n)WᵀGGᵀW; ``wrong``: the other
    sampling scheme's κ (a negative control)."""
    rng = ctx.rng(21 + replacement)
    z = []
    for name, _, _ in LOSSES:
        loss, Phi, W, Y = noise_problem(rng, name, 3, 12, 10)
        exact = feature_noise_covariance(loss, Phi, W, Y, 4, replacement=replacement != wrong)
        model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)  # the decays cancel in ξ
        mean, se = network_monte_carlo_feature_noise_covariance(model, loss, Y, 4, ctx.pick(4000, 20000), rng,
                                                                replacement=replacement)
        z.append(float((np.abs(mean - exact) / np.maximum(se, np.finfo(float).tiny)).max()))
    return z


def _enumerated(ctx, wrong: bool = False):
    """Relative error of E[ξξᵀ] taken exactly over every minibatch (network gradients, n = 8, b = 3) against
    the formula, for each loss and both sampling schemes; ``wrong``: the other scheme's formula."""
    rng = ctx.rng(25)
    errors = []
    for name, _, _ in LOSSES:
        loss, Phi, W, Y = noise_problem(rng, name, 3, 8, 6)
        model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
        for replacement in (False, True):
            exact = feature_noise_covariance(loss, Phi, W, Y, 3, replacement=replacement != wrong)
            errors.append(relative_error(
                network_enumerated_feature_noise_covariance(model, loss, Y, 3, replacement=replacement), exact))
    return errors


def _increments(ctx, formula=kernel_increment):
    """Relative error of the kernel increment read off one SGD step of a UFM (network features, steps ±η;
    ``verify.experiments.network_noise.network_kernel_increment``) against ``formula(Φ, W, G, c)`` with c from the same minibatch."""
    rng = ctx.rng(26)
    errors = []
    for name, _, _ in LOSSES:
        for _ in range(ctx.pick(2, 5)):
            C, n = int(rng.integers(2, 4)), int(rng.integers(6, 20))
            loss, Phi, W, Y = noise_problem(rng, name, C, n, int(rng.integers(C + 2, 30)))
            model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
            batch = draw_batch(rng, n, int(rng.integers(1, n)))
            G = numeric_loss(loss)[1](W @ Phi, Y)
            errors.append(relative_error(network_kernel_increment(model, loss, Y, batch, 0.1),
                                         formula(Phi, W, G, batch_weights(n, batch))))
    return errors


def _one_sided_increment(Phi, W, G, c):
    """Control: 2Φᵀξ, the increment without its transpose term (what ξᵀΦ + Φᵀξ is not)."""
    return 2 * Phi.T @ ((W.T @ G) * np.asarray(c, dtype=float)[None, :])


def check(ctx: Context):
    """The check of T7: rank E[ξξᵀ] ≤ C (C − 1 for cross-entropy) and rank δK ≤ 2C for every loss, E[ξξᵀ] against
    Monte Carlo of SGD and against every minibatch (network gradients, both sampling schemes), SGD noise confined to
    range Wᵀ with its energy tr E[ξξᵀ], and the rank against width.

    Controls that must fail: isotropic noise, a nonlinear readout, the other sampling scheme's formula and the kernel
    increment without its transpose term. Returns the combined :class:`~verify.core.verdict.Verdict`, with a figure."""
    rng = ctx.rng(20)
    excess, increments, outside, measured = [], [], [], []
    for _ in range(ctx.pick(2, 6)):
        for name, _, _ in LOSSES:
            C = int(rng.integers(2, 5))
            n, m = int(rng.integers(8, 30)), int(rng.integers(C + 2, 80))
            loss, Phi, W, Y = noise_problem(rng, name, C, n, m)
            b = int(rng.integers(1, n))
            r = confirmed_rank(feature_noise_covariance(loss, Phi, W, Y, b))
            excess.append(max(0, r - rank_bound(loss)))
            G = numeric_loss(loss)[1](W @ Phi, Y)
            dK = kernel_increment(Phi, W, G, batch_weights(n, draw_batch(rng, n, b)))
            increments.append(max(0, confirmed_rank(dK) - 2 * loss.C))
            measured.append({"loss": name, "C": loss.C, "n": n, "m": m, "batch": b, "rank E[ξξᵀ]": r,
                             "bound": rank_bound(loss), "rank δK": confirmed_rank(dK), "2C": 2 * loss.C})
    # SGD on the UFM and the fixed-feature model, gradients from verify.experiments.networks (not the noise formula):
    # no noise outside range Wᵀ, and the noise energy matches tr E[ξξᵀ]
    C, n, m = 3, 15, 30
    Y = instances.one_hot_labels(rng, n, C)
    X = rng.standard_normal((6, n))
    energy_z = []
    for model, key in ((UFM(Phi=rng.standard_normal((m, n)), W=rng.standard_normal((C, m)), lam=0.1, mu=0.1), "Phi"),
                       (FixedFeatures.random(rng, 6, 12, m, C, 0.1, 0.1), "U")):
        inputs = None if key == "Phi" else X
        full = model.gradient(theory.losses.squared(C), inputs, Y)[key]
        Q, _ = np.linalg.qr(model.W.T)
        energies = []
        for _ in range(ctx.pick(400, 2000)):
            batch = draw_batch(rng, n, 4)
            xi = minibatch_gradient(model, theory.losses.squared(C), inputs, Y, batch)[key] - full
            outside.append(np.linalg.norm(xi - Q @ (Q.T @ xi)) / np.linalg.norm(xi))
            energies.append(np.sum(xi**2))
        if key == "Phi":  # ‖ξ‖² averages to tr E[ξξᵀ]
            exact = np.trace(feature_noise_covariance(theory.losses.squared(C), model.Phi, model.W, Y, 4))
            energy_z.append(abs(np.mean(energies) - exact) / (np.std(energies) / np.sqrt(len(energies))))
            diffusion = {"tr E[ξξᵀ] (exact)": float(exact), "mean ‖ξ‖² over SGD steps": float(np.mean(energies))}
    widths = _width_sweep(ctx)
    parts = {"rank E[ξξᵀ] − bound (C, or C − 1 for cross-entropy)": judge("T7", excess, 0.0, ctx.seed,
                                                                          what="rank excess"),
             "rank δK − 2C": judge("T7", increments, 0.0, ctx.seed, what="rank excess"),
             "Monte Carlo of SGD (network gradients) vs exact E[ξξᵀ], without replacement (max z)": judge(
                 "T7", _monte_carlo(ctx, False), Z_MAX, ctx.seed, what="z-score"),
             "Monte Carlo of SGD (network gradients) vs exact E[ξξᵀ], with replacement (max z)": judge(
                 "T7", _monte_carlo(ctx, True), Z_MAX, ctx.seed, what="z-score"),
             "E[ξξᵀ] over every minibatch (network gradients) vs exact, both schemes": judge(
                 "T7", _enumerated(ctx), TOL.round_off, ctx.seed),
             "kernel increment of an SGD step (network features, ±η) vs δK = ξᵀΦ + Φᵀξ": judge(
                 "T7", _increments(ctx), TOL.round_off, ctx.seed),
             "SGD noise outside range Wᵀ (UFM and fixed features, relative)": judge("T7", outside, TOL.generated_code,
                                                                                    ctx.seed),
             "SGD noise energy vs tr E[ξξᵀ] (z)": judge("T7", energy_z, Z_MAX, ctx.seed, what="z-score"),
             "rank against width m = 16…4096 stays ≤ C (C − 1 for cross-entropy)": judge(
                 "T7", [max(0, r - 3) for r in widths["squared"]] + [max(0, r - 2) for r in widths["cross-entropy"]],
                 0.0, ctx.seed, what="rank excess")}
    controls = {"isotropic parameter noise is confined": _isotropic(rng),
                "nonlinear readout f = W tanh(φ) keeps noise in rank C": _nonlinear_readout(rng),
                "Monte Carlo against the other sampling scheme's formula": judge(
                    "T7", _monte_carlo(ctx, False, wrong=True), Z_MAX, ctx.seed, what="z-score"),
                "every minibatch against the other sampling scheme's formula": judge(
                    "T7", _enumerated(ctx, wrong=True), TOL.round_off, ctx.seed),
                "SGD kernel increment against 2Φᵀξ (transpose term missing)": judge(
                    "T7", _increments(ctx, formula=_one_sided_increment), TOL.round_off, ctx.seed)}
    figure = {"name": "rank-vs-width", "title": "T7: rank of E[ξξᵀ] against width (C = 3, n = 20)",
              "xlabel": "width m", "ylabel": "numerical rank", "x": list(WIDTHS), "logx": True, "logy": True,
              "series": {"squared loss": widths["squared"], "softmax cross-entropy": widths["cross-entropy"],
                         "isotropic noise (m)": list(WIDTHS)},
              "styles": {"isotropic noise (m)": "k--"}}
    return combine("T7", ctx.seed, parts, derivation=derive_noise(), controls=controls,
                   details={"measured ranks": measured, "rank against width": [
                       {"m": m, "squared": a, "cross-entropy": c}
                       for m, a, c in zip(WIDTHS, widths["squared"], widths["cross-entropy"])],
                       "diffusion inside range Wᵀ (UFM, squared loss, C = 3, b = 4)": diffusion,
                       "two-layer ReLU: per-sample gradient covariance in parameter space (measured, not judged)":
                           gradient_noise_outliers(ctx.seed, **({"classes": (3,), "steps": 5000}
                                                                if ctx.profile == "quick" else {})),
                       "figures": [figure, _spectrum_figure(ctx)]})


def _spectrum_figure(ctx: Context) -> dict:
    """Eigenvalues of E[ξξᵀ] (m = 64, C = 3) for squared and cross-entropy losses, against isotropic noise."""
    rng = ctx.rng(24)
    C, n, m = 3, 20, 64
    Y = instances.one_hot_labels(rng, n, C)
    Phi, W = rng.standard_normal((m, n)), rng.standard_normal((C, m)) / np.sqrt(m)
    series = {}
    for label, loss in (("squared loss", theory.losses.squared(C)),
                        ("softmax cross-entropy", theory.losses.softmax_cross_entropy(C))):
        eig = np.zeros(m)
        sv = np.linalg.svd(noise_factor(loss, Phi, W, Y, 5), compute_uv=False) ** 2
        eig[:min(m, sv.size)] = sv[:m]
        series[label] = list(np.maximum(eig / eig[0], 1e-18))
    iso = np.linalg.eigvalsh(np.cov(rng.standard_normal((m, 4 * m))))[::-1]
    series["isotropic noise"] = list(iso / iso[0])
    return {"name": "noise-spectrum", "title": f"T7: spectrum of E[ξξᵀ] (m = {m}, C = {C}): ≤ C non-zero (C − 1 for CE)",
            "xlabel": "index", "ylabel": "eigenvalue / largest (floor 1e-18)", "x": list(range(1, m + 1)),
            "logy": True, "series": series, "styles": {"isotropic noise": "k--"}}


def _width_sweep(ctx: Context) -> dict:
    rng = ctx.rng(23)
    C, n = 3, 20
    Y = instances.one_hot_labels(rng, n, C)
    out = {"squared": [], "cross-entropy": []}
    for m in WIDTHS:
        Phi, W = rng.standard_normal((m, n)), rng.standard_normal((C, m)) / np.sqrt(m)
        out["squared"].append(covariance_rank(noise_factor(theory.losses.squared(C), Phi, W, Y, 5)))
        out["cross-entropy"].append(covariance_rank(noise_factor(theory.losses.softmax_cross_entropy(C), Phi, W, Y,
                                                                 5)))
    return out


def _isotropic(rng):
    m, n = 40, 10
    second = sum(x @ x.T for x in (rng.standard_normal((m, n)) for _ in range(500))) / 500
    return judge("T7", [max(0, numerical_rank(second) - 3)], 0.0, 0, what="rank excess over C = 3")


def _nonlinear_readout(rng):
    C, n, m, b = 2, 12, 10, 3
    Y = instances.one_hot_labels(rng, n, C)
    Phi, W = rng.standard_normal((m, n)), rng.standard_normal((C, m))
    A = (1 - np.tanh(Phi) ** 2) * (W.T @ (W @ np.tanh(Phi) - Y))
    return judge("T7", [max(0, numerical_rank(second_moment_scale(n, b) * A @ A.T) - C)], 0.0, 0,
                 what="rank excess over C")


register(Claim(
    "T7", "SGD noise is low rank",
    "Minibatch noise ξ = WᵀG·diag(c): E[ξξᵀ] = κ(1 − 1/n)WᵀGGᵀW has rank ≤ C (≤ C − 1 for softmax cross-entropy) "
    "for every width and parameter value; each kernel increment δK = ξᵀΦ + Φᵀξ has rank ≤ 2C.",
    "linear readout; any loss; sampling with or without replacement",
    check))
