"""The architecture is a rule, not a comment: import contracts, public surfaces, names per claim id.

- The import contracts of ``.importlinter`` hold for the repository, and each one breaks when a
  violating import is planted in a scratch copy of the packages (the contract file can fail).
- No module imports another module's underscore names; the scanner flags a planted violation.
- For every claim id Tk one glob, ``**/*tk_*``, finds its derivation, claim module, tests and notebook.
- Every layer package re-exports its modules' public names explicitly (``X as X``), none shadowing a
  submodule, and the derivations are verbs (``theory.derive_*``).
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import theory
import verify
import verify.claims

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
LAYERS = ("core", "flows", "truth", "experiments", "claims", "campaign")
#: run as ``__main__`` (``python -m``), so its package does not import it (runpy would import it twice)
ENTRY_POINTS = {"verify.campaign.cli"}
CLAIM_IDS = [f"T{k}" for k in range(1, 11)] + ["E1", "E2"]  # the theory's claims, the worked extensions


def contract_ids() -> list[str]:
    return [line.strip()[len("[importlinter:contract:"):-1] for line in CONFIG.read_text().splitlines()
            if line.strip().startswith("[importlinter:contract:")]


def lint(where: Path, contract: str | None = None) -> subprocess.CompletedProcess:
    """Run import-linter on the packages under ``where`` (found first on the path) in a fresh process."""
    limit = (contract,) if contract else ()
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename='.importlinter', limit_to_contracts={limit!r}, "
            "no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([sys.executable, "-c", code], cwd=where, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_import_contracts_hold():
    assert set(contract_ids()) == {"theory-never-imports-verify", "truth-never-imports-theory",
                                   "core-never-imports-theory", "verify-layers", "no-cycles"}
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


#: contract id → (file of a scratch copy, an import that violates the contract)
VIOLATIONS = {
    "theory-never-imports-verify": ("theory/certify.py", "import verify.core.tolerances"),
    "truth-never-imports-theory": ("verify/truth/instances.py", "import theory.notation"),
    "core-never-imports-theory": ("verify/core/linalg.py", "from theory import losses"),
    "verify-layers": ("verify/flows/kernel_flow.py", "from verify.claims.registry import Claim"),
    "no-cycles": ("theory/limits.py", "import theory.certify"),
}
#: violations that reach the forbidden package only through another module
INDIRECT = {
    "truth-never-imports-theory": ("verify/truth/instances.py", "import verify.flows.codegen"),
    "verify-layers": ("verify/experiments/data.py", "import verify.campaign.report"),
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the two packages and the contract file, where violations may be planted."""
    base = tmp_path_factory.mktemp("architecture")
    for package in ("theory", "verify"):
        shutil.copytree(ROOT / package, base / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, base / ".importlinter")
    return base


@pytest.mark.parametrize("contract, violation", [*VIOLATIONS.items(), *INDIRECT.items()],
                         ids=[*VIOLATIONS, *(f"{c}-indirect" for c in INDIRECT)])
def test_each_contract_breaks_when_a_violation_is_planted(scratch, contract, violation):
    path, statement = violation
    target = scratch / path
    original = target.read_text()
    try:
        target.write_text(original + f"\n{statement}  # planted by the architecture test\n")
        result = lint(scratch, contract)
    finally:
        target.write_text(original)
    assert result.returncode != 0, f"{contract} kept with {statement!r} in {path}:\n{result.stdout}"
    assert "BROKEN" in result.stdout
    assert lint(scratch, contract).returncode == 0  # the copy itself keeps it: the planted line broke it


# --------------------------------------------------------------------------------------------------
# underscore names

def underscore_imports(source: str) -> list[str]:
    """``from theory/verify… import _x`` and ``alias._x`` where alias is an imported theory/verify module."""
    tree = ast.parse(source)
    ours = ("theory", "verify")
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ours:
                    aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ours and not node.level:
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                elif a.name[:1].islower():  # possibly a module imported by name
                    aliases.add(a.asname or a.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, (ast.Name, ast.Attribute))):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if root.id in aliases and root.id not in {"self", "cls"}:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def python_sources():
    for folder in ("theory", "verify", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield path.relative_to(ROOT), "\n".join(line for line in code.splitlines() if not line.startswith(("%", "!")))


def test_no_module_imports_another_modules_underscore_names():
    offences = {str(path): found for path, source in python_sources() if (found := underscore_imports(source))}
    assert not offences, offences


@pytest.mark.parametrize("source", [
    "from verify.flows.kernel_flow import _check_kernels",
    "from theory.certify import Step, _name",
    "import verify.flows.kernel_ode as ko\nko._COMPLEX_STEP",
    "from verify.flows import kernel_flow\nkernel_flow._weights(3)",
    "import theory\ntheory.t3_water_filling._fillable_parameters()",
])
def test_the_underscore_scanner_flags_a_planted_import(source):
    assert underscore_imports(source)


@pytest.mark.parametrize("source", [
    "def _helper(): pass\n_helper()",
    "from verify.flows.kernel_flow import steady_state\nclass A:\n    def f(self): return self._x",
    "import numpy as np\nnp._NoValue",
])
def test_the_underscore_scanner_leaves_a_modules_own_private_names_alone(source):
    assert not underscore_imports(source)


# --------------------------------------------------------------------------------------------------
# one name per claim id

@pytest.mark.parametrize("claim", CLAIM_IDS)
def test_one_glob_finds_everything_about_a_claim(claim):
    prefix = claim[0].lower() + claim[1:]  # t7 for T7, e1 for the extension E1
    found = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(f"**/*{prefix}_*")
                   if ".git" not in p.parts and "__pycache__" not in p.parts and not p.name.startswith("."))
    kinds = {
        "derivation": [f for f in found if f.startswith("theory/")],
        "claim": [f for f in found if f.startswith("verify/claims/")],
        "tests": [f for f in found if f.startswith("tests/")],
        "notebook": [f for f in found if f.startswith("notebooks/")],
    }
    assert len(kinds["claim"]) == 1 and kinds["tests"] and len(kinds["notebook"]) == 1, found
    # T10 has no derivation: it is a finding about trained networks, not a theorem
    assert (not kinds["derivation"]) if claim == "T10" else kinds["derivation"], found
    assert claim in theory.DERIVATIONS or claim == "T10"
    # and the glob finds nothing else's (t1_ never matches t10_)
    assert all(f"{prefix}_" in Path(f).name for f in found)


def test_every_registered_claim_lives_in_its_numbered_module():
    for claim_id, claim in verify.claims.REGISTRY.items():
        module = claim.check.__module__
        assert module.startswith(f"verify.claims.{claim_id[0].lower()}{claim_id[1:]}_"), (claim_id, module)


def test_derivations_are_verbs_and_each_lives_in_its_numbered_module():
    for claim_id, (_, build) in theory.DERIVATIONS.items():
        function = build.__code__.co_names
        derive = [name for name in function if name.startswith("derive_")]
        assert len(derive) == 1, (claim_id, function)
        assert getattr(theory, derive[0]).__module__.startswith(f"theory.{claim_id[0].lower()}{claim_id[1:]}_"), claim_id


# --------------------------------------------------------------------------------------------------
# explicit public surfaces

def public_definitions(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and (not n.isupper() or len(n) > 1)}


def submodules(package) -> list[str]:
    return [info.name for info in pkgutil.iter_modules(package.__path__)]


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer != "claims"])
def test_each_layer_re_exports_its_public_names_explicitly(layer):
    package = importlib.import_module(f"verify.{layer}")
    init = ast.parse(Path(package.__file__).read_text())
    imports = [node for node in init.body if isinstance(node, ast.ImportFrom)]
    assert imports and all(a.asname == a.name for node in imports for a in node.names), \
        f"verify/{layer}/__init__.py re-exports with `X as X` only"
    exported = {a.name for node in imports for a in node.names}
    defined: dict[str, list[str]] = {}
    for name in submodules(package):
        if f"verify.{layer}.{name}" in ENTRY_POINTS:
            continue
        for symbol in public_definitions(importlib.import_module(f"verify.{layer}.{name}")):
            defined.setdefault(symbol, []).append(name)
    unique = {symbol for symbol, where in defined.items() if len(where) == 1}
    assert unique <= exported, sorted(unique - exported)
    # a name defined in two modules is not re-exported (it would hide one of them)
    assert not exported & {symbol for symbol, where in defined.items() if len(where) > 1}
    # and no re-exported name hides a submodule of the package
    assert not exported & set(submodules(package))


def test_theory_exports_every_derivation():
    for path in sorted((ROOT / "theory").glob("t*_*.py")):
        module = importlib.import_module(f"theory.{path.stem}")
        derive = [n for n in public_definitions(module) if n.startswith("derive_")]
        assert derive, path
        for name in derive:
            assert getattr(theory, name) is getattr(module, name), name


def test_claim_modules_import_no_other_claim_module():
    for name in submodules(verify.claims):
        tree = ast.parse(Path(importlib.import_module(f"verify.claims.{name}").__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("verify.claims.t"):
                pytest.fail(f"verify/claims/{name}.py imports {node.module}: share it through verify.claims.shared")
