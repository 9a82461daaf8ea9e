"""A sweep specification (TOML) and the cells it expands to, validated before anything runs.

    study = "two-layer-network"          # a registered study (verify.campaign.sweep_studies.STUDIES)
    seeds = [0, 1, 2]                    # or: seeds = 3 (seeds 0, 1, 2)
    metrics = ["effective rank", "outside top-C"]   # optional: keep only these (default: all the study returns)

    [grid]                               # every combination of these values
    width = [16, 64, 256]
    decay = [0.01, 0.1, 1.0]

    [random]                             # optional: samples drawn once, seeded, combined with the grid
    lr = { log_uniform = [1e-4, 1e-2], samples = 3 }

Every parameter must be one the study declares, every value of the type and range it declares; a parameter not
given takes the study's default. A cell is (parameters, seed); its id is a hash of the study, the parameters, the
seed and the code revision, so a cell's result is never mistaken for another's, and the same sweep at the same
revision has the same ids (what ``--resume`` relies on).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from verify.campaign.sweep_studies import STUDIES, SpecError

#: the most cells one spec may expand to (a typo in a grid should not start a million runs)
MAX_CELLS = 100_000
DISTRIBUTIONS = ("uniform", "log_uniform", "choice")


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: the study's parameters (defaults filled in), the seed, and its id."""

    study: str
    parameters: dict
    seed: int
    id: str = field(compare=False)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (:func:`load_spec`, :func:`parse_spec`): the registered ``study``, the
    ``seeds``, the ``grid`` {parameter: values}, the ``random`` parameters {parameter: distribution}, the ``metrics``
    kept (None: all the study returns) and the ``source`` it was read from; :meth:`cells` expands it."""

    study: str
    seeds: tuple
    grid: dict
    random: dict
    metrics: tuple | None
    source: str = ""

    def cells(self, revision: str) -> list[Cell]:
        """Every cell of the sweep, in a fixed order (grid × random samples × seeds)."""
        study = STUDIES[self.study]
        names = sorted(self.grid)
        combos = [dict(zip(names, values)) for values in itertools.product(*(self.grid[k] for k in names))] or [{}]
        samples = _random_samples(self.random)
        out = []
        for combo in combos:
            for sample in samples:
                parameters = {**study.defaults(), **combo, **sample}
                for seed in self.seeds:
                    out.append(Cell(self.study, parameters, int(seed), cell_id(self.study, parameters, seed, revision)))
        return out


def cell_id(study: str, parameters: dict, seed: int, revision: str) -> str:
    """A stable id from the study, the parameters (sorted), the seed and the code revision (16 hex digits)."""
    text = json.dumps({"study": study, "parameters": parameters, "seed": int(seed), "revision": revision},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _random_samples(random: dict) -> list[dict]:
    """The random part: for each parameter its samples (seeded by the parameter's name), combined in lockstep:
    sample k takes the k-th draw of every parameter (all must ask for the same number)."""
    if not random:
        return [{}]
    counts = {spec["samples"] for spec in random.values()}
    count = counts.pop()
    draws = {}
    for name, spec in sorted(random.items()):
        rng = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
        kind = next(k for k in DISTRIBUTIONS if k in spec)
        if kind == "uniform":
            low, high = spec[kind]
            draws[name] = [float(x) for x in rng.uniform(low, high, count)]
        elif kind == "log_uniform":
            low, high = spec[kind]
            draws[name] = [float(math.exp(x)) for x in rng.uniform(math.log(low), math.log(high), count)]
        else:
            draws[name] = [spec[kind][i] for i in rng.integers(0, len(spec[kind]), count)]
    return [{name: draws[name][k] for name in draws} for k in range(count)]


def load_spec(path) -> SweepSpec:
    """Read and validate the TOML spec at ``path`` (SpecError naming what is wrong)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"spec: cannot read {path}: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec: {path} is not valid TOML: {exc}") from None
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict, source: str = "") -> SweepSpec:
    """Validate a spec given as a dict (the parsed TOML)."""
    unknown = set(raw) - {"study", "seeds", "grid", "random", "metrics"}
    if unknown:
        raise SpecError(f"spec: unknown key(s) {sorted(unknown)}; expected study, seeds, grid, random, metrics")
    study_name = raw.get("study")
    if study_name not in STUDIES:
        raise SpecError(f"study: {study_name!r} is not a registered study; known: {', '.join(sorted(STUDIES))}")
    study = STUDIES[study_name]
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list)):
        raise SpecError(f"seeds: expected a count (int ≥ 1) or a list of ints, got {seeds!r}")
    seeds = list(range(seeds)) if isinstance(seeds, int) else seeds
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise SpecError(f"seeds: expected a count ≥ 1 or a non-empty list of ints ≥ 0, got {raw.get('seeds')!r}")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"seeds: repeated seeds {seeds}")
    grid = raw.get("grid", {})
    if not isinstance(grid, dict):
        raise SpecError("grid: expected a table of parameter = [values]")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid.{name}: expected a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise SpecError(f"grid.{name}: repeated values {values}")
        for value in values:
            study.check(name, value, where=f"grid.{name}")
    random = raw.get("random", {})
    if not isinstance(random, dict):
        raise SpecError("random: expected a table of parameter = { distribution = ..., samples = N }")
    for name, spec in random.items():
        _check_random(study, name, spec)
        if name in grid:
            raise SpecError(f"random.{name}: {name} is already in the grid")
    if len({spec["samples"] for spec in random.values()}) > 1:
        raise SpecError("random: every parameter must draw the same number of samples (they are combined in lockstep)")
    metrics = raw.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
            raise SpecError(f"metrics: expected a non-empty list of names, got {metrics!r}")
        unknown = [m for m in metrics if m not in study.metrics]
        if unknown:
            raise SpecError(f"metrics: {unknown} are not metrics of {study_name}; it returns {list(study.metrics)}")
    spec = SweepSpec(study_name, tuple(seeds), grid, random, tuple(metrics) if metrics else None, source)
    count = _count(spec)
    if count > MAX_CELLS:
        raise SpecError(f"grid: the spec expands to {count} cells, more than {MAX_CELLS}; split it")
    return spec


def _count(spec: SweepSpec) -> int:
    grid = math.prod(len(v) for v in spec.grid.values()) if spec.grid else 1
    random = next(iter({s["samples"] for s in spec.random.values()}), 1)
    return grid * random * len(spec.seeds)


def _check_random(study, name: str, spec) -> None:
    where = f"random.{name}"
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: expected {{ uniform|log_uniform|choice = ..., samples = N }}, got {spec!r}")
    kinds = [k for k in DISTRIBUTIONS if k in spec]
    if len(kinds) != 1 or set(spec) - {kinds[0], "samples"}:
        raise SpecError(f"{where}: expected exactly one of {DISTRIBUTIONS} and samples, got keys {sorted(spec)}")
    samples = spec.get("samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SpecError(f"{where}.samples: expected an int ≥ 1, got {samples!r}")
    kind, value = kinds[0], spec[kinds[0]]
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise SpecError(f"{where}.choice: expected a non-empty list, got {value!r}")
        for v in value:
            study.check(name, v, where=f"{where}.choice")
        return
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):
        raise SpecError(f"{where}.{kind}: expected [low, high], got {value!r}")
    low, high = value
    if not low < high or (kind == "log_uniform" and low <= 0):
        raise SpecError(f"{where}.{kind}: expected low < high" + (" and low > 0" if kind == "log_uniform" else "")
                        + f", got {value!r}")
    study.check(name, low, where=f"{where}.{kind}")
    study.check(name, high, where=f"{where}.{kind}")
