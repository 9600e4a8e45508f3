"""Queries behind the movers ranking: companies and sources, window vs baseline, per day.

An *entity* is a ticker symbol (an article counts once for each company it is linked to, with
its label toward that company where the model gave one) or a source (``articles.feed_id``).
Shares are per article under the production model; the alert rules count de-duplicated stories
instead, so the two can differ a little.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, DATED, production_version, read

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
_COVERAGE_COLUMNS = ["day", "n_articles", "n_scored", "last_published"]
_HOURLY_COLUMNS = ["entity", "entity_name", "hour", "n_scored", "n_negative"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def link_coverage(db_path: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Return, per UTC day, the dated articles linked to a company and the most scored ones any
    one company has: the coverage the company movers choose their window from (a company's
    share needs a few scored articles of its own; :func:`dashboard.ui.data_period`).

    Inferred, out-of-range and future dates are left out, as in
    :func:`~dashboard.queries.core.day_coverage`. Columns: ``day`` (midnight UTC),
    ``n_articles`` (articles linked to any company), ``n_scored`` (the most articles scored by
    the production model and linked to one company), ``last_published`` (the day's newest
    linked article, UTC). Oldest first.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        since: only days from this instant on (tz-aware UTC; None: all history).

    Raises:
        StorageError: the database cannot be read.
    """
    sql = f"""
        WITH links AS (
            SELECT date_trunc('day', a.published_at) AS day, l.entity, a.article_id,
                   a.published_at, s.article_id IS NOT NULL AS scored
            FROM article_entities l JOIN articles a ON a.article_id = l.article_id
            LEFT JOIN scores s ON s.article_id = a.article_id AND s.model_version = $model
            WHERE {DATED} AND ($since::TIMESTAMPTZ IS NULL OR a.published_at >= $since)
        ), per_company AS (
            SELECT day, max(n) AS n_scored
            FROM (SELECT day, count(*) FILTER (WHERE scored) AS n FROM links GROUP BY day, entity)
            GROUP BY day
        )
        SELECT l.day, count(DISTINCT l.article_id) AS n_articles,
               any_value(p.n_scored) AS n_scored, max(l.published_at) AS last_published
        FROM links l JOIN per_company p USING (day)
        GROUP BY l.day
        ORDER BY l.day
    """
    return read(db_path, sql, {"model": production_version(db_path), "since": since},
                _COVERAGE_COLUMNS)


def _bounds(end: pd.Timestamp, window_days: int, baseline_days: int):
    """``(baseline_start, window_start, end)``, UTC, ending at ``end``."""
    window_start = end - pd.Timedelta(days=window_days)
    return window_start - pd.Timedelta(days=baseline_days), window_start, end


def _check_scope(scope: str) -> None:
    if scope not in _ENTITY_ROWS:
        raise ValueError(f"scope must be one of {sorted(_ENTITY_ROWS)}, not {scope!r}")


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def entity_hours(db_path: str, scope: str, end: pd.Timestamp, days: int) -> pd.DataFrame:
    """Return the scored and negative articles of every entity per UTC hour, over the ``days``
    UTC days up to ``end`` (from midnight UTC ``days`` days before it): one pass over the links
    serves both :func:`entity_changes` and :func:`entity_daily` (the end and the window bounds
    fall on whole hours, so hourly counts add up exactly to theirs).

    Columns: ``entity``, ``entity_name`` (feed name for sources, else the ticker), ``hour``
    (tz-aware UTC), ``n_scored``, ``n_negative``. Unordered.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        scope: ``'ticker'`` or ``'source'``.
        end: end of the period (exclusive), a whole hour, tz-aware UTC.
        days: days covered.

    Raises:
        ValueError: another scope.
        StorageError: the database cannot be read.
    """
    _check_scope(scope)
    sql = f"""
        WITH h AS (
            SELECT e.entity, date_trunc('hour', e.published_at) AS hour, count(*) AS n_scored,
                   count(*) FILTER (WHERE e.label = 'negative') AS n_negative
            FROM ({_ENTITY_ROWS[scope]}) e
            WHERE e.published_at >= $start AND e.published_at < $end
            GROUP BY ALL
        )
        SELECT h.entity, coalesce(f.name, h.entity) AS entity_name, h.hour, h.n_scored,
               h.n_negative
        FROM h LEFT JOIN feeds f ON '{scope}' = 'source' AND f.feed_id = h.entity
    """
    params = {"model": production_version(db_path),
              "start": (end - pd.Timedelta(days=days)).floor("D"), "end": end}
    return read(db_path, sql, params, _HOURLY_COLUMNS)


def entity_changes(db_path: str, scope: str, end: pd.Timestamp, window_days: int = 1,
                   baseline_days: int = 28, min_window: int = 3, limit: int = 50
                   ) -> pd.DataFrame:
    """Rank entities by the change of their negative share, window vs baseline.

    The window is the ``window_days`` days before ``end`` (the movers' period, see
    :func:`dashboard.ui.data_period`); the baseline the ``baseline_days`` days before the
    window. Entities with fewer than
    ``min_window`` scored articles in the window are *insufficient data*: they come last, with
    NULL ``share_window`` and ``change``, ordered by volume.

    Columns: ``entity`` (ticker or feed_id), ``entity_name`` (feed name for sources, else the
    ticker), ``n_window``/``neg_window`` and ``n_baseline``/``neg_baseline`` (scored and
    negative articles), ``share_window`` and ``share_baseline`` (negative shares in [0, 1];
    NULL when nothing was scored), ``change`` (``share_window - share_baseline``, in
    percentage points / 100). Largest rise first.

    Derived from :func:`entity_hours` (cached), which :func:`entity_daily` shares.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        scope: ``'ticker'`` or ``'source'``.
        end: end of the window (exclusive), a whole hour, tz-aware UTC.
        window_days, baseline_days: lengths in days.
        min_window: fewest scored articles in the window for a share to be shown.
        limit: most rows returned.

    Raises:
        ValueError: another scope.
        StorageError: the database cannot be read.
    """
    _check_scope(scope)
    base_start, win_start, end = _bounds(end, window_days, baseline_days)
    hours = entity_hours(db_path, scope, end, window_days + baseline_days)
    hours = hours[(hours["hour"] >= base_start) & (hours["hour"] < end)]
    if hours.empty:
        return pd.DataFrame(columns=_RANK_COLUMNS)
    in_window = hours["hour"] >= win_start
    counts = pd.DataFrame({
        "entity": hours["entity"],
        "n_window": hours["n_scored"].where(in_window, 0),
        "neg_window": hours["n_negative"].where(in_window, 0),
        "n_baseline": hours["n_scored"].where(~in_window, 0),
        "neg_baseline": hours["n_negative"].where(~in_window, 0),
    }).groupby("entity", as_index=False).sum()
    names = hours.groupby("entity")["entity_name"].first()
    counts = counts[counts["n_window"] > 0]
    ranked = pd.DataFrame({
        "entity": counts["entity"],
        "entity_name": counts["entity"].map(names),
        "n_window": counts["n_window"], "neg_window": counts["neg_window"],
        "n_baseline": counts["n_baseline"], "neg_baseline": counts["neg_baseline"],
        "share_window": (counts["neg_window"] / counts["n_window"]).where(
            counts["n_window"] >= int(min_window)),
        "share_baseline": (counts["neg_baseline"] / counts["n_baseline"]).where(
            counts["n_baseline"] > 0),
    })
    ranked["change"] = ranked["share_window"] - ranked["share_baseline"]
    ranked = ranked.sort_values(["change", "n_window", "entity"], ascending=[False, False, True],
                                na_position="last", kind="stable")
    return ranked.head(int(limit)).reset_index(drop=True)


def entity_daily(db_path: str, scope: str, entities: tuple[str, ...], end: pd.Timestamp,
                 days: int = 29) -> pd.DataFrame:
    """Return the daily negative share of the given entities (sparklines and the heatmap).

    Covers the ``days`` UTC days up to ``end`` (exclusive, tz-aware UTC). One row per
    entity and day with at least one scored article. Columns: ``entity``, ``day`` (midnight
    UTC, tz-aware), ``n_scored``, ``n_negative``, ``negative_share`` (in [0, 1]).

    Derived from :func:`entity_hours` (cached), which :func:`entity_changes` shares.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        scope: ``'ticker'`` or ``'source'``.
        entities: tickers or feed_ids (a tuple, so the argument can be cached).
        end: end of the period (exclusive), a whole hour, tz-aware UTC.
        days: days covered.

    Raises:
        ValueError: another scope.
        StorageError: the database cannot be read.
    """
    _check_scope(scope)
    if not entities:
        return pd.DataFrame(columns=_DAILY_COLUMNS)
    hours = entity_hours(db_path, scope, end, days)
    hours = hours[hours["entity"].isin(list(entities))]
    if hours.empty:
        return pd.DataFrame(columns=_DAILY_COLUMNS)
    daily = (hours.assign(day=hours["hour"].dt.floor("D"))
             .groupby(["entity", "day"], as_index=False)[["n_scored", "n_negative"]].sum())
    daily["negative_share"] = daily["n_negative"] / daily["n_scored"]
    return daily.sort_values(["entity", "day"], kind="stable").reset_index(drop=True)
