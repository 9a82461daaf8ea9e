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


def test_forward_gradient_is_sympys_derivative_and_falls_back_off_the_rationals():
    """Forward differentiation of the expression tree over exact fractions against SymPy's diff, on a polynomial
    with divisions by constants, shared subtrees and powers up to 4; a coefficient √2 (a rational power) or a
    transcendental node is left to the other paths (None here), which still give the derivative."""
    import random

    import sympy as sp

    from theory.gradients import forward_gradient, gradient_at

    x = sp.symbols("x0:4", real=True)
    rng = random.Random(3)
    inner = sum(sp.Rational(rng.randint(-9, 9), rng.randint(1, 9)) * x[i] ** rng.randint(1, 4) * x[(i + 1) % 4]
                for i in range(4))
    L = inner ** 2 / 7 - x[0] * x[1] * x[2] / 3 + inner * x[3]
    point = {v: sp.Rational(rng.randint(-9, 9), rng.randint(1, 9)) for v in x}
    truth = [sp.diff(L, v).xreplace(point) for v in x]
    assert forward_gradient(L, list(x), point) == truth == gradient_at(L, list(x), point)
    wrong_rule = [sp.diff(L.xreplace({inner: 2 * inner}), v).xreplace(point) for v in x]
    assert forward_gradient(L, list(x), point) != wrong_rule
    assert forward_gradient(sp.sqrt(2) * x[0] ** 2, [x[0]], {x[0]: sp.Integer(1)}) is None
    assert gradient_at(sp.sqrt(2) * x[0] ** 2, [x[0]], {x[0]: 1}) == [2 * sp.sqrt(2)]
    assert forward_gradient(sp.exp(x[0]), [x[0]], {x[0]: sp.Integer(0)}) is None
