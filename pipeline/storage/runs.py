"""The ``runs`` table: one row per (run, stage), written at start and at finish.

Status values: ``running``, ``ok``, ``partial``, ``failed``, and ``interrupted`` (the writing
process died without finishing; set by the next run on the same host)."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb


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
