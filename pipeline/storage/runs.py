"""The ``runs`` table: one row per (run, stage), written at start and at finish."""

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
