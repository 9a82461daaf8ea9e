"""Running a sweep on Dask distributed: a local cluster by default, any scheduler by address; resume and faults.

:func:`run_sweep` expands the spec into cells, skips those the store already holds as done (``resume``), and submits
the rest to a Dask cluster — by default a ``LocalCluster`` of worker processes on this machine, started and stopped
here; ``scheduler="tcp://host:8786"`` uses a running one (``dask scheduler`` / ``dask worker``, or dask-jobqueue on
SLURM). Each finished cell is written to the store at once, in its own transaction, by this process alone:

- a cell that raises is recorded ``failed`` with its error text, and the sweep goes on;
- a worker that dies mid-cell has its cell rescheduled by the scheduler on another worker (at most
  ``distributed.scheduler.allowed-failures`` times; then the cell is recorded failed, "worker died");
- Ctrl-C cancels what is queued, stops the cluster and leaves the store with every finished cell: run again with
  ``resume`` to finish it. No cell is recorded twice (its id is the store's primary key).

The progress bar shows cells done / failed / running, and the dashboard's address is printed.
"""
from __future__ import annotations

import platform
import socket
import time
import traceback
from dataclasses import dataclass

from verify.campaign.report import git_revision, package_version
from verify.campaign.sweep_spec import Cell, SweepSpec
from verify.campaign.sweep_store import Store
from verify.campaign.sweep_studies import STUDIES

#: the optional extra that brings Dask
EXTRA = "sweep"


def require_distributed():
    """The ``distributed`` module of Dask, imported on first use (the sweep's optional dependency).

    Raises ImportError naming the extra to install (``pip install 'kernel-flows[sweep]'``) when it is missing."""
    try:
        import distributed
    except ImportError as exc:  # the optional extra
        raise ImportError(f"kflow sweep needs Dask distributed: pip install 'kernel-flows[{EXTRA}]'") from exc
    return distributed


def execute_cell(cell: Cell, revision: str, version: str, metrics: tuple | None) -> dict:
    """Run one cell (in a worker): its outcome as a row of the store; an exception becomes status "failed"."""
    start = time.time()
    clock = time.perf_counter()
    outcome = {"id": cell.id, "study": cell.study, "parameters": cell.parameters, "seed": cell.seed,
               "revision": revision, "package_version": version, "host": f"{socket.gethostname()} ({platform.node()})",
               "started": start}
    try:
        values = STUDIES[cell.study].run(dict(cell.parameters), cell.seed)
        if metrics:
            values = {k: values[k] for k in metrics}
        outcome.update(status="done", metrics={k: _plain(v) for k, v in values.items()})
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, not fatal
        outcome.update(status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    outcome["seconds"] = time.perf_counter() - clock
    return outcome


def _running(client) -> int:
    """Cells the workers are running now (the scheduler's processing sets; 0 when it cannot be asked)."""
    try:
        return int(sum(len(keys) for keys in client.processing().values()))
    except Exception:  # noqa: BLE001 - a progress figure, never a reason to stop the sweep
        return 0


def _plain(value):
    try:
        return float(value) if not isinstance(value, (int, bool)) else int(value)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class SweepSummary:
    """What :func:`run_sweep` did: ``cells`` in the spec, ``skipped`` (already in the store), ``done`` and ``failed``
    in this run, the wall-clock ``seconds``, whether it was ``interrupted``, and the Dask ``dashboard`` address (""
    when there is none)."""

    cells: int
    skipped: int
    done: int
    failed: int
    seconds: float
    interrupted: bool
    dashboard: str


def run_sweep(spec: SweepSpec, store_path, *, resume: bool = False, scheduler: str | None = None, workers: int = 2,
              progress: bool = True, spec_text: str = "", retries: int = 0) -> SweepSummary:
    """Run ``spec`` into the store at ``store_path`` (module docstring). ``workers``: processes of the local cluster
    (ignored with ``scheduler``). ``retries``: resubmissions of a cell whose task raised inside Dask itself (the
    study's own exceptions are recorded as failed, not retried)."""
    distributed = require_distributed()
    revision = git_revision() or "unknown"
    version = package_version()
    cells = spec.cells(revision)
    store = Store(store_path, STUDIES[spec.study], spec_text=spec_text, resume=resume)
    finished = store.finished()
    todo = [c for c in cells if c.id not in finished]
    start = time.perf_counter()
    cluster = None
    bar = None
    done = failed = 0
    interrupted = False
    dashboard = ""
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=40)
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler)
        dashboard = client.dashboard_link or ""
        if progress:
            from tqdm import tqdm

            print(f"kflow sweep: {len(cells)} cells, {len(cells) - len(todo)} already done; dashboard {dashboard}")
            bar = tqdm(total=len(todo), unit="cell", leave=False)
        futures = [client.submit(execute_cell, cell, revision, version, spec.metrics, key=f"cell-{cell.id}",
                                 pure=False, retries=retries) for cell in todo]
        by_key = {f.key: cell for f, cell in zip(futures, todo)}
        for future in distributed.as_completed(futures):
            cell = by_key[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the cell could not run anywhere
                outcome = {"id": cell.id, "study": cell.study, "parameters": cell.parameters, "seed": cell.seed,
                           "status": "failed", "error": f"{type(exc).__name__}: {exc} (worker died or Dask failed)",
                           "revision": revision, "package_version": version}
            store.record(outcome)
            done += outcome["status"] == "done"
            failed += outcome["status"] == "failed"
            if bar is not None:
                bar.set_postfix(done=done, failed=failed, running=_running(client))
                bar.update()
        client.close()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        if cluster is not None:
            cluster.close()
        store.close()
    return SweepSummary(len(cells), len(cells) - len(todo), done, failed, time.perf_counter() - start, interrupted,
                        dashboard)
