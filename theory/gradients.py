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


def gradient_at(L: sp.Expr, variables, point: dict) -> list:
    """[∂L/∂x at ``point`` for x in variables], exactly. For a polynomial L each derivative is taken of the
    one-variable polynomial left when every other variable is set to its value, so nothing multivariate is
    ever expanded (a loss of degree 8 in a dozen entries would expand to thousands of terms)."""
    variables = list(variables)
    if not L.is_polynomial(*variables):  # transcendental: differentiate symbolically, then evaluate once
        return [d.xreplace(point) for d in (sp.diff(L, x) for x in variables)]
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
