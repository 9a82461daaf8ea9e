"""Mutation-killing tests for verify/flows/water_filling.py (T3; benchmarks/mutation.py, group water_filling).

The closed-form time t(κ; κ₀, s) of T3 is checked against an independent quadrature of
∫ dk / f(k) with f the generated mode right-hand side, and every refusal names what was wrong.
"""
import numpy as np
import pytest
from scipy.integrate import quad

from verify.flows.water_filling import label_spectrum, mode_rhs, mode_value, time_to_reach, water_filling_spectrum


@pytest.mark.parametrize("kappa, kappa0, s, lam, mu", [
    (0.5, 0.8, 4.0, 1.0, 1.0),     # above threshold, below κ* = 1: growing towards κ*, so t < 0 going down
    (3.0, 1.5, 4.0, 1.0, 1.0),     # above κ*, moving towards it from above
    (0.2, 1.0, 0.5, 1.0, 1.0),     # below threshold: decays
    (0.3, 0.1, 9.0, 0.5, 2.0),
])
def test_T3_time_to_reach_is_the_integral_of_one_over_the_mode_rhs(kappa, kappa0, s, lam, mu):
    expected, _ = quad(lambda k: 1.0 / float(mode_rhs(k, s, lam, mu)), kappa0, kappa, epsabs=1e-13, epsrel=1e-11)
    got = float(time_to_reach(kappa, kappa0, s, lam, mu))
    assert got == pytest.approx(expected, rel=1e-8)
    assert float(time_to_reach(kappa0, kappa0, s, lam, mu)) == pytest.approx(0.0, abs=1e-12)


def test_T3_time_to_reach_accepts_kappa0_equal_to_one():
    assert np.isfinite(float(time_to_reach(0.5, 1.0, 0.5, 1.0, 1.0)))


@pytest.mark.parametrize("kappa, kappa0", [(0.0, 1.0), (1.0, 0.0)])
def test_T3_time_to_reach_refuses_the_fixed_point_zero(kappa, kappa0):
    with pytest.raises(ValueError, match="^kappa and kappa0 must be > 0: κ = 0 is a fixed point"):
        time_to_reach(kappa, kappa0, 4.0, 1.0, 1.0)


def test_T3_time_to_reach_refuses_starting_on_the_fixed_point():
    """κ* = √(λs/μ) − λ = 1 exactly for s = 4, λ = μ = 1: κ₀ = κ* never moves."""
    with pytest.raises(ValueError, match="which the mode never crosses"):
        time_to_reach(2.0, 1.0, 4.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"strictly on the same side of the fixed point κ\* = √\(λs/μ\) − λ"):
        time_to_reach(0.5, 2.0, 4.0, 1.0, 1.0)


@pytest.mark.parametrize("args, name", [
    ((-1.0, 1.0, 4.0, 1.0, 1.0), "kappa must be >= 0"),
    ((1.0, -1.0, 4.0, 1.0, 1.0), "kappa0 must be >= 0"),
    ((1.0, 2.0, -4.0, 1.0, 1.0), "s must be >= 0"),
    ((1.0, 2.0, 4.0, 0.0, 1.0), "lam must be a finite number > 0"),
    ((1.0, 2.0, 4.0, 1.0, 0.0), "mu must be a finite number > 0"),
])
def test_T3_time_to_reach_errors_name_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        time_to_reach(*args)


@pytest.mark.parametrize("s", [[1.0, -1.0], [1.0, np.nan], [np.inf]])
def test_T3_mode_value_refuses_negative_or_nonfinite_eigenvalues(s):
    with pytest.raises(ValueError, match=r"^s must be finite and >= 0 \(eigenvalues of YᵀY\)$"):
        mode_value(s, 1.0, 1.0)


@pytest.mark.parametrize("lam, mu, name", [(0.0, 1.0, "lam"), (1.0, -1.0, "mu")])
def test_T3_mode_value_errors_name_the_argument(lam, mu, name):
    with pytest.raises(ValueError, match=f"^{name} must be a finite number > 0"):
        mode_value([1.0], lam, mu)


def test_T3_label_spectrum_and_water_filling_spectrum_errors_name_Y():
    with pytest.raises(ValueError, match="^Y contains NaN or inf"):
        label_spectrum(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"^Y must be C × n with C <= n"):
        water_filling_spectrum(np.ones((3, 2)), 1.0, 1.0)


def test_T3_mode_value_accepts_any_real_numbers():
    from fractions import Fraction

    np.testing.assert_allclose(mode_value([Fraction(4), 9], 1.0, 1.0), [1.0, 2.0])


def test_T3_time_to_reach_close_to_but_off_the_threshold():
    """s = λμ(1 + 1e-9): 1e-9 relative is far from the threshold for rtol = 1e-12 (no absolute tolerance)."""
    assert np.isfinite(float(time_to_reach(0.5, 0.3, 1.0 + 1e-9, 1.0, 1.0)))
