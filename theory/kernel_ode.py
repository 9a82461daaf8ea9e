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

from theory import notation as nt
from theory.certify import (Derivation, Step, certify_identity, certify_values, evaluate, rational_matrix, standard_instance)
from theory.gradients import derive_gradients, entrywise_gradient, exact_optimal_readout
from theory.losses import Loss
from theory.matrix_algebra import contract, split_right_linear
from theory.readout import _sizes, derive_readout

#: the drive operator as a symbol (symmetric n × n), for the structured form of the ODE
D = sp.MatrixSymbol("D", nt.n, nt.n)
Phi_dot = sp.MatrixSymbol("dPhi/dt", nt.m, nt.n)
K_dot = sp.MatrixSymbol("dK/dt", nt.n, nt.n)


def _symmetric(expr):
    """Transposes of K (and of expressions in K alone) are K: the kernel is symmetric."""
    return sp.expand(expr.xreplace(nt.SYMMETRIC).doit()).xreplace(nt.SYMMETRIC)


class KernelODE(Derivation):
    claim = "T2"

    def __init__(self, loss: Loss, seed: int = 0):
        self.loss = loss
        t1 = derive_readout(loss)
        grads = derive_gradients(loss)
        sizes = _sizes(loss.C)
        steps = list(t1.steps)

        # feature flow at the optimal readout
        flow = -grads.feature_gradient.xreplace({nt.W: t1.W_star, nt.G: t1.G_star})
        flow = _symmetric(flow)
        steps.append(Step("T2", "feature flow", "Φ̇ = −∂L/∂Φ = −W*ᵀG* − μΦ at the optimal readout",
                          Phi_dot, flow, self._against_entrywise_flow(flow, sizes, seed)))

        # Φ̇ = Φ·(D − μI): read D off the right factor, and recognise it as G*ᵀG*/λ
        right, rest = split_right_linear(flow, nt.Phi, nt.I_n)
        if rest != sp.ZeroMatrix(*flow.shape):
            raise ValueError(f"the feature flow is not Φ·A: remainder {rest}")
        drive_raw = sp.expand(right + nt.mu * nt.I_n)
        self.drive = (t1.G_star.T * t1.G_star / nt.lam).doit().xreplace(nt.SYMMETRIC)
        steps.append(Step("T2", "drive operator", "Φ̇ = Φ(D − μI) with D = G*ᵀG*/λ, so rank D ≤ rank G* ≤ C",
                          drive_raw, self.drive,
                          certify_identity("D = G*ᵀG*/λ", drive_raw, self.drive, sizes=sizes, seed=seed + 1)))

        steps.append(Step("T2", "product rule", "K = ΦᵀΦ ⇒ K̇ = Φ̇ᵀΦ + ΦᵀΦ̇", K_dot,
                          Phi_dot.T * nt.Phi + nt.Phi.T * Phi_dot, self._certify_product_rule(seed + 2)))

        structured = sp.expand((nt.Phi * D - nt.mu * nt.Phi).T * nt.Phi + nt.Phi.T * (nt.Phi * D - nt.mu * nt.Phi))
        structured = contract(structured.xreplace({D.T: D}), (nt.Phi.T, nt.Phi), nt.K)
        self.rhs_structured = sp.MatAdd(*structured.args).doit() if isinstance(structured, sp.MatAdd) else structured
        self.rhs = self.rhs_structured.xreplace({D: self.drive})
        steps.append(Step("T2", "kernel ODE", "K̇ = K·D(K) + D(K)·K − 2μK (closed in K)", K_dot, self.rhs_structured,
                          self._against_entrywise_kernel_flow(sizes, seed + 3)))
        self.steps = tuple(steps)

    @property
    def arguments(self) -> tuple:
        """The symbols the numeric right-hand side takes, in order: (K, Y, λ, μ)."""
        return (nt.K, nt.Y, nt.lam, nt.mu)

    def _exact_flow(self, values):
        W_star = exact_optimal_readout(self.loss, values[nt.Phi], values[nt.Y], values[nt.lam])
        return -entrywise_gradient(self.loss, "Phi", W_star, values[nt.Phi], values[nt.Y], values[nt.lam],
                                   values[nt.mu])

    def _against_entrywise_flow(self, flow, sizes, seed):
        rng = random.Random(seed)
        pairs = []
        for dims in sizes:
            v = standard_instance(rng, dims)
            pairs.append((", ".join(f"{k}={x}" for k, x in dims.items()), evaluate(flow, v), self._exact_flow(v)))
        return certify_values("Φ̇ = −∂L/∂Φ entrywise at the exactly solved readout", pairs)

    def _certify_product_rule(self, seed):
        rng = random.Random(seed)
        t = sp.Symbol("t")
        pairs = []
        for rows, cols in ((2, 3), (3, 2)):
            P0, P1 = rational_matrix(rng, rows, cols), rational_matrix(rng, rows, cols)
            curve = P0 + t * P1
            lhs = (curve.T * curve).diff(t).subs(t, 0)
            pairs.append((f"m={rows}, n={cols}", lhs, P1.T * P0 + P0.T * P1))
        return certify_values("d/dt(ΦᵀΦ) along Φ(t) = Φ₀ + tΦ₁", pairs)

    def _against_entrywise_kernel_flow(self, sizes, seed):
        rng = random.Random(seed)
        pairs = []
        for dims in sizes:
            v = standard_instance(rng, dims)
            phi_dot = self._exact_flow(v)
            k_dot = phi_dot.T * v[nt.Phi] + v[nt.Phi].T * phi_dot
            pairs.append((", ".join(f"{k}={x}" for k, x in dims.items()), evaluate(self.rhs, v), k_dot))
        return certify_values("K̇ (closed form) = Φ̇ᵀΦ + ΦᵀΦ̇ with Φ̇ from the entrywise gradient", pairs)

    def latex(self) -> str:
        return rf"\dot K = {sp.latex(self.rhs_structured)},\quad D = {sp.latex(self.drive)}"


@lru_cache(maxsize=None)
def derive_kernel_ode(loss: Loss) -> KernelODE:
    """T2 for ``loss``: the kernel ODE with every step certified (cached per loss)."""
    return KernelODE(loss)
