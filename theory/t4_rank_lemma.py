"""T4 — the rank lemma: at any steady state of the kernel ODE, rank K ≤ rank D ≤ C.

A steady state satisfies K·A + A·K = 0 with A = D(K) − μI and K ⪰ 0. In K's eigenbasis
(Â = VᵀAV) the equation reads (κ_i + κ_j)Â_ij = 0; for κ_i > 0 every κ_i + κ_j > 0, so Â vanishes
on range K: A·K = 0, i.e. range K ⊆ ker(D − μI). For μ > 0, (D − μI)v = 0 gives v = Dv/μ ∈ range D,
hence rank K ≤ rank D ≤ rank G* ≤ C — for every steady state, stable or not.

The middle step is checked by *solving* K·A + A·K = 0 for a symmetric unknown A on explicit PSD
K of several ranks and confirming that every solution has A·K = 0; the hypothesis K ⪰ 0 is shown
to matter by an indefinite K that admits a solution with A·K ≠ 0.

>>> derive_rank_lemma().certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import notation as nt
from theory.certify import (
    AllOf,
    Derivation,
    Identity,
    Predicate,
    Step,
    SymbolicZero,
    rational,
    rational_matrix,
    rational_orthogonal,
)


def symmetric_unknown(n: int) -> sp.Matrix:
    """The general symmetric n × n matrix of unknowns: entry (i, j) is the symbol ``a_i_j`` with i ≤ j, so A = Aᵀ by
    construction (the unknown A of K·A + A·K = 0 that :func:`solve_anticommutator` solves for)."""
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a_{min(i, j)}_{max(i, j)}"))


def solve_anticommutator(K: sp.Matrix) -> sp.Matrix:
    """The general symmetric solution A of K·A + A·K = 0 (free parameters stay symbols)."""
    A = symmetric_unknown(K.shape[0])
    unknowns = sorted(A.free_symbols, key=str)
    (solution,) = sp.linsolve(list(K * A + A * K), unknowns)
    return A.xreplace(dict(zip(unknowns, solution)))


def psd_rational(rng: random.Random, n: int, rank: int) -> sp.Matrix:
    """An exact positive semidefinite n × n rational matrix K = BᵀB, with B a ``rank`` × n matrix of random rationals
    from ``rng``: rank K ≤ ``rank``, with equality for all but a measure-zero set of draws."""
    B = rational_matrix(rng, rank, n)
    return sp.Matrix(B.T * B)


#: the symmetric unknown of the steady-state equation K·A + A·K = 0 (A = D − μI)
A = sp.MatrixSymbol("A", nt.n, nt.n)
#: a vector of ker(D − μI)
v = sp.MatrixSymbol("v", nt.n, 1)
D = sp.MatrixSymbol("D", nt.n, nt.n)


def solved_pairs(rng: random.Random):
    """[(label, values)]: explicit PSD K of several ranks and the *general* symmetric solution A of
    K·A + A·K = 0 (free parameters stay symbols), solved exactly."""
    out = []
    for n, r in ((3, 1), (4, 2), (4, 3), (3, 3)):
        K = psd_rational(rng, n, r)
        out.append((f"n={n}, rank K={r}", {nt.n: n, nt.K: sp.ImmutableMatrix(K),
                                          A: sp.ImmutableMatrix(solve_anticommutator(K))}))
    return out


def _kernel_vectors(rng: random.Random):
    """[(label, values)]: exact PSD drives D of rank C with μ an eigenvalue, and every basis vector v of
    ker(D − μI) (found by exact nullspace)."""
    out = []
    for n, C in ((4, 2), (5, 3), (6, 1)):
        mu = rational(rng, positive=True)
        Dv = drive_with_eigenvalue(rng, n, C, mu)
        for k, vec in enumerate((Dv - mu * sp.eye(n)).nullspace()):
            out.append((f"n={n}, C={C}, μ={mu} an eigenvalue of D, kernel vector {k + 1}",
                        {nt.n: n, nt.mu: mu, D: sp.ImmutableMatrix(Dv), v: sp.ImmutableMatrix(vec)}))
    return out


class RankLemma(Derivation):
    """T4: every steady state of the kernel ODE has range K ⊆ ker(D − μI), hence rank K ≤ rank D ≤ C (built by
    :func:`derive_rank_lemma`).

    The steps write K·A + A·K = 0 entrywise in K's eigenbasis, solve it exactly for a symmetric unknown A on explicit
    positive semidefinite K of several ranks (every solution has A·K = 0), and show with an indefinite K that the
    hypothesis K ⪰ 0 is needed."""

    claim = "T4"

    def __init__(self, seed: int = 0):
        rng = random.Random(seed)
        size = 3
        k = sp.symbols(f"kappa1:{size + 1}", nonnegative=True)
        A_hat = symmetric_unknown(size)
        eig = sp.diag(*k) * A_hat + A_hat * sp.diag(*k)
        entrywise = sp.Matrix(size, size, lambda i, j: (k[i] + k[j]) * A_hat[i, j])
        steps = [Step("T4", "eigenbasis form", "Vᵀ(KA + AK)V = diag(κ)Â + Â diag(κ), entry (i, j) = (κ_i + κ_j)Â_ij",
                      eig, entrywise, SymbolicZero("entrywise form (generic 3 × 3)"))]

        solved = solved_pairs(rng)
        steps.append(Step("T4", "range K ⊆ ker A", "K ⪰ 0 and KA + AK = 0 ⇒ A·K = 0 (every solution, solved exactly)",
                          A * nt.K, sp.ZeroMatrix(nt.n, nt.n),
                          Identity("the general solution of KA + AK = 0 satisfies AK = 0", sizes=(),
                                   instances=lambda: solved)))

        K_indefinite = sp.ImmutableMatrix(sp.diag(2, -2, 3))
        A_general = sp.ImmutableMatrix(solve_anticommutator(K_indefinite))
        counterexample = sp.ImmutableMatrix(A_general * K_indefinite)
        indefinite = [("n=3, K=diag(2,-2,3)", {nt.n: 3, nt.K: K_indefinite, A: A_general})]
        steps.append(Step("T4", "PSD is needed", "for indefinite K = diag(2, −2, 3) the general solution has A·K ≠ 0",
                          A * nt.K, counterexample,
                          AllOf(Identity("A·K for the general solution at K = diag(2, −2, 3)", sizes=(),
                                         instances=lambda: indefinite),
                                Predicate("the counterexample is not zero",
                                          lambda lhs, rhs: (any(e != 0 for e in sp.Matrix(rhs)), ["n=3"],
                                                            "A·K = 0: no counterexample"), "exact solution"))))

        vectors = _kernel_vectors(rng)
        steps.append(Step("T4", "ker(D − μI) ⊆ range D",
                          "for μ > 0, (D − μI)v = 0 ⇒ v = Dv/μ ∈ range D, so rank K ≤ rank D ≤ C",
                          v, D * v / nt.mu,
                          Identity("v = Dv/μ for every v in ker(D − μI), D of rank C with eigenvalue μ", sizes=(),
                                   instances=lambda: vectors)))
        self.steps = tuple(steps)


def drive_with_eigenvalue(rng: random.Random, n: int, C: int, mu) -> sp.Matrix:
    """An exact PSD drive of rank C having μ as an eigenvalue: V diag(μ, d_2, …, d_C, 0, …) Vᵀ, V rational orthogonal."""
    V = rational_orthogonal(rng, n)
    diagonal = [mu] + [rational(rng, positive=True) for _ in range(C - 1)] + [0] * (n - C)
    return sp.Matrix(V * sp.diag(*diagonal) * V.T)


@lru_cache(maxsize=None)
def derive_rank_lemma() -> RankLemma:
    """T4 rank lemma, certified (cached)."""
    return RankLemma()
