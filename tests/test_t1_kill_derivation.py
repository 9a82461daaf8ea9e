"""Mutation-killing tests for theory/t1_readout.py (T1's readout elimination; benchmarks/mutation.py, group
theory_readout).

What T1 shows of itself (each step's claim, name, statement, the identity its check certifies and the
instances it was tried on: docs/derivations.md prints them), and the reproducibility of its exact
checks: each draws its instances from the derivation's seed at its own offset, so two steps are never
certified on the same random instances.
"""
from theory import notation as nt
from theory.certify import instances_at
from theory.losses import squared
from theory.t1_readout import ReadoutElimination, certification_sizes, derive_readout

T1_STEPS = [
    ('T1',
     'affine gradient',
     'the derived gradient is affine: G = cF + dY',
     'columns ∇_f ℓ(f_i, y_i) = c f_i + d y_i',
     ('n=2, C=2', 'n=3, C=2', 'n=5, C=2')),
    ('T1',
     'stationarity in W',
     '∂L/∂W = 0 is linear in W: W·A + B = 0',
     '∂L/∂W = W·A + B',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T1',
     'optimal readout',
     'W* = −B·A⁻¹ solves it',
     'W* = exact solution of the entrywise equations ∂L/∂w_ij = 0',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T1',
     'push-through',
     'Φᵀ(cΦΦᵀ + λI_m)⁻¹ = (cK + λI_n)⁻¹Φᵀ with K = ΦᵀΦ',
     'push-through',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T1',
     'optimal outputs',
     'F* = W*Φ depends on Φ only through K',
     'F* = W*Φ',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T1',
     'optimal output gradient',
     'G* = cF* + dY = Y·r(K), r simplified as a scalar function of κ',
     'G* simplification',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
    ('T1',
     'quadratic loss',
     'ℓ(f, y) = (e/2)|y|² + d f·y + (c/2)|f|² (gradient affine, h quadratic)',
     'ℓ − Taylor form = 0',
     ('symbolic',)),
    ('T1',
     'reduced objective',
     'min_W L = tr(Y q(K) Yᵀ) + (μ/2) tr K',
     'reduced objective = L(W*, Φ) with W* solved exactly',
     ('n=3, m=3, C=2', 'n=4, m=2, C=2', 'n=2, m=4, C=2')),
]


def test_T1_steps_show_their_claim_statement_identity_and_trials():
    """T1's elimination steps (after the three gradient steps), as docs/derivations.md shows them: a
    statement or identity dropped, a claim re-cased, or a check tried at other sizes, is a different
    derivation."""
    steps = derive_readout(squared(2)).steps
    assert [s.name for s in steps[:3]] == ["output gradient", "readout gradient", "feature gradient"]
    own = [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps[3:]]
    assert own == T1_STEPS


def _values(check):
    """The (label, values) a check is evaluated on: Identity.instances() or AgainstTruth.cases()."""
    if hasattr(check, "cases"):
        return [(label, values) for label, values, _ in check.cases()]
    return check.instances()


def test_T1_exact_checks_draw_their_instances_from_the_seed_at_distinct_offsets():
    """stationarity and optimal readout at seed, push-through at seed + 1, optimal outputs at + 2, the G*
    simplification at + 3, the reduced objective at + 4 (certification sizes): reproducible from
    (loss, seed), and pairwise different draws."""
    offsets = {"stationarity in W": 0, "optimal readout": 0, "push-through": 1, "optimal outputs": 2,
               "optimal output gradient": 3, "reduced objective": 4}
    sizes = certification_sizes(2)
    for seed in (0, 5):
        t1 = ReadoutElimination(squared(2), seed=seed)
        for name, offset in offsets.items():
            assert _values(t1.step(name).check) == instances_at(sizes, seed + offset), name
    draws = {offset: [v[nt.Phi] for _, v in instances_at(sizes, offset)] for offset in set(offsets.values())}
    assert len({tuple(d) for d in draws.values()}) == len(draws)
