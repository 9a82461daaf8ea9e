"""The one tolerance table. Every numerical comparison in verify, tests and notebooks reads it.

All tolerances are *relative* (Frobenius norms unless stated) and apply to float64.

>>> TOL.steady_state
1e-11
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    """The tolerance table: one relative float64 tolerance per kind of comparison, each field documented by its
    comment (docs/conventions.md#tolerances). The project reads the single instance :data:`TOL`."""

    #: generated code against an independent NumPy evaluation of the same quantity
    generated_code: float = 1e-12
    #: a generated closed form against a numerical solver of the same problem (K + λI conditioned up to ~1e4)
    closed_form_vs_solver: float = 1e-9
    #: a candidate kernel ODE against central finite differences of the objective (step 1e-6;
    #: the true formula lands near 1e-9, a wrong one at O(1))
    finite_differences: float = 1e-7
    #: a derived model's generated kernel ODE against the complex-step derivative of its objective through the readout
    #: eliminated from values alone (verify.truth.model_objective; the true rhs lands near 1e-15, a wrong one at O(1))
    model_objective: float = 1e-8
    #: steady state declared when the dimensionless residual ‖dK/dt‖_F / (2μ·max(‖K‖_F, floor)), an estimate of
    #: ‖K − K∞‖/‖K‖, falls below this (verify.flows.kernel_flow)
    steady_state: float = 1e-11
    #: steady-state residual floor: ‖dK/dt‖ is measured against max(‖K‖, steady_state_floor·scale), so a
    #: flow that decays to K∞ = 0 can converge; scale = λ·min(‖K0/λ‖, max(1, κ∞/λ)), the scale the flow ends at. The T4 rank and range-inclusion measures use the same floor
    #: against the problem scale max(‖K0‖, largest κ∞): a K∞ below it is 0 as far as the steady-state
    #: criterion can tell, and its relative rank and ‖(D − μI)K‖/‖K‖ would only measure rounding noise
    #: (a decayed K∞ lands near 1e-25·‖K0‖; a filled mode κ∞ = λ(√(s/λμ) − 1) is far above the floor unless
    #: s lies within ~1e-8 of the threshold λμ)
    steady_state_floor: float = 1e-8
    #: range K ⊆ ker(D − μI) at a converged steady state: ‖(D − μI)K‖ / (μ·max(‖K‖, steady_state_floor·scale))
    range_inclusion: float = 1e-8
    #: eigenvalues of the full (complex-step) Jacobian against closed-form rates, relative to the spectral radius
    linearisation: float = 1e-9
    #: coupled flow stationary point: ‖∇L‖ / (λ‖W‖ + μ‖Φ‖) below this
    stationarity: float = 1e-10
    #: largest principal angle (radians) between an optimised embedding's span and the predicted eigenvectors
    #: (L-BFGS reaches ~1e-8)
    principal_angle: float = 1e-6
    #: spectrum of an integrated steady state against the water-filling law, ‖κ − κ∞‖/‖κ∞‖
    law: float = 1e-8
    #: a direct minimiser of the objective itself (``verify.truth.direct_minimisers``: L-BFGS-B over K = BᵀB, two
    #: passes) against the law or a steady state, ‖K − K_law‖/‖K_law‖: measured worst 1.4e-11 (SSL energy),
    #: 5e-12 (L(W, Φ)), 1.4e-12 (L*(K)) on ~150 instances with n ≤ 80; a wrong law is off at O(1)
    direct_minimiser: float = 1e-9
    #: a mode whose distance to its threshold (s = λμ for T3/T4, β/(ℓ + μ) = ε for T8) is below this fraction
    #: is neither clearly filled nor clearly empty (its κ is tiny, its relaxation slow): rank counts skip
    #: instances that have one, and say so
    threshold_margin: float = 0.05
    #: a returned kernel is positive semidefinite: smallest eigenvalue ≥ −psd·max(n·max|K_ij|, floor) (decayed
    #: modes end at integration noise of either sign; a wrong or diverged result is off at O(1))
    psd: float = 1e-9
    #: integrator error along trajectories (solve_ivp rtol); trajectory checks use 100× this
    integration: float = 1e-10
    #: Lanczos (``scipy.sparse.linalg.eigsh``) convergence tolerance for the top Hessian eigenpairs (T10),
    #: relative to the eigenvalues
    lanczos: float = 1e-8
    #: closed-form t(κ) against a numerically integrated mode
    closed_form_time: float = 1e-7
    #: numerical rank: singular values above rank_rtol · σ_max count
    rank_rtol: float = 1e-8
    #: singular values within this factor of the rank threshold are confirmed in high precision
    rank_margin: float = 1e3
    #: real parts of Jacobian eigenvalues within this (relative to the spectral radius) of 0 are undecided
    stability: float = 1e-9
    #: empirical findings (T9, T10): a property that fails exactly "holds approximately" when the measured
    #: defect (e.g. the kernel's trace fraction outside the top-C eigenspace) is at most this; fixed in
    #: advance for every experiment, never adjusted to a result
    approximate: float = 0.05
    #: observed order of convergence log₂(e(η)/e(η/2)) of a discretisation against its flow: within this of
    #: the scheme's order (explicit Euler: 1)
    convergence_order: float = 0.25
    #: an algebraic identity evaluated in float64 (e.g. held-out mse = bias² + variance, per-mode parts summing
    #: to their total): relative residual below this; only rounding separates the two sides
    round_off: float = 1e-12


#: the project's one tolerance table (docs/conventions.md#tolerances); every check reads its thresholds here
TOL = Tolerances()
