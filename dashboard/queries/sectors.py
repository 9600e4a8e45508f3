"""Queries behind the Sectors page: each sector's stories and sentiment over time, the companies
in it with the most negative stories, counted as sector detection counts them.

A company's sector comes from the ``companies`` table; links to tickers missing from it have
no sector and do not count. A story naming two companies of one sector counts *once* for that
sector, with the mean of its companies' probabilities (toward each company where the model
gave them, else the article's), as :mod:`pipeline.storage.stories` does for sector alerts.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.companies import DAILY_AGGREGATES, SCORED_LINKS, link_params
from dashboard.queries.core import CACHE_TTL_S, read

_SECTOR_JOIN = "JOIN companies c ON c.ticker = l.entity"
_SECTOR_COLUMNS = ["sector", "n_companies", "n_stories", "n_negative", "negative_share",
                   "mean_sentiment"]
_SECTOR_DAILY_COLUMNS = ["sector", "day", "n_stories", "n_negative", "negative_share",
                         "mean_sentiment", "n_article_label"]
_MEMBER_COLUMNS = ["ticker", "name", "n_stories", "n_negative", "negative_share",
                   "mean_sentiment", "n_article_label"]


_SUMMARY_COLUMNS = ["kind", "sector", "day", "ticker", "name", "n_companies", "n_stories",
                    "n_negative", "negative_share", "mean_sentiment", "n_article_label"]
_COUNTS = ["n_companies", "n_stories", "n_negative", "n_article_label"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def sector_summary(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                   min_relevance: float = 0.0) -> pd.DataFrame:
    """Return everything the Sectors page shows for ``[start, end)``, from one pass over the
    links: :func:`sector_totals`, :func:`sector_daily` and :func:`sector_companies` (every
    sector) select their rows from it.

    The period's sector links are read once and grouped three ways at once (``GROUPING SETS``):
    per sector and story (totals), per sector, day and story (daily), per company, day and
    story (companies); each grouping counts its stories as :data:`DAILY_AGGREGATES` does.

    Columns: ``kind`` (``total``, ``daily`` or ``company``), ``sector``, ``day`` (daily rows),
    ``ticker`` and ``name`` (company rows), ``n_companies`` (total rows), ``n_stories``,
    ``n_negative``, ``negative_share``, ``mean_sentiment``, ``n_article_label``. Unordered.

    Raises:
        StorageError: the database cannot be read.
    """
    links = SCORED_LINKS.format(join=_SECTOR_JOIN, where="AND c.sector IS NOT NULL")
    links = links.replace("SELECT l.article_id,", "SELECT c.sector, l.article_id,", 1)
    sql = f"""
        WITH stories AS (
            SELECT sector, entity, date_trunc('day', published_at) AS day, story_id,
                   avg(p_negative) AS pn, avg(p_neutral) AS pu, avg(p_positive) AS pp,
                   avg(sentiment_score) AS score, bool_and(targeted) AS targeted,
                   grouping(entity, day) AS g
            FROM ({links}) r
            GROUP BY GROUPING SETS ((sector, story_id), (sector, day, story_id),
                                    (sector, entity, day, story_id))
        ),
        -- A company story counts once per day (as STORY_DAYS groups it), over the period.
        agg AS (SELECT g, sector, CASE WHEN g = 2 THEN day END AS d, entity,
                       {DAILY_AGGREGATES}
                FROM stories GROUP BY g, sector, d, entity),
        universe AS (
            SELECT sector, count(*) AS n_companies FROM companies
            WHERE sector IS NOT NULL GROUP BY sector
        )
        SELECT 'total' AS kind, u.sector, NULL::TIMESTAMPTZ AS day, NULL::VARCHAR AS ticker,
               NULL::VARCHAR AS name, u.n_companies, coalesce(a.n_stories, 0) AS n_stories,
               coalesce(a.n_negative, 0) AS n_negative,
               a.n_negative / a.n_stories AS negative_share, a.mean_sentiment,
               coalesce(a.n_article_label, 0) AS n_article_label
        FROM universe u LEFT JOIN agg a ON a.sector = u.sector AND a.g = 3
        UNION ALL
        SELECT 'daily', sector, d, NULL, NULL, NULL, n_stories, n_negative, negative_share,
               mean_sentiment, n_article_label
        FROM agg WHERE g = 2
        UNION ALL
        SELECT 'company', a.sector, NULL, a.entity, c.name, NULL, n_stories, n_negative,
               negative_share, mean_sentiment, n_article_label
        FROM agg a JOIN companies c ON c.ticker = a.entity WHERE a.g = 0
    """
    return read(db_path, sql, link_params(db_path, start, end, min_relevance),
                _SUMMARY_COLUMNS)


def _rows(summary: pd.DataFrame, kind: str, columns: list[str], by: list[str],
          ascending: list[bool]) -> pd.DataFrame:
    """The ``kind`` rows of :func:`sector_summary`, sorted, with integer counts."""
    rows = summary[summary["kind"] == kind]
    rows = rows.sort_values(by, ascending=ascending, kind="stable")[columns]
    counts = [c for c in columns if c in _COUNTS]
    return rows.astype(dict.fromkeys(counts, "int64")).reset_index(drop=True)


def sector_totals(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                  min_relevance: float = 0.0) -> pd.DataFrame:
    """Return every sector of the universe with its stories in ``[start, end)``.

    Columns: ``sector``, ``n_companies`` (companies of the universe in it), ``n_stories``
    (scored stories linked to any of them; a story counts once per sector), ``n_negative``,
    ``negative_share`` (NULL without stories), ``mean_sentiment`` (in [-1, 1]). Most negative
    stories first, then by name. Empty when ``companies`` has no row. Selected from
    :func:`sector_summary` (cached).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        start: first instant (tz-aware), or None for all history.
        end: end instant, exclusive.
        min_relevance: least link relevance counted (0..1).

    Raises:
        StorageError: the database cannot be read.
    """
    return _rows(sector_summary(db_path, start, end, min_relevance), "total", _SECTOR_COLUMNS,
                 ["n_negative", "n_stories", "sector"], [False, False, True])


def sector_daily(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                 min_relevance: float = 0.0) -> pd.DataFrame:
    """Return each sector's daily stories and negative share in ``[start, end)``.

    One row per sector and UTC day with at least one scored story. Columns: ``sector``,
    ``day`` (midnight UTC), ``n_stories``, ``n_negative``, ``negative_share`` (in [0, 1]),
    ``mean_sentiment``, ``n_article_label`` (stories counted with the article's label for want
    of company-level ones). Ordered by sector, then day. Selected from :func:`sector_summary`.

    Raises:
        StorageError: the database cannot be read.
    """
    return _rows(sector_summary(db_path, start, end, min_relevance), "daily",
                 _SECTOR_DAILY_COLUMNS, ["sector", "day"], [True, True])


def sector_companies(db_path: str, sector: str, start: pd.Timestamp | None, end: pd.Timestamp,
                     min_relevance: float = 0.0, limit: int = 25) -> pd.DataFrame:
    """Return the sector's companies with stories in ``[start, end)``, most negative first.

    Columns: ``ticker``, ``name``, ``n_stories``, ``n_negative`` (stories whose label toward
    the company is negative), ``negative_share``, ``mean_sentiment``, ``n_article_label``.
    Ordered by negative stories, then share, then ticker. Selected from
    :func:`sector_summary`.

    Raises:
        StorageError: the database cannot be read.
    """
    summary = sector_summary(db_path, start, end, min_relevance)
    rows = _rows(summary[summary["sector"] == sector], "company", _MEMBER_COLUMNS,
                 ["n_negative", "negative_share", "ticker"], [False, False, True])
    return rows.head(int(limit))
