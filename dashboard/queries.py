"""Read-only data access for the dashboard.

Every function here opens a short-lived ``read_only=True`` DuckDB connection, sets
``TimeZone='UTC'``, runs one query, closes the connection and returns a pandas DataFrame whose
TIMESTAMPTZ columns are timezone-aware UTC. Nothing holds a connection between calls: DuckDB
allows one read-write process *or* many read-only ones per file, so a dashboard that kept a
connection open would block the pipeline's writer (see STYLE.md section 3).

Results are cached with ``st.cache_data`` for :data:`CACHE_TTL_S` seconds, keyed on the database
path passed as a string. A missing database file is not an error: the functions return empty
frames with the documented columns and pages check :func:`database_exists` first.

Which scores are shown: the *production model* is the ``model_versions`` row with
``stage = 'production'`` (the newest ``created_at`` if several are marked so); when no version is
in production, the ``model_version`` with the most recent ``scores.scored_at`` is used instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pipeline.storage.db import connect

#: Seconds a cached query result is reused before the database is read again.
CACHE_TTL_S = 30

#: How long a page waits for a writer to release the file lock, seconds.
READ_LOCK_TIMEOUT_S = 3.0

# One CTE shared by every score query, so all panels agree on the model they show.
_PRODUCTION_MODEL_CTE = """
production AS (
    SELECT model_version, chosen_by FROM (
        SELECT model_version, 'production' AS chosen_by, 0 AS preference,
               created_at AS ranked_at
        FROM model_versions WHERE stage = 'production'
        UNION ALL
        SELECT model_version, 'latest_scored' AS chosen_by, 1 AS preference,
               max(scored_at) AS ranked_at
        FROM scores GROUP BY model_version
    )
    ORDER BY preference, ranked_at DESC NULLS LAST, model_version
    LIMIT 1
)
"""

_DAILY_COLUMNS = ["day", "n_articles", "n_scored", "n_negative", "negative_share", "mean_sentiment"]
_ALERT_COLUMNS = [
    "alert_id", "rule", "scope", "entity", "window_start", "window_end", "state", "observed",
    "expected", "p_value", "q_value", "severity", "n_stories", "n_negative", "created_at",
    "resolved_at", "entity_name",
]
_HEADLINE_COLUMNS = [
    "published_at", "feed", "title", "url", "label", "p_negative", "p_neutral", "p_positive",
    "sentiment_score", "tickers", "model_version",
]
_RUN_COLUMNS = [
    "run_id", "stage", "window_start", "window_end", "started_at", "finished_at", "status",
    "counts",
]
_MODEL_COLUMNS = [
    "model_version", "chosen_by", "name", "stage", "created_at", "n_scores", "last_scored_at",
]
_COUNT_COLUMNS = ["n_articles", "n_scored", "n_firing"]


def database_exists(db_path: str) -> bool:
    """Return True when the DuckDB file exists (not cached, so new data shows up at once).

    Args:
        db_path: path of ``tonewatch.duckdb``.
    """
    return Path(db_path).is_file()


def _read(db_path: str, sql: str, params: list[Any] | None, columns: list[str]) -> pd.DataFrame:
    """Run one query on a fresh read-only connection and return its rows.

    Uses the library's :func:`pipeline.storage.db.connect`, which retries while a writer holds
    the file lock (up to :data:`READ_LOCK_TIMEOUT_S`) and sets ``TimeZone='UTC'``.

    Raises:
        StorageError: the database stayed locked, or the query failed (e.g. tables missing).
    """
    if not database_exists(db_path):
        return pd.DataFrame(columns=columns)
    with connect(Path(db_path), read_only=True, lock_timeout_s=READ_LOCK_TIMEOUT_S) as con:
        return con.execute(sql, params or []).df()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def production_model(db_path: str) -> pd.DataFrame:
    """Return the model whose scores the dashboard shows, as a one-row frame.

    Columns: ``model_version``, ``chosen_by`` (``'production'`` or ``'latest_scored'``, the
    fallback when no version has ``stage = 'production'``), ``name``, ``stage`` and
    ``created_at`` (NULL when the version is missing from ``model_versions``), ``n_scores``
    and ``last_scored_at`` (UTC). Empty when there is no model and no score.

    Args:
        db_path: path of ``tonewatch.duckdb``.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH {_PRODUCTION_MODEL_CTE}
        SELECT p.model_version, p.chosen_by, mv.name, mv.stage, mv.created_at,
               (SELECT count(*) FROM scores s WHERE s.model_version = p.model_version) AS n_scores,
               (SELECT max(scored_at) FROM scores s WHERE s.model_version = p.model_version)
                   AS last_scored_at
        FROM production p LEFT JOIN model_versions mv USING (model_version)
    """
    return _read(db_path, sql, None, _MODEL_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def headline_counts(db_path: str) -> pd.DataFrame:
    """Return the totals behind the headline metrics, as a one-row frame.

    Columns: ``n_articles`` (all stored articles), ``n_scored`` (articles scored by the
    production model), ``n_firing`` (alerts whose state is ``firing``). Empty when the
    database file does not exist.

    Args:
        db_path: path of ``tonewatch.duckdb``.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH {_PRODUCTION_MODEL_CTE}
        SELECT
            (SELECT count(*) FROM articles) AS n_articles,
            (SELECT count(*) FROM scores s JOIN production p USING (model_version)) AS n_scored,
            (SELECT count(*) FROM alerts WHERE state = 'firing') AS n_firing
    """
    return _read(db_path, sql, None, _COUNT_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def negative_share_daily(db_path: str) -> pd.DataFrame:
    """Return the daily negative share of articles under the production model.

    One row per UTC calendar day of ``articles.published_at`` that has at least one article,
    oldest first. Columns: ``day`` (midnight UTC, tz-aware), ``n_articles`` (published that
    day), ``n_scored`` (of those, scored by the production model), ``n_negative`` (labelled
    ``negative``), ``negative_share`` (``n_negative / n_scored`` in [0, 1]; NaN when nothing was
    scored), ``mean_sentiment`` (mean ``sentiment_score`` in [-1, 1]; NaN likewise). Counts are
    per article, not per de-duplicated story as the alert rules count them. Articles whose
    date was inferred (no usable date in the feed) are left out.

    Args:
        db_path: path of ``tonewatch.duckdb``.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH {_PRODUCTION_MODEL_CTE},
        prod_scores AS (
            SELECT s.* FROM scores s JOIN production p USING (model_version)
        )
        SELECT date_trunc('day', a.published_at) AS day,
               count(*) AS n_articles,
               count(s.article_id) AS n_scored,
               count(*) FILTER (WHERE s.label = 'negative') AS n_negative,
               CASE WHEN count(s.article_id) > 0
                    THEN (count(*) FILTER (WHERE s.label = 'negative'))::DOUBLE
                         / count(s.article_id)
               END AS negative_share,
               avg(s.sentiment_score) AS mean_sentiment
        FROM articles a LEFT JOIN prod_scores s USING (article_id)
        -- An inferred date is the fetch time, not publication: it would pile undated items
        -- onto the day of the run, so the timeline leaves them out.
        WHERE a.date_quality NOT IN ('inferred', 'out_of_range')
        GROUP BY day
        ORDER BY day
    """
    return _read(db_path, sql, None, _DAILY_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def latest_alerts(db_path: str, limit: int = 50) -> pd.DataFrame:
    """Return the newest alerts, newest first (by ``created_at``, then ``window_start``).

    Columns: ``alert_id``, ``rule``, ``scope``, ``entity``, ``entity_name`` (display name, e.g.
    the feed's name for source alerts), ``window_start``, ``window_end``,
    ``state`` (``firing`` | ``resolved``), ``observed`` and ``expected`` (negative shares in
    [0, 1]), ``p_value``, ``q_value``, ``severity``, ``n_stories``, ``n_negative``,
    ``created_at``, ``resolved_at``. Instants are tz-aware UTC.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        limit: most rows returned.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(c for c in _ALERT_COLUMNS if c != "entity_name")},
               coalesce(json_extract_string(explanation, '$.entity_name'), entity) AS entity_name
        FROM alerts
        ORDER BY created_at DESC, window_start DESC, alert_id
        LIMIT ?
    """
    return _read(db_path, sql, [int(limit)], _ALERT_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def latest_headlines(db_path: str, limit: int = 100) -> pd.DataFrame:
    """Return the most recently published articles scored by the production model.

    Newest ``published_at`` first. Columns: ``published_at`` (UTC), ``feed`` (the feed's
    name, or its ``feed_id`` when the feed row is missing), ``title`` and ``url`` (as stored:
    untrusted feed text, to be shown as plain text), ``label``, ``p_negative``, ``p_neutral``,
    ``p_positive`` (probabilities in [0, 1]), ``sentiment_score`` (``p_positive - p_negative``,
    in [-1, 1]), ``tickers`` (a list of symbols, possibly empty or NULL) and
    ``model_version``.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        limit: most rows returned.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH {_PRODUCTION_MODEL_CTE}
        SELECT a.published_at, coalesce(f.name, a.feed_id) AS feed, a.title, a.url,
               s.label, s.p_negative, s.p_neutral, s.p_positive, s.sentiment_score,
               a.tickers, s.model_version
        FROM articles a
        JOIN scores s USING (article_id)
        JOIN production p USING (model_version)
        LEFT JOIN feeds f USING (feed_id)
        ORDER BY a.published_at DESC, a.article_id
        LIMIT ?
    """
    return _read(db_path, sql, [int(limit)], _HEADLINE_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def last_run(db_path: str) -> pd.DataFrame:
    """Return the most recently started row of ``runs`` (one stage of one run).

    Columns: ``run_id``, ``stage``, ``window_start``, ``window_end``, ``started_at``,
    ``finished_at`` (NULL while running), ``status`` (``running`` | ``ok`` | ``partial`` |
    ``failed``) and ``counts`` (JSON text). Instants are tz-aware UTC. Empty when no run has
    been recorded.

    Args:
        db_path: path of ``tonewatch.duckdb``.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(_RUN_COLUMNS)}
        FROM runs
        ORDER BY started_at DESC, finished_at DESC NULLS FIRST
        LIMIT 1
    """
    return _read(db_path, sql, None, _RUN_COLUMNS)
