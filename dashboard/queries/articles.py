"""Queries behind the Articles page: filtered article lists and the choices of each filter."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.queries.core import CACHE_TTL_S, production_version, read

ARTICLE_COLUMNS = [
    "article_id", "published_at", "feed_id", "source", "title", "url", "tickers", "label",
    "p_negative", "p_neutral", "p_positive", "sentiment_score",
]


@dataclass(frozen=True)
class ArticleFilter:
    """What the Articles page asks for; every field is optional (None = no condition).

    Attributes:
        start, end: ``start <= published_at < end``, tz-aware instants (any zone; compared as
            instants, so a local-day range from the UI works as is).
        ticker: articles whose ``tickers`` contain this symbol.
        feed_id: articles of this source.
        labels: production-model labels kept (unscored articles drop out when set).
        min_confidence: smallest top-class probability kept, in [0, 1].
        text: case-insensitive substring of the title or summary (``%`` and ``_`` are literal).
    """

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    ticker: str | None = None
    feed_id: str | None = None
    labels: tuple[str, ...] | None = None
    min_confidence: float | None = None
    text: str | None = None

    def where(self) -> tuple[str, list]:
        """Return the SQL condition over ``a`` (articles) and ``s`` (scores) and its values."""
        clauses, params = ["TRUE"], []
        if self.start is not None:
            clauses.append("a.published_at >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("a.published_at < ?")
            params.append(self.end)
        if self.ticker:
            clauses.append("list_contains(a.tickers, ?)")
            params.append(self.ticker)
        if self.feed_id:
            clauses.append("a.feed_id = ?")
            params.append(self.feed_id)
        if self.labels is not None:
            clauses.append("list_contains(?, s.label)")
            params.append(list(self.labels))
        if self.min_confidence:
            clauses.append("greatest(s.p_negative, s.p_neutral, s.p_positive) >= ?")
            params.append(float(self.min_confidence))
        if self.text:
            # ILIKE with an escape character, so a search for "50%" means the text "50%".
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            clauses.append("(a.title ILIKE ? ESCAPE '\\' OR a.summary ILIKE ? ESCAPE '\\')")
            params.extend([pattern, pattern])
        return " AND ".join(clauses), params


def _select(db_path: str, where: ArticleFilter, limit: int) -> pd.DataFrame:
    condition, params = where.where()
    sql = f"""
        SELECT a.article_id, a.published_at, a.feed_id, coalesce(f.name, a.feed_id) AS source,
               a.title, a.url, a.tickers, s.label, s.p_negative, s.p_neutral, s.p_positive,
               s.sentiment_score
        FROM articles a
        LEFT JOIN scores s ON s.article_id = a.article_id AND s.model_version = ?
        LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE {condition}
        ORDER BY a.published_at DESC, a.article_id
        LIMIT ?
    """
    return read(db_path, sql, [production_version(db_path), *params, int(limit)],
                ARTICLE_COLUMNS)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def find_articles(db_path: str, where: ArticleFilter, limit: int = 500) -> pd.DataFrame:
    """Return the newest articles matching ``where``, newest first, at most ``limit``.

    Columns (:data:`ARTICLE_COLUMNS`): ``article_id``, ``published_at`` (UTC), ``feed_id``,
    ``source`` (feed name, else feed_id), ``title`` and ``url`` (untrusted feed text),
    ``tickers`` (list), and the production model's ``label``, ``p_negative``, ``p_neutral``,
    ``p_positive`` (probabilities in [0, 1]) and ``sentiment_score`` (all NULL when unscored).

    Raises:
        StorageError: the database cannot be read.
    """
    return _select(db_path, where, limit)


def export_articles(db_path: str, where: ArticleFilter, limit: int) -> pd.DataFrame:
    """Like :func:`find_articles` but uncached: called only when a CSV export is requested."""
    return _select(db_path, where, limit)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def count_articles(db_path: str, where: ArticleFilter) -> int:
    """Return how many articles match ``where`` (0 when the database does not exist).

    Raises:
        StorageError: the database cannot be read.
    """
    condition, params = where.where()
    sql = f"""
        SELECT count(*) AS n FROM articles a
        LEFT JOIN scores s ON s.article_id = a.article_id AND s.model_version = ?
        WHERE {condition}
    """
    frame = read(db_path, sql, [production_version(db_path), *params], ["n"])
    return 0 if frame.empty else int(frame.at[0, "n"])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def filter_choices(db_path: str) -> dict[str, object]:
    """Return the values the filters offer.

    Keys: ``tickers`` (sorted symbols mentioned by any article), ``sources`` (list of
    ``(feed_id, name)`` pairs: configured feeds plus feed_ids found only on articles, sorted
    by name), ``first`` and ``last`` (oldest and newest ``published_at``, UTC; None when
    empty).

    Raises:
        StorageError: the database cannot be read.
    """
    tickers = read(db_path, "SELECT DISTINCT unnest(tickers) AS t FROM articles ORDER BY t",
                   None, ["t"])
    sources = read(
        db_path,
        "SELECT feed_id, coalesce(any_value(f.name), feed_id) AS name"
        " FROM (SELECT DISTINCT feed_id FROM articles UNION SELECT feed_id FROM feeds) ids"
        " LEFT JOIN feeds f USING (feed_id) GROUP BY feed_id ORDER BY name, feed_id",
        None, ["feed_id", "name"])
    span = read(db_path, "SELECT min(published_at) AS first, max(published_at) AS last"
                " FROM articles", None, ["first", "last"])
    first = None if span.empty or pd.isna(span.at[0, "first"]) else span.at[0, "first"]
    last = None if span.empty or pd.isna(span.at[0, "last"]) else span.at[0, "last"]
    return {
        "tickers": [str(t) for t in tickers["t"].dropna()],
        "sources": list(zip(sources["feed_id"], sources["name"], strict=True)),
        "first": first, "last": last,
    }


_LINK_COLUMNS = ["ticker", "name", "sector", "method", "relevance", "mention", "label",
                 "p_negative", "sentiment_score", "targeted"]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def article_companies(db_path: str, article_id: str) -> pd.DataFrame:
    """Return the companies one article is linked to and its label toward each.

    Columns: ``ticker``, ``name`` and ``sector`` (NULL for a ticker missing from
    ``companies``), ``method`` (how the link was made), ``relevance`` (0..1), ``mention``,
    ``label``, ``p_negative`` and ``sentiment_score`` toward the company under the model in
    force (the article's when ``targeted`` is false: no company-level score; NULL when
    unscored), ``targeted``. Most relevant first. Empty for an article without links or a
    database without the companies tables (check
    :func:`dashboard.queries.companies.has_company_tables` first).

    Raises:
        StorageError: the database cannot be read.
    """
    sql = """
        SELECT l.entity AS ticker, c.name, c.sector, l.method, l.relevance, l.mention,
               coalesce(t.label, s.label) AS label,
               coalesce(t.p_negative, s.p_negative) AS p_negative,
               coalesce(t.sentiment_score, s.sentiment_score) AS sentiment_score,
               t.article_id IS NOT NULL AS targeted
        FROM article_entities l
        LEFT JOIN companies c ON c.ticker = l.entity
        LEFT JOIN scores s ON s.article_id = l.article_id AND s.model_version = $model
        LEFT JOIN entity_scores t ON t.article_id = l.article_id AND t.entity = l.entity
             AND t.model_version = $model
        WHERE l.article_id = $id
        ORDER BY l.relevance DESC, l.entity
    """
    return read(db_path, sql, {"model": production_version(db_path), "id": article_id},
                _LINK_COLUMNS)
