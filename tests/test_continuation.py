"""steady_state's default method: pseudo-transient continuation in the labels' span, certified by KKT in full.

- a robustness sweep (seeds × λ, μ from 1e-3 to 1e2 × one-hot, real, rank-deficient and near-threshold
  labels, and K∞ = 0): every case returns a state whose KKT certificate passed and whose spectrum is the
  water-filling law, or raises a clear error — none returns an uncertified state;
- the reduced Jacobian assembled in one pass equals the generated Jacobian-vector product column by column,
  and the rightmost eigenvalue it reports equals the dense complex-step Jacobian's;
- the trajectory method ("flow", the previous default) ends at the same kernel; starts without a fillable
  direction are left along D's top eigenvector, as the flow leaves an unstable state.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from verify import ConvergenceError, kernel_ode_jacobian, steady_state, water_filling_spectrum
from verify.flows.continuation import ReducedProblem, label_basis
from verify.truth import instances

LAMS = (1e-3, 1e-1, 1e1, 1e2)
MUS = (1e-3, 1e-1, 1e2)
KINDS = ("one-hot", "real", "rank-deficient", "near-threshold", "nothing-fills")


def labels(kind, rng, n, lam, mu):
    if kind == "one-hot":
        return instances.one_hot_labels(rng, n, 3)
    if kind == "real":
        return instances.real_labels(rng, n, 3)
    if kind == "rank-deficient":  # 4 outputs, rank 2
        Y = instances.real_labels(rng, n, 2)
        return np.vstack([Y, Y[:1] + Y[1:], 2 * Y[1:]])
    ratios = {"near-threshold": [1.0 + 1e-3, 4.0], "nothing-fills": [0.2, 0.5]}[kind]
    return instances.labels_with_spectrum(rng, n, np.sqrt(lam * mu * np.array(ratios)))


SWEEP = list(itertools.product(range(1), LAMS, MUS, KINDS))


@pytest.mark.parametrize("seed, lam, mu, kind", SWEEP, ids=[f"{k}-lam{la:g}-mu{m:g}" for _, la, m, k in SWEEP])
def test_every_case_is_certified_and_water_filled_or_a_clear_error(seed, lam, mu, kind):
    rng = np.random.default_rng([seed, int(np.log10(lam)) + 5, int(np.log10(mu)) + 5, KINDS.index(kind)])
    n = 14
    Y = labels(kind, rng, n, lam, mu)
    K0 = instances.generic_kernel(rng, n) * lam
    try:
        info = steady_state(K0, Y, lam, mu, return_info=True)
    except (ConvergenceError, ValueError) as exc:  # a clear refusal is allowed, never a silent wrong answer
        message = str(exc)
        assert "\n" not in message and ("mu" in message or "steady_state" in message), message
        return
    assert info.method == "continuation" and info.certificate.passed, info.certificate
    law = water_filling_spectrum(Y, lam, mu)
    spectrum = np.linalg.eigvalsh(info.kernel)[::-1]
    scale = max(law.max(), np.linalg.norm(K0))  # the problem's scale: K∞ = 0 ends at rounding of K0's
    tolerance = 1e-6 if kind == "near-threshold" else 1e-8  # a mode at s = 1.001λμ has κ∞ ≈ 5e-4λ, slow to pin
    assert np.abs(spectrum - law).max() <= tolerance * scale, (spectrum[:4], law[:4])
    if kind == "nothing-fills":
        assert np.linalg.norm(info.kernel) <= 1e-9 * np.linalg.norm(K0)


def test_the_sweep_has_at_least_sixty_cases():
    assert len(SWEEP) >= 60


@pytest.mark.parametrize("p, C", [(1, 2), (3, 2), (4, 3), (6, 3)])  # C = 2, 3: derivations other tests share
def test_the_one_pass_jacobian_is_the_generated_jvp(p, C):
    rng = np.random.default_rng(p + C)
    Yp, A = rng.standard_normal((C, p)), rng.standard_normal((p, p))
    k = A @ A.T
    reduced = ReducedProblem(Yp, 0.07)
    fast, reference = reduced.jacobian(k), reduced.jacobian_by_generated_code(k)
    assert np.abs(fast - reference).max() <= 1e-13 * np.abs(reference).max()
    # the comparison can fail: the Jacobian of a flow with half the decay is told apart
    assert np.abs(ReducedProblem(Yp, 0.035).jacobian(k) - reference).max() > 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_the_reported_rightmost_eigenvalue_is_the_dense_jacobians(seed):
    rng = np.random.default_rng(seed)
    n = 7
    Y = instances.real_labels(rng, n, 2)
    lam, mu = 0.3, 0.05
    info = steady_state(instances.generic_kernel(rng, n), Y, lam, mu, return_info=True)
    dense = np.linalg.eigvals(kernel_ode_jacobian(info.kernel, Y, lam, mu)).real.max()
    assert info.max_real_eigenvalue < 0
    assert abs(info.max_real_eigenvalue - dense) <= 1e-8 * abs(dense)


@pytest.mark.parametrize("seed", range(4))
def test_continuation_and_the_trajectory_end_at_the_same_kernel(seed):
    rng = np.random.default_rng(10 + seed)
    n = 10
    Y = instances.one_hot_labels(rng, n, 3) if seed % 2 else instances.real_labels(rng, n, 2)
    K0 = instances.generic_kernel(rng, n)
    lam, mu = instances.log_uniform(rng, 0.05, 1.0), instances.log_uniform(rng, 0.02, 0.3)
    ours = steady_state(K0, Y, lam, mu)
    flow = steady_state(K0, Y, lam, mu, method="flow")
    assert np.linalg.norm(ours - flow) <= 1e-8 * np.linalg.norm(flow)


def test_starts_without_a_fillable_direction_are_left_along_the_growing_one():
    rng = np.random.default_rng(3)
    n = 8
    Y = instances.labels_with_spectrum(rng, n, np.array([2.0, 1.0]))
    lam, mu = 0.5, 0.1
    law = water_filling_spectrum(Y, lam, mu)
    P = label_basis(Y)
    orthogonal = np.eye(n) - P @ P.T  # K0 with no component along either label direction
    for K0 in (np.zeros((n, n)), orthogonal):
        info = steady_state(K0, Y, lam, mu, return_info=True)
        assert info.certificate.passed
        assert np.allclose(np.linalg.eigvalsh(info.kernel)[::-1], law, rtol=1e-8, atol=1e-10)


def test_the_trajectory_limit_is_asked_of_the_flow_not_the_continuation():
    Y = np.array([[1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="method"):
        steady_state(np.eye(3), Y, 0.5, 0.1, method="continuation", escape_unstable=False)
    saddle = steady_state(np.diag([0.0, 0.0, 1.0]), Y, 0.5, 0.1, escape_unstable=False, return_info=True)
    assert saddle.method != "continuation" and not saddle.certificate.passed  # a stationary state, not the minimiser


def test_no_decay_has_no_steady_state():
    with pytest.raises(ConvergenceError, match="mu = 0"):
        steady_state(np.eye(3), np.array([[1.0, 0.0, 1.0]]), 0.5, 0.0)
