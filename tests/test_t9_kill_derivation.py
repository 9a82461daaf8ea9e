"""Mutation-killing tests for theory/t9_fixed_features.py (T9's fixed-feature compression;
benchmarks/mutation.py, group theory_fixed_features).

What T9 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on — p < n with m < p and m > p, and p = n: docs/derivations.md prints them),
the consistency of every sampled instance (each matrix, ψ(x) included, has the shape its symbol
declares), and ``matrix_function`` (r(X) from partial fractions) on rational functions.
"""
import random

import sympy as sp

import theory
from theory import notation as nt
from theory.certify import evaluate
from theory.t9_fixed_features import fixed_feature_instance, matrix_function, psi

T9_STEPS = [
    ('T9',
     'fixed-feature kernel',
     'Φ = UΨ ⇒ K = ΦᵀΦ = ΨᵀMΨ with M = UᵀU (any Ψ)',
     'M := UᵀU; (UΨ)ᵀ(UΨ) = Ψᵀ(UᵀU)Ψ by associativity',
     ()),
    ('T9',
     'orthonormal rows',
     'assumption: ΨΨᵀ = I_p (whitened inputs; p ≤ n)',
     "the hypothesis of the reduction (reduction_certificate('generic') shows it is needed)",
     ()),
    ('T9',
     'penalty',
     '‖U‖² = tr M = tr ΨᵀMΨ = tr K: the decay on U is the decay on Φ',
     'tr ΨᵀMΨ = tr M',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'Woodbury',
     '(λI_n + ΨᵀMΨ)⁻¹ = (I_n − Ψᵀ(λI_p + MΨΨᵀ)⁻¹MΨ)/λ for any Ψ',
     'push-through Woodbury',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'resolvent',
     'ΨΨᵀ = I_p and (M + λI)⁻¹M = I − λ(M + λI)⁻¹ (derived as a scalar function of the eigenvalue of M) give (K + λI)⁻¹ = Ψᵀ(M + λI)⁻¹Ψ + (I − ΨᵀΨ)/λ',
     '(K + λI)⁻¹ = Ψᵀ(M + λI)⁻¹Ψ + (I − ΨᵀΨ)/λ for orthonormal Ψ',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'push-through',
     '(K + λI_n)⁻¹Ψᵀ = Ψᵀ(M + λI_p)⁻¹ since (I − ΨᵀΨ)Ψᵀ = 0',
     '(K + λI)⁻¹Ψᵀ = Ψᵀ(M + λI)⁻¹',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'reduced objective',
     "min_W L(W, UΨ) = T1's reduced objective at size p in M with labels Ỹ = YΨᵀ, plus ½‖Y(I − ΨᵀΨ)‖² (independent of M)",
     'T1 at K = ΨᵀMΨ = T1 at size p in (M, Ỹ) + constant; min_W L(W, UΨ) + (μ/2)‖U‖² with W* solved entrywise',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2', 'n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'compressed flow',
     'Ṁ = U̇ᵀU + UᵀU̇ = M·D̃ + D̃·M − 2μM, D̃ = λ(M + λI)⁻¹ỸᵀỸ(M + λI)⁻¹ (T2 at size p, labels Ỹ); K̇ = ΨᵀṀΨ',
     'Ṁ = U̇ᵀU + UᵀU̇ with U̇ the entrywise U-gradient of L(W*(UΨ), UΨ) + (μ/2)‖U‖²',
     ('n=3, p=2, m=2, C=2', 'n=4, p=3, m=2, C=2')),
    ('T9',
     'compressed steady state',
     'M∞ = V diag(κ∞(s̃)) Vᵀ from the T3 law with s̃ = σ(YΨᵀ)² (V: right singular vectors of Ỹ) makes ∂L/∂W and ∂L/∂U vanish: an exact stationary point of the fixed-feature model',
     'the law with Ỹ = YΨᵀ gives an exact stationary point of the fixed-feature model',
     ('n=4, p=3, C=2, λ = μ = 1', 'n=5, p=3, C=2, λ = μ = 1')),
    ('T9',
     'kernel-ridge predictor',
     'f(x) = Y(K + λI)⁻¹k(x) with k(x) = ΨᵀMψ(x) equals Ỹ(M + λI)⁻¹Mψ(x) (p × n work)',
     'Y(K + λI)⁻¹ΨᵀMψ = Ỹ(M + λI)⁻¹Mψ',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'degrees of freedom',
     'Σκ/(κ + λ) = tr K(K + λI)⁻¹ = tr M(M + λI)⁻¹',
     'tr K(K + λI)⁻¹ = tr M(M + λI)⁻¹',
     ('n=3, p=2, m=1, C=2', 'n=4, p=3, m=4, C=2', 'n=3, p=3, m=2, C=2')),
    ('T9',
     'soft thresholding',
     'at κ∞ = √(λs̃/μ) − λ (s̃ = σ² > λμ): the predictor weight σκ∞/(κ∞ + λ) = σ − √(λμ) and κ∞/(κ∞ + λ) = 1 − √(λμ)/σ < 1, so df(K∞) = Σ(1 − √(λμ)/σ)₊ < rank Ỹ ≤ C',
     'mode weight and df of the water-filled mode',
     ('symbolic',)),
    ('T9',
     'fixed-kernel bias and variance',
     'for fixed K and Y = Θ + noise: E f − Θ = −Θλ(K + λI)⁻¹ (per mode lambda/(kappa + lambda), bias² ∝ its square), noise passes through K(K + λI)⁻¹ (variance ∝ kappa**2/(kappa + lambda)**2); K∞ depends on Y, so these hold for the raw kernel only',
     'I − K(K + λI)⁻¹ = λ(K + λI)⁻¹',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=3')),
]


def test_T9_steps_show_their_claim_statement_identity_and_trials():
    """A claim re-cased ("t9", "XXT9XX"), a statement altered (upper- or lower-cased, wrapped) or a check
    tried at other sizes is a different derivation."""
    steps = theory.derive_fixed_features(2).steps
    assert [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps] == T9_STEPS


def _checks(check):
    return [c for sub in check.checks for c in _checks(sub)] if hasattr(check, "checks") else [check]


def _assert_shapes(values, where):
    sizes = {k: v for k, v in values.items() if isinstance(k, sp.Symbol)}
    for key, value in values.items():
        if isinstance(key, sp.MatrixSymbol):
            shape = tuple(sp.sympify(d).xreplace(sizes) for d in key.shape)
            assert sp.Matrix(value).shape == shape, (where, key)


def test_T9_sampled_instances_have_the_shapes_their_symbols_declare():
    """ψ(x) is one input (p × 1), Ψ is p × n, U m × p, ... at every size the derivation samples, in both
    row modes; and every Identity of the derivation is tried on such instances."""
    for dims in ({nt.n: 3, nt.p: 2, nt.m: 1, nt.C: 2}, {nt.n: 4, nt.p: 3, nt.m: 4, nt.C: 1}):
        for rows in ("orthonormal", "generic"):
            values = fixed_feature_instance(random.Random(1), dims, rows)
            assert values[psi].shape == (dims[nt.p], 1)
            _assert_shapes(values, (rows, dims))
    tried = 0
    for step in theory.derive_fixed_features(2).steps:
        for check in _checks(step.check):
            if hasattr(check, "instances"):
                for label, values in check.instances():
                    _assert_shapes(values, (step.name, label))
                    tried += 1
    assert tried >= 15


def test_matrix_function_writes_a_rational_function_of_a_matrix_term_by_term():
    """r(X) for r(x) = λ/(x + λ) is λ(X + λI)⁻¹, and for x/(x + λ) (partial fractions 1 − λ/(x + λ)) it
    is I − λ(X + λI)⁻¹, equal to X(X + λI)⁻¹; checked exactly at a rational symmetric X."""
    x, lam = sp.Symbol("x"), nt.lam
    X, I = sp.MatrixSymbol("X", 2, 2), sp.Identity(2)
    at = {X: sp.ImmutableMatrix([[2, 1], [1, 3]]), lam: sp.Rational(1, 2)}
    Xv, Iv = sp.Matrix(at[X]), sp.eye(2)
    resolvent = (Xv + at[lam] * Iv).inv()
    assert sp.Matrix(evaluate(matrix_function(lam / (x + lam), x, X, I), at)) == at[lam] * resolvent
    assert sp.Matrix(evaluate(matrix_function(x / (x + lam), x, X, I), at)) == Xv * resolvent
    assert sp.Matrix(evaluate(matrix_function(x**2 / (x + lam), x, X, I), at)) == Xv * Xv * resolvent
