"""Mutation-killing tests for theory/losses.py and theory/loss_parser.py (benchmarks/mutation.py, group losses).

The loss of every claim (T1–T10) comes from here. Pinned: the witness a "not convex" verdict names (its
eigenvalue and the seeded rational point, so a changed sampling or a changed symmetrisation shows) and
the refusal of binary and octal literals.
"""
import pytest

from theory.losses import parse


@pytest.mark.parametrize("text, reason", [
    ("-f1**2", "∇²_f ℓ has eigenvalue -2.0 at {'f1': '6.0', 'y1': '4.5'}"),
    ("f1**4 - f1**2 + y1", "∇²_f ℓ has eigenvalue -0.08 at {'f1': '-0.4', 'y1': '-14.0'}"),
])
def test_not_convex_verdict_names_its_witness(text, reason):
    convexity = parse(text, 1).convexity()
    assert convexity.verdict == "not convex" and not convexity.convex
    assert convexity.reason == reason


@pytest.mark.parametrize("text", ["0b101*f1", "0o17*f1", "0B1*f1", "0O7 + f1"])
def test_binary_and_octal_literals_are_refused(text):
    with pytest.raises(ValueError, match="is not a plain real literal"):
        parse(text, 1)
