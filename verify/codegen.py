"""SymPy matrix expressions → numeric callables (``lambdify`` with common-subexpression hoisting).

The printer resolves symbolic sizes (``Identity(n)``) from the shapes of the arguments at run
time and evaluates products of three or more matrices with ``numpy.linalg.multi_dot``, which picks
the cheapest parenthesisation (an n×C·C×n chain never becomes an n³ product it does not need).

Backends: ``"numpy"`` (always). ``"numba"`` (optional extra ``kernel-flows[numba]``) jit-compiles the
NumPy code; asking for it without numba installed raises :class:`BackendUnavailable` naming the
extra to install. ``"auto"`` uses numba when importable, NumPy otherwise.

>>> import numpy as np, sympy as sp
>>> from theory.notation import K, lam, I_n
>>> resolvent = generate((K + lam * I_n).I, (K, lam))
>>> resolvent(np.eye(2), 1.0)
array([[0.5, 0. ],
       [0. , 0.5]])
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

BACKENDS = ("numpy", "numba", "auto")


class BackendUnavailable(ImportError):
    """The requested backend's library is not installed."""


def _shape_sources(args: Sequence) -> dict:
    """Map each size symbol to code that reads it off an argument's shape."""
    sources = {}
    for position, arg in enumerate(args):
        if isinstance(arg, sp.MatrixSymbol):
            for axis, dim in enumerate(arg.shape):
                if isinstance(dim, sp.Symbol) and dim not in sources:
                    sources[dim] = f"{_argument_name(arg, position)}.shape[{axis}]"
    return sources


def _argument_name(arg, position: int) -> str:
    return f"arg{position}"


class _MatrixPrinter(NumPyPrinter):
    def __init__(self, shape_sources: dict, settings=None):
        super().__init__(settings or {})
        self._shape_sources = shape_sources

    def _print_Symbol(self, expr):
        if expr in self._shape_sources:
            return self._shape_sources[expr]
        return super()._print_Symbol(expr)

    def _print_Identity(self, expr):
        return f"numpy.eye({self._print(expr.rows)})"

    def _print_Trace(self, expr):
        return f"numpy.trace({self._print(expr.arg)})"

    def _print_MatMul(self, expr):
        scalar, mats = _flatten_product(expr)
        factors = [f"({self._print(m)})" for m in mats]  # a factor may be a sum: never rely on precedence
        if len(mats) >= 3:
            body = "numpy.linalg.multi_dot([{}])".format(", ".join(factors))
        elif len(mats) == 2:
            body = f"({factors[0]} @ {factors[1]})"
        else:
            body = factors[0]
        return body if scalar == 1 else f"(({self._print(scalar)})*{body})"


def _flatten_product(expr) -> tuple[sp.Expr, list]:
    """(scalar, [matrix factors]) of a possibly nested matrix product."""
    coeff, matrices = expr.as_coeff_mmul()
    scalars, mats = [coeff], []
    for factor in (matrices.args if isinstance(matrices, sp.MatMul) else (matrices,)):
        if isinstance(factor, sp.MatMul):
            inner_scalar, inner = _flatten_product(factor)
            scalars.append(inner_scalar)
            mats += inner
        elif getattr(factor, "is_Matrix", False):
            mats.append(factor)
        else:
            scalars.append(factor)
    return sp.Mul(*scalars), mats


def _inverse_cse(expr):
    """Common subexpressions for lambdify: only matrix inverses are hoisted into variables.

    Hoisting whole products (SymPy's default cse) would cut matrix chains into pieces and stop
    ``multi_dot`` from choosing a cheap order (K·(R·Yᵀ)·(Y·R) costs O(n²C), (K·R)·… costs O(n³)).
    """
    replacements, mapping = [], {}

    def hoist(node):
        if isinstance(node, sp.Inverse):
            inner = hoist(node.arg)
            key = sp.Inverse(inner)
            if key not in mapping:
                symbol = sp.MatrixSymbol(f"inv{len(mapping)}", *node.shape)
                mapping[key] = symbol
                replacements.append((symbol, key))
            return mapping[key]
        if isinstance(node, sp.Basic) and node.args and node.has(sp.Inverse):
            return node.func(*[hoist(a) for a in node.args])
        return node

    reduced = [hoist(e) for e in expr] if isinstance(expr, (list, tuple)) else hoist(expr)
    return replacements, reduced


def generate(expr: sp.Basic, args: Sequence[sp.Basic], backend: str = "numpy") -> Callable:
    """A function of ``args`` (positional, in order) evaluating ``expr`` numerically."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    names = [sp.Symbol(_argument_name(a, i)) if isinstance(a, sp.MatrixSymbol) else a for i, a in enumerate(args)]
    renamed = expr.xreplace({a: sp.MatrixSymbol(str(nm), *a.shape) for a, nm in zip(args, names)
                             if isinstance(a, sp.MatrixSymbol)})
    call_args = [sp.MatrixSymbol(str(nm), *a.shape) if isinstance(a, sp.MatrixSymbol) else a
                 for a, nm in zip(args, names)]
    printer = _MatrixPrinter(_shape_sources(call_args))
    function = sp.lambdify(call_args, renamed, modules="numpy", cse=_inverse_cse, printer=printer)
    if backend == "numpy" or (backend == "auto" and not numba_available()):
        return function
    return _jit(function)


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def _jit(function: Callable) -> Callable:
    if not numba_available():
        raise BackendUnavailable("the numba backend needs numba: pip install 'kernel-flows[numba]'")
    import numba  # optional extra

    return numba.njit(cache=False)(function)
