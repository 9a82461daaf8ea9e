"""T6 — linearisation of the kernel ODE at commuting points: one rate per pair of modes.

At K = V diag(κ) Vᵀ commuting with S = V diag(s) Vᵀ, perturb K by a symmetric E. In the common
eigenbasis the linearised flow is *diagonal*: d(dK/dt)_ij = ρ_ij E_ij with

    ρ_ij = d_i + d_j − 2μ − λ a_i a_j (a_i s_i + a_j s_j)(κ_i + κ_j),  a = 1/(κ + λ), d = λ s a²,

derived here by SymPy from the kernel ODE on explicit diagonal 3 × 3 matrices with a symbolic
perturbation (exact derivative in ε at 0) and certified: no entry of the linearisation depends on
any entry of E but its own, and ρ_ii is the mode slope f'(κ_i) of T3. So a commuting steady state
is stable iff every ρ_ij < 0: the water-filled state is, and leaving a fillable mode empty gives
ρ_ii = f'(0) = 2(s_i/λ − μ) > 0.

>>> law = derive_linearisation()
>>> law.certified
True
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import AllOf, Derivation, Signs, Step, SymbolicZero, evaluate
from theory.losses import Loss, squared
from theory.matrix_algebra import contract
from theory.t2_kernel_ode import derive_kernel_ode
from theory.t3_water_filling import derive_water_filling

SIZE = 3
kappa_i, kappa_j, s_i, s_j = sp.symbols("kappa_i kappa_j s_i s_j", nonnegative=True)


class CommutingLinearisation(Derivation):
    """T6: the linearisation of the kernel ODE at commuting steady states (built by :func:`derive_linearisation`).

    Perturbing K = diag(κ) + εE, the steps derive the rate of each entry of E: ``pair_rate`` ρ_ij for i ≠ j (in terms
    of κ_i, κ_j, s_i, s_j) and ``diagonal_rate`` ρ_ii = f'(κ_i) (T3's mode slope). ``water_filled_rates`` are the
    rates at the water-filled state, all negative (it is stable); an empty fillable mode has ρ_ii = f'(0) > 0."""

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

        rates = {(i, j): sp.factor(sp.cancel(dF[i, j] / E[i, j])) for i in range(SIZE) for j in range(i, SIZE)}
        generic = rates[(0, 1)].subs({k[0]: kappa_i, k[1]: kappa_j, sv[0]: s_i, sv[1]: s_j})
        self.pair_rate = generic
        self.diagonal_rate = sp.factor(rates[(0, 0)].subs({k[0]: nt.kappa, sv[0]: nt.s}))
        law = derive_water_filling(loss)
        slope = sp.diff(law.mode_rhs, nt.kappa)
        a_i, a_j = 1 / (kappa_i + nt.lam), 1 / (kappa_j + nt.lam)
        reference = (nt.lam * s_i * a_i**2 + nt.lam * s_j * a_j**2 - 2 * nt.mu
                     - nt.lam * a_i * a_j * (a_i * s_i + a_j * s_j) * (kappa_i + kappa_j))

        def pair(rate, i, j):
            return rate.subs({kappa_i: k[i], kappa_j: k[j], s_i: sv[i], s_j: sv[j]}, simultaneous=True)

        decoupled = sp.Matrix(SIZE, SIZE, lambda i, j: (self.diagonal_rate.subs({nt.kappa: k[i], nt.s: sv[i]}) if i == j
                                                        else pair(generic, min(i, j), max(i, j))) * E[i, j])
        self.steps = (
            Step("T6", "decoupling", "at commuting (K, S) the linearisation maps E_ij to ρ_ij E_ij alone",
                 dF, decoupled, SymbolicZero("d/dε K̇(diag κ + εE) at 0 = [ρ_ij E_ij] for a generic symmetric E")),
            Step("T6", "pair rate", "ρ_ij for i ≠ j (the same function for every pair)", sp.Symbol("rho_ij"), generic,
                 SymbolicZero("every off-diagonal entry of the linearisation is ρ_ij E_ij, and ρ_ij = d_i + d_j − 2μ − "
                              "λa_ia_j(a_is_i + a_js_j)(κ_i + κ_j)",
                              lambda lhs, rhs: [dF[i, j] / E[i, j] - pair(rhs, i, j) for i in range(SIZE)
                                                for j in range(i + 1, SIZE)] + [rhs - reference])),
            Step("T6", "diagonal rate", "ρ_ii = f'(κ_i), the mode slope of T3", sp.Symbol("rho_ii"),
                 self.diagonal_rate,
                 SymbolicZero("ρ_ii − f'(κ) = 0 and the diagonal of the linearisation is ρ_ii E_ii",
                              lambda lhs, rhs: [rhs - slope] + [dF[i, i] / E[i, i] - rhs.subs({nt.kappa: k[i], nt.s: sv[i]})
                                                                for i in range(SIZE)])),
            *self._sign_steps(law),
        )

    def _rates_at(self, kappa_filled):
        """Every rate at the water-filled state whose filled modes sit at ``kappa_filled(s)``. Mode kinds,
        parametrised so that SymPy can decide signs (u, v, w, z > 0): filled s = λμ(1+u)², cut off
        s = λμ/(1+w)² with κ = 0, unlabelled s = 0 with κ = 0."""
        lam, mu = nt.lam, nt.mu
        u, v, w, z = sp.symbols("u v w z", positive=True)
        kinds = {"filled": lambda x: (kappa_filled(lam * mu * (1 + x) ** 2), lam * mu * (1 + x) ** 2),
                 "cut off": lambda x: (0, lam * mu / (1 + x) ** 2), "unlabelled": lambda x: (0, 0)}
        first, second = {"filled": u, "cut off": w, "unlabelled": u}, {"filled": v, "cut off": z, "unlabelled": v}
        rates = {}
        names = list(kinds)
        for a in range(len(names)):
            k, s = kinds[names[a]](first[names[a]])
            rates[f"ρ_ii {names[a]}"] = self.diagonal_rate.subs({nt.kappa: k, nt.s: s})
            for b in range(a, len(names)):
                k2, s2 = kinds[names[b]](second[names[b]])
                rates[f"ρ_ij {names[a]}–{names[b]}"] = self.pair_rate.subs({kappa_i: k, kappa_j: k2, s_i: s, s_j: s2})
        return rates

    def _sign_steps(self, law):
        """The water-filled state (filled modes at the rhs κ*(s), others 0) is a steady state with every rate
        negative; an empty fillable mode has a positive rate."""
        lam, mu = nt.lam, nt.mu
        u = sp.Symbol("u", positive=True)
        filled_s = lam * mu * (1 + u) ** 2

        def signs(lhs, rhs):
            rates = self._rates_at(lambda s: rhs.subs(nt.s, s))
            self.water_filled_rates = {name: sp.factor(sp.together(r)) for name, r in rates.items()}
            return [("filled κ*(s)", rhs.subs(nt.s, filled_s), "positive")] + [(name, r, "negative")
                                                                             for name, r in rates.items()]

        empty = sp.factor(sp.together(self.diagonal_rate.subs({nt.kappa: 0, nt.s: filled_s})))
        return (Step("T6", "water-filled is stable",
                     "filled modes at κ*(s) (0 otherwise) form a steady state at which every pair rate is negative",
                     sp.Symbol("kappa_filled"), law.kappa_star,
                     AllOf(SymbolicZero("f(κ*(s), s) = 0 for a fillable mode (s = λμ(1+u)²)",
                                        lambda lhs, rhs: law.mode_rhs.subs({nt.kappa: rhs, nt.s: filled_s})
                                        .subs(nt.s, filled_s)),
                           Signs("κ* > 0 and every rate negative there", signs, "u, v, w, z > 0"))),
                Step("T6", "empty fillable mode is unstable", "ρ_ii = f'(0) > 0 for s > λμ: leaving it empty is unstable",
                     sp.Symbol("rho_ii(kappa=0)"), empty,
                     AllOf(SymbolicZero("ρ_ii(κ = 0, s = λμ(1+u)²) as derived",
                                        lambda lhs, rhs: rhs - self.diagonal_rate.subs({nt.kappa: 0, nt.s: filled_s})),
                           Signs("ρ_ii > 0 for an empty mode with s > λμ", lambda lhs, rhs: [("ρ_ii", rhs, "positive")],
                                 "s = λμ(1+u)², u > 0"))))


@lru_cache(maxsize=None)
def derive_linearisation(loss: Loss | None = None) -> CommutingLinearisation:
    """T6 pair rates for ``loss`` (default squared, C = 1), certified and cached."""
    loss = loss if loss is not None else squared(1)
    with limits.time_limit(f"derive_linearisation({loss.name})"):
        return CommutingLinearisation(loss)
