"""Mutation-killing tests for theory/t2_kernel_ode.py (T2's kernel ODE derivation; benchmarks/mutation.py,
group theory_kernel_ode).

What T2 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on: docs/derivations.md prints them), the sizes of the product-rule and rank
checks (a wide and a tall Φ; a rank check where Φ has more than C rows), and the reproducibility of the
end-to-end check: its instances are fixed by the derivation's seed.
"""

from theory import notation as nt
from theory.certify import instances_at
from theory.losses import squared
from theory.t1_readout import certification_sizes
from theory.t2_kernel_ode import KernelODE, derive_kernel_ode

T2_STEPS = [
    ('T2',
     'feature flow',
     'Φ̇ = −∂L/∂Φ = −W*ᵀG* − μΦ at the optimal readout',
     'Φ̇ = −∂L/∂Φ entrywise at the exactly solved readout',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T2',
     'drive operator',
     'Φ̇ = Φ(D − μI) with D = G*ᵀG*/λ, so rank D ≤ rank G* ≤ C',
     'D = G*ᵀG*/λ; rank D ≤ C',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2', 'n=5, m=4, C=2: rank 2 ≤ 2')),
    ('T2',
     'product rule',
     'K = ΦᵀΦ ⇒ K̇ = Φ̇ᵀΦ + ΦᵀΦ̇',
     'd/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) at t = 0, differentiated by SymPy',
     ('m=2, n=3', 'm=3, n=2')),
    ('T2',
     'kernel ODE',
     'K̇ = K·D(K) + D(K)·K − 2μK (closed in K)',
     'K̇ (closed form, D as derived) = d/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) with Φ̇ from the entrywise gradient at the exactly solved readout',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
]


def test_T2_steps_show_their_claim_statement_identity_and_trials():
    """T2's own steps (after T1's), as docs/derivations.md shows them: a statement or identity dropped,
    re-cased or relabelled, or a check tried at other sizes, is a different derivation."""
    steps = derive_kernel_ode(squared(2)).steps
    assert [s.claim for s in steps[:11]] == ["T1"] * 11
    own = [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps[11:]]
    assert own == T2_STEPS


def test_T2_product_rule_is_checked_on_a_wide_and_a_tall_phi():
    """Φ (m × n) wide (2 × 3) and tall (3 × 2), Φ̇ of the same shape, both exact rationals."""
    cases = derive_kernel_ode(squared(2)).step("product rule").check.cases()
    assert [label for label, _, _ in cases] == ["m=2, n=3", "m=3, n=2"]
    for label, values, truth in cases:
        rows, cols = values[nt.m], values[nt.n]
        assert values[nt.Phi].shape == (rows, cols)
        assert truth.shape == (cols, cols)


def test_T2_rank_of_the_drive_is_bounded_where_phi_has_more_than_C_rows():
    """rank D ≤ C is checked at n = C + 3, m = C + 2: Φ alone could reach rank C + 2, so the bound is D's."""
    for C in (1, 2):
        cert = derive_kernel_ode(squared(C)).step("drive operator").certificate
        assert cert.passed
        assert cert.trials[-1] == f"n={C + 3}, m={C + 2}, C={C}: rank {C} ≤ {C}"


def test_T2_kernel_ode_step_is_checked_on_the_instances_of_its_own_seed():
    """The end-to-end check is reproducible from (loss, seed): instances_at(certification sizes, seed + 3),
    an independent draw from the feature flow's (seed)."""
    loss = squared(2)
    sizes = certification_sizes(2)
    for seed in (0, 7):
        ode = KernelODE(loss, seed=seed)
        cases = ode.step("kernel ODE").check.cases()
        expected = instances_at(sizes, seed + 3)
        assert [(label, values) for label, values, _ in cases] == expected
        flow = [values for _, values, _ in ode.step("feature flow").check.cases()]
        assert flow == [values for _, values in instances_at(sizes, seed)]
        assert flow != [values for _, values in expected]
