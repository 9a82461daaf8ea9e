"""Mutation-killing tests for theory/t7_noise.py (T7's SGD noise structure; benchmarks/mutation.py, group
theory_noise).

What T7 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on: docs/derivations.md prints them), and the reproducibility of its rank
checks: the general and the centred (1ᵀG = 0) rank checks draw from the derivation's seed at their own
offsets, so they are independent draws.
"""
from theory import notation as nt
from theory.certify import instances_at
from theory.t7_noise import NoiseStructure, derive_noise, noise_instance

T7_STEPS = [
    ('T7',
     'sampling weights without replacement',
     'P(i∈B) = b/n, P(i,j∈B) = b(b−1)/(n(n−1)) ⇒ Σ_c = κ(I − 11ᵀ/n), κ = n(n−b)/(b(n−1))',
     'Σ_c = κ(I − 11ᵀ/n) against enumeration of every minibatch',
     ('n=4, b=2 (all minibatches)', 'n=5, b=3 (all minibatches)', 'n=6, b=1 (all minibatches)', 'n=5, b=5 (all minibatches)')),
    ('T7',
     'sampling weights with replacement',
     'multinomial counts ⇒ Σ_c = (n/b)(I − 11ᵀ/n)',
     'Σ_c = κ(I − 11ᵀ/n) against enumeration of every minibatch',
     ('n=4, b=2 (all minibatches)', 'n=5, b=3 (all minibatches)', 'n=6, b=1 (all minibatches)', 'n=5, b=5 (all minibatches)')),
    ('T7',
     'feature noise covariance',
     'E[ξξᵀ] = κ(1 − 1/n)·WᵀGGᵀW (m × m): range ⊆ range Wᵀ, rank ≤ rank G ≤ C (C − 1 when 1ᵀG = 0)',
     'E[ξξᵀ] averaged over every minibatch, ξ from per-sample gradients of the squared loss; rank E[ξξᵀ] ≤ C; rank E[ξξᵀ] ≤ C − 1 when 1ᵀG = 0',
     ('n=5, m=6, C=2, b=2', 'n=4, m=5, C=3, b=3', 'n=7, m=6, C=3, b=2: rank 3 ≤ 3', 'n=7, m=6, C=3, b=2: rank 2 ≤ 2')),
    ('T7',
     'kernel increment',
     'δK = d/dη (Φ + ηξ)ᵀ(Φ + ηξ) at η = 0 = ξᵀΦ + Φᵀξ, rank ≤ 2·rank ξ ≤ 2C',
     'δK = d/dη K(Φ + ηξ) at 0, ξ an actual minibatch noise; rank δK ≤ 2C',
     ('n=5, m=4, C=2, batch [0, 4]', 'n=7, m=8, C=2, batch [0, 2, 6]: rank 4 ≤ 4', 'n=8, m=9, C=3, batch [4, 5]: rank 6 ≤ 6')),
]


def test_T7_steps_show_their_claim_statement_identity_and_trials():
    """A claim re-cased ("t7"), a statement or identity altered, or a check tried at other sizes is a
    different derivation."""
    steps = derive_noise().steps
    assert [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps] == T7_STEPS


def test_T7_rank_checks_draw_from_the_seed_at_their_own_offsets():
    """rank E[ξξᵀ] ≤ C at seed + 1 (general G), rank ≤ C − 1 at seed + 2 (1ᵀG = 0): reproducible from the
    seed, and the general case is not the centred case's draw."""
    for seed in (0, 3):
        _, general, centred = NoiseStructure(seed=seed).step("feature noise covariance").check.checks
        sizes = general.sizes
        assert general._make() == instances_at(sizes, seed + 1, noise_instance)
        assert centred._make() == instances_at(sizes, seed + 2, lambda rng, dims: noise_instance(rng, dims, True))
        # with one seed the centred G would share the general G's first C − 1 rows, and W outright
        assert general._make()[0][1][nt.W] != centred._make()[0][1][nt.W]
