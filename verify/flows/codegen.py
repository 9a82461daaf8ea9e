"""SymPy matrix expressions → numeric callables (``lambdify`` with common-subexpression hoisting).

The printer resolves symbolic sizes (``Identity(n)``) from the shapes of the arguments at run
time and evaluates products of three or more matrices with ``numpy.linalg.multi_dot``, which picks
the cheapest parenthesisation (an n×C·C×n chain never becomes an n³ product it does not need).
Inverses inside products are not formed: A⁻¹ takes its thinner neighbour into one
``numpy.linalg.solve`` (A⁻¹X, or XA⁻¹ = (A⁻ᵀXᵀ)ᵀ, which is A⁻¹Xᵀ again when A is symmetric because
it is built from the symmetric symbols K, S, L), and equal solves are computed once — the kernel ODE
costs one solve against the C label columns, like a hand-written right-hand side. (NumPy only: SciPy's
LU routines run on a second BLAS whose threads fight NumPy's on small machines.)

Backends: ``"numpy"`` (always). ``"numba"`` (optional extra ``kernel-flows[numba]``) jit-compiles the
NumPy code; ``"cupy"`` (optional extra ``kernel-flows[gpu]``) runs the same code on a GPU with CuPy
arrays in and out. Neither has ``multi_dot``, so for them products are parenthesised once, at
generation time, by the matrix-chain rule with typical sizes (C ≪ m, p ≪ n). Asking for a backend
whose library is missing raises :class:`BackendUnavailable` naming the extra to install. ``"auto"``
uses numba when importable, NumPy otherwise.

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

from theory import notation as nt

BACKENDS = ("numpy", "numba", "cupy", "auto")
#: the library each optional backend needs, and the extra that installs it
OPTIONAL = {"numba": ("numba", "numba"), "cupy": ("cupy", "gpu")}


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


def chain_order(shapes) -> tuple:
    """Cheapest parenthesisation of a matrix chain (classic dynamic programme) with typical sizes:
    nested tuples of factor indices, e.g. (0, (1, 2))."""
    dims = [_size(shapes[0][0])] + [_size(s[1]) for s in shapes]
    count = len(shapes)
    cost = [[0.0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                                          for k in range(i, j))

    def build(i, j):
        return i if i == j else (build(i, split[i][j]), build(split[i][j] + 1, j))

    return build(0, count - 1)


class _MatrixPrinter(NumPyPrinter):
    def __init__(self, shape_sources: dict, settings=None, static_chains: bool = False):
        super().__init__(settings or {})
        self._shape_sources = shape_sources
        self._static_chains = static_chains

    def _print_Symbol(self, expr):
        if expr in self._shape_sources:
            return self._shape_sources[expr]
        return super()._print_Symbol(expr)

    def _print_Identity(self, expr):
        return f"numpy.eye({self._print(expr.rows)})"

    def _print__Solve(self, expr):
        return f"numpy.linalg.solve({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Trace(self, expr):
        return f"numpy.trace({self._print(expr.arg)})"

    def _print_MatMul(self, expr):
        scalar, mats = _flatten_product(expr)
        factors = [f"({self._print(m)})" for m in mats]  # a factor may be a sum: never rely on precedence
        if len(mats) >= 3 and self._static_chains:
            def nested(node):
                return factors[node] if isinstance(node, int) else f"({nested(node[0])} @ {nested(node[1])})"

            body = nested(chain_order([m.shape for m in mats]))
        elif len(mats) >= 3:
            body = "numpy.linalg.multi_dot([{}])".format(", ".join(factors))
        elif len(mats) == 2:
            body = f"({factors[0]} @ {factors[1]})"
        else:
            body = factors[0]
        return body if scalar == 1 else f"(({self._print(scalar)})*{body})"


class _Solve(sp.MatrixExpr):
    """A⁻¹X as one ``numpy.linalg.solve`` (``args`` = (A, X))."""

    @property
    def shape(self):
        return (self.args[0].shape[0], self.args[1].shape[1])


#: sizes used only to decide which neighbour of an inverse is thinner (C outputs ≪ m, p features ≪ n samples)
_TYPICAL_SIZE = {nt.C: 10, nt.m: 10 ** 4, nt.p: 10 ** 4, nt.n: 10 ** 6}
#: matrix symbols that are symmetric by construction (kernels, label Gram, Laplacian); callers validate it
SYMMETRIC = frozenset(s for s in (nt.K, nt.S, getattr(nt, "L", nt.K)) if isinstance(s, sp.MatrixSymbol))


def _size(dim) -> float:
    try:
        return float(sp.sympify(dim).subs(_TYPICAL_SIZE))
    except (TypeError, ValueError):
        return float("inf")


def _is_symmetric(A, symmetric) -> bool:
    transposes = {sp.Transpose(s): s for s in symmetric}
    return A.T.xreplace(transposes) == A.xreplace(transposes)


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


def _inverse_cse(expr, symmetric=frozenset()):
    """Common subexpressions for lambdify: only solves and inverses are hoisted into variables.

    In a product, A⁻¹ and its thinner neighbour become one hoisted solve (equal solves shared);
    an inverse with no matrix neighbour is hoisted as ``inv``. Hoisting whole products (SymPy's
    default cse) would cut matrix chains into pieces and stop ``multi_dot`` from choosing a cheap
    order (K·(R·Yᵀ)·(Y·R) costs O(n²C), (K·R)·… costs O(n³)).
    """
    replacements, mapping, solves = [], {}, {}

    def solved(A, X):
        key = (A, X)
        if key not in solves:
            symbol = sp.MatrixSymbol(f"sol{len(solves)}", A.shape[0], X.shape[1])
            solves[key] = symbol
            replacements.append((symbol, _Solve(A, X)))
        return solves[key]

    def chain(node):
        scalar, mats = _flatten_product(node)
        mats = [sp.Inverse(hoist(m.arg)) if isinstance(m, sp.Inverse) else hoist(m) for m in mats]
        changed = True
        while changed:
            changed = False
            for i, factor in enumerate(mats):
                if not isinstance(factor, sp.Inverse):
                    continue
                A = factor.arg
                right = mats[i + 1] if i + 1 < len(mats) and not isinstance(mats[i + 1], sp.Inverse) else None
                left = mats[i - 1] if i > 0 and not isinstance(mats[i - 1], sp.Inverse) else None
                right_size = _size(right.shape[1]) if right is not None else float("inf")
                left_size = _size(left.shape[0]) if left is not None else float("inf")
                if right is not None and right_size <= left_size:
                    mats[i:i + 2] = [solved(A, right)]
                elif left is not None:  # X·A⁻¹ = (A⁻ᵀXᵀ)ᵀ
                    mats[i - 1:i + 1] = [solved(A if _is_symmetric(A, symmetric) else A.T, left.T).T]
                else:
                    continue
                changed = True
                break
        mats = [hoist(m) if isinstance(m, sp.Inverse) else m for m in mats]
        return sp.MatMul(scalar, *mats) if len(mats) > 1 or scalar != 1 else mats[0]

    def hoist(node):
        if isinstance(node, sp.MatMul) and node.has(sp.Inverse):
            return chain(node)
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
    if backend == "auto":
        backend = "numba" if numba_available() else "numpy"
    if backend in OPTIONAL and importlib.util.find_spec(OPTIONAL[backend][0]) is None:
        library, extra = OPTIONAL[backend]
        raise BackendUnavailable(f"the {backend} backend needs {library}: pip install 'kernel-flows[{extra}]'")
    printer = _MatrixPrinter(_shape_sources(call_args), static_chains=backend != "numpy")
    symmetric = frozenset(c for a, c in zip(args, call_args) if a in SYMMETRIC)
    modules = "numpy"
    if backend == "cupy":
        import cupy  # optional extra: the printed numpy.* calls resolve to CuPy's

        modules = [{"numpy": cupy}]
    function = sp.lambdify(call_args, renamed, modules=modules, printer=printer,
                           cse=lambda e: _inverse_cse(e, symmetric))
    return _jit(function) if backend == "numba" else function


def numba_available() -> bool:
    """Whether Numba is installed (the optional ``numba`` extra): the "auto" backend then compiles the generated
    code."""
    return importlib.util.find_spec("numba") is not None


def _jit(function: Callable) -> Callable:
    import numba  # optional extra (availability checked by generate)

    return numba.njit(cache=False)(function)


def step_function(step, args: Sequence[sp.Basic], *, side: str = "rhs", substitute=None,
                  backend: str = "numpy") -> Callable:
    """Numeric code for one side of a certified derivation step (``theory.certify.Step``): :func:`generate` applied to
    ``step.rhs`` (or ``step.lhs``) after ``substitute`` (symbols of earlier steps → their formulas, e.g. S → YᵀY).

    Refuses a step whose certificate did not pass: code is generated only from certified expressions.

    >>> import numpy as np, theory
    >>> from theory import notation as nt
    >>> drive = theory.derive_kernel_ode(theory.losses.squared(1)).step("drive operator")
    >>> D = step_function(drive, (nt.K, nt.Y, nt.lam))
    >>> D(np.zeros((2, 2)), np.array([[1.0, 0.0]]), 1.0)
    array([[1., 0.],
           [0., 0.]])
    """
    if side not in ("rhs", "lhs"):
        raise ValueError(f"side must be 'rhs' or 'lhs', got {side!r}")
    certificate = getattr(step, "certificate", None)
    if certificate is None or not hasattr(step, side):
        raise TypeError(f"step must be a theory.certify.Step, got {type(step).__name__}")
    if not step.holds:
        raise ValueError(f"step {step.claim}·{step.name} is not certified ({certificate.summary()}): "
                         "no code is generated from it")
    expr = getattr(step, side)
    if substitute:
        expr = expr.xreplace(dict(substitute))
    return generate(expr, args, backend=backend)
