"""Reads and writes of the ``feeds`` table (per-feed health and HTTP validators)."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.domain import FeedHealth
from pipeline.storage.db import upsert_frame

HEALTH_COLUMNS = [
    "feed_id", "name", "url", "category", "etag", "last_modified", "last_attempt_at",
    "last_success_at", "last_status", "http_status", "error_class", "error_message",
    "entries_seen", "entries_new", "entries_dropped", "consecutive_failures", "warnings",
]


def feed_states(con: duckdb.DuckDBPyConnection) -> dict[str, FeedHealth]:
    """Stored health of every known feed, keyed by ``feed_id`` (missing values are None)."""
    frame = con.execute(f"SELECT {', '.join(HEALTH_COLUMNS)} FROM feeds").df()
    frame = frame.astype(object).where(frame.notna(), None)
    return {row["feed_id"]: FeedHealth(**row) for row in frame.to_dict("records")}


def upsert_feed_health(con: duckdb.DuckDBPyConnection, rows: list[FeedHealth]) -> int:
    """Write feed health records (one bulk upsert keyed by ``feed_id``)."""
    frame = pd.DataFrame([r.as_row() for r in rows], columns=HEALTH_COLUMNS)
    return upsert_frame(con, "feeds", frame, ["feed_id"], HEALTH_COLUMNS[1:])


def feed_health(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every feed's health for display (``tonewatch feeds``), ordered by name.

    Returns:
        one row per feed: name, url (the feed's URL or file path), last_status, http_status, entries_seen, entries_new,
        entries_dropped, consecutive_failures, last_attempt_at, last_success_at (UTC),
        error_class, error_message, warnings; missing values are NaN/NaT/None.
    """
    return con.execute(
        "SELECT name, url, last_status, http_status, entries_seen, entries_new, entries_dropped,"
        " consecutive_failures, last_attempt_at, last_success_at, error_class, error_message,"
        " warnings FROM feeds ORDER BY name").df()
