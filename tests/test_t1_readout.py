"""T1 readout elimination: certified derivation steps, generated W* and min_W L against numerics."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import theory
from theory.gradients import exact_optimal_readout
from theory.t1_readout import ReadoutNotEliminable
from verify import instances
from verify.claims.t1_readout import compiled_readout
from verify.core.linalg import relative_error
from verify.core.tolerances import TOL
from verify.truth.finite_differences import optimal_readout, reduced_objective


def test_T1_matches_the_reference_forms():
    """docs/theory.md#t1: G* = −λY(K+λI)⁻¹ and min_W L = (λ/2)tr(Y(K+λI)⁻¹Yᵀ) + (μ/2)tr K (checked exactly)."""
    import sympy as sp

    from theory import notation as nt
    from theory.certify import certify_identity

    t1 = theory.derive_readout(theory.losses.squared(2))
    R = (nt.K + nt.lam * nt.I_n).I
    assert certify_identity("G*", t1.G_star, -nt.lam * nt.Y * R).passed
    reference = nt.lam / 2 * sp.Trace(nt.Y * R * nt.Y.T) + nt.mu / 2 * sp.Trace(nt.K)
    assert certify_identity("L*", t1.reduced_objective, reference).passed


def test_T1_refuses_a_loss_with_nonaffine_gradient():
    with pytest.raises(ReadoutNotEliminable, match="coupled flow"):
        theory.derive_readout(theory.losses.softmax_cross_entropy(3))


def test_T1_exact_readout_is_the_entrywise_solution():
    """The exact W* of the certificates solves ∂L/∂W = 0 (the equations, re-derived with SymPy)."""
    import random

    import sympy as sp

    from theory.certify import rational_matrix
    from theory.gradients import entrywise_gradient

    rng = random.Random(7)
    Phi, Y, W0 = rational_matrix(rng, 3, 4), rational_matrix(rng, 2, 4), rational_matrix(rng, 2, 3)
    loss = theory.losses.squared(2)
    W = exact_optimal_readout(loss, Phi, Y, sp.Rational(1, 3))
    assert entrywise_gradient(loss, "W", W, Phi, Y, sp.Rational(1, 3), 1) == sp.zeros(2, 3)
    assert entrywise_gradient(loss, "W", W0, Phi, Y, sp.Rational(1, 3), 1) != sp.zeros(2, 3)  # control


@given(n=st.integers(2, 100), C=st.integers(1, 5), width=st.floats(0.2, 2.0), lam=st.floats(1e-2, 3.0),
       mu=st.floats(1e-2, 1.0), one_hot=st.booleans(), seed=st.integers(0, 2**16))
def test_T1_generated_readout_matches_least_squares(n, C, width, lam, mu, one_hot, seed):
    C = min(C, n)
    rng = np.random.default_rng(seed)
    m = max(1, int(width * n))
    Phi = instances.features(rng, m, n)
    Y = instances.one_hot_labels(rng, n, C) if one_hot else instances.real_labels(rng, n, C)
    W_gen, G_gen, L_gen = compiled_readout(C)
    loss = theory.losses.squared(C)
    K = Phi.T @ Phi
    W_num = optimal_readout(loss, Phi, Y, lam)
    assert relative_error(W_gen(K, Phi, Y, lam), W_num) <= TOL.closed_form_vs_solver
    assert relative_error(G_gen(K, Y, lam), W_num @ Phi - Y) <= TOL.closed_form_vs_solver
    exact = reduced_objective(loss, Phi, Y, lam, mu)
    assert abs(L_gen(K, Y, lam, mu) - exact) <= TOL.closed_form_vs_solver * abs(exact)


def test_T1_negative_control_wrong_readout_is_rejected():
    rng = np.random.default_rng(0)
    Phi, Y = instances.features(rng, 5, 8), instances.one_hot_labels(rng, 8, 2)
    W_gen, _, _ = compiled_readout(2)
    wrong = W_gen(Phi.T @ Phi, Phi, Y, 2 * 0.3)  # readout for the wrong ridge
    assert relative_error(wrong, optimal_readout(theory.losses.squared(2), Phi, Y, 0.3)) > 1e-3
