"""The API reference: Sphinx builds docs/ without a warning, and every public name is in it, with a docstring.

*Public names* are every module of the packages ``theory`` and ``verify`` (found by ``pkgutil.walk_packages``),
every class and function a module defines whose name does not start with ``_``, and every public name the packages
``theory`` and ``verify`` export at their top level (``theory.derive_kernel_ode``, ``verify.TOL``, …).

- The site (docs/conf.py: the Markdown pages of docs/ by MyST, the API by autosummary and autodoc) is built once per
  test session, from a copy of docs/ into a temporary folder (nothing is written into the repository), in a child
  process where the optional dependencies (PyTorch, Dask, pandas, scikit-learn, mnist1d, Numba, CuPy) cannot be
  imported: a fresh ``pip install ".[docs]"`` has none of them. conf.py mocks ``torch`` always, so with PyTorch
  installed the site is the same; the names below are collected with the real PyTorch where it is installed, so a
  name the mock would hide from the site is missed by the check.
- Every warning fails the build (``-W --keep-going``); a planted warning shows that it does.
- :func:`missing_from_inventory` and :func:`undocumented` are the checks; each is shown to report a planted
  undocumented or missing name.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGES = ("theory", "verify")
#: what docs/conf.py mocks (``autodoc_mock_imports``): modules that import these are collected under the same mock
#: where the package is missing
MOCKED = ("torch",)
#: optional dependencies the docs must build without (they are imported lazily, or mocked)
OPTIONAL = ("torch", "dask", "distributed", "pandas", "sklearn", "mnist1d", "numba", "cupy")
#: the build of the whole site must stay well under this (seconds, 2 cores: ~20 s alone, ~40 s beside other tests)
BUILD_BUDGET = 120.0

#: the child process that builds: blocks the optional dependencies, then runs sphinx-build with its arguments
BUILD_SCRIPT = """
import importlib.machinery as machinery
import sys

BLOCKED = set(sys.argv[1].split(","))
_find = machinery.PathFinder.find_spec.__func__


def find_spec(cls, fullname, path=None, target=None):
    if fullname.split(".")[0] in BLOCKED:
        return None  # as if not installed; Sphinx's mock (a finder ahead of this one) still answers while active
    return _find(cls, fullname, path, target)


machinery.PathFinder.find_spec = classmethod(find_spec)
from sphinx.cmd.build import main

sys.exit(main(sys.argv[2:]))
"""


# ------------------------------------------------------------------------------------------------------------------
# the checks


def module_public_names(module: types.ModuleType) -> dict[str, object]:
    """{qualified name: object} of the classes and functions ``module`` defines whose names do not start with ``_``
    (decorated functions count: ``functools.lru_cache`` and ``functools.wraps`` keep the function underneath)."""
    names = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)):
            names[f"{module.__name__}.{name}"] = obj
    return names


def _import(name: str) -> types.ModuleType:
    """``name`` imported; where it needs a package of :data:`MOCKED` that is missing, imported under Sphinx's mock
    as autodoc does, and dropped from ``sys.modules`` afterwards (other tests must not see mock objects)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        cause = exc
        while cause is not None and getattr(cause, "name", None) not in MOCKED:
            cause = cause.__cause__ or cause.__context__
        if cause is None or importlib.util.find_spec(cause.name) is not None:
            raise
    from sphinx.ext.autodoc.mock import mock

    before = set(sys.modules)
    try:
        with mock(list(MOCKED)):
            return importlib.import_module(name)
    finally:
        for added in set(sys.modules) - before:
            del sys.modules[added]


def public_names(packages=PACKAGES) -> dict[str, object]:
    """{qualified name: object} of every public name of ``packages`` (module docstring): the modules, what they
    define, and what each package exports at its top level."""
    names: dict[str, object] = {}
    for package_name in packages:
        package = importlib.import_module(package_name)
        names[package_name] = package
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            module = _import(info.name)
            names[info.name] = module
            names.update(module_public_names(module))
        for name, obj in vars(package).items():
            if name.startswith("_") or isinstance(obj, type(annotations)):  # a ``from __future__ import``
                continue
            if inspect.ismodule(obj) and f"{package_name}.{name}" == obj.__name__:
                continue  # a submodule, bound on import: listed above under its own name
            names[f"{package_name}.{name}"] = obj
    return names


def _own_class_doc(cls: type) -> str:
    """A class's own docstring: not one inherited from a base class (which ``inspect.getdoc`` would return), nor the
    signature ``dataclasses`` writes for a class that has none."""
    doc = cls.__dict__.get("__doc__") or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(cls.__name__ + "("):
        return ""
    return inspect.cleandoc(doc)


def _attribute_doc(name: str, obj, names: dict[str, object]) -> str:
    """The documentation comment (``#:``) or string of a data name: where the exporting module assigns it, or where
    any module of the packages binds the same object under the same name."""
    from sphinx.pycode import ModuleAnalyzer

    exporter, _, attribute = name.rpartition(".")
    candidates = [exporter] + [n for n, m in names.items() if inspect.ismodule(m) and n != exporter
                               and getattr(m, attribute, None) is obj]
    for module_name in candidates:
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # noqa: BLE001 - no source to analyse: no comment either
            docs = {}
        text = "\n".join(docs.get(("", attribute), [])).strip()
        if text:
            return text
    return ""


def docstring(name: str, obj, names: dict[str, object]) -> str:
    """The documentation of a public name: a module's or function's docstring (``inspect.getdoc``), a class's own
    docstring, a data name's documentation comment (or, for an instance of a documented class of the packages,
    that class's docstring)."""
    if inspect.ismodule(obj) or inspect.isfunction(inspect.unwrap(obj)):
        return (inspect.getdoc(obj) or "").strip()
    if inspect.isclass(obj):
        return _own_class_doc(obj)
    doc = _attribute_doc(name, obj, names)
    if not doc and type(obj).__module__.split(".")[0] in PACKAGES:
        doc = _own_class_doc(type(obj))
    return doc


def undocumented(names: dict[str, object]) -> list[str]:
    """The public names without documentation (:func:`docstring` empty), sorted."""
    return sorted(name for name, obj in names.items() if not docstring(name, obj, names))


def reference_name(name: str, obj) -> str:
    """The name a public name has in the API reference: a module exported under another name (``verify.instances``)
    is documented under its own (``verify.truth.instances``); everything else under the name it is public as."""
    return obj.__name__ if inspect.ismodule(obj) else name


def missing_from_inventory(names: dict[str, object], inventory: set[str]) -> list[str]:
    """The public names whose reference name is not among the Python objects of the built site's inventory."""
    return sorted(name for name, obj in names.items() if reference_name(name, obj) not in inventory)


def inventory_names(objects_inv: Path) -> set[str]:
    """Every Python object (``py:`` roles) of a Sphinx inventory file (``objects.inv``)."""
    from sphinx.util.inventory import InventoryFile

    inventory = InventoryFile.loads(objects_inv.read_bytes(), uri="")
    data = getattr(inventory, "data", inventory)  # Sphinx ≥ 8.2: an _Inventory; before: the dict itself
    return {name for role, entries in data.items() if role.startswith("py:") for name in entries}


# ------------------------------------------------------------------------------------------------------------------
# the build


def require_sphinx() -> None:
    """Fail (not skip) without Sphinx or MyST: they are in the ``test`` extra, so their absence is a broken
    environment, and a skipped build would let an undocumented name through unseen."""
    missing = [name for name in ("sphinx", "myst_parser") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: the API reference cannot be built; pip install '.[docs]' "
                    "(the test extra includes it)", pytrace=False)


def build_docs(source: Path, out: Path, *, blocked=OPTIONAL) -> dict:
    """Build the HTML site of ``source`` into ``out`` in a child process (warnings are errors, one process, the
    modules in ``blocked`` not importable); {"returncode", "output" (stderr: the warnings), "seconds"}."""
    env = dict(os.environ, KFLOW_SOURCE_ROOT=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-c", BUILD_SCRIPT, ",".join(blocked), "-W", "--keep-going", "-q", "-j", "1",
               "-b", "html", "-d", str(out / "doctrees"), str(source), str(out / "html")]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=600, check=False)
    return {"returncode": done.returncode, "output": done.stderr.strip(), "seconds": time.perf_counter() - start}


def _shared_folder(tmp_path_factory) -> Path:
    """A folder every xdist worker of this session shares (the session's base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """The site built once per session (workers wait for the first one): {"returncode", "output", "seconds",
    "html"}. Built from a copy of docs/ (autosummary writes its stubs next to the sources)."""
    require_sphinx()
    folder = _shared_folder(tmp_path_factory) / "kflow-api-docs"
    folder.mkdir(exist_ok=True)
    result_file = folder / "result.json"
    with open(folder / "lock", "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # no POSIX locks: each worker builds its own
            folder = Path(tmp_path_factory.mktemp("kflow-api-docs"))
            result_file = folder / "result.json"
        if not result_file.exists():
            source = folder / "source"
            shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated", "__pycache__"))
            result = build_docs(source, folder)
            result_file.write_text(json.dumps(result), encoding="utf-8")
    return json.loads(result_file.read_text(encoding="utf-8")) | {"html": str(folder / "html")}


@pytest.fixture(scope="module")
def names() -> dict[str, object]:
    require_sphinx()
    return public_names()


# ------------------------------------------------------------------------------------------------------------------
# the site


def test_docs_build_without_a_warning(site):
    assert site["returncode"] == 0 and not site["output"], (
        f"sphinx-build -W failed (exit status {site['returncode']}):\n{site['output']}")
    assert site["seconds"] < BUILD_BUDGET, f"the docs took {site['seconds']:.0f} s to build"
    html = Path(site["html"])
    for page in ("index", "theory", "conventions", "architecture", "derivations", "quality", "api/index"):
        assert (html / f"{page}.html").is_file(), page


def test_every_public_name_is_in_the_api_reference(site, names):
    inventory = inventory_names(Path(site["html"]) / "objects.inv")
    missing = missing_from_inventory(names, inventory)
    assert not missing, f"{len(missing)} public names are not in the API reference: {missing}"


def test_every_public_name_has_a_docstring(names):
    missing = undocumented(names)
    assert not missing, f"{len(missing)} public names have no docstring: {missing}"


def test_the_public_names_are_all_there(names):
    """The walk reaches every layer, the optional subpackage and the top-level exports (a walk that stopped early
    would check nothing)."""
    for name in ("theory.t3_water_filling.derive_water_filling", "theory.derive_kernel_ode", "verify.TOL",
                 "verify.instances", "verify.steady_state", "verify.campaign.cli.main",
                 "verify.experiments.nets.models.FeatureNet", "verify.truth.nuclear_norm", "theory.DERIVATIONS"):
        assert name in names, name
    assert "verify.experiments.nets.models._TransformerBody" not in names
    assert "theory.annotations" not in names and "verify.annotations" not in names
    assert len(names) > 600
    assert {reference_name(n, names[n]) for n in ("verify.instances", "theory.losses")} == {
        "verify.truth.instances", "theory.losses"}


# ------------------------------------------------------------------------------------------------------------------
# negative controls: the checks report what is planted


def _planted_module() -> types.ModuleType:
    module = types.ModuleType("planted", "A module with documented and undocumented names.")

    def documented():
        """Documented."""

    def undocumented_function():
        pass

    class Base:
        """A documented base class."""

    class Inherits(Base):  # inspect.getdoc would return Base's docstring
        pass

    @dataclasses.dataclass
    class Record:  # dataclasses write "Record(x: int)" as its __doc__
        x: int

    def _private():
        pass

    for obj in (documented, undocumented_function, Base, Inherits, Record, _private):
        obj.__module__ = module.__name__
        setattr(module, obj.__name__, obj)
    module.imported = inspect.getdoc  # defined elsewhere: not a name of this module
    return module


def test_undocumented_names_are_reported():
    names = {"planted": _planted_module()} | module_public_names(_planted_module())
    assert sorted(names) == ["planted", "planted.Base", "planted.Inherits", "planted.Record", "planted.documented",
                             "planted.undocumented_function"]
    assert undocumented(names) == ["planted.Inherits", "planted.Record", "planted.undocumented_function"]
    assert undocumented({"planted": types.ModuleType("planted")}) == ["planted"]


def test_undocumented_data_is_reported(names):
    """A top-level export without a documentation comment is reported; TOL (documented by a ``#:`` comment in
    verify.core.tolerances) and DERIVATIONS (by its docstring) are not."""
    assert docstring("verify.TOL", names["verify.TOL"], names)
    assert docstring("theory.DERIVATIONS", names["theory.DERIVATIONS"], names)
    assert undocumented({"verify.UNDOCUMENTED": {"a": 1}}) == ["verify.UNDOCUMENTED"]


def test_missing_names_are_reported(names):
    sample = {name: names[name] for name in ("verify.steady_state", "verify.instances", "theory.losses")}
    inventory = {"verify.steady_state", "verify.truth.instances", "theory.losses"}
    assert missing_from_inventory(sample, inventory) == []
    assert missing_from_inventory(sample, inventory - {"verify.truth.instances"}) == ["verify.instances"]
    assert missing_from_inventory(sample, inventory - {"verify.steady_state"}) == ["verify.steady_state"]


def test_a_warning_fails_the_build(tmp_path):
    """The build command fails on a docstring with a broken reST construct (a tiny site: no API, ~1 s)."""
    require_sphinx()
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text('project = "planted"\n', encoding="utf-8")
    (source / "index.rst").write_text("Planted\n=======\n\nAn |undefined| substitution.\n", encoding="utf-8")
    result = build_docs(source, tmp_path)
    assert result["returncode"] != 0 and "undefined" in result["output"], result
    (source / "index.rst").write_text("Planted\n=======\n\nNothing wrong here.\n", encoding="utf-8")
    clean = tmp_path / "clean"
    clean.mkdir()
    assert build_docs(source, clean) | {"seconds": 0} == {"returncode": 0, "output": "", "seconds": 0}


# ------------------------------------------------------------------------------------------------------------------
# docs/_ext/kflow_sphinx.py: docstrings read as the plain text they are


def _extension():
    spec = importlib.util.spec_from_file_location("kflow_sphinx", DOCS / "_ext" / "kflow_sphinx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plain_text_docstrings_become_rest():
    rst = _extension().plain_text_to_rst
    # bars are escaped outside code, kept inside
    assert rst(["Norm |x| of ``a|b`` and :data:`c`."]) == ["Norm \\|x\\| of ``a|b`` and :data:`c`."]
    # an indented block after a paragraph becomes a literal block (kept verbatim)
    assert rst(["Usage:", "", "    kflow derive [T1 | --all]", "        --out FILE", "", "Done |x|."]) == [
        "Usage:", "", "::", "", "    kflow derive [T1 | --all]", "        --out FILE", "", "Done \\|x\\|."]
    # literal blocks after ::, doctests, and indented continuations of list items are left alone
    kept = ["Example::", "", "    a | b", "", ">>> 1 | 2", "3", "", "- item", "", "  more of the item"]
    assert rst(kept) == kept
