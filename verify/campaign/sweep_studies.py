"""The studies a sweep can run: each declares its parameters (type, range, default) and returns named metrics.

A study is a :class:`SweepStudy`: ``run(parameters, seed) -> {metric: number}``, deterministic for a seed, CPU-bound,
importing what it needs inside ``run`` (it executes in a worker process). :func:`register_study` adds one (e.g. from
a claims file); :data:`STUDIES` is the registry the spec is validated against.

- ``"two-layer-network"``: a two-layer NumPy network (ReLU or linear hidden layer, weight decay on every layer) trained
  by GD or SGD on digits or the Gaussian mixture (step η = STEP_FRACTION/λ_max(∇²L(θ₀)), to a flow time), measured as
  in T10: numerical and effective rank of the last-layer kernel, trace outside the top-C eigenspace, NC1;
- ``"kernel-steady-state"``: the certified water-filled steady state of the kernel flow for one-hot labels (T3/T4):
  its rank against C and the spectrum's error against the law;
- ``"fails-when"``: a study for testing the runner — raises when ``fail`` is true, sleeps ``seconds`` otherwise; with
  ``die_once`` its first attempt kills the worker process (where the environment names a marker folder).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class SpecError(ValueError):
    """A sweep spec that cannot run, with a message naming the key and what was expected."""


@dataclass(frozen=True)
class Parameter:
    """A study parameter: a type ("int", "float", "choice"), bounds or choices, a default."""

    kind: str
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def check(self, name: str, value, where: str) -> None:
        if self.kind == "choice":
            if value not in self.choices:
                raise SpecError(f"{where}: {value!r} is not one of {list(self.choices)} ({name})")
            return
        number = (int,) if self.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number):
            raise SpecError(f"{where}: expected {'an int' if self.kind == 'int' else 'a number'} for {name}, got "
                            f"{value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise SpecError(f"{where}: {name} = {value!r} is outside [{self.low}, {self.high}]")


@dataclass(frozen=True)
class SweepStudy:
    """A study a sweep can run: its ``name``, a one-line ``description``, its ``parameters`` {name:
    :class:`Parameter`}, the ``metrics`` it returns, and ``run(parameters, seed) -> {metric: number}`` (deterministic
    for a seed, executed in a worker process)."""

    name: str
    description: str
    parameters: dict
    metrics: tuple
    run: Callable[[dict, int], dict]

    def defaults(self) -> dict:
        return {k: p.default for k, p in self.parameters.items()}

    def check(self, name: str, value, where: str) -> None:
        if name not in self.parameters:
            raise SpecError(f"{where}: {self.name} has no parameter {name!r}; its parameters: {sorted(self.parameters)}")
        self.parameters[name].check(name, value, where)


STUDIES: dict[str, SweepStudy] = {}


def register_study(study: SweepStudy) -> SweepStudy:
    """Add ``study`` to :data:`STUDIES` under its name and return it (so that a claims file can register a study in
    one line); ValueError when a study of that name is already registered."""
    if study.name in STUDIES:
        raise ValueError(f"study {study.name!r} is already registered")
    STUDIES[study.name] = study
    return study


def _two_layer_network(parameters: dict, seed: int) -> dict:
    from verify.experiments import data as datasets
    from verify.experiments.real_networks import training_study

    name = parameters["data"]
    if name == "digits":
        data = datasets.load("digits", n=parameters["n"], seed=seed).normalised()
    else:
        data = datasets.load("gaussian-mixture", n=parameters["n"], seed=seed).normalised()
    batch = parameters["batch_size"]
    study = training_study(data, activation=parameters["activation"], width=parameters["width"],
                           decay=parameters["decay"], horizon=parameters["horizon"], records=2,
                           batch_size=None if batch == 0 or batch >= data.n else batch, seed=seed)
    summary = study["summary"]
    return {"numerical rank": summary["numerical rank"], "effective rank": summary["effective rank"],
            "outside top-C": summary["outside top-C"], "NC1 end": summary["NC1 end"], "C": data.C,
            "effective rank - C": summary["effective rank"] - data.C, "objective end": summary["objective end"]}


def _kernel_steady_state(parameters: dict, seed: int) -> dict:
    import numpy as np

    from verify import instances, steady_state, water_filling_spectrum
    from verify.core.linalg import numerical_rank
    from verify.core.tolerances import TOL

    rng = np.random.default_rng(seed)
    n, C = parameters["n"], parameters["C"]
    Y = instances.one_hot_labels(rng, n, C)
    K = steady_state(instances.generic_kernel(rng, n), Y, parameters["lam"], parameters["mu"])
    law = water_filling_spectrum(Y, parameters["lam"], parameters["mu"])
    spectrum = np.sort(np.linalg.eigvalsh(K))[::-1]
    scale = max(law.max(), np.finfo(float).tiny)
    return {"rank": numerical_rank(K, TOL.rank_rtol), "rank - C": numerical_rank(K, TOL.rank_rtol) - C,
            "law error": float(np.abs(spectrum[: law.size] - law).max() / scale)}


#: environment variable naming a folder where "fails-when" cells with die_once = true leave a marker
DIE_ONCE_FOLDER = "KFLOW_SWEEP_DIE_ONCE"


def _fails_when(parameters: dict, seed: int) -> dict:
    import os
    import time
    from pathlib import Path

    if parameters["fail"]:
        raise RuntimeError(f"this cell fails on purpose (seed {seed})")
    folder = os.environ.get(DIE_ONCE_FOLDER)
    if parameters["die_once"] and folder:  # the first attempt kills its worker process, mid-cell
        marker = Path(folder) / f"died-{seed}-{parameters['seconds']}"
        if not marker.exists():
            marker.write_text("died")
            os._exit(1)
    time.sleep(parameters["seconds"])
    return {"value": float(seed) + parameters["seconds"]}


register_study(SweepStudy(
    "two-layer-network", "a two-layer network trained with weight decay on digits or a Gaussian mixture (T10)",
    {"data": Parameter("choice", "gaussian-mixture", choices=("digits", "gaussian-mixture")),
     "activation": Parameter("choice", "relu", choices=("relu", "linear")),
     "width": Parameter("int", 64, 1, 4096), "decay": Parameter("float", 1.0, 0.0, 100.0),
     "batch_size": Parameter("int", 0, 0, 10_000), "n": Parameter("int", 100, 10, 1797),
     "horizon": Parameter("float", 2.0, 1e-3, 100.0)},
    ("numerical rank", "effective rank", "outside top-C", "NC1 end", "C", "effective rank - C", "objective end"),
    _two_layer_network))
register_study(SweepStudy(
    "kernel-steady-state", "the certified steady state of the kernel flow for one-hot labels (T3, T4)",
    {"n": Parameter("int", 40, 2, 2000), "C": Parameter("int", 3, 1, 100),
     "lam": Parameter("float", 0.1, 1e-6, 1e6), "mu": Parameter("float", 0.05, 1e-6, 1e6)},
    ("rank", "rank - C", "law error"), _kernel_steady_state))
register_study(SweepStudy(
    "fails-when", "for testing the runner: raises when fail is true, else sleeps",
    {"fail": Parameter("choice", False, choices=(False, True)), "seconds": Parameter("float", 0.0, 0.0, 60.0),
     "die_once": Parameter("choice", False, choices=(False, True))},
    ("value",), _fails_when))
