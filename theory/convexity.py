"""Convexity in f proved by composition rules (disciplined convex programming, as in CVXPY's DCP).

A loss ℓ(f, y) is convex in the outputs f when it is built from atoms of known curvature by rules that
preserve convexity. Every subexpression gets a :class:`Shape`: a curvature (constant, affine, convex, concave
or unknown) and a sign (the set of signs "-", "0", "+" its values can take). The targets y are constants in
f — real, of unknown sign — so y1·f1 is affine but y1·f1² is of unknown curvature.

The central rule (:func:`compose`): h(g1, …, gn) is convex when h is convex and each gi is affine, or
convex with h nondecreasing in it, or concave with h nonincreasing in it (concave: mirrored). The
monotonicity of an atom may depend on its argument's sign: x² is nondecreasing on x ≥ 0 only, so
(log(1 + exp(−y1 f1)))² is convex (softplus > 0) but (log(1 + exp(−y1 f1)) − 1)² is not proved.

The rules are tables (:data:`RULES`, :data:`ATOMS`, :func:`power_atom`), each entry's docstring stating the
fact it encodes, so tests can patch them. A verdict "convex" is a proof; anything else only says that
the rules did not apply, and where (``unknown curvature at …``).

>>> f1, y1 = sp.symbols("f1 y1", real=True)
>>> analyse(sp.log(1 + sp.exp(-y1 * f1)) ** 2, [f1]).verdict
'convex'
>>> print(analyse((sp.log(1 + sp.exp(-y1 * f1)) - 1) ** 2, [f1]).reason)
DCP: unknown curvature at (log(1 + exp(-f1*y1)) - 1)**2 (x**2 is convex and not monotone on arguments of sign any,
which are convex)
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

# --------------------------------------------------------------------------------------------- shapes

#: sign sets: which of negative, zero, positive a subexpression's values may be
POSITIVE, NEGATIVE, ZERO = frozenset("+"), frozenset("-"), frozenset("0")
NONNEG, NONPOS, ANY = frozenset("0+"), frozenset("-0"), frozenset("-0+")
SIGN_NAMES = {POSITIVE: "positive", NEGATIVE: "negative", ZERO: "zero", NONNEG: "nonneg", NONPOS: "nonpos",
              frozenset("-+"): "nonzero", ANY: "any"}
_ORDER = {"-": -1, "0": 0, "+": 1}
_BY_ORDER = {-1: "-", 0: "0", 1: "+"}


@dataclass(frozen=True)
class Shape:
    """Curvature ("constant", "affine", "convex", "concave", "unknown") and sign set of a subexpression in f."""

    curvature: str
    sign: frozenset

    @property
    def convex(self) -> bool:
        return is_convex(self.curvature)

    @property
    def concave(self) -> bool:
        return is_concave(self.curvature)


@dataclass(frozen=True)
class Behaviour:
    """What an atom h is on arguments of given signs: its curvature, its monotonicity in each argument
    ("nondecreasing", "nonincreasing" or "none") and the sign of its value."""

    curvature: str
    monotone: tuple[str, ...]
    sign: frozenset


def is_convex(curvature: str) -> bool:
    """Whether a curvature label ("constant", "affine", "convex", "concave", "unknown") implies convexity."""
    return curvature in ("constant", "affine", "convex")


def is_concave(curvature: str) -> bool:
    """Whether a curvature label implies concavity (constants and affine functions are both)."""
    return curvature in ("constant", "affine", "concave")


def sign_name(sign: frozenset) -> str:
    """A readable name ("nonnegative", "positive", "unknown", …) for a set of possible signs drawn from "-", "0", "+"."""
    return SIGN_NAMES.get(frozenset(sign), "impossible")


def add_signs(a: frozenset, b: frozenset) -> frozenset:
    """Signs a sum x + z can take when x has a sign in ``a`` and z in ``b``."""
    out = set()
    for s, t in itertools.product(a, b):
        if s == t or t == "0":
            out.add(s)
        elif s == "0":
            out.add(t)
        else:  # opposite signs
            out.update("-0+")
    return frozenset(out)


def multiply_signs(a: frozenset, b: frozenset) -> frozenset:
    """Signs a product x·z can take when x has a sign in ``a`` and z in ``b``."""
    return frozenset(_BY_ORDER[_ORDER[s] * _ORDER[t]] for s, t in itertools.product(a, b))


def add_curvatures(curvatures) -> str:
    """Curvature of a sum: convex + convex is convex, concave + concave concave, affine + affine affine."""
    curvatures = list(curvatures)
    if all(c == "constant" for c in curvatures):
        return "constant"
    if all(c in ("constant", "affine") for c in curvatures):
        return "affine"
    if all(is_convex(c) for c in curvatures):
        return "convex"
    if all(is_concave(c) for c in curvatures):
        return "concave"
    return "unknown"


def scale_curvature(curvature: str, sign: frozenset) -> str:
    """Curvature of c·g for a constant c of the given sign: c ≥ 0 keeps it, c ≤ 0 flips it, c = 0 gives a
    constant; an affine g stays affine for any c, a convex or concave g of unknown sign becomes unknown."""
    if curvature == "constant" or sign == ZERO:
        return "constant"
    if curvature in ("affine", "unknown"):
        return curvature
    flipped = {"convex": "concave", "concave": "convex"}[curvature]
    if sign <= NONNEG:
        return curvature
    if sign <= NONPOS:
        return flipped
    return "unknown"


def constant_sign(c: sp.Expr) -> frozenset:
    """Sign set of a real constant (free of f) from SymPy's assumptions; the targets y have unknown sign."""
    out = set("-0+")
    if c.is_positive is False:
        out.discard("+")
    if c.is_negative is False:
        out.discard("-")
    if c.is_zero is False:
        out.discard("0")
    return frozenset(out) if out else ANY


def _short(expr, width: int = 90) -> str:
    text = sp.sstr(expr)
    return text if len(text) <= width else text[:width - 1] + "…"


# ------------------------------------------------------------------------------------------ composition

def compose(behaviour: Behaviour, args: list[Shape]) -> str:
    """DCP composition. h(g1, …, gn) is convex if h is convex and for every i: gi is affine, or gi is convex
    and h is nondecreasing in argument i, or gi is concave and h is nonincreasing in it (on the signs gi
    can take). Mirrored for concave h; an affine h with affine arguments is affine; all-constant arguments
    give a constant. Proof: the second-order chain rule d²h(g) = ∇h·d²g + dgᵀ∇²h dg, each term signed."""
    if all(a.curvature == "constant" for a in args):
        return "constant"

    def fits(want: str) -> bool:
        same, other = (is_convex, is_concave) if want == "convex" else (is_concave, is_convex)
        if not same(behaviour.curvature):
            return False
        for arg, mono in zip(args, behaviour.monotone):
            if arg.curvature in ("constant", "affine"):
                continue
            if same(arg.curvature) and mono == "nondecreasing":
                continue
            if other(arg.curvature) and mono == "nonincreasing":
                continue
            return False
        return True

    convex, concave = fits("convex"), fits("concave")
    if convex and concave:
        return "affine"
    return "convex" if convex else ("concave" if concave else "unknown")


def _even_monotone(sign: frozenset) -> str:
    """Monotonicity of an even function that is nondecreasing on x ≥ 0 (x², |x|, cosh, log cosh)."""
    if sign <= NONNEG:
        return "nondecreasing"
    if sign <= NONPOS:
        return "nonincreasing"
    return "none"


def _even_sign(sign: frozenset) -> frozenset:
    """Sign of an even function that vanishes at 0 only (x², |x|, log cosh)."""
    return NONNEG if "0" in sign else POSITIVE


# ------------------------------------------------------------------------------------------------ atoms

def atom_exp(signs) -> Behaviour:
    """exp is convex and increasing on ℝ, and positive."""
    return Behaviour("convex", ("nondecreasing",), POSITIVE)


def atom_log(signs) -> Behaviour | None:
    """log is concave and increasing on x > 0 (undefined elsewhere: None unless the argument is provably > 0)."""
    if not signs[0] <= POSITIVE:
        return None
    return Behaviour("concave", ("nondecreasing",), ANY)


def atom_abs(signs) -> Behaviour:
    """|x| is convex, nondecreasing on x ≥ 0 and nonincreasing on x ≤ 0, and nonnegative."""
    return Behaviour("convex", (_even_monotone(signs[0]),), _even_sign(signs[0]))


def atom_cosh(signs) -> Behaviour:
    """cosh x is convex ((cosh)'' = cosh > 0), nondecreasing on x ≥ 0, nonincreasing on x ≤ 0, and ≥ 1 > 0."""
    return Behaviour("convex", (_even_monotone(signs[0]),), POSITIVE)


def atom_sinh(signs) -> Behaviour:
    """sinh is increasing; convex on x ≥ 0 and concave on x ≤ 0 ((sinh)'' = sinh); same sign as x."""
    sign = signs[0]
    curvature = "convex" if sign <= NONNEG else ("concave" if sign <= NONPOS else "unknown")
    return Behaviour(curvature, ("nondecreasing",), sign)


def atom_log_cosh(signs) -> Behaviour:
    """log cosh x is convex ((log cosh)'' = sech² > 0), even, nondecreasing on x ≥ 0, and ≥ log 1 = 0."""
    return Behaviour("convex", (_even_monotone(signs[0]),), _even_sign(signs[0]))


def _extreme_sign(signs, pick) -> frozenset:
    if len(signs) > 8:  # 3**8 sign combinations at most
        return ANY
    return frozenset(_BY_ORDER[pick(_ORDER[s] for s in choice)] for choice in itertools.product(*signs))


def atom_max(signs) -> Behaviour:
    """max(x1, …, xn) is convex (a pointwise maximum of affine functions) and nondecreasing in each xi."""
    return Behaviour("convex", ("nondecreasing",) * len(signs), _extreme_sign(signs, max))


def atom_min(signs) -> Behaviour:
    """min(x1, …, xn) is concave (a pointwise minimum of affine functions) and nondecreasing in each xi."""
    return Behaviour("concave", ("nondecreasing",) * len(signs), _extreme_sign(signs, min))


def power_atom(p: sp.Expr) -> Callable:
    """x**p for a real constant p, by cases:

    - p = 0: the constant 1; p = 1: x (affine, increasing).
    - p an even integer > 0: convex ((x^p)'' = p(p−1)x^(p−2) ≥ 0), nondecreasing on x ≥ 0, nonincreasing on
      x ≤ 0, nonnegative.
    - p > 1 otherwise (odd, or not an integer): convex and nondecreasing on x ≥ 0 only (an odd power is concave
      on x ≤ 0; a non-integer power is not real there).
    - 0 < p < 1: concave and nondecreasing on x ≥ 0 ((x^p)'' = p(p−1)x^(p−2) ≤ 0), nonnegative.
    - p < 0: convex and nonincreasing on x > 0 ((x^p)'' = p(p−1)x^(p−2) > 0), positive; for an integer p also on
      x < 0: even p convex nondecreasing positive, odd p concave nonincreasing negative.

    None (no curvature known) outside these argument signs.
    """
    p = sp.sympify(p)

    def atom_power(signs) -> Behaviour | None:
        sign = signs[0]
        if p == 0:
            return Behaviour("constant", ("none",), POSITIVE)
        if p == 1:
            return Behaviour("affine", ("nondecreasing",), sign)
        if p.is_integer and p.is_even and p > 0:
            return Behaviour("convex", (_even_monotone(sign),), _even_sign(sign))
        if p > 1:
            if sign <= NONNEG:
                return Behaviour("convex", ("nondecreasing",), sign)
            if p.is_integer and sign <= NONPOS:  # odd: concave and increasing on x ≤ 0
                return Behaviour("concave", ("nondecreasing",), sign)
            return None
        if p > 0:
            return Behaviour("concave", ("nondecreasing",), sign) if sign <= NONNEG else None
        if sign <= POSITIVE:
            return Behaviour("convex", ("nonincreasing",), POSITIVE)
        if p.is_integer and sign <= NEGATIVE:
            if p.is_even:
                return Behaviour("convex", ("nondecreasing",), POSITIVE)
            return Behaviour("concave", ("nonincreasing",), NEGATIVE)
        return None

    atom_power.__name__ = f"x**{p}" if p.is_Integer else f"x**({p})"
    return atom_power


def log_sum_exp_sign(coefficients, constant, exponent_signs) -> frozenset:
    """Sign of log(c0 + Σ ci·exp(gi)) (c0 ≥ 0, ci > 0): the sum is ≥ L = c0 + Σ_{gi ≥ 0} ci (exp(gi) ≥ 1 where
    gi ≥ 0, > 0 elsewhere), so the log is ≥ 0 when L ≥ 1 is provable, and > 0 when moreover L > 1 or some
    term was bounded by 0 (strictly exceeded). Otherwise the sign is unknown: log(Σ) < 0 wherever Σ < 1."""
    strict = False
    bound = constant
    for c, sign in zip(coefficients, exponent_signs):
        if sign <= NONNEG:
            bound = bound + c
        else:
            strict = True
    excess = sp.simplify(bound - 1)
    if excess.is_positive or (excess.is_nonnegative and strict):
        return POSITIVE
    if excess.is_nonnegative:
        return NONNEG
    return ANY


def log_sum_exp_atom(coefficients, constant) -> Callable:
    """log(c0 + Σ ci·exp(gi)) with constants c0 ≥ 0, ci > 0 is log-sum-exp of (gi + log ci, log c0): convex
    (its Hessian is diag(p) − ppᵀ ⪰ 0 for the softmax weights p) and nondecreasing in every gi."""
    def atom_log_sum_exp(signs) -> Behaviour:
        return Behaviour("convex", ("nondecreasing",) * len(signs), log_sum_exp_sign(coefficients, constant, signs))
    return atom_log_sum_exp


def euclidean_norm_atom(constant) -> Callable:
    """sqrt(c + Σ gi²) with a constant c ≥ 0 is the Euclidean norm ‖(√c, g1, …, gn)‖: convex, nondecreasing in
    gi where gi ≥ 0 and nonincreasing where gi ≤ 0 (it depends on |gi| only), nonnegative (positive if c > 0)."""
    def atom_norm(signs) -> Behaviour:
        sign = POSITIVE if constant.is_positive or all("0" not in s for s in signs) else NONNEG
        return Behaviour("convex", tuple(_even_monotone(s) for s in signs), sign)
    return atom_norm


#: SymPy function class → atom; applied to the function's arguments by :func:`rule_function`
ATOMS: dict[type, Callable] = {
    sp.exp: atom_exp,
    sp.log: atom_log,
    sp.Abs: atom_abs,
    sp.cosh: atom_cosh,
    sp.sinh: atom_sinh,
    sp.Max: atom_max,
    sp.Min: atom_min,
}


# ------------------------------------------------------------------------------------------------ rules

class Analysis:
    """One DCP analysis of an expression in the outputs ``f``: shapes of subexpressions (memoised), the rules
    that fired, and the first (innermost) subexpression whose curvature could not be decided."""

    def __init__(self, f):
        self.f = frozenset(f)
        self.used: list[str] = []
        self.stuck: str | None = None
        self.memo: dict = {}

    def shape(self, expr) -> Shape:
        if expr in self.memo:
            return self.memo[expr]
        result = None
        for name, rule in RULES.items():
            result = rule(expr, self)
            if result is not None:
                if name not in self.used:
                    self.used.append(name)
                break
        if result is None:
            result = self.unknown(expr, "no rule applies")
        if result.curvature == "unknown" and self.stuck is None:
            self.stuck = f"{_short(expr)} (its parts are unknown)"
        self.memo[expr] = result
        return result

    def unknown(self, expr, why: str, sign: frozenset = ANY) -> Shape:
        """Shape of unknown curvature; records ``why`` when it is the first place the analysis got stuck."""
        if self.stuck is None:
            self.stuck = f"{_short(expr)} ({why})"
        return Shape("unknown", sign)

    def apply(self, expr, name: str, atom: Callable, args) -> Shape:
        """Shape of atom(args) by :func:`compose`, or unknown (with the reason) when the atom is not defined or
        of no known curvature on the arguments' signs, or the composition rule fails."""
        shapes = [self.shape(a) for a in args]
        signs = tuple(s.sign for s in shapes)
        behaviour = atom(signs)
        if behaviour is None:
            return self.unknown(expr, f"{name} has no known curvature on arguments of sign "
                                      f"{', '.join(sign_name(s) for s in signs)}")
        curvature = compose(behaviour, shapes)
        if curvature == "unknown":
            if any(s.curvature == "unknown" for s in shapes):
                return self.unknown(expr, f"an argument of {name} is of unknown curvature", behaviour.sign)
            monotone = ", ".join(m if m != "none" else "not monotone" for m in behaviour.monotone)
            return self.unknown(expr, f"{name} is {behaviour.curvature} and {monotone} on arguments of sign "
                                      f"{', '.join(sign_name(s) for s in signs)}, which are "
                                      f"{', '.join(s.curvature for s in shapes)}", behaviour.sign)
        return Shape(curvature, behaviour.sign)

    def is_constant(self, expr) -> bool:
        return not (expr.free_symbols & self.f)


def rule_constant(expr, an: Analysis) -> Shape | None:
    """An expression free of the outputs f is constant in f; its sign comes from SymPy's assumptions (targets y
    are real with unknown sign). One SymPy cannot prove real (log(y1), 1/y1) is of unknown curvature."""
    if not isinstance(expr, sp.Expr) or not an.is_constant(expr):
        return None
    if expr.is_real is not True:
        return an.unknown(expr, "a constant not provably real and finite")
    return Shape("constant", constant_sign(expr))


def rule_variable(expr, an: Analysis) -> Shape | None:
    """An output fk is affine in f, of unknown sign."""
    if expr in an.f:
        return Shape("affine", ANY)
    return None


def rule_add(expr, an: Analysis) -> Shape | None:
    """A sum of convex (concave, affine) terms is convex (concave, affine); signs add."""
    if not isinstance(expr, sp.Add):
        return None
    shapes = [an.shape(a) for a in expr.args]
    sign = shapes[0].sign
    for s in shapes[1:]:
        sign = add_signs(sign, s.sign)
    curvature = add_curvatures(s.curvature for s in shapes)
    if curvature == "unknown":
        return an.unknown(expr, "a sum of a convex and a concave term" if all(s.curvature != "unknown" for s in shapes)
                          else "a term of unknown curvature", sign)
    return Shape(curvature, sign)


def power_of_abs(factors) -> tuple[sp.Expr, sp.Expr] | None:
    """(g, p) when the product of ``factors`` is |g|**p, p > 0: g**(2k)·|g|**m = |g|**(2k + m) (SymPy writes |g|³
    as g²·|g|), with g and −g the same base; None otherwise."""
    base, total = None, sp.Integer(0)
    for x in factors:
        b, e = (x.base, x.exp) if isinstance(x, sp.Pow) else (x, sp.Integer(1))
        if isinstance(b, sp.Abs):
            inner = b.args[0]
            if not (e.is_number and e.is_real and e.is_positive):
                return None
        else:
            inner = b
            if not (e.is_integer and e.is_even and e.is_positive):
                return None
        if base is None:
            base = inner
        elif sp.expand(inner - base) != 0 and sp.expand(inner + base) != 0:
            return None
        total += e
    return None if base is None else (base, total)


def rule_mul(expr, an: Analysis) -> Shape | None:
    """c·g for a constant c: convex g stays convex if c ≥ 0 and turns concave if c ≤ 0; an affine g stays affine
    for any real c; a non-affine g times a constant of unknown sign is of unknown curvature. A product of
    non-constant factors is of unknown curvature, unless it is a power of an absolute value |g|**p
    (:func:`power_of_abs`, then the atom x**p on |g| ≥ 0). Signs multiply."""
    if not isinstance(expr, sp.Mul):
        return None
    constants = [a for a in expr.args if an.is_constant(a)]
    others = [a for a in expr.args if not an.is_constant(a)]
    c = an.shape(sp.Mul(*constants)) if constants else Shape("constant", POSITIVE)
    shapes = [an.shape(a) for a in others]
    sign = c.sign
    for s in shapes:
        sign = multiply_signs(sign, s.sign)
    if c.curvature == "unknown":
        return an.unknown(expr, "a factor of unknown curvature", sign)
    if len(others) > 1:
        absolute = power_of_abs(others)
        if absolute is None:
            return an.unknown(expr, "a product of non-constant factors", sign)
        g, p = absolute
        shapes = [an.apply(sp.Mul(*others), f"|x|**{p}", power_atom(p), [sp.Abs(g)])]
    curvature = scale_curvature(shapes[0].curvature, c.sign)
    if curvature == "unknown":
        return an.unknown(expr, f"a {shapes[0].curvature} factor times a constant of sign {sign_name(c.sign)}", sign)
    return Shape(curvature, sign)


def coefficient_ok(c: sp.Expr) -> bool:
    """A weight ci of log Σ ci·exp(gi) or of sqrt(c + Σ ci·gi²) must be provably > 0: log-sum-exp with a negative
    weight is not convex (log(e^f − e^(−f)/2) is concave) and a negative weight of gi² breaks the norm."""
    return c.is_positive is True


def _exp_factors(term, an: Analysis):
    """(c, g) with term = c·exp(g), c a constant factor; None when the term is not of that form."""
    factors = term.args if isinstance(term, sp.Mul) else (term,)
    constants = [x for x in factors if an.is_constant(x)]
    others = [x for x in factors if not an.is_constant(x)]
    if not others or not all(isinstance(x, sp.exp) for x in others):
        return None
    return sp.Mul(*constants), sp.Add(*(x.args[0] for x in others))


def rule_log_sum_exp(expr, an: Analysis) -> Shape | None:
    """log(c0 + Σ ci·exp(gi)) with constants c0 ≥ 0 and ci > 0 (softplus log(1 + exp(g)), the cross-entropy's
    log Σ exp(fk)) is log-sum-exp: see :func:`log_sum_exp_atom` and, for its sign, :func:`log_sum_exp_sign`."""
    if not isinstance(expr, sp.log):
        return None
    arg = expr.args[0]
    terms = arg.args if isinstance(arg, sp.Add) else (arg,)
    constant, coefficients, exponents = sp.Integer(0), [], []
    for term in terms:
        if an.is_constant(term):
            constant += term
            continue
        split = _exp_factors(term, an)
        if split is None or not coefficient_ok(split[0]):
            return None
        coefficients.append(split[0])
        exponents.append(split[1])
    if not exponents or constant.is_nonnegative is not True:
        return None
    return an.apply(expr, "log-sum-exp", log_sum_exp_atom(coefficients, constant), exponents)


def rule_log_cosh(expr, an: Analysis) -> Shape | None:
    """log(cosh(g)) is the atom log cosh (convex, even, ≥ 0: :func:`atom_log_cosh`) applied to g."""
    if isinstance(expr, sp.log) and isinstance(expr.args[0], sp.cosh):
        return an.apply(expr, "log cosh", atom_log_cosh, expr.args[0].args)
    return None


def rule_log_of_power(expr, an: Analysis) -> Shape | None:
    """log(g**p) = p·log(g) for g > 0 and real constant p (log(sigmoid(f)) = −log(1 + exp(−f)))."""
    if not (isinstance(expr, sp.log) and isinstance(expr.args[0], sp.Pow)):
        return None
    base, p = expr.args[0].args
    if not an.is_constant(p) or p.is_real is not True or an.is_constant(base):
        return None
    if not an.shape(base).sign <= POSITIVE:
        return None
    inner = an.shape(sp.log(base))
    curvature = scale_curvature(inner.curvature, constant_sign(p))
    if curvature == "unknown":
        return an.unknown(expr, "log of a power of unknown curvature")
    return Shape(curvature, multiply_signs(inner.sign, constant_sign(p)))


def rule_euclidean_norm(expr, an: Analysis) -> Shape | None:
    """sqrt(c + Σ ki·gi²) with constants c ≥ 0, ki > 0 (pseudo-Huber sqrt(1 + r²)): the Euclidean norm of
    (√c, √k1·g1, …), see :func:`euclidean_norm_atom`; a term ki·exp(h) counts as ki·exp(h/2)²."""
    if not (isinstance(expr, sp.Pow) and expr.exp == sp.S.Half and isinstance(expr.base, sp.Add)):
        return None
    constant, args = sp.Integer(0), []
    for term in expr.base.args:
        if an.is_constant(term):
            constant += term
            continue
        factors = term.args if isinstance(term, sp.Mul) else (term,)
        k = sp.Mul(*(x for x in factors if an.is_constant(x)))
        square = [x for x in factors if not an.is_constant(x)]
        if len(square) != 1 or not coefficient_ok(k):
            return None
        if isinstance(square[0], sp.Pow) and square[0].exp == 2:
            args.append(square[0].base)
        elif isinstance(square[0], sp.exp):  # exp(h) = exp(h/2)²
            args.append(sp.exp(square[0].args[0] / 2))
        else:
            return None
    if constant.is_nonnegative is not True:
        return None
    return an.apply(expr, "Euclidean norm", euclidean_norm_atom(constant), args)


def rule_exponential(expr, an: Analysis) -> Shape | None:
    """b**g for a constant b > 0 is exp(g·log b): the exp atom applied to an argument scaled by log b."""
    if not (isinstance(expr, sp.Pow) and an.is_constant(expr.base) and not an.is_constant(expr.exp)):
        return None
    b = expr.base
    if b.is_positive is not True:
        return an.unknown(expr, "a power with a base not provably positive and a non-constant exponent")
    g = an.shape(expr.exp)
    log_b = constant_sign(sp.log(b))
    scaled = Shape(scale_curvature(g.curvature, log_b), multiply_signs(g.sign, log_b))
    behaviour = atom_exp((scaled.sign,))
    curvature = compose(behaviour, [scaled])
    if curvature == "unknown":
        return an.unknown(expr, f"exp of a {scaled.curvature} argument")
    return Shape(curvature, behaviour.sign)


def rule_power(expr, an: Analysis) -> Shape | None:
    """g**p for a real constant p: the atom :func:`power_atom` (p) applied to g."""
    if not isinstance(expr, sp.Pow):
        return None
    base, p = expr.args
    if not an.is_constant(p):
        return an.unknown(expr, "an exponent depending on f")
    if not (p.is_number and p.is_real):
        return an.unknown(expr, "an exponent that is not a real number")
    return an.apply(expr, f"x**{p}" if p.is_Integer else f"x**({p})", power_atom(p), [base])


def rule_function(expr, an: Analysis) -> Shape | None:
    """A function in :data:`ATOMS` applied to its arguments by :func:`compose`."""
    atom = ATOMS.get(type(expr))
    if atom is None:
        return None
    return an.apply(expr, type(expr).__name__, atom, expr.args)


def rule_piecewise(expr, an: Analysis) -> Shape | None:
    """A Piecewise whose pieces are all convex is convex when its conditions do not depend on f (the targets
    pick one convex piece), or when they depend on f through one affine function r alone and the function is
    C¹ across every breakpoint r = b (:func:`piecewise_c1_failure`): along any line r is affine, and a C¹
    function whose derivative is nondecreasing on each closed piece has a nondecreasing derivative."""
    if not isinstance(expr, sp.Piecewise):
        return None
    shapes = [an.shape(e) for e, _ in expr.args]
    sign = frozenset().union(*(s.sign for s in shapes))
    if not all(s.convex for s in shapes):
        return an.unknown(expr, "a piece that is not convex", sign)
    curvature = add_curvatures(s.curvature for s in shapes)  # constant, affine or convex: the pieces' join
    if not any(c.free_symbols & an.f for _, c in expr.args):
        if expr.args[-1].cond != sp.true:
            return an.unknown(expr, "a Piecewise in the targets without a final True condition (undefined somewhere)",
                              sign)
        return Shape(curvature, sign)
    failure = piecewise_c1_failure(expr, an.f)
    if failure is not None:
        return an.unknown(expr, failure, sign)
    return Shape("convex" if curvature != "constant" else "constant", sign)


def _is_affine_in(e, f) -> bool:
    if not e.is_polynomial(*f):
        return False
    return sp.Poly(e, *f).total_degree() <= 1


def _affine_parts(e, f):
    """Maximal subexpressions of ``e`` (an expression or a condition) that are affine in f and depend on it."""
    if isinstance(e, sp.Expr) and e.free_symbols & f and _is_affine_in(e, sorted(f, key=str)):
        yield e
        return
    if isinstance(e, (sp.Expr, sp.logic.boolalg.Boolean)):
        for a in e.args:
            yield from _affine_parts(a, f)


def exactly_equal(a, b) -> bool:
    """a = b identically, decided exactly (expansion, then simplification to 0)."""
    d = a - b
    return sp.expand(d) == 0 or sp.simplify(d) == 0


@dataclass(frozen=True)
class Breakpoint:
    """A breakpoint r = b of a Piecewise: the pieces active just left of it, at it and just right of it, and the
    substitution that puts f on the hyperplane r = b."""

    r: sp.Expr
    b: sp.Expr
    left: sp.Expr
    middle: sp.Expr
    right: sp.Expr
    on_plane: dict
    f: tuple


def value_agrees(point: Breakpoint) -> str | None:
    """Continuity: the pieces left of, at and right of the breakpoint take the same value on r = b (a convex
    function restricted to a line is continuous in the interior of its domain, here ℝ)."""
    left, middle, right = (e.xreplace(point.on_plane) for e in (point.left, point.middle, point.right))
    if exactly_equal(left, right) and exactly_equal(middle, left):
        return None
    return f"its value jumps at the breakpoint {_short(point.r)} = {point.b}"


def gradient_agrees(point: Breakpoint) -> str | None:
    """Differentiability: the pieces left and right of the breakpoint have the same gradient ∇_f on r = b (and
    are differentiable there), so the derivative along any line is continuous across it; with convex pieces it is
    then nondecreasing across it, which a downward jump of the derivative (a concave kink) would break."""
    if point.left == point.right:
        return None
    raw = [sp.diff(e, x) for e in (point.left, point.right) for x in point.f]
    kinks = [k.args[0] for g in raw for k in g.atoms(sp.sign, sp.Heaviside, sp.DiracDelta)]
    if any(g.has(sp.Piecewise, sp.Subs, sp.Derivative) for g in raw) or \
            any(exactly_equal(k.xreplace(point.on_plane), 0) for k in kinks):
        # a kink along the whole hyperplane: SymPy's sign(0) = 0 there is no derivative
        return f"a piece is not differentiable at the breakpoint {_short(point.r)} = {point.b}"
    # kinks that only cross the hyperplane (lower-dimensional there) are harmless: along the lines that miss them
    # the pieces are differentiable at r = b, and convexity passes to the limit lines through them
    gl = [g.xreplace(point.on_plane) for g in raw[:len(point.f)]]
    gr = [g.xreplace(point.on_plane) for g in raw[len(point.f):]]
    if all(exactly_equal(u, v) for u, v in zip(gl, gr)):
        return None
    return f"its gradient jumps at the breakpoint {_short(point.r)} = {point.b} (not C¹)"


#: what must hold at every breakpoint of a Piecewise for :func:`rule_piecewise` (each returns why not, or None)
BREAKPOINT_CHECKS: tuple[Callable, ...] = (value_agrees, gradient_agrees)


def piecewise_c1_failure(expr: sp.Piecewise, f) -> str | None:
    """None when ``expr`` is C¹ across all its breakpoints, else why not (or why this could not be decided).

    The conditions must depend on f only through one affine r = Σ ak fk + c: every maximal affine
    subexpression of a condition is λ·r + β with numbers λ ≠ 0, β. The conditions then define sets of the
    real line in t = r; their boundary points are the breakpoints. At each breakpoint b the pieces active just
    left, at and just right of it must pass :data:`BREAKPOINT_CHECKS` on the hyperplane r = b, put there by the
    exact substitution fj = (b − (r − aj fj))/aj (identities in the other outputs and the targets)."""
    f = frozenset(f)
    order = tuple(sorted(f, key=str))
    conditions = []
    for _, cond in expr.args:
        relationals = cond.atoms(sp.core.relational.Relational)
        conditions.append(cond.xreplace({r: type(r)(r.lhs - r.rhs, 0) for r in relationals}))
    parts = list(dict.fromkeys(p for c in conditions for p in _affine_parts(c, f)))
    if not parts:
        return "conditions depend on f other than through an affine function"
    r = parts[0]
    a = [sp.diff(r, x) for x in order]
    # fj is solved for on r = b: its coefficient must be nonzero, or (a target-dependent coefficient, y1·f1) the only
    # one that can be — then where it vanishes r is constant and one piece applies throughout
    j = next((i for i, ai in enumerate(a) if ai.is_nonzero), None)
    if j is None:
        candidates = [i for i, ai in enumerate(a) if ai.is_zero is not True]
        if len(candidates) != 1:
            return "the coefficients of the condition's affine function are not provably nonzero"
        j = candidates[0]
    t = sp.Dummy("t", real=True)
    replace = {}
    for g in parts:
        lam = sp.simplify(sp.diff(g, order[j]) / a[j])
        beta = sp.expand(g - lam * r)
        if not (lam.is_number and lam.is_nonzero and beta.is_number and beta.is_real) or \
                any(sp.simplify(sp.diff(g, x) - lam * ai) != 0 for x, ai in zip(order, a)):
            return f"conditions depend on more than one affine function of f, or on the targets ({_short(g)})"
        replace[g] = lam * t + beta
    regions, remaining = [], sp.S.Reals
    for cond in conditions:
        cond_t = cond.xreplace(replace)
        if cond_t.free_symbols - {t}:
            return "conditions depend on more than one affine function of f, or on the targets"
        try:
            region = cond_t.as_set().intersect(remaining) if cond_t.free_symbols else \
                (remaining if cond_t == sp.true else sp.S.EmptySet)
        except (NotImplementedError, TypeError, ValueError):
            return f"the condition {_short(cond_t)} could not be solved for the breakpoints"
        regions.append(region)
        remaining = remaining - region
    if remaining != sp.S.EmptySet:
        return "the Piecewise is not defined for every value of its affine function"
    boundary = sp.Union(*(region.boundary for region in regions))
    if not isinstance(boundary, sp.FiniteSet) or len(boundary) > 50 or \
            not all(b.is_number and b.is_real for b in boundary):
        return "breakpoints that are not finitely many numbers"
    points = sorted(boundary, key=lambda b: float(b))

    def piece_at(x):
        return expr.args[next(k for k, region in enumerate(regions) if region.contains(x) == sp.true)].expr

    probes = [points[0] - 1] + [(u + v) / 2 for u, v in itertools.pairwise(points)] + [points[-1] + 1] if points else []
    for i, b in enumerate(points):
        point = Breakpoint(r, b, piece_at(probes[i]), piece_at(b), piece_at(probes[i + 1]),
                           {order[j]: (b - (r - a[j] * order[j])) / a[j]}, order)
        for check in BREAKPOINT_CHECKS:
            failure = check(point)
            if failure is not None:
                return failure
    return None


#: the rules, tried in this order (patterns before the generic atoms they would otherwise fall to)
RULES: dict[str, Callable] = {
    "constant": rule_constant,
    "variable": rule_variable,
    "add": rule_add,
    "mul": rule_mul,
    "piecewise": rule_piecewise,
    "log-sum-exp": rule_log_sum_exp,
    "log cosh": rule_log_cosh,
    "log of a power": rule_log_of_power,
    "Euclidean norm": rule_euclidean_norm,
    "exponential": rule_exponential,
    "power": rule_power,
    "function": rule_function,
}


# ----------------------------------------------------------------------------------------------- result

@dataclass(frozen=True)
class DCPResult:
    """The curvature and sign DCP proves for an expression in f, and why (the rules used, or where it got
    stuck). ``verdict`` is "convex" (a proof) or "unknown" (no proof; not a disproof)."""

    curvature: str
    sign: frozenset
    reason: str

    @property
    def convex(self) -> bool:
        return is_convex(self.curvature)

    @property
    def verdict(self) -> str:
        return "convex" if self.convex else "unknown"


def analyse(expr, f) -> DCPResult:
    """DCP curvature of ``expr`` in the outputs ``f`` (every other symbol is a constant)."""
    analysis = Analysis(f)
    try:
        shape = analysis.shape(sp.sympify(expr))
    except RecursionError:
        return DCPResult("unknown", ANY, "DCP: the expression is nested too deeply to analyse")
    if shape.convex:
        reason = f"DCP: the composition rules prove it {shape.curvature} in f (rules: {', '.join(analysis.used)})"
    elif shape.curvature == "concave":
        reason = "DCP: the composition rules prove it concave (not affine) in f, which proves no convexity"
    else:
        reason = f"DCP: unknown curvature at {analysis.stuck}"
    return DCPResult(shape.curvature, shape.sign, reason)
