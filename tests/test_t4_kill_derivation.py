"""Mutation-killing tests for theory/t4_rank_lemma.py (T4's rank lemma; benchmarks/mutation.py, group
theory_steady_state).

What T4 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on — PSD kernels of ranks 1, 2, 3 and a full-rank one: docs/derivations.md
prints them), and the consistency of every explicit instance: each matrix has the shape its symbol
declares at the instance's sizes.
"""
import sympy as sp

import theory
from theory import notation as nt
from theory.t4_rank_lemma import solved_pairs

T4_STEPS = [
    ('T4',
     'eigenbasis form',
     'Vᵀ(KA + AK)V = diag(κ)Â + Â diag(κ), entry (i, j) = (κ_i + κ_j)Â_ij',
     'entrywise form (generic 3 × 3)',
     ('symbolic',)),
    ('T4',
     'range K ⊆ ker A',
     'K ⪰ 0 and KA + AK = 0 ⇒ A·K = 0 (every solution, solved exactly)',
     'the general solution of KA + AK = 0 satisfies AK = 0',
     ('n=3, rank K=1', 'n=4, rank K=2', 'n=4, rank K=3', 'n=3, rank K=3')),
    ('T4',
     'PSD is needed',
     'for indefinite K = diag(2, −2, 3) the general solution has A·K ≠ 0',
     'A·K for the general solution at K = diag(2, −2, 3); the counterexample is not zero',
     ('n=3, K=diag(2,-2,3)', 'n=3')),
    ('T4',
     'ker(D − μI) ⊆ range D',
     'for μ > 0, (D − μI)v = 0 ⇒ v = Dv/μ ∈ range D, so rank K ≤ rank D ≤ C',
     'v = Dv/μ for every v in ker(D − μI), D of rank C with eigenvalue μ',
     ('n=4, C=2, μ=2/3 an eigenvalue of D, kernel vector 1', 'n=5, C=3, μ=3 an eigenvalue of D, kernel vector 1', 'n=6, C=1, μ=1/6 an eigenvalue of D, kernel vector 1')),
]


def test_T4_steps_show_their_claim_statement_identity_and_trials():
    """T4's steps as docs/derivations.md shows them: a statement or identity dropped or altered, or the
    general solution tried at other ranks, is a different derivation."""
    steps = theory.derive_rank_lemma().steps
    assert [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps] == T4_STEPS


def test_T4_general_solutions_cover_ranks_below_and_at_full():
    """K ⪰ 0 of rank 1 and 2 (n = 3, 4), rank 3 < n = 4 and full rank 3 = n: for each the solved A is
    symmetric, satisfies KA + AK = 0, and A·K = 0."""
    import random
    pairs = solved_pairs(random.Random(0))
    assert [(v[nt.n], sp.Matrix(v[nt.K]).rank()) for _, v in pairs] == [(3, 1), (4, 2), (4, 3), (3, 3)]
    for _, v in pairs:
        K, A = sp.Matrix(v[nt.K]), sp.Matrix(next(val for key, val in v.items() if str(key) == "A"))
        assert A == A.T and (K * A + A * K).is_zero_matrix and (A * K).is_zero_matrix


def _checks(check):
    return [c for sub in check.checks for c in _checks(sub)] if hasattr(check, "checks") else [check]


def test_T4_every_explicit_instance_has_the_shapes_its_symbols_declare():
    """Each matrix of each instance is as large as its symbol at the instance's sizes (n = 3 for the
    indefinite counterexample K = diag(2, −2, 3)): an instance must be one the identity is about."""
    seen = 0
    for step in theory.derive_rank_lemma().steps:
        for check in _checks(step.check):
            if not hasattr(check, "instances"):
                continue
            for label, values in check.instances():
                sizes = {k: v for k, v in values.items() if isinstance(k, sp.Symbol)}
                for key, value in values.items():
                    if isinstance(key, sp.MatrixSymbol):
                        shape = tuple(sp.sympify(d).xreplace(sizes) for d in key.shape)
                        assert sp.Matrix(value).shape == shape, (step.name, label, key)
                        seen += 1
    assert seen >= 10


def test_T4_counterexample_step_rejects_A_times_K_inverse():
    """The counterexample's K must tell A·K from A·K⁻¹: at K = diag(1, −1, 2) the general solution A lives on
    the ±1 block, where K = K⁻¹, and the mutant lhs A·K⁻¹ was certified (a fresh-sample survivor)."""
    step = theory.derive_rank_lemma().step("PSD is needed")
    A_times_K = step.lhs
    assert step.recheck().passed
    assert not step.recheck(lhs=A_times_K.args[0] * nt.K.I).passed
    assert not step.recheck(lhs=A_times_K.args[0] * nt.K * nt.K).passed
