"""Mutation-killing tests for theory/certify.py (benchmarks/mutation.py, group certify).

The checks behind T3/T8's fixed points (RootSet), T3/T6's stability signs (Signs) and T4's
predicates (Predicate), run directly on small sides that they must accept and on wrong ones they
must reject, with the certificate's fields; and the rendering of statement sides.
"""
import random

import pytest
import sympy as sp

from theory.certify import (
    AgainstTruth,
    AllOf,
    Check,
    Definition,
    Derivation,
    ExactRank,
    Identity,
    Predicate,
    RootSet,
    Signs,
    Step,
    SymbolicZero,
    compare,
    evaluate,
    latex_side,
    rational,
    symbol_name,
)
from theory.notation import kappa, lam, mu, n, s

# f(κ) = κ(κ − 1)(κ − 3): roots 0, 1, 3 on κ ≥ 0 (and none negative)
F = kappa * (kappa - 1) * (kappa - 3)
ROOTS = RootSet("roots of κ(κ−1)(κ−3) on κ ≥ 0", F, kappa, [{}])


def test_rootset_accepts_the_complete_root_set():
    cert = ROOTS.run(sp.Symbol("kappa_fixed"), sp.FiniteSet(0, 1, 3))
    assert cert.passed and cert.method == "exact real-root isolation" and cert.trials == ("",)


def test_rootset_rejects_a_missing_a_wrong_or_an_extra_root():
    for wrong, detail in [(sp.FiniteSet(1, 3), "the step claims [1, 3]"),
                          (sp.FiniteSet(0, 1, 4), "residue"),
                          (sp.FiniteSet(0, 1, 2, 3), "the step claims [0, 1, 2, 3]")]:
        cert = ROOTS.run(sp.Symbol("kappa_fixed"), wrong)
        assert not cert.passed and detail in cert.detail, (wrong, cert.detail)
    assert "roots [0, 1, 3] on kappa ≥ 0" in ROOTS.run(sp.Symbol("k"), sp.FiniteSet(1, 3)).detail


def test_rootset_substitutes_its_parameters_and_labels_the_trials():
    check = RootSet("κ(κ − λ)", kappa * (kappa - lam), kappa, [{lam: 2}, {lam: sp.Rational(1, 2)}])
    cert = check.run(sp.Symbol("k"), sp.FiniteSet(0, lam))
    assert cert.passed and cert.trials == ("lambda=2", "lambda=1/2")
    assert not check.run(sp.Symbol("k"), sp.FiniteSet(0, 2 * lam)).passed


def test_rootset_orders_claimed_roots_by_value():
    check = RootSet("κ(κ − 2)(κ − 10)", kappa * (kappa - 2) * (kappa - 10), kappa, [{}])
    assert check.run(sp.Symbol("k"), sp.FiniteSet(10, 0, 2)).passed
    assert check.run(sp.Symbol("k"), sp.FiniteSet(sp.sqrt(100), 0, sp.sqrt(4))).passed


def test_rootset_sorts_claimed_roots_after_substitution():
    """FiniteSet(0, λ, μ) is stored as 0, λ, μ; at λ = 3, μ = 1 the values must be sorted again."""
    check = RootSet("κ(κ − λ)(κ − μ)", kappa * (kappa - lam) * (kappa - mu), kappa, [{lam: 3, mu: 1}])
    assert check.run(sp.Symbol("k"), sp.FiniteSet(0, lam, mu)).passed


def test_rootset_of_a_function_without_roots():
    assert RootSet("no root", sp.Integer(1), kappa, [{}]).run(sp.Symbol("k"), sp.FiniteSet()).passed


def _signs(conditions):
    return Signs("stability", conditions, "λ, μ, s > 0")


def test_signs_accepts_provable_signs_and_names_the_failures():
    ok = _signs(lambda lhs, rhs: [("rhs", rhs, "positive"), ("−rhs", -rhs, "negative")])
    cert = ok.run(sp.Integer(0), lam * mu + s)
    assert cert.passed and cert.detail == "" and cert.trials == ("rhs", "−rhs")
    assert cert.method == "symbolic sign analysis (λ, μ, s > 0)"
    bad = ok.run(sp.Integer(0), lam - mu)
    assert not bad.passed
    assert bad.detail == "rhs is not provably positive: lambda - mu; −rhs is not provably negative: -lambda + mu"


def test_signs_are_taken_of_the_sides_given():
    check = _signs(lambda lhs, rhs: [("lhs − rhs", lhs - rhs, "positive")])
    assert check.run(lam + 1, lam).passed
    assert not check.run(lam, lam + 1).passed


def test_predicate_decides_on_both_sides():
    check = Predicate("lhs divides rhs", lambda lhs, rhs: (rhs % lhs == 0, [f"{lhs} | {rhs}"], "no"), "arithmetic")
    assert check.run(sp.Integer(3), sp.Integer(12)).passed
    cert = check.run(sp.Integer(5), sp.Integer(12))
    assert not cert.passed and cert.detail == "no" and cert.trials == ("5 | 12",) and cert.method == "arithmetic"


def test_definition_summary_with_and_without_detail():
    step = Step("T9", "kernel", "K_Ψ = ΨᵀΨ", sp.Symbol("K_Psi"), sp.Symbol("PsiT Psi"), Definition("introduces K_Ψ"))
    assert step.certificate.summary() == "definition, not certified: introduces K_Ψ"
    empty = Definition("")
    assert empty.run(sp.Symbol("a"), sp.Symbol("b")).summary() == "definition, not certified"


def test_name_and_latex_sides():
    assert symbol_name(sp.Symbol("rank dK <= C")) == "rank dK <= C" and symbol_name(lam + 1) == ""
    assert latex_side(lam + sp.Symbol("rank dK")) == r"\text{rank dK} + \lambda"
    assert latex_side(3) == "3"  # a plain number has no free symbols


def test_latex_joins_a_relation_and_an_expression_with_equals():
    step = Step("T0", "r", "s", sp.Gt(s, lam * mu), lam + 1,
                Predicate("p", lambda lhs, rhs: (True, ["t"], ""), "m"))
    assert step.latex() == r"s > \lambda \mu = \lambda + 1"
    both = Step("T0", "r", "s", sp.Gt(s - lam * mu, 0), sp.Gt(s, lam * mu),
                Predicate("p", lambda lhs, rhs: (True, ["t"], ""), "m"))
    assert r"\iff" in both.latex()


def test_symbolic_zero_needs_simplify_beyond_cancel_and_names_its_assumptions():
    check = SymbolicZero("Pythagoras", assumptions="λ real")
    cert = check.run(sp.sin(lam) ** 2 + sp.cos(lam) ** 2, sp.Integer(1))
    assert cert.passed and cert.method == "symbolic simplification to 0 (λ real)"
    assert SymbolicZero("plain").run(lam, lam).method == "symbolic simplification to 0"
    assert SymbolicZero("plain").run(lam, lam).detail == ""
    assert SymbolicZero("plain").run(lam, mu).detail == "residue lambda - mu"


def test_allof_passes_when_all_pass_and_refuses_non_certifying_checks():
    yes = Predicate("yes", lambda lhs, rhs: (True, ["t1"], ""), "m1")
    no = Predicate("no", lambda lhs, rhs: (False, ["t2"], "because"), "m2")
    cert = AllOf(yes, yes).run(lam, lam)
    assert cert.passed and cert.trials == ("t1", "t1") and cert.method == "m1"
    failed = AllOf(yes, no).run(lam, lam)
    assert not failed.passed and failed.detail == "no: because" and failed.method == "m1 + m2"
    for bad in [(), (Definition("d"),)]:
        with pytest.raises(TypeError, match="^AllOf needs one or more certifying checks$"):
            AllOf(*bad)


def _rank(bound):
    return ExactRank("rank ≤ bound", lambda values: bound, instances=lambda: [("here", {})])


def test_exact_rank_details():
    cert = _rank(1).run(sp.Symbol("x"), sp.ImmutableMatrix([[sp.sqrt(2), 0, 0], [0, 1, 0], [0, 0, 1]]))
    assert not cert.passed and cert.identity == "rank ≤ bound" and cert.detail == "non-rational entries at here"
    cert = _rank(1).run(sp.Symbol("x"), sp.eye(3))
    assert not cert.passed and cert.detail == "rank 3 > 1 at here"
    cert = _rank(2).run(sp.Symbol("x"), sp.eye(2))
    assert not cert.passed and cert.detail.endswith("choose sizes where the bound could fail")
    assert _rank(1).run(sp.Symbol("x"), sp.ones(3, 3)).passed


def test_identity_names_every_method_it_used():
    check = Identity("√2 + √3 = √(5 + 2√6), scaled", instances=lambda: [("zero", {lam: 0}), ("one", {lam: 1})])
    cert = check.run(lam * (sp.sqrt(2) + sp.sqrt(3)), lam * sp.sqrt(5 + 2 * sp.sqrt(6)))
    assert cert.passed and cert.identity == "√2 + √3 = √(5 + 2√6), scaled"
    assert cert.method == "60-digit evaluation and exact evaluation" and cert.trials == ("zero", "one")


def test_compare_paths_and_details():
    assert compare(lam * (lam + 1), lam ** 2 + lam) == (True, "exact evaluation with free parameters", "")
    assert compare(lam, mu) == (False, "exact evaluation with free parameters", "residue lambda - mu")
    assert compare(sp.sqrt(2), sp.sqrt(3)) == (False, "60-digit evaluation", "residue 0.31784")
    assert compare(sp.Rational(1, 3), sp.Rational(1, 2)) == (False, "exact evaluation", "residue -1/6")


def test_evaluate_explicit_zero_and_one_matrices():
    assert evaluate(sp.ZeroMatrix(n, 2), {n: 3}) == sp.zeros(3, 2)
    assert evaluate(sp.OneMatrix(2, n), {n: 3}) == sp.ones(2, 3)


def test_positive_rationals_are_positive():
    rng = random.Random(1)
    assert all(rational(rng, positive=True) > 0 for _ in range(200))
    assert any(rational(rng) < 0 for _ in range(200))


def test_against_truth_failure_says_where():
    check = AgainstTruth("x = 2", lambda values: sp.Integer(2), lambda: [("at a", {}), ("at b", {})])
    assert check.run(sp.Symbol("x"), sp.Integer(2)).trials == ("at a", "at b")
    cert = check.run(sp.Symbol("x"), sp.Integer(3))
    assert not cert.passed and cert.detail == "fails at at a: residue 1" and cert.trials == ("at a",)


def test_a_check_that_raises_keeps_its_identity():
    cert = Predicate("my identity", lambda lhs, rhs: 1 / 0, "m").run(lam, lam)
    assert not cert.passed and cert.identity == "my identity"
    assert cert.detail == "could not be checked: ZeroDivisionError: division by zero"


def test_small_rationals_stay_small():
    rng = random.Random(2)
    draws = [rational(rng, positive=True) for _ in range(400)] + [rational(rng) for _ in range(400)]
    assert all(sp.Rational(1, 6) <= abs(r) <= 9 for r in draws) and max(draws) == 9


def test_a_check_without_an_identity_is_named_by_its_class():
    class Bare(Check):
        def outcome(self, lhs, rhs):
            raise ValueError("no")

    cert = Bare().run(lam, lam)
    assert cert.identity == "Bare" and cert.method == "Bare" and cert.passed is False


def test_failed_rank_and_root_certificates_keep_identity_and_method():
    cert = _rank(1).run(sp.Symbol("x"), sp.eye(3))
    assert cert.method == "exact rank over the rationals" and cert.identity == "rank ≤ bound"
    cert = ROOTS.run(sp.Symbol("k"), sp.FiniteSet(0, 1, 4))
    assert cert.identity == "roots of κ(κ−1)(κ−3) on κ ≥ 0" and cert.method == "exact real-root isolation"


def test_a_derivation_prints_its_steps():
    class Two(Derivation):
        claim = "T0"
        steps = (Step("T0", "a", "a", lam, lam, SymbolicZero("a")), Step("T0", "b", "b", mu, mu, SymbolicZero("b")))

    text = str(Two())
    assert text == str(Two.steps[0]) + "\n" + str(Two.steps[1]) and text.count("[T0 · ") == 2


def test_lifted_derivative_is_the_derivative_in_t_and_tells_non_commuting_products_apart():
    """The block-matrix ground truth: d/dt (K + tE)² = KE + EK (not 2KE) and d/dt (K + tE)⁻¹ from SymPy's diff."""
    import sympy as sp

    from theory import notation as nt
    from theory.certify import lifted_derivative

    E = sp.MatrixSymbol("E", nt.n, nt.n)
    K_value = sp.ImmutableMatrix([[2, 1], [1, 3]])
    E_value = sp.ImmutableMatrix([[0, 1], [1, 5]])
    values = {nt.n: 2, nt.K: K_value, E: E_value}
    square = lifted_derivative(nt.K * nt.K, values, nt.K, E)
    assert square == K_value * E_value + E_value * K_value and square != 2 * K_value * E_value
    t = sp.Symbol("t")
    moved = (K_value + t * E_value).inv().applyfunc(lambda e: sp.diff(e, t)).subs(t, 0)
    assert lifted_derivative(nt.K.I, values, nt.K, E) == sp.ImmutableMatrix(sp.simplify(moved))


def test_nonzero_witness_rejects_false_identities_and_respects_every_assumption():
    """A witness point proves a residue nonzero; it must never be found for a true identity, including identities
    that hold only under the symbols' assumptions (|x| = −x for negative x, ⌊n⌋ = n for integer n)."""
    import sympy as sp

    from theory.certify import SymbolicZero, nonzero_witness

    x, y = sp.symbols("x y", real=True)
    assert nonzero_witness(x - y) is not None
    assert nonzero_witness((x - y) * (x + y) - (x**2 - y**2)) is None
    negative = sp.Symbol("q", negative=True)
    assert nonzero_witness(sp.Abs(negative) + negative) is None  # 0 at every negative point
    integer = sp.Symbol("k", integer=True)
    assert nonzero_witness(sp.floor(integer) - integer) is None
    even = sp.Symbol("e", even=True)
    assert nonzero_witness((-1) ** even - 1) is None  # 0 for every even e (an odd value would not be admissible)
    assert not SymbolicZero("x = y").outcome(x, y).passed
    assert SymbolicZero("(x - y)(x + y) = x² − y²").outcome((x - y) * (x + y), x**2 - y**2).passed
