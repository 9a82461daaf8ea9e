"""A model's objective written in the kernel, and its convexity in K proved by term-wise rules.

After the readout is eliminated the objective is a scalar L(V*(Φ), Φ) of traces. :func:`objective_in_kernel`
rewrites every trace in K = ΦᵀΦ, S = YᵀY and the declared symbols (push-through, the contractions, traces rotated),
absorbs resolvents — (cI + αK)⁻¹K = (I − c(cI + αK)⁻¹)/α, cyclically inside a trace — and brings each trace to one
cyclic and transposed representative, so equal traces meet and cancel (T2's ½tr S − tr(SRK) + ½tr(SRKRK) + λ/2·tr(SRKR)
collapses to λ/2·tr(SR)). The result L̃(K) is what the kernel flow descends: the caller certifies L(V*(Φ), Φ) = L̃(ΦᵀΦ)
and ∂L̃/∂K = −A/2 on exact instances.

:func:`convexity_in_kernel` proves L̃ convex on K ⪰ 0 when every additive term is, by these rules (:data:`RULES`,
each a fact of matrix analysis; a coefficient's sign is SymPy's, from the symbols' declared assumptions):

- a term without K is constant; c·tr(P K Q) (K once, no resolvent) is affine, of any sign;
- c·tr(P R) with c ≥ 0, R = (aI + bK)⁻¹, a, b > 0 and P ⪰ 0 by construction (S, a declared positive
  (semi)definite matrix, X·M·Xᵀ): t ↦ 1/(a + bt) is operator convex on t > −a/b, so K ↦ tr(P R) is convex;
- c·tr(K M K) or c·tr(K²) with c ≥ 0, M ⪰ 0: the squared norm ‖M^{1/2}K‖²_F;
- c·g^p with c ≥ 0 and g = tr(K) or tr(MK) (M ⪰ 0), p ≥ 1 an integer: g ≥ 0 on the cone and x ↦ xᵖ is convex and
  nondecreasing on x ≥ 0; c·g^p with p even and g affine: a convex function of an affine one.

Anything else leaves the verdict "not certified" with the term that failed — never a guess.

>>> from theory import notation as nt
>>> R = sp.Inverse(nt.K + nt.lam * sp.Identity(nt.n))
>>> convexity_in_kernel(nt.lam / 2 * sp.Trace(nt.S * R) + nt.mu / 2 * sp.Trace(nt.K), {})
(True, '')
>>> convexity_in_kernel(-sp.Trace(nt.S * R), {})[1]
'the term -Trace(S*(lambda*I + K)**(-1)) has a coefficient -1 not known to be ≥ 0 (tr(P R) is convex only with c ≥ 0)'
"""
from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from theory import matrix_terms as mt
from theory import notation as nt

#: the rule names, in the order :func:`convexity_in_kernel` tries them (tests patch them to see each one matter)
RULES = ("constant", "affine", "resolvent", "square", "power of a trace")


# --------------------------------------------------------------------------- traces in one representative form


def _absorb_cyclic(term: mt.Term, symmetric) -> list[mt.Term] | None:
    """The term's resolvent absorbed at one cyclically adjacent pair (last factor next to the first included), or
    None when no factor stands next to its own resolvent."""
    k = len(term.factors)
    for i in range(k if k > 1 else 0):
        rotated = term.factors[i:] + term.factors[:i]
        out = mt.absorb_resolvents([mt.Term(term.coeff, rotated, term.shape)], symmetric)
        if out != [mt.Term(term.coeff, rotated, term.shape)]:
            return out
    return None


def _representative(factors: tuple, symmetric) -> tuple:
    """One cyclic rotation of the product or of its transpose (tr X = tr Xᵀ), the first by printed order."""
    transposed = tuple(mt.transpose_atom(f, symmetric) for f in reversed(factors))
    candidates = [seq[i:] + seq[:i] for seq in (factors, transposed) for i in range(len(seq))]
    return min(candidates, key=lambda seq: [sp.srepr(f) for f in seq])


def trace_in_kernel(trace: sp.Trace, rules: mt.Contraction, symmetric, X=None) -> sp.Expr:
    """tr(·) as Σ cⱼ·tr(Pⱼ): each term contracted in the best rotation, its resolvents absorbed cyclically, each
    product in its representative form (scalars for contracted 1 × 1 products and tr(c·I))."""
    total = sp.Integer(0)
    pending = []
    for t in mt.expand(trace.arg, symmetric):
        best = None
        for k in range(max(len(t.factors), 1)):
            rotated = t.factors[k:] + t.factors[:k]
            size = rotated[0].shape[0] if rotated else t.shape[0]  # tr of the rotated product, of this size
            c, f = mt.contract(rotated, rules, symmetric, X)
            if best is None or len(f) < len(best[1]):
                best = (c, f, size)
        c, f, size = best
        pending.append(mt.Term(mt.rewrite_traces(t.coeff, rules, symmetric, X) * c, f, (size, size)))
    while pending:
        t = pending.pop()
        if not t.factors:
            total += t.coeff * t.shape[0]  # tr(c·I) of the product's size (1 for a contracted 1 × 1 product)
            continue
        absorbed = _absorb_cyclic(t, symmetric)
        if absorbed is not None:
            pending.extend(absorbed)
            continue
        f = _representative(t.factors, symmetric)
        total += t.coeff * sp.Trace(f[0] if len(f) == 1 else sp.MatMul(*f))
    return total


def objective_in_kernel(scalar, rules: mt.Contraction, symmetric, X=None) -> sp.Expr:
    """The scalar with every trace rewritten by :func:`trace_in_kernel`, expanded so like traces cancel."""
    scalar = sp.sympify(scalar)
    mapping = {tr: trace_in_kernel(tr, rules, symmetric, X) for tr in scalar.atoms(sp.Trace)}
    return sp.expand(scalar.xreplace(mapping))


# --------------------------------------------------------------------------- convexity in K by term-wise rules


def _nonnegative(c) -> bool:
    return sp.sympify(c).is_nonnegative is True


def _positive_semidefinite(factors: tuple, properties: Mapping, symmetric) -> bool:
    """The product is ⪰ 0 by construction: S, I, a declared positive (semi)definite matrix, or X·P·Xᵀ with P such."""
    if not factors:
        return True
    if len(factors) == 1:
        f = factors[0]
        return f == nt.S or bool(getattr(properties.get(f), "definite", ""))
    for j in range(1, len(factors) // 2 + 1):
        closing = tuple(mt.transpose_atom(f, symmetric) for f in reversed(factors[:j]))
        if factors[-j:] == closing and _positive_semidefinite(factors[j:len(factors) - j], properties, symmetric):
            return True
    return False


def _resolvent_in_K(f, symmetric) -> bool:
    """f = (aI + bK)⁻¹ with a, b > 0 (defined and ≻ 0 on the whole cone K ⪰ 0)."""
    found = mt.resolvent_of(f, nt.K, symmetric)
    return found is not None and all(sp.sympify(x).is_positive is True for x in found)


def _count_K(factors) -> tuple[int, bool]:
    """(top-level K factors, whether K also sits inside an inverse)."""
    return (sum(1 for f in factors if f == nt.K),
            any(isinstance(f, sp.Inverse) and f.has(nt.K) for f in factors))


def _trace_shape(trace: sp.Trace, properties, symmetric) -> str:
    """"constant", "affine", "resolvent" (tr(P R), P ⪰ 0), "square" (tr(K M K), M ⪰ 0) or "unknown"."""
    terms = mt.expand(trace.arg, symmetric)
    if len(terms) != 1:
        return "unknown"
    factors = terms[0].factors
    top, inside = _count_K(factors)
    if top == 0 and not inside:
        return "constant"
    if top == 1 and not inside:
        return "affine"
    if top == 0:
        for i in range(len(factors)):
            rotated = factors[i:] + factors[:i]
            if _resolvent_in_K(rotated[-1], symmetric) and sum(isinstance(f, sp.Inverse) for f in rotated) == 1 and \
                    _positive_semidefinite(rotated[:-1], properties, symmetric):
                return "resolvent"
    if top == 2 and not inside:
        for i in range(len(factors)):
            rotated = factors[i:] + factors[:i]
            if rotated[:2] == (nt.K, nt.K) and _positive_semidefinite(rotated[2:], properties, symmetric):
                return "square"  # tr(K K M) = tr(K M K)
    return "unknown"


def nonnegative_on_cone(trace: sp.Trace, properties, symmetric) -> bool:
    """tr(K) or tr(M K) with c ≥ 0 and M ⪰ 0 by construction: nonnegative for every K ⪰ 0."""
    terms = mt.expand(trace.arg, symmetric)
    if len(terms) != 1 or not _nonnegative(terms[0].coeff):
        return False
    factors = terms[0].factors
    for i in range(len(factors)):
        rotated = factors[i:] + factors[:i]
        if rotated[0] == nt.K and nt.K not in rotated[1:] and not any(f.has(nt.K) for f in rotated[1:]) and \
                _positive_semidefinite(rotated[1:], properties, symmetric):
            return True
    return False


def _term_verdict(term, properties, symmetric, rules=RULES) -> str:
    """"" when the additive term is convex by :data:`RULES`, else why not."""
    if not term.has(nt.K):
        return "" if "constant" in rules else f"the term {term} is not covered by the rules"
    coeff = sp.Mul(*[a for a in sp.Mul.make_args(term) if not a.has(nt.K)])
    parts = [a for a in sp.Mul.make_args(term) if a.has(nt.K)]
    if len(parts) != 1:
        return f"the term {term} is a product of several traces in K (no rule for it)"
    part = parts[0]
    if isinstance(part, sp.Trace):
        shape = _trace_shape(part, properties, symmetric)
        if shape == "affine" and "affine" in rules:
            return ""
        if shape in ("resolvent", "square") and shape in rules:
            if _nonnegative(coeff):
                return ""
            what = "tr(P R)" if shape == "resolvent" else "tr(K M K)"
            return f"the term {term} has a coefficient {coeff} not known to be ≥ 0 ({what} is convex only with c ≥ 0)"
        return f"the term {term} is not of a convex form (affine, c·tr(P R), c·tr(K M K), c·g^p)"
    if isinstance(part, sp.Pow) and isinstance(part.base, sp.Trace) and part.exp.is_Integer and part.exp >= 1 and \
            "power of a trace" in rules:
        base, p = part.base, int(part.exp)
        if not _nonnegative(coeff):
            return f"the term {term} has a coefficient {coeff} not known to be ≥ 0"
        shape = _trace_shape(base, properties, symmetric)
        if shape == "affine" and (p % 2 == 0 or nonnegative_on_cone(base, properties, symmetric)):
            return ""
        return f"the term {term} is a power of {base}, which is not affine and ≥ 0 on K ⪰ 0 (nor the power even)"
    return f"the term {term} is not a trace or an integer power of one"


def convexity_in_kernel(objective, properties: Mapping, symmetric=frozenset({nt.K, nt.S}),
                        rules=RULES) -> tuple[bool, str]:
    """(True, "") when the objective in K is convex on K ⪰ 0 by the module's rules; else (False, the first term that
    is not covered and why)."""
    for term in sp.Add.make_args(sp.expand(sp.sympify(objective))):
        why = _term_verdict(term, properties, symmetric, rules)
        if why:
            return False, why
    return True, ""
