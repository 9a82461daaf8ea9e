"""T3 — the water-filling law: the kernel ODE on commuting (K, S), mode by mode.

If K = V diag(κ) Vᵀ and S = YᵀY = V diag(s) Vᵀ commute, every term of the kernel ODE is a rational
function of the commuting pair, so each common eigenvector evolves by the scalar ODE obtained by
replacing K → κ, S → s (certified on exactly orthogonal rational V):

    dκ/dt = f(κ) = 2κ [λs/(κ + λ)² − μ]       (squared loss).

SymPy then solves f = 0 on κ ≥ 0 (κ = 0 and κ* = √(λs/μ) − λ), takes the slopes f'(0), f'(κ*),
finds the threshold s > λμ from the sign of f'(0), assembles the stable value
κ∞ = Piecewise((κ*, s > λμ), (0, True)) and integrates the separable ODE for t(κ).

>>> law = derive_water_filling()
>>> law.stable_value
Piecewise((sqrt(lambda)*sqrt(s)/sqrt(mu) - lambda, s > lambda*mu), (0, True))
>>> law.certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import (
    AllOf,
    Derivation,
    Predicate,
    RootSet,
    Signs,
    Step,
    SymbolicZero,
    evaluate,
    rational,
    rational_orthogonal,
)
from theory.losses import Loss, squared
from theory.matrix_algebra import contract, to_scalar
from theory.t2_kernel_ode import derive_kernel_ode


def mode_reduction(rhs: sp.MatrixExpr) -> sp.Expr:
    """The scalar ODE of one common eigenvector of commuting K and S = YᵀY."""
    expanded = contract(sp.expand(rhs), (nt.Y.T, nt.Y), nt.S)
    return sp.factor(sp.cancel(to_scalar(expanded, {nt.K: nt.kappa, nt.S: nt.s})))


def commuting_instance(rng: random.Random, n: int, C: int):
    """Exact commuting (K, Y): K = V diag(κ) Vᵀ, Y = [diag(q) 0] Vᵀ so S = V diag(q², 0, …) Vᵀ."""
    V = rational_orthogonal(rng, n)
    kappas = [rational(rng, positive=True) for _ in range(n)]
    q = [rational(rng, positive=True) for _ in range(C)]
    Y = sp.ImmutableMatrix(C, n, lambda i, j: q[i] if i == j else 0) * V.T
    K = V * sp.diag(*kappas) * V.T
    return V, kappas, [x**2 for x in q] + [0] * (n - C), sp.ImmutableMatrix(K), sp.ImmutableMatrix(Y)


def fillable_parameters(seed: int) -> list[dict]:
    """Rational λ, μ and a label mode s = μ(λ + r)²/λ > λμ (so κ* = r is rational), r > 0, twice."""
    rng = random.Random(seed)
    out = []
    for _ in range(2):
        lam, mu, r = (rational(rng, positive=True) for _ in range(3))
        out.append({nt.lam: lam, nt.mu: mu, nt.s: mu * (lam + r) ** 2 / lam})
    return out


def _above(power):
    """s = λμ(1 + w)^(2·power), w > 0: a label mode above (power 1) or below (power −1) the threshold."""
    return nt.lam * nt.mu * (1 + sp.Symbol("w", positive=True)) ** (2 * power)


class WaterFillingLaw(Derivation):
    """T3: the water-filling law of the kernel flow, mode by mode (built by :func:`derive_water_filling`).

    For K commuting with S each eigenvalue obeys ``mode_rhs`` dκ/dt = f(κ); its ``fixed_points`` are 0 and
    ``kappa_star`` κ* = √(λs/μ) − λ, with ``slopes`` f'(0) and f'(κ*); ``threshold`` is the condition s > λμ under
    which the empty mode is unstable, ``stable_value`` the law κ∞ = (√(λs/μ) − λ)₊ and ``time_to_reach`` the
    closed-form time t(κ) along a mode."""

    claim = "T3"

    def __init__(self, loss: Loss, seed: int = 0):
        ode = derive_kernel_ode(loss)
        k, s = nt.kappa, nt.s
        self.mode_rhs = mode_reduction(ode.rhs)
        steps = [Step("T3", "commuting reduction",
                      "for commuting K, S the flow stays commuting and each mode obeys dκ/dt = f(κ)",
                      ode.rhs_structured, self.mode_rhs, self._reduction_check(ode, seed))]

        roots = sp.solve(self.mode_rhs, k)  # κ ≥ 0 by the symbol's assumption
        self.fixed_points = tuple(sorted(roots, key=lambda r: 0 if r == 0 else 1))
        f = self.mode_rhs
        steps.append(Step("T3", "fixed points", "f(κ) = 0 on κ ≥ 0", sp.Symbol("kappa_fixed"),
                          sp.FiniteSet(*self.fixed_points),
                          AllOf(SymbolicZero("f vanishes at each fixed point",
                                             lambda lhs, rhs: [f.subs(k, r) for r in rhs.args]),
                                RootSet("every root of f on κ ≥ 0, at rational λ, μ, s > λμ", f, k,
                                        fillable_parameters(seed)))))
        if len(self.fixed_points) != 2 or self.fixed_points[0] != 0:
            raise ValueError(f"expected the fixed points 0 and κ*, found {self.fixed_points}")
        self.kappa_star = self.fixed_points[1]

        slope = sp.diff(self.mode_rhs, k)
        self.slopes = (sp.simplify(slope.subs(k, 0)), sp.factor(sp.simplify(slope.subs(k, self.kappa_star))))
        self.threshold = sp.solve(self.slopes[0] > 0, s)
        if not (isinstance(self.threshold, sp.StrictGreaterThan) and self.threshold.lhs == s):
            raise ValueError(f"expected a threshold of the form s > boundary, found {self.threshold}")
        steps.append(Step("T3", "threshold", "κ = 0 is unstable (f'(0) > 0) exactly when s > λμ",
                          sp.Gt(self.slopes[0], 0), self.threshold, self._threshold_check()))
        star = self.kappa_star
        steps.append(Step("T3", "stability", "f'(κ*) < 0 whenever κ* > 0 (i.e. s > λμ): the filled mode is stable",
                          sp.Symbol("f'(kappa*)"), self.slopes[1],
                          AllOf(SymbolicZero("f'(κ*) as derived = d f/dκ at κ*",
                                             lambda lhs, rhs: rhs - sp.diff(f, k).subs(k, star)),
                                Signs("f'(κ*) < 0 for s > λμ",
                                      lambda lhs, rhs: [("f'(κ*)", rhs.subs(s, _above(1)), "negative")],
                                      "s = λμ(1+w)², w > 0"))))
        self.stable_value = sp.Piecewise((self.kappa_star, self.threshold), (0, True))
        self.time_to_reach = self._separable_solution()
        steps.append(Step("T3", "time to reach", "t(κ) = ∫_{κ₀}^{κ} dk / f(k), in closed form: dt/dκ = 1/f and t(κ₀) = 0",
                          sp.Symbol("t"), self.time_to_reach,
                          SymbolicZero("dt/dκ · f(κ) = 1 (d log|x| = dx/x) and t(κ₀) = 0",
                                       lambda lhs, rhs: [sp.diff(rhs.replace(sp.Abs, lambda a: a), k) * f - 1,
                                                         rhs.subs(k, nt.kappa0)])))
        self.steps = tuple(steps)

    def _reduction_check(self, ode, seed) -> Predicate:
        """The matrix flow (the lhs, D as derived) at exactly commuting rational K = V diag(κ) Vᵀ, S = V diag(s) Vᵀ
        against V diag(f(κ_i, s_i)) Vᵀ built from the mode law (the rhs)."""
        rng = random.Random(seed)
        cases = []
        for n, C in ((3, 2), (4, 2), (3, 1)):
            V, kappas, svals, K, Y = commuting_instance(rng, n, C)
            cases.append((f"n={n}, C={C}, rational orthogonal V", V, kappas, svals,
                          {nt.n: n, nt.C: C, nt.K: K, nt.Y: Y, nt.lam: rational(rng, positive=True),
                           nt.mu: rational(rng, positive=True)}))
        from theory.t2_kernel_ode import D

        def decide(lhs, rhs):
            flow = lhs.xreplace({D: ode.drive})
            trials = []
            for label, V, kappas, svals, values in cases:
                trials.append(label)
                modes = [rhs.subs({nt.kappa: a, nt.s: b, nt.lam: values[nt.lam], nt.mu: values[nt.mu]})
                         for a, b in zip(kappas, svals)]
                if sp.Matrix(evaluate(flow, values)) != V * sp.diag(*modes) * V.T:
                    return False, trials, f"K̇ ≠ V diag(f(κ_i, s_i)) Vᵀ at {label}"
            return True, trials, ""

        return Predicate("K̇(V diag κ Vᵀ) = V diag(f(κ_i, s_i)) Vᵀ", decide, "exact evaluation")

    def _threshold_check(self) -> Signs:
        """f'(0) (the lhs) is positive above the rhs boundary and negative below it; κ* vanishes at the boundary."""
        def conditions(lhs, rhs):
            slope0, boundary = lhs.lhs, rhs.rhs
            w = sp.Symbol("w", positive=True)
            return [("f'(0) above the boundary", slope0.subs(nt.s, boundary * (1 + w) ** 2), "positive"),
                    ("f'(0) below the boundary", slope0.subs(nt.s, boundary / (1 + w) ** 2), "negative"),
                    ("κ* above the boundary", self.kappa_star.subs(nt.s, boundary * (1 + w) ** 2), "positive"),
                    ("κ* below the boundary", self.kappa_star.subs(nt.s, boundary / (1 + w) ** 2), "negative")]

        return Signs("sign of f'(0) and of κ* change at the boundary", conditions, "s = boundary·(1+w)^±2, w > 0")

    def _separable_solution(self):
        """∫ dκ/f(κ) by partial fractions, with s = μr²/λ so that the quadratic factor splits."""
        r = sp.Symbol("r", positive=True)
        k = nt.kappa
        integrand = sp.cancel(1 / self.mode_rhs.subs(nt.s, nt.mu * r**2 / nt.lam))
        antiderivative = 0
        for term in sp.Add.make_args(sp.apart(integrand, k)):
            num, den = sp.fraction(sp.factor(term))
            linear = [f for f in sp.Mul.make_args(den) if f.has(k)]
            if len(linear) != 1 or sp.degree(linear[0], k) != 1:
                raise ValueError(f"unexpected partial fraction {term}")
            slope = sp.diff(linear[0], k)
            antiderivative += term * linear[0] / slope * sp.log(sp.Abs(linear[0]))
        antiderivative = antiderivative.subs(r, sp.sqrt(nt.lam * nt.s / nt.mu))
        return sp.simplify(antiderivative - antiderivative.subs(k, nt.kappa0))


@lru_cache(maxsize=None)
def derive_water_filling(loss: Loss | None = None) -> WaterFillingLaw:
    """T3 for ``loss`` (default: squared loss, C = 1; the mode law does not depend on C)."""
    loss = loss if loss is not None else squared(1)
    with limits.time_limit(f"derive_water_filling({loss.name})"):
        return WaterFillingLaw(loss)
