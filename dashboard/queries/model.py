"""Queries behind the Model page: versions and their metrics, label drift, shadow comparison."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import (
    CACHE_TTL_S, database_exists, open_read_only, production_version, read,
)
from pipeline.shadow import label_transitions

_VERSION_COLUMNS = ["model_version", "name", "stage", "metrics", "created_at", "n_scores"]
_DRIFT_COLUMNS = ["day", "label", "n", "share"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def model_versions(db_path: str) -> pd.DataFrame:
    """Return every model version known to the database, newest first.

    Columns: ``model_version``, ``name``, ``stage`` (``candidate`` | ``production`` |
    ``archived``; NULL for a version that scored articles but is not registered), ``metrics``
    (JSON text from the registry's evaluation: ``accuracy``, ``macro_f1``, ``per_class``,
    ``confusion`` as rows = true label, columns = predicted, in the order negative, neutral,
    positive; NULL when not evaluated), ``created_at`` (UTC) and ``n_scores``.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        WITH n AS (SELECT model_version, count(*) AS n_scores FROM scores GROUP BY ALL)
        SELECT model_version, mv.name, mv.stage, mv.metrics::VARCHAR AS metrics, mv.created_at,
               coalesce(n.n_scores, 0) AS n_scores
        FROM model_versions mv FULL OUTER JOIN n USING (model_version)
        ORDER BY mv.created_at DESC NULLS LAST, model_version
    """
    return read(db_path, sql, None, _VERSION_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def label_drift(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """Return the production model's label distribution per UTC day (drift over time).

    Covers articles published in ``[start, end)`` (tz-aware UTC; ``start`` None: from the
    first), the page's period (:func:`dashboard.ui.data_period`).

    Columns: ``day`` (midnight UTC), ``label``, ``n`` (articles), ``share`` (of that day's
    scored articles, in [0, 1]). Oldest first.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        SELECT day, label, n, n / sum(n) OVER (PARTITION BY day) AS share
        FROM (
            SELECT date_trunc('day', a.published_at) AS day, s.label, count(*) AS n
            FROM articles a
            JOIN scores s ON s.article_id = a.article_id AND s.model_version = ?
            WHERE (?::TIMESTAMPTZ IS NULL OR a.published_at >= ?::TIMESTAMPTZ)
              AND a.published_at < ?
            GROUP BY ALL
        )
        ORDER BY day, label
    """
    return read(db_path, sql, [production_version(db_path), start, start, end], _DRIFT_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def shadow_transitions(db_path: str, baseline: str, candidate: str
                       ) -> tuple[dict[str, dict[str, int]], int]:
    """Cross-tabulate baseline vs candidate labels over articles both versions scored.

    A thin read-only caller of :func:`pipeline.shadow.label_transitions` (current content
    only, all stored articles). The alert replay of ``tonewatch rescore --against`` is not run
    here: it evaluates every rule on every day, too slow for a page load.

    Returns:
        ``(transitions, n)``: ``transitions[baseline_label][candidate_label]`` article counts
        and the number of articles compared; ``({}, 0)`` when the database does not exist.

    Raises:
        StorageError: the database cannot be read.
    """
    if not database_exists(db_path):
        return {}, 0
    with open_read_only(db_path) as con:
        return label_transitions(con, baseline=baseline, candidate=candidate, since=None)
