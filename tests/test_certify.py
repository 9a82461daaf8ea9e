"""Certificates must accept true identities and reject false ones (theory.certify)."""
import random

import pytest
import sympy as sp

from theory import notation as nt
from theory.certify import certify_identity, evaluate, rational_orthogonal, standard_instance
from theory.matrix_algebra import from_scalar, split_right_linear, to_scalar

R = (nt.K + nt.lam * nt.I_n).I


def test_true_identity_is_certified_exactly():
    cert = certify_identity("resolvent", R * nt.K + nt.lam * R, nt.I_n)
    assert cert.passed and cert.method == "exact evaluation"


@pytest.mark.parametrize("wrong_rhs, name", [
    (nt.I_n - R, "resolvent without λ"),
    (nt.Y * nt.Phi.T * (nt.Phi.T * nt.Phi + nt.lam * nt.I_n).I * nt.Phi.T * nt.Phi, "push-through on the wrong side"),
    (R * nt.K * R, "extra resolvent"),
])
def test_false_identity_is_rejected(wrong_rhs, name):
    lhs = R * nt.K if wrong_rhs.shape == R.shape else nt.Y * nt.Phi.T * (nt.Phi * nt.Phi.T + nt.lam * nt.I_m).I * nt.Phi
    cert = certify_identity(name, lhs, wrong_rhs)
    assert not cert.passed and "fails at" in cert.detail


def test_push_through_is_certified_for_wide_and_tall_features():
    lhs = nt.Phi.T * (nt.Phi * nt.Phi.T + nt.lam * nt.I_m).I
    rhs = (nt.K + nt.lam * nt.I_n).I * nt.Phi.T
    cert = certify_identity("push-through", lhs, rhs, sizes=[{nt.n: 5, nt.m: 2, nt.C: 1}, {nt.n: 2, nt.m: 5, nt.C: 1}])
    assert cert.passed


def test_rational_orthogonal_is_exactly_orthogonal():
    V = rational_orthogonal(random.Random(3), 4)
    assert V.T * V == sp.eye(4)


def test_evaluate_is_exact_on_rationals():
    values = standard_instance(random.Random(0), {nt.n: 3, nt.m: 2, nt.C: 2})
    out = evaluate(R * nt.K, values)
    assert all(x.is_Rational for x in out)


def test_split_right_linear_refuses_nonlinear_terms():
    with pytest.raises(ValueError, match="not of the form"):
        split_right_linear(nt.W * nt.Phi * nt.W.T * nt.W, nt.W, nt.I_m)


def test_scalar_reduction_round_trip():
    f = to_scalar(nt.lam * R * R, {nt.K: nt.kappa})
    back = from_scalar(f, nt.kappa, nt.K, nt.I_n)
    assert certify_identity("round trip", back, nt.lam * R * R).passed


def test_derivation_renders_as_markdown_with_every_step_and_its_certificate():
    import theory

    derivation = theory.derive_readout(theory.losses.squared(2))
    text = derivation._repr_markdown_()
    assert text.startswith("### T1:") and "all certified" in text
    assert text.count("$$") == 2 * len(derivation.steps)
    assert text.count("✔") == len(derivation.steps)
    assert r"W\*" in text  # statement markup stays literal


def test_failed_certificate_renders_as_failed():
    from theory.certify import Identity, Step

    step = Step("T0", "wrong", "K times two is K", 2 * nt.K, nt.K, Identity("2K = K"))
    assert not step.certificate.passed and "✘" in step._repr_markdown_() and "FAILED" in step._repr_markdown_()


def test_a_certificate_cannot_be_forged():
    """A hand-made Certificate(..., passed=True) is refused; a Step computes its own from its sides."""
    from theory.certify import Certificate, Identity, Step

    with pytest.raises(TypeError, match="issued only by a check"):
        Certificate("bogus", "trust me", ("nowhere",), True)
    with pytest.raises(TypeError, match="check must be"):
        Step("T0", "forged", "K = 2K", nt.K, 2 * nt.K, "certified")
    honest = Step("T0", "true", "K + K = 2K", nt.K + nt.K, 2 * nt.K, Identity("K + K = 2K"))
    assert honest.certificate.passed and honest.holds
    with pytest.raises(AttributeError):
        honest.certificate.passed = False


def test_a_step_whose_sides_were_swapped_after_certification_does_not_hold():
    """The certificate names the very sides it certified: replacing the rhs behind its back is detected."""
    import dataclasses

    from theory.certify import Derivation, Identity, Step

    step = Step("T0", "true", "K + K = 2K", nt.K + nt.K, 2 * nt.K, Identity("K + K = 2K"))
    object.__setattr__(step, "rhs", 3 * nt.K)
    assert not step.holds
    derivation = Derivation()
    derivation.steps = (step,)
    assert not derivation.certified
    # dataclasses.replace re-runs the check on the new sides
    assert not dataclasses.replace(step, rhs=3 * nt.K).certificate.passed


def test_definitions_do_not_count_as_certificates():
    from theory.certify import Definition, Derivation, Identity, Step

    definition = Step("T0", "define", "M := UᵀU", nt.K, nt.K, Definition("a symbol introduced"))
    assert definition.is_definition and "not certified" in definition.certificate.summary()
    only_definitions = Derivation()
    only_definitions.steps = (definition,)
    assert not only_definitions.certified, "definitions alone certify nothing"
    with_a_certificate = Derivation()
    with_a_certificate.steps = (definition, Step("T0", "true", "K + K = 2K", nt.K + nt.K, 2 * nt.K,
                                                 Identity("K + K = 2K")))
    assert with_a_certificate.certified


def test_a_check_that_cannot_evaluate_a_side_fails():
    from theory.certify import Identity

    cert = Identity("unknown symbol").run(sp.MatrixSymbol("Z", nt.n, nt.n), nt.K)
    assert not cert.passed and "could not be checked" in cert.detail


def test_exact_rank_refuses_sizes_where_the_bound_cannot_fail():
    """T4/T5: a rank bound certified on a matrix too small to exceed it certifies nothing."""
    from theory.certify import ExactRank

    small = ExactRank("rank ≤ C", lambda v: v[nt.C], sizes=({nt.n: 2, nt.m: 2, nt.C: 2},))
    assert not small.run(nt.K, nt.K).passed
    roomy = ExactRank("rank ≤ C", lambda v: v[nt.C], sizes=({nt.n: 5, nt.m: 4, nt.C: 2},))
    assert not roomy.run(nt.K, nt.K).passed  # K = ΦᵀΦ has rank 4 > 2
    assert roomy.run(nt.K, nt.Y.T * nt.Y).passed


def test_statement_sides_render_as_text_and_relations_without_a_false_equals():
    import theory

    reduced = theory.derive_readout(theory.losses.squared(2)).step("reduced objective").latex()
    assert reduced.startswith(r"\text{min_W L} =")
    threshold = theory.derive_water_filling(theory.losses.squared(2)).step("threshold").latex()
    assert r"\iff" in threshold and " = " not in threshold
    plain = theory.derive_readout(theory.losses.squared(2)).step("output gradient").latex()
    assert r"\text" not in plain and "f_{1}" in plain


def test_a_ground_truth_at_double_precision_does_not_pass_a_60_digit_comparison():
    """Rational − Float is evaluated at the Float's precision; compare evaluates both sides at 60 digits first."""
    from theory.certify import compare

    assert not compare(sp.Matrix([sp.Rational(1, 3)]), sp.Matrix([sp.Float(1 / 3)]))[0]
    assert compare(sp.Matrix([sp.Rational(1, 3)]), sp.Matrix([sp.N(sp.Rational(1, 3), 60)]))[0]
    assert compare(sp.Matrix([sp.sqrt(2)]), sp.Matrix([sp.N(sp.sqrt(2), 60)]))[0]
