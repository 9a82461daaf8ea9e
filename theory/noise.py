"""T7 — SGD noise: exactly which covariance is low rank, derived from the sampling scheme.

Minibatch SGD on the features estimates the data gradient Σ_i Wᵀg_i e_iᵀ = WᵀG by (n/b)Σ_{i∈B} Wᵀg_i e_iᵀ.
The noise is ξ = WᵀG·diag(c) with sampling weights c_i = (n/b)·N_i − 1 (N_i = how often sample i is
drawn), E[c] = 0. Its covariances:

- sample weights: Σ_c = E[c cᵀ], derived here from the inclusion probabilities of the scheme
  (without replacement: P(i ∈ B) = b/n, P(i, j ∈ B) = b(b−1)/(n(n−1)); with replacement: multinomial
  counts) and certified by enumerating every minibatch for small n, b. Both are multiples of the
  centring projector: Σ_c = κ·(I − 11ᵀ/n), κ = n(n−b)/(b(n−1)) without, n/b with replacement.
- features (m × m): E[ξξᵀ] = Σ_i E[c_i²]·Wᵀg_i g_iᵀW = κ(1 − 1/n)·WᵀGGᵀW (ξξᵀ = WᵀG diag(c)² GᵀW,
  so only the diagonal of Σ_c enters). Its range lies in range Wᵀ: rank ≤ rank G ≤ C for any loss
  and any parameters, whatever the width m; ≤ C − 1 for softmax cross-entropy (1ᵀG = 0). (The
  covariance of vec ξ over all mn feature entries is NOT rank ≤ C — it can reach rank n — but every
  column of ξ lies in the C-dimensional range Wᵀ: the noise moves features only inside it.)
- each kernel increment δK = ξᵀΦ + Φᵀξ (n × n) has rank ≤ 2 rank ξ ≤ 2C.

>>> noise = derive_noise()
>>> noise.kappa_without_replacement
-n*(b - n)/(b*(n - 1))
>>> noise.certified
True
"""
from __future__ import annotations

import itertools
import random
from functools import lru_cache

import sympy as sp

from theory.certify import Certificate, Derivation, Step, certify_values, rational_matrix

n_s, b_s = sp.symbols("n b", integer=True, positive=True)


def enumerate_weight_covariance(n: int, b: int, replacement: bool) -> sp.Matrix:
    """E[c cᵀ] by listing every minibatch (equally likely subsets, or ordered draws with replacement)."""
    draws = (itertools.combinations(range(n), b) if not replacement else itertools.product(range(n), repeat=b))
    draws = list(draws)
    total = sp.zeros(n, n)
    for batch in draws:
        counts = [batch.count(i) for i in range(n)]
        c = sp.Matrix([sp.Rational(n, b) * k - 1 for k in counts])
        total += c * c.T
    return total / len(draws)


class NoiseStructure(Derivation):
    claim = "T7"

    def __init__(self, seed: int = 0):
        n, b = n_s, b_s
        # without replacement: inclusion probabilities from counting subsets
        p_one = sp.simplify(sp.binomial(n - 1, b - 1) / sp.binomial(n, b))
        p_two = sp.simplify(sp.binomial(n - 2, b - 2) / sp.binomial(n, b))
        diagonal = sp.factor(sp.simplify((n / b) ** 2 * p_one - 2 * (n / b) * p_one + 1))
        off = sp.factor(sp.simplify((n / b) ** 2 * p_two - 2 * (n / b) * p_one + 1))
        # Σ_c = κ(I − 11ᵀ/n): κ(1 − 1/n) on the diagonal, −κ/n off it
        kappa = sp.factor(sp.simplify(-off * n))
        self.kappa_without_replacement = kappa
        consistent = sp.simplify(diagonal - kappa * (1 - 1 / n)) == 0
        # with replacement: counts are multinomial(b, 1/n): Cov = b(δ_ij/n − 1/n²)
        kappa_w = sp.simplify((n / b) ** 2 * b / n)
        self.kappa_with_replacement = kappa_w
        steps = [
            Step("T7", "sampling weights without replacement",
                 "P(i∈B) = b/n, P(i,j∈B) = b(b−1)/(n(n−1)) ⇒ Σ_c = κ(I − 11ᵀ/n), κ = n(n−b)/(b(n−1))",
                 sp.Symbol("kappa"), kappa, self._certify_weights(kappa, False, consistent)),
            Step("T7", "sampling weights with replacement", "multinomial counts ⇒ Σ_c = (n/b)(I − 11ᵀ/n)",
                 sp.Symbol("kappa"), kappa_w, self._certify_weights(kappa_w, True, True)),
        ]
        rng = random.Random(seed)
        self.second_moment_scale = sp.factor(kappa * (1 - 1 / n))
        steps.append(Step("T7", "feature noise covariance",
                          "E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW (m × m): range ⊆ range Wᵀ, rank ≤ rank G ≤ C",
                          sp.Symbol("E[xi xi^T]"), self.second_moment_scale * sp.Symbol("W^T G G^T W"),
                          self._certify_feature_covariance(rng)))
        steps.append(Step("T7", "kernel increment", "δK = ξᵀΦ + Φᵀξ has rank ≤ 2·rank ξ ≤ 2C",
                          sp.Symbol("rank dK"), sp.Symbol("<= 2C"), self._certify_increment_rank(rng)))
        self.steps = tuple(steps)

    def _certify_weights(self, kappa, replacement: bool, consistent: bool) -> Certificate:
        pairs = []
        for n, b in ((4, 2), (5, 3), (6, 1), (5, 5)):
            if replacement and n ** b > 5000:
                continue
            exact = enumerate_weight_covariance(n, b, replacement)
            k = kappa.subs({n_s: n, b_s: b})
            pairs.append((f"n={n}, b={b} (all minibatches)", exact, k * (sp.eye(n) - sp.ones(n, n) / n)))
        cert = certify_values("Σ_c = κ(I − 11ᵀ/n) against enumeration of every minibatch", pairs)
        if not consistent:
            return Certificate(cert.identity, cert.method, cert.trials, False, "diagonal and off-diagonal disagree")
        return cert

    def _certify_feature_covariance(self, rng) -> Certificate:
        """E[ξξᵀ] averaged over every minibatch (exact) equals the derived κ(1 − 1/n)WᵀGGᵀW; its exact rank ≤ C
        (≤ C − 1 when the columns of G sum to zero)."""
        pairs = []
        for n, m, C, b in ((6, 9, 2, 2), (5, 4, 3, 3)):
            W, G = rational_matrix(rng, C, m), rational_matrix(rng, C, n)
            for label, Gx in (("", G), (", 1ᵀG = 0", sp.Matrix.vstack(G[:-1, :], -sp.ones(1, C - 1) * G[:-1, :]))):
                A = W.T * Gx
                batches = list(itertools.combinations(range(n), b))
                moment = sp.zeros(m, m)
                for batch in batches:
                    c = [sp.Rational(n, b) * int(i in batch) - 1 for i in range(n)]
                    xi = A * sp.diag(*c)
                    moment += xi * xi.T
                moment /= len(batches)
                formula = self.second_moment_scale.subs({n_s: n, b_s: b}) * A * A.T
                pairs.append((f"n={n}, m={m}, C={C}, b={b}{label}: E[ξξᵀ] by enumeration", moment, formula))
                bound = C - 1 if label else C
                pairs.append((f"n={n}, m={m}, C={C}{label}: rank {formula.rank()} ≤ {bound}",
                              sp.Integer(int(formula.rank() <= bound)), 1))
        return certify_values("E[ξξᵀ] over every minibatch = κ(1 − 1/n)WᵀGGᵀW, exact ranks", pairs)

    @staticmethod
    def _certify_increment_rank(rng) -> Certificate:
        pairs = []
        for n, m, C, b in ((7, 8, 2, 3), (8, 9, 3, 2)):
            W, G, Phi = rational_matrix(rng, C, m), rational_matrix(rng, C, n), rational_matrix(rng, m, n)
            batch = rng.sample(range(n), b)
            c = sp.diag(*[sp.Rational(n, b) * int(i in batch) - 1 for i in range(n)])
            xi = W.T * G * c
            dK = xi.T * Phi + Phi.T * xi
            pairs.append((f"n={n}, m={m}, C={C}: rank δK = {dK.rank()} ≤ 2C", sp.Integer(int(dK.rank() <= 2 * C)), 1))
        return certify_values("exact rank of one kernel increment", pairs)


@lru_cache(maxsize=None)
def derive_noise() -> NoiseStructure:
    """T7 noise structure, certified and cached."""
    return NoiseStructure()
