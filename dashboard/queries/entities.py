"""Queries behind the movers ranking: companies and sources, window vs baseline, per day.

An *entity* is a ticker symbol (an article counts once for each company it is linked to, with
its label toward that company where the model gave one) or a source (``articles.feed_id``).
Shares are per article under the production model; the alert rules count de-duplicated stories
instead, so the two can differ a little.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, data_end, production_version, read

#: SQL yielding ``(article_id, published_at, entity, label)`` of each scored article per scope,
#: under the model ``$model``. A ticker's label is the one toward the company where the model
#: gave one (``entity_scores``), else the article's, as the ticker alert rules count it.
_ENTITY_ROWS = {
    "ticker": """SELECT l.article_id, a.published_at, l.entity,
                        coalesce(t.label, s.label) AS label
                 FROM article_entities l JOIN articles a USING (article_id)
                 JOIN scores s ON s.article_id = l.article_id AND s.model_version = $model
                 LEFT JOIN entity_scores t ON t.article_id = l.article_id
                      AND t.entity = l.entity AND t.model_version = $model""",
    "source": """SELECT a.article_id, a.published_at, a.feed_id AS entity, s.label
                 FROM articles a
                 JOIN scores s ON s.article_id = a.article_id AND s.model_version = $model""",
}
_RANK_COLUMNS = ["entity", "entity_name", "n_window", "neg_window", "n_baseline",
                 "neg_baseline", "share_window", "share_baseline", "change"]
_DAILY_COLUMNS = ["entity", "day", "n_scored", "n_negative", "negative_share"]


def _bounds(db_path: str, window_days: int, baseline_days: int):
    """``(baseline_start, window_start, end)``, UTC, ending at the data's last hour."""
    end = data_end(db_path)
    if end is None:
        return None
    window_start = end - pd.Timedelta(days=window_days)
    return window_start - pd.Timedelta(days=baseline_days), window_start, end


def _check_scope(scope: str) -> None:
    if scope not in _ENTITY_ROWS:
        raise ValueError(f"scope must be one of {sorted(_ENTITY_ROWS)}, not {scope!r}")


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def entity_changes(db_path: str, scope: str, window_days: int = 1, baseline_days: int = 28,
                   min_window: int = 3, limit: int = 50) -> pd.DataFrame:
    """Rank entities by the change of their negative share, window vs baseline.

    The window is the ``window_days`` days before :func:`~dashboard.queries.core.data_end`;
    the baseline the ``baseline_days`` days before the window. Entities with fewer than
    ``min_window`` scored articles in the window are *insufficient data*: they come last, with
    NULL ``share_window`` and ``change``, ordered by volume.

    Columns: ``entity`` (ticker or feed_id), ``entity_name`` (feed name for sources, else the
    ticker), ``n_window``/``neg_window`` and ``n_baseline``/``neg_baseline`` (scored and
    negative articles), ``share_window`` and ``share_baseline`` (negative shares in [0, 1];
    NULL when nothing was scored), ``change`` (``share_window - share_baseline``, in
    percentage points / 100). Largest rise first.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        scope: ``'ticker'`` or ``'source'``.
        window_days, baseline_days: lengths in days.
        min_window: fewest scored articles in the window for a share to be shown.
        limit: most rows returned.

    Raises:
        ValueError: another scope.
        StorageError: the database cannot be read.
    """
    _check_scope(scope)
    bounds = _bounds(db_path, window_days, baseline_days)
    if bounds is None:
        return pd.DataFrame(columns=_RANK_COLUMNS)
    base_start, win_start, end = bounds
    sql = f"""
        WITH e AS (
            SELECT e.entity, e.published_at >= $win_start AS in_window,
                   e.label = 'negative' AS neg
            FROM ({_ENTITY_ROWS[scope]}) e
            WHERE e.published_at >= $base_start AND e.published_at < $end
        ),
        c AS (
            SELECT entity,
                   count(*) FILTER (WHERE in_window) AS n_window,
                   count(*) FILTER (WHERE in_window AND neg) AS neg_window,
                   count(*) FILTER (WHERE NOT in_window) AS n_baseline,
                   count(*) FILTER (WHERE NOT in_window AND neg) AS neg_baseline
            FROM e GROUP BY entity
        )
        SELECT c.entity, coalesce(f.name, c.entity) AS entity_name,
               n_window, neg_window, n_baseline, neg_baseline,
               CASE WHEN n_window >= $min_window THEN neg_window / n_window END AS share_window,
               CASE WHEN n_baseline > 0 THEN neg_baseline / n_baseline END AS share_baseline,
               share_window - share_baseline AS change
        FROM c LEFT JOIN feeds f ON '{scope}' = 'source' AND f.feed_id = c.entity
        WHERE n_window > 0
        ORDER BY change DESC NULLS LAST, n_window DESC, c.entity
        LIMIT $limit
    """
    params = {"win_start": win_start, "model": production_version(db_path),
              "base_start": base_start, "end": end, "min_window": int(min_window),
              "limit": int(limit)}
    return read(db_path, sql, params, _RANK_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def entity_daily(db_path: str, scope: str, entities: tuple[str, ...], days: int = 29
                 ) -> pd.DataFrame:
    """Return the daily negative share of the given entities (sparklines and the heatmap).

    Covers the ``days`` UTC days up to :func:`~dashboard.queries.core.data_end`. One row per
    entity and day with at least one scored article. Columns: ``entity``, ``day`` (midnight
    UTC, tz-aware), ``n_scored``, ``n_negative``, ``negative_share`` (in [0, 1]).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        scope: ``'ticker'`` or ``'source'``.
        entities: tickers or feed_ids (a tuple, so the argument can be cached).
        days: days covered.

    Raises:
        ValueError: another scope.
        StorageError: the database cannot be read.
    """
    _check_scope(scope)
    end = data_end(db_path)
    if end is None or not entities:
        return pd.DataFrame(columns=_DAILY_COLUMNS)
    start = (end - pd.Timedelta(days=days)).floor("D")
    sql = f"""
        SELECT e.entity, date_trunc('day', e.published_at) AS day,
               count(*) AS n_scored,
               count(*) FILTER (WHERE e.label = 'negative') AS n_negative,
               n_negative / n_scored AS negative_share
        FROM ({_ENTITY_ROWS[scope]}) e
        WHERE e.published_at >= $start AND e.published_at < $end
              AND list_contains($entities, e.entity)
        GROUP BY ALL
        ORDER BY e.entity, day
    """
    params = {"model": production_version(db_path), "start": start, "end": end,
              "entities": list(entities)}
    return read(db_path, sql, params, _DAILY_COLUMNS)
