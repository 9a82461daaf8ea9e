"""The model engine's survivors of the first mutation run (benchmarks/mutation.py model_engine), each killed by the
behaviour it changed: two-factor traces in a coefficient, I sized by its neighbour, the names in a shape error, the
declared properties of the exact instances, a non-convex readout term after a term without W, the name of the
K-gradient step."""
import random

import pytest
import sympy as sp

import theory
from theory import model_derivation as md, notation as nt
from theory.objective_language import parse_objective
from verify.claims.model import kernel_ode_errors
from verify.claims.registry import Context
from verify.core.tolerances import TOL
from verify.flows.model_flow import model_rhs

BASE = "0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)"


def test_model_a_two_factor_trace_in_the_drive_is_kept_whole():
    """(ν/4)tr(ΦMΦᵀ)² puts ν·tr(MK)·M into A: the coefficient's trace of two factors must stay tr(MK)."""
    model = theory.derive_model(BASE + " + nu/4*tr(Phi@M@Phi.T)**2",
                                declare={"nu": "positive", "M": "n x n symmetric positive definite"})
    assert model.certified and model.closed and model.rank_bound == nt.C and model.convex
    M = sp.MatrixSymbol("M", nt.n, nt.n)
    assert sp.Trace(M * nt.K) in model.drive.atoms(sp.Trace) or sp.Trace(nt.K * M) in model.drive.atoms(sp.Trace)
    errors = kernel_ode_errors(model, model_rhs(model), Context(seed=2), 2)
    assert max(errors) <= TOL.model_objective


def test_model_I_takes_the_size_of_the_matrix_it_is_added_to():
    parsed = parse_objective("mu/2*tr(Phi@(I + nu*M)@Phi.T)",
                             {"nu": "positive", "M": "n x n symmetric positive semidefinite"})
    (identity,) = parsed.objective.atoms(sp.Identity)
    assert identity.shape == (nt.n, nt.n)
    model = theory.derive_model(BASE.replace("mu/2*fro2(Phi)", "mu/2*tr(Phi@(I + nu*M)@Phi.T)"),
                                declare={"nu": "positive", "M": "n x n symmetric positive semidefinite"})
    assert model.certified and model.closed and model.rank_bound == nt.C


@pytest.mark.parametrize("text, message", [
    ("tr((Phi + Y)@(Phi + Y).T)", "cannot add a m × n and a C × n matrix"),
    ("tr((Phi - W)@(Phi - W).T)", "cannot subtract a m × n and a C × m matrix"),
])
def test_model_a_shape_error_names_both_shapes(text, message):
    with pytest.raises(ValueError) as error:
        parse_objective(text)
    assert message in str(error.value)


def test_model_exact_instances_have_the_declared_properties():
    declare = {"P": "n x n symmetric positive definite", "Q": "n x n symmetric positive semidefinite",
               "D": "n x n diagonal positive definite", "G": "n x n symmetric", "F": "m x n"}
    parsed = parse_objective("tr(Phi@(P + Q + D + G)@Phi.T) + tr(F@Phi.T)", declare)
    rng = random.Random(3)
    for _ in range(3):
        values = md.sampler(parsed)(rng, {nt.n: 3, nt.m: 2, nt.C: 2})
        named = {M.name: sp.Matrix(values[M]) for M in parsed.matrices.values()}
        assert named["P"].is_positive_definite and named["P"] == named["P"].T
        assert named["Q"].is_positive_semidefinite and named["Q"] == named["Q"].T
        assert named["D"].is_diagonal() and all(named["D"][i, i] > 0 for i in range(3))
        assert named["G"] == named["G"].T and named["F"].shape == (2, 3)


@pytest.mark.parametrize("text", [
    "mu/2*fro2(Phi) - lam/2*fro2(W) + 0.5*fro2(W@Phi - Y)",
    "0.5*fro2(W@Phi - Y) + mu/2*fro2(Phi) - lam/4*fro2(W@W.T)",
    "0.5*fro2(W@Phi - Y) + mu/2*fro2(Phi) + lam/4*fro2(W)**2",
    "0.5*fro2(W@Phi - Y) + mu/2*fro2(Phi) - nu*tr(W@Phi@Phi.T@W.T)",
])
def test_model_every_term_is_checked_for_convexity_in_W(text):
    """A term without W before the offending one does not end the check: the non-convex readout term is found."""
    parsed = parse_objective(text, {"nu": "positive"} if "nu" in text else None)
    has_W = [t.has(nt.W) for t in sp.Add.make_args(sp.expand(parsed.objective, deep=False))]
    assert has_W.index(False) < len(has_W) - 1 and has_W[-1], "the case needs a W-free term before the last"
    model = theory.derive_model(text, declare={"nu": "positive"} if "nu" in text else None)
    assert not model.eliminable and "W cannot be eliminated: the term" in model.reason


def test_model_the_K_gradient_step_is_named_like_the_others():
    model = theory.derive_model(BASE)
    names = [str(model.step(f"gradient in {v}").lhs) for v in ("W", "Phi", "K")]
    assert names == ["dL/dW", "dL/dPhi", "dL/dK"]


def test_model_an_inverse_in_the_objective_is_differentiated_with_its_sign_and_no_rank_is_claimed():
    """(ν/2)tr((I + ΦᵀΦ)⁻¹) rewards growth: d(A⁻¹) = −A⁻¹dA A⁻¹ gives A = … + ν(I + K)⁻², no N ≻ 0, so no rank bound —
    and rightly: with ν > μ every mode fills, rank K∞ > C."""
    import numpy as np

    from verify.core.linalg import confirmed_rank
    from verify.flows.model_flow import model_steady_state
    from verify.truth import instances

    model = theory.derive_model(BASE + " + nu/2*tr(inv(I + Phi.T@Phi))", declare={"nu": "positive"})
    assert model.certified and model.closed and model.convex and model.rank_bound is None
    assert "not certified positive definite" in model.reasons["rank"]
    assert max(kernel_ode_errors(model, model_rhs(model), Context(seed=4), 2, {"nu": 0.5})) <= TOL.model_objective
    rng = np.random.default_rng(0)
    Y = instances.real_labels(rng, 6, 2)
    K = model_steady_state(model, instances.generic_kernel(rng, 6), Y, lam=0.5, mu=0.05, nu=0.5)
    assert confirmed_rank(K) > 2


def test_model_a_variable_multiplied_from_the_left_is_eliminated():
    """U (m × C) with Φᵀ·U: ∂L/∂U = (ΦΦᵀ + λI)U − ΦYᵀ, solved as U* = A⁻¹(…) — T2's flow again."""
    model = theory.derive_model("0.5*fro2(Phi.T@U - Y.T) + lam/2*fro2(U) + mu/2*fro2(Phi)", declare={"U": "m x C"},
                                eliminate=("U",))
    assert model.certified and model.eliminable and model.closed and model.rank_bound == nt.C
    assert model.kernel_rhs == theory.derive_model(BASE).kernel_rhs


def test_model_reasons_name_what_was_not_derived():
    model = theory.derive_model(BASE + " + nu/2*tr(Phi@M@Phi.T)",
                                declare={"nu": "positive", "M": "n x n symmetric positive definite"})
    assert model.mode_rhs is None and "no per-mode law" in model.reasons["mode"]


def test_model_sympys_zero_is_accepted_where_the_gradient_is_zero():
    """A term that cancels: the gradient in b is 0, and SymPy's zero then passes the same certificate."""
    text = BASE + " + tr(b@ones(n).T@ones(n)@b.T) - tr(ones(n).T@ones(n)@b.T@b)"
    model = theory.derive_model(text, declare={"b": "C x 1"}, eliminate=("b", "W"))
    assert "SymPy's matrix derivative agrees" in model.step("gradient in b").statement
    assert not model.eliminable and "b cannot be eliminated" in model.reason


MU_PHI = nt.mu * sp.Trace(nt.Phi * nt.Phi.T)


@pytest.mark.parametrize("text, expected", [
    ("mu*fro2(Phi)\u00a0", MU_PHI),  # a pasted non-breaking space (tokenize's ERRORTOKEN) is whitespace
    ("mu*fro2(Phi)\r", MU_PHI),
    ("+mu*fro2(Phi)", MU_PHI),
    ("- -mu*fro2(Phi)", MU_PHI),
    ("mu*tr(Phi@inv(2*I)@Phi.T)", MU_PHI / 2),
])
def test_model_objective_text_reads_as_written(text, expected):
    from theory.certify import evaluate, standard_instance

    values = standard_instance(random.Random(1), {nt.n: 3, nt.m: 2, nt.C: 2})
    assert evaluate(parse_objective(text).objective, values) == evaluate(expected, values)


@pytest.mark.parametrize("text, message", [
    ("0b11*fro2(Phi)", "number '0b11' is not a plain real literal"),
    ("0B11*fro2(Phi)", "number '0B11' is not a plain real literal"),
    ("0o7*fro2(Phi)", "number '0o7' is not a plain real literal"),
    ("mu**65*fro2(Phi)", "an exponent must be an integer of magnitude at most 64, got 65"),
    ("tr(I + 2)", "cannot add I to a scalar (write c*I for a matrix, or drop I)"),
    ("fro2(Phi + I)", "cannot add I to a m × n matrix (not square)"),
    ("tr(Phi*Phi.T)", "'*' multiplies by a scalar; for the product of a m × n and a n × m matrix use @"),
])
def test_model_objective_text_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError) as error:
        parse_objective(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_model_readout_and_step_texts_are_reported():
    """From the second fresh sample: the readout field, the rank step's statement, the threshold-direction check's name."""
    from theory.certify import evaluate, standard_instance

    model = theory.derive_model(BASE)
    values = standard_instance(random.Random(2), {nt.n: 3, nt.m: 2, nt.C: 2})
    R = sp.Inverse(nt.lam * sp.Identity(nt.n) + nt.K)
    assert evaluate(model.readout["W"], values) == evaluate(nt.Y * R * nt.Phi.T, values)
    assert "each through a factor of that size" in model.step("rank bound").statement
    assert model.step("threshold direction").certificate.summary().endswith(" at ∂a(0,s)/∂s")


@pytest.mark.parametrize("text, message", [
    ("tr(Phi@mu)", "'@' multiplies two matrices, got m × n and a scalar (use * for scalars)"),
    ("tr(Phi@T)", "'T' is only allowed as '.T'"),
])
def test_model_objective_text_errors_name_the_operands(text, message):
    with pytest.raises(ValueError) as error:
        parse_objective(text)
    assert message in str(error.value)
