"""Build your own certified derivation from named steps: the public way to extend the theory.

A derivation is an ordered list of :class:`theory.certify.Step` objects, each certified by a check run on
exactly the two sides it shows. :class:`DerivationBuilder` adds steps by the certifying method you name —

- :meth:`~DerivationBuilder.identity`: both sides evaluated exactly on random rational instances
  (a polynomial-identity test; the default instance is the setting's Φ, W, Y, K = ΦᵀΦ, S = YᵀY, λ, μ);
- :meth:`~DerivationBuilder.symbolic`: lhs − rhs simplified to 0 by SymPy (scalars);
- :meth:`~DerivationBuilder.gradient`: the rhs is the gradient of a scalar objective in a matrix variable —
  tr(rhsᵀE) equals the exact derivative d/dt objective(X + tE) at t = 0 (SymPy's scalar ``diff`` of the
  objective evaluated on explicit rational matrices, random directions E);
- :meth:`~DerivationBuilder.derivative`: the rhs is the directional derivative of a matrix function along a
  direction symbol, against the same exact derivative;
- :meth:`~DerivationBuilder.rank`: a rank bound on the rhs by exact rank over the rationals;
- :meth:`~DerivationBuilder.against`: the rhs against a ground truth you compute from the instance alone;
- :meth:`~DerivationBuilder.define`: a symbol introduced or a hypothesis stated (shown, certifies nothing);

— or reuses certified steps of another derivation (:meth:`~DerivationBuilder.reuse`: T1's readout
elimination, T2's product rule). :meth:`~DerivationBuilder.build` returns a :class:`BuiltDerivation` whose
named results (``results``) are the expressions later code is generated from
(``verify.step_function(derivation.step("drive"), args)``). :func:`register_derivation` puts a derivation
into :data:`theory.DERIVATIONS`, so that ``kflow derive ID`` (with ``--claims-file`` for a file of yours)
prints it with its certificates, as text, LaTeX or Markdown.

>>> import sympy as sp
>>> from theory import notation as nt
>>> b = DerivationBuilder("X0", "trace of the resolvent")
>>> R = (nt.K + nt.lam * nt.I_n).I
>>> _ = b.identity("resolvent", "K R + λ R = I", nt.K * R + nt.lam * R, nt.I_n)
>>> _ = b.gradient("gradient", "∇_Φ tr(Φ Φᵀ)/2 = Φ", sp.Symbol("dL/dPhi"), nt.Phi,
...                objective=sp.Trace(nt.Phi * nt.Phi.T) / 2, variable=nt.Phi)
>>> derivation = b.build(gradient=nt.Phi)
>>> derivation.certified, derivation.results["gradient"]
(True, Phi)
>>> b.identity("wrong", "K R = I", nt.K * R, nt.I_n).certificate.passed   # a false step is not certified
False
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping

import sympy as sp

from theory import notation as nt
from theory.certify import (
    DEFAULT_SIZES,
    AgainstTruth,
    AllOf,
    Check,
    Definition,
    Derivation,
    ExactRank,
    Identity,
    Step,
    SymbolicZero,
    evaluate,
    exact_directional_derivative,
    instances_at,
    rational_matrix,
    standard_instance,
)

#: matrices of the setting that are symmetric: a direction of change of one of them is drawn symmetric
SYMMETRIC_MATRICES = frozenset({nt.K, nt.S})


class BuiltDerivation(Derivation):
    """A derivation assembled by :class:`DerivationBuilder`: its steps, claim id, title and named results."""

    def __init__(self, claim: str, title: str, steps: Iterable[Step], results: Mapping[str, sp.Basic]):
        self.claim, self.title, self.steps = claim, title, tuple(steps)
        self.results = dict(results)

    def __getattr__(self, name):
        results = self.__dict__.get("results", {})
        if name in results:
            return results[name]
        raise AttributeError(f"{type(self).__name__} {self.__dict__.get('claim', '')!r} has no attribute or result "
                             f"{name!r}; results are {sorted(results)}")


class DerivationBuilder:
    """Collects certified steps for one claim id (see the module docstring); each method returns the new step,
    whose ``certificate`` is already computed, so a failing step shows at once."""

    def __init__(self, claim: str, title: str = "", *, seed: int = 0):
        if not isinstance(claim, str) or not claim.strip() or any(ch.isspace() for ch in claim):
            raise ValueError(f"claim must be a non-empty id without spaces (e.g. 'X2'), got {claim!r}")
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        self.claim, self.title, self.seed = claim, title, seed
        self.steps: list[Step] = []

    # ---------------------------------------------------------------- steps by certifying method
    def add(self, name: str, statement: str, lhs, rhs, check: Check) -> Step:
        """A step certified by any :class:`theory.certify.Check` of yours."""
        for label, text in (("name", name), ("statement", statement)):
            if not isinstance(text, str) or not text.strip():
                raise TypeError(f"step {label} must be a non-empty str, got {text!r}")
        if any(step.name == name for step in self.steps):
            raise ValueError(f"{self.claim} already has a step named {name!r}; step names are unique")
        step = Step(self.claim, name, statement, sp.sympify(lhs), sp.sympify(rhs), check)
        self.steps.append(step)
        return step

    def identity(self, name: str, statement: str, lhs, rhs, *, sizes: Iterable[Mapping] = DEFAULT_SIZES,
                 sample: Callable[[random.Random, Mapping], dict] = standard_instance,
                 substitute: Mapping | None = None) -> Step:
        """lhs = rhs, both sides evaluated exactly on ``sample(rng, dims)`` at each size in ``sizes``
        (:class:`theory.certify.Identity`); ``substitute`` replaces symbols of earlier steps by their formulas."""
        return self.add(name, statement, lhs, rhs, Identity(statement, sizes=sizes, sample=sample,
                                                            seed=self._seed(), substitute=substitute))

    def symbolic(self, name: str, statement: str, lhs, rhs, *, assumptions: str = "") -> Step:
        """lhs = rhs for scalars, by SymPy simplifying lhs − rhs to 0 under the symbols' assumptions."""
        return self.add(name, statement, lhs, rhs, SymbolicZero(statement, assumptions=assumptions))

    def gradient(self, name: str, statement: str, lhs, rhs, *, objective, variable: sp.MatrixSymbol,
                 sizes: Iterable[Mapping] = DEFAULT_SIZES,
                 sample: Callable[[random.Random, Mapping], dict] = standard_instance,
                 substitute: Mapping | None = None) -> Step:
        """rhs = ∇_variable objective: tr(rhsᵀE) = d/dt objective(variable + tE) at t = 0, exactly, for a random
        rational direction E (symmetric when the variable is K or S), at each size."""
        objective = sp.sympify(objective)
        if getattr(objective, "is_Matrix", False):
            raise ValueError(f"step {name!r}: objective must be a scalar expression (use traces), got a matrix "
                             f"of shape {objective.shape}; for a matrix function use derivative()")
        _check_variable(name, variable)
        direction = sp.MatrixSymbol(f"E_{variable.name}", *variable.shape)
        symmetric = variable in SYMMETRIC_MATRICES

        def truth(values):
            return exact_directional_derivative(objective, values, variable, values[direction])

        return self.add(name, statement, lhs, rhs, AgainstTruth(
            f"tr(rhsᵀE) = d/dt objective({variable} + tE) at t = 0, by SymPy on explicit matrices",
            truth, self._with_direction(sizes, sample, direction, symmetric),
            side=lambda _lhs, _rhs: sp.Trace(_rhs.T * direction), substitute=substitute,
            method="exact directional derivative"))

    def derivative(self, name: str, statement: str, lhs, rhs, *, function, variable: sp.MatrixSymbol,
                   direction: sp.MatrixSymbol, sizes: Iterable[Mapping] = DEFAULT_SIZES,
                   sample: Callable[[random.Random, Mapping], dict] = standard_instance,
                   substitute: Mapping | None = None) -> Step:
        """rhs (an expression in ``direction``) = d/dt function(variable + t·direction) at t = 0, exactly, with
        ``direction`` a random rational matrix (symmetric when the variable is K or S) at each size."""
        _check_variable(name, variable)
        if not isinstance(direction, sp.MatrixSymbol) or direction.shape != variable.shape:
            raise ValueError(f"step {name!r}: direction must be a MatrixSymbol of {variable}'s shape "
                             f"{variable.shape}, got {direction!r}")
        function = sp.sympify(function)
        symmetric = variable in SYMMETRIC_MATRICES

        def truth(values):
            return exact_directional_derivative(function, values, variable, values[direction])

        return self.add(name, statement, lhs, rhs, AgainstTruth(
            f"rhs = d/dt function({variable} + t{direction}) at t = 0, by SymPy on explicit matrices", truth,
            self._with_direction(sizes, sample, direction, symmetric), substitute=substitute,
            method="exact directional derivative"))

    def rank(self, name: str, statement: str, lhs, rhs, *, bound: Callable[[dict], int],
             sizes: Iterable[Mapping], sample: Callable[[random.Random, Mapping], dict] = standard_instance,
             substitute: Mapping | None = None) -> Step:
        """rank(rhs) ≤ bound(values), by exact rank over the rationals at ``sizes`` — choose sizes where a wrong
        rhs could exceed the bound (the check refuses sizes where it cannot). When ``lhs`` is a matrix expression,
        lhs = rhs is certified as an identity at the same instances too (a rank alone does not see a scale)."""
        rank = ExactRank(statement, bound, sizes=sizes, sample=sample, seed=self._seed(), substitute=substitute)
        if getattr(sp.sympify(lhs), "is_Matrix", False):
            check = AllOf(Identity(statement, sizes=sizes, sample=sample, seed=self._seed(), substitute=substitute),
                          rank)
        else:
            check = rank
        return self.add(name, statement, lhs, rhs, check)

    def against(self, name: str, statement: str, lhs, rhs, *, truth: Callable[[dict], object],
                instances: Callable[[], list], method: str = "", substitute: Mapping | None = None) -> Step:
        """The rhs evaluated on ``instances()`` ([(label, values)]) equals ``truth(values)``, a ground truth you
        compute from the instance alone (an exact solve, an entrywise derivative), never from the step."""
        return self.add(name, statement, lhs, rhs, AgainstTruth(statement, truth, instances, method=method,
                                                                substitute=substitute))

    def define(self, name: str, statement: str, lhs, rhs, *, kind: str = "definition") -> Step:
        """A symbol introduced, an assumption stated or a construction substituted: shown, certifies nothing."""
        return self.add(name, statement, lhs, rhs, Definition(statement, kind))

    def reuse(self, derivation: Derivation, *names: str) -> list[Step]:
        """Steps of another derivation (all, or those ``names``), already certified, shown under their own claim id."""
        if not isinstance(derivation, Derivation):
            raise TypeError(f"derivation must be a theory.Derivation, got {type(derivation).__name__}")
        chosen = [derivation.step(name) for name in names] if names else list(derivation.steps)
        for step in chosen:
            if any(own.name == step.name for own in self.steps):
                raise ValueError(f"{self.claim} already has a step named {step.name!r}")
            self.steps.append(step)
        return chosen

    def build(self, **results) -> BuiltDerivation:
        """The derivation of the steps so far; ``results`` name the expressions it leads to (for code generation)."""
        if not self.steps:
            raise ValueError(f"{self.claim}: a derivation needs at least one step")
        return BuiltDerivation(self.claim, self.title, self.steps, {k: sp.sympify(v) for k, v in results.items()})

    # ---------------------------------------------------------------- helpers
    def _seed(self) -> int:
        return self.seed + len(self.steps)

    def _with_direction(self, sizes, sample, direction, symmetric: bool):
        def make():
            rng = random.Random(self.seed + 7919 * (len(self.steps) + 1))
            cases = []
            for label, values in instances_at(sizes, rng.randrange(2**31), sample):
                rows, cols = (int(evaluate(d, values)) for d in direction.shape)
                A = rational_matrix(rng, rows, cols)
                values = dict(values)
                values[direction] = sp.ImmutableMatrix(A + A.T) if symmetric else A
                cases.append((label, values))
            return cases
        return make


def _check_variable(name: str, variable) -> None:
    if not isinstance(variable, sp.MatrixSymbol):
        raise TypeError(f"step {name!r}: variable must be a sympy MatrixSymbol (Phi, K, W, ...), got "
                        f"{type(variable).__name__}")


def register_derivation(claim: str, title: str, build: Callable[[int], Derivation], *,
                        replace: bool = False) -> None:
    """Add ``build`` (a function of the number of outputs C returning a Derivation) to :data:`theory.DERIVATIONS`
    under ``claim``, so that ``kflow derive claim`` shows it. The package's own ids are refused unless
    ``replace`` is given."""
    from theory import DERIVATIONS  # the registry lives in the package's namespace

    if not isinstance(claim, str) or not claim.strip() or any(ch.isspace() for ch in claim):
        raise ValueError(f"claim must be a non-empty id without spaces, got {claim!r}")
    if not callable(build):
        raise TypeError(f"build must be a function of C returning a theory.Derivation, got {type(build).__name__}")
    key = claim.strip().upper()
    if key in DERIVATIONS and not replace:
        raise ValueError(f"a derivation is already registered as {key!r}; pass replace=True to replace it")
    DERIVATIONS[key] = (title, build)
