"""Output gradient and the chain rule through the linear readout, derived from the loss.

The objective of the setting (docs/theory.md#setting), written entry by entry from the per-sample loss,

    L(W, Φ) = Σ_i ℓ(W φ_i, y_i) + (λ/2)‖W‖² + (μ/2)‖Φ‖²,

is differentiated by SymPy's scalar ``diff`` (never ``MatrixSymbol.diff``); the matrix forms
∂L/∂W = GΦᵀ + λW and ∂L/∂Φ = WᵀG + μΦ are then certified against those entrywise derivatives.

>>> from theory.losses import squared
>>> d = derive_gradients(squared(2))
>>> [s.name for s in d.steps]
['output gradient', 'readout gradient', 'feature gradient']
>>> d.certified
True
"""
from __future__ import annotations

import random
from fractions import Fraction
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import AgainstTruth, Derivation, Step, rational, rational_matrix
from theory.losses import Loss


def objective(loss: Loss, W: sp.Matrix, Phi: sp.Matrix, Y: sp.Matrix, lam, mu) -> sp.Expr:
    """L(W, Φ) = Σ_i ℓ(W φ_i, y_i) + (λ/2)‖W‖² + (μ/2)‖Φ‖² for explicit matrices (entries may be symbols)."""
    lam, mu = sp.sympify(lam), sp.sympify(mu)  # a Python int must not turn λ/2 into a float
    F = W * Phi
    data = sum(loss.value(F[:, i], Y[:, i]) for i in range(Phi.shape[1]))
    return data + lam / 2 * sum(w**2 for w in W) + mu / 2 * sum(p**2 for p in Phi)


def output_gradients(loss: Loss, F: sp.Matrix, Y: sp.Matrix) -> sp.ImmutableMatrix:
    """G (C × n): column i is ∇_f ℓ(f_i, y_i), from the derived gradient."""
    g = loss.gradient()
    columns = [g.xreplace(dict(zip(loss.f, F[:, i])) | dict(zip(loss.y, Y[:, i]))) for i in range(F.shape[1])]
    return sp.ImmutableMatrix.hstack(*columns)


def symbolic_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows × cols matrix of real symbols name_i_j (real: so that |x| and max differentiate to sign and Heaviside)."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def gradient_in(L: sp.Expr, variables) -> list:
    """[∂L/∂x for x in variables] by scalar differentiation (on a Poly when L is polynomial: faster)."""
    variables = list(variables)
    if L.is_polynomial(*variables):
        P = sp.Poly(L, *variables)
        return [P.diff(x).as_expr() for x in variables]
    return [sp.diff(L, x) for x in variables]


def _rational_polynomial_node(node) -> bool:
    """A node of a polynomial program over Q: a sum, a product, an integer power, a symbol or a rational."""
    return (isinstance(node, (sp.Add, sp.Mul, sp.Symbol, sp.Rational))
            or (isinstance(node, sp.Pow) and node.exp.is_Integer))


def forward_gradient(L: sp.Expr, variables, point: dict) -> list | None:
    """[∂L/∂x at ``point`` for x in variables] by forward differentiation of L's expression tree over exact
    fractions — each node carries its value and its gradient, (uv)' = u'v + uv', (u^k)' = k u^(k−1) u', shared
    subtrees evaluated once — or None unless L is a polynomial with rational coefficients at a rational point.
    No expression is built, so it costs one pass over the tree (times the number of variables)."""
    values = {x: sp.sympify(point[x]) for x in variables}
    if not all(v.is_Rational for v in values.values()) or not all(
            _rational_polynomial_node(e) for e in sp.preorder_traversal(L)):
        return None
    index = {x: i for i, x in enumerate(variables)}
    k = len(variables)
    memo = {}

    def ev(node):  # (value, gradient list or None for a constant)
        found = memo.get(node)
        if found is not None:
            return found
        if node.is_Symbol:
            if node not in index:
                raise ValueError(f"{node} has no value in the point")
            value = values[node]
            gradient = [0] * k
            gradient[index[node]] = 1
            out = (Fraction(int(value.p), int(value.q)), gradient)
        elif node.is_Rational:
            out = (Fraction(int(node.p), int(node.q)), None)
        elif node.is_Add:
            parts = [ev(a) for a in node.args]
            slopes = [p[1] for p in parts if p[1] is not None]
            out = (sum(p[0] for p in parts), [sum(c) for c in zip(*slopes)] if slopes else None)
        elif node.is_Mul:
            value, gradient = Fraction(1), None
            for part_value, part_gradient in (ev(a) for a in node.args):
                if gradient is not None or part_gradient is not None:
                    gradient = [u * part_value + value * w for u, w in
                                zip(gradient or [0] * k, part_gradient or [0] * k)]
                value = value * part_value
            out = (value, gradient)
        else:  # an integer power
            base_value, base_gradient = ev(node.base)
            e = int(node.exp)
            out = (base_value ** e,
                   None if base_gradient is None else [e * base_value ** (e - 1) * w for w in base_gradient])
        memo[node] = out
        return out

    gradient = ev(sp.sympify(L))[1] or [0] * k
    return [sp.Rational(g.numerator, g.denominator) if isinstance(g, Fraction) else sp.Integer(g) for g in gradient]


def gradient_at(L: sp.Expr, variables, point: dict) -> list:
    """[∂L/∂x at ``point`` for x in variables], exactly. A polynomial L with rational coefficients at a rational
    point is differentiated forward on its expression tree (:func:`forward_gradient`); another polynomial one variable at a time,
    each derivative taken of the one-variable polynomial left when every other variable is set to its value, so
    nothing multivariate is ever expanded (a loss of degree 8 in a dozen entries would expand to thousands of
    terms)."""
    variables = list(variables)
    if not L.is_polynomial(*variables):  # transcendental: differentiate symbolically, then evaluate once
        return [d.xreplace(point) for d in (sp.diff(L, x) for x in variables)]
    exact = forward_gradient(L, variables, point)
    if exact is not None:
        return exact
    out = []
    for x in variables:
        others = {v: point[v] for v in variables if v is not x}
        out.append(sp.diff(L.xreplace(others), x).xreplace({x: point[x]}))
    return out


def entrywise_gradient(loss: Loss, which: str, W: sp.Matrix, Phi: sp.Matrix, Y: sp.Matrix, lam, mu):
    """∂L/∂W or ∂L/∂Φ (``which`` = "W" or "Phi") by scalar differentiation of the objective."""
    if which not in ("W", "Phi"):
        raise ValueError(f"which must be 'W' or 'Phi', got {which!r}")
    target = W if which == "W" else Phi
    free = symbolic_matrix("x", *target.shape)
    L = objective(loss, free if which == "W" else W, free if which == "Phi" else Phi, Y, lam, mu)
    return sp.ImmutableMatrix(*free.shape, gradient_at(L, free, dict(zip(free, target))))


def exact_optimal_readout(loss: Loss, Phi: sp.Matrix, Y: sp.Matrix, lam) -> sp.ImmutableMatrix:
    """W* solving the entrywise stationarity equations ∂L/∂W = 0 exactly.

    Needs a gradient affine in f (the equations are then linear); independent of the matrix
    formulas of T1, which is why the certificates use it.
    """
    Wsym = symbolic_matrix("w", loss.C, Phi.shape[0])
    L = objective(loss, Wsym, Phi, Y, lam, 0)
    equations = gradient_in(L, Wsym)
    solution = sp.linsolve(equations, list(Wsym))
    if not solution:
        raise ValueError("stationarity in W has no solution")
    (values,) = solution
    return sp.ImmutableMatrix(loss.C, Phi.shape[0], list(values))


def finite_difference_gradient(loss: Loss, f, y, h=sp.Rational(1, 10**40)) -> sp.Matrix:
    """Central differences of ℓ at 120 digits: an independent check of SymPy's ``diff``.

    Error h²·|∂³ℓ|/6 ≈ 1e-80·|∂³ℓ|, far below the 60-digit comparison (1e-50) even for steep losses."""
    out = []
    for k in range(loss.C):
        up, down = list(f), list(f)
        up[k] += h
        down[k] -= h
        difference = (loss.value(up, y) - loss.value(down, y)) / (2 * h)
        out.append(sp.N(limits.check_evaluable(difference, "central differences of the loss"), 120))
    return sp.Matrix(out)


def _branch(piecewise: sp.Piecewise, point: dict) -> int:
    for k, (_, cond) in enumerate(piecewise.args):
        if bool(cond.xreplace(point)):
            return k
    return -1


def same_branches(loss: Loss, f, y, h=sp.Rational(1, 10**20)) -> bool:
    """True when every Piecewise of ℓ takes the same branch throughout the central-difference stencil."""
    pieces = list(loss.expr.atoms(sp.Piecewise))
    if not pieces:
        return True
    base = dict(zip(loss.f, f)) | dict(zip(loss.y, y))
    for k in range(loss.C):
        for sign in (1, -1):
            moved = dict(base)
            moved[loss.f[k]] = f[k] + sign * h
            if any(_branch(p, moved) != _branch(p, base) for p in pieces):
                return False
    return True


def chain_rule_instances(loss: Loss, seed: int, sizes=((3, 2), (2, 3))):
    """[(label, values)]: random rational W, Φ, Y, λ, μ and G = [∇_f ℓ(f_i, y_i)] at F = WΦ (the output
    gradient, certified in its own step), for checks of matrix forms of the chain rule."""
    rng = random.Random(seed)
    out = []
    for n, m in sizes:
        W, Phi = rational_matrix(rng, loss.C, m), rational_matrix(rng, m, n)
        Y = rational_matrix(rng, loss.C, n)
        values = {nt.n: n, nt.m: m, nt.C: loss.C, nt.W: W, nt.Phi: Phi, nt.Y: Y,
                  nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True)}
        values[nt.G] = output_gradients(loss, W * Phi, Y)
        values[nt.F] = sp.ImmutableMatrix(W * Phi)
        out.append((f"n={n}, m={m}, C={loss.C}", values))
    return out


def entrywise_truth(loss: Loss, which: str):
    """values → ∂L/∂W or ∂L/∂Φ by scalar differentiation of the objective (ground truth for matrix forms)."""
    return lambda v: entrywise_gradient(loss, which, v[nt.W], v[nt.Phi], v[nt.Y], v[nt.lam], v[nt.mu])


class GradientDerivation(Derivation):
    """The certified output gradient G = ∂ℓ/∂F of one loss and the chain rule through F = WΦ (built by
    :func:`derive_gradients`).

    Its steps derive g(f, y) = ∇_f ℓ by scalar differentiation (checked against 120-digit central differences of ℓ)
    and the matrix forms ``readout_gradient`` ∂L/∂W = GΦᵀ + λW and ``feature_gradient`` ∂L/∂Φ = WᵀG + μΦ (checked
    against entrywise derivatives of L); ``loss`` is the loss it was derived for."""

    claim = "T1"

    def __init__(self, loss: Loss, seed: int = 0):
        self.loss = loss
        g = loss.gradient()
        rng = random.Random(seed)
        points = []
        while len(points) < 3:
            f, y = [rational(rng) for _ in range(loss.C)], [rational(rng) for _ in range(loss.C)]
            if same_branches(loss, f, y):  # central differences across a kink are only O(h)
                points.append((f"f={f}, y={y}", dict(zip(loss.f, f)) | dict(zip(loss.y, y))))
        differences = AgainstTruth(
            "∇_f ℓ against 120-digit central differences of ℓ (h = 1e-40)",
            lambda v: finite_difference_gradient(loss, [v[x] for x in loss.f], [v[x] for x in loss.y]),
            lambda: points, method="120-digit central differences (error O(h²) = 1e-80)")
        dLdW = sp.MatrixSymbol("dL/dW", nt.C, nt.m)
        dLdPhi = sp.MatrixSymbol("dL/dPhi", nt.m, nt.n)
        self.readout_gradient = nt.G * nt.Phi.T + nt.lam * nt.W
        self.feature_gradient = nt.W.T * nt.G + nt.mu * nt.Phi
        self.steps = (
            Step("T1", "output gradient", "g(f, y) = ∇_f ℓ by scalar differentiation of the loss",
                 sp.MatrixSymbol("g", loss.C, 1), g, differences),
            Step("T1", "readout gradient", "chain rule through F = WΦ: ∂L/∂W = GΦᵀ + λW",
                 dLdW, self.readout_gradient, self.chain_rule_check("W", seed)),
            Step("T1", "feature gradient", "chain rule through F = WΦ: ∂L/∂Φ = WᵀG + μΦ",
                 dLdPhi, self.feature_gradient, self.chain_rule_check("Phi", seed + 1)),
        )

    def chain_rule_check(self, which: str, seed: int) -> AgainstTruth:
        """The matrix form against the entrywise derivative of L (G evaluated from the loss at F = WΦ)."""
        return AgainstTruth(f"∂L/∂{which} (matrix form) = entrywise derivative of L", entrywise_truth(self.loss, which),
                            lambda: chain_rule_instances(self.loss, seed))


@lru_cache(maxsize=None)
def derive_gradients(loss: Loss) -> GradientDerivation:
    """Output gradient and chain rule for ``loss``, certified; cached per loss."""
    with limits.time_limit(f"derive_gradients({loss.name})"):
        return GradientDerivation(loss)
