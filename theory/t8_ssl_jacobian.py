"""T8 continued — the SSL flow in resolvent form, its Jacobian, and the convexity that certifies its steady state.

With A = L + μI and R = (K + εI)⁻¹, the identity KR = I − εR turns the derived right-hand side into

    F(K) = −(KA + AK) + 2β(I − εR),

and its directional derivative along a symmetric E (matrix calculus on the derived right-hand side) into

    J[E] = −(EA + AE) + 2βε R E R,

a Sylvester operator plus a Kronecker term: symmetric in the Frobenius product, and diagonal in A's eigenbasis
wherever K commutes with L (then J[E]_ij = (−(a_i + a_j) + 2βε r_i r_j) E_ij). The energy's second directional
derivative is β tr(R E R E) = β‖R^½ E R^½‖²_F ≥ 0, so E is convex on K ⪰ 0 and K ⪰ 0 is its global minimiser
iff (KKT)  ∇E·K = 0 and ∇E ⪰ 0 — a certificate of the filter law's state that needs no integration.

>>> jac = derive_ssl_jacobian()
>>> jac.certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import AgainstTruth, AllOf, Derivation, Identity, Step, evaluate, lifted_derivative
from theory.matrix_algebra import directional_derivative
from theory.t8_ssl import ENERGY, GRADIENT, Delta, L, beta, derive_ssl_filter, directional_instances, eps

#: A = L + μI and R = (K + εI)⁻¹ as expressions in the setting's symbols
A = L + nt.mu * nt.I_n
R = (nt.K + eps * nt.I_n).I
J_Delta = sp.MatrixSymbol("J[Delta]", nt.n, nt.n)
#: K and Δ are symmetric: their transposes are themselves (the displayed forms say so)
SYMMETRIC = {nt.K.T: nt.K, Delta.T: Delta, L.T: L}


def _tidy(expr):
    return expr.doit().xreplace(SYMMETRIC)


def factored(direction) -> sp.MatrixExpr:
    """−(EA + AE) + 2βε R E R with E = ``direction``."""
    return _tidy(-(direction * A + A * direction) + 2 * beta * eps * R * direction * R)


def energy_second_derivative(values) -> sp.Expr:
    """d²/dt² E(K + tΔ) at t = 0, with det(K + tΔ + εI) a polynomial in t (exact; independent of any gradient)."""
    t = sp.Symbol("t")
    moved = evaluate(ENERGY, {**values, nt.K: sp.ImmutableMatrix(values[nt.K] + t * values[Delta])})
    return sp.simplify(sp.diff(moved, t, 2).subs(t, 0))


class SSLJacobian(Derivation):
    """T8 continued: the SSL flow's resolvent form and Jacobian (built by :func:`derive_ssl_jacobian`).

    The filter law's steps (``law``), then ``resolvent_rhs`` F(K) = −(KA + AK) + 2β(I − εR) with A = L + μI and R =
    (K + εI)⁻¹, ``directional`` J[Δ] = d/dt F(K + tΔ) at t = 0 (checked by exact arithmetic in Q[ε]/(ε²)),
    ``jacobian`` its factored form, and the convexity of the energy the flow descends."""

    claim = "T8"

    def __init__(self, seed: int = 0):
        law = derive_ssl_filter()
        self.law = law
        steps = list(law.steps)

        def cases(offset):
            return directional_instances(random.Random(seed + offset))

        self.resolvent_rhs = _tidy(-(nt.K * A + A * nt.K) + 2 * beta * (nt.I_n - eps * R))
        steps.append(Step("T8", "resolvent form", "with A = L + μI and KR = I − εR, R = (K + εI)⁻¹: "
                          "F(K) = −(KA + AK) + 2β(I − εR)", law.rhs, self.resolvent_rhs,
                          Identity("−(K∇E + ∇E K) = −(KA + AK) + 2β(I − εR)", instances=lambda: cases(1))))

        self.directional = directional_derivative(law.rhs, nt.K, Delta)
        steps.append(Step("T8", "Jacobian", "J[Δ] = d/dt F(K + tΔ) at t = 0, by the product and inverse rules of "
                          "matrix calculus on the derived right-hand side", J_Delta, self.directional,
                          AgainstTruth("J[Δ] = d/dt F(K + tΔ) at t = 0, F evaluated exactly on the block matrices "
                                       "[[K, Δ], [0, K]] (arithmetic in Q[ε]/(ε²))",
                                       lambda v: lifted_derivative(law.rhs, v, nt.K, Delta), lambda: cases(2))))

        self.jacobian = factored(Delta)
        steps.append(Step("T8", "factored Jacobian", "J[Δ] = −(ΔA + AΔ) + 2βε RΔR: a Sylvester operator plus a "
                          "Kronecker term, symmetric in the Frobenius product", self.directional, self.jacobian,
                          Identity("the rule-based J[Δ] equals the factored form for symmetric Δ",
                                   instances=lambda: cases(3))))

        curvature = sp.Trace(directional_derivative(GRADIENT, nt.K, Delta) * Delta)
        steps.append(Step("T8", "convexity", "d²/dt² E(K + tΔ) = tr(∇E'[Δ]Δ) = β tr(RΔRΔ) = β‖R^½ΔR^½‖²_F ≥ 0: "
                          "E is convex on K ⪰ 0, so ∇E·K = 0 with ∇E ⪰ 0 certifies the global minimiser",
                          _tidy(curvature), beta * sp.Trace(R * Delta * R * Delta),
                          AllOf(AgainstTruth("β tr(RΔRΔ) = d²/dt² E(K + tΔ) by SymPy, det(K + tΔ + εI) a polynomial "
                                             "in t", energy_second_derivative, lambda: cases(4)),
                                Identity("the derivative of the certified gradient, traced with Δ, = β tr(RΔRΔ)",
                                         instances=lambda: cases(5)))))
        self.steps = tuple(steps)


@lru_cache(maxsize=None)
def derive_ssl_jacobian() -> SSLJacobian:
    """T8 continued: the filter law's steps, then the SSL flow's resolvent form, its Jacobian (factored), and the
    convexity of the energy it descends (module docstring)."""
    with limits.time_limit("derive_ssl_jacobian()"):
        return SSLJacobian()
