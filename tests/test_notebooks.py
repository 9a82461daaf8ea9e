"""The derivation notebooks execute cleanly and are committed with their outputs.

Each notebook ends by asserting its verdicts, so a notebook whose claim stops holding fails here.
Set ``KFLOW_REFRESH_NOTEBOOKS=1`` to write the fresh outputs back into the committed files (that
is how the outputs are produced: ``KFLOW_REFRESH_NOTEBOOKS=1 python -m pytest tests/test_notebooks.py``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: the claims of the theory (docs/theory.md); each has one notebook, named after the claim ids it covers
CLAIMS = [f"T{k}" for k in range(1, 11)]
CELL_TIMEOUT_S = 300


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]


def test_every_claim_has_one_notebook_named_after_it():
    """``t3_t6_water_filling.ipynb`` covers T3 and T6: ``ls notebooks/*t6_*`` finds it (and t1_ never matches t10_)."""
    covering = {claim: [p.name for p in NOTEBOOKS if f"t{claim[1:]}_" in p.name] for claim in CLAIMS}
    assert all(len(names) == 1 for names in covering.values()), covering


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_with_outputs(path):
    """Readable without running: every code cell was executed, in order, without an error."""
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code"
    counts = [cell.get("execution_count") for cell in cells]
    assert all(c is not None for c in counts), f"{path.name}: cells without outputs (run with KFLOW_REFRESH_NOTEBOOKS=1)"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order"
    errors = [o for cell in cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed outputs contain an error"
    images = [o for cell in cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: no figure among the committed outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_executes(path):
    """Run top to bottom in a fresh kernel (small instances); the notebook's own asserts are the verdicts."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    if os.environ.get("KFLOW_REFRESH_NOTEBOOKS") == "1":
        nbformat.write(nb, path)
