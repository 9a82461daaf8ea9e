"""Whether a loss's gradient ∇_f ℓ is continuous: the flows and stationarity conditions need it.

Gradient flow and the stationarity ∇L = 0 of the derivations are statements about a C¹ loss. Where ∇_f ℓ
jumps (|f − y|, the hinge max(0, 1 − yf), min(1, (f − y)²) at |f − y| = 1) a stationary point may sit on
the jump, where no gradient vanishes, and an integrator chatters across it instead of converging.

SymPy differentiates ``Abs``, ``Max`` and ``Min`` into ``sign`` and ``Heaviside`` factors; the only places
∇_f ℓ can jump are the zero sets of their arguments (the *switches*). For each switch this module looks for
a witness: along random lines in f-space it brackets a crossing of the switch, bisects it to 60 digits,
and compares ∇_f ℓ at the two sides of the crossing (1e-30 apart). A continuous gradient differs there by
O(1e-30); a jump by O(1). A loss is refused only with such a witness, so no C¹ loss is refused
(|f − y|³ or max(0, 1 − yf)² pass: their sign and Heaviside factors multiply terms that vanish on the switch).
"""
from __future__ import annotations

import random

import mpmath
import sympy as sp

#: lines tried per switch, crossings examined per line
LINES, CROSSINGS = 4, 3
#: a jump counts when it exceeds this, relative to 1 + |∇_f ℓ| (continuity gives ~1e-30 at 60 digits)
JUMP_RTOL = 1e-12
#: |x| beyond which exp(x) and its relatives are not evaluated in the probe (mpmath cannot be interrupted)
_EXPONENT_CAP = mpmath.mpf(10) ** 4


def _capped(function):
    def guarded(x):
        if abs(x) > _EXPONENT_CAP:
            raise OverflowError("exponent too large for the probe")
        return function(x)
    return guarded


def _pow(base, exponent):
    if abs(exponent) > _EXPONENT_CAP:
        raise OverflowError("exponent too large for the probe")
    return base**exponent


_PROBE_MODULES = [{"exp": _capped(mpmath.exp), "sinh": _capped(mpmath.sinh), "cosh": _capped(mpmath.cosh),
                   "guarded_pow": _pow, "Heaviside": lambda x, h0=0.5: mpmath.mpf(1) if x > 0 else
                   (mpmath.mpf(0) if x < 0 else mpmath.mpf(h0)), "sign": mpmath.sign}, "mpmath"]


def _guard_powers(expr: sp.Expr) -> sp.Expr:
    """Powers with a non-numeric exponent become guarded_pow(b, x), so the probe can refuse huge exponents."""
    guarded_pow = sp.Function("guarded_pow")
    return expr.replace(lambda e: e.is_Pow and not e.exp.is_Number, lambda e: guarded_pow(e.base, e.exp))


def switches(gradient, outputs) -> list[sp.Expr]:
    """Arguments of the sign and Heaviside factors of ``gradient`` that depend on the outputs, up to sign."""
    found = {}
    for atom in sp.Matrix(gradient).atoms(sp.Heaviside, sp.sign):
        argument = atom.args[0]
        if not argument.free_symbols & set(outputs):
            continue
        canonical = -argument if argument.could_extract_minus_sign() else argument
        found[sp.srepr(canonical)] = canonical
    return [found[key] for key in sorted(found)]


def gradient_jump(expr: sp.Expr, outputs, targets, seed: int = 0) -> str | None:
    """A witness that ∇_f ``expr`` is discontinuous (a sentence naming the switch, the point and the jump), or None.

    None means no jump was found along LINES random lines per switch; the loss has no sign/Heaviside
    switch at all, or every one examined is continuous.
    """
    outputs, targets = list(outputs), list(targets)
    gradient = [sp.diff(expr, x) for x in outputs]
    candidates = switches(gradient, outputs)
    if not candidates:
        return None
    variables = (*outputs, *targets)
    g = sp.lambdify(variables, [_guard_powers(e) for e in gradient], modules=_PROBE_MODULES)
    rng = random.Random(seed)
    with mpmath.workdps(60):
        for switch in candidates:
            s = sp.lambdify(variables, _guard_powers(switch), modules=_PROBE_MODULES)
            for _ in range(LINES):
                start = [mpmath.mpf(rng.randint(-30, 30)) / 10 for _ in outputs]
                direction = [mpmath.mpf(rng.randint(-10, 10) or 1) / 10 for _ in outputs]
                y = [mpmath.mpf(rng.randint(-20, 20)) / 10 for _ in targets]
                witness = _jump_on_line(g, s, start, direction, y, switch, outputs, targets)
                if witness:
                    return witness
    return None


def _at(line, t):
    start, direction = line
    return [a + t * b for a, b in zip(start, direction)]


def _jump_on_line(g, s, start, direction, y, switch, outputs, targets) -> str | None:
    line = (start, direction)

    def value(t):
        try:
            v = s(*_at(line, t), *y)
            return v if isinstance(v, mpmath.mpf) or isinstance(v, (int, float)) else None
        except (ArithmeticError, ValueError, TypeError):
            return None

    grid = [mpmath.mpf(k) / 8 for k in range(-40, 41)]
    values = [value(t) for t in grid]
    crossings = 0
    for (t0, v0), (t1, v1) in zip(zip(grid, values), zip(grid[1:], values[1:])):
        if v0 is None or v1 is None or v0 * v1 > 0 or crossings >= CROSSINGS:
            continue
        crossings += 1
        low, high = (t0, t1) if v0 < 0 or (v0 == 0 and v1 > 0) else (t1, t0)
        for _ in range(200):  # bisect the crossing to well below the 1e-30 offset
            middle = (low + high) / 2
            vm = value(middle)
            if vm is None:
                break
            low, high = (middle, high) if vm < 0 else (low, middle)
            if abs(high - low) < mpmath.mpf(10) ** -50:
                break
        crossing, offset = (low + high) / 2, mpmath.mpf(10) ** -30
        try:
            before, after = g(*_at(line, crossing - offset), *y), g(*_at(line, crossing + offset), *y)
        except (ArithmeticError, ValueError, TypeError):
            continue
        jump = max(abs(a - b) for a, b in zip(before, after))
        scale = 1 + max(abs(x) for x in list(before) + list(after))
        if mpmath.isfinite(jump) and jump > JUMP_RTOL * scale:
            point = _at(line, crossing)
            where = ", ".join([f"{x}={mpmath.nstr(v, 6)}" for x, v in zip(outputs, point)]
                              + [f"{x}={mpmath.nstr(v, 6)}" for x, v in zip(targets, y)])
            return f"∇_f ℓ jumps by {mpmath.nstr(jump, 3)} across {switch} = 0 (at {where})"
    return None
