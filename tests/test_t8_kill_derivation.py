"""Mutation-killing tests for theory/t8_ssl.py (T8's self-supervised Laplacian filter; benchmarks/mutation.py,
group theory_ssl).

What T8 shows of itself (each step's claim, name, statement, the identity its check certifies and the
cases it was tried on — the root-set parameters included: docs/derivations.md prints them), and the
domain of every sampled instance: β, ε, μ > 0 and a Laplacian with non-negative eigenvalues, whatever
the seed.
"""
import random

import sympy as sp

import theory
from theory import notation as nt
from theory.t8_ssl import L, beta, directional_instances, eps

T8_STEPS = [
    ('T8',
     'energy gradient',
     '∇E = L + μI − β(K + εI)⁻¹ (d log det(K+εI)[Δ] = tr((K+εI)⁻¹Δ))',
     'tr(∇E·Δ) = d/dt E(K + tΔ) at 0 for symmetric Δ',
     ('n=2', 'n=3')),
    ('T8',
     'commuting reduction',
     'for K commuting with L each mode obeys dκ/dt = g(κ)',
     'K̇(V diag κ Vᵀ) = V diag(g(κ_i, ℓ_i)) Vᵀ',
     ('n=3, rational orthogonal V', 'n=4, rational orthogonal V')),
    ('T8',
     'fixed points',
     'g(κ) = 0 on κ ≥ 0',
     'g vanishes at each fixed point; every root of g on κ ≥ 0, at rational ℓ, μ, ε and β > ε(ℓ + μ)',
     ('symbolic', 'ell=2/3, mu=1, epsilon=1/3, beta=40/27', 'ell=7/2, mu=1/5, epsilon=8, beta=592/15')),
    ('T8',
     'threshold and stability',
     "κ = 0 is unstable exactly when β > ε(ℓ + μ), where κ* > 0, and then g'(κ*) < 0",
     "signs of g'(0), κ* and g'(κ*) on both sides of the boundary",
     ("g'(0) above", "g'(0) below", 'κ* above', 'κ* below', "g'(κ*) above")),
]


def test_T8_steps_show_their_claim_statement_identity_and_trials():
    """A statement or identity altered, or fillable parameters other than β = ε(ℓ + μ)(1 + r), is a
    different derivation (the root-set trials name the parameters)."""
    steps = theory.derive_ssl_filter().steps
    assert [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps] == T8_STEPS


def _in_domain(values):
    assert values[beta] > 0 and values[eps] > 0 and values[nt.mu] > 0
    assert all(e >= 0 for e in sp.Matrix(values[L]).eigenvals())


def test_T8_directional_instances_are_in_the_parameter_domain_for_every_seed():
    for seed in range(12):
        for _, values in directional_instances(random.Random(seed)):
            _in_domain(values)


def test_T8_commuting_reduction_cases_are_in_the_parameter_domain_for_every_seed():
    """The commuting cases: K = V diag(κ) Vᵀ with κ > 0, L = V diag(ℓ) Vᵀ with ℓ ≥ 0, β, ε, μ > 0."""
    law = theory.derive_ssl_filter()
    for seed in range(12):
        decide = law._reduction_check(random.Random(seed)).decide
        cases = dict(zip(decide.__code__.co_freevars, (c.cell_contents for c in decide.__closure__)))["cases"]
        assert len(cases) == 2
        for _, _, kappas, ells, values in cases:
            assert all(k > 0 for k in kappas) and all(e >= 0 for e in ells)
            _in_domain(values)


# --- T8 continued (theory/t8_ssl_jacobian.py): the resolvent form, the Jacobian, convexity ---


def test_T8_jacobian_continues_the_filter_law_and_certifies_four_steps():
    jac = theory.derive_ssl_jacobian()
    law = theory.derive_ssl_filter()
    assert jac.steps[: len(law.steps)] == law.steps
    assert [s.name for s in jac.steps[len(law.steps):]] == ["resolvent form", "Jacobian", "factored Jacobian",
                                                            "convexity"]
    assert jac.certified and theory.DERIVATIONS["T8"][1]() is jac


def test_T8_jacobian_with_the_resolvent_frozen_is_rejected():
    """The classic slip: J[Δ] = −(ΔG + GΔ), G = ∇E held fixed (the derivative of (K + εI)⁻¹ forgotten)."""
    from theory.t8_ssl import GRADIENT, Delta

    step = theory.derive_ssl_jacobian().step("Jacobian")
    assert step.certificate.passed and not step.recheck(rhs=-(Delta * GRADIENT + GRADIENT * Delta)).passed


def test_T8_factored_jacobian_with_the_kronecker_term_of_the_wrong_sign_or_size_is_rejected():
    from theory.t8_ssl import Delta
    from theory.t8_ssl_jacobian import A, R

    step = theory.derive_ssl_jacobian().step("factored Jacobian")
    sylvester = -(Delta * A + A * Delta)
    for kronecker in (-2 * beta * eps * R * Delta * R, beta * eps * R * Delta * R, 2 * beta * R * Delta * R):
        assert not step.recheck(rhs=sylvester + kronecker).passed
    assert step.recheck(rhs=sylvester + 2 * beta * eps * R * Delta * R).passed


def test_T8_convexity_of_the_wrong_sign_is_rejected_by_both_checks():
    """−β tr(RΔRΔ) would make the energy concave: the SymPy second derivative and the rule-based one reject it."""
    from theory.certify import AllOf

    step = theory.derive_ssl_jacobian().step("convexity")
    wrong = -step.rhs
    assert isinstance(step.check, AllOf)
    assert all(not check.outcome(step.lhs, wrong).passed for check in step.check.checks)
