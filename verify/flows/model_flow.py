"""Numerics of a model derived by :func:`theory.derive_model`: its generated kernel ODE, objective and steady state.

- :func:`model_rhs` — NumPy code generated from the certified "kernel ODE" step (S = YᵀY substituted, so products
  stay C-thin): ``rhs(K, Y, lam=…, mu=…, <declared>=…)`` evaluates dK/dt = KA + AK;
- :func:`model_objective` — the objective's *value* generated from the parsed text (for the ground truth of
  :mod:`verify.truth.model_objective`, which differentiates values only);
- :func:`model_steady_state` — K∞ by the trajectory method (LSODA until ‖dK/dt‖_F ≤ tol·‖K‖_F,
  :func:`verify.flows.extensions.flow_steady_state`), returned only when finite and positive semidefinite.

>>> import numpy as np, theory
>>> model = theory.derive_model("0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)")
>>> rhs = model_rhs(model)
>>> rhs(np.eye(2), np.array([[1.0, 0.0]]), lam=1.0, mu=0.5)
array([[-0.5,  0. ],
       [ 0. , -1. ]])
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from theory import notation as nt
from theory.objective_language import ONES
from verify.core import validation as v
from verify.core.tolerances import TOL
from verify.flows.codegen import generate, step_function
from verify.flows.extensions import flow_steady_state


def _check_model(model, what: str):
    if not hasattr(model, "parsed") or not hasattr(model, "closed"):
        raise TypeError(f"model must be the result of theory.derive_model, got {type(model).__name__}")
    if what == "rhs" and not (model.certified and model.closed):
        raise ValueError(f"model: no kernel ODE to generate ({model.reason or 'its derivation is not certified'})")


def _arguments(model) -> list:
    """The symbols a generated function takes after K (or W, Φ) and Y: λ, μ, declared scalars, declared matrices."""
    return [nt.lam, nt.mu, *model.parsed.scalars.values(),
            *(M for name, M in model.parsed.matrices.items() if name not in model.eliminate)]


def _values(model, values: dict, n: int, C: int, m: int | None = None) -> list:
    """The numeric arguments in :func:`_arguments`' order, each validated by name."""
    names = [str(a) if not isinstance(a, sp.MatrixSymbol) else a.name for a in _arguments(model)]
    names = ["lam", "mu", *names[2:]]
    missing = [nm for nm in names if nm not in values]
    extra = sorted(set(values) - set(names))
    if missing or extra:
        raise ValueError(f"values: the model takes {', '.join(names)}"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(extra)}" if extra else ""))
    sizes = {nt.n: n, nt.C: C, nt.m: m, 1: 1}
    out = [v.positive("lam", values["lam"]), v.nonnegative("mu", values["mu"])]
    for name, symbol in model.parsed.scalars.items():
        number = v.positive(name, values[name]) if symbol.is_positive else (
            v.nonnegative(name, values[name]) if symbol.is_nonnegative else float(v.finite_values(name, values[name])))
        out.append(number)
    for name, M in model.parsed.matrices.items():
        if name in model.eliminate:
            continue
        rows, cols = (sizes.get(d, None) for d in M.shape)
        out.append(v.matrix(name, values[name], rows=rows, cols=cols))
    return out


def model_rhs(model, backend: str = "numpy") -> Callable:
    """``rhs(K, Y, **values)``: the derived model's dK/dt, generated from its certified "kernel ODE" step; values are
    ``lam``, ``mu`` and every declared symbol by name (ValueError naming a missing, unknown or invalid one)."""
    _check_model(model, "rhs")
    uses_ones = model.kernel_rhs.has(ONES)
    args = (nt.K, nt.Y, *_arguments(model)) + ((ONES,) if uses_ones else ())
    code = step_function(model.step("kernel ODE"), args, substitute={nt.S: nt.Y.T * nt.Y}, backend=backend)

    def rhs(K, Y, **values):
        Y = v.labels("Y", Y)
        K = v.kernel("K", K)
        if K.shape[0] != Y.shape[1]:
            raise ValueError(f"K must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")
        n = K.shape[0]
        extra = (np.ones((n, 1)),) if uses_ones else ()
        out = np.asarray(code(K, Y, *_values(model, values, n, Y.shape[0]), *extra), dtype=float)
        if not np.all(np.isfinite(out)):
            raise ValueError("the model's dK/dt is not finite here (a singular resolvent? check lam and K)")
        return out

    rhs.__doc__ = f"dK/dt = {sp.sstr(model.kernel_rhs)} (generated from the certified derivation)"
    return rhs


def model_objective(model) -> Callable:
    """``value(W=…, Phi=…, Y=…, lam=…, mu=…, <declared>=…)``: the objective's value, generated from the parsed text
    (no derivative), for real or complex matrices; the eliminated variables are among the keywords."""
    _check_model(model, "objective")
    parsed = model.parsed
    symbols = [nt.W, nt.Phi, nt.Y, nt.lam, nt.mu, *parsed.scalars.values(), *parsed.matrices.values()]
    uses_ones = parsed.objective.has(ONES)
    code = generate(parsed.objective, symbols + ([ONES] if uses_ones else []))
    names = ["W", "Phi", "Y", "lam", "mu", *parsed.scalars, *parsed.matrices]

    def value(**kwargs):
        missing = [nm for nm in names if nm not in kwargs]
        if missing:
            raise ValueError(f"value: missing {', '.join(missing)}")
        extra = (np.ones((kwargs["Phi"].shape[1], 1)),) if uses_ones else ()
        return code(*[kwargs[nm] for nm in names], *extra)

    return value


def model_steady_state(model, K0, Y, *, tol: float = TOL.steady_state, max_time: float = 1e5, **values) -> np.ndarray:
    """K∞ of the derived model's kernel ODE from K0 (trajectory method, module docstring); ConvergenceError when
    ‖dK/dt‖_F ≤ tol·‖K‖_F is not reached by ``max_time``; ValueError when the state is not PSD."""
    rhs = model_rhs(model)
    names = list(values)

    def positional(K, Y_, lam, mu, *more):
        return rhs(K, Y_, lam=lam, mu=mu, **dict(zip(names[2:], more)))

    ordered = {"lam": values.get("lam"), "mu": values.get("mu"), **{k: x for k, x in values.items()
                                                                      if k not in ("lam", "mu")}}
    names = list(ordered)
    K = flow_steady_state(positional, K0, Y, ordered["lam"], ordered["mu"], *list(ordered.values())[2:], tol=tol,
                          max_time=max_time)
    v.kernel("K∞", K, psd=True)
    return K
