"""Queries behind the Feeds page: the health of every source."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, read

_FEED_COLUMNS = ["feed_id", "name", "url", "category", "last_status", "last_attempt_at",
                 "last_success_at", "consecutive_failures", "http_status", "error_class",
                 "error_message", "warnings", "entries_seen", "entries_new", "entries_dropped",
                 "n_articles", "last_published_at"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def feed_health(db_path: str) -> pd.DataFrame:
    """Return one row per feed with its last fetch outcome and its stored articles.

    Columns: the ``feeds`` health columns (``feed_id``, ``name``, ``url``, ``category``,
    ``last_status`` — ``ok`` | ``no_new_entries`` | ``not_modified`` | ``fetch_failed`` |
    ``not_a_feed`` | ``parse_error`` —, ``last_attempt_at``, ``last_success_at`` (UTC),
    ``consecutive_failures``, ``http_status``, ``error_class``, ``error_message``,
    ``warnings``, ``entries_seen``/``_new``/``_dropped`` of the last fetch), plus
    ``n_articles`` (stored articles of the feed) and ``last_published_at`` (its newest
    article, UTC). Most failing first, then by name.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH per_feed AS (
            SELECT feed_id, count(*) AS n_articles, max(published_at) AS last_published_at
            FROM articles GROUP BY feed_id
        )
        SELECT {", ".join("f." + c for c in _FEED_COLUMNS[:-2])},
               coalesce(p.n_articles, 0) AS n_articles, p.last_published_at
        FROM feeds f LEFT JOIN per_feed p USING (feed_id)
        ORDER BY f.consecutive_failures DESC, f.name, f.feed_id
    """
    return read(db_path, sql, None, _FEED_COLUMNS)
