"""T2 — the kernel ODE, derived from the loss with the readout at its optimum.

With W = W*(Φ) (T1), gradient flow on the features is Φ̇ = −∂L/∂Φ = −W*ᵀG* − μΦ = Φ(D − μI), with
the drive operator D(K) = G*ᵀG*/λ (squared loss: λ(K + λI)⁻¹S(K + λI)⁻¹, rank ≤ rank Y ≤ C), and
the product rule K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ closes the flow in K:

    dK/dt = K·D(K) + D(K)·K − 2μK.

The last step is certified end to end: Φ̇ from the entrywise derivative of the objective at the
exactly solved readout, pushed through the product rule, against the closed form in K.

>>> from theory.losses import squared
>>> ode = derive_kernel_ode(squared(2))
>>> ode.rhs_structured
(-2*mu)*K + D*K + K*D
>>> ode.certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import (
    AgainstTruth,
    AllOf,
    Derivation,
    ExactRank,
    Identity,
    Step,
    instances_at,
    rational_matrix,
)
from theory.gradients import derive_gradients, entrywise_gradient, exact_optimal_readout
from theory.losses import Loss
from theory.matrix_algebra import contract, split_right_linear
from theory.t1_readout import certification_sizes, derive_readout

#: the drive operator as a symbol (symmetric n × n), for the structured form of the ODE
D = sp.MatrixSymbol("D", nt.n, nt.n)
Phi_dot = sp.MatrixSymbol("dPhi/dt", nt.m, nt.n)
K_dot = sp.MatrixSymbol("dK/dt", nt.n, nt.n)


def _symmetric(expr):
    """Transposes of K (and of expressions in K alone) are K: the kernel is symmetric."""
    return sp.expand(expr.xreplace(nt.SYMMETRIC).doit()).xreplace(nt.SYMMETRIC)


def kernel_velocity(Phi, Phi_dot) -> sp.Matrix:
    """d/dt K(Φ + tΦ̇) at t = 0 for K(Φ) = ΦᵀΦ, by SymPy's scalar diff (independent of the product rule)."""
    t = sp.Symbol("t")
    curve = sp.Matrix(Phi) + t * sp.Matrix(Phi_dot)
    return (curve.T * curve).diff(t).subs(t, 0)


def _curves(seed: int) -> list:
    """Random rational Φ and Φ̇ (wide and tall) for the product rule."""
    rng = random.Random(seed)
    return [(f"m={rows}, n={cols}", {nt.m: rows, nt.n: cols, nt.Phi: rational_matrix(rng, rows, cols),
                                    Phi_dot: rational_matrix(rng, rows, cols)}) for rows, cols in ((2, 3), (3, 2))]


class KernelODE(Derivation):
    """T2 for one loss: the kernel ODE at the optimal readout, each step certified (:func:`derive_kernel_ode`).

    From the feature flow Φ̇ = −∂L/∂Φ at W*, the steps read off Φ̇ = Φ(D − μI) and derive dK/dt = K·D + D·K − 2μK
    with ``drive`` D = G*ᵀG*/λ = λ(K + λI)⁻¹S(K + λI)⁻¹ (squared loss). ``rhs_structured`` is the right-hand side in
    terms of D, ``rhs`` the same with D substituted, ``loss`` the loss."""

    claim = "T2"

    def __init__(self, loss: Loss, seed: int = 0):
        self.loss = loss
        t1 = derive_readout(loss)
        grads = derive_gradients(loss)
        sizes = certification_sizes(loss.C)
        steps = list(t1.steps)

        # feature flow at the optimal readout
        flow = -grads.feature_gradient.xreplace({nt.W: t1.W_star, nt.G: t1.G_star})
        flow = _symmetric(flow)
        steps.append(Step("T2", "feature flow", "Φ̇ = −∂L/∂Φ = −W*ᵀG* − μΦ at the optimal readout",
                          Phi_dot, flow, AgainstTruth("Φ̇ = −∂L/∂Φ entrywise at the exactly solved readout",
                                                      self._exact_flow, lambda: instances_at(sizes, seed))))

        # Φ̇ = Φ·(D − μI): read D off the right factor, and recognise it as G*ᵀG*/λ
        right, rest = split_right_linear(flow, nt.Phi, nt.I_n)
        if rest != sp.ZeroMatrix(*flow.shape):
            raise ValueError(f"the feature flow is not Φ·A: remainder {rest}")
        drive_raw = sp.expand(right + nt.mu * nt.I_n)
        self.drive = (t1.G_star.T * t1.G_star / nt.lam).doit().xreplace(nt.SYMMETRIC)
        steps.append(Step("T2", "drive operator", "Φ̇ = Φ(D − μI) with D = G*ᵀG*/λ, so rank D ≤ rank G* ≤ C",
                          drive_raw, self.drive,
                          AllOf(Identity("D = G*ᵀG*/λ", sizes=sizes, seed=seed + 1),
                                ExactRank("rank D ≤ C", lambda v: v[nt.C], seed=seed + 1,
                                          sizes=({nt.n: loss.C + 3, nt.m: loss.C + 2, nt.C: loss.C},)))))

        steps.append(Step("T2", "product rule", "K = ΦᵀΦ ⇒ K̇ = Φ̇ᵀΦ + ΦᵀΦ̇", K_dot,
                          Phi_dot.T * nt.Phi + nt.Phi.T * Phi_dot,
                          AgainstTruth("d/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) at t = 0, differentiated by SymPy",
                                       lambda v: kernel_velocity(v[nt.Phi], v[Phi_dot]),
                                       lambda: _curves(seed + 2))))

        structured = sp.expand((nt.Phi * D - nt.mu * nt.Phi).T * nt.Phi + nt.Phi.T * (nt.Phi * D - nt.mu * nt.Phi))
        structured = contract(structured.xreplace({D.T: D}), (nt.Phi.T, nt.Phi), nt.K)
        self.rhs_structured = sp.MatAdd(*structured.args).doit() if isinstance(structured, sp.MatAdd) else structured
        self.rhs = self.rhs_structured.xreplace({D: self.drive})
        steps.append(Step("T2", "kernel ODE", "K̇ = K·D(K) + D(K)·K − 2μK (closed in K)", K_dot, self.rhs_structured,
                          AgainstTruth("K̇ (closed form, D as derived) = d/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) with Φ̇ from the "
                                       "entrywise gradient at the exactly solved readout",
                                       lambda v: kernel_velocity(v[nt.Phi], self._exact_flow(v)),
                                       lambda: instances_at(sizes, seed + 3), substitute={D: self.drive})))
        self.steps = tuple(steps)

    @property
    def arguments(self) -> tuple:
        """The symbols the numeric right-hand side takes, in order: (K, Y, λ, μ)."""
        return (nt.K, nt.Y, nt.lam, nt.mu)

    def _exact_flow(self, values):
        W_star = exact_optimal_readout(self.loss, values[nt.Phi], values[nt.Y], values[nt.lam])
        return -entrywise_gradient(self.loss, "Phi", W_star, values[nt.Phi], values[nt.Y], values[nt.lam],
                                   values[nt.mu])

    def latex(self) -> str:
        return rf"\dot K = {sp.latex(self.rhs_structured)},\quad D = {sp.latex(self.drive)}"


@lru_cache(maxsize=None)
def derive_kernel_ode(loss: Loss) -> KernelODE:
    """T2 for ``loss``: the kernel ODE with every step certified (cached per loss)."""
    with limits.time_limit(f"derive_kernel_ode({loss.name})"):
        return KernelODE(loss)
