"""kflow sweep: the spec is validated before anything runs, the store keeps one row per cell in atomic writes, and a
real Dask LocalCluster (2 workers) survives failing cells, a worker killed mid-cell and an interruption."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from verify.campaign.cli import main
from verify.campaign.sweep_spec import cell_id, parse_spec
from verify.campaign.sweep_store import Store, StoreError
from verify.campaign.sweep_studies import STUDIES, SpecError

GOOD = {"study": "fails-when", "seeds": 2, "grid": {"fail": [False, True], "seconds": [0.0, 0.1]}}


@pytest.mark.parametrize("change, message", [
    ({"study": "nope"}, "study: 'nope' is not a registered study"),
    ({"grid": {"width": [1]}}, "fails-when has no parameter 'width'"),
    ({"grid": {"seconds": []}}, "grid.seconds: expected a non-empty list"),
    ({"grid": {"seconds": [0.1, 0.1]}}, "grid.seconds: repeated values"),
    ({"grid": {"seconds": ["fast"]}}, "expected a number for seconds"),
    ({"grid": {"seconds": [61.0]}}, "outside"),
    ({"grid": {"fail": ["maybe"]}}, "is not one of"),
    ({"seeds": 0}, "seeds"),
    ({"seeds": [1, 1]}, "repeated seeds"),
    ({"random": {"seconds": {"log_uniform": [0.0, 1.0], "samples": 2}}, "grid": {}}, "low > 0"),
    ({"random": {"seconds": {"uniform": [1.0, 0.5], "samples": 2}}, "grid": {}}, "low < high"),
    ({"random": {"seconds": {"uniform": [0.0, 0.5]}}, "grid": {}}, "samples"),
    ({"metrics": ["accuracy"]}, "not metrics of fails-when"),
    ({"colour": "red"}, "unknown key"),
    ({"grid": {"seconds": [i / 1000 for i in range(1001)], "fail": [False, True]}, "seeds": 60}, "more than"),
])
def test_a_bad_spec_is_refused_naming_what_is_wrong(change, message):
    with pytest.raises(SpecError, match=message):
        parse_spec({**GOOD, **change})


def test_cells_expand_the_grid_random_samples_and_seeds_with_stable_ids():
    spec = parse_spec({**GOOD, "random": {"seconds": {"uniform": [0.0, 0.2], "samples": 3}},
                       "grid": {"fail": [False, True]}})
    cells = spec.cells("abc")
    assert len(cells) == 2 * 3 * 2 and len({c.id for c in cells}) == len(cells)
    assert [c.id for c in spec.cells("abc")] == [c.id for c in cells]  # the same sweep, the same ids
    assert {c.id for c in spec.cells("abd")}.isdisjoint(c.id for c in cells)  # another revision, other ids
    assert cells[0].parameters["die_once"] is False  # defaults filled in
    assert cell_id("fails-when", {"a": 1}, 0, "r") != cell_id("fails-when", {"a": 1}, 1, "r")


def _outcome(cell_id_, status, **extra):
    return {"id": cell_id_, "study": "fails-when", "parameters": {"fail": False}, "seed": 0, "status": status, **extra}


def test_the_store_keeps_one_row_per_cell_and_retries_only_failed_ones(tmp_path):
    path = tmp_path / "s.sqlite"
    store = Store(path, STUDIES["fails-when"])
    store.record(_outcome("a", "failed", error="boom"))
    store.record(_outcome("a", "done", metrics={"value": 1.0}))
    store.record(_outcome("a", "failed", error="late duplicate"))  # never over a done cell
    store.record(_outcome("b", "done", metrics={"value": 2.0}))
    rows = {r["id"]: r for r in store.rows()}
    assert len(rows) == 2 and rows["a"]["status"] == "done" and rows["a"]["attempts"] == 2
    assert store.finished() == {"a", "b"}
    store.close()
    with pytest.raises(StoreError, match="--resume"):
        Store(path, STUDIES["fails-when"])
    with pytest.raises(StoreError, match="not 'two-layer-network'"):
        Store(path, STUDIES["two-layer-network"], resume=True)
    view = sqlite3.connect(path).execute('SELECT id, "value", fail FROM results ORDER BY id').fetchall()
    assert view == [("a", 1.0, 0), ("b", 2.0, 0)]


distributed = pytest.importorskip("distributed", reason="Dask distributed is the optional extra 'sweep'")


def _spec_file(tmp_path, body: str):
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(body))
    return path


def _store_rows(path):
    rows = sqlite3.connect(path).execute("SELECT id, status, metrics, error IS NOT NULL FROM cells ORDER BY id")
    return [tuple(r) for r in rows]


def test_a_local_cluster_records_failing_cells_and_goes_on(tmp_path, capsys):
    spec = _spec_file(tmp_path, """
        study = "fails-when"
        seeds = 3
        [grid]
        fail = [false, true]
        """)
    store = tmp_path / "s.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 3
    rows = _store_rows(store)
    assert len(rows) == 6 and sum(r[1] == "done" for r in rows) == 3 and sum(r[1] == "failed" for r in rows) == 3
    assert all(has_error for _, status, _, has_error in rows if status == "failed")
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 2  # exists: needs --resume
    assert "--resume" in capsys.readouterr().err


def test_a_worker_killed_mid_cell_leaves_every_cell_exactly_once(tmp_path, monkeypatch):
    """Each die_once cell kills its worker process on its first attempt; the scheduler reruns it elsewhere."""
    monkeypatch.setenv("KFLOW_SWEEP_DIE_ONCE", str(tmp_path))
    spec = _spec_file(tmp_path, """
        study = "fails-when"
        seeds = 4
        [grid]
        die_once = [true]
        seconds = [0.05]
        """)
    store = tmp_path / "s.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    rows = _store_rows(store)
    assert len(rows) == 4 and all(r[1] == "done" for r in rows)
    assert len(list(tmp_path.glob("died-*"))) == 4  # every cell did kill a worker once


SWEEP_SCRIPT = """
import sys
from verify.campaign.cli import main
if __name__ == "__main__":
    sys.exit(main(["sweep", sys.argv[1], "--store", sys.argv[2], "--no-progress"] + sys.argv[3:]))
"""


def test_an_interrupted_sweep_resumed_gives_the_store_of_an_uninterrupted_one(tmp_path):
    spec = _spec_file(tmp_path, """
        study = "fails-when"
        seeds = 6
        [grid]
        seconds = [0.4, 0.6]
        """)
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP_SCRIPT)
    whole, cut = tmp_path / "whole.sqlite", tmp_path / "cut.sqlite"
    assert main(["sweep", str(spec), "--store", str(whole), "--no-progress"]) == 0
    process = subprocess.Popen([sys.executable, str(script), str(spec), str(cut)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:  # stop it once some cells are in
        if cut.exists() and sqlite3.connect(cut).execute("SELECT COUNT(*) FROM cells").fetchone()[0] >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    partial = _store_rows(cut)
    # usually a part of the 12 cells; on a fast machine the signal may land after the last one, while the cluster
    # shuts down (exit 130 with every cell in): the resumed store must equal the whole one either way
    assert len(partial) <= 12 and len({row[0] for row in partial}) == len(partial)
    assert main(["sweep", str(spec), "--store", str(cut), "--resume", "--no-progress"]) == 0
    assert _store_rows(cut) == _store_rows(whole)


def test_the_report_draws_a_phase_diagram_and_lists_failures(tmp_path):
    spec = _spec_file(tmp_path, """
        study = "kernel-steady-state"
        seeds = 1
        [grid]
        C = [1, 2, 3]
        mu = [0.01, 0.1]
        """)
    store = tmp_path / "s.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    out = tmp_path / "report"
    assert main(["sweep", "report", str(store), "--out", str(out)]) == 0
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert any("rank---c" in f and "mu-vs-c" in f for f in figures), figures
    text = (out / "report.md").read_text()
    assert "6 done, 0 failed" in text and "kernel-steady-state" in text
    assert main(["sweep", "report", str(tmp_path / "missing.sqlite")]) == 2


def test_the_progress_bar_counts_running_cells_and_the_dashboard_is_printed(tmp_path, capsys):
    spec = _spec_file(tmp_path, """
        study = "fails-when"
        seeds = 4
        [grid]
        seconds = [0.2]
        """)
    assert main(["sweep", str(spec), "--store", str(tmp_path / "s.sqlite")]) == 0
    captured = capsys.readouterr()
    assert "dashboard http" in captured.out
    assert "running=" in captured.err and "done=4" in captured.err
