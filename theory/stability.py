"""T6 — linearisation of the kernel ODE at commuting points: one rate per pair of modes.

At K = V diag(κ) Vᵀ commuting with S = V diag(s) Vᵀ, perturb K by a symmetric E. In the common
eigenbasis the linearised flow is *diagonal*: d(dK/dt)_ij = ρ_ij E_ij with

    ρ_ij = d_i + d_j − 2μ − λ a_i a_j (a_i s_i + a_j s_j)(κ_i + κ_j),  a = 1/(κ + λ), d = λ s a²,

derived here by SymPy from the kernel ODE on explicit diagonal 3 × 3 matrices with a symbolic
perturbation (exact derivative in ε at 0) and certified: no entry of the linearisation depends on
any entry of E but its own, and ρ_ii is the mode slope f'(κ_i) of T3. So a commuting steady state
is stable iff every ρ_ij < 0: the water-filled state is, and leaving a fillable mode empty gives
ρ_ii = f'(0) = 2(s_i/λ − μ) > 0.

>>> law = linearisation_at_commuting_points()
>>> law.certified
True
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory import notation as nt
from theory.certify import Certificate, Derivation, Step, certify_symbolic, evaluate
from theory.kernel_ode import derive_kernel_ode
from theory.losses import Loss, squared
from theory.matrix_algebra import contract
from theory.spectral import water_filling

SIZE = 3
kappa_i, kappa_j, s_i, s_j = sp.symbols("kappa_i kappa_j s_i s_j", nonnegative=True)


class CommutingLinearisation(Derivation):
    claim = "T6"

    def __init__(self, loss: Loss):
        ode = derive_kernel_ode(loss)
        rhs_S = contract(sp.expand(ode.rhs), (nt.Y.T, nt.Y), nt.S)
        k = sp.symbols(f"kappa1:{SIZE + 1}", nonnegative=True)
        sv = sp.symbols(f"s1:{SIZE + 1}", nonnegative=True)
        eps = sp.Symbol("epsilon")
        E = sp.Matrix(SIZE, SIZE, lambda i, j: sp.Symbol(f"e_{min(i, j) + 1}_{max(i, j) + 1}"))
        K = sp.diag(*k) + eps * E
        values = {nt.n: SIZE, nt.K: K, nt.S: sp.diag(*sv)}
        F = evaluate(rhs_S, values)
        dF = sp.Matrix(F).applyfunc(lambda x: sp.cancel(sp.diff(x, eps).subs(eps, 0)))

        e_syms = sorted(E.free_symbols, key=str)
        rates, leaks = {}, []
        for i in range(SIZE):
            for j in range(i, SIZE):
                own = E[i, j]
                rates[(i, j)] = sp.factor(sp.cancel(dF[i, j] / own)) if dF[i, j] != 0 else sp.Integer(0)
                leaks += [sp.diff(dF[i, j], e) for e in e_syms if e != own]
        decoupled = certify_symbolic("∂(dF_ij)/∂E_kl = 0 for (k, l) ≠ (i, j)", sp.Matrix(leaks))

        generic = rates[(0, 1)].subs({k[0]: kappa_i, k[1]: kappa_j, sv[0]: s_i, sv[1]: s_j})
        self.pair_rate = generic
        self.diagonal_rate = sp.factor(rates[(0, 0)].subs({k[0]: nt.kappa, sv[0]: nt.s}))
        law = water_filling(loss)
        slope = sp.diff(law.mode_rhs, nt.kappa)
        a_i, a_j = 1 / (kappa_i + nt.lam), 1 / (kappa_j + nt.lam)
        reference = (nt.lam * s_i * a_i**2 + nt.lam * s_j * a_j**2 - 2 * nt.mu
                     - nt.lam * a_i * a_j * (a_i * s_i + a_j * s_j) * (kappa_i + kappa_j))
        consistent = [rates[(i, j)] - generic.subs({kappa_i: k[i], kappa_j: k[j], s_i: sv[i], s_j: sv[j]})
                      for i in range(SIZE) for j in range(i + 1, SIZE)]
        self.steps = (
            Step("T6", "decoupling", "at commuting (K, S) the linearisation maps E_ij to ρ_ij E_ij alone",
                 sp.Symbol("dF_ij"), sp.Symbol("rho_ij*E_ij"), decoupled),
            Step("T6", "pair rate", "ρ_ij for i ≠ j (the same function for every pair)", sp.Symbol("rho_ij"),
                 generic, _all(certify_symbolic("every off-diagonal pair has the same rate", sp.Matrix(consistent)),
                               certify_symbolic("ρ_ij = d_i + d_j − 2μ − λa_ia_j(a_is_i + a_js_j)(κ_i + κ_j)",
                                                generic - reference))),
            Step("T6", "diagonal rate", "ρ_ii = f'(κ_i), the mode slope of T3", sp.Symbol("rho_ii"),
                 self.diagonal_rate, certify_symbolic("ρ_ii − f'(κ) = 0", self.diagonal_rate - slope)),
            *self._sign_steps(),
        )


    def _sign_steps(self):
        """Signs of every rate at the water-filled state, and of an empty fillable mode's rate.

        Mode kinds, parametrised so that SymPy can decide signs (u, w > 0): filled s = λμ(1+u)²
        (then κ* = λu), cut off s = λμ/(1+w)² with κ = 0, unlabelled s = 0 with κ = 0.
        """
        lam, mu = nt.lam, nt.mu
        u, v, w, z = sp.symbols("u v w z", positive=True)
        kinds = {"filled": lambda x: (lam * x, lam * mu * (1 + x) ** 2), "cut off": lambda x: (0, lam * mu / (1 + x) ** 2),
                 "unlabelled": lambda x: (0, 0)}
        first, second = {"filled": u, "cut off": w, "unlabelled": u}, {"filled": v, "cut off": z, "unlabelled": v}
        rates, bad = {}, []
        names = list(kinds)
        for a in range(len(names)):
            k, s = kinds[names[a]](first[names[a]])
            diag = sp.factor(sp.together(self.diagonal_rate.subs({nt.kappa: k, nt.s: s})))
            rates[f"ρ_ii {names[a]}"] = diag
            for b in range(a, len(names)):
                k2, s2 = kinds[names[b]](second[names[b]])
                pair = sp.factor(sp.together(self.pair_rate.subs({kappa_i: k, kappa_j: k2, s_i: s, s_j: s2})))
                rates[f"ρ_ij {names[a]}–{names[b]}"] = pair
        bad = [name for name, r in rates.items() if not r.is_negative]
        self.water_filled_rates = rates
        stable = Certificate("every rate at the water-filled state is negative", "symbolic sign analysis (u, v, w, z > 0)",
                             tuple(rates), not bad, f"not provably negative: {bad}" if bad else "")
        empty = sp.factor(sp.together(self.diagonal_rate.subs({nt.kappa: 0, nt.s: lam * mu * (1 + u) ** 2})))
        unstable = Certificate("ρ_ii > 0 for an empty mode with s > λμ", "symbolic sign analysis (s = λμ(1+u)², u > 0)",
                               ("symbolic",), bool(empty.is_positive), "" if empty.is_positive else f"ρ_ii = {empty}")
        return (Step("T6", "water-filled is stable", "all pair rates negative at κ_i = κ*_i (filled), 0 otherwise",
                     sp.Symbol("max rho_ij"), sp.Symbol("< 0"), stable),
                Step("T6", "empty fillable mode is unstable", "ρ_ii = f'(0) > 0 for s > λμ: leaving it empty is unstable",
                     sp.Symbol("rho_ii(kappa=0)"), empty, unstable))


def _all(*certificates: Certificate) -> Certificate:
    failed = [c for c in certificates if not c.passed]
    first = failed[0] if failed else certificates[0]
    return Certificate("; ".join(c.identity for c in certificates), first.method, first.trials, not failed,
                       first.detail if failed else "")


@lru_cache(maxsize=None)
def linearisation_at_commuting_points(loss: Loss | None = None) -> CommutingLinearisation:
    """T6 pair rates for ``loss`` (default squared, C = 1), certified and cached."""
    return CommutingLinearisation(loss if loss is not None else squared(1))
