"""Mutation-killing tests for verify/flows/ssl_flow.py (T8; benchmarks/mutation.py, group ssl).

The filter law κ∞(ℓ) = (β/(ℓ + μ) − ε)₊ on the spectrum of a path-graph Laplacian against a
hand-written NumPy evaluation, the refusals (non-PSD start, isolated vertex), and the seeded
reproducibility of the spectral contrastive embedding.
"""
import numpy as np
import pytest

from verify.flows.ssl_flow import (
    normalised_adjacency,
    spectral_contrastive_embedding,
    ssl_filter_spectrum,
    ssl_steady_state,
)


def _path_laplacian(n):
    A = np.diag(np.ones(n - 1), 1)
    A = A + A.T
    return np.diag(A.sum(axis=1)) - A, A


@pytest.mark.parametrize("mu, beta, eps", [(0.5, 1.0, 0.3), (0.1, 0.2, 0.5), (1.0, 0.0, 0.1)])
def test_T8_filter_spectrum_is_the_law_on_the_laplacian_spectrum(mu, beta, eps):
    L, _ = _path_laplacian(5)
    ells = np.clip(np.linalg.eigvalsh(L), 0.0, None)
    np.testing.assert_allclose(ssl_filter_spectrum(L, mu, beta, eps), np.maximum(beta / (ells + mu) - eps, 0.0),
                               rtol=1e-12, atol=1e-15)


def test_T8_filter_spectrum_names_its_arguments():
    L, _ = _path_laplacian(4)
    with pytest.raises(ValueError, match="^mu must be a finite number > 0"):
        ssl_filter_spectrum(L, 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^beta must be a finite number >= 0"):
        ssl_filter_spectrum(L, 1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="^eps must be a finite number > 0"):
        ssl_filter_spectrum(L, 1.0, 1.0, 0.0)


def test_T8_steady_state_refuses_a_start_that_is_not_psd():
    L, _ = _path_laplacian(3)
    with pytest.raises(ValueError, match="^K0 must be positive semidefinite"):
        ssl_steady_state(L, 0.5, 1.0, 0.3, K0=np.diag([1.0, 1.0, -1.0]))


def test_normalised_adjacency_refuses_an_isolated_vertex():
    A = np.zeros((3, 3))
    A[0, 1] = A[1, 0] = 1.0
    with pytest.raises(ValueError, match=r"^A has an isolated vertex \(a zero row\)"):
        normalised_adjacency(A)


def test_spectral_contrastive_embedding_is_reproducible_for_a_seed():
    _, A = _path_laplacian(6)
    first = spectral_contrastive_embedding(A, 2, seed=3)
    np.testing.assert_array_equal(first, spectral_contrastive_embedding(A, 2, seed=3))
    assert not np.array_equal(first, spectral_contrastive_embedding(A, 2, seed=4))
