"""Queries behind the Companies page: the company universe, one company's sentiment over time,
its stories and the links that tie them to it.

A *link* is a row of ``article_entities`` (an article is about a company: method, relevance,
mention). Its label is the one *toward the company* (``entity_scores`` of the model in force)
when the model gave one, else the article's label (``scores``), flagged ``targeted = false``
so the page can say "article label" (an article-level-only model, or not yet scored per
company). Daily series count *stories* as detection does (:mod:`pipeline.storage.stories`):
copies of one story on one UTC day count once, with the mean of their probabilities and the
argmax of those means as label.

A database written before the companies tables existed (migration 5, applied by the next
pipeline run) lacks them: :func:`has_company_tables` tells the pages so.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.queries.core import (
    CACHE_TTL_S, database_exists, open_read_only, production_version, read,
)

_COMPANY_TABLES = ("companies", "article_entities", "entity_scores")
_SEARCH_COLUMNS = ["ticker", "name", "exchange", "country", "sector", "listed", "n_links"]
_COMPANY_COLUMNS = ["ticker", "name", "exchange", "country", "sector", "industry", "aliases",
                    "listed"]
DAILY_COLUMNS = ["day", "n_stories", "n_negative", "negative_share", "mean_sentiment",
                 "n_article_label"]
_STORY_COLUMNS = ["article_id", "story_id", "published_at", "source", "title", "url", "method",
                  "relevance", "mention", "label", "p_negative", "sentiment_score", "targeted",
                  "article_label", "article_p_negative"]
#: Stories :func:`company_stories` returns by default (read with :func:`company_daily`'s).
STORIES_LIMIT = 500
_SCORED_COLUMNS = ["p_negative", "p_neutral", "p_positive", "sentiment_score", "targeted"]

#: The columns of a link's label: toward the company (``entity_scores`` as ``t``) where the
#: model gave one, else the article's (``scores`` as ``s``).
_LABEL_COLUMNS = """coalesce(t.p_negative, s.p_negative) AS p_negative,
           coalesce(t.p_neutral, s.p_neutral) AS p_neutral,
           coalesce(t.p_positive, s.p_positive) AS p_positive,
           coalesce(t.sentiment_score, s.sentiment_score) AS sentiment_score,
           coalesce(t.label, s.label) AS label, t.article_id IS NOT NULL AS targeted,
           s.label AS article_label, s.p_negative AS article_p_negative"""

#: SQL of every link scored by the model in force (``$model``), with the label toward the
#: company where the model gave one. Columns: ``article_id, story_id, published_at, feed_id,
#: entity, method, relevance, mention, p_negative, p_neutral, p_positive, sentiment_score,
#: label, targeted, article_label, article_p_negative``. ``{join}`` and ``{where}`` narrow it.
SCORED_LINKS = """
    SELECT l.article_id, a.story_id, a.published_at, a.feed_id, l.entity, l.method,
           l.relevance, l.mention,
           """ + _LABEL_COLUMNS + """
    FROM article_entities l JOIN articles a USING (article_id) {join}
    JOIN scores s ON s.article_id = l.article_id AND s.model_version = $model
    LEFT JOIN entity_scores t ON t.article_id = l.article_id AND t.entity = l.entity
         AND t.model_version = $model
    WHERE l.relevance >= $floor AND a.published_at >= $start AND a.published_at < $end {where}
"""

#: Per (group, UTC day, story): mean probabilities of its rows (copies, and companies for a
#: sector), label = argmax of the means (ties to negative, as detection breaks them).
STORY_DAYS = """
    SELECT {group} date_trunc('day', published_at) AS day, story_id,
           avg(p_negative) AS pn, avg(p_neutral) AS pu, avg(p_positive) AS pp,
           avg(sentiment_score) AS score, bool_and(targeted) AS targeted
    FROM ({links}) r GROUP BY ALL
"""

#: Daily aggregates over :data:`STORY_DAYS` rows.
DAILY_AGGREGATES = """
    count(*) AS n_stories,
    count(*) FILTER (WHERE pn >= pu AND pn >= pp) AS n_negative,
    n_negative / n_stories AS negative_share,
    avg(score) AS mean_sentiment,
    count(*) FILTER (WHERE NOT targeted) AS n_article_label
"""


def link_params(db_path: str, start: pd.Timestamp | None, end: pd.Timestamp,
                min_relevance: float) -> dict:
    """Named parameters of :data:`SCORED_LINKS` (model in force, period, relevance floor);
    ``start`` None means all history."""
    if start is None:
        start = pd.Timestamp(0, tz="UTC")
    return {"model": production_version(db_path), "start": start, "end": end,
            "floor": float(min_relevance)}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def has_company_tables(db_path: str) -> bool:
    """Return True when the database has the companies tables (migration 5).

    Raises:
        StorageError: the database cannot be read.
    """
    frame = read(db_path, "SELECT count(*) AS n FROM duckdb_tables()"
                 " WHERE schema_name = 'main' AND list_contains(?, table_name)",
                 [list(_COMPANY_TABLES)], ["n"])
    return not frame.empty and int(frame.at[0, "n"]) == len(_COMPANY_TABLES)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def search_companies(db_path: str, text: str = "", limit: int = 50) -> pd.DataFrame:
    """Find companies by ticker, name or alias, best match first.

    The universe is the ``companies`` table plus every ticker linked to an article but absent
    from it (archive tickers are kept even when unknown; ``listed`` false, no name). Matches,
    best first: the exact ticker, a ticker prefix, a name prefix, a name substring, an alias
    substring (case-insensitive); then by linked articles. An empty ``text`` lists the
    companies with the most linked articles.

    Columns: ``ticker``, ``name``, ``exchange``, ``country``, ``sector``, ``listed``,
    ``n_links`` (articles linked to the company).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        text: what the user typed (any case).
        limit: most rows returned.

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        WITH n AS (SELECT entity, count(*) AS n_links FROM article_entities GROUP BY entity),
        u AS (
            SELECT ticker, name, exchange, country, sector, aliases, true AS listed
            FROM companies
            UNION ALL
            SELECT entity, NULL, NULL, NULL, NULL, NULL, false
            FROM n WHERE entity NOT IN (SELECT ticker FROM companies)
        ),
        ranked AS (
            SELECT u.*, coalesce(n.n_links, 0) AS n_links,
                   CASE WHEN $q = '' THEN 5
                        WHEN lower(ticker) = $q THEN 0
                        WHEN starts_with(lower(ticker), $q) THEN 1
                        WHEN starts_with(lower(name), $q) THEN 2
                        WHEN contains(lower(name), $q) THEN 3
                        WHEN len(list_filter(coalesce(aliases, []),
                                             lambda x: contains(lower(x), $q))) > 0 THEN 4
                   END AS rank
            FROM u LEFT JOIN n ON n.entity = u.ticker
        )
        SELECT ticker, name, exchange, country, sector, listed, n_links FROM ranked
        WHERE rank IS NOT NULL
        ORDER BY rank, n_links DESC, ticker
        LIMIT $limit
    """
    return read(db_path, sql, {"q": text.strip().lower(), "limit": int(limit)},
                _SEARCH_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def company(db_path: str, ticker: str) -> pd.DataFrame:
    """Return one company as a one-row frame (empty when the ticker is neither in
    ``companies`` nor linked to any article).

    Columns: ``ticker``, ``name``, ``exchange``, ``country``, ``sector``, ``industry``,
    ``aliases`` (list), ``listed`` (False for a linked ticker missing from ``companies``:
    every other column is then NULL).

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        SELECT ticker, name, exchange, country, sector, industry, aliases, true AS listed
        FROM companies WHERE ticker = $t
        UNION ALL
        SELECT $t, NULL, NULL, NULL, NULL, NULL, NULL, false
        WHERE NOT EXISTS (SELECT 1 FROM companies WHERE ticker = $t)
          AND EXISTS (SELECT 1 FROM article_entities WHERE entity = $t)
    """
    return read(db_path, sql, {"t": ticker}, _COMPANY_COLUMNS)


#: One company's links in the period (scored or not; ``$ticker``, period and floor as in
#: :data:`SCORED_LINKS`), as a temporary table both :func:`company_daily` and
#: :func:`company_stories` read, so the link tables are scanned once per page run.
_COMPANY_LINKS = """
    CREATE TEMP TABLE company_links AS
    SELECT l.article_id, a.story_id, a.published_at, a.feed_id, l.method, l.relevance,
           l.mention, s.article_id IS NOT NULL AS scored,
           """ + _LABEL_COLUMNS + """
    FROM (SELECT article_id, method, relevance, mention FROM article_entities
          WHERE entity = $ticker AND relevance >= $floor) l
    JOIN (SELECT article_id, story_id, published_at, feed_id FROM articles
          WHERE published_at >= $start AND published_at < $end) a USING (article_id)
    LEFT JOIN scores s ON s.article_id = l.article_id AND s.model_version = $model
    LEFT JOIN entity_scores t ON t.article_id = l.article_id AND t.entity = $ticker
         AND t.model_version = $model
"""

#: The newest ``$limit`` rows of ``company_links`` with their source, title and URL (read for
#: those rows only).
_COMPANY_STORIES = """
    SELECT l.article_id, l.story_id, l.published_at, coalesce(f.name, l.feed_id) AS source,
           a.title, a.url, l.method, l.relevance, l.mention, l.label, l.p_negative,
           l.sentiment_score, l.targeted, l.article_label, l.article_p_negative
    FROM (SELECT * FROM company_links ORDER BY published_at DESC, article_id LIMIT $limit) l
    JOIN articles a USING (article_id)
    LEFT JOIN feeds f ON f.feed_id = l.feed_id
    ORDER BY l.published_at DESC, l.article_id
"""


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def company_activity(db_path: str, ticker: str, start: pd.Timestamp | None, end: pd.Timestamp,
                     min_relevance: float = 0.0, limit: int = STORIES_LIMIT
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(daily, stories)`` of the company in ``[start, end)``: what
    :func:`company_daily` and :func:`company_stories` (``limit`` newest rows) return, read on
    one connection from one pass over its links (a temporary table).

    Raises:
        StorageError: the database cannot be read.
    """
    if not database_exists(db_path):
        return pd.DataFrame(columns=DAILY_COLUMNS), pd.DataFrame(columns=_STORY_COLUMNS)
    params = {**link_params(db_path, start, end, min_relevance), "ticker": ticker}
    scored = (f"SELECT published_at, story_id, {', '.join(_SCORED_COLUMNS)}"
              " FROM company_links WHERE scored")
    daily_sql = (f"SELECT day, {DAILY_AGGREGATES}"
                 f" FROM ({STORY_DAYS.format(group='', links=scored)}) GROUP BY day ORDER BY day")
    with open_read_only(db_path) as con:
        con.execute(_COMPANY_LINKS, params)
        daily = con.execute(daily_sql).df()
        stories = con.execute(_COMPANY_STORIES, {"limit": int(limit)}).df()
    return daily, stories


def company_daily(db_path: str, ticker: str, start: pd.Timestamp | None, end: pd.Timestamp,
                  min_relevance: float = 0.0) -> pd.DataFrame:
    """Return the company's daily stories and sentiment toward it, oldest day first.

    One row per UTC day with at least one scored story linked to the company in
    ``[start, end)`` through a link of relevance ``>= min_relevance``.

    Columns (:data:`DAILY_COLUMNS`): ``day`` (midnight UTC), ``n_stories``, ``n_negative``
    (stories whose label toward the company is negative), ``negative_share`` (in [0, 1]),
    ``mean_sentiment`` (mean ``p_positive - p_negative`` toward the company, in [-1, 1]),
    ``n_article_label`` (stories counted with the article's label for want of a
    company-level one). From :func:`company_activity` (cached; its stories of the default
    ``limit`` come with it).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        ticker: the company.
        start: first instant (tz-aware), or None for all history.
        end: end instant, exclusive (tz-aware).
        min_relevance: least link relevance counted (0..1).

    Raises:
        StorageError: the database cannot be read.
    """
    return company_activity(db_path, ticker, start, end, min_relevance, STORIES_LIMIT)[0]


def company_stories(db_path: str, ticker: str, start: pd.Timestamp | None, end: pd.Timestamp,
                    min_relevance: float = 0.0, limit: int = STORIES_LIMIT) -> pd.DataFrame:
    """Return the articles linked to the company, newest first, with how and toward whom.

    Unscored articles are listed too (label NULL). Columns: ``article_id``, ``story_id``,
    ``published_at`` (UTC), ``source`` (feed name), ``title`` and ``url`` (untrusted feed
    text), ``method``, ``relevance`` (0..1), ``mention`` (the text naming the company),
    ``label``, ``p_negative`` and ``sentiment_score`` toward the company (the article's when
    ``targeted`` is false), ``targeted``, ``article_label`` and ``article_p_negative``.
    Selected from :func:`company_activity` (cached).

    Args:
        db_path: path of ``tonewatch.duckdb``.
        ticker: the company.
        start, end: ``start <= published_at < end`` (start None: no lower bound).
        min_relevance: least link relevance listed (0..1).
        limit: most rows returned.

    Raises:
        StorageError: the database cannot be read.
    """
    return company_activity(db_path, ticker, start, end, min_relevance, int(limit))[1]
