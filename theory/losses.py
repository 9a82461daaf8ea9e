"""Per-sample losses ℓ(f, y) as SymPy expressions in outputs f1..fC and targets y1..yC.

A :class:`Loss` is only its expression; everything else (gradient, Hessian, whether the gradient
is affine in f) is derived from it by SymPy, never written by hand.

>>> loss = squared(2)
>>> loss.gradient().T
Matrix([[f1 - y1, f2 - y2]])
>>> loss.affine_gradient()
(1, -1)
>>> parse("log(1 + exp(-y1*f1))", 1).convexity().verdict
'convex'
>>> parse("max(0, 1 - y1*f1)**2", 1).convexity().reason  # squared hinge: by composition rules (theory.convexity)
'DCP: the composition rules prove it convex in f (rules: constant, variable, mul, add, function, power)'
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import cached_property, lru_cache

import mpmath
import sympy as sp

from theory import convexity as dcp, limits
from theory.kinks import gradient_jump
from theory.loss_parser import parse_loss_text


def _check_outputs(C, name: str = "C") -> int:
    return limits.check_outputs(C, name)


@dataclass(frozen=True)
class Loss:
    """ℓ(f, y) for one sample: ``expr`` in the symbols ``f`` (outputs) and ``y`` (targets)."""

    name: str
    C: int
    expr: sp.Expr

    @cached_property
    def f(self) -> tuple[sp.Symbol, ...]:
        return sp.symbols(f"f1:{self.C + 1}", real=True)

    @cached_property
    def y(self) -> tuple[sp.Symbol, ...]:
        return sp.symbols(f"y1:{self.C + 1}", real=True)

    def gradient(self) -> sp.Matrix:
        """g(f, y) = ∇_f ℓ, a C × 1 column, by scalar differentiation of ``expr``."""
        return sp.Matrix([sp.diff(self.expr, fk) for fk in self.f])

    def hessian(self) -> sp.Matrix:
        """∇²_f ℓ, C × C."""
        return sp.hessian(self.expr, self.f)

    def value(self, f, y) -> sp.Expr:
        """ℓ at explicit outputs ``f`` and targets ``y`` (sequences of length C)."""
        return self.expr.xreplace(dict(zip(self.f, f)) | dict(zip(self.y, y)))

    def convexity(self) -> Convexity:
        """Convexity in f, derived from the Hessian (see :class:`Convexity`); cached per loss.
        SymbolicLimitError beyond :data:`theory.limits.SYMBOLIC_SECONDS`."""
        with limits.time_limit(f"convexity of the loss {self.name!r}"):
            return _cached_convexity(self)

    def affine_gradient(self) -> tuple[sp.Expr, sp.Expr] | None:
        """Scalars (c, d) with ∇_f ℓ = c·f + d·y exactly, or None when the gradient is not of that form.

        This is what readout elimination (T1) needs: then G = cF + dY and stationarity in W is a
        linear equation. Derived from the Jacobians of g in f and y, which must be constant
        multiples of the identity. SymbolicLimitError beyond :data:`theory.limits.SYMBOLIC_SECONDS`.
        """
        with limits.time_limit(f"affine_gradient of the loss {self.name!r}"):
            return self._affine_gradient()

    def _affine_gradient(self) -> tuple[sp.Expr, sp.Expr] | None:
        g = self.gradient()
        variables = (*self.f, *self.y)
        if all(entry.is_polynomial(*variables) for entry in g) and \
                any(sp.Poly(entry, *variables).total_degree() > 1 for entry in g):
            return None  # a polynomial gradient of degree > 1 is not affine; saves simplifying a long polynomial
        jf, jy = g.jacobian(self.f), g.jacobian(self.y)
        c, d = sp.simplify(jf[0, 0]), sp.simplify(jy[0, 0])
        eye = sp.eye(self.C)
        if c.free_symbols or d.free_symbols:
            return None
        if sp.simplify(jf - c * eye) != sp.zeros(self.C) or sp.simplify(jy - d * eye) != sp.zeros(self.C):
            return None
        if sp.simplify(g - c * sp.Matrix(self.f) - d * sp.Matrix(self.y)) != sp.zeros(self.C, 1):
            return None
        return c, d


@dataclass(frozen=True)
class Convexity:
    """Whether ℓ is convex in f, and why: "convex" (disciplined-convex-programming composition rules proved it,
    :mod:`theory.convexity`, or else SymPy proved every principal minor of the Hessian nonnegative), "not
    convex" (a rational point where the Hessian has a negative eigenvalue) or "undecided" (neither)."""

    verdict: str
    reason: str

    @property
    def convex(self) -> bool:
        return self.verdict == "convex"


#: Hessians larger than this (SymPy operation count) are not simplified: "undecided" unless a witness is found
MAX_HESSIAN_OPS = 400
#: nor are Hessians with powers of higher degree (determinants of such entries blow up)
MAX_POWER = 64


def _convexity(loss: Loss, seed: int = 0) -> Convexity:
    """Composition rules first (cheap, and they prove losses whose Hessian minors SymPy cannot sign: squared
    logistic, squared hinge), then the principal minors, then a witness of negative curvature."""
    proof = dcp.analyse(loss.expr, loss.f)
    if proof.convex:
        return Convexity("convex", proof.reason)
    H = loss.hessian()
    size = int(sp.count_ops(H))
    high_power = any(p.exp.is_Number and abs(p.exp) > MAX_POWER for p in H.atoms(sp.Pow))
    undecided = []
    if size > MAX_HESSIAN_OPS or high_power:  # simplify could run for minutes: look for a witness only
        undecided.append(f"(Hessian of {size} operations{' with powers above ' + str(MAX_POWER) if high_power else ''}:"
                         " not simplified)")
    else:
        for k in range(1, loss.C + 1):
            for idx in itertools.combinations(range(loss.C), k):
                minor = sp.simplify(H.extract(list(idx), list(idx)).det())
                if minor.is_nonnegative is not True:  # negative somewhere, or unknown: look for a witness below
                    undecided.append(idx)
    if not undecided:
        return Convexity("convex", f"all {2 ** loss.C - 1} principal minors of ∇²_f ℓ are provably >= 0")
    witness = _negative_curvature_witness(loss, H, seed)
    if witness is not None:
        return Convexity("not convex", witness)
    return Convexity("undecided", f"SymPy could not sign the principal minors {undecided} and no witness was found; "
                                  f"{proof.reason}")


#: witness points: this many spread over |x| <= 30, then as many near f = y (offsets |f_k − y_k| <= 1)
WITNESS_POINTS = 50


def _witness_points(loss: Loss, rng: random.Random):
    """Rational points (f, y): first spread out, then with each f_k − y_k small — where losses of the residual
    f − y bend (exp(−(f − y)²), (f − y)⁴ − (f − y)²)."""
    symbols = (*loss.f, *loss.y)
    for _ in range(WITNESS_POINTS):
        yield [sp.Rational(rng.randint(-30, 30), rng.randint(1, 5)) for _ in symbols]
    for _ in range(WITNESS_POINTS):
        y = [sp.Rational(rng.randint(-12, 12), rng.randint(1, 4)) for _ in loss.y]
        yield [yk + sp.Rational(rng.randint(-8, 8), 8) for yk in y] + y


def _negative_curvature_witness(loss: Loss, H: sp.Matrix, seed: int) -> str | None:
    """A point where ∇²_f ℓ has a clearly negative eigenvalue (30-digit mpmath evaluation), or None."""
    symbols = (*loss.f, *loss.y)
    hessian = sp.lambdify(symbols, H, modules="mpmath")
    rng = random.Random(seed)
    for exact in _witness_points(loss, rng):
        point = [mpmath.mpf(x.p) / x.q for x in exact]
        try:
            limits.check_evaluable(H.xreplace(dict(zip(symbols, exact))), "the convexity witness")
        except limits.SymbolicLimitError:
            continue  # exponents too large to evaluate here: mpmath could not be interrupted
        try:
            with mpmath.workdps(30):
                values = mpmath.matrix(hessian(*point))
                eigenvalues = mpmath.eigsy((values + values.T) / 2, eigvals_only=True)
                smallest, scale = min(eigenvalues), max(abs(e) for e in eigenvalues)
        except Exception:  # noqa: BLE001, S112 — an overflow or undefined value at this point (user text): next point
            continue
        # clearly negative: beyond 30-digit rounding relative to the largest eigenvalue
        if mpmath.isfinite(smallest) and smallest < -mpmath.mpf(10) ** -20 * max(scale, 1):
            where = dict(zip(map(str, symbols), (mpmath.nstr(x, 6) for x in point)))
            return f"∇²_f ℓ has eigenvalue {mpmath.nstr(smallest, 6)} at {where}"
    return None


def squared(C: int) -> Loss:
    """ℓ = ½‖f − y‖² (regression and one-hot classification)."""
    C = _check_outputs(C)
    loss = Loss("squared", C, sp.Integer(0))
    expr = sp.Rational(1, 2) * sum((fk - yk) ** 2 for fk, yk in zip(loss.f, loss.y))
    return Loss("squared", C, expr)


def softmax_cross_entropy(C: int) -> Loss:
    """ℓ = log Σ_k exp(f_k) − Σ_k y_k f_k (targets one-hot or any probability vector), C ≥ 2."""
    C = _check_outputs(C)
    if C < 2:
        raise ValueError(f"softmax cross-entropy needs C >= 2 outputs, got C={C}")
    base = Loss("softmax_cross_entropy", C, sp.Integer(0))
    expr = sp.log(sum(sp.exp(fk) for fk in base.f)) - sum(yk * fk for fk, yk in zip(base.f, base.y))
    return Loss("softmax_cross_entropy", C, expr)


def logistic() -> Loss:
    """Binary logistic loss ℓ = log(1 + exp(−y f)), y ∈ {−1, +1}; C = 1."""
    base = Loss("logistic", 1, sp.Integer(0))
    f1, y1 = base.f[0], base.y[0]
    return Loss("logistic", 1, sp.log(1 + sp.exp(-y1 * f1)))


#: name → constructor taking C; tests and the campaign parametrise over this registry
def huber(C: int, delta=1) -> Loss:
    """Σ_k h_δ(f_k − y_k), h_δ(r) = r²/2 for |r| ≤ δ, δ|r| − δ²/2 beyond (branches written out so that
    the second derivative is 1 or 0, not a DiracDelta)."""
    C = _check_outputs(C)
    delta = sp.nsimplify(delta)
    if not (delta.is_positive and delta.is_finite):
        raise ValueError(f"delta must be a finite number > 0, got {delta}")
    base = Loss("huber", C, sp.Integer(0))
    terms = []
    for fk, yk in zip(base.f, base.y):
        r = fk - yk
        terms.append(sp.Piecewise((r**2 / 2, sp.Abs(r) <= delta), (delta * r - delta**2 / 2, r > delta),
                                  (-delta * r - delta**2 / 2, True)))
    return Loss("huber", C, sp.Add(*terms))


def parse(text: str, C: int, name: str = "custom") -> Loss:
    """A user's per-sample loss from text in f1..fC, y1..yC — tokenised and whitelisted, never executed
    (see :mod:`theory.loss_parser`); ValueError saying what is not allowed.

    Refused as well: losses beyond the size limits of :mod:`theory.limits`, and losses whose gradient ∇_f ℓ
    jumps (|f − y|, the hinge; see :mod:`theory.kinks`) — the flows and stationarity conditions need a
    continuous gradient. Smooth versions (squared hinge, Huber, logcosh, softplus) are accepted."""
    C = _check_outputs(C)
    base = Loss(name, C, sp.Integer(0))
    expr = parse_loss_text(text, C, base.f, base.y)
    with limits.time_limit("the continuity check of the loss's gradient"):
        jump = gradient_jump(expr, base.f, base.y)
    if jump is not None:
        raise ValueError(f"loss text: the gradient is discontinuous — {jump}; gradient flows and the condition "
                         "∇L = 0 need a continuous gradient: smooth the kink (squared hinge max(0, 1 - y1*f1)**2, "
                         "huber, logcosh, softplus)")
    return Loss(name, C, expr)


_cached_convexity = lru_cache(maxsize=None)(_convexity)


def _logistic_with_outputs(C: int = 1) -> Loss:
    if C != 1:
        raise ValueError(f"the binary logistic loss has C=1 output, got C={C}")
    return logistic()


REGISTRY = {
    "squared": squared,
    "softmax_cross_entropy": softmax_cross_entropy,
    "logistic": _logistic_with_outputs,
    "huber": huber,
}
