"""The public derivation API (theory.DerivationBuilder): each certifying method certifies true steps and rejects
wrong ones, steps are reused from other derivations, code is generated from certified steps only, and a registered
derivation is shown by ``kflow derive``."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import theory
import verify
from theory import notation as nt
from theory.certify import evaluate, exact_directional_derivative, lifted_derivative, standard_instance
from theory.derivation_builder import DerivationBuilder, register_derivation
from verify.campaign.cli import main

R = (nt.K + nt.lam * nt.I_n).I
OBJECTIVE = nt.lam / 2 * sp.Trace(nt.Y * (nt.Phi.T * nt.Phi + nt.lam * nt.I_n).I * nt.Y.T) \
    + nt.mu / 2 * sp.Trace(nt.Phi.T * nt.Phi)
DRIVE = nt.lam * R * nt.S * R
GRADIENT = nt.Phi * (nt.mu * nt.I_n - DRIVE)       # ∇_Φ of the reduced objective (T2's feature flow, negated)
dL = sp.MatrixSymbol("dL/dPhi", nt.m, nt.n)
E = sp.MatrixSymbol("E", nt.n, nt.n)


def _builder():
    return DerivationBuilder("X9", "test derivation")


def test_identity_certifies_a_true_step_and_rejects_a_false_one():
    b = _builder()
    assert b.identity("resolvent", "KR + λR = I", nt.K * R + nt.lam * R, nt.I_n).certificate.passed
    assert not b.identity("wrong", "KR = I", nt.K * R, nt.I_n).certificate.passed


@pytest.mark.parametrize("wrong", [
    nt.Phi * (nt.mu * nt.I_n - 2 * DRIVE),            # a factor 2 on the drive
    nt.Phi * (nt.mu / 2 * nt.I_n - DRIVE),            # half the decay
    nt.Phi * (nt.mu * nt.I_n - nt.lam * R * nt.S),    # one resolvent dropped
    nt.Phi * (DRIVE - nt.mu * nt.I_n),                # the sign
])
def test_gradient_is_checked_against_the_exact_derivative_of_the_objective(wrong):
    """T2's feature gradient of L*(Φ) passes; each wrong version fails the same check."""
    b = _builder()
    step = b.gradient("feature gradient", "∇_Φ L*", dL, GRADIENT, objective=OBJECTIVE, variable=nt.Phi,
                      substitute={nt.K: nt.Phi.T * nt.Phi, nt.S: nt.Y.T * nt.Y})
    assert step.certificate.passed, step.certificate.detail
    assert not step.recheck(rhs=wrong).passed


def test_gradient_refuses_a_matrix_objective_and_a_non_matrix_variable():
    with pytest.raises(ValueError, match="objective must be a scalar"):
        _builder().gradient("g", "s", dL, GRADIENT, objective=nt.Phi, variable=nt.Phi)
    with pytest.raises(TypeError, match="variable must be a sympy MatrixSymbol"):
        _builder().gradient("g", "s", dL, GRADIENT, objective=OBJECTIVE, variable=nt.lam)


def test_derivative_checks_a_jacobian_and_rejects_the_transposed_rule():
    """d/dt (K + tE)⁻¹ = −R E R; the wrong order R R E is rejected (E symmetric, R E R ≠ R² E)."""
    b = _builder()
    step = b.derivative("inverse rule", "d(R) = −R E R", sp.Symbol("dR"), -R * E * R, function=R, variable=nt.K,
                        direction=E)
    assert step.certificate.passed
    assert not step.recheck(rhs=-R * R * E).passed


def test_the_exact_derivative_agrees_with_block_matrix_arithmetic():
    """Two independent exact derivatives of the resolvent's drive: Q[t]/(t²) evaluation and the block lift."""
    import random

    values = standard_instance(random.Random(3), {nt.n: 3, nt.m: 2, nt.C: 2})
    A = sp.Matrix(3, 3, lambda i, j: sp.Rational(i + 2 * j + 1, 3))
    values[E] = sp.ImmutableMatrix(A + A.T)
    exact = exact_directional_derivative(DRIVE, values, nt.K, values[E])
    assert exact == lifted_derivative(DRIVE, values, nt.K, E)
    assert exact != lifted_derivative(2 * DRIVE, values, nt.K, E)


def test_first_order_evaluation_keeps_value_and_slope_exact():
    import random

    values = standard_instance(random.Random(1), {nt.n: 3, nt.m: 3, nt.C: 1})
    t = sp.Symbol("t")
    moved = dict(values)
    moved[nt.K] = sp.ImmutableMatrix(values[nt.K] + t * sp.eye(3))
    truncated = evaluate(sp.Trace(R * R * nt.S), moved, first_order_in=t)
    full = evaluate(sp.Trace(R * R * nt.S), moved)
    assert sp.simplify(truncated.subs(t, 0) - full.subs(t, 0)) == 0
    assert sp.simplify(sp.diff(truncated, t).subs(t, 0) - sp.diff(full, t).subs(t, 0)) == 0


def test_rank_with_an_expression_lhs_also_checks_the_identity():
    b = _builder()
    sizes = ({nt.n: 5, nt.m: 4, nt.C: 2},)
    G = -nt.lam * nt.Y * R
    step = b.rank("drive", "D = GᵀG/λ has rank ≤ C", G.T * G / nt.lam, DRIVE, bound=lambda v: v[nt.C], sizes=sizes)
    assert step.certificate.passed
    assert not step.recheck(rhs=2 * DRIVE).passed                                       # scale: the identity
    assert not step.recheck(rhs=DRIVE + nt.K).passed                                    # rank and identity


def test_symbolic_and_definition_steps():
    b = _builder()
    assert b.symbolic("square", "(a + 1)² − a² = 2a + 1", (nt.lam + 1) ** 2 - nt.lam**2, 2 * nt.lam + 1).certificate.passed
    assert not b.symbolic("bad", "(a + 1)² − a² = 2a", (nt.lam + 1) ** 2 - nt.lam**2, 2 * nt.lam).certificate.passed
    definition = b.define("model", "the setting", sp.Symbol("L"), OBJECTIVE)
    assert definition.is_definition


def test_steps_are_reused_with_their_certificates_and_names_stay_unique():
    b = _builder()
    (push,) = b.reuse(theory.derive_readout(theory.losses.squared(2)), "push-through")
    assert push.claim == "T1" and push.holds
    with pytest.raises(ValueError, match="already has a step named"):
        b.reuse(theory.derive_readout(theory.losses.squared(2)), "push-through")
    with pytest.raises(ValueError, match="already has a step named"):
        b.identity("push-through", "again", nt.K, nt.K)
    with pytest.raises(TypeError, match="theory.Derivation"):
        b.reuse("T1")


def test_a_derivation_of_definitions_alone_is_not_certified_and_an_empty_one_is_refused():
    b = _builder()
    with pytest.raises(ValueError, match="at least one step"):
        b.build()
    b.define("model", "only a definition", sp.Symbol("L"), OBJECTIVE)
    assert not b.build().certified


def test_results_are_named_and_code_is_generated_from_certified_steps_only():
    b = _builder()
    good = b.gradient("feature gradient", "∇_Φ L*", dL, GRADIENT, objective=OBJECTIVE, variable=nt.Phi,
                      substitute={nt.K: nt.Phi.T * nt.Phi, nt.S: nt.Y.T * nt.Y})
    bad = b.identity("wrong", "KR = I", nt.K * R, nt.I_n)
    derivation = b.build(gradient=GRADIENT)
    assert derivation.gradient == GRADIENT and not derivation.certified
    with pytest.raises(AttributeError, match="results are"):
        derivation.nothing
    code = verify.step_function(good, (nt.Phi, nt.Y, nt.lam, nt.mu),
                                substitute={nt.K: nt.Phi.T * nt.Phi, nt.S: nt.Y.T * nt.Y})
    rng = np.random.default_rng(0)
    Phi, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    K = Phi.T @ Phi
    Rn = np.linalg.inv(K + 0.3 * np.eye(5))
    assert np.allclose(code(Phi, Y, 0.3, 0.1), Phi @ (0.1 * np.eye(5) - 0.3 * Rn @ Y.T @ Y @ Rn), rtol=1e-12)
    with pytest.raises(ValueError, match="not certified"):
        verify.step_function(bad, (nt.K, nt.lam))


def test_bad_ids_are_refused():
    with pytest.raises(ValueError, match="claim must be"):
        DerivationBuilder("has space")
    with pytest.raises(ValueError, match="already registered"):
        register_derivation("T2", "again", lambda C=2: None)
    with pytest.raises(TypeError, match="build must be"):
        register_derivation("X77", "no function", "not callable")


def test_a_registered_derivation_is_shown_by_kflow_derive(capsys, monkeypatch):
    monkeypatch.setitem(theory.DERIVATIONS, "X8", ("a test derivation", lambda C=2: _one_step("X8")))
    assert main(["derive", "X8", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "X8" in out and "resolvent" in out and "certified" in out


def test_a_registered_failing_derivation_exits_1(capsys, monkeypatch):
    def failing(C=2):
        b = DerivationBuilder("X7")
        b.identity("wrong", "KR = I", nt.K * R, nt.I_n)
        return b.build()

    monkeypatch.setitem(theory.DERIVATIONS, "X7", ("fails", failing))
    assert main(["derive", "X7"]) == 1
    assert "FAILED" in capsys.readouterr().out


def _one_step(claim):
    b = DerivationBuilder(claim)
    b.identity("resolvent", "KR + λR = I", nt.K * R + nt.lam * R, nt.I_n)
    return b.build()


def test_a_registered_build_that_raises_or_returns_no_derivation_exits_2(capsys, monkeypatch):
    def raises(C=2):
        raise RuntimeError("my bug")

    monkeypatch.setitem(theory.DERIVATIONS, "X6", ("raises", raises))
    assert main(["derive", "X6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "my bug" in err[0]
    monkeypatch.setitem(theory.DERIVATIONS, "X5", ("not a derivation", lambda C=2: "steps"))
    assert main(["derive", "X5"]) == 2
    assert "not a theory.Derivation" in capsys.readouterr().err


def test_latex_format_is_a_fragment_with_one_equation_per_step(capsys, monkeypatch):
    monkeypatch.setitem(theory.DERIVATIONS, "X8", ("a test derivation", lambda C=2: _one_step("X8")))
    assert main(["derive", "X8", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert out.count(r"\begin{equation*}") == out.count(r"\end{equation*}") == 1
    assert r"\begin{enumerate}" in out and r"\end{enumerate}" in out and r"\subsection*{X8" in out
    assert "% [X8 · resolvent]" in out


# --- kill tests: what the mutation run of theory/derivation_builder.py found untested ---

def test_errors_name_the_derivation_and_the_argument():
    derivation = _one_step("X4")
    with pytest.raises(AttributeError, match="'X4' has no attribute or result"):
        derivation.missing
    with pytest.raises(TypeError, match="title must be a str"):
        DerivationBuilder("X4", title=3)
    with pytest.raises(TypeError, match="statement must be a non-empty str"):
        _builder().identity("name", None, nt.K, nt.K)


def test_the_directions_of_a_gradient_check_are_reproducible():
    def cases():
        step = _builder().gradient("g", "∇_Φ L*", dL, GRADIENT, objective=OBJECTIVE, variable=nt.Phi,
                                   substitute={nt.K: nt.Phi.T * nt.Phi, nt.S: nt.Y.T * nt.Y})
        return [values for _, values, _ in step.check.cases()]

    assert cases() == cases()


def test_a_direction_along_K_is_symmetric():
    """d/dt (K + tE) = E, and Eᵀ equals it only because a direction of the symmetric K is drawn symmetric."""
    step = _builder().derivative("transpose", "d/dt K = Eᵀ for symmetric E", sp.Symbol("dK"), E.T, function=nt.K,
                                 variable=nt.K, direction=E)
    assert step.certificate.passed


def test_substitutions_reach_the_gradient_check():
    """The rhs in terms of a symbol D of an earlier step is certified only with D replaced by its formula."""
    D = sp.MatrixSymbol("D", nt.n, nt.n)
    step = _builder().gradient("g", "∇_Φ L* = Φ(μI − D)", dL, nt.Phi * (nt.mu * nt.I_n - D), objective=OBJECTIVE,
                               variable=nt.Phi, substitute={D: DRIVE})
    assert step.certificate.passed


def test_a_rank_step_evaluates_its_identity_on_the_given_sample():
    import random as random_module

    Gam = sp.MatrixSymbol("Gam", nt.n, nt.n)

    def sample(rng: random_module.Random, dims):
        values = standard_instance(rng, dims)
        values[Gam] = sp.ImmutableMatrix(sp.diag(*range(1, dims[nt.n] + 1)))
        return values

    step = _builder().rank("weighted drive", "ΓD has rank ≤ C", Gam * DRIVE, Gam * DRIVE, bound=lambda v: v[nt.C],
                           sizes=({nt.n: 5, nt.m: 4, nt.C: 2},), sample=sample)
    assert step.certificate.passed and step.statement == "ΓD has rank ≤ C"


def test_symbolic_steps_name_their_assumptions_and_against_steps_use_the_truth():
    b = _builder()
    step = b.symbolic("abs", "|λ| = λ", sp.Abs(nt.lam), nt.lam, assumptions="λ > 0")
    assert step.certificate.passed and "λ > 0" in step.certificate.method
    import random as random_module

    def instances():
        return [("n=3", standard_instance(random_module.Random(0), {nt.n: 3, nt.m: 2, nt.C: 1}))]

    def truth(values):
        return sp.Matrix(values[nt.K]) * 2

    assert b.against("twice K", "2K", nt.K, 2 * nt.K, truth=truth, instances=instances).certificate.passed
    assert not b.against("thrice K", "3K", nt.K, 3 * nt.K, truth=truth, instances=instances).certificate.passed


def test_derivative_names_its_method_and_refuses_a_direction_of_another_shape():
    step = _builder().derivative("inverse rule", "d(R) = −R E R", sp.Symbol("dR"), -R * E * R, function=R,
                                 variable=nt.K, direction=E)
    assert step.certificate.method == "exact directional derivative"
    with pytest.raises(ValueError, match="direction must be a MatrixSymbol"):
        _builder().derivative("d", "s", sp.Symbol("dR"), -R * E * R, function=R, variable=nt.K,
                              direction=sp.MatrixSymbol("E2", nt.n, nt.m))


def test_a_gradient_in_K_uses_symmetric_directions():
    """For L(K) = tr(KM) with M = SΦᵀΦ not symmetric, M itself is a gradient for symmetric directions (tr(MᵀE) =
    tr(ME) when E = Eᵀ) though not for all: the check must draw symmetric E for K."""
    M = nt.S * nt.Phi.T * nt.Phi
    step = _builder().gradient("g", "∇_K tr(KM) = M on symmetric directions", sp.MatrixSymbol("dL/dK", nt.n, nt.n), M,
                               objective=sp.Trace(nt.K * M), variable=nt.K)
    assert step.certificate.passed


def test_a_rank_steps_identity_sees_the_substitution():
    Gs = sp.MatrixSymbol("G", nt.C, nt.n)
    step = _builder().rank("drive", "D = GᵀG/λ has rank ≤ C", Gs.T * Gs / nt.lam, DRIVE, bound=lambda v: v[nt.C],
                           sizes=({nt.n: 5, nt.m: 4, nt.C: 2},), substitute={Gs: -nt.lam * nt.Y * R})
    assert step.certificate.passed


def test_reuse_without_names_takes_every_step():
    t4 = theory.derive_rank_lemma()
    assert _builder().reuse(t4) == list(t4.steps)


def test_register_derivation_stores_title_and_build_and_definitions_keep_their_sides(monkeypatch):
    monkeypatch.setattr(theory, "DERIVATIONS", dict(theory.DERIVATIONS))
    build = lambda C=2: _one_step("X3")  # noqa: E731
    register_derivation("x3", "a title", build)
    assert theory.DERIVATIONS["X3"] == ("a title", build)
    step = _builder().define("model", "the objective", sp.Symbol("L"), OBJECTIVE)
    assert (step.lhs, step.rhs) == (sp.Symbol("L"), OBJECTIVE)
    with pytest.raises(TypeError, match="step 'g': variable"):
        _builder().gradient("g", "s", dL, GRADIENT, objective=OBJECTIVE, variable=nt.lam)
