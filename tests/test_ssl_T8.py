"""T8 (symbolic part): the derived SSL filter law against the reference, and a certificate that must fail."""
import random

import sympy as sp

from theory import notation as nt
from theory.ssl import GRADIENT, L, SSLFilter, beta, ell, eps, ssl_filter

LAW = ssl_filter()


def test_T8_filter_law_equals_the_reference():
    """THEORY.md T8: κ_j = (β/(ℓ_j + μ) − ε)₊, compared after the derivation."""
    assert sp.simplify(LAW.kappa_star - (beta / (ell + nt.mu) - eps)) == 0
    assert sp.simplify(LAW.mode_rhs - (-2 * nt.kappa * (ell + nt.mu - beta / (nt.kappa + eps)))) == 0
    assert LAW.threshold == (beta > eps * (ell + nt.mu))


def test_T8_epsilon_to_zero_gives_the_low_pass_filter():
    assert sp.limit(LAW.kappa_star, eps, 0) == beta / (ell + nt.mu)


def test_T8_gradient_certificate_rejects_a_wrong_gradient(monkeypatch):
    """Negative control: the directional-derivative certificate fails for ∇E without the log-det term."""
    import theory.ssl as module

    monkeypatch.setattr(module, "GRADIENT", L + nt.mu * nt.I_n)
    assert not SSLFilter._certify_gradient(random.Random(0)).passed
    monkeypatch.setattr(module, "GRADIENT", GRADIENT)
    assert SSLFilter._certify_gradient(random.Random(0)).passed
