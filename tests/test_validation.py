"""Bad input at the public boundary: a clear ValueError/TypeError that names the argument.

Every public numeric function is listed once with its argument names; every kind of bad value is
listed once with the argument it corrupts. The tests cross the two lists: each function gets
every kind of bad value that applies to one of its arguments, and must reject it with an error
whose message names that argument (docs/conventions.md#bad-input).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import verify

N = 3
K_GOOD = np.eye(N) + 0.1  # symmetric positive definite
GOOD = {
    "K": K_GOOD,
    "K0": K_GOOD,
    "Y": np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]),  # C = 2 <= n = 3
    "lam": 0.5,
    "mu": 0.1,
    "t": 1.0,
    "M": np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 1.0]]),
    "kappa": 1.0,
    "kappa0": 0.5,
    "s": 2.0,
}

#: (name, public function, its positional argument names)
FUNCTIONS = [
    ("kernel_ode_rhs", verify.kernel_ode_rhs, ("K", "Y", "lam", "mu")),
    ("drive_operator", verify.drive_operator, ("K", "Y", "lam")),
    ("water_filling_spectrum", verify.water_filling_spectrum, ("Y", "lam", "mu")),
    ("integrate_kernel_flow", verify.integrate_kernel_flow, ("K0", "Y", "lam", "mu", "t")),
    ("steady_state", verify.steady_state, ("K0", "Y", "lam", "mu")),
    ("kernel_ode_jacobian", verify.kernel_ode_jacobian, ("K", "Y", "lam", "mu")),
    ("linear_stability", verify.linear_stability, ("K", "Y", "lam", "mu")),
    ("commuting_steady_states", verify.commuting_steady_states, ("Y", "lam", "mu")),
    ("numerical_rank", verify.numerical_rank, ("M",)),
    ("certified_rank", verify.certified_rank, ("M",)),
    ("time_to_reach", verify.time_to_reach, ("kappa", "kappa0", "s", "lam", "mu")),
]

#: functions whose law needs mu > 0 (no finite water level at mu = 0)
MU_POSITIVE = {"water_filling_spectrum", "commuting_steady_states", "time_to_reach"}


def _with(matrix, index, value):
    out = np.array(matrix, dtype=float)
    out[index] = value
    return out


def _kernel_cases(arg):
    return [
        ("not square", arg, np.ones((N, N + 1))),
        ("1-D", arg, np.ones(N)),
        ("NaN entry", arg, _with(K_GOOD, (0, 0), np.nan)),
        ("inf entry", arg, _with(K_GOOD, (1, 1), np.inf)),
        ("non-symmetric", arg, _with(K_GOOD, (0, 1), 0.7)),
        ("non-numeric", arg, "abc"),
    ]


#: (kind, argument, bad value)
BAD = [
    *_kernel_cases("K"),
    *_kernel_cases("K0"),
    ("not PSD", "K0", np.diag([1.0, -1.0, 1.0])),
    ("wrong number of columns", "Y", np.ones((1, N + 1))),
    ("C > n", "Y", np.ones((4, 3))),
    ("1-D", "Y", np.ones(N)),
    ("NaN entry", "Y", _with(GOOD["Y"], (0, 1), np.nan)),
    ("inf entry", "Y", _with(GOOD["Y"], (1, 2), -np.inf)),
    ("1-D", "M", np.ones(N)),
    ("NaN entry", "M", _with(GOOD["M"], (1, 1), np.nan)),
    ("inf entry", "M", _with(GOOD["M"], (0, 0), np.inf)),
    ("non-numeric", "M", "abc"),
    ("zero", "lam", 0.0),
    ("negative", "lam", -1.0),
    ("NaN", "lam", float("nan")),
    ("inf", "lam", float("inf")),
    ("string", "lam", "0.5"),
    ("None", "lam", None),
    ("negative", "mu", -0.1),
    ("NaN", "mu", float("nan")),
    ("string", "mu", "0.1"),
    ("NaN", "t", float("nan")),
    ("negative", "t", -1.0),
    ("decreasing", "t", np.array([0.0, 2.0, 1.0])),
    ("string", "t", "abc"),
    *[(kind, arg, value) for arg in ("kappa", "kappa0", "s")
      for kind, value in (("NaN", float("nan")), ("negative", -1.0), ("string", "abc"))],
]


def _applies(fname, params, kind, arg):
    if arg not in params:
        return False
    if kind == "wrong number of columns":  # only meaningful when a kernel fixes n
        return "K" in params or "K0" in params
    return True


CASES = [pytest.param(f, params, arg, value, id=f"{fname}-{arg}-{kind}")
         for fname, f, params in FUNCTIONS
         for kind, arg, value in BAD if _applies(fname, params, kind, arg)]
CASES += [pytest.param(f, params, "mu", 0.0, id=f"{fname}-mu-zero")
          for fname, f, params in FUNCTIONS if fname in MU_POSITIVE]


def _names(message: str, arg: str) -> bool:
    pattern = re.escape(arg)
    return re.search(rf"(?<!\w){pattern}(?!\w)", message) is not None


def _call(f, params, **override):
    return f(*(override.get(p, GOOD[p]) for p in params))


@pytest.mark.parametrize("f, params, arg, value", CASES)
def test_bad_input_raises_error_naming_the_argument(f, params, arg, value):
    expected = TypeError if isinstance(value, str) or value is None else (ValueError, TypeError)
    with pytest.raises(expected) as info:
        _call(f, params, **{arg: value})
    assert _names(str(info.value), arg), f"message does not name {arg!r}: {info.value}"


@pytest.mark.parametrize("f, params", [pytest.param(f, p, id=name) for name, f, p in FUNCTIONS])
def test_good_input_is_accepted(f, params):
    _call(f, params)


def test_rank_rtol_must_be_positive():
    for bad in (0.0, -1e-8, float("nan")):
        with pytest.raises(ValueError, match="rtol"):
            verify.numerical_rank(GOOD["M"], rtol=bad)
        with pytest.raises(ValueError, match="rtol"):
            verify.certified_rank(GOOD["M"], rtol=bad)


def test_complex_kernel_is_refused_not_truncated():
    with pytest.raises(TypeError, match=r"\bK\b"):
        verify.kernel_ode_rhs(K_GOOD + 1e-3j, GOOD["Y"], 0.5, 0.1)


def test_validation_accepts_numpy_and_integer_scalars():
    expected = verify.kernel_ode_rhs(K_GOOD, GOOD["Y"], 1.0, 0.1)
    got = verify.kernel_ode_rhs(K_GOOD.tolist(), GOOD["Y"].tolist(), np.int64(1), np.float64(0.1))
    assert verify.relative_error(got, expected) == 0.0
