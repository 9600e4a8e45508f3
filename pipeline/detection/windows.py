"""Aggregate scored articles into per-entity story statistics over time intervals.

Copies of one story (same ``story_id``: syndication, re-posts) count once: a story's
probabilities are the mean over its copies and its label is their argmax; its sentiment score
is the mean of its copies' ``sentiment_score``. Counting stories, not articles, keeps one wire
item carried by ten outlets from looking like ten pieces of bad news.

Scopes: ``market`` (one entity), ``ticker`` (each of an article's tickers), ``source`` (the
feed) and ``topic`` (each topic whose pattern matches the article's text; topics come from
``config/topics.yaml`` and are registered on the connection with :func:`register_topics`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

SCOPES = ("market", "ticker", "source", "topic")

#: Name of the connection-local relation holding ``(topic, pattern)`` rows.
TOPICS_RELATION = "tw_topic_patterns"

_ENTITY_SOURCES = {
    "market": "SELECT article_id, story_id, published_at, 'market' AS entity FROM articles",
    "source": "SELECT article_id, story_id, published_at, feed_id AS entity FROM articles",
    "ticker": "SELECT article_id, story_id, published_at, unnest(tickers) AS entity FROM articles",
    "topic": (
        "SELECT a.article_id, a.story_id, a.published_at, t.topic AS entity FROM articles a"
        f" JOIN {TOPICS_RELATION} t"
        " ON regexp_matches(coalesce(a.text, a.title, ''), t.pattern)"
    ),
}

#: Period of each ``seasonality`` setting of a rule.
SEASON_PERIODS = {"hour_of_day": timedelta(days=1), "hour_of_week": timedelta(days=7)}


def entity_source(scope: str) -> str:
    """SQL selecting ``(article_id, story_id, published_at, entity)`` for ``scope``.

    Raises:
        ValueError: unknown scope.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {list(SCOPES)}")
    return _ENTITY_SOURCES[scope]


def register_topics(con: duckdb.DuckDBPyConnection, topics) -> None:
    """Make ``topics`` (:class:`~pipeline.detection.topics.Topic` list) visible to topic scopes.

    The relation lives on ``con`` only (a registered DataFrame, never written to the file).
    """
    frame = pd.DataFrame({"topic": [t.name for t in topics],
                          "pattern": [t.pattern for t in topics]}, dtype=object)
    con.register(TOPICS_RELATION, frame)


def interval_stats(
    con: duckdb.DuckDBPyConnection, *, scope: str,
    intervals: list[tuple[datetime, datetime]], model_version: str,
) -> pd.DataFrame:
    """Story statistics per entity in each of ``intervals``.

    Args:
        con: any connection (topic scope: after :func:`register_topics`).
        scope: one of :data:`SCOPES`.
        intervals: ``[(start, end), ...]`` half-open, timezone-aware UTC; they may be disjoint
            (seasonal baselines) but should not overlap.
        model_version: whose scores count.

    Returns:
        DataFrame ``(entity, interval, n_stories, n_negative, score_sum, score_sumsq)`` where
        ``interval`` indexes ``intervals``; only (entity, interval) pairs with a story appear.
        ``score_*`` are the sum and the sum of squares of the stories' sentiment scores.
    """
    columns = ["entity", "interval", "n_stories", "n_negative", "score_sum", "score_sumsq"]
    if not intervals:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({
        "interval": range(len(intervals)),
        "w_start": pd.to_datetime([s for s, _ in intervals], utc=True),
        "w_end": pd.to_datetime([e for _, e in intervals], utc=True),
    })
    lo, hi = min(s for s, _ in intervals), max(e for _, e in intervals)
    con.register("tw_intervals", frame)
    try:
        return con.execute(
            f"""
            WITH e AS ({entity_source(scope)}),
            stories AS (
                SELECT e.entity, i.interval, e.story_id,
                       avg(s.p_negative) AS pn, avg(s.p_neutral) AS pu, avg(s.p_positive) AS pp,
                       avg(s.sentiment_score) AS score
                FROM e JOIN tw_intervals i
                         ON e.published_at >= i.w_start AND e.published_at < i.w_end
                       JOIN scores s ON s.article_id = e.article_id AND s.model_version = ?
                WHERE e.published_at >= ? AND e.published_at < ?
                GROUP BY e.entity, i.interval, e.story_id
            )
            SELECT entity, interval::BIGINT AS interval, count(*) AS n_stories,
                   count(*) FILTER (WHERE pn >= pu AND pn >= pp) AS n_negative,
                   sum(score) AS score_sum, sum(score * score) AS score_sumsq
            FROM stories GROUP BY entity, interval ORDER BY entity, interval
            """,
            [model_version, lo, hi],
        ).df()[columns]
    finally:
        con.unregister("tw_intervals")


def story_counts(
    con: duckdb.DuckDBPyConnection, *, scope: str, start: datetime, end: datetime,
    model_version: str,
) -> pd.DataFrame:
    """Story statistics per entity with ``start <= published_at < end`` (UTC).

    Returns:
        DataFrame ``(entity, n_stories, n_negative, score_sum, score_sumsq)``; entities with
        no story are absent.
    """
    stats = interval_stats(con, scope=scope, intervals=[(start, end)], model_version=model_version)
    return stats.drop(columns="interval").reset_index(drop=True)


def baseline_intervals(rule, at: datetime) -> list[tuple[datetime, datetime]]:
    """The baseline of ``rule`` for the window ``[at - rule.window, at)``, as intervals.

    ``seasonality: none`` (and every ``negative_count`` rule, whose seasonality is a profile
    over these buckets, see :func:`season_slots`): the ``floor(baseline / window)``
    window-sized buckets right before the window. ``hour_of_day`` / ``hour_of_week``: the same clock span one, two, ... periods
    (1 day / 7 days) earlier, as many as fit in ``rule.baseline``; so an hourly Monday 09:00
    window is compared with earlier Mondays at 09:00 only (the seasonal-baseline idea of
    Farrington et al. 1996, J. R. Stat. Soc. A 159:547-563, which uses the same weeks of
    earlier years).

    Returns:
        non-overlapping ``(start, end)`` pairs, newest first, all before the window.
    """
    w_start = at - rule.window
    period = SEASON_PERIODS.get(getattr(rule, "seasonality", "none"))
    if period is None or rule.metric == "negative_count":
        n = max(1, int(rule.baseline / rule.window))
        return [(w_start - (i + 1) * rule.window, w_start - i * rule.window) for i in range(n)]
    cycles = max(1, int(rule.baseline / period))
    return [(w_start - j * period, at - j * period) for j in range(1, cycles + 1)]
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
        WITH e AS ({entity_source(scope)})
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
        f"WITH e AS ({entity_source(scope)})"
        " SELECT count(DISTINCT a.feed_id) FROM e JOIN articles a ON a.article_id = e.article_id"
        " WHERE e.entity = ? AND e.published_at >= ? AND e.published_at < ?",
        [entity, start, end]).fetchall()[0][0])


def season_slots(starts: list[datetime], *, window: timedelta, period: timedelta) -> list[int]:
    """Season slot of windows starting at ``starts``: which ``window``-sized span of the
    ``period`` (1 day: hour of day; 7 days: hour of week) each falls in, counted from the
    Unix epoch, so equal slots are equal clock spans (UTC) of different days or weeks."""
    return [int((s.timestamp() % period.total_seconds()) // window.total_seconds())
            for s in starts]


def _seasonal_expected_counts(rule, at: datetime, intervals, per_interval: pd.DataFrame,
                              market_per: pd.DataFrame, entities) -> dict:
    """``entity -> (mean, variance)`` of the window's negative count with a seasonal profile."""
    import numpy as np

    from pipeline.detection.spikes import seasonal_count_moments

    period = SEASON_PERIODS[rule.seasonality]
    slots = np.array(season_slots([s for s, _ in intervals], window=rule.window, period=period))
    (slot_now,) = season_slots([at - rule.window], window=rule.window, period=period)
    volume = np.zeros(len(intervals))
    for i, n in market_per[["interval", "n_stories"]].itertuples(index=False):
        volume[int(i)] += n
    entities = list(entities)
    index = {e: j for j, e in enumerate(entities)}
    counts = np.zeros((len(entities), len(intervals)))
    for e, i, k in per_interval[["entity", "interval", "n_negative"]].itertuples(index=False):
        if e in index:
            counts[index[e], int(i)] = k
    mean, var = seasonal_count_moments(counts, volume, slots, slot_now)
    return {e: (float(mean[j]), float(var[j])) for e, j in index.items()}


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum the per-interval statistics of :func:`interval_stats` over intervals, per entity."""
    cols = ["n_stories", "n_negative", "score_sum", "score_sumsq"]
    if frame.empty:
        return pd.DataFrame(columns=["entity", *cols])
    return frame.groupby("entity", as_index=False)[cols].sum()


def rule_decisions(con: duckdb.DuckDBPyConnection, rule, *, at: datetime, model_version: str,
                   topics=None) -> list:
    """Evaluate ``rule`` for the window ``[at - rule.window, at)`` with ``model_version``'s scores.

    The baseline is :func:`baseline_intervals` (trailing, or the same hour of day / week); the
    market-wide statistics over the same intervals give the prior of thin histories: its
    negative share is shrunk towards 1/3, see :func:`pipeline.detection.spikes.baseline_share`.
    Reads only; writes nothing (topic scope: pass ``topics``).

    Args:
        con: any connection.
        rule: an :class:`~pipeline.detection.rules.AlertRule`.
        at: window end, aware UTC.
        model_version: whose scores count.
        topics: :class:`~pipeline.detection.topics.Topic` list, needed by ``scope: topic``
            (registered on ``con`` here).

    Returns:
        the :class:`~pipeline.detection.rules.Decision` list of
        :func:`~pipeline.detection.rules.evaluate_rule`.

    Raises:
        ConfigError: a topic rule and no topics defined.
    """
    from pipeline.detection.rules import evaluate_rule
    from pipeline.detection.spikes import baseline_share
    from pipeline.errors import ConfigError

    if rule.scope == "topic":
        if not topics:
            raise ConfigError(f"alert rule {rule.name!r} has scope topic but no topics are "
                              "defined (TONEWATCH_TOPICS_FILE, default config/topics.yaml)")
        register_topics(con, topics)

    intervals = baseline_intervals(rule, at)
    window = story_counts(con, scope=rule.scope, start=at - rule.window, end=at,
                          model_version=model_version)
    per_interval = interval_stats(con, scope=rule.scope, intervals=intervals,
                                  model_version=model_version)
    market_per = per_interval if rule.scope == "market" else interval_stats(
        con, scope="market", intervals=intervals, model_version=model_version)
    market = market_per[["n_stories", "n_negative", "score_sum", "score_sumsq"]].sum()
    m_n, m_k = int(market["n_stories"]), int(market["n_negative"])
    market_share = baseline_share(m_k, m_n, reference=1 / 3)
    history = expected = None
    if rule.metric == "negative_count" and rule.seasonality in SEASON_PERIODS:
        expected = _seasonal_expected_counts(rule, at, intervals, per_interval, market_per,
                                             window["entity"])
    elif rule.metric == "negative_count":
        history = {}
        for entity in window["entity"]:
            counts = [0] * len(intervals)
            rows = per_interval.loc[per_interval["entity"] == entity, ["interval", "n_negative"]]
            for i, k in rows.itertuples(index=False):
                counts[int(i)] = int(k)
            history[entity] = counts
    return evaluate_rule(
        rule, window, _totals(per_interval), market_share=market_share, history=history,
        market_scores=(float(market["score_sum"]), float(market["score_sumsq"]), m_n),
        expected_counts=expected,
    )
