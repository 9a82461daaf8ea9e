"""T8 — self-supervised contrast: a Laplacian-driven kernel flow and its spectral filter law.

Energy on PSD kernels for a graph Laplacian L (eigenvalues ℓ_j ≥ 0), with μ, β, ε > 0:

    E(K) = tr(L K) + μ tr K − β log det(K + εI),    ∇E = L + μI − β(K + εI)⁻¹,
    dK/dt = −(K ∇E + ∇E K)

The gradient is certified by exact directional derivatives (d/dt E(K + tΔ) at t = 0, with det a
polynomial in t) on random rational matrices. For K commuting with L each common eigenvector obeys
the scalar ODE obtained by K → κ, L → ℓ (certified on exactly orthogonal rational V); SymPy solves it:
fixed points κ = 0 and κ* = β/(ℓ + μ) − ε, the empty mode is unstable exactly when β/ε > ℓ + μ, and

    κ∞(ℓ) = (β/(ℓ + μ) − ε)₊        (ε → 0: the low-pass filter K = β(L + μI)⁻¹, high rank)

>>> law = derive_ssl_filter()
>>> law.steady_value
Piecewise(((beta - ell*epsilon - epsilon*mu)/(ell + mu), beta > epsilon*(ell + mu)), (0, True))
>>> law.certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import notation as nt
from theory.certify import (
    AgainstTruth,
    AllOf,
    Derivation,
    Predicate,
    RootSet,
    Signs,
    Step,
    SymbolicZero,
    evaluate,
    rational,
    rational_matrix,
    rational_orthogonal,
)
from theory.matrix_algebra import to_scalar

L = sp.MatrixSymbol("L", nt.n, nt.n)
beta, eps = sp.symbols("beta epsilon", positive=True)
ell = sp.Symbol("ell", nonnegative=True)

#: the energy's three terms and the gradient each contributes (matrix calculus, certified below)
ENERGY = sp.Trace(L * nt.K) + nt.mu * sp.Trace(nt.K) - beta * sp.log(sp.Determinant(nt.K + eps * nt.I_n))
GRADIENT = L + nt.mu * nt.I_n - beta * (nt.K + eps * nt.I_n).I


def rational_laplacian(rng: random.Random, n: int) -> sp.Matrix:
    """A weighted graph Laplacian with random positive rational weights on a random graph."""
    A = sp.zeros(n, n)
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.6 or j == i + 1:
                A[i, j] = A[j, i] = rational(rng, positive=True)
    return sp.diag(*[sum(A.row(i)) for i in range(n)]) - A


#: a symmetric direction for directional derivatives of the energy
Delta = sp.MatrixSymbol("Delta", nt.n, nt.n)


def directional_instances(rng: random.Random) -> list:
    """Exact instances for checking the energy gradient by directional derivatives: [(label, values)] for n = 2 and
    3.

    Each ``values`` binds K = BᵀB (positive semidefinite), a symmetric direction Δ = D + Dᵀ, a weighted graph
    Laplacian L (:func:`rational_laplacian`) and positive rationals μ, β, ε, all drawn from ``rng``."""
    out = []
    for n in (2, 3):
        B = rational_matrix(rng, n, n)
        D = rational_matrix(rng, n, n)
        out.append((f"n={n}", {nt.n: n, nt.K: sp.ImmutableMatrix(B.T * B), Delta: sp.ImmutableMatrix(D + D.T),
                              L: rational_laplacian(rng, n), nt.mu: rational(rng, positive=True),
                              beta: rational(rng, positive=True), eps: rational(rng, positive=True)}))
    return out


def energy_directional_derivative(values) -> sp.Expr:
    """d/dt E(K + tΔ) at t = 0, with det a polynomial in t (exact; independent of the gradient formula)."""
    t = sp.Symbol("t")
    moved = evaluate(ENERGY, {**values, nt.K: sp.ImmutableMatrix(values[nt.K] + t * values[Delta])})
    return sp.simplify(sp.diff(moved, t).subs(t, 0))


def _fillable_parameters(rng: random.Random) -> list[dict]:
    """Rational ℓ, μ, ε and β = ε(ℓ + μ)(1 + r) above the threshold, twice."""
    out = []
    for _ in range(2):
        values = {ell: rational(rng, positive=True), nt.mu: rational(rng, positive=True),
                  eps: rational(rng, positive=True)}
        values[beta] = values[eps] * (values[ell] + values[nt.mu]) * (1 + rational(rng, positive=True))
        out.append(values)
    return out


class SSLFilter(Derivation):
    """T8: the self-supervised Laplacian flow and its spectral filter law (built by :func:`derive_ssl_filter`).

    ``energy`` E(K) = tr(LK) + μ tr K − β log det(K + εI), its ``gradient`` ∇E = L + μI − β(K + εI)⁻¹, and ``rhs``
    dK/dt = −(K∇E + ∇E K). For K commuting with L each mode obeys ``mode_rhs`` dκ/dt = g(κ), with ``fixed_points`` 0
    and ``kappa_star`` β/(ℓ + μ) − ε, their ``slopes``, the ``threshold`` β > ε(ℓ + μ), and ``steady_value`` κ∞(ℓ) =
    (β/(ℓ + μ) − ε)₊."""

    claim = "T8"

    def __init__(self, seed: int = 0):
        rng = random.Random(seed)
        self.energy, self.gradient = ENERGY, GRADIENT
        self.rhs = -(nt.K * GRADIENT + GRADIENT * nt.K)
        directions = directional_instances(rng)
        steps = [Step("T8", "energy gradient", "∇E = L + μI − β(K + εI)⁻¹ (d log det(K+εI)[Δ] = tr((K+εI)⁻¹Δ))",
                      sp.Symbol("grad E"), GRADIENT,
                      AgainstTruth("tr(∇E·Δ) = d/dt E(K + tΔ) at 0 for symmetric Δ", energy_directional_derivative,
                                   lambda: directions, side=lambda lhs, rhs: sp.Trace(rhs * Delta)))]
        self.mode_rhs = sp.factor(sp.cancel(to_scalar(sp.expand(self.rhs), {nt.K: nt.kappa, L: ell})))
        steps.append(Step("T8", "commuting reduction", "for K commuting with L each mode obeys dκ/dt = g(κ)",
                          self.rhs, self.mode_rhs, self._reduction_check(rng)))
        roots = sp.solve(self.mode_rhs, nt.kappa)
        self.fixed_points = tuple(sorted(roots, key=lambda r: 0 if r == 0 else 1))
        if len(self.fixed_points) != 2 or self.fixed_points[0] != 0:
            raise ValueError(f"expected the fixed points 0 and κ*, found {self.fixed_points}")
        self.kappa_star = self.fixed_points[1]
        g = self.mode_rhs
        steps.append(Step("T8", "fixed points", "g(κ) = 0 on κ ≥ 0", sp.Symbol("kappa_fixed"),
                          sp.FiniteSet(*self.fixed_points),
                          AllOf(SymbolicZero("g vanishes at each fixed point",
                                             lambda lhs, rhs: [g.subs(nt.kappa, r) for r in rhs.args]),
                                RootSet("every root of g on κ ≥ 0, at rational ℓ, μ, ε and β > ε(ℓ + μ)", g, nt.kappa,
                                        _fillable_parameters(rng)))))
        slope = sp.diff(self.mode_rhs, nt.kappa)
        self.slopes = (sp.simplify(slope.subs(nt.kappa, 0)), sp.factor(sp.simplify(slope.subs(nt.kappa, self.kappa_star))))
        solved = sp.solve(self.slopes[0] > 0, beta)
        self.threshold = sp.Gt(beta, sp.factor(solved.rhs))  # β > ε(ℓ + μ)
        steps.append(Step("T8", "threshold and stability",
                          "κ = 0 is unstable exactly when β > ε(ℓ + μ), where κ* > 0, and then g'(κ*) < 0",
                          sp.Gt(self.slopes[0], 0), self.threshold, self._signs_check()))
        self.steady_value = sp.Piecewise((self.kappa_star, self.threshold), (0, True))
        self.steps = tuple(steps)

    def _reduction_check(self, rng) -> Predicate:
        """The matrix flow (lhs) at exactly commuting rational K = V diag(κ) Vᵀ, L = V diag(ℓ) Vᵀ against
        V diag(g(κ_i, ℓ_i)) Vᵀ built from the mode law (rhs)."""
        cases = []
        for n in (3, 4):
            V = rational_orthogonal(rng, n)
            kappas = [rational(rng, positive=True) for _ in range(n)]
            ells = [rational(rng, positive=True) for _ in range(n)]
            cases.append((f"n={n}, rational orthogonal V", V, kappas, ells,
                          {nt.n: n, nt.K: sp.ImmutableMatrix(V * sp.diag(*kappas) * V.T),
                           L: sp.ImmutableMatrix(V * sp.diag(*ells) * V.T), nt.mu: rational(rng, positive=True),
                           beta: rational(rng, positive=True), eps: rational(rng, positive=True)}))

        def decide(lhs, rhs):
            trials = []
            for label, V, kappas, ells, values in cases:
                trials.append(label)
                scalars = {nt.mu: values[nt.mu], beta: values[beta], eps: values[eps]}
                modes = [rhs.subs({nt.kappa: a, ell: b, **scalars}) for a, b in zip(kappas, ells)]
                if sp.Matrix(evaluate(lhs, values)) != V * sp.diag(*modes) * V.T:
                    return False, trials, f"K̇ ≠ V diag(g(κ_i, ℓ_i)) Vᵀ at {label}"
            return True, trials, ""

        return Predicate("K̇(V diag κ Vᵀ) = V diag(g(κ_i, ℓ_i)) Vᵀ", decide, "exact evaluation")

    def _signs_check(self) -> Signs:
        """Above the rhs boundary (β = boundary·(1 + w)): g'(0) > 0, κ* > 0, g'(κ*) < 0; below it: g'(0) < 0, κ* < 0."""
        def conditions(lhs, rhs):
            w = sp.Symbol("w", positive=True)
            slope0, boundary = lhs.lhs, rhs.rhs
            above, below = {beta: boundary * (1 + w)}, {beta: boundary / (1 + w)}
            return [("g'(0) above", slope0.subs(above), "positive"), ("g'(0) below", slope0.subs(below), "negative"),
                    ("κ* above", self.kappa_star.subs(above), "positive"),
                    ("κ* below", self.kappa_star.subs(below), "negative"),
                    ("g'(κ*) above", self.slopes[1].subs(above), "negative")]

        return Signs("signs of g'(0), κ* and g'(κ*) on both sides of the boundary", conditions,
                     "β = boundary·(1+w)^±1, w > 0")


@lru_cache(maxsize=None)
def derive_ssl_filter() -> SSLFilter:
    """T8 spectral filter law, certified and cached."""
    return SSLFilter()
