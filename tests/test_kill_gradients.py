"""Mutation-killing tests for theory/gradients.py (T1's gradients; benchmarks/mutation.py, group gradients).

The independent ground truths of T1's certificates: central differences at 60 digits (a 15-digit
value would pass the 60-digit comparison, because SymPy subtracts at the lower precision — so the
precision is pinned here), the branch test that keeps stencils off Huber's kinks, the positive λ, μ
of the chain-rule instances, and the names of T1's steps.
"""
import sympy as sp

import theory
from theory.gradients import chain_rule_instances, finite_difference_gradient, same_branches
from theory.losses import huber, softmax_cross_entropy, squared
from theory.notation import lam, mu


def test_T1_central_differences_are_60_digit_values():
    f, y = [sp.Rational(7, 3), sp.Rational(-3, 5)], [sp.Rational(-5, 3), sp.Integer(-5)]
    fd = finite_difference_gradient(squared(2), f, y)
    for value, exact in zip(fd, [f[0] - y[0], f[1] - y[1]]):
        assert abs(sp.Float(value, 60) - sp.Float(exact, 60)) < sp.Float(10) ** -45
    ce = softmax_cross_entropy(2)
    fd = finite_difference_gradient(ce, f, [sp.Rational(1, 4), sp.Rational(3, 4)])
    exact = ce.gradient().xreplace(dict(zip(ce.f, f)) | dict(zip(ce.y, [sp.Rational(1, 4), sp.Rational(3, 4)])))
    for value, truth in zip(fd, exact):
        assert abs(sp.Float(value, 60) - sp.N(truth, 60)) < sp.Float(10) ** -45


def test_T1_same_branches_detects_a_kink_inside_the_stencil():
    loss = huber(1)
    assert same_branches(loss, [sp.Rational(1, 2)], [0])
    assert same_branches(loss, [sp.Rational(3, 2)], [0])
    assert not same_branches(loss, [1 + sp.Rational(1, 10 ** 25)], [0])
    assert not same_branches(loss, [-1 - sp.Rational(1, 10 ** 25)], [0])
    assert same_branches(squared(1), [1], [0])


def test_T1_chain_rule_instances_have_positive_regularisation():
    for seed in range(10):
        for _, values in chain_rule_instances(squared(1), seed=seed):
            assert values[lam] > 0 and values[mu] > 0


def test_T1_gradient_steps_are_T1s_and_say_how_they_were_checked():
    d = theory.derive_gradients(squared(2))
    assert [s.claim for s in d.steps] == ["T1", "T1", "T1"]
    assert d.step("output gradient").certificate.identity == \
        "∇_f ℓ against 120-digit central differences of ℓ (h = 1e-40)"
    assert d.step("readout gradient").certificate.identity == "∂L/∂W (matrix form) = entrywise derivative of L"
    assert d.step("feature gradient").certificate.identity == "∂L/∂Phi (matrix form) = entrywise derivative of L"
