"""Mutation-killing tests for verify/core/linalg.py and verify/core/validation.py (benchmarks/mutation.py, group linalg).

Ranks (T4's rank floor and T5/T9's rank bounds rest on them) and the boundary checks, pinned at the
values where a changed comparison or a changed scale would show.
"""
import warnings

import numpy as np
import pytest

from verify.core import validation as v
from verify.core.linalg import (
    certified_rank,
    exact_rank,
    from_symmetric_coordinates,
    high_precision_rank,
    numerical_rank,
    rank_margin,
    relative_error,
)


def test_rank_margin_is_the_distance_in_factors_to_the_threshold():
    assert rank_margin(np.diag([1.0, 1e-6, 1e-9]), rtol=1e-8) == pytest.approx(10.0)
    assert rank_margin(np.diag([2.0, 2e-6]), rtol=1e-8) == pytest.approx(100.0)
    assert rank_margin(np.diag([1.0, 0.5, 1e-12]), rtol=1e-8) == pytest.approx(1e4)


def test_rank_margin_ignores_zero_singular_values_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rank_margin(np.diag([1.0, 0.0]), rtol=1e-8) == pytest.approx(1e8)


def test_rank_margin_of_the_zero_matrix_is_infinite():
    assert rank_margin(np.zeros((2, 2))) == float("inf")


def test_exact_rank_uses_the_exact_values():
    assert exact_rank(np.array([[1.0, 2.0], [3.0, 4.0]])) == 2
    assert exact_rank(np.array([[0.5, 0.25], [1.0, 0.5]])) == 1
    assert exact_rank(np.array([[0.5, 0.75], [1.0, 1.0]])) == 2


def test_high_precision_rank_names_the_matrix_in_errors():
    with pytest.raises(ValueError, match="M contains NaN"):
        high_precision_rank(np.array([[np.nan, 1.0]]))


def test_labels_may_be_square():
    assert v.labels("Y", np.eye(2)).shape == (2, 2)
    with pytest.raises(ValueError, match="C <= n"):
        v.labels("Y", np.ones((3, 2)))


def test_kernel_symmetry_error_reports_the_asymmetry():
    with pytest.raises(ValueError, match=r"max \|K − Kᵀ\| = 0.5"):
        v.kernel("K", np.array([[1.0, 0.5], [0.0, 1.0]]))


def test_kernel_psd_threshold_uses_the_symmetric_part():
    with pytest.raises(ValueError, match=r"smallest eigenvalue is -1.2e-08"):
        v.kernel("K", np.diag([1.0, -1.2e-8]), psd=True)
    assert v.kernel("K", np.diag([1.0, -0.8e-8]), psd=True).shape == (2, 2)


def test_finite_values_minimum_is_inclusive():
    assert v.finite_values("x", 0.0, minimum=0.0) == 0.0
    with pytest.raises(ValueError, match="x must be >= 0"):
        v.finite_values("x", -1e-300, minimum=0.0)


@pytest.mark.parametrize("value", [[], [[1.0, 2.0]]])
def test_times_refuses_empty_and_two_dimensional(value):
    with pytest.raises(ValueError, match="must be a finite time or 1-D array of times"):
        v.times("t", value)


def test_rank_helpers_at_their_edges():
    assert numerical_rank(np.zeros((3, 2))) == 0
    assert relative_error([np.nan, 1.0], [1.0, 1.0]) == float("inf")
    assert relative_error([1.0], [np.inf]) == float("inf")
    with pytest.raises(ValueError, match="^rtol must be a finite number > 0"):
        certified_rank(np.eye(2), rtol=-1.0)


def test_symmetric_coordinates_keep_complex_values():
    K = from_symmetric_coordinates(np.array([1 + 1j, 2.0, 3.0]), 2)
    assert K.dtype == np.complex128 and K[0, 0] == 1 + 1j and K[1, 0] == K[0, 1] == 2.0


def test_kernel_symmetry_tolerance_is_inclusive():
    K = np.array([[1.0, 1e-10], [0.0, 1.0]])
    assert v.kernel("K", K).shape == (2, 2)


def test_matrix_type_error_says_what_is_expected():
    with pytest.raises(TypeError, match="^M must be a real 2-D array, got str"):
        v.matrix("M", "abc")


def test_times_must_strictly_increase():
    with pytest.raises(ValueError, match="must be increasing"):
        v.times("t", [0.0, 1.0, 1.0])
