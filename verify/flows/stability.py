"""T6 — which steady states are stable: the full Jacobian at the commuting steady states.

The commuting steady states are the 2^r kernels K = V diag(κ) Vᵀ with κ_i ∈ {0, κ*_i} on the
r fillable modes (s_i > λμ) and κ_i = 0 elsewhere (V: eigenvectors of S = YᵀY). Each is
classified by the eigenvalues of the Jacobian of the *full* matrix ODE in symmetric coordinates
(n(n+1)/2 of them, :func:`verify.flows.kernel_ode.kernel_ode_jacobian`): stable when every real part
is below −TOL.stability·ρ, unstable when one is above +TOL.stability·ρ (ρ the spectral radius).
The same eigenvalues are predicted in closed form by the pair rates ρ_ij of
``theory.t6_stability`` — an independent check of both.

>>> import numpy as np
>>> Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
>>> [s.filled for s in commuting_steady_states(Y, lam=0.5, mu=0.1)]
[(True, True), (True, False), (False, True), (False, False)]
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from theory import notation as nt
from theory.t6_stability import derive_linearisation, kappa_i, kappa_j, s_i, s_j
from verify.core import validation as v
from verify.core.tolerances import TOL
from verify.flows.kernel_ode import kernel_ode_jacobian, validate_problem
from verify.flows.water_filling import mode_value


@dataclass(frozen=True)
class CommutingSteadyState:
    """A commuting steady state: which fillable modes are filled, its eigenvalues and kernel."""

    filled: tuple[bool, ...]
    kappas: np.ndarray
    labels: np.ndarray
    kernel: np.ndarray

    @property
    def water_filled(self) -> bool:
        return all(self.filled)


def label_eigenbasis(Y) -> tuple[np.ndarray, np.ndarray]:
    """(s, V): eigenvalues of S = YᵀY (length n, descending) and an orthonormal eigenbasis (columns of V)."""
    Y = v.labels("Y", Y)
    _, sigma, Vt = np.linalg.svd(Y, full_matrices=True)
    s = np.zeros(Y.shape[1])
    s[: sigma.size] = sigma**2
    return s, Vt.T


def commuting_steady_states(Y, lam, mu) -> list[CommutingSteadyState]:
    """All 2^r commuting steady states, water-filled first (filled patterns in lexicographic order, True first)."""
    lam, mu = v.positive("lam", lam), v.positive("mu", mu)
    s, V = label_eigenbasis(Y)
    star = mode_value(s, lam, mu)
    fillable = np.flatnonzero(star > 0)
    states = []
    for pattern in itertools.product((True, False), repeat=fillable.size):
        kappas = np.zeros_like(s)
        kappas[fillable[list(pattern)]] = star[fillable[list(pattern)]]
        states.append(CommutingSteadyState(tuple(pattern), kappas, s, (V * kappas) @ V.T))
    return states


@lru_cache(maxsize=None)
def _rates():
    law = derive_linearisation()
    pair = sp.lambdify((kappa_i, kappa_j, s_i, s_j, nt.lam, nt.mu), law.pair_rate, modules="numpy")
    diagonal = sp.lambdify((nt.kappa, nt.s, nt.lam, nt.mu), law.diagonal_rate, modules="numpy")
    return pair, diagonal


def predicted_linearisation_spectrum(kappas, s, lam, mu) -> np.ndarray:
    """The n(n+1)/2 rates ρ_ij (i ≤ j) of the linearisation at a commuting point, sorted descending."""
    pair, diagonal = _rates()
    kappas, s = np.asarray(kappas, float), np.asarray(s, float)
    i, j = np.triu_indices(kappas.size, 1)
    off = pair(kappas[i], kappas[j], s[i], s[j], lam, mu) * np.ones(i.size)
    diag = diagonal(kappas, s, lam, mu) * np.ones(kappas.size)
    return np.sort(np.concatenate([diag, off]))[::-1]


@dataclass(frozen=True)
class Stability:
    """Eigenvalues of the full Jacobian at a point and the resulting classification."""

    eigenvalues: np.ndarray
    max_real: float
    classification: str  # "stable", "unstable" or "undecided"


def linear_stability(K, Y, lam, mu) -> Stability:
    """Classify K by the eigenvalues of the full Jacobian (symmetric coordinates) of the kernel ODE.

    stable: max Re λ < −TOL.stability·ρ; unstable: max Re λ > +TOL.stability·ρ; else undecided
    (ρ = spectral radius). Meant for steady states; n(n+1)/2 evaluations of the generated rhs.
    """
    K, Y, lam, mu = validate_problem(K, Y, lam, mu)
    eig = np.linalg.eigvals(kernel_ode_jacobian(K, Y, lam, mu))
    eig = eig[np.argsort(-eig.real)]
    top = float(eig[0].real)
    margin = TOL.stability * max(np.abs(eig).max(), np.finfo(float).tiny)
    word = "stable" if top < -margin else ("unstable" if top > margin else "undecided")
    return Stability(eig, top, word)
