"""Mutation-killing tests for theory/mutation.py (benchmarks/mutation.py, group mutation).

tests/test_mutants.py checks that every certificate rejects the mutants of its step; these tests pin
the mutants themselves — their names and their values — for every kind of side (matrix expression,
explicit matrix, scalar, finite set, relation, piecewise), so a mutant operator that silently
stops producing a wrong answer (and so stops testing the certificates) fails here.
"""
import sympy as sp

from theory import notation as nt
from theory.mutation import SCALE, mutants

B = sp.MatrixSymbol("B", nt.n, nt.n)  # square, not symmetric by construction
K, S, Phi, W, G, mu, lam = nt.K, nt.S, nt.Phi, nt.W, nt.G, nt.mu, nt.lam
a, b, c, d = sp.symbols("a b c d")


def _same(x, y) -> bool:
    if isinstance(x, sp.MatrixBase):
        return sp.ImmutableMatrix(x) == sp.ImmutableMatrix(y)
    if isinstance(x, sp.MatrixExpr) or isinstance(y, sp.MatrixExpr):
        return sp.simplify((x - y).doit()) == sp.ZeroMatrix(*x.shape) or sp.expand((x - y).doit()) == 0
    return sp.simplify(x - y) == 0


def _check(expr, expected):
    got = mutants(expr)
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, value), (_, want) in zip(got, expected):
        assert _same(value, want), f"{name}: {value} != {want}"


def test_square_matrix_expression_with_mu():
    _check(B * K + mu * K, [
        ("scaled by 8/7", SCALE * (B * K + mu * K)),
        ("plus μI", B * K + mu * K + mu * nt.I_n),
        ("one factor transposed", B.T * K + mu * K),
        ("term 2 transposed", K * B.T + mu * K),
        ("term 1 dropped", B * K),
        ("term 2 dropped", mu * K),
    ])


def test_square_matrix_expression_without_mu():
    _check(B * K + K, [
        ("scaled by 8/7", SCALE * (B * K + K)),
        ("plus I/7", B * K + K + nt.I_n / 7),
        ("one factor transposed", B.T * K + K),
        ("term 1 transposed", K * B.T + K),
        ("term 1 dropped", K),
        ("term 2 dropped", B * K),
    ])


def test_wide_matrix_expression_gets_a_rank_one_term():
    _check(W.T * G + mu * Phi, [
        ("scaled by 8/7", SCALE * (W.T * G + mu * Phi)),
        ("plus a rank-one term", W.T * G + mu * Phi + mu * sp.OneMatrix(nt.m, nt.n)),
        ("term 1 dropped", W.T * G),
        ("term 2 dropped", mu * Phi),
    ])
    _check(W.T * G, [("scaled by 8/7", SCALE * W.T * G),
                     ("plus a rank-one term", W.T * G + sp.OneMatrix(nt.m, nt.n) / 7)])


def test_a_factor_inside_an_inverse_is_transposed():
    names = dict(mutants((B * K + K).I))
    assert list(names) == ["scaled by 8/7", "plus I/7", "one factor transposed"]
    assert names["one factor transposed"] == (B.T * K + K).I


def test_at_most_two_terms_are_transposed_and_symmetric_ones_never():
    expr = B.T * Phi.T * Phi + Phi.T * Phi * B + S + B
    names = [name for name, _ in mutants(expr)]
    assert [n for n in names if n.endswith("transposed") and n.startswith("term")] == \
        ["term 1 transposed", "term 2 transposed"]
    assert names.count("term 1 dropped") == 1 and "term 3 dropped" in names and "term 4 dropped" not in names
    assert [n for n, _ in mutants(S + K)] == ["scaled by 8/7", "plus I/7", "term 1 dropped", "term 2 dropped"]


def test_matrix_symbol_and_symbol_have_no_mutants():
    assert mutants(K) == [] and mutants(mu) == [] and mutants(sp.Symbol("rank dK <= C")) == []


def test_zero_sides_are_not_scaled():
    assert [n for n, _ in mutants(sp.ZeroMatrix(nt.n, nt.n))] == ["plus I/7"]
    assert [n for n, _ in mutants(sp.zeros(2, 2))] == ["plus a constant rank-one term"]
    assert [n for n, _ in mutants(sp.Integer(0))] == ["plus 1/7"]


def test_explicit_matrix():
    M = sp.ImmutableMatrix([[a, b + c], [d, a]])
    _check(M, [
        ("scaled by 8/7", SCALE * M),
        ("plus a constant rank-one term", M + sp.ones(2, 2) / 7),
        ("a term of entry 1 dropped", sp.ImmutableMatrix([[a, c], [d, a]])),
        ("transposed", M.T),
    ])
    symmetric = sp.ImmutableMatrix([[a, b], [b, c]])
    assert [n for n, _ in mutants(symmetric)] == ["scaled by 8/7", "plus a constant rank-one term"]
    several = sp.ImmutableMatrix([[a + b + c, d]])  # only the first term of the first such entry is dropped
    assert dict(mutants(several))["a term of entry 0 dropped"] == sp.ImmutableMatrix([[b + c, d]])


def test_scalars():
    _check(a * mu + b, [("scaled by 8/7", SCALE * (a * mu + b)), ("plus μ", a * mu + b + mu),
                        ("term 1 dropped", a * mu), ("term 2 dropped", b)])
    _check(a * lam, [("scaled by 8/7", SCALE * a * lam), ("plus 1/7", a * lam + sp.Rational(1, 7))])
    names = [n for n, _ in mutants(a + b + c + d)]
    assert names == ["scaled by 8/7", "plus 1/7", "term 1 dropped", "term 2 dropped", "term 3 dropped"]


def test_finite_set_mutates_only_its_last_element():
    roots = sp.FiniteSet(0, a, lam / mu)
    got = dict(mutants(roots))
    assert list(got) == ["last element scaled by 8/7", "last element plus 1/7"]
    last = list(roots.args)[-1]
    others = list(roots.args)[:-1]
    assert got["last element scaled by 8/7"] == sp.FiniteSet(*others, SCALE * last)
    assert got["last element plus 1/7"] == sp.FiniteSet(*others, last + sp.Rational(1, 7))
    assert len(got["last element plus 1/7"]) == 3


def test_relation_moves_its_boundary():
    got = dict(mutants(sp.StrictGreaterThan(a, lam * mu + b)))
    assert list(got) == ["boundary scaled by 8/7", "boundary plus μ"]
    assert got["boundary plus μ"] == sp.StrictGreaterThan(a, lam * mu + b + mu)
    assert got["boundary scaled by 8/7"] == sp.StrictGreaterThan(a, SCALE * (lam * mu + b))


def test_piecewise_mutates_its_first_branch():
    pw = sp.Piecewise((a * mu, a > 0), (b, True))
    got = dict(mutants(pw))
    assert list(got) == ["first branch scaled by 8/7", "first branch plus μ"]
    assert got["first branch plus μ"] == sp.Piecewise((a * mu + mu, a > 0), (b, True))
    assert got["first branch scaled by 8/7"] == sp.Piecewise((SCALE * a * mu, a > 0), (b, True))


def test_non_expressions_have_no_mutants():
    assert mutants(sp.true) == [] and mutants("text") == []
