"""Mutation-killing tests for theory/t6_stability.py (T6's linearisation at commuting points;
benchmarks/mutation.py, group theory_stability).

What T6 shows of itself: each step's claim, name, statement, the identity its check certifies and the
cases it was tried on, as docs/derivations.md prints them.
"""
import theory
from theory.losses import squared

T6_STEPS = [
    ('T6',
     'decoupling',
     'at commuting (K, S) the linearisation maps E_ij to ρ_ij E_ij alone',
     'd/dε K̇(diag κ + εE) at 0 = [ρ_ij E_ij] for a generic symmetric E',
     ('symbolic',)),
    ('T6',
     'pair rate',
     'ρ_ij for i ≠ j (the same function for every pair)',
     'every off-diagonal entry of the linearisation is ρ_ij E_ij, and ρ_ij = d_i + d_j − 2μ − λa_ia_j(a_is_i + a_js_j)(κ_i + κ_j)',
     ('symbolic',)),
    ('T6',
     'diagonal rate',
     "ρ_ii = f'(κ_i), the mode slope of T3",
     "ρ_ii − f'(κ) = 0 and the diagonal of the linearisation is ρ_ii E_ii",
     ('symbolic',)),
    ('T6',
     'water-filled is stable',
     'filled modes at κ*(s) (0 otherwise) form a steady state at which every pair rate is negative',
     'f(κ*(s), s) = 0 for a fillable mode (s = λμ(1+u)²); κ* > 0 and every rate negative there',
     ('symbolic', 'filled κ*(s)', 'ρ_ii filled', 'ρ_ij filled–filled', 'ρ_ij filled–cut off', 'ρ_ij filled–unlabelled', 'ρ_ii cut off', 'ρ_ij cut off–cut off', 'ρ_ij cut off–unlabelled', 'ρ_ii unlabelled', 'ρ_ij unlabelled–unlabelled')),
    ('T6',
     'empty fillable mode is unstable',
     "ρ_ii = f'(0) > 0 for s > λμ: leaving it empty is unstable",
     'ρ_ii(κ = 0, s = λμ(1+u)²) as derived; ρ_ii > 0 for an empty mode with s > λμ',
     ('symbolic', 'ρ_ii')),
]


def test_T6_steps_show_their_claim_statement_identity_and_trials():
    """A statement dropped or re-cased ("FILLED MODES AT Κ*(S)"), an identity altered or a sign case
    missing is a different derivation; every step is certified."""
    steps = theory.derive_linearisation(squared(2)).steps
    assert [(s.claim, s.name, s.statement, s.certificate.identity, s.certificate.trials) for s in steps] == T6_STEPS
    assert all(s.certificate.passed for s in steps)
