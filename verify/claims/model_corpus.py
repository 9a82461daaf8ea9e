"""The corpus of derived models: objectives the engine derives, closed or refused, that the tests parametrise over.

Each :class:`CorpusModel` names an objective (the language of ``theory.objective_language``), its declarations,
the variables to eliminate, whether the engine must close its flow in K, the phrase its refusal must contain when it
cannot, and the numeric values of its scalars where the defaults (λ, μ and declared scalars drawn from
:func:`verify.claims.model.instance_values`) would make the objective unbounded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BASE = "0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)"


@dataclass(frozen=True)
class CorpusModel:
    """One model of the corpus (module docstring): what to derive and what the engine must find."""

    name: str
    objective: str
    declare: dict = field(default_factory=dict)
    eliminate: tuple = ("W",)
    closed: bool = True
    refusal: str = ""  # a phrase of the reason an open model must give
    values: dict = field(default_factory=dict)
    convex: bool = False  # whether derive_model proves its objective in K convex (then the continuation is used)


CORPUS = (
    CorpusModel("baseline (T2)", BASE, convex=True),
    CorpusModel("readout bias (E1)", "0.5*fro2(W@Phi + b@ones(n).T - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)",
                {"b": "C x 1"}, ("b", "W")),
    CorpusModel("kernel penalty (E2)", BASE + " + nu/4*fro2(Phi.T@Phi)", {"nu": "positive"}, convex=True),
    CorpusModel("sample-weighted loss", "0.5*tr((W@Phi - Y)@Omega@(W@Phi - Y).T) + lam/2*fro2(W) + mu/2*fro2(Phi)",
                {"Omega": "n x n diagonal positive definite"}),
    CorpusModel("penalty on tr(K)^2", BASE + " + nu/4*tr(Phi.T@Phi)**2", {"nu": "positive"}, convex=True),
    CorpusModel("metric penalty tr(Phi M Phi^T)", BASE + " + nu/2*tr(Phi@M@Phi.T)",
                {"nu": "positive", "M": "n x n symmetric positive definite"}, convex=True),
    CorpusModel("squared metric penalty tr(Phi M Phi^T)^2", BASE + " + nu/4*tr(Phi@M@Phi.T)**2",
                {"nu": "positive", "M": "n x n symmetric positive definite"}, convex=True),
    CorpusModel("label alignment", BASE + " - alpha/2*fro2(Y@Phi.T)", {"alpha": "positive"},
                values={"alpha": 0.0005}, convex=True),
    CorpusModel("graph smoothness of the features", BASE + " + nu/2*tr(Phi@Lg@Phi.T)",
                {"nu": "positive", "Lg": "n x n symmetric positive semidefinite"}, convex=True),
    CorpusModel("graph smoothness of the outputs", BASE + " + beta/2*fro2(W@Phi@Lg)",
                {"beta": "positive", "Lg": "n x n symmetric"}),
    CorpusModel("pull towards fixed features", BASE + " + nu/2*fro2(Phi - Phi0)", {"nu": "positive", "Phi0": "m x n"},
                closed=False, refusal="does not close in K"),
    CorpusModel("non-quadratic readout penalty", "0.5*fro2(W@Phi - Y) + lam/4*fro2(W)**2 + mu/2*fro2(Phi)",
                closed=False, refusal="W cannot be eliminated"),
    CorpusModel("readout penalty with a metric", "0.5*fro2(W@Phi - Y) + lam/2*tr(W@P@W.T) + mu/2*fro2(Phi)",
                {"P": "m x m symmetric positive definite"}, closed=False, refusal="does not close in K"),
    CorpusModel("no readout penalty", "0.5*fro2(W@Phi - Y) + mu/2*fro2(Phi)", closed=False,
                refusal="not unique"),
    CorpusModel("coupled (no elimination)", BASE, eliminate=(), closed=False, refusal="keeps W"),
)
"""The corpus; :data:`BY_NAME` indexes it."""

BY_NAME = {model.name: model for model in CORPUS}
