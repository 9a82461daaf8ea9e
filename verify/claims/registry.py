"""The claim registry: every claim of docs/theory.md is a registered :class:`Claim` with its checks.

A check takes a :class:`Context` (profile and seed) and returns a :class:`verify.core.verdict.Verdict`.
A claim passes only when its derivation is certified, its numeric comparison is within tolerance
and its negative controls are rejected by the same check.

>>> list(REGISTRY)[:10]
['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10']
>>> REGISTRY["T10"].profiles      # run by default in the full profile only; --claims T10 runs it in any
('full',)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PROFILES = ("quick", "full")


@dataclass(frozen=True)
class Context:
    """What a check is run with: the ``profile`` ("quick" or "full"), the ``seed``, the ``device`` of the PyTorch
    experiments and whether it may show ``progress``; :meth:`rng` gives independent generators, :meth:`pick` sizes."""

    profile: str = "quick"
    seed: int = 0
    #: where the real-architecture experiments run ("cpu", "cuda" or "auto"); numerics elsewhere are NumPy
    device: str = "cpu"
    #: whether long checks may show a progress bar of their own
    progress: bool = False

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])

    def pick(self, quick, full):
        """The quick or full value of a size parameter."""
        return quick if self.profile == "quick" else full


@dataclass(frozen=True)
class Claim:
    """A claim of docs/theory.md: its ``id`` ("T3"), ``title``, ``statement``, ``assumptions``, the ``check`` that
    judges it (a :class:`Context` → :class:`~verify.core.verdict.Verdict`), and the ``profiles`` that run it by
    default."""

    id: str
    title: str
    statement: str
    assumptions: str
    check: Callable[[Context], object]
    #: the profiles whose default selection ("all") includes this claim; ``--claims`` runs it in any profile
    profiles: tuple[str, ...] = PROFILES


REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`REGISTRY` under its id and return it; ValueError when a claim with that id is already
    registered (one id, one claim)."""
    if claim.id in REGISTRY:
        raise ValueError(f"claim {claim.id} is already registered")
    REGISTRY[claim.id] = claim
    return claim


def get(claim_id: str) -> Claim:
    """The registered claim with id ``claim_id``; ValueError listing the known ids when there is none."""
    try:
        return REGISTRY[claim_id]
    except KeyError:
        raise ValueError(f"unknown claim {claim_id!r}; known claims: {', '.join(sorted(REGISTRY))}") from None
