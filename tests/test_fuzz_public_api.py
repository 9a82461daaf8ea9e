"""Hypothesis fuzz of the public numeric API: shapes, scales 1e-300…1e300, dtypes and degenerate labels.

For every function in :data:`PUBLIC` and every drawn input, exactly one of two things may happen:

- a result that passes the function's own output check (finite everywhere; kernels symmetric PSD; ranks
  integers in range), or
- a ValueError / TypeError / OverflowError whose message is one line naming an argument of the function (its
  parameter names, or the matrix letters the docstrings use), or a one-line ConvergenceError (a flow that did
  not converge is a fact about the problem, not always about one argument).

Anything else — NaN or inf returned, a non-PSD kernel, an IndexError or ZeroDivisionError, an error that does
not say which argument — fails. ``KFLOW_FUZZ_EXAMPLES`` raises the number of examples for a longer hunt
(the suite's default keeps the file at about a minute on 2 cores).
"""
from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import verify
from theory.losses import softmax_cross_entropy, squared
from verify.core.tolerances import TOL
from verify.flows.kernel_flow import ConvergenceError, problem_scale

EXAMPLES = int(os.environ.get("KFLOW_FUZZ_EXAMPLES", "20"))
SLOW = max(3, EXAMPLES // 4)
EXPECTED_ERRORS = (ValueError, TypeError, OverflowError, ConvergenceError)
#: names the messages may use for an argument besides the parameter name itself
ALIASES = {"K": ("K", "kernel"), "K0": ("K0", "K", "kernel"), "Y": ("Y", "label"), "lam": ("lam", "λ"),
           "mu": ("mu", "μ"), "Phi": ("Phi", "Φ"), "Phi0": ("Phi0", "Phi", "Φ"), "W": ("W",), "W0": ("W0", "W"),
           "M": ("M",), "t": ("t",), "L": ("L", "Laplacian"), "beta": ("beta", "β"), "eps": ("eps", "ε"),
           "kappas": ("kappa",), "kappa": ("kappa", "κ"), "kappa0": ("kappa0", "κ"), "s": ("s",),
           "actual": ("actual",), "expected": ("expected",), "batch_size": ("batch_size",), "rtol": ("rtol",),
           "loss": ("loss",)}


def scales():
    """Powers of ten from 1e-300 to 1e300, with the extremes and 1 drawn often."""
    return st.one_of(st.sampled_from([1e-300, 1e-150, 1e-20, 1.0, 1e20, 1e150, 1e300]),
                     st.floats(-300, 300).map(lambda e: 10.0**e))


def dtypes():
    return st.sampled_from([np.float64, np.float32, np.int64])


@st.composite
def labels(draw, n, C):
    """Targets C × n: one-hot, signed, all zero, one class only, or duplicated columns — at a drawn scale."""
    kind = draw(st.sampled_from(["one-hot", "signed", "zero", "one class", "duplicates"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "one-hot":
        Y = np.eye(C)[:, rng.integers(0, C, n)]
    elif kind == "signed":
        Y = rng.standard_normal((C, n))
    elif kind == "zero":
        Y = np.zeros((C, n))
    elif kind == "one class":
        Y = np.zeros((C, n))
        Y[0] = 1.0
    else:
        Y = np.repeat(rng.standard_normal((C, 1)), n, axis=1)
    return Y * draw(scales())


@st.composite
def kernels(draw, n):
    """PSD n × n kernels: generic, rank-deficient or zero — at a drawn scale."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    rank = draw(st.integers(0, n))
    B = rng.standard_normal((rank, n))
    return (B.T @ B) * draw(scales())


@st.composite
def problems(draw, max_n=6, max_C=3):
    n, C = draw(st.integers(1, max_n)), draw(st.integers(1, max_C))
    dtype = draw(dtypes())
    K, Y = draw(kernels(n)), draw(labels(n, C))

    def cast(A):  # float32 turns 1e300 into inf and int64 rounds 1e-300 to 0: both are inputs to refuse or handle
        with np.errstate(over="ignore", invalid="ignore"):
            if dtype is np.int64:
                return np.round(A).astype(np.int64) if np.all(np.abs(A) < 2**62) else A
            return A.astype(dtype)

    return dict(n=n, C=C, K=cast(K), Y=cast(Y), lam=draw(scales()), mu=draw(scales()))


def _names(function) -> set[str]:
    names = set()
    for parameter in inspect.signature(function).parameters:
        names.update(ALIASES.get(parameter, (parameter,)))
    return names


def _judge(function, call, check):
    """Run ``call``; the result must pass ``check``, or the error must be expected, one line, and name an argument."""
    try:
        result = call()
    except EXPECTED_ERRORS as exc:
        message = str(exc)
        assert message and "\n" not in message.strip(), f"{function.__name__}: multi-line error {message!r}"
        if isinstance(exc, ConvergenceError):
            return None
        names = _names(function)
        assert any(re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![a-z])", message) for name in names), \
            f"{function.__name__}: error names no argument of {sorted(names)}: {message!r}"
        return None
    check(result)
    return result


def _finite(*arrays):
    for A in arrays:
        assert np.all(np.isfinite(np.asarray(A, dtype=float))), "non-finite result returned"


def _psd_kernel(K, scale: float = 0.0):
    """Finite, symmetric and PSD up to TOL.psd of max(|K|, ``scale``): ``scale`` is the problem's own size, below
    which a kernel is 0 up to rounding (a K∞ = 0 reached from K0 keeps K0-sized rounding noise)."""
    K = np.asarray(K, dtype=float)
    _finite(K)
    reference = max(np.abs(K).max(), scale)
    assert np.allclose(K, K.T, rtol=0, atol=1e-12 * max(reference, 1e-300))
    if reference > 0:
        assert np.linalg.eigvalsh(K / reference)[0] >= -TOL.psd * K.shape[0], "non-PSD kernel returned"


FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW_SETTINGS = settings(max_examples=SLOW, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(problems())
def test_kernel_ode_rhs_drive_and_jacobian(p):
    _judge(verify.kernel_ode_rhs, lambda: verify.kernel_ode_rhs(p["K"], p["Y"], p["lam"], p["mu"]), _finite)
    _judge(verify.drive_operator, lambda: verify.drive_operator(p["K"], p["Y"], p["lam"]), _psd_kernel)
    if p["n"] <= 4:
        _judge(verify.kernel_ode_jacobian, lambda: verify.kernel_ode_jacobian(p["K"], p["Y"], p["lam"], p["mu"]),
               _finite)


@FAST
@given(problems())
def test_laws(p):
    def law_ok(law):
        _finite(law)
        assert np.all(law >= 0) and law.shape == (p["n"],)

    _judge(verify.water_filling_spectrum, lambda: verify.water_filling_spectrum(p["Y"], p["lam"], p["mu"]), law_ok)

    def states_ok(states):
        for state in states:
            _psd_kernel(state.kernel)
            _finite(state.kappas)

    if p["n"] <= 4:
        _judge(verify.commuting_steady_states, lambda: verify.commuting_steady_states(p["Y"], p["lam"], p["mu"]),
               states_ok)


@FAST
@given(problems(), st.sampled_from([1e-300, 1e-8, 0.5]))
def test_ranks_and_errors(p, rtol):
    for function in (verify.numerical_rank, verify.confirmed_rank):
        _judge(function, lambda f=function: f(p["K"], rtol), lambda r: 0 <= r <= p["n"])
    _judge(verify.relative_error, lambda: verify.relative_error(p["K"], p["K"] * 0.5),
           lambda e: np.isfinite(e) and e >= 0)


@FAST
@given(problems(), st.sampled_from(["squared", "cross-entropy"]), st.integers(1, 6), scales())
def test_feature_noise_covariance(p, which, m, scale):
    C = p["C"] if which == "squared" else max(p["C"], 2)
    loss = squared(C) if which == "squared" else softmax_cross_entropy(C)
    rng = np.random.default_rng(m)
    Y = p["Y"] if p["Y"].shape[0] == C else np.eye(C)[:, rng.integers(0, C, p["n"])]
    Phi, W = rng.standard_normal((m, p["n"])) * scale, rng.standard_normal((C, m))

    def ok(cov):
        _psd_kernel(cov)
        assert verify.numerical_rank(cov) <= C

    _judge(verify.feature_noise_covariance,
           lambda: verify.feature_noise_covariance(loss, Phi, W, Y, max(1, p["n"] // 2)), ok)


def _problem_scale(p) -> float:
    """max(‖K0‖, the law's largest eigenvalue): the size of a kernel-flow problem (0 where it cannot be formed)."""
    try:
        return problem_scale(np.asarray(p["K"], dtype=float), np.asarray(p["Y"], dtype=float), p["lam"], p["mu"])
    except (ValueError, ArithmeticError):
        return 0.0


@SLOW_SETTINGS
@given(problems(max_n=5))
def test_steady_state_and_its_integrator(p):
    scale = _problem_scale(p)
    _judge(verify.steady_state, lambda: verify.steady_state(p["K"], p["Y"], p["lam"], p["mu"]),
           lambda K: _psd_kernel(K, scale))
    _judge(verify.integrate_kernel_flow,
           lambda: verify.integrate_kernel_flow(p["K"], p["Y"], p["lam"], p["mu"], 1.0 / max(p["mu"], p["lam"])),
           lambda trajectory: [_psd_kernel(K) for K in trajectory.kernels])


@SLOW_SETTINGS
@given(problems(max_n=5), st.integers(1, 5))
def test_feature_flows(p, m):
    Phi0 = np.random.default_rng(m).standard_normal((m, p["n"])) * np.sqrt(max(np.abs(p["K"]).max(), 1e-300))

    def ok(state):
        _psd_kernel(state.kernel(), np.abs(Phi0).max() ** 2 * Phi0.size)
        assert state.rank <= p["C"]

    _judge(verify.feature_steady_state, lambda: verify.feature_steady_state(Phi0, p["Y"], p["lam"], p["mu"]), ok)


@SLOW_SETTINGS
@given(st.integers(2, 6), scales(), scales(), scales(), st.sampled_from(["path", "complete", "empty"]))
def test_ssl_steady_state(n, mu, beta, eps, graph):
    A = {"path": np.diag(np.ones(n - 1), 1), "complete": np.ones((n, n)) - np.eye(n), "empty": np.zeros((n, n))}[graph]
    A = A + A.T if graph == "path" else A
    L = np.diag(A.sum(1)) - A
    scale = max(eps, beta / (np.linalg.norm(L, 2) + mu))  # the problem's own scale (ssl_steady_state's docstring)
    _judge(verify.ssl_steady_state, lambda: verify.ssl_steady_state(L, mu, beta, eps), lambda K: _psd_kernel(K, scale))


@pytest.mark.parametrize("bad, match", [
    (dict(K=np.full((3, 3), np.nan)), "K"), (dict(K=np.ones((3, 2))), "K"), (dict(Y=np.ones((2, 4))), "Y"),
    (dict(lam=0.0), "lam"), (dict(lam=np.inf), "lam"), (dict(mu=-1.0), "mu"), (dict(Y=np.ones((2, 3)) * 1j), "Y"),
])
def test_the_judge_itself_accepts_clear_errors_and_rejects_vague_ones(bad, match):
    """A negative control for ``_judge``: clear errors pass it; a vague one, or a NaN result, fails it."""
    args = dict(K=np.eye(3), Y=np.ones((2, 3)), lam=0.3, mu=0.1) | bad
    _judge(verify.kernel_ode_rhs, lambda: verify.kernel_ode_rhs(**args), _finite)

    def vague():
        raise ValueError("something went wrong")

    with pytest.raises(AssertionError, match="names no argument"):
        _judge(verify.kernel_ode_rhs, vague, _finite)
    with pytest.raises(AssertionError, match="non-finite"):
        _judge(verify.kernel_ode_rhs, lambda: np.full((3, 3), np.nan), _finite)
    with pytest.raises(AssertionError, match="non-PSD"):
        _judge(verify.steady_state, lambda: -np.eye(3), _psd_kernel)
    with pytest.raises(ZeroDivisionError):
        _judge(verify.kernel_ode_rhs, lambda: 1 / 0, _finite)


# --- the worked extensions E1 (readout bias) and E2 (kernel penalty) -------------------------------------------

ALIASES.update({"nu": ("nu", "ν"), "rhs": ("rhs",), "params": ("lam", "mu", "nu", "λ", "μ", "ν")})


@FAST
@given(problems(), scales())
def test_extension_rhs_and_laws(p, nu):
    from verify.flows import extensions as ext

    def law_ok(law):
        _finite(law)
        assert np.all(law >= 0) and law.shape == (p["n"],)

    _judge(ext.bias_rhs, lambda: ext.bias_rhs(p["K"], p["Y"], p["lam"], p["mu"]), _finite)
    _judge(ext.penalty_rhs, lambda: ext.penalty_rhs(p["K"], p["Y"], p["lam"], p["mu"], nu), _finite)
    _judge(ext.bias_law_spectrum, lambda: ext.bias_law_spectrum(p["Y"], p["lam"], p["mu"]), law_ok)
    _judge(ext.penalty_law_spectrum, lambda: ext.penalty_law_spectrum(p["Y"], p["lam"], p["mu"], nu), law_ok)


@SLOW_SETTINGS
@given(problems(max_n=4), st.sampled_from([1e-3, 1.0, 1e3]))
def test_extension_steady_states(p, nu):
    from verify.flows import extensions as ext

    scale = _problem_scale(p)
    _judge(ext.flow_steady_state, lambda: ext.flow_steady_state(ext.bias_rhs, p["K"], p["Y"], p["lam"], p["mu"],
                                                              max_time=1e3), lambda K: _psd_kernel(K, scale))
    _judge(ext.flow_steady_state, lambda: ext.flow_steady_state(ext.penalty_rhs, p["K"], p["Y"], p["lam"], p["mu"],
                                                              nu, max_time=1e3), lambda K: _psd_kernel(K, scale))


@SLOW_SETTINGS
@given(problems(max_n=4), st.sampled_from([1e-3, 1.0, 1e3]))
def test_derived_model_rhs_kkt_and_steady_state(p, nu):
    """A model derived by theory.derive_model (E2's objective, certified convex in K): its generated rhs, its KKT
    certificate and its certified continuation, at every scale."""
    import theory
    from verify.flows import model_flow as mf

    model = theory.derive_model("0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi) + nu/4*fro2(Phi.T@Phi)",
                                declare={"nu": "positive"})
    values = dict(lam=p["lam"], mu=p["mu"], nu=nu)
    scale = _problem_scale(p)

    def certificate_ok(c):  # a measure beyond float64 reads ±∞ (never NaN), and cannot pass
        assert not np.isnan(c.stationarity) and not np.isnan(c.dual_gap) and isinstance(c.passed, bool)
        assert not c.passed or (np.isfinite(c.stationarity) and np.isfinite(c.dual_gap))

    _judge(mf.model_rhs(model), lambda: mf.model_rhs(model)(p["K"], p["Y"], **values), _finite)
    _judge(mf.model_kkt, lambda: mf.model_kkt(model, p["K"], p["Y"], **values), certificate_ok)
    _judge(mf.model_steady_state, lambda: mf.model_steady_state(model, p["K"], p["Y"], max_time=1e3, **values),
           lambda K: _psd_kernel(K, scale))
