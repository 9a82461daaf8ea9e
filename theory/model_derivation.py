"""Derive a model's kernel flow from its objective alone: gradients, elimination, closure in K, steady states, rank.

Given an objective in the language of :mod:`theory.objective_language`, :func:`derive_model` builds a derivation in
which no formula is typed by a person — every step's right-hand side is produced by the engine
(:mod:`theory.matrix_terms`) and certified on its own sides on exact rational instances:

1. **gradients** ∂L/∂V for W, Φ and every variable to eliminate, by differentials, each certified against the exact
   directional derivative of L (SymPy's own matrix derivative is tried too and the step says whether it agrees);
2. **elimination** of each variable in ``eliminate`` where L is convex and quadratic in it: ∂L/∂V is affine,
   V·B = −R (or A·V = −R) is solved, V* = −R B⁻¹, certified by ∂L/∂V(V*) = 0; a two-sided equation, a
   non-affine gradient or a non-convex term gives ``eliminable = False`` and a ``reason``;
3. **the feature flow** Φ̇ = −∂L/∂Φ at V* (envelope theorem, certified against the exact derivative of the reduced
   objective L(V*(Φ), Φ)), rewritten by push-through and the contractions ΦᵀΦ → K, YᵀY → S, 𝟏ᵀ𝟏 → n into Φ̇ = Φ·A
   with A an expression in K, S and the declared symbols; a term that does not reduce makes ``closed = False`` and
   the ``reason`` names it;
4. **the kernel ODE** K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = AK + KA (A symmetric, certified);
5. **steady states**: KA + AK = 0 with K ⪰ 0 gives AK = 0 (T4's lemma, reused), i.e. stationarity in Φ; splitting
   ∂L/∂Φ = B + Φ·N with N ≻ 0 (certified by term-wise rules) and B a sum of products through C- or 1-dimensional
   factors gives rank K = rank Φ = rank B ≤ the bound, certified by exact rank where the bound could fail;
   ``rank_bound = None`` when no such split exists — never a guess;
6. **the objective in K**: L(V*(Φ), Φ) = L̃(K) (certified);
   ``convex`` when term-wise rules prove L̃ convex on K ⪰ 0 (:mod:`theory.kernel_objective`), and then
   ∂L̃/∂K = −A/2 (certified: the flow descends L̃), so a K ⪰ 0 with AK = 0 and λ_max(A) ≤ 0 (KKT) is L̃'s global
   minimiser; otherwise ``convex = False`` and ``reasons["convexity"]`` names the term no rule covers;
7. **the mode law** where A is a function of K and S alone: on a common eigenbasis κ̇ = 2κ·a(κ, s), its threshold
   a(0, s) = 0 and its filled level a(κ, s) = 0 (closed form up to degree 2, else the polynomial equation).

>>> model = derive_model("0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)")
>>> model.certified, model.closed, model.rank_bound
(True, True, C)
>>> model.level
sqrt(lambda)*sqrt(s)/sqrt(mu) - lambda
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache

import sympy as sp

from theory import kernel_objective, limits, matrix_terms as mt, notation as nt
from theory.certify import DEFAULT_SIZES, Predicate, Signs, SymbolicZero, evaluate, rational, rational_matrix
from theory.certify import standard_instance
from theory.derivation_builder import BuiltDerivation, DerivationBuilder
from theory.objective_language import ONES, Declared, ParsedObjective, parse_objective
from theory.t2_kernel_ode import K_dot, Phi_dot
from theory.t4_rank_lemma import derive_rank_lemma

#: the contractions that write an n × n expression in the kernel and the label Gram
CONTRACTIONS = mt.Contraction({(sp.Transpose(nt.Phi), nt.Phi): nt.K, (sp.Transpose(nt.Y), nt.Y): nt.S,
                               (sp.Transpose(ONES), ONES): nt.n})
#: the contractions of the rank analysis: YᵀY kept apart, since Yᵀ is the C-dimensional factor the bound counts
KERNEL_ONLY = mt.Contraction({(sp.Transpose(nt.Phi), nt.Phi): nt.K, (sp.Transpose(ONES), ONES): nt.n})
#: the scalar of a mode: K → κ, S → s on a common eigenbasis
MODE = {nt.K: nt.kappa, nt.S: nt.s}


class ModelDerivation(BuiltDerivation):
    """What :func:`derive_model` derived: its certified ``steps`` and the fields of the module docstring."""

    def __init__(self, parsed: ParsedObjective, C: int, eliminate: tuple, steps, results: Mapping, **fields):
        super().__init__("MODEL", f"model {parsed.text}", steps, results)
        self.parsed, self.C, self.eliminate = parsed, C, eliminate
        self.eliminable = fields.get("eliminable", False)
        self.closed = fields.get("closed", False)
        self.reason = fields.get("reason", "")
        self.readout = fields.get("readout", {})
        self.kernel_rhs = fields.get("kernel_rhs")
        self.drive = fields.get("A")
        self.steady_state = fields.get("steady_state", {})
        self.rank_bound = fields.get("rank_bound")
        self.mode_rhs = fields.get("mode_rhs")
        self.threshold = fields.get("threshold")
        self.level = fields.get("level")
        self.level_equation = fields.get("level_equation")
        self.objective_in_K = fields.get("objective_in_K")
        self.convex = fields.get("convex", False)
        self.reasons = dict(fields.get("reasons", {}))

    @property
    def symbols(self) -> dict:
        """Every scalar and matrix a numeric right-hand side takes besides K and Y, by name."""
        return {"lam": nt.lam, "mu": nt.mu, **self.parsed.scalars, **self.parsed.matrices}

    def summary(self) -> str:
        """What was derived, in a few lines: the flags, the reason, the readout, dK/dt, the rank bound, the law."""
        lines = [f"model: {self.parsed.text}", f"certified: {self.certified}", f"eliminable: {self.eliminable}",
                 f"closed: {self.closed}"]
        if self.reason:
            lines.append(f"reason: {self.reason}")
        for name, expr in self.readout.items():
            lines.append(f"{name}* = {sp.sstr(expr)}")
        if self.kernel_rhs is not None:
            lines.append(f"dK/dt = {sp.sstr(self.kernel_rhs)}")
        lines.append(f"rank bound: {self.rank_bound if self.rank_bound is not None else 'none certified'}"
                     + (f" ({self.reasons['rank']})" if self.rank_bound is None and 'rank' in self.reasons else ""))
        if self.objective_in_K is not None:
            lines.append(f"objective in K: {sp.sstr(self.objective_in_K)} ("
                         + ("convex: KKT certifies the global minimiser" if self.convex else
                            self.reasons.get("convexity", "not certified convex")) + ")")
        if self.mode_rhs is not None:
            lines.append(f"mode ODE: dκ/dt = {sp.sstr(self.mode_rhs)}; threshold s* = {self.threshold}; level: "
                         + (sp.sstr(self.level) if self.level is not None else f"root of {self.level_equation} = 0"))
        return "\n".join(lines)


# --------------------------------------------------------------------------- instances of a declared model


def _declared_value(rng: random.Random, M: sp.MatrixSymbol, what: Declared, dims: Mapping):
    rows, cols = (int(sp.sympify(d).xreplace(dict(dims))) for d in M.shape)
    if what.diagonal:
        entries = [rational(rng, positive=bool(what.definite)) for _ in range(rows)]
        return sp.ImmutableMatrix(sp.diag(*entries))
    A = rational_matrix(rng, rows, cols)
    if what.definite == "positive definite":
        return sp.ImmutableMatrix(A * A.T + sp.eye(rows))
    if what.definite == "positive semidefinite":
        return sp.ImmutableMatrix(A * A.T)
    if what.symmetric:
        return sp.ImmutableMatrix(A + A.T)
    return A


def sampler(parsed: ParsedObjective):
    """``sample(rng, dims)``: the setting's exact instance plus a value for every declared symbol and 𝟏."""

    def sample(rng: random.Random, dims) -> dict:
        values = standard_instance(rng, dims)
        values[ONES] = sp.ImmutableMatrix(sp.ones(values[nt.n], 1))
        for symbol in parsed.scalars.values():
            values[symbol] = rational(rng, positive=not symbol.is_real or symbol.is_nonnegative is not False)
        for M, what in parsed.properties.items():
            values[M] = _declared_value(rng, M, what, {nt.n: values[nt.n], nt.m: values[nt.m], nt.C: values[nt.C]})
        return values

    return sample


# --------------------------------------------------------------------------- structure of terms


def _occurrences(term: mt.Term, V: sp.MatrixSymbol, symmetric) -> tuple[int, bool]:
    """(number of top-level V or Vᵀ factors, whether V also sits inside an inverse or a coefficient)."""
    Vt = mt.transpose_atom(V, symmetric)
    top = sum(1 for f in term.factors if f in (V, Vt))
    hidden = any(f not in (V, Vt) and f.has(V) for f in term.factors) or sp.sympify(term.coeff).has(V)
    return top, hidden


def _convexity_reason(objective, V: sp.MatrixSymbol, properties: Mapping, symmetric) -> str:
    """"" when every additive term of the objective is affine in V or c·tr(X M Xᵀ) with c ≥ 0, X affine in V and
    M = I or declared positive (semi)definite; else the reason it is not certified convex."""
    for part in sp.Add.make_args(sp.expand(objective, deep=False)):
        if not part.has(V):
            continue
        traces = [a for a in sp.Mul.make_args(part) if a.has(V)]
        coeff = sp.Mul(*[a for a in sp.Mul.make_args(part) if not a.has(V)])
        if len(traces) != 1 or not isinstance(traces[0], sp.Trace):
            return f"the term {part} is not a trace times a constant"
        arg = traces[0].arg
        terms = mt.expand(arg, symmetric)
        if all(_occurrences(t, V, symmetric)[0] <= 1 and not _occurrences(t, V, symmetric)[1] for t in terms):
            continue  # affine in V
        if not (coeff.is_nonnegative or sp.sympify(coeff).is_positive):
            return f"the term {part} is quadratic in {V} with a coefficient {coeff} not known to be ≥ 0"
        if _is_gram(arg, V, properties, symmetric):
            continue
        return f"the term {part} is not of the form c·‖X‖² with X affine in {V}"
    return ""


def _same(a, b, symmetric) -> bool:
    return set(mt.collect(mt.expand(a, symmetric))) == set(mt.collect(mt.expand(b, symmetric)))


def _psd_product(mats, properties, symmetric) -> bool:
    """The product of ``mats`` is ⪰ 0 by construction: empty (I), one declared definite matrix, or X·M·Xᵀ with M such
    a product."""
    if not mats:
        return True
    if len(mats) == 1:
        return bool(properties.get(mats[0], Declared()).definite)
    for j in range(1, len(mats) // 2 + 1):
        outer = sp.MatMul(*mats[:j]) if j > 1 else mats[0]
        closing = sp.MatMul(*mats[-j:]) if j > 1 else mats[-1]
        if _same(closing, sp.Transpose(outer), symmetric) and _psd_product(mats[j:len(mats) - j], properties, symmetric):
            return True
    return False


def _is_gram(arg, V, properties, symmetric) -> bool:
    """arg = c·X M Xᵀ with c ≥ 0, M = I or a product ⪰ 0 by construction (:func:`_psd_product`), X affine in V."""
    if not isinstance(arg, sp.MatMul):
        return False
    mats = [a for a in arg.args if isinstance(a, sp.MatrixExpr)]
    scalar = sp.Mul(*[a for a in arg.args if not isinstance(a, sp.MatrixExpr)])
    if scalar.is_nonnegative is not True:
        return False
    for j in range(1, len(mats) // 2 + 1):
        X = sp.MatMul(*mats[:j]) if j > 1 else mats[0]
        Xt = sp.MatMul(*mats[-j:]) if j > 1 else mats[-1]
        if not _same(Xt, sp.Transpose(X), symmetric):
            continue
        affine = all(_occurrences(t, V, symmetric)[0] <= 1 and not _occurrences(t, V, symmetric)[1]
                     for t in mt.expand(X, symmetric))
        if affine and not any(m.has(V) for m in mats[j:len(mats) - j]) and \
                _psd_product(mats[j:len(mats) - j], properties, symmetric):
            return True
    return False


def _solve_linear(gradient_terms, V, symmetric) -> tuple[sp.MatrixExpr | None, str]:
    """(V*, "") solving Σ A_k V B_k + R = 0 when every A_k or every B_k is the identity, else (None, reason)."""
    linear, constant = [], []
    for t in gradient_terms:
        top, hidden = _occurrences(t, V, symmetric)
        if hidden:
            return None, f"∂L/∂{V} has {V} inside an inverse or a trace ({sp.sstr(t.expr())}): not affine"
        if top > 1:
            return None, f"∂L/∂{V} is not affine in {V}: the term {sp.sstr(t.expr())} has it {top} times (L is not quadratic)"
        if top == 1 and V not in t.factors:
            return None, f"∂L/∂{V} holds {V}ᵀ ({sp.sstr(t.expr())}): a transposed linear equation, not solved here"
        (linear if top == 1 else constant).append(t)
    if not linear:
        return None, f"L is linear in {V}: no minimiser"
    R = mt.rebuild(constant, V.shape)
    if all(t.factors[0] == V for t in linear):
        B = mt.rebuild([mt.Term(t.coeff, t.factors[1:], (V.shape[1], V.shape[1])) for t in linear])
        return (-R * sp.Inverse(B) if constant else sp.ZeroMatrix(*V.shape)), ""
    if all(t.factors[-1] == V for t in linear):
        A = mt.rebuild([mt.Term(t.coeff, t.factors[:-1], (V.shape[0], V.shape[0])) for t in linear])
        return (-sp.Inverse(A) * R if constant else sp.ZeroMatrix(*V.shape)), ""
    return None, (f"∂L/∂{V} = 0 is a two-sided (Sylvester-type) equation in {V}: no closed form is derived here")


def _bottleneck(term: mt.Term) -> int | None:
    """Index of the first factor whose column size is C or 1 (the product passes through it), else None."""
    for i, f in enumerate(term.factors[:-1] if term.factors else ()):
        if f.shape[1] in (nt.C, 1):
            return i
    return None


def _dimension(size) -> sp.Expr:
    return nt.C if size == nt.C else sp.Integer(1)


def _positive_definite(terms, properties, symmetric) -> tuple[bool, str]:
    """Whether Σ terms (n × n, in K and declared symbols) is certainly ≻ 0: every term c·I, c·Kʲ, c·M (M declared
    positive (semi)definite) with c ≥ 0 (traces tr Kʲ and tr(MK), M ⪰ 0, counted as ≥ 0), and one of them c·I or c·M
    (M ≻ 0) with c > 0."""
    definite = False
    for t in terms:
        coeff = sp.sympify(t.coeff).xreplace({tr: sp.Dummy(nonnegative=True) for tr in sp.sympify(t.coeff).atoms(sp.Trace)
                                              if (isinstance(tr.arg, sp.MatPow) and tr.arg.base == nt.K) or
                                              kernel_objective.nonnegative_on_cone(tr, properties, symmetric)})
        if coeff.is_nonnegative is not True:
            return False, f"the coefficient {t.coeff} of {sp.sstr(t.expr())} is not known to be ≥ 0"
        if not t.factors:
            definite = definite or coeff.is_positive is True
        elif all(f == nt.K for f in t.factors):
            pass
        elif len(t.factors) == 1 and properties.get(t.factors[0], Declared()).definite:
            definite = definite or (properties[t.factors[0]].definite == "positive definite" and coeff.is_positive is True)
        else:
            return False, f"{sp.sstr(t.expr())} is not of the forms c·I, c·Kʲ, c·M (M declared definite)"
    return definite, "" if definite else "no term is certainly positive definite"


# --------------------------------------------------------------------------- the derivation


def _sizes(C: int):
    return tuple({**d, nt.C: C} for d in DEFAULT_SIZES)


def derive_model_uncached(parsed: ParsedObjective, eliminate: tuple, C: int, seed: int = 0) -> ModelDerivation:
    """:func:`derive_model` on a parsed objective (no cache, no time limit)."""
    symmetric = parsed.symmetric
    sample, sizes = sampler(parsed), _sizes(C)
    build = DerivationBuilder("MODEL", f"model {parsed.text}", seed=seed)
    L = parsed.objective
    fields = {"reasons": {}}
    build.define("model", "the objective, as parsed (the readout W, the features Φ, the labels Y)", sp.Symbol("L"), L)

    variables = {"W": nt.W, "Phi": nt.Phi, "Y": nt.Y, **parsed.matrices}
    for name in eliminate:
        if name not in variables or name in ("Phi", "Y") or variables[name] in parsed.properties and \
                parsed.properties[variables[name]].symmetric:
            raise ValueError(f"eliminate: {name!r} is not a variable that can be eliminated; use W or a declared "
                             "non-symmetric matrix (e.g. a bias b: 'C x 1')")
        if not L.has(variables[name]):
            raise ValueError(f"eliminate: the objective does not contain {name!r}")

    def gradient_step(objective, V, label):
        rhs = mt.gradient(objective, V, symmetric)
        agrees = _sympy_agrees(objective, V, rhs, sizes, sample, seed)
        statement = (f"∂L/∂{V.name}{label} by the engine's differentials; "
                     + ("SymPy's matrix derivative agrees" if agrees is True else
                        "SymPy's matrix derivative is refused by the same certificate" if agrees is False else
                        "SymPy has no matrix derivative for it"))
        return build.gradient(f"gradient in {V.name}{label}", statement, sp.MatrixSymbol(f"dL/d{V.name}", *V.shape),
                              rhs, objective=objective, variable=V, sizes=sizes, sample=sample)

    first = {V: gradient_step(L, V, "") for V in dict.fromkeys([nt.W, nt.Phi, *(variables[e] for e in eliminate)])
             if L.has(V)}
    full_gradient = {V: step.rhs for V, step in first.items()}
    current, solutions = L, {}
    eliminable = True
    for name in eliminate:
        V = variables[name]
        step = gradient_step(current, V, " (earlier variables at their optimum)") if solutions else first[V]
        reason = _convexity_reason(current, V, parsed.properties, symmetric)
        solved, why = (None, reason) if reason else _solve_linear(mt.expand(step.rhs, symmetric), V, symmetric)
        if solved is None:
            eliminable, fields["reason"] = False, f"{name} cannot be eliminated: {why}"
            break
        check = build.identity(f"optimal {name}", f"{name}* solves ∂L/∂{name} = 0 (L convex and quadratic in {name})",
                               step.rhs.xreplace({V: solved}), sp.ZeroMatrix(*V.shape), sizes=sizes, sample=sample)
        if not check.certificate.passed:
            build.steps.pop()  # the failed attempt is reported in the reason, not kept as a step
            eliminable = False
            fields["reason"] = (f"{name} cannot be eliminated: {name}* = {sp.sstr(solved)} fails its certificate "
                                f"({check.certificate.detail}); the minimiser in {name} is not unique at some sizes "
                                f"(is {name} ℓ2-penalised?)")
            break
        solutions = {**{k: v.xreplace({V: solved}) for k, v in solutions.items()}, V: solved}
        current = current.xreplace({V: solved})
    fields["eliminable"] = eliminable
    if not eliminable or nt.Phi not in full_gradient:
        return _finish(parsed, C, eliminate, build, fields)

    # readouts written in K where push-through allows it
    readout = {}
    for V, expr in solutions.items():
        terms = mt.absorb_resolvents(mt.rewrite_terms(mt.expand(expr, symmetric), CONTRACTIONS, symmetric, nt.Phi),
                                     symmetric)
        closed_form = mt.rebuild(terms, V.shape)
        build.identity(f"{V.name}* in K", f"{V.name}* rewritten by push-through, ΦᵀΦ = K, YᵀY = S", expr, closed_form,
                       sizes=sizes, sample=sample)
        readout[V.name] = closed_form
    fields["readout"] = readout

    # the feature flow at the optimum (envelope theorem): the partial gradient at V* is the reduced gradient
    at_optimum = full_gradient[nt.Phi].xreplace(solutions)
    build.gradient("feature gradient at the optimum", "∇_Φ L(V*(Φ), Φ) = ∂L/∂Φ at V = V* (envelope theorem)",
                   sp.MatrixSymbol("dL/dPhi", nt.m, nt.n), at_optimum, objective=current, variable=nt.Phi,
                   sizes=sizes, sample=sample)
    flow_terms = mt.absorb_resolvents(mt.rewrite_terms(mt.expand(-at_optimum, symmetric), CONTRACTIONS, symmetric,
                                                       nt.Phi), symmetric)
    allowed = {nt.K, nt.S, ONES} | {M for M in parsed.matrices.values() if M.shape == (nt.n, nt.n) or M.shape in
                                    ((nt.n, 1), (1, nt.n))}
    A_terms, open_terms = [], []
    for t in flow_terms:
        rest = mt.Term(t.coeff, t.factors[1:], (nt.n, nt.n))
        if t.factors and t.factors[0] == nt.Phi and mt.atoms_of([rest]) <= allowed:
            A_terms.append(rest)
        else:
            open_terms.append(t)
    if open_terms:
        names = ", ".join(sorted(str(s) for s in mt.atoms_of(open_terms) - allowed - {nt.Phi})) or "Φ alone"
        fields["closed"] = False
        fields["reason"] = (f"the flow does not close in K: the term {sp.sstr(open_terms[0].expr())} of dΦ/dt is not Φ "
                            f"times an expression in K, S and the declared symbols (it keeps {names})")
        fields["A"] = None
        _rank_bound(build, parsed, full_gradient[nt.Phi], symmetric, sizes, sample, C, fields)
        return _finish(parsed, C, eliminate, build, fields)

    A = mt.rebuild(A_terms, (nt.n, nt.n))
    build.identity("feature flow", "dΦ/dt = −∂L/∂Φ = Φ·A, A in K, S and the declared symbols (push-through, "
                   "ΦᵀΦ = K, YᵀY = S, 𝟏ᵀ𝟏 = n)", -at_optimum, nt.Phi * A, sizes=sizes, sample=sample)
    A_t = mt.rebuild(mt.transpose_terms(A_terms, symmetric), (nt.n, nt.n))
    symmetric_A = build.identity("A is symmetric", "Aᵀ = A", A_t, A, sizes=sizes, sample=sample).certificate.passed
    rhs = nt.K * A + A * nt.K if symmetric_A else A_t * nt.K + nt.K * A
    flow = nt.Phi * A
    build.identity("kernel ODE", "dK/dt = Φ̇ᵀΦ + ΦᵀΦ̇ = KA + AK (closed in K)", K_dot, rhs, sizes=sizes, sample=sample,
                   substitute={K_dot: flow.T * nt.Phi + nt.Phi.T * flow, Phi_dot: flow})
    fields.update(closed=True, A=A, kernel_rhs=rhs)
    if symmetric_A:
        build.reuse(derive_rank_lemma(), "range K ⊆ ker A")
        fields["steady_state"] = {"A": A, "condition": "KA + AK = 0 with K ⪰ 0 ⇔ AK = 0 ⇔ ΦA = 0 (∂L/∂Φ = 0 at V*)"}
    if symmetric_A:
        _objective_in_kernel(build, parsed, current, A, symmetric, sizes, sample, fields)
    _rank_bound(build, parsed, full_gradient[nt.Phi], symmetric, sizes, sample, C, fields)
    if symmetric_A:
        _mode_law(build, A, A_terms, rhs, fields, seed)
    return _finish(parsed, C, eliminate, build, fields)


def _objective_in_kernel(build, parsed, reduced, A, symmetric, sizes, sample, fields):
    """L̃(K) with L(V*(Φ), Φ) = L̃(ΦᵀΦ) and ∂L̃/∂K = −A/2 (the kernel flow descends it), and its convexity on K ⪰ 0
    by the rules of :mod:`theory.kernel_objective` (module docstring, step 6)."""
    objective = kernel_objective.objective_in_kernel(reduced, CONTRACTIONS, symmetric, nt.Phi)
    if objective.has(nt.Phi):
        fields["reasons"]["convexity"] = f"the objective at the optimum does not close in K: {sp.sstr(objective)}"
        return
    build.identity("objective in K", "L(V*(Φ), Φ) = L̃(K): push-through, ΦᵀΦ = K, YᵀY = S, resolvents absorbed, "
                   "traces rotated", reduced, objective, sizes=sizes, sample=sample)
    fields["objective_in_K"] = objective
    convex, why = kernel_objective.convexity_in_kernel(objective, parsed.properties, symmetric)
    fields["convex"] = convex
    if not convex:  # the gradient step serves the KKT reading of a convex L̃ only (and is the costliest to certify)
        fields["reasons"]["convexity"] = f"L̃ is not certified convex in K: {why}"
        return
    build.gradient("gradient in K", "∂L̃/∂K = −A/2: Φ̇ = −2Φ∂L̃/∂K = ΦA, so the kernel flow descends L̃",
                   sp.MatrixSymbol("dL/dK", nt.n, nt.n), -A / 2, objective=objective, variable=nt.K, sizes=sizes,
                   sample=sample)

    def decide(lhs, _rhs):
        passed, reason = kernel_objective.convexity_in_kernel(lhs, parsed.properties, symmetric)
        return passed, ["symbolic"], reason

    build.add("convex in K", "L̃ is convex on K ⪰ 0: every term constant, affine, c·tr(P R), c·tr(K M K) or c·g^p "
              "(c ≥ 0)", objective, sp.Symbol("convex"),
              Predicate("L̃ convex by term-wise rules", decide, "term-wise rules of matrix convexity"))


def _sympy_agrees(objective, V, rhs, sizes, sample, seed):
    """True/False: SymPy's ``diff`` passes/fails the same certificate; None when it raises."""
    try:
        theirs = objective.diff(V)
    except Exception:  # noqa: BLE001 - SymPy lacks a rule: the engine's own is used
        return None
    if not isinstance(theirs, sp.MatrixExpr) and theirs == 0:
        theirs = sp.ZeroMatrix(*V.shape)
    if not isinstance(theirs, sp.MatrixExpr) or theirs.shape != V.shape:
        return False
    probe = DerivationBuilder("PROBE", seed=seed)
    trial = probe.gradient("sympy", "SymPy's matrix derivative", sp.Symbol("g"), rhs, objective=objective,
                           variable=V, sizes=sizes[:1], sample=sample)
    return trial.recheck(rhs=theirs).passed


def _rank_bound(build, parsed, gradient_Phi, symmetric, sizes, sample, C, fields):
    """Stationarity in Φ split as B + Φ·N (module docstring, step 5); the bound on rank B, or None with a reason."""
    terms = mt.rewrite_terms(mt.expand(gradient_Phi, symmetric), KERNEL_ONLY, symmetric)
    groups, N_terms, B_terms = {}, [], []
    for t in terms:
        k = _bottleneck(t)
        if k is not None:
            key = t.factors[:k + 1]
            groups[key] = _dimension(t.factors[k].shape[1])
            B_terms.append(t)
        elif t.factors and t.factors[0] == nt.Phi and mt.atoms_of([mt.Term(t.coeff, t.factors[1:], (nt.n, nt.n))]) <= \
                {nt.K} | set(parsed.properties):
            N_terms.append(mt.Term(t.coeff, t.factors[1:], (nt.n, nt.n)))
        else:
            fields["rank_bound"] = None
            fields["reasons"]["rank"] = (f"∂L/∂Φ has the term {sp.sstr(t.expr())}, neither Φ·N(K) nor a product "
                                         "through a C- or 1-dimensional factor: no rank bound follows")
            return
    definite, why = _positive_definite(N_terms, parsed.properties, symmetric)
    if not definite or not B_terms:
        fields["rank_bound"] = None
        fields["reasons"]["rank"] = (f"in ∂L/∂Φ = B + Φ·N, N is not certified positive definite ({why})" if not definite
                                     else "∂L/∂Φ has no term through a low-dimensional factor")
        return
    bound = sp.Add(*groups.values())
    B = mt.rebuild(B_terms, (nt.m, nt.n))
    N = mt.rebuild(N_terms, (nt.n, nt.n))
    build.identity("stationarity split", "∂L/∂Φ = B + Φ·N: B the terms through a C- or 1-dimensional factor",
                   gradient_Phi, B + nt.Phi * N, sizes=sizes, sample=sample)
    build.add("N positive definite", f"N = {sp.sstr(N)} ≻ 0 (c·I, c·Kʲ, c·M with c ≥ 0 and one term definite)", N,
              sp.Symbol("positive definite"), Predicate("N ≻ 0 by term-wise rules",
                                                         lambda lhs, rhs: (_positive_definite(
                                                             mt.expand(lhs, symmetric), parsed.properties, symmetric)[0],
                                                             ["symbolic"], "not certified"), "term-wise rules"))
    value = int(bound.xreplace({nt.C: C}))
    size = {nt.n: value + 2, nt.m: value + 3, nt.C: C}
    build.rank("rank bound", f"∂L/∂Φ = 0 ⇒ Φ = −B N⁻¹ ⇒ rank K = rank Φ ≤ rank B ≤ {bound} ({len(groups)} group(s) of "
               "terms, each through a factor of that size)", sp.Symbol(f"rank B <= {bound}"), B,
               bound=lambda v, b=bound: int(b.xreplace({nt.C: v[nt.C]})), sizes=(size,), sample=sample)
    fields["rank_bound"] = bound


def _scalar_of(term: mt.Term):
    """The mode value of a term in K and S: K → κ, S → s, inverses → reciprocals, traces refused."""
    value = sp.sympify(term.coeff)
    if value.has(sp.Trace):
        return None
    for f in term.factors:
        if f in MODE:
            value *= MODE[f]
        elif isinstance(f, sp.Inverse):
            inner = [_scalar_of(t) for t in mt.expand(f.arg)]
            if any(x is None for x in inner):
                return None
            value /= sp.Add(*inner)
        else:
            return None
    return value


def _mode_law(build, A, A_terms, rhs, fields, seed):
    values = [_scalar_of(t) for t in A_terms]
    if any(v is None for v in values):
        fields["reasons"]["mode"] = "A involves more than K and S (declared matrices, 𝟏 or traces): no per-mode law"
        return
    a = sp.factor(sp.together(sp.Add(*values)))
    mode_rhs = 2 * nt.kappa * a
    rng = random.Random(seed)
    cases = []
    for n in (2, 3):
        kap = [rational(rng, positive=True) for _ in range(n)]
        ess = [rational(rng, positive=True) for _ in range(n)]
        cases.append((f"n={n}", {nt.n: n, nt.K: sp.ImmutableMatrix(sp.diag(*kap)), nt.S: sp.ImmutableMatrix(sp.diag(*ess)),
                                 nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True)}, kap, ess))

    def decide(lhs, rhs_):
        trials = []
        for label, vals, kap, ess in cases:
            extra = {s: rational(random.Random(7), positive=True) for s in sp.sympify(rhs_).free_symbols
                     if s not in (nt.kappa, nt.s, nt.lam, nt.mu)}
            vals = {**vals, **extra}
            M = sp.Matrix(evaluate(lhs.xreplace(extra), vals))
            want = sp.diag(*[sp.sympify(rhs_).xreplace({nt.kappa: k, nt.s: s_, **{q: vals[q] for q in (nt.lam, nt.mu)},
                                                        **extra}) for k, s_ in zip(kap, ess)])
            trials.append(label)
            if sp.simplify(M - want) != sp.zeros(*M.shape):
                return False, trials, f"diagonal K, S at {label}: {M} vs {want}"
        return True, trials, ""

    build.add("mode ODE", "K, S diagonal in one basis: each mode follows dκ/dt = 2κ·a(κ, s)", rhs, mode_rhs,
              Predicate("the kernel ODE at diagonal K, S is diagonal with entries 2κ_i a(κ_i, s_i)", decide,
                        "exact evaluation at commuting instances"))
    fields["mode_rhs"] = mode_rhs
    at_zero = sp.together(a.xreplace({nt.kappa: 0}))
    solutions = [r for r in sp.solve(sp.numer(at_zero), nt.s) if r.is_positive is not False]
    if len(solutions) == 1:
        threshold = solutions[0]
        build.add("threshold", "an empty mode grows iff a(0, s) > 0; a(0, s*) = 0 at the threshold s*",
                  a.xreplace({nt.kappa: 0, nt.s: threshold}), sp.Integer(0), SymbolicZero("a(0, s*) = 0"))
        build.add("threshold direction", "∂a(0, s)/∂s > 0: modes above the threshold fill",
                  sp.diff(at_zero, nt.s), sp.Symbol("> 0"),
                  Signs("∂a(0,s)/∂s > 0", lambda lhs, rhs_: [("∂a(0,s)/∂s", lhs, "positive")], "λ, μ, ... > 0"))
        fields["threshold"] = threshold
    else:
        fields["reasons"]["threshold"] = f"a(0, s) = {at_zero} has {len(solutions)} positive roots in s"
    numerator = sp.numer(sp.together(a))
    fields["level_equation"] = sp.factor(numerator)
    poly = sp.Poly(numerator, nt.kappa) if numerator.is_polynomial(nt.kappa) else None
    if poly is None or poly.degree() > 2 or poly.degree() < 1:
        return
    kappa = sp.Symbol("kappa", positive=True)
    roots = sp.solve(numerator.xreplace({nt.kappa: kappa}), kappa) or sp.solve(numerator, nt.kappa)
    roots = [r.xreplace({kappa: nt.kappa}) for r in roots]
    if "threshold" not in fields or not roots:
        return
    probe = {sym: sp.Rational(1, 2) + k for k, sym in enumerate(sorted(a.free_symbols - {nt.kappa, nt.s}, key=str))}
    probe[nt.s] = (fields["threshold"].xreplace(probe) + 1) * 4
    positive = [r for r in roots if sp.N(r.xreplace(probe)).is_real and sp.N(r.xreplace(probe)) > 0]
    if len(positive) != 1:
        return
    level = positive[0]
    build.add("filled level", "a filled mode settles where a(κ, s) = 0: the root κ > 0 above the threshold",
              a.xreplace({nt.kappa: level}), sp.Integer(0), SymbolicZero("a(level, s) = 0"))
    fields["level"] = level


def _finish(parsed, C, eliminate, build, fields) -> ModelDerivation:
    results = {key: fields[key] for key in ("kernel_rhs", "A") if fields.get(key) is not None}
    return ModelDerivation(parsed, C, eliminate, build.steps, results, **fields)


def _frozen(declare) -> tuple:
    if declare is None:
        return ()
    if not isinstance(declare, Mapping):
        raise TypeError(f"declare must be a dict {{name: description}}, got {type(declare).__name__}")
    return tuple(sorted((str(k), v if isinstance(v, str) else repr(v)) for k, v in declare.items()))


def derive_model(objective: str, *, declare: Mapping | None = None, eliminate=("W",), C: int = 2) -> ModelDerivation:
    """Derive the kernel flow of the model with this objective (module docstring); cached by its inputs.

    ``objective``: text in the language of :mod:`theory.objective_language`; ``declare``: extra symbols and what
    they are; ``eliminate``: the variables solved for (default the readout W; add a bias b first, e.g.
    ``("b", "W")``); ``C``: the number of outputs the certificates use. ValueError (one line) for text or
    declarations that are not allowed.
    """
    if isinstance(eliminate, str):
        eliminate = (eliminate,)
    eliminate = tuple(eliminate)
    if not all(isinstance(e, str) for e in eliminate):
        raise TypeError(f"eliminate must be names of variables (e.g. ('W',)), got {eliminate!r}")
    return _derive_cached(objective, _frozen(declare), eliminate, limits.check_outputs(C))


@lru_cache(maxsize=128)
def _derive_cached(objective, declare, eliminate, C) -> ModelDerivation:
    parsed = parse_objective(objective, dict(declare) if declare else None)
    with limits.time_limit(f"derive_model({objective[:40]!r})"):
        return derive_model_uncached(parsed, eliminate, C)


#: forget every cached derivation (e.g. after patching a rule in a test)
derive_model.cache_clear = _derive_cached.cache_clear
