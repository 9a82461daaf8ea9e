"""Mutation testing of theory/ and the numeric core of verify/ with mutmut 3 (see docs/quality.md).

Each *group* mutates one or a few modules against a targeted test selection, in its own snapshot of
the repository under ``--workdir`` (default /tmp/kfmut/<group>): mutmut's ``mutants/`` copy never
lands in the work tree and other people's uncommitted edits never land in the run.

    pip install 'mutmut==3.8.1'
    python benchmarks/mutation.py --list
    python benchmarks/mutation.py certify verdict          # run groups (snapshot of HEAD)
    python benchmarks/mutation.py --source worktree linalg  # snapshot of the work tree instead
    python benchmarks/mutation.py --canary                 # the cache check described below
    python benchmarks/mutation.py --report                 # print the table from the saved results

Caches. Derivations (``theory.derive_*``, ``theory.derive_water_filling`` ...) and generated code in verify
are ``functools.lru_cache``'d, and mutmut forks every mutant from a process that has already run the
tests once (to learn which tests reach which function): a warm cache would hand the mutant the
original's result. The snapshot therefore gets a root ``conftest.py`` with an autouse fixture that
calls ``cache_clear()`` on every lru_cache'd callable of ``theory`` and ``verify`` before every test
(doctests included), so each test re-executes the (mutated) code. ``--canary`` checks this: it
plants the known-bad mutation μΦ → 2μΦ in T1's feature gradient (``theory/gradients.py``) as a
mutmut mutant and expects it killed; with ``KF_MUTATION_KEEP_CACHES=1`` (cache clearing off) the
same mutant survives, which shows the fixture is what kills it.

Sampling. mutmut generates about 10 000 mutants for these modules; on 2 shared cores a mutant costs
1–10 s (a fork, pytest, and the SymPy or NumPy work of its tests). A group with more mutants than
its ``sample`` runs a seeded uniform random sample of them (``--sample 0`` runs all). The sampled
names are saved with the results, so a rerun tests the same mutants.

Results go to benchmarks/mutation_results/<group>.json (counts, the status of every tested mutant,
the diff of every survivor); benchmarks/mutation_equivalent.json holds the survivors judged
equivalent (mutant name → reason), which the report subtracts from the denominator.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "mutation_results"
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.json"
MUTMUT = "mutmut==3.8.1"

#: group → modules to mutate, test selection (paths, node ids; module paths run their doctests), sample size
GROUPS = {
    "certify": dict(mutate=["theory/certify.py"], sample=80,
                    tests=["theory/certify.py", "tests/test_certify.py", "tests/test_kill_certify.py",
                           "tests/test_mutants.py::test_T1_feature_gradient_with_twice_the_decay_is_rejected",
                           "tests/test_mutants.py::test_T3_time_to_reach_with_the_constant_added_is_rejected",
                           "tests/test_derivation_certificates.py::test_step_is_present_and_certified"
                           "[T1-2-feature gradient]"]),
    "mutation": dict(mutate=["theory/mutation.py"], sample=50,
                     tests=["theory/mutation.py", "tests/test_kill_mutation.py",
                            "tests/test_mutants.py::test_every_step_rejects_every_mutant_of_its_rhs[T1-2]",
                            "tests/test_mutants.py::test_every_step_rejects_every_mutant_of_its_rhs[T3-2]",
                            "tests/test_mutants.py::test_every_step_rejects_every_mutant_of_its_rhs[T4-2]"]),
    "matrix_algebra": dict(mutate=["theory/matrix_algebra.py"], sample=80,
                           tests=["theory/matrix_algebra.py", "tests/test_certify.py",
                                  "tests/test_kill_matrix_algebra.py"]),
    "losses": dict(mutate=["theory/losses.py", "theory/loss_parser.py"], sample=60,
                   tests=["theory/losses.py", "theory/loss_parser.py", "tests/test_losses.py",
                          "tests/test_kill_losses.py", "tests/test_convexity.py"]),
    "verdict": dict(mutate=["verify/core/verdict.py", "verify/claims/common.py"], sample=0,
                    tests=["verify/core/verdict.py", "verify/claims/common.py", "tests/test_judges.py",
                           "tests/test_kill_verdict.py"]),
    "linalg": dict(mutate=["verify/core/linalg.py", "verify/core/validation.py"], sample=60,
                   tests=["verify/core/linalg.py", "verify/core/validation.py", "tests/test_judges.py",
                          "tests/test_validation.py", "tests/test_kill_linalg.py"]),
    "water_filling": dict(mutate=["verify/flows/water_filling.py"], sample=40,
                          tests=["verify/flows/water_filling.py", "tests/test_t3_water_filling.py",
                                 "tests/test_t3_kill_numerics.py"]),
    "kernel_ode": dict(mutate=["verify/flows/kernel_ode.py"], sample=40,
                       tests=["verify/flows/kernel_ode.py", "tests/test_t2_kernel_ode.py", "tests/test_codegen.py",
                              "tests/test_kill_kernel_ode.py"]),
    "codegen": dict(mutate=["verify/flows/codegen.py"], sample=50,
                    tests=["verify/flows/codegen.py", "tests/test_codegen.py", "tests/test_kill_codegen.py"]),
    "noise": dict(mutate=["verify/flows/noise.py", "verify/experiments/network_noise.py"], sample=40,
                  tests=["verify/flows/noise.py", "verify/experiments/network_noise.py", "tests/test_t7_noise.py", "tests/test_t7_kill_numerics.py"]),
    "ssl": dict(mutate=["verify/flows/ssl_flow.py"], sample=30,
                tests=["verify/flows/ssl_flow.py", "tests/test_t8_ssl.py", "tests/test_t8_kill_numerics.py"],
                # the campaign entry (75 s) and the no-scikit-learn campaign (38 s): each survivor would run them
                deselect=["tests/test_t8_ssl.py::test_T8_campaign_entry_passes_with_the_contrast_figure",
                          "tests/test_t8_ssl.py::test_T8_claim_degrades_cleanly_without_scikit_learn"]),
    # derivation modules (slow: every test re-derives): T1's gradients and T3's spectral reduction
    "continuation": dict(mutate=["verify/flows/kkt.py", "verify/flows/continuation.py",
                                 "verify/flows/pseudo_transient.py"], sample=30,
                         tests=["verify/flows/kkt.py", "tests/test_t2_kernel_jacobian.py", "tests/test_continuation.py"]),
    "shifted_solve": dict(mutate=["verify/flows/shifted_solve.py"], sample=20,
                          tests=["tests/test_t2_kernel_jacobian.py"]),
    "ssl_continuation": dict(mutate=["verify/flows/ssl_kkt.py", "verify/flows/ssl_continuation.py"], sample=30,
                             tests=["verify/flows/ssl_kkt.py", "tests/test_ssl_continuation.py"]),
    "convexity": dict(mutate=["theory/convexity.py"], sample=40,
                      tests=["theory/convexity.py", "tests/test_convexity.py"]),
    "derivation_builder": dict(mutate=["theory/derivation_builder.py"], sample=40,
                               tests=["theory/derivation_builder.py", "tests/test_derivation_builder.py"]),
    "extensions": dict(mutate=["verify/flows/extensions.py"], sample=25,
                       tests=["verify/flows/extensions.py",
                              "tests/test_e1_readout_bias.py::test_E1_generated_rhs_equals_a_direct_numpy_formula",
                              "tests/test_e1_readout_bias.py::test_E1_flow_agrees_with_the_direct_minimiser_and_the_"
                              "model_without_bias_has_rank_C",
                              "tests/test_e1_readout_bias.py::test_E1_arguments_are_validated",
                              "tests/test_e2_kernel_penalty.py::test_E2_level_solves_the_cubic_below_T3_and_vanishes_"
                              "below_the_threshold",
                              "tests/test_e2_kernel_penalty.py::test_E2_flow_agrees_with_the_direct_minimiser_and_"
                              "rejects_T3s_law",
                              "tests/test_e2_kernel_penalty.py::test_E2_arguments_are_validated",
                              "tests/test_e2_kernel_penalty.py::test_E2_law_spectrum_is_the_level_of_each_label_"
                              "eigenvalue_descending",
                              "tests/test_e1_readout_bias.py::test_E1_errors_name_the_argument_and_an_unconverged_"
                              "flow_says_so",
                              "tests/test_e2_kernel_penalty.py::test_E2_errors_name_the_argument",
                              "tests/test_e2_kernel_penalty.py::test_E2_level_refuses_a_penalty_whose_scale_overflows",
                              "tests/test_e1_readout_bias.py::test_E1_a_singular_resolvent_is_named_as_lam"]),
    "gradients": dict(mutate=["theory/gradients.py"], sample=40,
                      tests=["tests/test_t1_readout.py", "tests/test_kill_gradients.py",
                             *(f"tests/test_derivation_certificates.py::test_step_is_present_and_certified[T1-2-{s}]"
                               for s in ("output gradient", "readout gradient", "feature gradient")),
                             "tests/test_mutants.py::test_every_step_rejects_every_mutant_of_its_rhs[T1-2]",
                             "tests/test_mutants.py::test_T1_feature_gradient_with_twice_the_decay_is_rejected"]),
    "spectral": dict(mutate=["theory/t3_water_filling.py"], sample=30,
                     tests=["tests/test_t3_kill_derivation.py",
                            *(f"tests/test_derivation_certificates.py::test_step_is_present_and_certified[T3-2-{s}]"
                              for s in ("commuting reduction", "fixed points", "threshold", "stability",
                                        "time to reach")),
                            "tests/test_mutants.py::test_every_step_rejects_every_mutant_of_its_rhs[T3-2]",
                            "tests/test_mutants.py::test_T3_time_to_reach_with_the_constant_added_is_rejected"]),
    # the other derivation modules: each against its claim's test file and the certificate and mutant tests of
    # its claim at C = 2 ("claim": expanded in the snapshot by collecting those node ids)
    # (group names are those of the first runs, kept so that docs/quality.md's history reads on)
    **{f"theory_{group}": dict(mutate=[f"theory/{module}.py"], sample=sample, claim=claim,
                   tests=[f"theory/{module}.py", *tests, f"tests/test_{claim.lower()}_kill_derivation.py"],
                   deselect=deselect)
       for group, module, claim, sample, tests, deselect in (
           ("readout", "t1_readout", "T1", 20, ["tests/test_t1_readout.py"], []),
           ("kernel_ode", "t2_kernel_ode", "T2", 20, ["tests/test_t2_kernel_ode.py"], []),
           ("steady_state", "t4_rank_lemma", "T4", 20, ["tests/test_t4_rank.py"], []),
           ("coupled", "t5_coupled", "T5", 15, ["tests/test_t5_coupled.py"], []),
           ("stability", "t6_stability", "T6", 15, ["tests/test_t6_stability.py"], []),
           ("noise", "t7_noise", "T7", 20, ["tests/test_t7_noise.py"], []),
           ("ssl", "t8_ssl", "T8", 15, ["tests/test_t8_ssl.py"],
            ["tests/test_t8_ssl.py::test_T8_campaign_entry_passes_with_the_contrast_figure",
             "tests/test_t8_ssl.py::test_T8_claim_degrades_cleanly_without_scikit_learn"]),
           # the registry test asserts the cached derivation's identity, which clearing the caches changes
           ("fixed_features", "t9_fixed_features", "T9", 20, ["tests/test_t9_compression.py"],
            ["tests/test_t9_compression.py::test_T9_every_step_is_certified_and_registered"]))},
    # the model engine (derive_model): the objective language, the normal form and its rules, the derivation, the
    # objective in K and its convexity — against the model tests that derive and certify, without those that also
    # integrate steady states (numerics, not the engine; each survivor would run them) or run subprocesses
    "model_engine": dict(mutate=["theory/objective_language.py", "theory/matrix_terms.py",
                                 "theory/model_derivation.py", "theory/kernel_objective.py"], sample=40,
                         tests=["theory/objective_language.py", "theory/matrix_terms.py", "theory/model_derivation.py",
                                "theory/kernel_objective.py", "tests/test_model_derivation.py",
                                "tests/test_model_convexity.py", "tests/test_kill_model_engine.py"],
                         deselect=[f"tests/test_model_derivation.py::test_model_{name}" for name in (
                             "readme_example_runs_word_for_word", "cli_refuses_in_one_line",
                             "rank_bound_holds_at_the_computed_steady_state", "claim_passes_on_the_baseline")]
                         + [f"tests/test_model_convexity.py::test_model_{name}" for name in (
                             "certified_convex_objective_is_midpoint_convex_from_values_alone",
                             "continuation_is_certified_and_agrees_with_the_trajectory",
                             "kkt_certificate_rejects_a_scaled_kernel_and_an_emptied_mode",
                             "nonconvex_model_uses_the_trajectory_and_says_what_its_certificate_means")]),
    # the canary: T1's gradients against T1's tests (see --canary)
    "canary": dict(mutate=["theory/gradients.py"], sample=0,
                   tests=["tests/test_t1_readout.py",
                          "tests/test_derivation_certificates.py::test_step_is_present_and_certified"
                          "[T1-2-feature gradient]"]),
}

CONFTEST = '''"""Mutation run only (written by benchmarks/mutation.py): clear every lru_cache of theory and verify
before each test, so that a mutant forked from a warm process re-executes the mutated code. (theory
never calls verify: when only verify modules are mutated, theory's caches are kept.)"""
import os
import sys

import pytest

CLEARED = {cleared!r}


def pytest_sessionstart(session):
    """Import the test modules afresh in every pytest run of this process: pytest escapes explicit
    parametrize ids in place, so a second in-process collection (mutmut runs pytest several times in one
    process) would escape them twice and not find the node ids it was given (test_losses' '\\n' ids)."""
    for name in [n for n in sys.modules if n.startswith(("test_", "tests."))]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _kf_mutation_clear_caches():
    if os.environ.get("KF_MUTATION_KEEP_CACHES") != "1":
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in CLEARED:
                for value in list(vars(module).values()):
                    clear = getattr(value, "cache_clear", None)
                    if callable(clear):
                        clear()
    yield
'''

#: the mutant of GradientDerivation.__init__ that flips the decay's sign is rewritten to μΦ → 2μΦ
CANARY_FUNCTION = "xǁGradientDerivationǁ__init____mutmut_"
CANARY_FROM = "self.feature_gradient = nt.W.T * nt.G - nt.mu * nt.Phi"
CANARY_TO = "self.feature_gradient = nt.W.T * nt.G + 2 * nt.mu * nt.Phi"

#: mutmut's exit codes; 2 is pytest's "interrupted", which here means that the mutant broke test collection
#: (e.g. a loss constructor that raises while a test module builds its parameters): detected, so killed
STATUS = {1: "killed", 2: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", 37: "type check", None: "not checked"}


def snapshot(group: str, workdir: Path, source: str, commit: str | None = None, kill_tests: bool = False) -> Path:
    """A fresh copy of the repository (HEAD, ``commit`` or the work tree) with the mutation conftest and config.

    With ``commit``, the sources are that commit's (so mutant names match a saved run) and tests/ is HEAD's."""
    spec = GROUPS[group]
    target = workdir / group
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if source == "head" or commit:
        for tree, paths in ((commit or "HEAD", []), ("HEAD", ["tests"]) if commit else (None, None)):
            if tree is None:
                continue
            archive = subprocess.run(["git", "archive", tree, *paths], cwd=ROOT, check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    else:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                               capture_output=True).stdout.decode().split("\0")
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, target / name)
    write_config(target, spec, kill_tests)
    return target


def write_config(target: Path, spec: dict, kill_tests: bool) -> None:
    """The mutation conftest and [tool.mutmut]; ``kill_tests``: whether the selection includes tests/test_kill_*
    (the tests written to kill the survivors of a first run: left out of the "before" run, in the "after" run)."""
    mutates_theory = any(m.startswith("theory/") for m in spec["mutate"])
    cleared = ("theory", "verify") if mutates_theory else ("verify",)
    (target / "conftest.py").write_text(CONFTEST.replace("{cleared!r}", repr(cleared)))
    tests = [t for t in spec["tests"] if (target / t.split("::")[0]).exists()
             and (kill_tests or not t.startswith("tests/test_kill_"))]
    if spec.get("claim"):
        tests += claim_node_ids(target, spec["claim"])
    pyproject = (target / "pyproject.toml").read_text().split("\n[tool.mutmut]")[0]
    config = {
        "source_paths": ["theory", "verify"],
        "only_mutate": spec["mutate"],
        "also_copy": ["conftest.py", "docs"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-m", "not slow", "-p", "no:cacheprovider"]
                               + [arg for test in spec.get("deselect", ()) for arg in ("--deselect", test)],
        "timeout_multiplier": 5.0,
        "timeout_constant": 2.0,
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in config.items()]
    (target / "pyproject.toml").write_text(pyproject.rstrip("\n") + "\n" + "\n".join(lines) + "\n")


def claim_node_ids(target: Path, claim: str) -> list[str]:
    """The node ids of the certificate and mutant tests of ``claim`` at C = 2 (ids ``[T4-2-…]``, ``[T4-2]``)
    and of the named mutant tests (``test_T4_…``) in tests/test_derivation_certificates.py and tests/test_mutants.py."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "tests/test_derivation_certificates.py", "tests/test_mutants.py"],
                         cwd=target, capture_output=True, text=True, check=True).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    return [i for i in ids if f"[{claim}-2" in i or f"::test_{claim}_" in i]


def generated_mutants(target: Path, spec: dict) -> list[str]:
    names = []
    for module in spec["mutate"]:
        meta = target / "mutants" / (module + ".meta")
        names += sorted(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def mutmut(target: Path, *args: str, env=None, check=True) -> subprocess.CompletedProcess:
    environment = dict(os.environ, HYPOTHESIS_PROFILE="ci", **(env or {}))
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=target, env=environment, check=check,
                          text=True, capture_output=True)


def generate(target: Path) -> None:
    """Generate mutants without running anything (mutmut writes mutants/ and the .meta files)."""
    code = ("import sys; sys.argv = ['mutmut']\n"
            "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants\n"
            "import os; os.makedirs('mutants', exist_ok=True)\n"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n")
    subprocess.run([sys.executable, "-c", code], cwd=target, check=True, capture_output=True)


def show_diffs(target: Path, names: list[str]) -> dict[str, str]:
    """``mutmut show`` for many mutants in one process."""
    code = ("import json, sys; names = json.loads(sys.stdin.read()); sys.argv = ['mutmut']\n"
            "from mutmut.mutation.diff_apply import get_diff_for_mutant\n"
            "print(json.dumps({n: get_diff_for_mutant(n) for n in names}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=target, input=json.dumps(names), text=True,
                         capture_output=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def statuses(target: Path, spec: dict) -> dict[str, str]:
    out = {}
    for module in spec["mutate"]:
        meta = json.loads((target / "mutants" / (module + ".meta")).read_text())
        for name, code in meta["exit_code_by_key"].items():
            out[name] = STATUS.get(code, f"suspicious ({code})")
    return out


def run_group(group: str, args) -> dict:
    spec = GROUPS[group]
    target = args.workdir / group
    previous = RESULTS / (f"{group}.check.json" if args.check and args.survivors else f"{group}.json")
    if args.survivors:  # the "after" run: rerun the saved survivors with the current tests
        if not previous.exists():
            raise SystemExit(f"no saved results for {group}: run it first")
        before = json.loads(previous.read_text())
        selected = [n for n, s in before["status"].items() if s in ("survived", "timeout", "no tests")]
        # HEAD's sources with HEAD's tests (tests may need newer sources); mutmut numbers mutants per function,
        # so a survivor is the same mutant when its diff is unchanged — one whose function changed is left out
        target = snapshot(group, args.workdir, args.source, kill_tests=True)
        generate(target)
        now = show_diffs(target, [n for n in selected if n in set(generated_mutants(target, spec))])
        def body(diff):  # `mutmut show` heads its diff with "# name: status"
            return "\n".join(line for line in (diff or "").strip().splitlines() if not line.startswith("# "))

        stale = [n for n in selected if body(now.get(n)) != body(before.get("diffs", {}).get(n))]
        if stale:
            print(f"[{group}] left out (their function changed since the first run): {stale}", flush=True)
        selected = [n for n in selected if n not in stale]
    else:
        before = None
        target = snapshot(group, args.workdir, args.source, kill_tests=args.check)
        generate(target)
        names = generated_mutants(target, spec)
        if args.check:  # a fresh sample, with the kill tests: mutants that the first run did not try
            tried = json.loads(previous.read_text())["status"] if previous.exists() else {}
            names = [n for n in names if n not in tried]
        sample = spec["sample"] if args.sample is None else args.sample
        seed = args.seed + 1 if args.check else args.seed
        selected = sorted(random.Random(seed).sample(names, sample)) if 0 < sample < len(names) else names
    if not selected:
        return before
    started = time.monotonic()
    print(f"[{group}] {len(selected)} mutants of {spec['mutate']} (tests: {spec['tests']})", flush=True)
    run = mutmut(target, "run", "--max-children", str(args.max_children), *selected, check=False)
    (args.workdir / f"{group}.log").write_text(run.stdout + run.stderr)
    seconds = time.monotonic() - started
    status = {n: s for n, s in statuses(target, spec).items() if n in set(selected)}
    if run.returncode != 0 and all(s == "not checked" for s in status.values()):
        print(run.stdout[-3000:], run.stderr[-3000:])
        raise SystemExit(f"[{group}] mutmut failed (log: {args.workdir / (group + '.log')})")
    diffs = show_diffs(target, [n for n, s in status.items() if s != "killed"])
    result = before or {"group": group, "modules": spec["mutate"],
                        "generated": len(generated_mutants(target, spec)), "status": {}}
    result["generated_by_module"] = {m: len(generated_mutants(target, dict(spec, mutate=[m]))) for m in spec["mutate"]}
    if before and "before" not in before:  # the first run's results stay the "before" of every later rerun
        result["before"] = {k: v for k, v in before.items() if k not in ("before", "diffs")}
    if before:
        result["status"] = dict(before["status"])
    result["status"].update(status)
    result.update(tests=spec["tests"], seconds=round(seconds), date=str(date.today()),
                  commit=(before or {}).get("commit") or (
                      subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip() if args.source == "head" else "worktree"),
                  sampled=len(result["status"]), diffs={**result.get("diffs", {}), **diffs})
    result["diffs"] = {n: d for n, d in result["diffs"].items() if result["status"].get(n) != "killed"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{group}.check.json" if args.check else previous).write_text(json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(summary_line(result), flush=True)
    return result


def counts(result: dict, equivalent: dict) -> dict:
    status = result["status"]
    c = {k: sum(1 for s in status.values() if s == k) for k in ("killed", "survived", "timeout", "no tests")}
    c["equivalent"] = sum(1 for n, s in status.items() if s != "killed" and n in equivalent)
    c["survived"] -= sum(1 for n, s in status.items() if s == "survived" and n in equivalent)
    c["no tests"] -= sum(1 for n, s in status.items() if s == "no tests" and n in equivalent)
    c["timeout"] -= sum(1 for n, s in status.items() if s == "timeout" and n in equivalent)
    tested = len(status) - c["equivalent"]
    # a timeout is counted as killed (the mutant made the tests hang), as mutmut's own score does not
    c["rate"] = (c["killed"] + c["timeout"]) / tested if tested else float("nan")
    return c


def summary_line(result: dict) -> str:
    c = counts(result, load_equivalent())
    return (f"{result['group']}: generated {result['generated']}, tested {len(result['status'])}, "
            f"killed {c['killed']}, survived {c['survived']}, equivalent {c['equivalent']}, timeout {c['timeout']}, "
            f"no tests {c['no tests']}, kill rate {c['rate']:.1%} ({result['seconds']} s)")


def load_equivalent() -> dict:
    return json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}


def canary(args) -> None:
    """Plant μΦ → 2μΦ as a mutmut mutant of T1's feature gradient; expect killed, and survived without the fixture."""
    target = snapshot("canary", args.workdir, args.source)
    generate(target)
    mutated = target / "mutants" / "theory" / "gradients.py"
    text = mutated.read_text()
    assert text.count(CANARY_FROM) == 1, "the sign-flip mutant of the feature gradient was not generated"
    before, after = text.split(CANARY_FROM)
    name = before[before.rindex("def " + CANARY_FUNCTION):].split("(")[0][4:]
    mutated.write_text(before + CANARY_TO + after)
    full = "theory.gradients." + name
    outcome = {}
    for label, env in (("caches cleared", {}), ("caches kept (KF_MUTATION_KEEP_CACHES=1)",
                                                 {"KF_MUTATION_KEEP_CACHES": "1"})):
        run = mutmut(target, "run", "--max-children", "1", full, env=env, check=False)
        outcome[label] = statuses(target, GROUPS["canary"])[full]
        print(f"canary {full} ({CANARY_TO.split('= ')[1]}), {label}: {outcome[label]}", flush=True)
        if outcome[label] == "not checked":
            print(run.stdout[-3000:], run.stderr[-3000:])
        for stale in (target / "mutants").glob("mutmut-stats*"):  # collect the stats again, in-process
            stale.unlink()
    ok = outcome["caches cleared"] == "killed"
    print("canary:", "OK" if ok else "FAILED (the planted mutant was not killed)")
    if not ok:
        raise SystemExit(1)


def _module_of(mutant: str) -> str:
    """theory.certify.xǁStepǁrecheck__mutmut_3 → theory/certify.py"""
    head = mutant.split(".xǁ")[0] if ".xǁ" in mutant else mutant.rsplit(".x_", 1)[0]
    return head.replace(".", "/") + ".py"


def _rates(status: dict, equivalent: dict) -> dict:
    killed = sum(1 for s in status.values() if s == "killed")
    timeout = sum(1 for n, s in status.items() if s == "timeout" and n not in equivalent)
    eq = sum(1 for n, s in status.items() if s != "killed" and n in equivalent)
    survived = sum(1 for n, s in status.items() if s in ("survived", "no tests") and n not in equivalent)
    tested = len(status) - eq
    return dict(killed=killed, timeout=timeout, equivalent=eq, survived=survived,
                rate=(killed + timeout) / tested if tested else float("nan"))


def report() -> None:
    """Markdown table per module: kill rate (killed + timeouts) over the non-equivalent sampled mutants,
    before (first run, without tests/test_kill_*) and after (survivors rerun with them)."""
    equivalent = load_equivalent()
    print("| module | generated | sampled | killed | timeouts | equivalent | survived | kill rate before | "
          "kill rate after | fresh sample, with kill tests | group (run time before + after) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for group in GROUPS:
        path = RESULTS / f"{group}.json"
        if not path.exists() or group == "canary":
            continue
        result = json.loads(path.read_text())
        first = result.get("before", result)["status"]
        for module in result["modules"]:
            after = {n: s for n, s in result["status"].items() if _module_of(n) == module}
            before = {n: s for n, s in first.items() if _module_of(n) == module}
            generated = result.get("generated_by_module", {}).get(module, "")
            a, b = _rates(after, equivalent), _rates(before, equivalent)
            done = "before" in result
            check_path = RESULTS / f"{group}.check.json"
            fresh = "not run (all tried)" if len(after) >= (generated or 0) else "not run"
            if check_path.exists():
                check = json.loads(check_path.read_text())
                checked = {n: s for n, s in check["status"].items() if _module_of(n) == module}
                first_check = {n: s for n, s in check.get("before", check)["status"].items() if _module_of(n) == module}
                c, c0 = _rates(checked, equivalent), _rates(first_check, equivalent)
                fresh = (f"{c0['rate']:.1%}" + (f" → {c['rate']:.1%}" if "before" in check else "")
                         + f" of {len(checked) - c['equivalent']}") if checked else "–"
            print(f"| `{module}` | {generated} | {len(after)} | {a['killed']} | {a['timeout']} | {a['equivalent']} | "
                  f"{a['survived']} | {b['rate']:.1%} | {a['rate']:.1%}{'' if done else ' (no rerun yet)'} | {fresh} | "
                  f"{group} ({result.get('before', result)['seconds']} s + "
                  f"{result['seconds'] if 'before' in result else '–'} s) |")


def report_equivalent() -> None:
    """Markdown table of the mutants judged equivalent that the runs met (name, the changed line, reason)."""
    equivalent = load_equivalent()
    print("| mutant | change | why it is equivalent |")
    print("|---|---|---|")
    seen = set()
    for group in GROUPS:
        for path in (RESULTS / f"{group}.json", RESULTS / f"{group}.check.json"):
            if not path.exists() or group == "canary":
                continue
            result = json.loads(path.read_text())
            for name, diff in sorted(result.get("diffs", {}).items()):
                if name not in equivalent or name in seen:
                    continue
                seen.add(name)
                lines = [l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
                change = (lines[0] if lines else "").replace("|", "\\|")
                print(f"| `{name}` | `{change[:90]}` | {equivalent[name]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("groups", nargs="*", help=f"groups to run: {', '.join(GROUPS)}")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kfmut"))
    parser.add_argument("--source", choices=("head", "worktree"), default="head")
    parser.add_argument("--sample", type=int, help="mutants per group (0: all); default per group")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--survivors", action="store_true", help="rerun only the saved survivors (the 'after' run)")
    parser.add_argument("--check", action="store_true",
                        help="a fresh sample (other seed, mutants not tried before) with tests/test_kill_*: an unbiased "
                             "after rate, since the kill tests were written against the first sample's survivors")
    parser.add_argument("--canary", action="store_true")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for group, spec in GROUPS.items():
            print(f"{group}: {spec['mutate']} <- {spec['tests']} (sample {spec['sample'] or 'all'})")
        return
    if shutil.which("mutmut") is None and subprocess.run([sys.executable, "-c", "import mutmut"]).returncode:
        subprocess.run([sys.executable, "-m", "pip", "install", MUTMUT], check=True)
    if args.canary:
        canary(args)
    for group in args.groups:
        run_group(group, args)
    if args.report:
        report()
        print()
        report_equivalent()


if __name__ == "__main__":
    main()
