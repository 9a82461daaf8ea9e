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

from theory import notation as nt
from theory.certify import (Derivation, Step, certify_identity, certify_symbolic, certify_values, evaluate,
                            rational_matrix, standard_instance)
from theory.gradients import derive_gradients, exact_optimal_readout, objective, output_gradients
from theory.losses import Loss
from theory.matrix_algebra import coefficients, contract, from_scalar, split_right_linear, to_scalar


class ReadoutNotEliminable(ValueError):
    """The loss's gradient is not affine in f, so stationarity in W has no closed form (use T5)."""


def _sizes(C: int):
    return ({nt.n: 3, nt.m: 3, nt.C: C}, {nt.n: 4, nt.m: 2, nt.C: C}, {nt.n: 2, nt.m: 4, nt.C: C})


def matrix_function_of_K(expr, variable=nt.kappa):
    """Simplify an expression that is a rational function of K alone, as a scalar function."""
    return from_scalar(sp.factor(sp.cancel(to_scalar(expr, {nt.K: variable}))), variable, nt.K, nt.I_n)


class ReadoutElimination(Derivation):
    claim = "T1"

    def __init__(self, loss: Loss, seed: int = 0):
        affine = loss.affine_gradient()
        if affine is None:
            raise ReadoutNotEliminable(
                f"readout elimination (T1) needs ∇_f ℓ = c·f + d·y; the {loss.name} loss's gradient is not "
                "affine in f, so use the coupled flow (T5) instead")
        self.loss, (c, d) = loss, affine
        self.c, self.d = c, d
        sizes = _sizes(loss.C)
        grads = derive_gradients(loss)
        steps = list(grads.steps)
        steps.append(Step("T1", "affine gradient", "the derived gradient is affine: G = cF + dY",
                          nt.G, c * sp.MatrixSymbol("F", nt.C, nt.n) + d * nt.Y,
                          self._certify_affine(c, d, seed)))

        # stationarity: ∂L/∂W = GΦᵀ + λW with G = cWΦ + dY, written as W·A + B
        gradient_W = grads.readout_gradient.xreplace({nt.G: c * nt.W * nt.Phi + d * nt.Y})
        A, B = split_right_linear(gradient_W, nt.W, nt.I_m)
        steps.append(Step("T1", "stationarity in W", "∂L/∂W = 0 is linear in W: W·A + B = 0",
                          gradient_W, nt.W * A + B, certify_identity("∂L/∂W = W·A + B", gradient_W, nt.W * A + B,
                                                                       sizes=sizes, seed=seed)))
        W_solved = -B * A.I
        steps.append(Step("T1", "optimal readout", "W* = −B·A⁻¹ solves it", nt.W, W_solved,
                          self._against_exact_readout(W_solved, sizes, seed)))

        # push-through: Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cΦᵀΦ + λI_n)⁻¹Φᵀ, and ΦᵀΦ = K
        a = coefficients(A, {"gram": nt.Phi * nt.Phi.T, "ridge": nt.I_m})
        b_coeff, b_mats = B.as_coeff_mmul()
        b_factors = list(b_mats.args) if isinstance(b_mats, sp.MatMul) else [b_mats]
        if b_factors[-1] != nt.Phi.T:
            raise ReadoutNotEliminable(f"stationarity right-hand side {B} does not end in Φᵀ")
        resolvent = (a["gram"] * nt.K + a["ridge"] * nt.I_n).I
        self.W_star = -b_coeff * sp.MatMul(*b_factors[:-1], resolvent, nt.Phi.T).doit()
        steps.append(Step("T1", "push-through", "Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cK + λI_n)⁻¹Φᵀ with K = ΦᵀΦ",
                          W_solved, self.W_star,
                          certify_identity("push-through", W_solved, self.W_star, sizes=sizes, seed=seed + 1)))

        self.F_star = contract(sp.expand(self.W_star * nt.Phi), (nt.Phi.T, nt.Phi), nt.K)
        steps.append(Step("T1", "optimal outputs", "F* = W*Φ depends on Φ only through K",
                          self.W_star * nt.Phi, self.F_star,
                          certify_identity("F* = W*Φ", self.W_star * nt.Phi, self.F_star, sizes=sizes, seed=seed + 2)))

        G_raw = c * self.F_star + d * nt.Y
        right, rest = split_right_linear(G_raw, nt.Y, nt.I_n)
        if rest != sp.ZeroMatrix(*G_raw.shape):
            raise ReadoutNotEliminable(f"G* is not of the form Y·r(K): remainder {rest}")
        self.G_star = (nt.Y * matrix_function_of_K(right)).doit()
        steps.append(Step("T1", "optimal output gradient",
                          "G* = cF* + dY = Y·r(K), r simplified as a scalar function of κ", G_raw, self.G_star,
                          certify_identity("G* simplification", G_raw, self.G_star, sizes=sizes, seed=seed + 3)))
        steps.extend(self._reduced_objective(B, b_coeff, a, sizes, seed))
        self.steps = tuple(steps)

    def _certify_affine(self, c, d, seed):
        """G (per-sample gradients, evaluated column by column) = cF + dY on random rational F, Y."""
        rng = random.Random(seed)
        pairs = []
        for n in (2, 3, 5):
            F, Y = rational_matrix(rng, self.loss.C, n), rational_matrix(rng, self.loss.C, n)
            pairs.append((f"n={n}, C={self.loss.C}", output_gradients(self.loss, F, Y), c * F + d * Y))
        return certify_values("columns ∇_f ℓ(f_i, y_i) = c f_i + d y_i", pairs)

    def _against_exact_readout(self, W_solved, sizes, seed):
        rng = random.Random(seed)
        pairs = []
        for dims in sizes:
            values = standard_instance(rng, dims)
            exact = exact_optimal_readout(self.loss, values[nt.Phi], values[nt.Y], values[nt.lam])
            pairs.append((", ".join(f"{k}={v}" for k, v in dims.items()), evaluate(W_solved, values), exact))
        return certify_values("W* = exact solution of the entrywise equations ∂L/∂w_ij = 0", pairs)

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
        rng = random.Random(seed + 4)
        pairs = []
        for dims in sizes:
            v = standard_instance(rng, dims)
            W_exact = exact_optimal_readout(loss, v[nt.Phi], v[nt.Y], v[nt.lam])
            pairs.append((", ".join(f"{k}={x}" for k, x in dims.items()),
                          objective(loss, W_exact, v[nt.Phi], v[nt.Y], v[nt.lam], v[nt.mu]),
                          evaluate(self.reduced_objective, v)))
        return [
            Step("T1", "quadratic loss", "ℓ(f, y) = (e/2)|y|² + d f·y + (c/2)|f|² (gradient affine, h quadratic)",
                 loss.expr, taylor, certify_symbolic("ℓ − Taylor form = 0", loss.expr - taylor)),
            Step("T1", "reduced objective", "min_W L = tr(Y q(K) Yᵀ) + (μ/2) tr K",
                 sp.Symbol("min_W L"), self.reduced_objective,
                 certify_values("reduced objective = L(W*, Φ) with W* solved exactly", pairs)),
        ]


@lru_cache(maxsize=None)
def derive_readout(loss: Loss) -> ReadoutElimination:
    """T1 for ``loss`` (certified, cached per loss). Raises ReadoutNotEliminable for non-affine gradients."""
    return ReadoutElimination(loss)
