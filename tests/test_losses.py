"""theory.losses and theory.loss_parser: derived gradients, convexity, affine gradients, the safe parser.

Gradients are checked against central finite differences of ``Loss.value`` in 30-digit arithmetic;
the parser is fed hostile text that would do something if it were ever evaluated, and must refuse
all of it with a ValueError saying what was wrong, executing nothing.
"""
import builtins
import random

import pytest
import sympy as sp
from hypothesis import example, given, strategies as st

from theory import loss_parser
from theory.losses import (
    REGISTRY,
    Loss,
    huber,
    logistic,
    parse,
    softmax_cross_entropy,
    squared,
)

DPS = 30
H = sp.Float("1e-12", DPS)

#: valid output counts per registered loss (logistic is binary, cross-entropy needs C >= 2)
VALID_C = {"squared": (1, 3), "softmax_cross_entropy": (2, 3), "logistic": (1,), "huber": (1, 2)}
REGISTRY_CASES = [(name, C) for name in REGISTRY for C in VALID_C.get(name, (2,))]


def _real(name):
    return sp.Symbol(name, real=True)


f1, f2, y1, y2 = (_real(n) for n in ("f1", "f2", "y1", "y2"))


def _random_point(loss: Loss, rng: random.Random):
    """30-digit floats for f and y; for Huber, kept at least 0.1 away from the kinks |f_k - y_k| = delta."""
    while True:
        f = [sp.Float(rng.uniform(-3, 3), DPS) for _ in range(loss.C)]
        y = [sp.Float(rng.uniform(-2, 2), DPS) for _ in range(loss.C)]
        if loss.name != "huber" or all(abs(abs(a - b) - 1) > 0.1 for a, b in zip(f, y)):
            return f, y


# ---------------------------------------------------------------------------------------------- registry


def test_registry_lists_the_four_losses_and_every_one_has_valid_output_counts_here():
    assert set(REGISTRY) == {"squared", "softmax_cross_entropy", "logistic", "huber"}
    assert set(REGISTRY) <= set(VALID_C), "a new loss needs its valid C in VALID_C"


@pytest.mark.parametrize("name,C", REGISTRY_CASES, ids=[f"{n}-C{c}" for n, c in REGISTRY_CASES])
def test_registry_gradient_matches_central_finite_differences_of_value(name, C):
    loss = REGISTRY[name](C)
    assert loss.C == C and loss.expr.free_symbols <= set(loss.f) | set(loss.y)
    grad = loss.gradient()
    assert grad.shape == (C, 1)
    rng = random.Random(f"{name}-{C}")
    for _ in range(4):
        f, y = _random_point(loss, rng)
        derived = grad.xreplace(dict(zip(loss.f, f)) | dict(zip(loss.y, y))).evalf(DPS)
        for k in range(C):
            up = [fj + H if j == k else fj for j, fj in enumerate(f)]
            down = [fj - H if j == k else fj for j, fj in enumerate(f)]
            fd = (loss.value(up, y).evalf(DPS) - loss.value(down, y).evalf(DPS)) / (2 * H)
            assert derived[k].is_real and fd.is_real
            # truncation O(h^2) ~ 1e-24, rounding ~ 1e-30 / 1e-12 = 1e-18
            assert abs(derived[k] - fd) <= sp.Float("1e-14") * (1 + abs(derived[k])), (name, C, k, f, y)


@pytest.mark.parametrize("name,C", REGISTRY_CASES, ids=[f"{n}-C{c}" for n, c in REGISTRY_CASES])
def test_registry_loss_is_proved_convex_in_f(name, C):
    result = REGISTRY[name](C).convexity()
    assert result.verdict == "convex", result.reason
    assert result.convex


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda: squared(0), "C"),
        (lambda: squared(True), "C"),
        (lambda: squared(-2), "C"),
        (lambda: squared(2.0), "C"),
        (lambda: softmax_cross_entropy(1), "C"),
        (lambda: huber(2, delta=0), "delta"),
        (lambda: huber(2, delta=-1), "delta"),
        (lambda: huber(0), "C"),
        (lambda: REGISTRY["logistic"](2), "C"),
    ],
    ids=["squared-0", "squared-True", "squared-neg", "squared-float", "ce-1", "huber-delta0", "huber-delta-neg",
         "huber-C0", "logistic-2"],
)
def test_constructors_reject_bad_arguments_with_message_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        make()


# ------------------------------------------------------------------------------------- affine gradients


@pytest.mark.parametrize("C", [1, 2, 3])
def test_affine_gradient_of_squared_is_one_minus_one(C):
    assert squared(C).affine_gradient() == (1, -1)


@pytest.mark.parametrize("loss", [softmax_cross_entropy(2), softmax_cross_entropy(3), logistic(), huber(1), huber(2)],
                         ids=["ce2", "ce3", "logistic", "huber1", "huber2"])
def test_affine_gradient_is_none_for_non_quadratic_losses(loss):
    assert loss.affine_gradient() is None


def test_affine_gradient_of_parsed_scaled_squared_loss_is_three_minus_three():
    assert parse("3*(f1-y1)**2/2", 1).affine_gradient() == (3, -3)


# --------------------------------------------------------------------------------------- parse: accepted

ACCEPTED = [
    ("log(1 + exp(-y1*f1))", 1, sp.log(1 + sp.exp(-y1 * f1))),
    ("softplus(-y1*f1)", 1, sp.log(1 + sp.exp(-y1 * f1))),
    ("0.5*(f1-y1)**2 + abs(f2-y2)**3", 2, sp.Rational(1, 2) * (f1 - y1) ** 2 + sp.Abs(f2 - y2) ** 3),
    ("log(exp(f1)+exp(f2)) - y1*f1 - y2*f2", 2, sp.log(sp.exp(f1) + sp.exp(f2)) - y1 * f1 - y2 * f2),
    ("max(0, 1 - y1*f1)**2", 1, sp.Max(0, 1 - y1 * f1) ** 2),
    ("logcosh(f1 - y1)", 1, sp.log(sp.cosh(f1 - y1))),
    ("1e-3*f1**2", 1, f1**2 / 1000),
    ("2.5E+2*f1 - .25*y1", 1, 250 * f1 - y1 / 4),
    ("  f1**2\n", 1, f1**2),
]


@pytest.mark.parametrize("text,C,expected", ACCEPTED, ids=[t for t, _, _ in ACCEPTED])
def test_parse_accepts_whitelisted_text_and_builds_the_exact_expression(text, C, expected):
    loss = parse(text, C)
    assert isinstance(loss, Loss) and loss.C == C and isinstance(loss.expr, sp.Expr)
    assert loss.expr == expected  # structurally, with exact rationals (no floats)
    assert not loss.expr.atoms(sp.Float)
    assert loss.expr.free_symbols <= set(loss.f) | set(loss.y)
    assert loss.expr.free_symbols & set(loss.f)


def test_parse_exponent_literal_is_an_exact_rational():
    assert parse("1e-3*f1**2", 1).expr == f1**2 / 1000
    assert parse("1e-3*f1**2", 1).expr.as_coeff_Mul()[0] == sp.Rational(1, 1000)


def test_parse_softplus_logistic_equals_the_builtin_logistic_loss():
    assert parse("softplus(-y1*f1)", 1).expr == logistic().expr


def test_parse_softmax_cross_entropy_text_equals_the_builtin_loss():
    parsed = parse("log(exp(f1)+exp(f2)) - y1*f1 - y2*f2", 2)
    assert sp.simplify(parsed.expr - softmax_cross_entropy(2).expr) == 0
    assert parsed.affine_gradient() is None


@pytest.mark.parametrize("text,verdict", [("-f1**2", "not convex"), ("f1**4 - f1**2 + y1", "not convex"),
                                          ("logcosh(f1-y1)", "convex"), ("log(1 + exp(-y1*f1))", "convex")])
def test_parse_convexity_verdicts(text, verdict):
    result = parse(text, 1).convexity()
    assert result.verdict == verdict, result.reason


def test_parse_rejects_bad_output_count():
    with pytest.raises(ValueError, match=r"\bC\b"):
        parse("f1", 0)
    with pytest.raises(ValueError, match=r"\bC\b"):
        parse("f1", True)


# --------------------------------------------------------------------------------------- parse: hostile

#: (text, pattern the error message must match); parsed with C = 2
HOSTILE = [
    ("f1.__class__", r"operator '\.' is not allowed"),
    ("(f1).real", r"operator '\.' is not allowed"),
    ("f1.__class__.__bases__[0].__subclasses__()", r"operator '\.' is not allowed"),
    ("__import__('os')", r"name '__import__' is not allowed"),
    ("__import__('os').system('true')", r"name '__import__' is not allowed"),
    ("__builtins__", r"name '__builtins__' is not allowed"),
    ("open('x','w')", r"name 'open' is not allowed"),
    ("eval('1')", r"name 'eval' is not allowed"),
    ("exec('x=1')", r"name 'exec' is not allowed"),
    ("getattr(f1,'x')", r"name 'getattr' is not allowed"),
    ("globals()", r"name 'globals' is not allowed"),
    ("print(1)", r"name 'print' is not allowed"),
    ("Symbol('f1')", r"name 'Symbol' is not allowed"),
    ("f1 = 2", r"operator '=' is not allowed"),
    ("import os", r"name 'import' is not allowed"),
    ("del f1", r"name 'del' is not allowed"),
    ("f1; f2", r"operator ';' is not allowed"),
    ("lambda: f1", r"name 'lambda' is not allowed"),
    ("(lambda x: x)(f1)", r"name 'lambda' is not allowed"),
    ("f1 if y1 else f2", r"name 'if' is not allowed"),
    ("[f1 for f1 in y1]", r"operator '\[' is not allowed"),
    ("f1[0]", r"operator '\[' is not allowed"),
    ("'f1'", r"string literals are not allowed"),
    ("f'{f1}'", r"string literals are not allowed|unexpected token"),
    ("b'f1'", r"string literals are not allowed"),
    ("1j*f1", r"number '1j' is not a plain real literal"),
    ("0x10*f1", r"number '0x10' is not a plain real literal"),
    ("1_000*f1", r"number '1_000' is not a plain real literal"),
    ("(x := f1)", r"name 'x' is not allowed"),
    ("(f1 := 2)", r"operator ':=' is not allowed"),
    ("f1(2)", r"unexpected '\(' after a complete expression"),
    ("exp(f1, f2)", r"exp\(\) takes 1 argument\(s\), got 2"),
    ("max(f1)", r"max\(\) takes 2 argument\(s\), got 1"),
    ("exp", r"expected '\(', found the end of the text"),
    ("(f1 + f2", r"cannot be tokenised"),
    ("f1 + f2)", r"cannot be tokenised|unmatched"),
    ("exp(f1", r"cannot be tokenised"),
    ("f1 +", r"found the end of the text"),
    ("", r"empty"),
    ("   \n\t ", r"empty"),
    ("y1 + 1", r"must depend on the outputs"),
    ("pi * E", r"must depend on the outputs"),
    ("f3", r"name 'f3' is not allowed"),
    ("y0", r"name 'y0' is not allowed"),
    ("f1 # comment", r"unexpected token '# comment'"),
    ("f1 ! y1", r"(unexpected token|operator) '!'"),
    ("f1 // y1", r"operator '//' is not allowed"),
    ("f1 @ y1", r"operator '@' is not allowed"),
    ("f1 + " * 500 + "f1", r"longer than 2000 characters"),
    ("1e99999999*f1", r"number '1e99999999' is out of range"),  # would build 10**99999999
    ("9**9**9*f1", r"power is too large"),  # would compute 9**387420489
    ("(" * 300 + "f1" + ")" * 300, r"nested more than \d+ levels"),  # would overflow Python's stack
    ("-" * 1500 + "f1", r"nested more than \d+ levels"),
]


@pytest.mark.parametrize("text,message", HOSTILE, ids=[repr(t[:40]) for t, _ in HOSTILE])
def test_parse_refuses_hostile_text_with_a_message_saying_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse(text, 2)
    assert str(info.value).startswith("loss text"), str(info.value)


@pytest.mark.parametrize("value", [None, 3, b"f1", ["f1"], sp.Symbol("f1")], ids=["None", "int", "bytes", "list", "Symbol"])
def test_parse_refuses_non_str_input_with_type_error(value):
    with pytest.raises(TypeError, match=r"must be a str, got"):
        parse(value, 2)


def test_parse_error_for_dunder_import_names_the_offending_name():
    with pytest.raises(ValueError) as info:
        parse("__import__('os').getcwd()", 1)
    assert "'__import__'" in str(info.value)
    assert "is not allowed" in str(info.value)


def test_parse_executes_nothing_file_creating_text_leaves_no_file(tmp_path, monkeypatch):
    touched, opened = tmp_path / "pwned", tmp_path / "pwned2"
    payloads = [
        f"__import__('pathlib').Path({str(touched)!r}).touch()",
        f"open({str(opened)!r}, 'w')",
        f"f1 + __import__('pathlib').Path({str(touched)!r}).touch()",
        f"exec(\"open({str(opened)!r}, 'w')\")",
    ]
    # spy on every way the text could be evaluated: builtins and SymPy's own string parser
    calls = []
    for name in ("eval", "exec", "compile"):
        real = getattr(builtins, name)
        monkeypatch.setattr(builtins, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1])
    from sympy.parsing import sympy_parser

    monkeypatch.setattr(sympy_parser, "parse_expr", lambda *a, **k: calls.append("parse_expr"))
    for text in payloads:
        with pytest.raises(ValueError, match=r"name '(__import__|open|exec)' is not allowed"):
            parse(text, 1)
    monkeypatch.undo()
    assert calls == []
    assert not touched.exists() and not opened.exists()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ property

ALPHABET = "f1y2+-*/() .e0123456789,expsqrtlog"
ALLOWED = {f1, f2, y1, y2}
PIECES = ["f1", "f2", "y1", "y2", "+", "-", "*", "/", "**", "(", ")", ",", " ", "1", "2.5", "1e-3", "0",
          "exp(", "log(", "sqrt(", "log1p(", "e", "."]


@given(st.one_of(st.text(alphabet=ALPHABET, max_size=60),
                 st.lists(st.sampled_from(PIECES), max_size=25).map("".join)))
@example("exp(f1) - y1*f1 + sqrt(f2**2 + 1)")
@example("9**9**9*f1")
@example("1e99999999*f1")
@example("(" * 60 + "f1" + ")" * 60)
@example("f1/0")
@example("0/0")
def test_parse_random_whitelisted_text_gives_expression_in_allowed_symbols_or_value_error(text):
    try:
        loss = parse(text, 2)
    except ValueError as exc:
        assert str(exc).startswith("loss text"), str(exc)
        return
    assert isinstance(loss.expr, sp.Expr)
    assert loss.expr.free_symbols <= ALLOWED
    assert loss.expr.free_symbols & {f1, f2}


def test_parser_whitelist_is_what_the_module_documents():
    assert loss_parser.OPERATORS == {"+", "-", "*", "/", "**", "(", ")", ","}
    assert set(loss_parser.CONSTANTS) == {"pi", "E"}
    assert not any(name.startswith("_") for name in loss_parser.FUNCTIONS)


@pytest.mark.parametrize("text", ["f1/0", "log(0)*f1", "sqrt(-1)*f1", "f1 + log(0)"])
def test_parse_refuses_non_finite_or_complex_values(text):
    with pytest.raises(ValueError, match="finite real"):
        parse(text, 1)


@pytest.mark.parametrize("text, C", [
    ("(f1+f2+f3+f4+y1)**1000", 4),
    ("(((f1+y1)**30)**30)**30", 1),
    ("max(f1,f2)**1000 + min(f3,f4)", 4),
])
def test_high_degree_text_is_refused_at_parse_time(text, C):
    """Degree 1000 used to be accepted and left to convexity's safeguards; now parse refuses it (theory.limits)."""
    with pytest.raises(ValueError, match="polynomial degree in the outputs can reach"):
        parse(text, C)


def _heavy(which):
    f, y = sp.symbols("f1:5", real=True), sp.symbols("y1:5", real=True)
    return {"degree 1000": Loss("heavy", 4, (sum(f) + y[0]) ** 1000),
            "degree 27000": Loss("heavy", 1, (((f[0] + y[0]) ** 30) ** 30) ** 30),
            "products": parse("erf(f1)*sinh(f2)*cosh(f3)*logcosh(f4)*softplus(f1-f2)", 4)}[which]


@pytest.mark.parametrize("which, verdicts", [("degree 1000", ("convex",)), ("degree 27000", ("convex",)),
                                             ("products", ("not convex", "undecided"))])
def test_convexity_of_heavy_losses_answers_quickly(which, verdicts):
    """Large or high-degree Hessians are not simplified (it could take minutes): a witness or "undecided" — also
    for a Loss built directly from SymPy, which skips the parser's size limits. An even power of an affine
    function is proved convex by the composition rules (theory.convexity) without the Hessian."""
    assert _heavy(which).convexity().verdict in verdicts
