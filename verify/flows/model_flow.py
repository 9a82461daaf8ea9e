"""Numerics of a model derived by :func:`theory.derive_model`: its generated kernel ODE, objective and steady state.

- :func:`model_rhs` — NumPy code generated from the certified steps "A is symmetric" and "kernel ODE" (S = YᵀY
  substituted, so products stay C-thin): ``rhs(K, Y, lam=…, mu=…, <declared>=…)`` evaluates dK/dt = KA + AK as
  KA + (KA)ᵀ (:func:`verify.flows.model_continuation.drive_and_rhs`);
- :func:`model_objective` — the objective's *value* generated from the parsed text (for the ground truth of
  :mod:`verify.truth.model_objective`, which differentiates values only);
- :func:`model_steady_state` — K∞ by the certified continuation where the derivation proved the objective in K
  convex (:mod:`verify.flows.model_continuation`, with its KKT certificate), else by the trajectory method (LSODA
  until ‖dK/dt‖_F ≤ tol·‖K‖_F, :func:`verify.flows.extensions.flow_steady_state`); returned only when finite and
  positive semidefinite.

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
from verify.flows.codegen import generate
from verify.core.errors import ConvergenceError
from verify.flows.extensions import flow_steady_state
from verify.flows.kernel_flow import SteadyState
from verify.flows.model_continuation import (CONTINUATION_LIMIT, ModelFunctions, ModelProblem,
                                             drive_and_rhs, model_continuation_steady_state, model_kkt_certificate)


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
    _, code = drive_and_rhs(model, args, backend)

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


def model_kkt(model, K, Y, *, tol: float = 10 * TOL.steady_state, **values):
    """The KKT certificate of ``K`` for the derived model (:mod:`verify.flows.model_continuation`): AK = 0 and
    λ_max(A) ≤ 0 measured against r = μ; it proves the global minimiser when ``model.convex``, otherwise it reads as
    first-order conditions (a stationary state without a growing empty mode)."""
    _check_model(model, "rhs")
    Y = v.labels("Y", Y)
    K = v.kernel("K", K, psd=True)
    if K.shape[0] != Y.shape[1]:
        raise ValueError(f"K must be n × n with n = {Y.shape[1]} (the columns of Y), got {K.shape}")
    n = K.shape[0]
    ordered = _values(model, values, n, Y.shape[0])
    lam, mu = ordered[0], ordered[1]
    functions = ModelFunctions(model, Y, _arguments(model), ordered, n)
    return model_kkt_certificate(functions, K, mu if mu > 0 else 1.0 / lam, tol=v.positive("tol", tol),
                                 floor=TOL.steady_state_floor * lam, convex=bool(model.convex))


def model_steady_state(model, K0, Y, *, method: str = "auto", tol: float = TOL.steady_state, max_time: float = 1e5,
                       return_info: bool = False, **values):
    """K∞ of the derived model's kernel ODE from K0 (module docstring).

    ``method="auto"``: the certified continuation (:mod:`verify.flows.model_continuation`) when the derivation proved
    the objective in K convex and n ≤ CONTINUATION_LIMIT — returned only with a passing KKT certificate, which then
    proves K∞ the global minimiser — else the trajectory (``"flow"``: LSODA until ‖dK/dt‖_F ≤ tol·‖K‖_F by
    ``max_time``), with the KKT numbers attached as first-order conditions. ``"continuation"`` insists on the first.
    Returns K∞ or, with ``return_info``, a :class:`verify.flows.kernel_flow.SteadyState` (method, cost, rightmost
    Jacobian eigenvalue where n allows, certificate). ConvergenceError when no state meets the criterion; ValueError
    when the state is not finite and PSD or an argument is wrong (named).
    """
    _check_model(model, "rhs")
    if method not in ("auto", "flow", "continuation"):
        raise ValueError(f"method must be 'auto', 'flow' or 'continuation', got {method!r}")
    Y = v.labels("Y", Y)
    K0 = v.kernel("K0", K0, psd=True)
    if K0.shape[0] != Y.shape[1]:
        raise ValueError(f"K0 must be n × n with n = {Y.shape[1]} (the columns of Y), got {K0.shape}")
    tol = v.positive("tol", tol)
    n = K0.shape[0]
    ordered = _values(model, values, n, Y.shape[0])
    lam, mu = ordered[0], ordered[1]
    functions = ModelFunctions(model, Y, _arguments(model), ordered, n)
    rate = mu if mu > 0 else 1.0 / lam
    floor = TOL.steady_state_floor * lam
    convex = bool(model.convex)
    if method == "continuation" and not convex:
        raise ValueError("method: 'continuation' needs a model whose objective in K is certified convex "
                         f"({model.reasons.get('convexity', 'no objective in K')}); use method='flow'")
    try:
        return _steady_state(model, functions, K0, Y, values, method, tol, max_time, return_info, rate, floor, convex)
    except np.linalg.LinAlgError as exc:  # a NaN or ∞ met in a factorisation: the scales exceed float64
        raise ValueError(f"K0, Y, lam, mu: float64 cannot hold this problem's flow ({exc}); rescale K0, Y, lam and mu "
                         "towards 1") from None


def _steady_state(model, functions, K0, Y, values, method, tol, max_time, return_info, rate, floor, convex):
    n = K0.shape[0]
    if method == "continuation" or (method == "auto" and convex and n <= CONTINUATION_LIMIT):
        K, certificate, steps, rightmost = model_continuation_steady_state(functions, K0, rate, floor, tol, convex)
        if not certificate.passed:
            raise ConvergenceError(f"model_steady_state: the continuation ended at a state the KKT test rejects "
                                   f"({certificate}); try method='flow'")
        used, cost, time = "continuation", steps, float("nan")
    else:
        rhs = model_rhs(model)
        names = ["lam", "mu", *(k for k in values if k not in ("lam", "mu"))]

        def positional(K, Y_, *args):
            return rhs(K, Y_, **dict(zip(names, args)))

        K = flow_steady_state(positional, K0, Y, *[values[k] for k in names], tol=tol, max_time=max_time)
        certificate = model_kkt_certificate(functions, K, rate, tol=10 * tol, floor=floor, convex=convex)
        rightmost = ModelProblem(functions, rate, floor).rightmost(K) if n <= CONTINUATION_LIMIT else float("nan")
        used, cost, time = "flow", 0, float("nan")
    v.kernel("K∞", K, psd=True)
    if not return_info:
        return K
    with np.errstate(over="ignore", invalid="ignore"):
        residual = np.linalg.norm(functions.rhs(K)) / max(np.linalg.norm(K), floor, np.finfo(float).tiny) / (2 * rate)
    return SteadyState(K, time, float(residual), used, cost, float(rightmost), certificate)
