"""Size and time limits on symbolic work, so that a huge or hostile loss fails with a clear error instead
of running for minutes (or overflowing Python's stack).

Two kinds of limit:

- **Size**, checked when a loss is parsed (:func:`check_size`): the depth of the expression tree, its
  number of operations and the polynomial degree in the outputs. These are cheap, deterministic and
  refuse e.g. ``sigmoid(`` nested 30 times or a product of 149 linear factors before any work starts.
- **Time**, around every top-level symbolic computation on a loss (:func:`time_limit`): derivations,
  convexity, affine-gradient detection. Exponent towers such as ``exp(exp(exp(f1 - y1)))`` are small but
  their exact evaluation at a certificate's rational points is not; the limit stops them. It uses
  ``SIGALRM`` and therefore only acts in the main thread of a process, and it never overrides a timer
  that is already running (the campaign's per-claim limit); the size limits hold everywhere.

Both raise :class:`SymbolicLimitError`, a ``ValueError`` naming the limit and the way out.
"""
from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager

import sympy as sp

#: deepest expression tree a loss may have (SymPy recurses per level; Python's stack is about 1000 frames)
MAX_TREE_DEPTH = 48
#: most operations (SymPy ``count_ops``) in a loss expression
MAX_OPERATIONS = 600
#: highest polynomial degree in the outputs (a bound: degrees add over products and multiply over powers)
MAX_DEGREE = 64
#: most outputs C a loss may have
MAX_OUTPUTS = 256
#: largest log10 |x| of an exponent x that an exact evaluation may meet: exp(x) to 60 digits needs x's integer
#: part, log2|x| bits of it, and mpmath's big-integer arithmetic cannot be interrupted once started
MAX_EXPONENT_LOG10 = 10_000
#: seconds one top-level symbolic computation may take (module attribute: set it to change the limit)
SYMBOLIC_SECONDS = 300.0


class SymbolicLimitError(ValueError):
    """Symbolic work on a loss went beyond a size or time limit of :mod:`theory.limits`."""


def tree_depth(expr: sp.Basic) -> int:
    """Depth of the expression tree (a symbol or number has depth 1), without recursion."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((arg, depth + 1) for arg in node.args)
    return deepest


def degree_bound(expr: sp.Basic, variables) -> int:
    """An upper bound on the polynomial degree of ``expr`` in ``variables``, from the tree alone (no expansion).

    Sums take the maximum, products the sum, integer and rational powers |exponent| times the base
    (rounded up), and a function the degree of its arguments: exp((f1 - y1)**100) counts as 100.
    The tree's depth must already be bounded (:data:`MAX_TREE_DEPTH`).
    """
    variables = set(variables)
    if not expr.free_symbols & variables:
        return 0
    if expr.is_Symbol:
        return 1
    degrees = [degree_bound(arg, variables) for arg in expr.args]
    if expr.is_Add:
        return max(degrees)
    if expr.is_Mul:
        return sum(degrees)
    if expr.is_Pow and expr.exp.is_Rational:
        return math.ceil(abs(expr.exp)) * degrees[0]
    return max(degrees)


def check_size(expr: sp.Basic, outputs, what: str = "loss text") -> sp.Basic:
    """``expr`` unchanged, or :class:`SymbolicLimitError` naming the size limit it exceeds."""
    depth = tree_depth(expr)
    if depth > MAX_TREE_DEPTH:
        raise SymbolicLimitError(f"{what}: the expression is nested {depth} levels deep (at most {MAX_TREE_DEPTH}); "
                                 "unnest it or write it with fewer composed functions")
    operations = int(sp.count_ops(expr))
    if operations > MAX_OPERATIONS:
        raise SymbolicLimitError(f"{what}: the expression has {operations} operations (at most {MAX_OPERATIONS})")
    degree = degree_bound(expr, outputs)
    if degree > MAX_DEGREE:
        raise SymbolicLimitError(f"{what}: its polynomial degree in the outputs can reach {degree} (at most "
                                 f"{MAX_DEGREE}); exact certification expands such powers")
    return expr


_EXPONENTIALS = (sp.exp, sp.sinh, sp.cosh, sp.tanh)


def _exponent(node) -> sp.Basic | None:
    if not isinstance(node, sp.Expr):
        return None
    if isinstance(node, _EXPONENTIALS):
        return node.args[0]
    if node.is_Pow and not node.exp.is_Number:
        return node.exp  # b**x with symbolic or transcendental x is exp(x·log b)
    return None


def check_evaluable(expr: sp.Basic, what: str = "an exact evaluation") -> sp.Basic:
    """``expr`` (numeric, no free symbols) unchanged when every exponent in it is below 10**MAX_EXPONENT_LOG10
    in magnitude, else SymbolicLimitError. Inner exponentials are checked before the ones that contain them,
    so each 15-digit evaluation of an exponent is itself safe."""
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    nodes = sorted(((tree_depth(node), node) for entry in entries for node in sp.preorder_traversal(entry)
                    if _exponent(node) is not None), key=lambda pair: pair[0])
    seen = set()
    for _, node in nodes:
        exponent = _exponent(node)
        if exponent in seen or exponent.free_symbols:
            continue
        seen.add(exponent)
        magnitude = sp.Abs(sp.N(exponent, 15))
        if magnitude.is_Number and magnitude > sp.Float(10) ** MAX_EXPONENT_LOG10:
            raise SymbolicLimitError(
                f"{what}: an exponent of magnitude {sp.N(magnitude, 3)} (more than 1e{MAX_EXPONENT_LOG10}) in "
                f"{type(node).__name__}(...): the loss grows too fast (nested exponentials?) to be evaluated exactly")
    return expr


def check_outputs(C: int, name: str = "C") -> int:
    """``C`` if it is an int in 1..MAX_OUTPUTS, else ValueError naming ``name``."""
    if isinstance(C, bool) or not isinstance(C, int) or C < 1:
        raise ValueError(f"{name} must be a positive int (number of outputs), got {C!r}")
    if C > MAX_OUTPUTS:
        raise SymbolicLimitError(f"{name} = {C} outputs is more than the {MAX_OUTPUTS} a symbolic loss may have")
    return C


#: seconds between repeated alarms once a time limit has passed
RING_INTERVAL = 0.1


def _timer_running() -> bool:
    return signal.getitimer(signal.ITIMER_REAL)[0] > 0


@contextmanager
def time_limit(what: str, seconds: float | None = None):
    """Run the block for at most ``seconds`` (default :data:`SYMBOLIC_SECONDS`), else SymbolicLimitError.

    Acts only in the main thread where ``SIGALRM`` exists, and only when no other real-time timer is
    running: a nested call, or a caller's own limit, is left in charge.
    """
    seconds = SYMBOLIC_SECONDS if seconds is None else seconds
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and not _timer_running())
    if not usable:
        yield
        return

    message = (f"{what}: symbolic work took more than {seconds:g} s (theory.limits.SYMBOLIC_SECONDS); the loss is too "
               "large or too steep to certify exactly — simplify it")
    fired = []

    def ring(signum, frame):
        fired.append(True)
        raise SymbolicLimitError(message)

    previous = signal.signal(signal.SIGALRM, ring)
    # the alarm repeats every RING_INTERVAL s until the block ends: code that catches ValueError (which the error
    # is) where the first one lands cannot swallow the limit, and a block that swallowed every one still fails
    signal.setitimer(signal.ITIMER_REAL, seconds, RING_INTERVAL)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:
        raise SymbolicLimitError(message)
