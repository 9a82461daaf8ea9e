"""Mutation-killing tests for theory/t5_coupled.py (T5's coupled stationarity; benchmarks/mutation.py, group
theory_coupled).

What T5 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on: docs/derivations.md prints them), the sides of the fixed-feature
stationarity step, and the reproducibility of the hyperplane check: its instances (G with zero column
sums) are drawn from the derivation's seed at its own offset.
"""
import theory
from theory import notation as nt
from theory.certify import instances_at
from theory.losses import softmax_cross_entropy
from theory.t5_coupled import CoupledStationarity, coupled_instance

T5_STEPS = [
    ('T5',
     'coupled flow',
     'Φ̇ = −∂L/∂Φ = −WᵀG − μΦ, run together with the readout flow',
     'Φ̇ = minus the entrywise derivative of L in Φ',
     ('n=3, m=2, C=2', 'n=2, m=3, C=2')),
    ('T5',
     'readout flow',
     'Ẇ = −∂L/∂W = −GΦᵀ − λW (no time-scale separation)',
     'Ẇ = minus the entrywise derivative of L in W',
     ('n=3, m=2, C=2', 'n=2, m=3, C=2')),
    ('T5',
     'feature stationarity',
     'Φ̇ = 0 ⇔ Φ = −WᵀG/μ: every column of Φ lies in range Wᵀ',
     '∂L/∂Φ (entrywise) = μ(Φ − Φ*), so it vanishes exactly at Φ = Φ*',
     ('n=3, m=2, C=2', 'n=2, m=3, C=2')),
    ('T5',
     'kernel rank',
     'K = Φ*ᵀΦ* = GᵀWWᵀG/μ², so rank K ≤ rank W ≤ C (any G)',
     'Φ*ᵀΦ* = GᵀWWᵀG/μ²; rank K* ≤ C',
     ('n=3, m=2, C=2', 'n=2, m=4, C=2', 'n=5, m=4, C=2: rank 2 ≤ 2')),
    ('T5',
     'readout stationarity',
     'Ẇ = 0 ⇔ W = −GΦᵀ/λ',
     '∂L/∂W (entrywise) = λ(W − W*), so it vanishes exactly at W = W*',
     ('n=3, m=2, C=2', 'n=2, m=3, C=2')),
    ('T5',
     'zero column sums',
     '1ᵀg = 0 whenever the targets sum to 1 (derived from ℓ)',
     'Σ_k ∂ℓ/∂f_k = 0 for targets on the simplex',
     ('f=[-7/4, -1], y=[-9/2, 11/2]', 'f=[7/6, 1], y=[-3, 4]', 'f=[7/2, 1], y=[3/2, -1/2]')),
    ('T5',
     'readout in a hyperplane',
     'λW* = −GΦᵀ with 1ᵀG = 0 ⇒ 1ᵀW* = 0',
     '1ᵀW* = 0 when the columns of G sum to 0',
     ('n=4, m=3, C=2', 'n=5, m=5, C=2')),
    ('T5',
     'kernel rank C − 1',
     'K* = GᵀW*W*ᵀG/μ² with rank W* ≤ C − 1, so rank K* ≤ C − 1',
     'K* at W = W*; rank K* ≤ C − 1',
     ('n=3, m=2, C=2', 'n=4, m=4, C=2: rank 1 ≤ 1')),
    ('T5',
     'fixed-feature gradient',
     'Φ = UΨ: ∂L/∂U = WᵀGΨᵀ + μU (entrywise derivative of L in U)',
     '∂L/∂U, matrix form vs the entrywise derivative',
     ('n=3, m=2, p=3, C=2', 'n=2, m=3, p=2, C=2')),
    ('T5',
     'fixed-feature kernel flow',
     'K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = −(FᵀG·K_Ψ + K_Ψ·GᵀF) − 2μK',
     'K̇ = d/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) with Φ̇ = −(entrywise ∂L/∂U)Ψ',
     ('n=3, m=2, p=3, C=2', 'n=2, m=3, p=2, C=2')),
    ('T5',
     'fixed-feature stationarity',
     'U̇ = 0 ⇔ U = −WᵀGΨᵀ/μ, so Φ = UΨ ∈ range Wᵀ',
     '∂L/∂U (entrywise) = μ(U − U*), so it vanishes exactly at U = U*',
     ('n=3, m=2, p=3, C=2', 'n=2, m=3, p=2, C=2')),
    ('T5',
     'fixed-feature kernel rank',
     'K* = (U*Ψ)ᵀ(U*Ψ) = ΨᵀGᵀWWᵀGΨ·…/μ² has rank ≤ rank W ≤ C',
     '(U*Ψ)ᵀ(U*Ψ) expanded; rank K* ≤ C',
     ('n=3, m=2, p=2, C=2', 'n=5, m=4, p=4, C=2: rank 2 ≤ 2')),
    ('T5',
     'fixed-feature flow',
     'Φ̇ = U̇Ψ = −WᵀG·K_Ψ − μΦ: the feature flow carries K_Ψ (UFM: K_Ψ = I)',
     'Φ̇ = −(entrywise ∂L/∂U)Ψ',
     ('n=3, m=2, p=3, C=2', 'n=2, m=3, p=2, C=2')),
]


def test_T5_steps_show_their_claim_statement_identity_and_trials():
    """T5's own steps (after T1's three gradient steps), for softmax cross-entropy at C = 2: an identity
    re-cased ("σ_k" for "Σ_k") or a check tried at other sizes is a different derivation."""
    steps = theory.derive_coupled(softmax_cross_entropy(2)).steps
    assert [s.name for s in steps[:3]] == ["output gradient", "readout gradient", "feature gradient"]
    own = [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps[3:]]
    assert own == T5_STEPS


def test_T5_fixed_feature_stationarity_solves_for_U():
    """The step reads U = U* (its check evaluates μ(U − U*), which ignores the lhs): the lhs is U itself."""
    step = theory.derive_coupled(softmax_cross_entropy(2)).step("fixed-feature stationarity")
    assert step.lhs == nt.U
    assert step.latex().startswith(r"U = ")
    assert str(step).splitlines()[1].lstrip().startswith("U = ")


def test_T5_hyperplane_check_draws_zero_sum_instances_from_seed_plus_7():
    """1ᵀW* = 0 is tried on G with zero column sums at n = 4, m = 3 and n = 5, m = 5, drawn from seed + 7:
    reproducible from (loss, seed), and a draw of its own."""
    loss = softmax_cross_entropy(2)
    sizes = ({nt.n: 4, nt.m: 3, nt.C: 2}, {nt.n: 5, nt.m: 5, nt.C: 2})
    zero = lambda rng, dims: coupled_instance(rng, dims, zero_sums=True)  # noqa: E731
    for seed in (0, 2):
        check = CoupledStationarity(loss, seed=seed).step("readout in a hyperplane").check
        assert check.instances() == instances_at(sizes, seed + 7, zero)
        assert check.instances() != instances_at(sizes, seed, zero)
