"""T2 — the kernel ODE against finite differences of the objective, with wrong ODEs as controls."""
from __future__ import annotations

import theory
from verify.claims.common import combine, own_steps
from verify.claims.registry import Claim, Context, register
from verify.flows.kernel_ode import kernel_ode_rhs
from verify.truth.finite_differences import check_kernel_ode
from verify.truth.negative_controls import WRONG_KERNEL_ODES


def check(ctx: Context):
    """The check of T2: the generated right-hand side dK/dt = K·D + D·K − 2μK against finite differences of the
    objective at the optimal readout (:func:`~verify.truth.finite_differences.check_kernel_ode`, ``ctx.pick(4, 12)``
    instances).

    Controls that must fail: every wrong ODE of ``WRONG_KERNEL_ODES``. Returns the combined
    :class:`~verify.core.verdict.Verdict`, with the derivations for C = 1, 2, 3."""
    count = ctx.pick(4, 12)
    truth = check_kernel_ode(kernel_ode_rhs, seed=ctx.seed, count=count)
    controls = {name: check_kernel_ode(wrong, seed=ctx.seed, count=count) for name, wrong in WRONG_KERNEL_ODES.items()}
    derivations = [theory.derive_kernel_ode(theory.losses.squared(C)) for C in (1, 2, 3)]
    labelled = {f"C = {C}": own_steps(d, "T2") for C, d in zip((1, 2, 3), derivations)}
    return combine("T2", ctx.seed, {"generated rhs vs finite differences of L*": truth}, derivation=labelled,
                   controls=controls, details={"kernel ODE": str(derivations[0].rhs_structured),
                                               "drive": str(derivations[0].drive)})


register(Claim(
    "T2", "Kernel ODE",
    "With the readout at its optimum, dK/dt = K·D(K) + D(K)·K − 2μK, D(K) = λ(K+λI)⁻¹S(K+λI)⁻¹ = G*ᵀG*/λ, rank D ≤ C.",
    "squared loss, UFM features, readout eliminated (fast readout)",
    check))
