"""The feature-space engine (verify.flows.feature_flow) against the kernel engine where both fit.

The reduction to the reachable row space is exact (T9's certified Woodbury/resolvent steps), so the two
engines must agree to integration accuracy; a basis that leaves out the labels' rows must not.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from verify import instances, integrate_kernel_flow, relative_error, steady_state
from verify.core.linalg import numerical_rank
from verify.flows.feature_flow import FeatureTrajectory, feature_steady_state, integrate_feature_flow, reachable_basis

AGREEMENT = 1e-8  # the bar for the two engines


def problem(seed, n, m, C):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) / np.sqrt(n), instances.one_hot_labels(rng, n, C)


@given(seed=st.integers(0, 2 ** 16), n=st.integers(8, 30), m=st.integers(1, 12), C=st.integers(1, 3))
def test_reachable_basis_is_orthonormal_and_holds_every_row(seed, n, m, C):
    Phi0, Y = problem(seed, n, m, C)
    V = reachable_basis(Phi0, Y)
    assert V.shape[1] <= min(n, m + C)
    assert np.allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-12)
    for rows in (Phi0, Y):
        assert relative_error(rows @ V @ V.T, rows) < 1e-12


@pytest.mark.parametrize("n, m", [(40, 6), (12, 20)])  # fewer features than samples, and more
def test_trajectory_matches_the_kernel_engine(n, m):
    Phi0, Y = problem(1, n, m, 3)
    times = np.linspace(0.0, 4.0, 5)
    features = integrate_feature_flow(Phi0, Y, 0.5, 0.1, times)
    # reference: the kernel engine at a tight tolerance (its default LSODA lands ~2e-8 from it on this instance)
    kernels = integrate_kernel_flow(Phi0.T @ Phi0, Y, 0.5, 0.1, times, method="DOP853", rtol=1e-12).kernels
    errors = [relative_error(features.features(k).T @ features.features(k), kernels[k]) for k in range(len(times))]
    assert max(errors) < AGREEMENT
    assert np.allclose(features.spectra()[-1][:min(m, n)], np.linalg.eigvalsh(kernels[-1])[::-1][:min(m, n)],
                       atol=1e-8 * np.abs(kernels[-1]).max())


def test_a_basis_without_the_label_rows_is_wrong():
    """Negative control: the rows of Y must be in the basis — dropping them changes the flow at O(1)."""
    Phi0, Y = problem(2, 40, 6, 3)
    V = np.linalg.qr(Phi0.T)[0]
    truth = integrate_kernel_flow(Phi0.T @ Phi0, Y, 0.5, 0.1, 3.0).kernels[-1]
    phi0 = Phi0 @ V
    k = integrate_kernel_flow(phi0.T @ phi0, Y @ V, 0.5, 0.1, 3.0).kernels[-1]
    assert relative_error(V @ k @ V.T, truth) > 1e-2


@pytest.mark.parametrize("C", [1, 3])
def test_steady_state_matches_the_kernel_engine_and_has_rank_at_most_C(C):
    Phi0, Y = problem(3, 50, 8, C)
    state = feature_steady_state(Phi0, Y, 0.5, 0.1)
    reference = steady_state(Phi0.T @ Phi0, Y, 0.5, 0.1)
    assert relative_error(state.kernel(), reference) < AGREEMENT
    factor = state.factor()
    assert factor.shape == (50, state.rank) and relative_error(factor @ factor.T, reference) < AGREEMENT
    assert state.rank <= C and numerical_rank(reference) <= C


@pytest.mark.parametrize("call, message", [
    (lambda: integrate_feature_flow(np.ones((3, 5)), np.ones((2, 4)), 0.5, 0.1, 1.0), "Y must"),
    (lambda: integrate_feature_flow(np.ones((3, 5)), np.ones((2, 5)), -1.0, 0.1, 1.0), "lam"),
    (lambda: feature_steady_state(np.ones((3, 5)), np.ones((2, 5)), 0.5, -0.1), "mu"),
    (lambda: integrate_feature_flow(np.full((3, 5), np.nan), np.ones((2, 5)), 0.5, 0.1, 1.0), "Phi0"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_trajectory_object_never_stores_full_features():
    Phi0, Y = problem(4, 30, 5, 2)
    trajectory = integrate_feature_flow(Phi0, Y, 0.5, 0.1, [0.0, 1.0])
    assert isinstance(trajectory, FeatureTrajectory)
    assert trajectory.coefficients.shape == (2, 5, trajectory.basis.shape[1])
    assert relative_error(trajectory.features(0), Phi0) < 1e-12
