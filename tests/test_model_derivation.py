"""derive_model — a model derived from its objective alone: the corpus (closed models agree with the complex-step
derivative of their objective and keep rank ≤ their certified bound at their steady state; open ones are refused
with a reason), agreement with the hand-built T2, E1 and E2, mutated engine rules caught by the certificates, and
hostile objective text refused in one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import theory
from theory import matrix_terms as mt, model_derivation as md, notation as nt
from theory.objective_language import parse_objective
from verify.claims.model import check_model, kernel_ode_errors, steady_states
from verify.claims.model_corpus import BY_NAME, CORPUS
from verify.claims.registry import Context
from verify.core.linalg import confirmed_rank, relative_error
from verify.core.tolerances import TOL
from verify.flows.extensions import bias_rhs, penalty_rhs
from verify.flows.kernel_ode import kernel_ode_rhs
from verify.flows.model_flow import model_rhs
from verify.truth import instances

CLOSED = [c for c in CORPUS if c.closed]
OPEN = [c for c in CORPUS if not c.closed]


def derive(entry):
    return theory.derive_model(entry.objective, declare=entry.declare, eliminate=entry.eliminate)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda c: c.name)
def test_model_corpus_derivation_is_certified(entry):
    model = derive(entry)
    assert model.certified, [s.name for s in model.steps if not s.holds]
    assert model.closed is entry.closed, model.reason
    assert all(not step.is_definition for step in model.steps[1:]), "only the model's statement is a definition"


@pytest.mark.parametrize("entry", CLOSED, ids=lambda c: c.name)
def test_model_closed_rhs_agrees_with_the_objective_to_1e_8(entry):
    """The generated dK/dt against the complex-step derivative of the objective through the readout eliminated from
    values alone; the same judge rejects the rhs with its drive doubled."""
    model = derive(entry)
    rhs = model_rhs(model)
    errors = kernel_ode_errors(model, rhs, Context(seed=3), 2, entry.values)
    assert max(errors) <= TOL.model_objective, errors
    wrong = kernel_ode_errors(model, lambda K, Y, **v: 2 * rhs(K, Y, **v), Context(seed=3), 2, entry.values)
    assert min(wrong) > 1e3 * TOL.model_objective


@pytest.mark.parametrize("entry", [c for c in CLOSED], ids=lambda c: c.name)
def test_model_rank_bound_holds_at_the_computed_steady_state(entry):
    model = derive(entry)
    assert model.rank_bound is not None, model.reasons
    for K, Y, _ in steady_states(model, Context(seed=5), 2, entry.values):
        assert K is not None, "the flow did not reach a steady state"
        assert confirmed_rank(K) <= int(model.rank_bound.xreplace({nt.C: Y.shape[0]}))


@pytest.mark.parametrize("entry", OPEN, ids=lambda c: c.name)
def test_model_open_models_are_refused_with_a_reason(entry):
    model = derive(entry)
    assert not model.closed and model.kernel_rhs is None
    assert entry.refusal in model.reason, model.reason
    with pytest.raises(ValueError, match="no kernel ODE"):
        model_rhs(model)


def test_model_baseline_reproduces_T2_and_T3():
    """The engine's rhs equals T2's generated rhs; its mode ODE, threshold and level equal T3's own derivation."""
    model = derive(BY_NAME["baseline (T2)"])
    rng = np.random.default_rng(0)
    K, Y = instances.generic_kernel(rng, 6), instances.real_labels(rng, 6, 2)
    assert relative_error(model_rhs(model)(K, Y, lam=0.4, mu=0.07), kernel_ode_rhs(K, Y, 0.4, 0.07)) < TOL.generated_code
    t3 = theory.derive_water_filling(theory.losses.squared(2))
    assert model.rank_bound == nt.C
    assert sp.simplify(model.mode_rhs - t3.mode_rhs) == 0
    assert sp.simplify(model.level - t3.kappa_star) == 0
    assert sp.simplify(model.threshold - t3.step("threshold").rhs.rhs) == 0


def test_model_engine_reproduces_the_hand_built_E1():
    model = derive(BY_NAME["readout bias (E1)"])
    hand = theory.derive_readout_bias(2)
    rng = np.random.default_rng(1)
    K, Y = instances.generic_kernel(rng, 7), instances.real_labels(rng, 7, 2)
    assert relative_error(model_rhs(model)(K, Y, lam=0.3, mu=0.05), bias_rhs(K, Y, 0.3, 0.05)) < TOL.generated_code
    assert model.rank_bound == nt.C and hand.step("rank, any labels").certificate.passed


def test_model_engine_reproduces_the_hand_built_E2():
    model = derive(BY_NAME["kernel penalty (E2)"])
    hand = theory.derive_kernel_penalty(2)
    rng = np.random.default_rng(2)
    K, Y = instances.generic_kernel(rng, 6), instances.real_labels(rng, 6, 2)
    assert relative_error(model_rhs(model)(K, Y, lam=0.3, mu=0.05, nu=0.7),
                          penalty_rhs(K, Y, 0.3, 0.05, 0.7)) < TOL.generated_code
    ratio = sp.cancel(model.level_equation.xreplace({sp.Symbol("nu", positive=True): theory.e2_kernel_penalty.nu})
                      / hand.results["level_equation"])
    assert ratio.free_symbols == set() and ratio != 0  # the same cubic, up to a constant
    assert model.rank_bound == nt.C and sp.simplify(model.threshold - nt.lam * nt.mu) == 0


def test_model_label_alignment_gets_the_bound_2C_not_C():
    """−α/2‖YΦᵀ‖² adds a drive through Yᵀ beside the readout's: two groups, bound 2C (certified, not guessed)."""
    assert derive(BY_NAME["label alignment"]).rank_bound == 2 * nt.C


def test_model_claim_passes_on_the_baseline():
    model = derive(BY_NAME["baseline (T2)"])
    verdict = check_model(model, Context(seed=1))
    assert verdict.passed, verdict.reason


# ------------------------------------------------------------------ mutated engine rules are caught by certificates


def _rederive(entry):
    parsed = parse_objective(entry.objective, entry.declare or None)
    return md.derive_model_uncached(parsed, entry.eliminate, 2)


def test_model_dropped_transpose_is_caught(monkeypatch):
    """transpose_atom that forgets the transpose of a non-symmetric symbol: a gradient certificate fails."""
    original = mt.transpose_atom
    monkeypatch.setattr(mt, "transpose_atom", lambda atom, sym: atom if isinstance(atom, sp.MatrixSymbol)
                        else original(atom, sym))
    model = _rederive(BY_NAME["baseline (T2)"])
    assert not model.certified


def test_model_wrong_push_through_is_caught(monkeypatch):
    """A push-through that moves Φ past the inverse without rewriting it ((ΦΦᵀ + λI)⁻¹Φ → Φ(ΦΦᵀ + λI)⁻¹ is not even
    well-shaped; moving it past with the inner kept in K's place) is refused by the rewriting's certificate."""
    def wrong(factors, X, symmetric):
        out = list(factors)
        for i in range(len(out) - 1):
            if isinstance(out[i], sp.Inverse) and out[i + 1] == X:
                out[i:i + 2] = [X, sp.Inverse(nt.K + nt.lam * 2 * nt.I_n)]
        return tuple(out)
    monkeypatch.setattr(mt, "push_through", wrong)
    model = _rederive(BY_NAME["baseline (T2)"])
    assert not model.certified or not model.closed


def test_model_missing_factor_two_is_caught(monkeypatch):
    """The power rule without its exponent (d aᵖ = aᵖ⁻¹ da): the gradient of tr(K)² fails its certificate."""
    original = mt.differential

    def wrong(expr, X, dX):
        if not isinstance(expr, sp.MatrixExpr) and expr.is_Pow and not expr.exp.has(X) and expr.has(X):
            return expr.base ** (expr.exp - 1) * original(expr.base, X, dX)
        return original(expr, X, dX)
    monkeypatch.setattr(mt, "differential", wrong)
    model = _rederive(BY_NAME["penalty on tr(K)^2"])
    assert not model.certified


def test_model_wrong_resolvent_absorption_is_caught(monkeypatch):
    """R·K = I − λR with the sign of λR flipped: the feature-flow identity fails."""
    original = mt.resolvent_of
    monkeypatch.setattr(mt, "resolvent_of", lambda a, b, s: None if original(a, b, s) is None else
                        (-original(a, b, s)[0], original(a, b, s)[1]))
    model = _rederive(BY_NAME["baseline (T2)"])
    assert not model.certified


def test_model_rank_bound_step_rejects_a_bound_too_low():
    model = derive(BY_NAME["label alignment"])
    step = model.step("rank bound")
    assert step.certificate.passed
    tighter = type(step.check)(step.check.identity, lambda v: v[nt.C], sizes=step.check.sizes, sample=step.check.sample,
                               seed=step.check.seed)
    assert not tighter.run(step.lhs, step.rhs).passed


# ------------------------------------------------------------------ hostile or malformed text

HOSTILE = [
    "__import__('os').system('touch /tmp/kflow_pwned')", "Phi.__class__", "lambda: 0", "W[0]", "eval('1')",
    "fro2(Phi", "fro2(Phi))", "Phi @", "tr(Phi)", "W * Phi", "fro2(Phi) ** 0.5", "fro2(Phi) ** 10**9", "'text'",
    "fro2(Phi) if 1 else 0", "[x for x in W]", "fro2(Phi); import os", "9" * 3000, "fro2(Phi)\n+ os",
    "inv(W)", "fro2(I)", "lam", "ones(m)", "1e999*fro2(Phi)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_model_hostile_text_is_refused_in_one_line(text):
    with pytest.raises(ValueError) as info:
        theory.derive_model(text)
    assert "\n" not in str(info.value) and str(info.value)
    assert not os.path.exists("/tmp/kflow_pwned")


@pytest.mark.parametrize("declare, phrase", [
    ({"os": "positive"}, None), ({"nu": "very big"}, "expected"), ({"W": "positive"}, "name of the language"),
    ({"M": "n x m symmetric"}, "square"), ({"__x": "positive"}, "plain name"), ({"M": "n x n purple"}, "unknown"),
])
def test_model_bad_declarations_are_refused(declare, phrase):
    if phrase is None:  # declaring a name is allowed; using an undeclared one is not
        assert theory.derive_model(BY_NAME["baseline (T2)"].objective + " + os*fro2(Phi)", declare=declare).closed
        return
    with pytest.raises(ValueError, match=phrase):
        theory.derive_model("0.5*fro2(Phi)", declare=declare)


# ------------------------------------------------------------------ the README's one call and one command, word for word


def test_model_readme_example_runs_word_for_word(tmp_path):
    import re
    import shlex

    from test_extending import README, _example, _kflow

    section = README.read_text().split("## Extending the theory", 1)[1].split("\n## ", 1)[0]
    lines = [shlex.split(line) for block in re.findall(r"```bash\n(.*?)```", section, re.S)
             for line in block.splitlines() if line.startswith("kflow ") and " --model " in line]

    (tmp_path / "my_model.py").write_text(_example("# my_model.py"))
    ran = subprocess.run([sys.executable, "my_model.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["True", "True", "C", "lambda*mu", "True", "True", "continuation", "True"], ran.stdout
    for prefix in ("kflow derive --model", "kflow verify --model"):
        (args,) = [line[1:] for line in lines if " ".join(line).startswith(prefix)]
        result = _kflow(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr + result.stdout
    (entry,) = json.loads((tmp_path / "model-report" / "report.json").read_text())["claims"]
    assert entry["id"] == "MODEL" and entry["verdict"]["passed"]


@pytest.mark.parametrize("args, code", [
    (["derive", "--model", "__import__('os')"], 2),
    (["derive", "--model", "fro2(Phi", "--declare", "nu"], 2),
    (["verify", "--model", "0.5*fro2(W@Phi - Y) + mu/2*fro2(Phi)"], 2),
    (["derive", "T2", "--declare", "nu=positive"], 2),
])
def test_model_cli_refuses_in_one_line(args, code, tmp_path):
    from test_extending import _kflow

    result = _kflow(*args, cwd=tmp_path)
    assert result.returncode == code and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
