"""Queries behind the Overview page: totals, the sentiment timeline, alerts, headlines, runs.

Scores shown are those of the production model (see
:func:`dashboard.queries.core.production_model`). Counts are per article, not per de-duplicated
story as the alert rules count them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, production_version, read

#: Days the hourly timeline covers.
HOURLY_DAYS = 14

_TIMELINE_COLUMNS = ["bucket", "n_articles", "n_scored", "n_negative", "negative_share",
                     "sentiment_index"]
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
_COUNT_COLUMNS = ["n_articles", "n_scored", "n_firing"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def headline_counts(db_path: str) -> pd.DataFrame:
    """Return the totals behind the headline metrics, as a one-row frame.

    Columns: ``n_articles`` (all stored articles), ``n_scored`` (articles scored by the
    production model), ``n_firing`` (alerts whose state is ``firing``). Empty when the
    database file does not exist.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        SELECT (SELECT count(*) FROM articles) AS n_articles,
               (SELECT count(*) FROM scores WHERE model_version = ?) AS n_scored,
               (SELECT count(*) FROM alerts WHERE state = 'firing') AS n_firing
    """
    return read(db_path, sql, [production_version(db_path)], _COUNT_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def timeline(db_path: str, grain: str = "day", start: pd.Timestamp | None = None,
             end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Return article volume, negative share and the sentiment index per UTC day or hour.

    Covers articles published in ``[start, end)`` (a None bound is open); pages take the
    bounds from their period (:func:`dashboard.ui.data_period`). The bounds are pushed into
    the query so DuckDB's zone maps on ``published_at`` skip other row groups. One row per
    bucket with at least one article, oldest first. Articles whose date was inferred (no
    usable date in the feed) are left out: their fetch time would pile them onto the hour of
    the run.

    Columns: ``bucket`` (bucket start, tz-aware UTC), ``n_articles``, ``n_scored`` (scored by
    the production model), ``n_negative`` (labelled ``negative``), ``negative_share``
    (``n_negative / n_scored`` in [0, 1]; NaN when nothing was scored) and ``sentiment_index``
    (100 x the mean ``sentiment_score = p_positive - p_negative``, in [-100, 100]; NaN likewise).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        grain: ``'day'`` or ``'hour'``.
        start, end: UTC bounds of ``published_at`` (tz-aware), or None.

    Raises:
        ValueError: another grain.
        StorageError: the database cannot be read.
    """
    if grain not in ("day", "hour"):
        raise ValueError(f"grain must be 'day' or 'hour', not {grain!r}")
    sql = f"""
        SELECT date_trunc('{grain}', a.published_at) AS bucket,
               count(*) AS n_articles,
               count(s.article_id) AS n_scored,
               count(*) FILTER (WHERE s.label = 'negative') AS n_negative,
               CASE WHEN count(s.article_id) > 0
                    THEN (count(*) FILTER (WHERE s.label = 'negative'))::DOUBLE
                         / count(s.article_id)
               END AS negative_share,
               100 * avg(s.sentiment_score) AS sentiment_index
        FROM articles a
        LEFT JOIN scores s ON s.article_id = a.article_id AND s.model_version = ?
        WHERE a.date_quality NOT IN ('inferred', 'out_of_range')
          AND (?::TIMESTAMPTZ IS NULL OR a.published_at >= ?::TIMESTAMPTZ)
          AND (?::TIMESTAMPTZ IS NULL OR a.published_at < ?::TIMESTAMPTZ)
        GROUP BY bucket
        ORDER BY bucket
    """
    params = [production_version(db_path), start, start, end, end]
    return read(db_path, sql, params, _TIMELINE_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def latest_alerts(db_path: str, limit: int = 50) -> pd.DataFrame:
    """Return the newest alerts, newest first (by ``created_at``, then ``window_start``).

    Columns: ``alert_id``, ``rule``, ``scope``, ``entity``, ``entity_name`` (display name, e.g.
    the feed's name for source alerts), ``window_start``, ``window_end``,
    ``state`` (``pending`` | ``firing`` | ``resolved``), ``observed`` and ``expected``
    (negative shares in [0, 1]), ``p_value``, ``q_value``, ``severity``, ``n_stories``,
    ``n_negative``, ``created_at``, ``resolved_at``. Instants are tz-aware UTC.

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
    return read(db_path, sql, [int(limit)], _ALERT_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def latest_headlines(db_path: str, limit: int = 100) -> pd.DataFrame:
    """Return the most recently published articles scored by the production model.

    Newest ``published_at`` first. Columns: ``published_at`` (UTC), ``feed`` (the feed's
    name, or its ``feed_id`` when the feed row is missing), ``title`` and ``url`` (as stored:
    untrusted feed text, to be shown as plain text), ``label``, ``p_negative``, ``p_neutral``,
    ``p_positive`` (probabilities in [0, 1]), ``sentiment_score`` (``p_positive - p_negative``,
    in [-1, 1]), ``tickers`` (a list of symbols, possibly empty or NULL) and
    ``model_version``.

    Raises:
        StorageError: the database cannot be read.
    """
    version = production_version(db_path)
    # Fast path: the newest articles by published_at (a top-N on one column, pruned by zone
    # maps), then their scores. When too few of them are scored (a scoring backlog), fall
    # back to searching every scored article.
    for candidates in (max(20 * int(limit), 2000), None):
        bound = "" if candidates is None else f"ORDER BY published_at DESC LIMIT {candidates}"
        sql = f"""
            WITH recent AS (SELECT article_id FROM articles {bound})
            SELECT a.published_at, coalesce(f.name, a.feed_id) AS feed, a.title, a.url,
                   s.label, s.p_negative, s.p_neutral, s.p_positive, s.sentiment_score,
                   a.tickers, s.model_version
            FROM recent r
            JOIN scores s ON s.article_id = r.article_id AND s.model_version = ?
            JOIN articles a ON a.article_id = r.article_id
            LEFT JOIN feeds f ON f.feed_id = a.feed_id
            ORDER BY a.published_at DESC, a.article_id
            LIMIT ?
        """
        heads = read(db_path, sql, [version, int(limit)], _HEADLINE_COLUMNS)
        if len(heads) >= limit:
            break
    return heads


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def last_run(db_path: str, status: str | None = None) -> pd.DataFrame:
    """Return the most recently started row of ``runs`` (one stage of one run).

    Columns: ``run_id``, ``stage``, ``window_start``, ``window_end``, ``started_at``,
    ``finished_at`` (NULL while running), ``status`` (``running`` | ``ok`` | ``partial`` |
    ``failed``) and ``counts`` (JSON text). Instants are tz-aware UTC. Empty when no such run
    has been recorded.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        status: only rows with this status (``'ok'`` for the last successful stage).

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        SELECT {", ".join(_RUN_COLUMNS)}
        FROM runs
        WHERE ?::VARCHAR IS NULL OR status = ?
        ORDER BY started_at DESC, finished_at DESC NULLS FIRST
        LIMIT 1
    """
    return read(db_path, sql, [status, status], _RUN_COLUMNS)
