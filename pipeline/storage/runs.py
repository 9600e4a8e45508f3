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

    :meth:`start` marks rows of dead writers on this host ``interrupted`` and writes this
    stage's row as ``running`` (with host and pid), in one open of the database (or in the
    stage's own connection); entering the block starts it unless ``defer_start``.
    :meth:`finish` records the result (again in the stage's connection if it passes one);
    leaving the block with an exception before that records ``failed`` with the error text.
    Nothing is held while the stage works.

    Args:
        db_path: the DuckDB file.
        stage: stage name.
        run_id: id shared by the stages of one pass.
        window_start, window_end: the window the stage covers (UTC).
        defer_start: do not write on entering; the stage calls :meth:`start` with the first
            connection it opens anyway (one open fewer).
    """

    def __init__(self, db_path: Path, *, stage: str, run_id: str,
                 window_start: datetime | None, window_end: datetime | None,
                 defer_start: bool = False):
        self.db_path, self.stage, self.run_id = db_path, stage, run_id
        self.window_start, self.window_end = window_start, window_end
        self.started = datetime.now(UTC)
        self.finished = False
        self.defer_start = defer_start

    def _write(self, con: duckdb.DuckDBPyConnection, status: str, counts: dict | None,
               finished_at: datetime | None) -> None:
        record_run(con, run_id=self.run_id, stage=self.stage, window_start=self.window_start,
                   window_end=self.window_end, started_at=self.started,
                   finished_at=finished_at, status=status, counts=counts)

    def start(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Sweep dead writers' rows, then record this stage as ``running``.

        Args:
            con: a read-write connection the stage holds; None opens one.
        """
        if con is None:
            with connect(self.db_path) as own:
                self.start(own)
            return
        host = socket.gethostname()
        mark_interrupted(con, host=host, at=self.started, is_alive=_pid_alive)
        self._write(con, "running", {"pid": os.getpid(), "host": host}, None)

    def __enter__(self) -> "StageRun":
        if not self.defer_start:
            self.start()
        return self

    def finish(self, result: StageResult,
               con: duckdb.DuckDBPyConnection | None = None) -> StageResult:
        """Record the stage's result (status and counts) and stamp its window on it.

        Args:
            result: the stage's result.
            con: a read-write connection the stage still holds (its last write then records
                the result in the same open, and transaction if one is open); None opens one.
        """
        self.finished = True
        result.window_start, result.window_end = self.window_start, self.window_end
        if con is not None:
            self._write(con, result.status, result.counts, datetime.now(UTC))
        else:
            with connect(self.db_path) as own:
                self._write(own, result.status, result.counts, datetime.now(UTC))
        return result

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not self.finished:
            try:  # leave a trace of the failure; the original error is what matters
                with connect(self.db_path) as con:
                    self._write(con, "failed", {"error": str(exc)[:500]}, datetime.now(UTC))
            except TonewatchError:
                pass  # the database itself is the problem; the caller reports exc
        return False
