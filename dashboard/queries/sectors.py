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

from dashboard.queries.companies import DAILY_AGGREGATES, SCORED_LINKS, STORY_DAYS, link_params
from dashboard.queries.core import CACHE_TTL_S, read

_SECTOR_JOIN = "JOIN companies c ON c.ticker = l.entity"
_SECTOR_COLUMNS = ["sector", "n_companies", "n_stories", "n_negative", "negative_share",
                   "mean_sentiment"]
_SECTOR_DAILY_COLUMNS = ["sector", "day", "n_stories", "n_negative", "negative_share",
                         "mean_sentiment", "n_article_label"]
_MEMBER_COLUMNS = ["ticker", "name", "n_stories", "n_negative", "negative_share",
                   "mean_sentiment", "n_article_label"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def sector_totals(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                  min_relevance: float = 0.0) -> pd.DataFrame:
    """Return every sector of the universe with its stories in ``[start, end)``.

    Columns: ``sector``, ``n_companies`` (companies of the universe in it), ``n_stories``
    (scored stories linked to any of them; a story counts once per sector), ``n_negative``,
    ``negative_share`` (NULL without stories), ``mean_sentiment`` (in [-1, 1]). Most negative
    stories first, then by name. Empty when ``companies`` has no row.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        start: first instant (tz-aware), or None for all history.
        end: end instant, exclusive.
        min_relevance: least link relevance counted (0..1).

    Raises:
        StorageError: the database cannot be read.
    """
    links = SCORED_LINKS.format(join=_SECTOR_JOIN, where="AND c.sector IS NOT NULL")
    links = links.replace("SELECT l.article_id,", "SELECT c.sector, l.article_id,", 1)
    sql = f"""
        WITH stories AS (
            SELECT sector, story_id, avg(p_negative) AS pn, avg(p_neutral) AS pu,
                   avg(p_positive) AS pp, avg(sentiment_score) AS score
            FROM ({links}) r GROUP BY ALL
        ),
        per_sector AS (
            SELECT sector, count(*) AS n_stories,
                   count(*) FILTER (WHERE pn >= pu AND pn >= pp) AS n_negative,
                   avg(score) AS mean_sentiment
            FROM stories GROUP BY sector
        ),
        universe AS (
            SELECT sector, count(*) AS n_companies FROM companies
            WHERE sector IS NOT NULL GROUP BY sector
        )
        SELECT u.sector, u.n_companies, coalesce(p.n_stories, 0) AS n_stories,
               coalesce(p.n_negative, 0) AS n_negative,
               p.n_negative / p.n_stories AS negative_share, p.mean_sentiment
        FROM universe u LEFT JOIN per_sector p USING (sector)
        ORDER BY n_negative DESC, n_stories DESC, u.sector
    """
    return read(db_path, sql, link_params(db_path, start, end, min_relevance), _SECTOR_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def sector_daily(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                 min_relevance: float = 0.0) -> pd.DataFrame:
    """Return each sector's daily stories and negative share in ``[start, end)``.

    One row per sector and UTC day with at least one scored story. Columns: ``sector``,
    ``day`` (midnight UTC), ``n_stories``, ``n_negative``, ``negative_share`` (in [0, 1]),
    ``mean_sentiment``, ``n_article_label`` (stories counted with the article's label for want
    of company-level ones). Ordered by sector, then day.

    Raises:
        StorageError: the database cannot be read.
    """
    links = SCORED_LINKS.format(join=_SECTOR_JOIN, where="AND c.sector IS NOT NULL")
    links = links.replace("SELECT l.article_id,", "SELECT c.sector, l.article_id,", 1)
    sql = (f"SELECT sector, day, {DAILY_AGGREGATES}"
           f" FROM ({STORY_DAYS.format(group='sector,', links=links)})"
           " GROUP BY sector, day ORDER BY sector, day")
    return read(db_path, sql, link_params(db_path, start, end, min_relevance),
                _SECTOR_DAILY_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def sector_companies(db_path: str, sector: str, start: pd.Timestamp | None, end: pd.Timestamp,
                     min_relevance: float = 0.0, limit: int = 25) -> pd.DataFrame:
    """Return the sector's companies with stories in ``[start, end)``, most negative first.

    Columns: ``ticker``, ``name``, ``n_stories``, ``n_negative`` (stories whose label toward
    the company is negative), ``negative_share``, ``mean_sentiment``, ``n_article_label``.
    Ordered by negative stories, then share, then ticker.

    Raises:
        StorageError: the database cannot be read.
    """
    links = SCORED_LINKS.format(join=_SECTOR_JOIN, where="AND c.sector = $sector")
    sql = f"""
        SELECT s.entity AS ticker, any_value(c.name) AS name, {DAILY_AGGREGATES}
        FROM ({STORY_DAYS.format(group='entity,', links=links)}) s
        JOIN companies c ON c.ticker = s.entity
        GROUP BY s.entity
        ORDER BY n_negative DESC, negative_share DESC, ticker
        LIMIT $limit
    """
    params = {**link_params(db_path, start, end, min_relevance), "sector": sector,
              "limit": int(limit)}
    return read(db_path, sql, params, _MEMBER_COLUMNS)
