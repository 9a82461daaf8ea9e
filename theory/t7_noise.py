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

from theory import notation as nt
from theory.certify import (
    AgainstTruth,
    AllOf,
    Derivation,
    ExactRank,
    Step,
    rational_matrix,
)
from theory.gradients import gradient_at, output_gradients, symbolic_matrix
from theory.losses import squared
from theory.t2_kernel_ode import kernel_velocity

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


#: the noise of one minibatch gradient in Φ (m × n) and the kernel increment it causes
xi = sp.MatrixSymbol("xi", nt.m, nt.n)
delta_K = sp.MatrixSymbol("dK", nt.n, nt.n)
#: the centring projector I − 11ᵀ/n, the shape of every weight covariance
CENTRING = sp.Identity(n_s) - sp.OneMatrix(n_s, n_s) / n_s


def per_sample_feature_gradients(loss, W, Phi, Y) -> list[sp.Matrix]:
    """[∂ℓ(Wφ_i, y_i)/∂Φ for each sample i] by scalar differentiation of the loss (m × n each)."""
    column = symbolic_matrix("x", Phi.shape[0], 1)
    out = []
    for i in range(Phi.shape[1]):
        L_i = loss.value(list(W * column), list(Y[:, i]))
        derivatives = gradient_at(L_i, list(column), dict(zip(column, Phi[:, i])))
        grad = sp.zeros(*Phi.shape)
        for r, d in enumerate(derivatives):
            grad[r, i] = d
        out.append(grad)
    return out


def minibatch_noise(per_sample: list, batch, n: int) -> sp.Matrix:
    """ξ = (n/b)·Σ_{i∈B} ∇ℓ_i − Σ_i ∇ℓ_i: the minibatch estimate of the data gradient minus the data gradient."""
    full = sum(per_sample, sp.zeros(*per_sample[0].shape))
    return sp.Rational(n, len(batch)) * sum((per_sample[i] for i in batch), sp.zeros(*full.shape)) - full


def noise_instance(rng: random.Random, dims, zero_sums: bool = False) -> dict:
    """Random rational W (C × m) and an independent G (C × n; columns summing to 0 if asked): the rank
    statements hold for any parameters and any loss."""
    n, m, C, b = (int(dims[k]) for k in (nt.n, nt.m, nt.C, b_s))
    G = rational_matrix(rng, C, n)
    if zero_sums:
        G = sp.ImmutableMatrix(sp.Matrix.vstack(G[:-1, :], -sp.ones(1, C - 1) * G[:-1, :]))
    return {nt.n: n, nt.m: m, nt.C: C, b_s: b, nt.W: rational_matrix(rng, C, m), nt.G: G}


class NoiseStructure(Derivation):
    """T7: the second moment of the SGD gradient noise (built by :func:`derive_noise`).

    Minibatches of b of n samples give sampling weights with covariance κ(I − 11ᵀ/n): ``kappa_without_replacement`` κ
    = n(n − b)/(b(n − 1)) and ``kappa_with_replacement`` κ = n/b. Then ``feature_second_moment`` E[ξξᵀ] =
    ``second_moment_scale``·WᵀGGᵀW with scale κ(1 − 1/n), of rank ≤ C at any width."""

    claim = "T7"

    def __init__(self, seed: int = 0):
        n, b = n_s, b_s
        # without replacement: inclusion probabilities from counting subsets
        p_one = sp.simplify(sp.binomial(n - 1, b - 1) / sp.binomial(n, b))
        p_two = sp.simplify(sp.binomial(n - 2, b - 2) / sp.binomial(n, b))
        off = sp.factor(sp.simplify((n / b) ** 2 * p_two - 2 * (n / b) * p_one + 1))
        # Σ_c = κ(I − 11ᵀ/n): −κ/n off the diagonal
        kappa = sp.factor(sp.simplify(-off * n))
        self.kappa_without_replacement = kappa
        # with replacement: counts are multinomial(b, 1/n): Cov = b(δ_ij/n − 1/n²)
        kappa_w = sp.simplify((n / b) ** 2 * b / n)
        self.kappa_with_replacement = kappa_w
        steps = [
            Step("T7", "sampling weights without replacement",
                 "P(i∈B) = b/n, P(i,j∈B) = b(b−1)/(n(n−1)) ⇒ Σ_c = κ(I − 11ᵀ/n), κ = n(n−b)/(b(n−1))",
                 sp.Symbol("kappa"), kappa, self._weights_check(False)),
            Step("T7", "sampling weights with replacement", "multinomial counts ⇒ Σ_c = (n/b)(I − 11ᵀ/n)",
                 sp.Symbol("kappa"), kappa_w, self._weights_check(True)),
        ]
        self.second_moment_scale = sp.factor(kappa * (1 - 1 / n))
        self.feature_second_moment = self.second_moment_scale * nt.W.T * nt.G * nt.G.T * nt.W
        zero = lambda rng, dims: noise_instance(rng, dims, zero_sums=True)  # noqa: E731
        steps.append(Step("T7", "feature noise covariance",
                          "E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW (m × m): range ⊆ range Wᵀ, rank ≤ rank G ≤ C (C − 1 when 1ᵀG = 0)",
                          sp.MatrixSymbol("E[xi xi^T]", nt.m, nt.m), self.feature_second_moment,
                          AllOf(AgainstTruth("E[ξξᵀ] averaged over every minibatch, ξ from per-sample gradients of "
                                             "the squared loss", self._enumerated_second_moment,
                                             lambda: self._sgd_instances(seed)),
                                ExactRank("rank E[ξξᵀ] ≤ C", lambda v: v[nt.C], sample=noise_instance, seed=seed + 1,
                                          sizes=({nt.n: 7, nt.m: 6, nt.C: 3, b_s: 2},)),
                                ExactRank("rank E[ξξᵀ] ≤ C − 1 when 1ᵀG = 0", lambda v: v[nt.C] - 1, sample=zero,
                                          seed=seed + 2, sizes=({nt.n: 7, nt.m: 6, nt.C: 3, b_s: 2},)))))
        steps.append(Step("T7", "kernel increment",
                          "δK = d/dη (Φ + ηξ)ᵀ(Φ + ηξ) at η = 0 = ξᵀΦ + Φᵀξ, rank ≤ 2·rank ξ ≤ 2C",
                          delta_K, xi.T * nt.Phi + nt.Phi.T * xi,
                          AllOf(AgainstTruth("δK = d/dη K(Φ + ηξ) at 0, ξ an actual minibatch noise",
                                             lambda v: kernel_velocity(v[nt.Phi], v[xi]),
                                             lambda: self._increment_instances(seed + 3, ((5, 4, 2, 2),))),
                                ExactRank("rank δK ≤ 2C", lambda v: 2 * v[nt.C], sizes=(),
                                          instances=lambda: self._increment_instances(seed + 4, ((7, 8, 2, 3),
                                                                                               (8, 9, 3, 2)))))))
        self.steps = tuple(steps)

    @staticmethod
    def _weights_check(replacement: bool) -> AgainstTruth:
        cases = [(f"n={n}, b={b} (all minibatches)", {n_s: n, b_s: b}) for n, b in ((4, 2), (5, 3), (6, 1), (5, 5))
                 if not (replacement and n ** b > 5000)]
        return AgainstTruth("Σ_c = κ(I − 11ᵀ/n) against enumeration of every minibatch",
                            lambda v: enumerate_weight_covariance(v[n_s], v[b_s], replacement), lambda: cases,
                            side=lambda lhs, rhs: rhs * CENTRING)

    @staticmethod
    def _sgd_instances(seed: int) -> list:
        """Random rational Φ, W, Y (squared loss) with G its output gradient and every per-sample gradient."""
        rng = random.Random(seed)
        out = []
        for n, m, C, b in ((5, 6, 2, 2), (4, 5, 3, 3)):
            loss = squared(C)
            W, Phi, Y = rational_matrix(rng, C, m), rational_matrix(rng, m, n), rational_matrix(rng, C, n)
            values = {nt.n: n, nt.m: m, nt.C: C, b_s: b, nt.W: W, nt.Phi: Phi, nt.Y: Y,
                      nt.G: output_gradients(loss, W * Phi, Y)}
            out.append((f"n={n}, m={m}, C={C}, b={b}", values))
        return out

    @staticmethod
    def _enumerated_second_moment(values) -> sp.Matrix:
        n, b = values[nt.n], values[b_s]
        grads = per_sample_feature_gradients(squared(values[nt.C]), values[nt.W], values[nt.Phi], values[nt.Y])
        batches = list(itertools.combinations(range(n), b))
        total = sp.zeros(values[nt.m], values[nt.m])
        for batch in batches:
            noise = minibatch_noise(grads, batch, n)
            total += noise * noise.T
        return total / len(batches)

    @staticmethod
    def _increment_instances(seed: int, sizes) -> list:
        """Φ and ξ = (minibatch − full) data gradient in Φ of the squared loss, for one random minibatch."""
        rng = random.Random(seed)
        out = []
        for n, m, C, b in sizes:
            loss = squared(C)
            W, Phi, Y = rational_matrix(rng, C, m), rational_matrix(rng, m, n), rational_matrix(rng, C, n)
            batch = sorted(rng.sample(range(n), b))
            noise = minibatch_noise(per_sample_feature_gradients(loss, W, Phi, Y), batch, n)
            out.append((f"n={n}, m={m}, C={C}, batch {batch}",
                        {nt.n: n, nt.m: m, nt.C: C, nt.Phi: Phi, xi: sp.ImmutableMatrix(noise)}))
        return out


@lru_cache(maxsize=None)
def derive_noise() -> NoiseStructure:
    """T7 noise structure, certified and cached."""
    return NoiseStructure()
