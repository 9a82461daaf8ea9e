"""T4 — the rank lemma: at any steady state of the kernel ODE, rank K ≤ rank D ≤ C.

A steady state satisfies K·A + A·K = 0 with A = D(K) − μI and K ⪰ 0. In K's eigenbasis
(Â = VᵀAV) the equation reads (κ_i + κ_j)Â_ij = 0; for κ_i > 0 every κ_i + κ_j > 0, so Â vanishes
on range K: A·K = 0, i.e. range K ⊆ ker(D − μI). For μ > 0, (D − μI)v = 0 gives v = Dv/μ ∈ range D,
hence rank K ≤ rank D ≤ rank G* ≤ C — for every steady state, stable or not.

The middle step is checked by *solving* K·A + A·K = 0 for a symmetric unknown A on explicit PSD
K of several ranks and confirming that every solution has A·K = 0; the hypothesis K ⪰ 0 is shown
to matter by an indefinite K that admits a solution with A·K ≠ 0.

>>> rank_lemma().certified
True
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory.certify import (Certificate, Derivation, Step, certify_symbolic, certify_values, rational, rational_matrix,
                            rational_orthogonal)


def symmetric_unknown(n: int) -> sp.Matrix:
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a_{min(i, j)}_{max(i, j)}"))


def solve_anticommutator(K: sp.Matrix) -> sp.Matrix:
    """The general symmetric solution A of K·A + A·K = 0 (free parameters stay symbols)."""
    A = symmetric_unknown(K.shape[0])
    unknowns = sorted(A.free_symbols, key=str)
    (solution,) = sp.linsolve(list(K * A + A * K), unknowns)
    return A.xreplace(dict(zip(unknowns, solution)))


def psd_rational(rng: random.Random, n: int, rank: int) -> sp.Matrix:
    B = rational_matrix(rng, rank, n)
    return sp.Matrix(B.T * B)


class RankLemma(Derivation):
    claim = "T4"

    @staticmethod
    def _certify_inclusion(rng: random.Random) -> Certificate:
        cases, ok = [], True
        for n, C in ((4, 2), (5, 3), (6, 1)):
            mu = rational(rng, positive=True)
            D = drive_with_eigenvalue(rng, n, C, mu)
            ok &= inclusion_holds(D, mu)
            cases.append(f"n={n}, C={C}, μ={mu} an eigenvalue of D")
        # the hypothesis μ > 0 matters: with μ = 0, ker D is not inside range D
        control = not inclusion_holds(drive_with_eigenvalue(rng, 4, 2, 1), 0)
        cases.append("control μ = 0: ker D ⊄ range D")
        return Certificate("rank [D | basis of ker(D − μI)] = rank D", "exact rank over the rationals",
                           tuple(cases), bool(ok and control), "" if ok and control else "inclusion or control failed")

    def __init__(self, seed: int = 0):
        rng = random.Random(seed)
        size = 3
        k = sp.symbols(f"kappa1:{size + 1}", nonnegative=True)
        A_hat = symmetric_unknown(size)
        eig = sp.diag(*k) * A_hat + A_hat * sp.diag(*k)
        entrywise = sp.Matrix(size, size, lambda i, j: (k[i] + k[j]) * A_hat[i, j])
        steps = [Step("T4", "eigenbasis form", "Vᵀ(KA + AK)V = diag(κ)Â + Â diag(κ), entry (i, j) = (κ_i + κ_j)Â_ij",
                      eig, entrywise, certify_symbolic("entrywise form (generic 3 × 3)", eig - entrywise))]

        pairs = []
        for n, r in ((3, 1), (4, 2), (4, 3), (3, 3)):
            K = psd_rational(rng, n, r)
            A = solve_anticommutator(K)
            pairs.append((f"n={n}, rank K={r}", A * K, sp.zeros(n, n)))
        steps.append(Step("T4", "range K ⊆ ker A", "K ⪰ 0 and KA + AK = 0 ⇒ A·K = 0 (every solution, solved exactly)",
                          sp.Symbol("A*K"), sp.Integer(0),
                          certify_values("general solution of KA + AK = 0 satisfies AK = 0", pairs)))

        K_indefinite = sp.diag(1, -1, 2)
        A = solve_anticommutator(K_indefinite)
        needed = A * K_indefinite != sp.zeros(3, 3)
        steps.append(Step("T4", "PSD is needed", "for indefinite K = diag(1, −1, 2) some solution has A·K ≠ 0",
                          sp.Symbol("A*K"), A * K_indefinite,
                          Certificate("counterexample without K ⪰ 0", "exact solution of the linear system",
                                      ("n=3, K=diag(1,-1,2)",), bool(needed),
                                      "" if needed else "no counterexample found")))

        steps.append(Step("T4", "ker(D − μI) ⊆ range D",
                          "for μ > 0, (D − μI)v = 0 ⇒ v = Dv/μ ∈ range D, so rank K ≤ rank D ≤ C",
                          sp.Symbol("rank [D | ker(D - mu I)]"), sp.Symbol("rank D"), self._certify_inclusion(rng)))
        self.steps = tuple(steps)


def drive_with_eigenvalue(rng: random.Random, n: int, C: int, mu) -> sp.Matrix:
    """An exact PSD drive of rank C having μ as an eigenvalue: V diag(μ, d_2, …, d_C, 0, …) Vᵀ, V rational orthogonal."""
    V = rational_orthogonal(rng, n)
    diagonal = [mu] + [rational(rng, positive=True) for _ in range(C - 1)] + [0] * (n - C)
    return sp.Matrix(V * sp.diag(*diagonal) * V.T)


def inclusion_holds(D: sp.Matrix, mu) -> bool:
    """ker(D − μI) ⊆ range D, exactly: appending a basis of ker(D − μI) to D does not raise its rank."""
    kernel = (D - mu * sp.eye(D.shape[0])).nullspace()
    return not kernel or sp.Matrix.hstack(D, *kernel).rank() == D.rank()


@lru_cache(maxsize=None)
def rank_lemma() -> RankLemma:
    """T4 rank lemma, certified (cached)."""
    return RankLemma()
