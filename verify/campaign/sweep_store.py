"""The results store of a sweep: one SQLite file, one row per cell, every write one transaction.

Why SQLite: it ships with Python (no extra dependency), every write is an atomic, durable transaction (a crash or
Ctrl-C leaves the file consistent, with every finished cell in it), the cell id is the table's primary key (a cell
can never be recorded twice), and pandas reads it in one line::

    import sqlite3, pandas as pd
    frame = pd.read_sql("SELECT * FROM results", sqlite3.connect("sweep.sqlite"))

``cells`` holds one row per cell (parameters and metrics as JSON, status ``done`` or ``failed``, the error text, seed,
package version, code revision, host, start time, seconds, attempts); the view ``results`` spreads the parameters and
metrics of the sweep's study into columns of their own.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    parameters TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    metrics TEXT,
    error TEXT,
    package_version TEXT,
    revision TEXT,
    host TEXT,
    started REAL,
    seconds REAL,
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sweep (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(ValueError):
    """A store that cannot be used for this sweep (another study, or existing results without --resume)."""


class Store:
    """The SQLite store at ``path`` for the sweep ``spec`` (module docstring)."""

    def __init__(self, path, study, *, spec_text: str = "", resume: bool = False):
        self.path = Path(path)
        existed = self.path.exists()
        self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.executescript(SCHEMA)
        recorded = self._meta("study")
        if recorded is not None and recorded != study.name:
            raise StoreError(f"store: {self.path} holds a sweep of {recorded!r}, not {study.name!r}; use another --store")
        if existed and self.count() and not resume:
            raise StoreError(f"store: {self.path} already holds {self.count()} cells; pass --resume to continue it, or "
                             "choose another --store")
        with self.connection:
            self.connection.execute("BEGIN")
            self._set("study", study.name)
            if spec_text:
                self._set("spec", spec_text)
            self._create_view(study)

    def _meta(self, key: str):
        row = self.connection.execute("SELECT value FROM sweep WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set(self, key: str, value: str) -> None:
        self.connection.execute("INSERT INTO sweep (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                                "value = excluded.value", (key, value))

    def _create_view(self, study) -> None:
        def column(source: str, name: str) -> str:
            quoted = name.replace('"', '""')
            return f"json_extract({source}, '$.\"{quoted}\"') AS \"{quoted}\""

        columns = ", ".join([column("parameters", p) for p in study.parameters]
                            + [column("metrics", m) for m in study.metrics if m not in study.parameters])
        self.connection.execute("DROP VIEW IF EXISTS results")
        self.connection.execute(f"CREATE VIEW results AS SELECT id, seed, status, {columns}, error, seconds AS \"wall seconds\", host, "
                                f"revision, package_version, started, attempts FROM cells")

    def count(self, status: str | None = None) -> int:
        query, args = "SELECT COUNT(*) FROM cells", ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        return int(self.connection.execute(query, args).fetchone()[0])

    def finished(self) -> set[str]:
        """Ids of the cells recorded as done (what ``--resume`` skips)."""
        return {row[0] for row in self.connection.execute("SELECT id FROM cells WHERE status = 'done'")}

    def record(self, outcome: dict) -> None:
        """Write one cell's outcome in one transaction: a new row, or the retry of a failed cell (never a second row,
        never over a done one)."""
        row = (outcome["id"], outcome["study"], json.dumps(outcome["parameters"], sort_keys=True), outcome["seed"],
               outcome["status"], json.dumps(outcome.get("metrics")) if outcome.get("metrics") is not None else None,
               outcome.get("error"), outcome.get("package_version"), outcome.get("revision"), outcome.get("host"),
               outcome.get("started", time.time()), outcome.get("seconds"), outcome.get("attempts", 1))
        with self.connection:
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.execute(
                "INSERT INTO cells (id, study, parameters, seed, status, metrics, error, package_version, revision, "
                "host, started, seconds, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET status = excluded.status, metrics = excluded.metrics, "
                "error = excluded.error, host = excluded.host, started = excluded.started, seconds = excluded.seconds, "
                "attempts = cells.attempts + 1 WHERE cells.status = 'failed'", row)

    def rows(self) -> list[dict]:
        """Every cell as a dict (parameters and metrics decoded)."""
        cursor = self.connection.execute("SELECT id, study, parameters, seed, status, metrics, error, seconds, host, "
                                         "revision, attempts FROM cells ORDER BY id")
        out = []
        for (id_, study, parameters, seed, status, metrics, error, seconds, host, revision, attempts) in cursor:
            out.append({"id": id_, "study": study, "parameters": json.loads(parameters), "seed": seed,
                        "status": status, "metrics": json.loads(metrics) if metrics else None, "error": error,
                        "seconds": seconds, "host": host, "revision": revision, "attempts": attempts})
        return out

    def close(self) -> None:
        self.connection.close()
