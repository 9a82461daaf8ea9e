"""The generic claim of a derived model: its kernel ODE against its objective, its steady states against its
rank bound, its mode law against its steady states — each with negative controls the same check rejects.

:func:`check_model` takes a :class:`theory.ModelDerivation` (``kflow verify --model``):

1. the generated dK/dt (:func:`verify.flows.model_flow.model_rhs`) against the kernel velocity computed from the
   objective's values alone (:mod:`verify.truth.model_objective`) at random Φ, to ``TOL.model_objective``;
   control: the same judge on the rhs with its drive doubled (K(2A)+(2A)K) must fail;
2. rank K∞ ≤ the certified bound at the steady state reached from generic non-commuting K(0) (confirmed rank);
   where the objective in K is certified convex, K∞'s KKT certificate (AK = 0, λ_max(A) ≤ 0: the global minimiser);
   control: the same state with its top mode emptied;
3. where a closed-form level exists: the spectrum of K∞ against the level applied to the eigenvalues of S above the
   threshold; control: the level at μ doubled.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from theory import notation as nt
from verify.claims.common import combine
from verify.claims.registry import Context
from verify.claims.shared import state_rank_excess, state_spectrum_error
from verify.core.errors import ConvergenceError
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.flows.model_flow import model_kkt, model_objective, model_rhs, model_steady_state
from verify.truth import instances
from verify.truth.model_objective import kernel_velocity


def _declared_matrix(rng, shape, what) -> np.ndarray:
    rows, cols = shape
    if what.diagonal:
        return np.diag(rng.uniform(0.5, 1.5, rows)) if what.definite else np.diag(rng.standard_normal(rows))
    A = rng.standard_normal((rows, cols))
    if what.definite:
        return A @ A.T / rows + (np.eye(rows) if what.definite == "positive definite" else 0)
    return (A + A.T) / 2 if what.symmetric else A


def instance_values(model, rng: np.random.Generator, n: int, m: int, overrides: dict | None = None) -> dict:
    """Values for λ, μ, the declared scalars (log-uniform in [0.05, 0.5]) and the declared matrices that are not
    eliminated (random, with their declared properties); ``overrides`` replace any of them."""
    C = None
    values = {"lam": instances.log_uniform(rng, 0.2, 1.0), "mu": instances.log_uniform(rng, 0.02, 0.1)}
    for name, symbol in model.parsed.scalars.items():
        values[name] = instances.log_uniform(rng, 0.05, 0.5) if symbol.is_nonnegative is not False else \
            float(rng.standard_normal())
    sizes = {nt.n: n, nt.m: m, nt.C: C, 1: 1}
    for name, M in model.parsed.matrices.items():
        if name in model.eliminate:
            continue
        shape = tuple(sizes.get(d, d) for d in M.shape)
        values[name] = _declared_matrix(rng, shape, model.parsed.properties[M])
    values.update(overrides or {})
    return values


def eliminated_shapes(model, n: int, m: int, C: int) -> dict:
    """{name: shape} of the variables the model eliminates (W: C × m, declared ones by their declaration)."""
    sizes = {nt.n: n, nt.m: m, nt.C: C, 1: 1}
    shapes = {}
    for name in model.eliminate:
        M = nt.W if name == "W" else model.parsed.matrices[name]
        shapes[name] = tuple(int(sizes.get(d, d)) for d in M.shape)
    return shapes


def fixed_arguments(model, Y, values) -> dict:
    """The keywords of the objective's value that stay fixed while the eliminated variables move."""
    return {"Y": Y, **values}


def kernel_ode_errors(model, rhs, ctx: Context, count: int, overrides=None) -> list[float]:
    """Relative error of ``rhs`` (default the generated one) against the objective's kernel velocity, per instance."""
    value = model_objective(model)
    rng = ctx.rng(61)
    errors = []
    for k in range(count):
        C = model.C
        n, m = int(rng.integers(C + 2, C + 5)), int(rng.integers(2, C + 4))
        Phi, Y = rng.standard_normal((m, n)), instances.real_labels(rng, n, C)
        values = instance_values(model, rng, n, m, overrides)
        truth = kernel_velocity(value, Phi, eliminated_shapes(model, n, m, C), fixed_arguments(model, Y, values))
        errors.append(relative_error(rhs(Phi.T @ Phi, Y, **values), truth))
    return errors


def steady_states(model, ctx: Context, count: int, overrides=None) -> list:
    """[(K∞ or None, Y, values)] from generic K(0) with real labels."""
    rng = ctx.rng(62)
    out = []
    for _ in range(count):
        C = model.C
        n = int(rng.integers(C + 3, C + 6))
        Y = instances.real_labels(rng, n, C)
        values = instance_values(model, rng, n, n + 2, overrides)
        try:
            K = model_steady_state(model, instances.generic_kernel(rng, n), Y, **values)
        except (ConvergenceError, ValueError):
            K = None
        out.append((K, Y, values))
    return out


def kkt_measure(model, K, Y, values) -> float:
    """max(stationarity, dual gap) of K's KKT certificate (∞ when no state was reached)."""
    if K is None:
        return float("inf")
    certificate = model_kkt(model, K, Y, **values)
    return max(certificate.stationarity, certificate.dual_gap)


def emptied(K):
    """K with its top eigenmode removed (None stays None): a filled mode emptied, which A must want to grow."""
    if K is None:
        return None
    w, V = np.linalg.eigh(K)
    kept = np.where(w[:-1] > 1e-12 * max(w[-1], 0.0), w[:-1], 0.0)  # the empty modes exactly 0, not rounding noise
    return (V[:, :-1] * kept) @ V[:, :-1].T


def level_spectrum(model, Y, values, *, mu_factor: float = 1.0) -> np.ndarray | None:
    """The mode law applied to the eigenvalues of S = YᵀY (descending), or None without a closed-form level."""
    if model.level is None or model.threshold is None:
        return None
    params = {nt.lam: values["lam"], nt.mu: values["mu"] * mu_factor,
              **{sym: values[name] for name, sym in model.parsed.scalars.items()}}
    level = sp.lambdify(nt.s, model.level.xreplace(params), "numpy")
    threshold = float(model.threshold.xreplace(params))
    s = np.concatenate([np.linalg.svd(Y, compute_uv=False) ** 2, np.zeros(Y.shape[1] - Y.shape[0])])
    return np.sort([float(level(x)) if x > threshold else 0.0 for x in s])[::-1]


def check_model(model, ctx: Context, overrides: dict | None = None):
    """The verdict on a derived model (module docstring)."""
    if not model.closed:
        raise ValueError(f"model: nothing to verify numerically ({model.reason})")
    rhs = model_rhs(model)
    count = ctx.pick(3, 8)

    parts = {"generated dK/dt vs the complex-step derivative of the objective through the eliminated readout":
             judge("MODEL", kernel_ode_errors(model, rhs, ctx, count, overrides), TOL.model_objective, ctx.seed)}
    controls = {"dK/dt with its drive doubled (2KA + 2AK)":
                judge("MODEL", kernel_ode_errors(model, lambda K, Y, **v: 2 * rhs(K, Y, **v), ctx, count, overrides),
                      TOL.model_objective, ctx.seed)}
    details = {"kernel ODE": sp.sstr(model.kernel_rhs)}
    states = steady_states(model, ctx, count, overrides)
    if model.rank_bound is not None:
        bounds = [int(model.rank_bound.xreplace({nt.C: Y.shape[0]})) for _, Y, _ in states]
        parts[f"rank K∞ ≤ {model.rank_bound} from generic K(0)"] = judge(
            "MODEL", [state_rank_excess(K, b) for (K, _, _), b in zip(states, bounds)], 0.0, ctx.seed,
            what="rank excess")
        details["rank bound"] = str(model.rank_bound)
    if model.convex:
        parts["KKT at K∞: the global minimiser of the convex objective in K"] = judge(
            "MODEL", [kkt_measure(model, K, Y, values) for K, Y, values in states], 10 * TOL.steady_state, ctx.seed,
            what="KKT measure")
        controls["KKT at K∞ with its top mode emptied"] = judge(
            "MODEL", [kkt_measure(model, emptied(K), Y, values) for K, Y, values in states], 10 * TOL.steady_state,
            ctx.seed, what="KKT measure")
    laws = [level_spectrum(model, Y, values) for _, Y, values in states]
    if all(law is not None for law in laws):
        parts["K∞ spectrum vs the derived mode law"] = judge(
            "MODEL", [state_spectrum_error(K, law) for (K, _, _), law in zip(states, laws)], TOL.law, ctx.seed)
        controls["the mode law at 2μ"] = judge(
            "MODEL", [state_spectrum_error(K, level_spectrum(model, Y, values, mu_factor=2.0))
                      for K, Y, values in states], TOL.law, ctx.seed)
        details["law"] = f"filled level {sp.sstr(model.level)} above s* = {sp.sstr(model.threshold)}"
    return combine("MODEL", ctx.seed, parts, derivation=model, controls=controls, details=details)
