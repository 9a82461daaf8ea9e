"""T6 — the water-filled steady state is linearly stable; every partially filled one is unstable."""
from __future__ import annotations

import numpy as np

import theory.t6_stability
from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.stability import (
    commuting_steady_states,
    linear_stability,
    predicted_linearisation_spectrum,
)
from verify.truth import instances


def problems(ctx: Context):
    """Small instances (the full Jacobian has n(n+1)/2 rows) with 1–3 fillable and some cut-off modes.

    The first label mode is always fillable (s ∈ [2, 400]λμ), so every problem has a partially filled
    state (at least the empty one) and the control "a partially filled state is stable" runs on each.
    """
    rng = ctx.rng(6)
    for _ in range(ctx.pick(3, 10)):
        n = int(rng.integers(4, ctx.pick(9, 16)))
        C = int(rng.integers(1, 4))
        lam, mu = instances.log_uniform(rng, 0.1, 1.0), instances.log_uniform(rng, 0.02, 0.2)
        ratios = np.exp(rng.uniform(np.log(0.2), np.log(400.0), C))  # s/λμ: either side of the threshold
        ratios[0] = np.exp(rng.uniform(np.log(2.0), np.log(400.0)))
        yield instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * ratios)), lam, mu


def classification_error(classification: str, water_filled: bool) -> float:
    """0 when a state is classified as T6 says — "stable" if water-filled, "unstable" otherwise — else 1.

    "undecided" (top eigenvalue within TOL.stability of 0) is neither, so it never confirms the claim:
    it counts as an error for a water-filled state and for a partially filled one alike.
    """
    if classification not in ("stable", "unstable", "undecided"):
        raise ValueError(f"classification must be 'stable', 'unstable' or 'undecided', got {classification!r}")
    return 0.0 if classification == ("stable" if water_filled else "unstable") else 1.0


def rates_without_feedback(kappas, s, lam, mu) -> np.ndarray:
    """Control: pair rates d_i + d_j − 2μ, dropping the feedback of K through the resolvent in D(K)."""
    d = lam * s / (kappas + lam) ** 2
    i, j = np.triu_indices(kappas.size)
    return np.sort(d[i] + d[j] - 2 * mu)[::-1]


def check(ctx: Context):
    """The check of T6: at every commuting steady state, the classification by the eigenvalues of the full Jacobian
    (water-filled stable, partially filled unstable) and those eigenvalues against the derived pair rates ρ_ij.

    Controls that must fail: a partially filled state judged stable, and pair rates without the resolvent feedback.
    Returns the combined :class:`~verify.core.verdict.Verdict`."""
    wrong_class, formula_errors, control_errors, tops = [], [], [], []
    for Y, lam, mu in problems(ctx):
        for state in commuting_steady_states(Y, lam, mu):
            result = linear_stability(state.kernel, Y, lam, mu)
            wrong_class.append(classification_error(result.classification, state.water_filled))
            predicted = predicted_linearisation_spectrum(state.kappas, state.labels, lam, mu)
            computed = np.sort(result.eigenvalues.real)[::-1]
            formula_errors.append(np.abs(computed - predicted).max() / np.abs(predicted).max())
            wrong = rates_without_feedback(state.kappas, state.labels, lam, mu)
            control_errors.append(np.abs(computed - wrong).max() / np.abs(wrong).max())
            tops.append({"filled": state.filled, "max Re eig": result.max_real, "2μ": 2 * mu})
    parts = {"classification (water-filled stable, partial unstable)": judge(
                 "T6", wrong_class, 0.0, ctx.seed, what="misclassified states"),
             "Jacobian eigenvalues vs pair rates ρ_ij": judge("T6", formula_errors, TOL.linearisation, ctx.seed)}
    # control: claiming that a partially filled state is stable must be refuted by the same check
    partial = []
    for Y, lam, mu in problems(ctx):
        states = [s for s in commuting_steady_states(Y, lam, mu) if not s.water_filled]
        # problems() makes a mode fillable, so states is never empty; an empty control would raise in combine()
        for state in states[:1]:  # judged as if it were water-filled: only "stable" would confirm the control
            partial.append(classification_error(linear_stability(state.kernel, Y, lam, mu).classification, True))
    controls = {"a partially filled state is stable": judge("T6", partial, 0.0, ctx.seed, what="not stable"),
                "pair rates without the resolvent feedback": judge("T6", control_errors, TOL.linearisation, ctx.seed)}
    return combine("T6", ctx.seed, parts, derivation=theory.derive_linearisation(),
                   controls=controls, details={"states": tops})


register(Claim(
    "T6", "Stability selects the water-filled state",
    "Linearising the full matrix ODE at the commuting steady states: the water-filled one is stable, "
    "leaving any fillable mode empty gives a positive eigenvalue.",
    "squared loss, fast readout, λ, μ > 0, no mode exactly at the threshold s = λμ",
    check))
