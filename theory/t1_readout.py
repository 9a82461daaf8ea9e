"""T1 — readout elimination: solve stationarity in W, push Φᵀ through the inverse, reduce to K.

For a loss whose output gradient is affine in f, g = c·f + d·y (squared loss: c = 1, d = −1),
stationarity in W is linear, W(cΦΦᵀ + λI_m) = −dYΦᵀ, and the push-through identity
Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cΦᵀΦ + λI_n)⁻¹Φᵀ turns everything into a function of K = ΦᵀΦ:

    W* = −dY(cK + λI)⁻¹Φᵀ,   F* = W*Φ,   G* = dλ·Y(cK + λI)⁻¹,
    min_W L = tr(Y q(K) Yᵀ) + (μ/2) tr K        (squared loss: q(K) = (λ/2)(K + λI)⁻¹).

Each line is produced by SymPy from the loss and certified on exact rational instances, against
an independent exact solution of the entrywise stationarity equations where one exists.

>>> from theory.losses import squared
>>> t1 = derive_readout(squared(2))
>>> t1.G_star
(-lambda)*Y*(lambda*I + K)**(-1)
>>> t1.certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import (
    AgainstTruth,
    Derivation,
    Identity,
    Step,
    SymbolicZero,
    instances_at,
    rational_matrix,
)
from theory.gradients import (
    derive_gradients,
    exact_optimal_readout,
    objective,
    output_gradients,
)
from theory.losses import Loss
from theory.matrix_algebra import (
    coefficients,
    contract,
    from_scalar,
    split_right_linear,
    to_scalar,
)


class ReadoutNotEliminable(ValueError):
    """The loss's gradient is not affine in f, so stationarity in W has no closed form (use T5)."""


def certification_sizes(C: int):
    """Square, wide and tall Φ with C outputs: the sizes at which T1/T2 identities are certified."""
    return ({nt.n: 3, nt.m: 3, nt.C: C}, {nt.n: 4, nt.m: 2, nt.C: C}, {nt.n: 2, nt.m: 4, nt.C: C})


def matrix_function_of_K(expr, variable=nt.kappa):
    """Simplify an expression that is a rational function of K alone, as a scalar function."""
    return from_scalar(sp.factor(sp.cancel(to_scalar(expr, {nt.K: variable}))), variable, nt.K, nt.I_n)


class ReadoutElimination(Derivation):
    """T1 for one loss whose gradient is affine in f, ∇_f ℓ = c·f + d·y (built by :func:`derive_readout`).

    The steps solve ∂L/∂W = 0 for the readout and substitute it back: ``W_star`` = Y(K + λI)⁻¹Φᵀ, ``F_star`` = W*Φ,
    ``G_star`` = −λY(K + λI)⁻¹ and ``reduced_objective`` min_W L (squared loss: (λ/2)tr(Y(K + λI)⁻¹Yᵀ) + (μ/2)tr K);
    ``c`` and ``d`` are the coefficients of the affine gradient. A loss with a non-affine gradient raises
    :class:`ReadoutNotEliminable`."""

    claim = "T1"

    def __init__(self, loss: Loss, seed: int = 0):
        affine = loss.affine_gradient()
        if affine is None:
            raise ReadoutNotEliminable(
                f"readout elimination (T1) needs ∇_f ℓ = c·f + d·y; the {loss.name} loss's gradient is not "
                "affine in f, so use the coupled flow (T5) instead")
        self.loss, (c, d) = loss, affine
        self.c, self.d = c, d
        sizes = certification_sizes(loss.C)
        grads = derive_gradients(loss)
        steps = list(grads.steps)
        steps.append(Step("T1", "affine gradient", "the derived gradient is affine: G = cF + dY",
                          nt.G, c * nt.F + d * nt.Y, self._affine_check(seed)))

        # stationarity: ∂L/∂W = GΦᵀ + λW with G = cWΦ + dY, written as W·A + B
        gradient_W = grads.readout_gradient.xreplace({nt.G: c * nt.W * nt.Phi + d * nt.Y})
        A, B = split_right_linear(gradient_W, nt.W, nt.I_m)
        steps.append(Step("T1", "stationarity in W", "∂L/∂W = 0 is linear in W: W·A + B = 0",
                          gradient_W, nt.W * A + B, Identity("∂L/∂W = W·A + B", sizes=sizes, seed=seed)))
        W_solved = -B * A.I
        steps.append(Step("T1", "optimal readout", "W* = −B·A⁻¹ solves it", nt.W, W_solved,
                          AgainstTruth("W* = exact solution of the entrywise equations ∂L/∂w_ij = 0",
                                       lambda v: exact_optimal_readout(loss, v[nt.Phi], v[nt.Y], v[nt.lam]),
                                       lambda: instances_at(sizes, seed))))

        # push-through: Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cΦᵀΦ + λI_n)⁻¹Φᵀ, and ΦᵀΦ = K
        a = coefficients(A, {"gram": nt.Phi * nt.Phi.T, "ridge": nt.I_m})
        b_coeff, b_mats = B.as_coeff_mmul()
        b_factors = list(b_mats.args) if isinstance(b_mats, sp.MatMul) else [b_mats]
        if b_factors[-1] != nt.Phi.T:
            raise ReadoutNotEliminable(f"stationarity right-hand side {B} does not end in Φᵀ")
        resolvent = (a["gram"] * nt.K + a["ridge"] * nt.I_n).I
        self.W_star = -b_coeff * sp.MatMul(*b_factors[:-1], resolvent, nt.Phi.T).doit()
        steps.append(Step("T1", "push-through", "Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cK + λI_n)⁻¹Φᵀ with K = ΦᵀΦ",
                          W_solved, self.W_star, Identity("push-through", sizes=sizes, seed=seed + 1)))

        self.F_star = contract(sp.expand(self.W_star * nt.Phi), (nt.Phi.T, nt.Phi), nt.K)
        steps.append(Step("T1", "optimal outputs", "F* = W*Φ depends on Φ only through K",
                          self.W_star * nt.Phi, self.F_star, Identity("F* = W*Φ", sizes=sizes, seed=seed + 2)))

        G_raw = c * self.F_star + d * nt.Y
        right, rest = split_right_linear(G_raw, nt.Y, nt.I_n)
        if rest != sp.ZeroMatrix(*G_raw.shape):
            raise ReadoutNotEliminable(f"G* is not of the form Y·r(K): remainder {rest}")
        self.G_star = (nt.Y * matrix_function_of_K(right)).doit()
        steps.append(Step("T1", "optimal output gradient",
                          "G* = cF* + dY = Y·r(K), r simplified as a scalar function of κ", G_raw, self.G_star,
                          Identity("G* simplification", sizes=sizes, seed=seed + 3)))
        steps.extend(self._reduced_objective(B, b_coeff, a, sizes, seed))
        self.steps = tuple(steps)

    def _affine_check(self, seed):
        """cF + dY on random rational F, Y against G evaluated column by column from the derived ∇_f ℓ."""
        rng = random.Random(seed)
        cases = []
        for n in (2, 3, 5):
            F, Y = rational_matrix(rng, self.loss.C, n), rational_matrix(rng, self.loss.C, n)
            cases.append((f"n={n}, C={self.loss.C}", {nt.n: n, nt.C: self.loss.C, nt.F: F, nt.Y: Y}))
        return AgainstTruth("columns ∇_f ℓ(f_i, y_i) = c f_i + d y_i",
                            lambda v: output_gradients(self.loss, v[nt.F], v[nt.Y]), lambda: cases)

    def _reduced_objective(self, B, b_coeff, a, sizes, seed):
        """min_W L for ℓ = h(y) + d f·y + (c/2)|f|², when h(y) = (e/2)|y|² (then it is a trace in K)."""
        loss, c, d = self.loss, self.c, self.d
        f, y = sp.Matrix(loss.f), sp.Matrix(loss.y)
        h = loss.value([0] * loss.C, list(loss.y))
        e = sp.diff(h, loss.y[0], 2)
        taylor = h + d * (f.T * y)[0] + c / 2 * (f.T * f)[0]
        quadratic_h = not e.free_symbols and sp.simplify(h - e / 2 * (y.T * y)[0]) == 0
        if not quadratic_h:
            return []
        # the minimum of ½tr(WAWᵀ) + tr(WBᵀ)-type quadratics: −½ tr(B A⁻¹ Bᵀ); Bᵀ = b·ΦYᵀ, and
        # Φᵀ(cΦΦᵀ + λI)⁻¹Φ = (cK + λI)⁻¹K by push-through
        inner = sp.Rational(1, 2) * e * nt.I_n - b_coeff**2 / 2 * (a["gram"] * nt.K + a["ridge"] * nt.I_n).I * nt.K
        q = matrix_function_of_K(inner)
        self.reduced_objective = sp.Trace(nt.Y * q * nt.Y.T) + nt.mu / 2 * sp.Trace(nt.K)
        return [
            Step("T1", "quadratic loss", "ℓ(f, y) = (e/2)|y|² + d f·y + (c/2)|f|² (gradient affine, h quadratic)",
                 loss.expr, taylor, SymbolicZero("ℓ − Taylor form = 0")),
            Step("T1", "reduced objective", "min_W L = tr(Y q(K) Yᵀ) + (μ/2) tr K",
                 sp.Symbol("min_W L"), self.reduced_objective,
                 AgainstTruth("reduced objective = L(W*, Φ) with W* solved exactly",
                              lambda v: objective(loss, exact_optimal_readout(loss, v[nt.Phi], v[nt.Y], v[nt.lam]),
                                                  v[nt.Phi], v[nt.Y], v[nt.lam], v[nt.mu]),
                              lambda: instances_at(sizes, seed + 4))),
        ]


@lru_cache(maxsize=None)
def derive_readout(loss: Loss) -> ReadoutElimination:
    """T1 for ``loss`` (certified, cached per loss). Raises ReadoutNotEliminable for non-affine gradients."""
    with limits.time_limit(f"derive_readout({loss.name})"):
        return ReadoutElimination(loss)
