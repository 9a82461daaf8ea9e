"""Pseudo-transient continuation: implicit Euler steps with a growing pseudo-time step, ending in Newton's method.

For a flow dk/dt = F(k) that descends an objective V (the kernel flow and the SSL flow both do, certified in
T2 and T8), one step from k solves the linearised implicit Euler equation

    (σ − J(k)) δ = F(k),   σ = 1/h,   k ← k + δ,

and is accepted only when k + δ is positive semidefinite, V does not increase (beyond the rounding of its own
terms) and the residual is finite; then h grows with the residual's decrease (by 2 to 1000×), so the steps
become Newton's (σ → 0) near the steady state, and a rejected step divides h by 4. Each problem supplies its
factorisation, residual, objective and shifted solve (:class:`Continuation`); the loop is shared.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.linalg import LinAlgError

from verify.core.errors import ConvergenceError
from verify.flows.scaling import safe_norm

#: most implicit steps before ConvergenceError (a generic problem needs 10–40)
MAX_STEPS = 400
#: smallest pseudo-time step before the continuation is declared stalled
MIN_STEP = 1e-12
#: relative eigenvalue below which a trial state counts as indefinite (rounding of a state that is PSD)
PSD_SLACK = 1e-12
#: relative increase of the objective within which it counts as unchanged (its rounding)
OBJECTIVE_NOISE = 1e-14


class Continuation(Protocol):
    """What a flow supplies to :func:`continue_to_steady_state` (``prepare`` raises LinAlgError where k is outside the
    flow's domain)."""

    def prepare(self, k: np.ndarray): ...

    def residual(self, k: np.ndarray, prepared) -> float: ...

    def objective(self, k: np.ndarray, prepared) -> tuple[float, float]:
        """(V(k), the magnitude of the terms V is summed from: its rounding scale)."""

    def shifted_solve(self, k: np.ndarray, prepared, sigma: float) -> np.ndarray:
        """δ with (σ − J(k))δ = F(k); raises LinAlgError or ValueError when the solve fails."""


def continue_to_steady_state(problem: Continuation, k: np.ndarray, tol: float, *, floor: float, first_step: float,
                     who: str, retry_hint: str = "") -> tuple[np.ndarray, object, float, int]:
    """(k, prepared, residual, steps): continuation from k (module docstring) until residual(k) < tol."""
    prepared = problem.prepare(k)
    res = problem.residual(k, prepared)
    value, _ = problem.objective(k, prepared)
    h, steps = first_step, 0
    while res >= tol:
        steps += 1
        if steps > MAX_STEPS:
            raise ConvergenceError(f"{who}: pseudo-transient continuation did not reach ‖dK/dt‖/‖K‖ < {tol:g} in "
                                   f"{MAX_STEPS} steps (last residual {res:.3g}){retry_hint}")
        try:
            trial = k + problem.shifted_solve(k, prepared, 1.0 / h)
            trial = (trial + trial.T) / 2
            trial_prepared = problem.prepare(trial)
            psd = np.linalg.eigvalsh(trial)[0] >= -PSD_SLACK * max(safe_norm(trial), floor)
        except (LinAlgError, ValueError):
            psd = False
        if psd:
            trial_res = problem.residual(trial, trial_prepared)
            trial_value, magnitude = problem.objective(trial, trial_prepared)
            descends = trial_value <= value + OBJECTIVE_NOISE * magnitude
        if psd and np.isfinite(trial_res) and descends:
            growth = min(max(res / max(trial_res, np.finfo(float).tiny), 2.0), 1e3)
            k, prepared, res, value, h = trial, trial_prepared, trial_res, trial_value, min(h * growth, 1e300)
        else:
            h /= 4
            if h < MIN_STEP:
                raise ConvergenceError(f"{who}: continuation stalled at residual {res:.3g} (steps rejected down to "
                                       f"h = {MIN_STEP:g}){retry_hint}")
    return k, prepared, res, steps
