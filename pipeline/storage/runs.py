"""The ``runs`` table: one row per (run, stage), written at start and at finish.

Status values: ``running``, ``ok``, ``partial``, ``failed``, and ``interrupted`` (the writing
process died without finishing; set by the next run on the same host)."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.domain import StageResult
from pipeline.errors import TonewatchError
from pipeline.storage.db import connect


def record_run(
    con: duckdb.DuckDBPyConnection, *, run_id: str, stage: str, window_start: datetime | None,
    window_end: datetime | None, started_at: datetime, finished_at: datetime | None,
    status: str, counts: dict | None,
) -> None:
    """Insert or update the row of one stage of one run."""
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, stage) DO UPDATE SET"
        " finished_at = excluded.finished_at, status = excluded.status, counts = excluded.counts",
        [run_id, stage, window_start, window_end, started_at, finished_at, status,
         json.dumps(counts or {}, default=str)],
    )


def mark_interrupted(con: duckdb.DuckDBPyConnection, *, host: str, at: datetime,
                     is_alive) -> int:
    """Mark ``running`` rows of dead processes on this host as ``interrupted``.

    A run killed outright (SIGKILL, power loss) never writes its finish; the row would claim
    to be running forever. Rows record the writer's host and pid when they start, so a later
    run on the same host can tell a dead writer from a live concurrent one.

    Args:
        con: read-write connection.
        host: this machine's host name.
        at: instant recorded as ``finished_at`` (UTC).
        is_alive: ``pid -> bool``.

    Returns:
        rows marked.
    """
    rows = con.execute(
        "SELECT run_id, stage, counts FROM runs WHERE status = 'running'").fetchall()
    dead = []
    for run_id, stage, counts in rows:
        info = json.loads(counts) if isinstance(counts, str) else (counts or {})
        pid = info.get("pid")
        if info.get("host") == host and isinstance(pid, int) and not is_alive(pid):
            dead.append((run_id, stage))
    for run_id, stage in dead:
        con.execute("UPDATE runs SET status = 'interrupted', finished_at = ? "
                    "WHERE run_id = ? AND stage = ?", [at, run_id, stage])
    return len(dead)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class StageRun:
    """Bookkeeping of one stage run in the ``runs`` table, as a context manager.

    On enter: marks rows of dead writers on this host ``interrupted`` and writes this stage's
    row as ``running`` (with host and pid). :meth:`finish` records the result; leaving the
    block with an exception before that records ``failed`` with the error text. Each write is
    its own short transaction, so the database is not held while the stage works.

    Args:
        db_path: the DuckDB file.
        stage: stage name.
        run_id: id shared by the stages of one pass.
        window_start, window_end: the window the stage covers (UTC).
    """

    def __init__(self, db_path: Path, *, stage: str, run_id: str,
                 window_start: datetime | None, window_end: datetime | None):
        self.db_path, self.stage, self.run_id = db_path, stage, run_id
        self.window_start, self.window_end = window_start, window_end
        self.started = datetime.now(UTC)
        self.finished = False

    def _write(self, status: str, counts: dict | None, finished_at: datetime | None) -> None:
        with connect(self.db_path) as con:
            record_run(con, run_id=self.run_id, stage=self.stage, window_start=self.window_start,
                       window_end=self.window_end, started_at=self.started,
                       finished_at=finished_at, status=status, counts=counts)

    def __enter__(self) -> "StageRun":
        host = socket.gethostname()
        with connect(self.db_path) as con:
            mark_interrupted(con, host=host, at=self.started, is_alive=_pid_alive)
        self._write("running", {"pid": os.getpid(), "host": host}, None)
        return self

    def finish(self, result: StageResult) -> StageResult:
        """Record the stage's result (status and counts) and stamp its window on it."""
        self.finished = True
        result.window_start, result.window_end = self.window_start, self.window_end
        self._write(result.status, result.counts, datetime.now(UTC))
        return result

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not self.finished:
            try:  # leave a trace of the failure; the original error is what matters
                self._write("failed", {"error": str(exc)[:500]}, datetime.now(UTC))
            except TonewatchError:
                pass  # the database itself is the problem; the caller reports exc
        return False
