"""The one way the dashboard reads the database: a short-lived read-only connection per query.

DuckDB allows one read-write process *or* many read-only ones per file
(https://duckdb.org/docs/stable/connect/concurrency), so a dashboard that kept a connection open
would block the pipeline's writer. :func:`read` therefore opens the file with
``read_only=True`` through :func:`pipeline.storage.db.connect` (which sets ``TimeZone='UTC'``),
runs one query and closes the connection before returning a pandas DataFrame.

While a writer holds the file, :func:`read` polls every :data:`READ_POLL_S` seconds (with
jitter) instead of the library's exponential back-off: a pipeline writes in short transactions
separated by work (fetching, scoring), and a reader that waits a second between attempts can
keep missing those gaps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from pipeline.storage.db import connect
from pipeline.storage.scores import model_in_force

#: Seconds a cached query result is reused before the database is read again.
CACHE_TTL_S = 30

#: How long a query waits for a writer to release the file lock, seconds. Pipeline writers
#: hold the lock for one transaction (a scoring chunk is a few seconds at most).
READ_LOCK_TIMEOUT_S = 5.0

#: Seconds between two attempts to open a locked file (plus up to as much again of jitter).
READ_POLL_S = 0.02

_COVERAGE_COLUMNS = ["day", "n_articles", "n_scored", "last_published"]
_MODEL_COLUMNS = [
    "model_version", "chosen_by", "production", "name", "stage", "created_at", "n_scores", "last_scored_at",
]


def database_exists(db_path: str) -> bool:
    """Return True when the DuckDB file exists (not cached, so new data shows up at once).

    Args:
        db_path: path of ``tonewatch.duckdb``.
    """
    return Path(db_path).is_file()


def read(db_path: str, sql: str, params: list[Any] | dict[str, Any] | None,
         columns: list[str]) -> pd.DataFrame:
    """Run one query on a fresh read-only connection, close it, and return the rows.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        sql: one SELECT with ``?`` placeholders.
        params: values for the placeholders (a dict for ``$name`` ones).
        columns: columns of the empty frame returned when the file does not exist.

    Returns:
        the result; TIMESTAMPTZ columns are tz-aware UTC.

    Raises:
        StorageError: the database stayed locked for :data:`READ_LOCK_TIMEOUT_S`, or the query
            failed (e.g. tables missing).
    """
    if not database_exists(db_path):
        return pd.DataFrame(columns=columns)
    with open_read_only(db_path) as con:
        return con.execute(sql, params or []).df()


@contextlib.contextmanager
def open_read_only(db_path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``db_path`` read-only for one unit of work, waiting out a writer; close it after.

    Polls every :data:`READ_POLL_S` seconds (plus jitter) for up to :data:`READ_LOCK_TIMEOUT_S`
    while another process holds the write lock.

    Raises:
        StorageError: still locked after :data:`READ_LOCK_TIMEOUT_S`, the file is missing or
            not a DuckDB database, or a statement failed.
    """
    with connect(Path(db_path), read_only=True, lock_timeout_s=READ_LOCK_TIMEOUT_S,
                 poll_s=READ_POLL_S,
                 locked_message=f"database {db_path} stayed locked by a writer for "
                                f"{READ_LOCK_TIMEOUT_S:g} s") as con:
        yield con


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def production_model(db_path: str) -> pd.DataFrame:
    """Return the model whose scores the dashboard shows, as a one-row frame.

    The choice is :func:`pipeline.storage.scores.model_in_force`, the rule detection and
    rescoring use too, so the dashboard never names a different model from the alerts.

    Columns: ``model_version``, ``chosen_by`` (``production``, ``previous`` or
    ``latest_scored``), ``production`` (the version marked production, if any), ``name``,
    ``stage`` and ``created_at`` (NULL when the version is missing from ``model_versions``),
    ``n_scores`` and ``last_scored_at`` (UTC). Empty when nothing has been scored.

    Args:
        db_path: path of ``tonewatch.duckdb``.

    Raises:
        StorageError: the database cannot be read.
    """
    if not database_exists(db_path):
        return pd.DataFrame(columns=_MODEL_COLUMNS)
    with open_read_only(db_path) as con:
        model = model_in_force(con)
        if model is None:
            return pd.DataFrame(columns=_MODEL_COLUMNS)
        return con.execute("""
            SELECT ? AS model_version, ? AS chosen_by, ? AS production, mv.name, mv.stage,
                   mv.created_at,
                   (SELECT count(*) FROM scores s WHERE s.model_version = ?) AS n_scores,
                   (SELECT max(scored_at) FROM scores s WHERE s.model_version = ?)
                       AS last_scored_at
            FROM (SELECT 1) LEFT JOIN model_versions mv ON mv.model_version = ?
        """, [model.model_version, model.chosen_by, model.production,
              *[model.model_version] * 3]).df()


def production_version(db_path: str) -> str | None:
    """Return the ``model_version`` of :func:`production_model`, or None when nothing is scored.

    Raises:
        StorageError: the database cannot be read.
    """
    model = production_model(db_path)
    return None if model.empty else str(model.at[0, "model_version"])


#: SQL condition of the articles whose date says when they were published: not inferred (their
#: fetch time), not out of range, not in the future. ``a`` is ``articles``.
DATED = "a.date_quality NOT IN ('inferred', 'out_of_range') AND a.published_at <= now()"


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def day_coverage(db_path: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Return, per UTC day, how many dated articles were published and how many are scored.

    The input of :func:`dashboard.period.choose_period`, which picks each page's default
    period from it. Articles whose date was inferred (their fetch time) or is out of range are
    left out, as are dates in the future.

    Columns: ``day`` (midnight UTC, tz-aware), ``n_articles``, ``n_scored`` (scored by the
    production model, :func:`production_model`), ``last_published`` (the day's newest
    ``published_at``, UTC). One row per day with an article, oldest first; empty when the
    database does not exist.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        since: only days from this instant on (tz-aware UTC; None: all history). A recent bound
            lets DuckDB skip old row groups: the whole history of a million articles takes
            about a second, the last 90 days of live data a few milliseconds.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT date_trunc('day', a.published_at) AS day, count(*) AS n_articles,
               count(s.article_id) AS n_scored, max(a.published_at) AS last_published
        FROM articles a
        LEFT JOIN scores s ON s.article_id = a.article_id AND s.model_version = ?
        WHERE {DATED} AND (?::TIMESTAMPTZ IS NULL OR a.published_at >= ?::TIMESTAMPTZ)
        GROUP BY day
        ORDER BY day
    """
    return read(db_path, sql, [production_version(db_path), since, since], _COVERAGE_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def last_dated(db_path: str) -> pd.Timestamp | None:
    """Return the newest ``published_at`` of a dated article (not inferred, not out of range,
    not in the future), tz-aware UTC; None when there is none.

    Raises:
        StorageError: the database cannot be read.
    """
    frame = read(db_path, f"SELECT max(a.published_at) AS last FROM articles a WHERE {DATED}",
                 None, ["last"])
    if frame.empty or pd.isna(frame.at[0, "last"]):
        return None
    return pd.Timestamp(frame.at[0, "last"])
