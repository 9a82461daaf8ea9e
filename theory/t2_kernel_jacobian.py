"""T2 — the Jacobian of the kernel ODE, its factored form, the shifted solve it allows, and the objective.

The directional derivative of F(K) = K·D + D·K − 2μK along a symmetric E, taken by the rules of matrix
calculus on the derived right-hand side (:func:`theory.matrix_algebra.directional_derivative`), is with
R = (K + λI)⁻¹, Z = R Yᵀ (n × C), D = λ Z Zᵀ, X = R E Z and Ẑ = (λI − K) Z (both n × C):

    J[E] = −2μE + λ(X Ẑᵀ + Ẑ Xᵀ),

−2μ times the identity plus an operator whose image lies in {AẐᵀ + ẐAᵀ : A n × C}. A shifted solve
(σ − J)δ = F (F symmetric) therefore needs only n × C unknowns: for every X,

    δ(X) = (F + λ(XẐᵀ + ẐXᵀ))/(σ + 2μ)   gives   (σ − J)δ(X) − F = λ(ΔẐᵀ + ẐΔᵀ),  Δ = X − R δ(X) Z,

so δ(X) solves the shifted system once X solves the n × C linear equation
(σ + 2μ)X − λR(XẐᵀ + ẐXᵀ)Z = R F Z.

The flow is the gradient flow of the objective at the optimal readout, L(K) = (λ/2)tr(S R) + (μ/2)tr K:
∇L = (μI − D)/2 and F(K) = −2(K∇L + ∇L K); its second directional derivative λ·tr(Y R E R E R Yᵀ) is
a Gram trace, ≥ 0 for K ⪰ 0, so L is convex on the PSD cone and K ⪰ 0 minimises it iff (KKT)

    (D − μI)K = 0   and   D ⪯ μI,

a certificate of the water-filled steady state that needs no integration.

>>> jac = derive_kernel_jacobian(2)
>>> jac.certified
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
    Identity,
    Step,
    evaluate,
    lifted_derivative,
    rational_matrix,
    standard_instance,
)
from theory.losses import squared
from theory.matrix_algebra import directional_derivative
from theory.t2_kernel_ode import derive_kernel_ode

#: a symmetric direction of change of K, the right-hand side of a shifted solve, and its n × C unknown
E = sp.MatrixSymbol("E", nt.n, nt.n)
F = sp.MatrixSymbol("F", nt.n, nt.n)
X = sp.MatrixSymbol("X", nt.n, nt.C)
sigma = sp.Symbol("sigma", positive=True)
J_E = sp.MatrixSymbol("J[E]", nt.n, nt.n)
dL = sp.Symbol("dL(K)[E]")

#: R = (K + λI)⁻¹, Z = R Yᵀ and Ẑ = (λI − K) Z as expressions in the setting's symbols
R = (nt.K + nt.lam * nt.I_n).I
Z = R * nt.Y.T
Z_hat = (nt.lam * nt.I_n - nt.K) * Z
OBJECTIVE = nt.lam / 2 * sp.Trace(nt.S * R) + nt.mu / 2 * sp.Trace(nt.K)
#: sizes of the certificates: C < n, C = n − 1 and C > n (labels of any rank)
SIZES = ({nt.n: 3, nt.m: 3, nt.C: 1}, {nt.n: 3, nt.m: 2, nt.C: 2}, {nt.n: 2, nt.m: 2, nt.C: 3})


#: K, E and F are symmetric: their transposes are themselves (the displayed forms say so)
SYMMETRIC = {nt.K.T: nt.K, E.T: E, F.T: F}


def _tidy(expr):
    return expr.doit().xreplace(SYMMETRIC)


def factored(direction) -> sp.MatrixExpr:
    """−2μE + λ(XẐᵀ + ẐXᵀ) with X = R·direction·Z."""
    Xd = R * direction * Z
    return _tidy(-2 * nt.mu * direction + nt.lam * (Xd * Z_hat.T + Z_hat * Xd.T))


def _sample(rng: random.Random, dims) -> dict:
    """The setting's instance (K = ΦᵀΦ ⪰ 0, S = YᵀY) plus symmetric rational E and F, any n × C X and σ > 0."""
    values = standard_instance(rng, dims)
    n, C = values[nt.n], values[nt.C]
    for symbol in (E, F):
        A = rational_matrix(rng, n, n)
        values[symbol] = sp.ImmutableMatrix(A + A.T)
    values[X] = rational_matrix(rng, n, C)
    values[sigma] = sp.Rational(rng.randint(1, 9), rng.randint(1, 9))
    return values


def _along(expr, values, direction):
    """d/dt expr(K + t·direction) at t = 0 on explicit matrices, by SymPy's scalar diff (the ground truth)."""
    t = sp.Symbol("t")
    moved = dict(values)
    moved[nt.K] = sp.ImmutableMatrix(values[nt.K] + t * values[direction])
    value = evaluate(expr, moved)
    value = value.applyfunc(lambda e: sp.diff(e, t)) if isinstance(value, sp.MatrixBase) else sp.diff(value, t)
    return value.subs(t, 0) if not isinstance(value, sp.MatrixBase) else sp.ImmutableMatrix(value.subs(t, 0))


class KernelJacobian(Derivation):
    """T2 continued for the squared loss with C outputs (built by :func:`derive_kernel_jacobian`).

    The kernel ODE's steps (``ode``), then the Jacobian of its right-hand side F: ``directional`` J[E] = d/dt F(K +
    tE) at t = 0 (checked by exact arithmetic in Q[ε]/(ε²)), ``jacobian`` its factored form −2μE + λ(XẐᵀ + ẐXᵀ),
    ``shifted_candidate`` δ(X) and ``reduced_operator`` the n × C equation that solves (σ − J)δ = F, and ``gradient``
    (μI − D)/2, the gradient of the convex objective the flow descends."""

    claim = "T2"

    def __init__(self, C: int, seed: int = 0):
        ode = derive_kernel_ode(squared(C))
        self.ode = ode
        steps = list(ode.steps)
        rhs = ode.rhs

        def cases(offset):
            rng = random.Random(seed + offset)
            return [(", ".join(f"{k}={v}" for k, v in d.items()), _sample(rng, d)) for d in SIZES]

        self.directional = directional_derivative(rhs, nt.K, E)
        steps.append(Step("T2", "Jacobian", "J[E] = d/dt F(K + tE) at t = 0, by the product and inverse rules of "
                          "matrix calculus on the derived right-hand side", J_E, self.directional,
                          AgainstTruth("J[E] = d/dt F(K + tE) at t = 0, F evaluated exactly on the block matrices "
                                       "[[K, E], [0, K]] (arithmetic in Q[ε]/(ε²))", lambda v: lifted_derivative(rhs, v, nt.K, E),
                                       lambda: cases(1))))

        self.jacobian = factored(E)
        steps.append(Step("T2", "factored Jacobian",
                          "with KR = I − λR: J[E] = −2μE + λ(XẐᵀ + ẐXᵀ), X = R E Z, Ẑ = (λI − K)Z, Z = R Yᵀ (n × C)",
                          self.directional, self.jacobian,
                          Identity("the rule-based J[E] equals the factored form for symmetric E", sizes=SIZES,
                                   sample=_sample, seed=seed + 2)))

        delta = (F + nt.lam * (X * Z_hat.T + Z_hat * X.T)) / (sigma + 2 * nt.mu)
        self.shifted_candidate = delta
        residual = sigma * delta - factored(delta) - F
        gap = X - R * delta * Z
        steps.append(Step("T2", "shifted solve",
                          "δ(X) = (F + λ(XẐᵀ + ẐXᵀ))/(σ + 2μ) leaves (σ − J)δ(X) − F = λ(ΔẐᵀ + ẐΔᵀ), Δ = X − Rδ(X)Z: "
                          "δ(X) solves the shifted system once X solves an n × C linear equation",
                          _tidy(residual), _tidy(nt.lam * (gap * Z_hat.T + Z_hat * gap.T)),
                          Identity("(σ − J)δ(X) − F = λ(ΔẐᵀ + ẐΔᵀ) for every X and symmetric F", sizes=SIZES,
                                   sample=_sample, seed=seed + 3)))

        self.reduced_operator = _tidy((sigma + 2 * nt.mu) * X - nt.lam * R * (X * Z_hat.T + Z_hat * X.T) * Z)
        steps.append(Step("T2", "reduced equation", "X = Rδ(X)Z ⟺ (σ + 2μ)X − λR(XẐᵀ + ẐXᵀ)Z = R F Z (n × C unknowns)",
                          (sigma + 2 * nt.mu) * gap, self.reduced_operator - R * F * Z,
                          Identity("(σ + 2μ)(X − Rδ(X)Z) = (σ + 2μ)X − λR(XẐᵀ + ẐXᵀ)Z − RFZ", sizes=SIZES,
                                   sample=_sample, seed=seed + 4)))

        self.gradient = (nt.mu * nt.I_n - ode.drive) / 2
        steps.append(Step("T2", "objective gradient",
                          "L(K) = (λ/2)tr(S R) + (μ/2)tr K (the objective at the optimal readout) has "
                          "d/dt L(K + tE) = tr(∇L E) with ∇L = (μI − D)/2",
                          dL, sp.Trace(self.gradient * E),
                          AgainstTruth("d/dt L(K + tE) at t = 0 by SymPy, L evaluated on explicit matrices",
                                       lambda v: _along(OBJECTIVE, v, E), lambda: cases(5))))

        steps.append(Step("T2", "gradient flow", "F(K) = −2(K∇L + ∇L K): the kernel ODE descends L",
                          ode.rhs, -2 * (nt.K * self.gradient + self.gradient * nt.K),
                          Identity("K·D + D·K − 2μK = −2(K∇L + ∇L K)", sizes=SIZES, sample=_sample, seed=seed + 6)))

        curvature = directional_derivative(directional_derivative(OBJECTIVE, nt.K, E), nt.K, E)
        steps.append(Step("T2", "convexity",
                          "d²/dt² L(K + tE) = λ tr(Y R E R E R Yᵀ), a Gram trace (≥ 0 for K ⪰ 0): L is convex on "
                          "the PSD cone, so (D − μI)K = 0 with D ⪯ μI certifies the global minimiser",
                          curvature, nt.lam * sp.Trace(nt.Y * R * E * R * E * R * nt.Y.T),
                          AllOf(AgainstTruth("the Gram trace = d²/dt² L(K + tE) by SymPy, L on explicit matrices",
                                             _second_derivative, lambda: cases(7)),
                                Identity("the rule-based second derivative = the Gram trace", sizes=SIZES,
                                         sample=_sample, seed=seed + 8))))
        self.steps = tuple(steps)


def _second_derivative(values):
    """d²/dt² L(K + tE) at t = 0 exactly, by the same block arithmetic as :func:`theory.certify.lifted_derivative` one order
    higher: K becomes [[K, E, 0], [0, K, E], [0, 0, K]] (every other matrix M block-diagonal [M, M, M]), which is
    arithmetic in Q[ε]/(ε³), so a matrix function's top-right block is half its second derivative along E;
    each trace in L is replaced by twice the trace of that block."""
    n, C = values[nt.n], values[nt.C]
    lifted = {key: value for key, value in values.items() if not isinstance(key, sp.MatrixSymbol)}
    lifted[nt.n], lifted[nt.C] = 3 * n, 3 * C
    for key, value in values.items():
        if not isinstance(key, sp.MatrixSymbol) or key in (E, F, X):
            continue
        value = sp.Matrix(value)
        zero = sp.zeros(*value.shape)
        step = values[E] if key == nt.K else zero
        lifted[key] = sp.ImmutableMatrix(sp.BlockMatrix([[value, step, zero], [zero, value, step],
                                                         [zero, zero, value]]).as_explicit())
    traces = {}
    for trace in OBJECTIVE.atoms(sp.Trace):
        block = sp.Matrix(evaluate(trace.arg, lifted))
        rows, cols = block.rows // 3, block.cols // 3
        traces[trace] = 2 * block[:rows, 2 * cols:].trace()
    return evaluate(OBJECTIVE.xreplace(traces), values)


@lru_cache(maxsize=None)
def derive_kernel_jacobian(C: int = 2) -> KernelJacobian:
    """T2 continued (squared loss, C outputs): the kernel ODE's steps, then its Jacobian, the factored form,
    the reduced shifted solve, and the convex objective it descends (module docstring)."""
    if not isinstance(C, int) or isinstance(C, bool) or C < 1:
        raise ValueError(f"C must be an int >= 1, got {C!r}")
    with limits.time_limit(f"derive_kernel_jacobian({C})"):
        return KernelJacobian(C)
