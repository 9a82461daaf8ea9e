"""Certificates: every derivation step is checked, on its own sides, on explicit instances.

A :class:`Step` holds ``lhs`` and ``rhs`` and a :class:`Check`; the step computes its certificate
itself by running the check on exactly the sides it shows (and that code is generated from), so no
formula is typed twice and a certificate cannot be made by hand. The checks:

- :class:`Identity` — both sides evaluated on random *rational* matrices in exact arithmetic. A matrix
  identity between expressions in the symbols of :mod:`theory.notation` is a rational-function
  identity in the entries; a false one survives a random rational point only on a measure-zero set,
  so a few sizes give a certificate far more trustworthy than ``simplify``. Sides that leave the
  rationals (radicals, exp, log) are compared at 60 significant digits and the certificate says so.
- :class:`AgainstTruth` — one side evaluated against ground truth computed from the instance alone
  (entrywise derivatives of the objective, an exact solve, an enumeration of minibatches).
- :class:`SymbolicZero`, :class:`Signs` — residues and signs built from the sides, decided by SymPy.
- :class:`ExactRank` — a rank bound on a side, at sizes where a wrong side could exceed it.
- :class:`RootSet` — a claimed set of fixed points against an independent exact root isolation.
- :class:`Predicate`, :class:`AllOf` — a decision about the sides; several checks at once.
- :class:`Definition` — a symbol introduced or a hypothesis stated: shown, never counted.

:func:`theory.mutation.mutants` perturbs a rhs; ``step.recheck(rhs=mutant)`` must fail.

>>> from theory.notation import K, lam, I_n, n, m, C
>>> step = Step("T0", "resolvent", "(K + λI)⁻¹K + λ(K + λI)⁻¹ = I", (K + lam * I_n).I * K + lam * (K + lam * I_n).I,
...             I_n, Identity("resolvent", sizes=[{n: 3, m: 2, C: 1}]))
>>> step.certificate.passed, step.recheck(rhs=2 * I_n).passed
(True, False)
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import sympy as sp

from theory import limits, notation as nt

#: digits used when an identity leaves the rationals; residues must be below 10**-(DIGITS - 10)
DIGITS = 60


#: a certificate is issued only by :meth:`Check.run`; this private seal keeps hand-made ones out
_SEAL = object()


class Certificate:
    """Outcome of checking one step, computed from that step's own sides by a :class:`Check`.

    ``trials`` names the instances tried; ``method`` says how (exact, 60 digits, symbolic, ...);
    ``kind`` is "certificate", or "definition"/"assumption"/"construction" for steps that introduce a
    symbol or state a hypothesis and therefore certify nothing. Certificates cannot be constructed by
    hand: ``Certificate(..., passed=True)`` raises ``TypeError``.
    """

    __slots__ = ("identity", "method", "trials", "passed", "detail", "kind", "subject")

    def __init__(self, identity: str, method: str, trials, passed: bool, detail: str = "", *,
                 kind: str = "certificate", subject=None, _seal=None):
        if _seal is not _SEAL:
            raise TypeError("a Certificate is issued only by a check run on a step's own sides: build "
                            "Step(claim, name, statement, lhs, rhs, check) and read step.certificate")
        for name, value in (("identity", identity), ("method", method), ("trials", tuple(trials)),
                            ("passed", bool(passed)), ("detail", detail), ("kind", kind), ("subject", subject)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("certificates are immutable")

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Certificate({self.identity!r}, {self.summary()!r})"

    @property
    def counts(self) -> bool:
        """Whether this is a certificate at all (definitions, assumptions and constructions are not)."""
        return self.kind == "certificate"

    def summary(self) -> str:
        if not self.counts:
            return f"{self.kind}, not certified: {self.detail}" if self.detail else f"{self.kind}, not certified"
        verdict = "certified" if self.passed else "FAILED"
        text = f"{verdict} by {self.method} at {'; '.join(self.trials)}"
        return text + (f" ({self.detail})" if self.detail else "")


class Outcome(NamedTuple):
    """What a check found; :meth:`Check.run` seals it into a :class:`Certificate`."""

    identity: str
    method: str
    trials: tuple
    passed: bool
    detail: str = ""


class Check:
    """A way to certify a step from the step's own evaluated sides.

    Subclasses implement :meth:`outcome`; :meth:`run` turns it into a sealed certificate. A check that
    raises while evaluating a side fails (a malformed side is not a certified one).
    """

    kind = "certificate"

    def outcome(self, lhs, rhs) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, lhs, rhs) -> Certificate:
        try:
            found = self.outcome(lhs, rhs)
        except limits.SymbolicLimitError:
            raise  # a resource limit is not a failed certificate: the caller must hear of it
        except Exception as exc:  # noqa: BLE001 - any failure to evaluate is a failed certificate
            found = Outcome(getattr(self, "identity", type(self).__name__), type(self).__name__, (), False,
                            f"could not be checked: {type(exc).__name__}: {exc}")
        return Certificate(*found, kind=self.kind, subject=(lhs, rhs), _seal=_SEAL)


@dataclass(frozen=True)
class Step:
    """One named derivation step ``lhs = rhs`` (or a statement about them), certified by its own ``check``.

    The certificate is computed here, from exactly the ``lhs`` and ``rhs`` shown and generated into code;
    :meth:`recheck` certifies a replacement right-hand side with the same check (mutation tests use it).
    """

    claim: str
    name: str
    statement: str
    lhs: sp.Basic
    rhs: sp.Basic
    check: Check
    certificate: Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.check, Check):
            raise TypeError(f"step {self.name!r}: check must be a theory.certify.Check (a certificate is computed "
                            f"from the step's own sides), got {type(self.check).__name__}")
        object.__setattr__(self, "certificate", self.check.run(self.lhs, self.rhs))

    @property
    def is_definition(self) -> bool:
        return not self.certificate.counts

    @property
    def holds(self) -> bool:
        """The certificate was issued for these very sides and passed (definitions hold by fiat)."""
        subject = self.certificate.subject
        own = subject is not None and subject[0] is self.lhs and subject[1] is self.rhs
        return own and (self.certificate.passed or self.is_definition)

    def recheck(self, rhs=None, lhs=None) -> Certificate:
        """The certificate the same check gives to other sides (default: this step's own)."""
        return self.check.run(self.lhs if lhs is None else lhs, self.rhs if rhs is None else rhs)

    def latex(self) -> str:
        """lhs = rhs; a side that is a statement in words (a symbol named "rank dK") is set as text, and a
        side that is itself a relation ("f'(0) > 0", "<= 2C") is joined without a false "="."""
        lhs, rhs = latex_side(self.lhs), latex_side(self.rhs)
        left_rel, right_rel = _is_relation(self.lhs), _is_relation(self.rhs)
        if right_rel and symbol_name(self.rhs).lstrip().startswith(("<", ">", "=")):
            return f"{lhs} {rhs}"
        joiner = r"\iff" if left_rel and right_rel else "="
        return f"{lhs} {joiner} {rhs}"

    def _repr_markdown_(self) -> str:
        """Rendered in notebooks: name, statement, the equation and its certificate."""
        mark = "✔" if self.certificate.passed and self.certificate.counts else ("·" if self.is_definition else "✘")
        return (f"**{_md_escape(self.name)}** — {_md_escape(self.statement)}\n\n$${self.latex()}$$\n\n"
                f"<small>{mark} {_md_escape(self.certificate.summary())}</small>")

    def __str__(self) -> str:
        return (f"[{self.claim} · {self.name}] {self.statement}\n"
                f"    {sp.sstr(self.lhs)} = {sp.sstr(self.rhs)}\n"
                f"    {self.certificate.summary()}")


class Derivation:
    """An ordered collection of steps, each certified on its own sides, with the expressions they lead to."""

    claim: str = ""
    steps: tuple[Step, ...] = ()

    @property
    def certified(self) -> bool:
        """Every step holds, and at least one step is a certificate (definitions alone certify nothing)."""
        return bool(self.steps) and all(step.holds for step in self.steps) and any(
            not step.is_definition for step in self.steps)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"{self.claim} has no step {name!r}; steps are {[s.name for s in self.steps]}")

    def latex(self) -> str:
        return "\n".join(f"% {s.name}\n{s.latex()}" for s in self.steps)

    def _repr_markdown_(self) -> str:
        """Rendered in notebooks: every step as an equation with its certificate."""
        head = f"### {self.claim}: {len(self.steps)} steps, {'all certified' if self.certified else 'NOT all certified'}"
        return "\n\n".join([head] + [f"{i}. {step._repr_markdown_()}" for i, step in enumerate(self.steps, 1)])

    def __str__(self) -> str:
        return "\n".join(str(step) for step in self.steps)


_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*'*(_[A-Za-z0-9_{},]+)?")
_RELATION = re.compile(r"<=|>=|<|>|=|≤|≥")
_TEX_RELATIONS = {"<=": r"\le", ">=": r"\ge", "≤": r"\le", "≥": r"\ge"}


def symbol_name(expr) -> str:
    """The name of a Symbol or MatrixSymbol (a side named by a phrase, such as "rank dK"), else ""."""
    return expr.name if isinstance(expr, (sp.Symbol, sp.MatrixSymbol)) else ""


def _is_relation(expr) -> bool:
    return isinstance(expr, (sp.core.relational.Relational,)) or bool(_RELATION.search(symbol_name(expr)))


#: symbols whose names have a TeX spelling of their own (the all-ones vector)
_TEX_NAMES = {"𝟏": r"\mathbf{1}"}


def _as_text(name: str) -> str:
    """A symbol named by a phrase, set upright; relations as TeX so MathJax renders them."""
    if name in _TEX_NAMES:
        return _TEX_NAMES[name]
    parts = re.split(r"(<=|>=|≤|≥)", name)
    return " ".join(_TEX_RELATIONS.get(p, r"\text{" + p.strip() + "}") for p in parts if p.strip())


def latex_side(expr) -> str:
    """LaTeX of one side of a step: symbols named by a phrase ("rank dK", "dL/dW") set upright as text, and SymPy's
    "+ -" between terms written as "-"."""
    if isinstance(expr, (sp.Symbol, sp.MatrixSymbol)) and not _PLAIN_NAME.fullmatch(expr.name):
        return _as_text(expr.name)
    odd = {}
    for s_ in getattr(expr, "free_symbols", ()):
        if isinstance(s_, sp.Symbol) and not _PLAIN_NAME.fullmatch(s_.name):
            odd[s_] = sp.Symbol(_as_text(s_.name))
        elif isinstance(s_, sp.MatrixSymbol) and not _PLAIN_NAME.fullmatch(s_.name):
            odd[s_] = sp.MatrixSymbol(_as_text(s_.name), *s_.shape)
    return re.sub(r"\+ - ", "- ", sp.latex(expr.xreplace(odd) if odd else expr))


def _md_escape(text: str) -> str:
    """Keep * and _ in statements (W*, G_i) literal when rendered as Markdown."""
    return re.sub(r"([*_`])", r"\\\1", text)


# --------------------------------------------------------------------------------------------
# exact evaluation of matrix expressions


def evaluate(expr, values: Mapping, first_order_in: sp.Symbol | None = None):
    """Evaluate ``expr`` with every symbol in ``values`` replaced by an explicit value.

    Matrix symbols map to explicit ``ImmutableMatrix`` objects, size symbols to ints, scalar
    symbols to numbers. The walk is explicit (not ``doit``) so that inverses, transposes and
    traces of explicit matrices are always carried out, exactly.

    With ``first_order_in`` = t (values may be polynomials in t), matrix arithmetic is done in Q[t]/(t²): products
    drop their t² terms and an inverse is (A₀ + tA₁)⁻¹ = A₀⁻¹ − tA₀⁻¹A₁A₀⁻¹ (exact modulo t²: multiply out), so the
    value and the first derivative in t are exact while the entries stay linear in t.
    """
    def again(sub):
        return evaluate(sub, values, first_order_in)

    def cut(matrix):
        if first_order_in is None:
            return matrix
        t = first_order_in

        def linear_part(entry):
            if not sp.sympify(entry).is_polynomial(t):  # a rational function of t (a scalar divided by a trace)
                return entry.subs(t, 0) + t * sp.diff(entry, t).subs(t, 0)
            entry = sp.expand(entry)
            return entry.coeff(t, 0) + t * entry.coeff(t, 1)

        return matrix.applyfunc(linear_part)

    def inverse(matrix):
        if first_order_in is None:
            return matrix.inv()
        A = cut(sp.Matrix(matrix))
        A0 = A.applyfunc(lambda e: sp.expand(e).coeff(first_order_in, 0))
        A1 = A.applyfunc(lambda e: sp.expand(e).coeff(first_order_in, 1))
        inv0 = A0.inv()
        return sp.ImmutableMatrix(inv0 - first_order_in * inv0 * A1 * inv0)

    if isinstance(expr, sp.MatrixSymbol):
        try:
            return values[expr]
        except KeyError:
            raise KeyError(f"no explicit value for the matrix {expr}") from None
    if isinstance(expr, sp.Identity):
        return sp.eye(int(again(expr.rows)))
    if isinstance(expr, sp.ZeroMatrix):
        return sp.zeros(int(again(expr.rows)), int(again(expr.cols)))
    if isinstance(expr, sp.OneMatrix):
        return sp.ones(int(again(expr.rows)), int(again(expr.cols)))
    if isinstance(expr, sp.MatAdd):
        parts = [again(a) for a in expr.args]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total
    if isinstance(expr, sp.MatMul):
        out = sp.Integer(1)
        for a in expr.args:
            out = out * again(a)
            out = cut(out) if isinstance(out, sp.MatrixBase) else out
        return out
    if isinstance(expr, sp.Inverse):
        return inverse(again(expr.arg))
    if isinstance(expr, sp.Transpose):
        return again(expr.arg).T
    if isinstance(expr, sp.MatPow):
        base, power = again(expr.base), int(again(expr.exp))
        if first_order_in is None:
            return base ** power
        if power < 0:
            base, power = inverse(base), -power
        out = sp.ImmutableMatrix(sp.eye(base.rows)) if power == 0 else base
        for _ in range(power - 1):
            out = cut(out * base)
        return out
    if isinstance(expr, sp.Trace):
        return again(expr.arg).trace()
    if isinstance(expr, sp.MatrixBase):
        return sp.ImmutableMatrix(expr.applyfunc(again))
    if isinstance(expr, sp.Basic) and expr.args and expr.has(sp.MatrixExpr):
        return expr.func(*[again(a) for a in expr.args])
    if isinstance(expr, sp.Basic):
        return expr.xreplace({k: v for k, v in values.items() if not isinstance(k, sp.MatrixSymbol)})
    return expr


def lifted_derivative(expr, values: Mapping, variable: sp.MatrixSymbol, direction: sp.MatrixSymbol):
    """d/dt expr(variable + t·direction) at t = 0 for a matrix ``expr``, exactly, by evaluating it on block matrices:
    ``variable`` becomes [[V, E], [0, V]] (E = values[direction]) and every other matrix M becomes [[M, 0], [0, M]],
    every size symbol doubled. Sums, products and inverses of such matrices stay block upper-triangular with equal
    diagonal blocks, which is arithmetic in Q[ε]/(ε²), so the upper-right block of the result is the derivative —
    by ring arithmetic and exact inverses, without the rules of matrix calculus and without a symbolic t (a ground
    truth for a derived Jacobian)."""
    sizes = {s for key in values if isinstance(key, sp.MatrixSymbol) for d in key.shape
             for s in sp.sympify(d).free_symbols}
    lifted = {key: 2 * value if key in sizes else value
              for key, value in values.items() if not isinstance(key, sp.MatrixSymbol)}
    for key, value in values.items():
        if not isinstance(key, sp.MatrixSymbol) or key == direction:
            continue
        value = sp.Matrix(value)
        zero = sp.zeros(*value.shape)
        upper = value.row_join(sp.Matrix(values[direction]) if key == variable else zero)
        lifted[key] = sp.ImmutableMatrix(upper.col_join(zero.row_join(value)))
    result = sp.Matrix(evaluate(expr, lifted))
    return sp.ImmutableMatrix(result[: result.rows // 2, result.cols // 2:])


def exact_directional_derivative(expr, values: Mapping, variable: sp.MatrixSymbol, direction):
    """d/dt expr(variable + t·direction) at t = 0 on explicit values, by SymPy's scalar ``diff``: ``variable`` is
    replaced by the explicit matrix values[variable] + t·direction (t a symbol), ``expr`` (a scalar or a matrix) is
    evaluated exactly in Q[t]/(t²) (see :func:`evaluate`), differentiated entrywise in t and set at t = 0 — no rule of
    matrix calculus applied to the expression, so it is a ground truth for a derived gradient or Jacobian. Other symbols keep their values (write ``expr`` in the variable
    that moves: a K = ΦᵀΦ given separately does not follow Φ)."""
    t = sp.Dummy("t")
    moved = dict(values)
    moved[variable] = sp.ImmutableMatrix(sp.Matrix(values[variable]) + t * sp.Matrix(direction))
    value = evaluate(expr, moved, first_order_in=t)  # exact to first order in t, entries kept linear in t
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value.applyfunc(lambda e: sp.diff(e, t).subs(t, 0)))
    return sp.diff(value, t).subs(t, 0)


def _as_matrix(value) -> sp.ImmutableMatrix:
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value)
    return sp.ImmutableMatrix([[value]])


def compare(lhs, rhs, digits: int = DIGITS) -> tuple[bool, str, str]:
    """(equal, method, detail) for two explicit values.

    Rational differences are compared exactly; entries with free symbols (free parameters of a general
    solution) must expand to 0; anything else (radicals, exp, log) is compared at ``DIGITS`` digits with
    residues below 10**-(digits - 10) relative to the largest entry.
    """
    a, b = _as_matrix(lhs), _as_matrix(rhs)
    if a.shape != b.shape:
        return False, "exact evaluation", f"shapes differ: {a.shape} vs {b.shape}"
    diff = a - b
    if all(e.is_Rational for e in list(a) + list(b)):
        bad = [e for e in diff if e != 0]
        return not bad, "exact evaluation", (f"residue {bad[0]}" if bad else "")
    if any(e.free_symbols for e in list(a) + list(b)):
        bad = [e for e in diff if sp.simplify(sp.expand(e)) != 0]
        return not bad, "exact evaluation with free parameters", (f"residue {bad[0]}" if bad else "")
    # each side at DIGITS before subtracting: Rational − Float is evaluated at the Float's own precision, so a
    # 15-digit ground truth would otherwise compare equal to an exact value it misses at 1e-16
    a_n, b_n = [sp.N(limits.check_evaluable(e), DIGITS) for e in a], [sp.N(limits.check_evaluable(e), DIGITS) for e in b]
    scale = max([1] + [abs(e) for e in a_n + b_n])
    worst = max(abs(x - y) for x, y in zip(a_n, b_n))
    ok = worst <= scale * sp.Float(10) ** (-(digits - 10))
    return bool(ok), f"{DIGITS}-digit evaluation", ("" if ok else f"residue {sp.N(worst, 5)}")


# --------------------------------------------------------------------------------------------
# random exact instances


def rational(rng: random.Random, *, positive: bool = False) -> sp.Rational:
    """A small random rational number (positive if asked)."""
    num = rng.randint(1, 9) if positive else rng.choice([i for i in range(-9, 10) if i])
    return sp.Rational(num, rng.randint(1, 6))


def rational_matrix(rng: random.Random, rows: int, cols: int) -> sp.ImmutableMatrix:
    """A rows × cols matrix of small random nonzero rationals (:func:`rational`), exact."""
    return sp.ImmutableMatrix(rows, cols, lambda i, j: rational(rng))


def rational_orthogonal(rng: random.Random, size: int) -> sp.ImmutableMatrix:
    """An exactly orthogonal rational matrix: the Cayley transform (I − A)(I + A)⁻¹ of a skew A."""
    upper = rational_matrix(rng, size, size)
    skew = sp.ImmutableMatrix(size, size, lambda i, j: upper[i, j] if i < j else (-upper[j, i] if i > j else 0))
    eye = sp.eye(size)
    return sp.ImmutableMatrix((eye - skew) * (eye + skew).inv())


def standard_instance(rng: random.Random, dims: Mapping) -> dict:
    """Random exact values for the symbols of the setting (docs/theory.md#setting) at the sizes ``dims``.

    Φ, W, Y have random rational entries; K = ΦᵀΦ and S = YᵀY as in the setting (so K is PSD
    and symmetric, as every identity about the kernel may assume); λ, μ are positive rationals.
    """
    size = {nt.n: int(dims[nt.n]), nt.m: int(dims.get(nt.m, dims[nt.n])), nt.C: int(dims[nt.C])}
    phi = rational_matrix(rng, size[nt.m], size[nt.n])
    y = rational_matrix(rng, size[nt.C], size[nt.n])
    values = dict(size)
    values.update({
        nt.Phi: phi,
        nt.W: rational_matrix(rng, size[nt.C], size[nt.m]),
        nt.Y: y,
        nt.K: sp.ImmutableMatrix(phi.T * phi),
        nt.S: sp.ImmutableMatrix(y.T * y),
        nt.lam: rational(rng, positive=True),
        nt.mu: rational(rng, positive=True),
    })
    return values


def _describe(dims: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in dims.items())


def instances_at(sizes: Iterable[Mapping], seed: int, sample: Callable = standard_instance) -> list[tuple[str, dict]]:
    """[(label, values)]: ``sample(rng, dims)`` at each size, with one seeded generator (reproducible)."""
    rng = random.Random(seed)
    return [(_describe(dims), sample(rng, dims)) for dims in sizes]


#: sizes at which matrix identities are certified: square, wide and tall Φ
DEFAULT_SIZES = (
    {nt.n: 3, nt.m: 3, nt.C: 2},
    {nt.n: 4, nt.m: 2, nt.C: 2},
    {nt.n: 2, nt.m: 4, nt.C: 3},
)


def _substituted(expr, substitute):
    return expr.xreplace(dict(substitute)) if substitute else expr


class Identity(Check):
    """lhs = rhs, both sides evaluated exactly on ``sample(rng, dims)`` for each size in ``sizes``.

    A polynomial-identity test: a false rational identity survives a random rational point only on a
    measure-zero set. ``substitute`` replaces symbols defined by earlier steps (e.g. D → its formula)
    in both sides before evaluation.
    """

    def __init__(self, identity: str, *, sizes: Iterable[Mapping] = DEFAULT_SIZES,
                 sample: Callable[[random.Random, Mapping], dict] = standard_instance, seed: int = 0,
                 substitute: Mapping | None = None, instances: Callable[[], list] | None = None):
        self.identity, self.sizes, self.sample, self.seed = identity, tuple(sizes), sample, seed
        self.substitute = dict(substitute or {})
        self._make = instances or (lambda: instances_at(self.sizes, self.seed, self.sample))
        self._instances = None

    def instances(self) -> list[tuple[str, dict]]:
        """[(label, values)]: sampled at ``sizes`` or given explicitly (``instances``), computed once."""
        if self._instances is None:
            self._instances = self._make()
            if not self._instances:
                raise ValueError(f"identity {self.identity!r} has no instance to be checked on")
        return self._instances

    def outcome(self, lhs, rhs) -> Outcome:
        lhs, rhs = _substituted(lhs, self.substitute), _substituted(rhs, self.substitute)
        trials, methods = [], set()
        for label, values in self.instances():
            equal, method, detail = compare(evaluate(lhs, values), evaluate(rhs, values))
            methods.add(method)
            trials.append(label)
            if not equal:
                return Outcome(self.identity, method, tuple(trials), False, f"fails at {label}: {detail}")
        return Outcome(self.identity, " and ".join(sorted(methods)), tuple(trials), True)


class AgainstTruth(Check):
    """One side of the step, evaluated on explicit instances, against a ground truth computed from the
    instance alone (an entrywise derivative, an exact solve, an enumeration) — never from the step.

    ``instances()`` → [(label, values)]; ``truth(values)`` → explicit value; ``side(lhs, rhs)`` picks
    the expression to evaluate (default: the rhs, the derived formula). Truth values are computed once
    and cached, so rechecking a mutated side is cheap.
    """

    def __init__(self, identity: str, truth: Callable[[dict], object],
                 instances: Callable[[], list[tuple[str, dict]]], *, side: Callable = None,
                 substitute: Mapping | None = None, method: str = "", digits: int = DIGITS):
        self.identity, self.truth, self._make = identity, truth, instances
        self.side = side or (lambda lhs, rhs: rhs)
        self.substitute, self.method, self.digits = dict(substitute or {}), method, digits
        self._cases = None

    def cases(self):
        if self._cases is None:
            self._cases = [(label, values, self.truth(values)) for label, values in self._make()]
        return self._cases

    def outcome(self, lhs, rhs) -> Outcome:
        expr = _substituted(self.side(lhs, rhs), self.substitute)
        trials, methods = [], set()
        for label, values, truth in self.cases():
            equal, method, detail = compare(evaluate(expr, values), truth, self.digits)
            methods.add(self.method or method)
            trials.append(label)
            if not equal:
                return Outcome(self.identity, self.method or method, tuple(trials), False,
                               f"fails at {label}: {detail}")
        return Outcome(self.identity, " and ".join(sorted(methods)), tuple(trials), True)


def _simplified(expr):
    """0 when ``expr`` is identically 0: rational functions by cancel (fast, decisive), anything else by simplify."""
    quick = sp.cancel(sp.together(expr))
    return quick if quick == 0 else sp.simplify(expr)


class SymbolicZero(Check):
    """A residue built from the step's sides (default lhs − rhs; a scalar or every entry of a matrix)
    that SymPy simplifies to 0."""

    def __init__(self, identity: str, residue: Callable = None, assumptions: str = ""):
        self.identity, self.assumptions = identity, assumptions
        self.residue = residue or (lambda lhs, rhs: lhs - rhs)

    def outcome(self, lhs, rhs) -> Outcome:
        residue = self.residue(lhs, rhs)
        entries = list(residue) if isinstance(residue, (sp.MatrixBase, list, tuple)) else [residue]
        method = "symbolic simplification to 0" + (f" ({self.assumptions})" if self.assumptions else "")
        for entry in entries:  # a residue that is nonzero at one admissible point cannot simplify to 0: no simplify
            witness = nonzero_witness(entry)
            if witness is not None:
                return Outcome(self.identity, method, ("symbolic",), False, f"residue {entry}")
        left = [r for r in (_simplified(e) for e in entries) if r != 0]
        return Outcome(self.identity, method, ("symbolic",), not left, f"residue {left[0]}" if left else "")


def nonzero_witness(expr, seed: int = 0):
    """(point, value) with ``expr`` an exact nonzero rational at a rational point of its free symbols that satisfies
    every assumption they carry (positive, integer, ...), or None. Such a point proves ``expr`` is not identically 0
    (simplification preserves values), so a false identity is rejected without simplifying; a true one is never
    affected (it is 0 at every admissible point)."""
    expr = sp.sympify(expr)
    if not isinstance(expr, sp.Expr):
        return None
    rng = random.Random(seed)
    point = {}
    for symbol in sorted(expr.free_symbols, key=str):
        if not isinstance(symbol, sp.Symbol):
            return None
        magnitude = sp.Integer(rng.randint(2, 9)) if symbol.is_integer else sp.Rational(rng.randint(1, 97),
                                                                                           rng.randint(2, 89))
        value = -magnitude if (symbol.is_negative or symbol.is_nonpositive) else magnitude
        facts = symbol.assumptions0
        if any(truth is not None and getattr(value, f"is_{fact}", None) is not truth for fact, truth in facts.items()):
            return None  # an assumption this value does not meet (even, prime, ...): no admissible point chosen
        point[symbol] = value
    value = expr.xreplace(point)
    return (point, value) if value.is_Rational and value != 0 else None


class Signs(Check):
    """Signs of expressions built from the step's sides, decided by SymPy under a positive parametrisation.

    ``conditions(lhs, rhs)`` → [(label, expression, "positive" | "negative")]; each expression is put over
    a common denominator and factored, and its sign must be decided as required.
    """

    def __init__(self, identity: str, conditions: Callable, parametrisation: str):
        self.identity, self.conditions, self.parametrisation = identity, conditions, parametrisation

    def outcome(self, lhs, rhs) -> Outcome:
        bad, labels = [], []
        for label, expr, sign in self.conditions(lhs, rhs):
            labels.append(label)
            value = sp.factor(sp.together(expr))
            decided = value.is_positive if sign == "positive" else value.is_negative
            if not decided:
                bad.append(f"{label} is not provably {sign}: {value}")
        return Outcome(self.identity, f"symbolic sign analysis ({self.parametrisation})", tuple(labels), not bad,
                       "; ".join(bad))


class ExactRank(Check):
    """rank ≤ bound, by exact rank over the rationals of a side evaluated at sizes where a wrong side could
    exceed the bound. ``of(lhs, rhs)`` picks the matrix (default: the rhs); ``bound(values)`` is an int."""

    def __init__(self, identity: str, bound: Callable[[dict], int], *, sizes: Iterable[Mapping] = (),
                 sample: Callable[[random.Random, Mapping], dict] = standard_instance, seed: int = 0,
                 of: Callable = None, substitute: Mapping | None = None, instances: Callable[[], list] | None = None):
        self.identity, self.bound, self.sizes, self.sample, self.seed = identity, bound, tuple(sizes), sample, seed
        self.of = of or (lambda lhs, rhs: rhs)
        self.substitute = dict(substitute or {})
        self._make = instances or (lambda: instances_at(self.sizes, self.seed, self.sample))
        self._instances = None

    def outcome(self, lhs, rhs) -> Outcome:
        if self._instances is None:
            self._instances = self._make()
            if not self._instances:
                raise ValueError(f"rank statement {self.identity!r} has no instance to be checked on")
        expr = _substituted(self.of(lhs, rhs), self.substitute)
        trials = []
        method = "exact rank over the rationals"
        for label, values in self._instances:
            value = sp.Matrix(_as_matrix(evaluate(expr, values)))
            if not all(e.is_Rational for e in value):
                return Outcome(self.identity, method, tuple(trials), False, f"non-rational entries at {label}")
            rank, bound = value.rank(), int(self.bound(values))
            trials.append(f"{label}: rank {rank} ≤ {bound}")
            if min(value.shape) <= bound:
                return Outcome(self.identity, method, tuple(trials), False,
                               f"at {label} a {value.shape} matrix cannot exceed rank {bound}: "
                               "choose sizes where the bound could fail")
            if rank > bound:
                return Outcome(self.identity, method, tuple(trials), False, f"rank {rank} > {bound} at {label}")
        return Outcome(self.identity, method, tuple(trials), True)


class Predicate(Check):
    """A decision about the step's own sides that is not an equation (a counterexample exists, an
    inclusion of subspaces holds): ``decide(lhs, rhs)`` → (passed, trials, detail)."""

    def __init__(self, identity: str, decide: Callable, method: str):
        self.identity, self.decide, self.method = identity, decide, method

    def outcome(self, lhs, rhs) -> Outcome:
        passed, trials, detail = self.decide(lhs, rhs)
        return Outcome(self.identity, self.method, tuple(trials), bool(passed), "" if passed else detail)


class RootSet(Check):
    """The rhs (a finite set of expressions) is the complete set of roots of ``function`` in ``variable`` on
    ``variable`` ≥ 0, checked at explicit rational parameters against the real roots of the numerator,
    isolated exactly (``sympy.real_roots``) — an independent solver, and it also checks completeness."""

    def __init__(self, identity: str, function: sp.Expr, variable: sp.Symbol, parameters: Iterable[Mapping]):
        self.identity, self.function, self.variable = identity, function, variable
        self.parameters = [dict(p) for p in parameters]
        if not self.parameters:
            raise ValueError(f"root set {identity!r} needs at least one parameter instance")

    def outcome(self, lhs, rhs) -> Outcome:
        trials = []
        for params in self.parameters:
            label = ", ".join(f"{k}={v}" for k, v in params.items())
            trials.append(label)
            numerator = sp.numer(sp.together(self.function.xreplace(params)))
            roots = sorted({r for r in sp.real_roots(sp.Poly(numerator, self.variable)) if r >= 0},
                           key=lambda r: sp.N(r, DIGITS))
            claimed = sorted((sp.sympify(e).xreplace(params) for e in rhs.args), key=lambda r: sp.N(r, DIGITS))
            if len(roots) != len(claimed):
                return Outcome(self.identity, "exact real-root isolation", tuple(trials), False,
                               f"at {label}: roots {roots} on {self.variable} ≥ 0, the step claims {claimed}")
            equal, _, detail = compare(sp.Matrix(roots), sp.Matrix(claimed))
            if not equal:
                return Outcome(self.identity, "exact real-root isolation", tuple(trials), False, f"at {label}: {detail}")
        return Outcome(self.identity, "exact real-root isolation", tuple(trials), True)


class AllOf(Check):
    """Every check must pass; the certificate lists them all."""

    def __init__(self, *checks: Check):
        if not checks or not all(isinstance(c, Check) and c.kind == "certificate" for c in checks):
            raise TypeError("AllOf needs one or more certifying checks")
        self.checks = checks
        self.identity = "; ".join(c.identity for c in checks)

    def outcome(self, lhs, rhs) -> Outcome:
        found = [c.outcome(lhs, rhs) for c in self.checks]
        failed = [f for f in found if not f.passed]
        first = failed[0] if failed else found[0]
        methods = " + ".join(dict.fromkeys(f.method for f in found))
        trials = tuple(t for f in found for t in f.trials)
        return Outcome(self.identity, methods, trials, not failed,
                       f"{first.identity}: {first.detail}" if failed else "")


class Definition(Check):
    """Not a certificate: the step introduces a symbol, states an assumption or substitutes a
    construction. It is shown as such and never counts towards ``Derivation.certified``."""

    KINDS = ("definition", "assumption", "construction")

    def __init__(self, reason: str, kind: str = "definition"):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.identity, self.reason, self.kind = reason, reason, kind

    def outcome(self, lhs, rhs) -> Outcome:
        return Outcome(self.reason, self.kind, (), True, self.reason)


def certify_identity(identity: str, lhs, rhs, *, sizes: Iterable[Mapping] = DEFAULT_SIZES,
                     sample: Callable[[random.Random, Mapping], dict] = standard_instance,
                     seed: int = 0) -> Certificate:
    """Certify ``lhs = rhs`` by exact evaluation on ``sample(rng, dims)`` for each size in ``sizes``."""
    return Identity(identity, sizes=sizes, sample=sample, seed=seed).run(lhs, rhs)
