"""Mutation-killing tests for verify/flows/noise.py (T7; benchmarks/mutation.py, group noise).

The network's SGD noise of one minibatch is ξ = WᵀG·diag(c) (T7's noise structure), a full batch
has no noise (zero covariance and zero standard error), and a misshapen readout is named.
"""
import numpy as np
import pytest

from verify.claims.t7_noise import noise_problem
from verify.core.loss_numeric import numeric_loss
from verify.experiments.network_noise import network_feature_noise, network_monte_carlo_feature_noise_covariance
from verify.experiments.networks import UFM
from verify.flows.noise import batch_weights, noise_factor


def test_T7_network_feature_noise_of_one_minibatch_is_WtG_diag_c():
    rng = np.random.default_rng(3)
    loss, Phi, W, Y = noise_problem(rng, "squared", 2, 7, 5)
    model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
    G = numeric_loss(loss)[1](W @ Phi, Y)
    for batch in (np.array([0, 3, 5]), np.array([2, 2, 6])):  # without and with a repeated index
        xi = network_feature_noise(model, loss, Y, batch)
        expected = (W.T @ G) * batch_weights(7, batch)[None, :]
        np.testing.assert_allclose(xi, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


def test_T7_full_batch_has_no_noise_and_no_standard_error():
    rng = np.random.default_rng(4)
    loss, Phi, W, Y = noise_problem(rng, "squared", 2, 6, 4)
    model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
    mean, stderr = network_monte_carlo_feature_noise_covariance(model, loss, Y, 6, 3, rng)
    assert np.abs(mean).max() < 1e-20 and np.abs(stderr).max() < 1e-10


def test_T7_noise_factor_names_a_misshapen_readout():
    rng = np.random.default_rng(5)
    loss, Phi, W, Y = noise_problem(rng, "squared", 2, 6, 4)
    with pytest.raises(ValueError, match="^W must have 4 columns"):
        noise_factor(loss, Phi, W[:, :3], Y, 2)


def test_T7_misshapen_targets_and_two_samples():
    rng = np.random.default_rng(6)
    loss, Phi, W, Y = noise_problem(rng, "squared", 2, 6, 4)
    with pytest.raises(ValueError, match="^Y must have 2 rows"):
        noise_factor(loss, Phi, W, np.vstack([Y, Y[:1]]), 2)
    model = UFM(Phi=Phi, W=W, lam=0.1, mu=0.1)
    mean, stderr = network_monte_carlo_feature_noise_covariance(model, loss, Y, 3, 2, rng)
    assert mean.shape == stderr.shape == (4, 4)
    with pytest.raises(ValueError, match="samples must be an int >= 2"):
        network_monte_carlo_feature_noise_covariance(model, loss, Y, 3, 1, rng)
