"""Aggregate scored articles into per-entity story counts over a time window.

Copies of one story (same ``story_id``: syndication, re-posts) count once: a story's
probabilities are the mean over its copies and its label is their argmax. Counting stories, not
articles, keeps one wire item carried by ten outlets from looking like ten pieces of bad news.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

SCOPES = ("market", "ticker", "source")

_ENTITY_SOURCES = {
    "market": "SELECT article_id, story_id, published_at, 'market' AS entity FROM articles",
    "source": "SELECT article_id, story_id, published_at, feed_id AS entity FROM articles",
    "ticker": "SELECT article_id, story_id, published_at, unnest(tickers) AS entity FROM articles",
}


def story_counts(
    con: duckdb.DuckDBPyConnection, *, scope: str, start: datetime, end: datetime,
    model_version: str,
) -> pd.DataFrame:
    """Stories and negative stories per entity with ``start <= published_at < end``.

    Args:
        con: any connection.
        scope: ``market`` (one entity, "market"), ``ticker`` or ``source`` (feed_id).
        start, end: window bounds, timezone-aware UTC.
        model_version: whose scores to use.

    Returns:
        DataFrame ``(entity, n_stories, n_negative)``; entities with no story are absent.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    return con.execute(
        f"""
        WITH e AS ({_ENTITY_SOURCES[scope]}),
        stories AS (
            SELECT e.entity, e.story_id,
                   avg(s.p_negative) AS pn, avg(s.p_neutral) AS pu, avg(s.p_positive) AS pp
            FROM e JOIN scores s ON s.article_id = e.article_id AND s.model_version = ?
            WHERE e.published_at >= ? AND e.published_at < ?
            GROUP BY e.entity, e.story_id
        )
        SELECT entity, count(*) AS n_stories,
               count(*) FILTER (WHERE pn >= pu AND pn >= pp) AS n_negative
        FROM stories GROUP BY entity ORDER BY entity
        """,
        [model_version, start, end],
    ).df()


def negative_count_buckets(
    con: duckdb.DuckDBPyConnection, *, scope: str, start: datetime, end: datetime,
    bucket_seconds: float, model_version: str,
) -> pd.DataFrame:
    """Negative stories per entity in consecutive buckets of ``bucket_seconds`` from ``start``.

    Returns:
        DataFrame ``(entity, bucket, n_negative)`` for buckets with at least one negative
        story (others are zero); ``bucket`` is 0 for ``[start, start + bucket)``.
    """
    return con.execute(
        f"""
        WITH e AS ({_ENTITY_SOURCES[scope]}),
        stories AS (
            SELECT e.entity, e.story_id, min(e.published_at) AS published_at,
                   avg(s.p_negative) AS pn, avg(s.p_neutral) AS pu, avg(s.p_positive) AS pp
            FROM e JOIN scores s ON s.article_id = e.article_id AND s.model_version = ?
            WHERE e.published_at >= ? AND e.published_at < ?
            GROUP BY e.entity, e.story_id
        )
        SELECT entity,
               floor(epoch(published_at - ?::TIMESTAMPTZ) / ?)::BIGINT AS bucket,
               count(*) AS n_negative
        FROM stories WHERE pn >= pu AND pn >= pp
        GROUP BY ALL ORDER BY entity, bucket
        """,
        [model_version, start, end, start, bucket_seconds],
    ).df()


def top_negative_headlines(
    con: duckdb.DuckDBPyConnection, *, scope: str, entity: str, start: datetime, end: datetime,
    model_version: str, limit: int = 5,
) -> list[dict]:
    """The most negative headlines behind an entity's window, one per story.

    Returns:
        up to ``limit`` dicts ``{title, url, feed_id, source (feed name), published_at (ISO,
        UTC), p_negative}``.
    """
    frame = con.execute(
        f"""
        WITH e AS ({_ENTITY_SOURCES[scope]})
        SELECT a.title, a.url, a.feed_id, coalesce(f.name, a.feed_id) AS source, a.published_at,
               s.p_negative
        FROM e JOIN articles a ON a.article_id = e.article_id
               JOIN scores s ON s.article_id = e.article_id AND s.model_version = ?
               LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE e.entity = ? AND e.published_at >= ? AND e.published_at < ?
        QUALIFY row_number() OVER (PARTITION BY a.story_id ORDER BY s.p_negative DESC) = 1
        ORDER BY s.p_negative DESC LIMIT ?
        """,
        [model_version, entity, start, end, limit],
    ).df()
    return [
        {"title": r.title, "url": r.url, "feed_id": r.feed_id, "source": r.source,
         "published_at": pd.Timestamp(r.published_at).isoformat(), "p_negative": round(float(r.p_negative), 4)}
        for r in frame.itertuples()
    ]


def source_count(con: duckdb.DuckDBPyConnection, *, scope: str, entity: str, start: datetime,
                 end: datetime) -> int:
    """Number of distinct feeds (independent sources) with a story about ``entity`` in the window."""
    return int(con.execute(
        f"WITH e AS ({_ENTITY_SOURCES[scope]})"
        " SELECT count(DISTINCT a.feed_id) FROM e JOIN articles a ON a.article_id = e.article_id"
        " WHERE e.entity = ? AND e.published_at >= ? AND e.published_at < ?",
        [entity, start, end]).fetchall()[0][0])


def rule_decisions(con: duckdb.DuckDBPyConnection, rule, *, at: datetime, model_version: str) -> list:
    """Evaluate ``rule`` for the window ``[at - rule.window, at)`` with ``model_version``'s scores.

    The baseline is the ``rule.baseline`` period before the window; the market-wide baseline
    share (prior of thin histories) is shrunk towards 1/3, see
    :func:`pipeline.detection.spikes.baseline_share`. Reads only; writes nothing.

    Args:
        con: any connection.
        rule: an :class:`~pipeline.detection.rules.AlertRule`.
        at: window end, aware UTC.
        model_version: whose scores count.

    Returns:
        the :class:`~pipeline.detection.rules.Decision` list of
        :func:`~pipeline.detection.rules.evaluate_rule`.
    """
    from pipeline.detection.rules import evaluate_rule
    from pipeline.detection.spikes import baseline_share

    w_start, b_start = at - rule.window, at - rule.window - rule.baseline
    window = story_counts(con, scope=rule.scope, start=w_start, end=at, model_version=model_version)
    baseline = story_counts(con, scope=rule.scope, start=b_start, end=w_start,
                            model_version=model_version)
    market = story_counts(con, scope="market", start=b_start, end=w_start,
                          model_version=model_version)
    m_n = int(market["n_stories"].sum()) if len(market) else 0
    m_k = int(market["n_negative"].sum()) if len(market) else 0
    market_share = baseline_share(m_k, m_n, reference=1 / 3)
    history = None
    if rule.metric == "negative_count":
        n_buckets = max(1, int(rule.baseline / rule.window))
        buckets = negative_count_buckets(con, scope=rule.scope, start=b_start, end=w_start,
                                         bucket_seconds=rule.window.total_seconds(),
                                         model_version=model_version)
        history = {}
        for entity in window["entity"]:
            counts = [0] * n_buckets
            for b, k in buckets.loc[buckets["entity"] == entity, ["bucket", "n_negative"]].itertuples(
                    index=False):
                if 0 <= int(b) < n_buckets:
                    counts[int(b)] = int(k)
            history[entity] = counts
    return evaluate_rule(rule, window, baseline, market_share=market_share, history=history)
