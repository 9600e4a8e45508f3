"""Reads for detection: per-entity story statistics over time intervals, and alert details.

Copies of one story (same ``story_id``: syndication, re-posts) count once: a story's
probabilities are the mean over its copies and its label is their argmax; its sentiment score
is the mean of its copies' ``sentiment_score``. Counting stories, not articles, keeps one wire
item carried by ten outlets from looking like ten pieces of bad news.

Scopes: ``market`` (one entity), ``ticker`` (each of an article's tickers), ``source`` (the
feed) and ``topic`` (each topic whose pattern matches the article's text; topics come from
``config/topics.yaml`` and are passed in).

One SQL query reads the scored articles of a whole span (per entity); placing them in
intervals, the story means and the per-interval sums happen here in numpy/pandas, in a fixed
order (entity, interval, story, article). Floating-point sums depend on the order of their
terms and DuckDB's order of rows in a group depends on its plan, so summing in SQL would let
the same interval's statistics differ in the last bits between a one-window read and a
whole-range one; this way a replay and window-by-window runs see the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd

from pipeline.domain import Window

SCOPES = ("market", "ticker", "source", "topic")

#: Columns of :func:`interval_stats`.
STAT_COLUMNS = ["entity", "interval", "n_stories", "n_negative", "score_sum", "score_sumsq"]

_ENTITY_SOURCES = {
    "market": "SELECT article_id, story_id, published_at, 'market' AS entity FROM articles",
    "source": "SELECT article_id, story_id, published_at, feed_id AS entity FROM articles",
    "ticker": "SELECT article_id, story_id, published_at, unnest(tickers) AS entity FROM articles",
}


def _literal(text: str) -> str:
    """A SQL string literal (DuckDB strings take backslashes literally; quotes are doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def entity_source(scope: str, topics=None) -> str:
    """SQL selecting ``(article_id, story_id, published_at, entity)`` for ``scope``.

    Args:
        scope: one of :data:`SCOPES`.
        topics: for ``topic``: objects with ``name`` and ``pattern`` (an RE2 regular
            expression), e.g. :class:`pipeline.detection.topics.Topic`. Each pattern is
            written into the SQL as a constant, so DuckDB compiles it once; a pattern taken
            from a joined column is compiled again for every article (100 times slower).

    Raises:
        ValueError: unknown scope, or scope ``topic`` without topics.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {list(SCOPES)}")
    if scope != "topic":
        return _ENTITY_SOURCES[scope]
    if not topics:
        raise ValueError("scope topic needs at least one topic")
    return " UNION ALL ".join(
        f"SELECT article_id, story_id, published_at, {_literal(t.name)} AS entity FROM articles"
        f" WHERE regexp_matches(coalesce(text, title, ''), {_literal(t.pattern)})"
        for t in topics)


def interval_stats(
    con: duckdb.DuckDBPyConnection, *, scope: str, intervals: Sequence[Window], model_version: str,
    topics=None,
) -> pd.DataFrame:
    """Story statistics per entity in each of ``intervals`` (one query for all of them).

    The scored articles of the whole span are read once; each is then placed in every
    interval that holds its publication instant (binary search on sorted instants).

    Args:
        con: any connection.
        scope: one of :data:`SCOPES`.
        intervals: half-open UTC windows; they may overlap and need not be sorted.
        model_version: whose scores count.
        topics: the topics of scope ``topic`` (see :func:`entity_source`).

    Returns:
        DataFrame ``(entity, interval, n_stories, n_negative, score_sum, score_sumsq)`` sorted
        by ``(entity, interval)``, where ``interval`` indexes ``intervals``; only (entity,
        interval) pairs with a scored story appear. ``score_*`` are the sum and the sum of
        squares of the stories' sentiment scores. An interval's numbers do not depend on which
        other intervals were asked for.
    """
    if not intervals:
        return pd.DataFrame(columns=STAT_COLUMNS)
    lo = min(w.start for w in intervals)
    hi = max(w.end for w in intervals)
    rows = con.execute(
        f"""
        WITH e AS ({entity_source(scope, topics)})
        SELECT e.entity, e.story_id, e.article_id, e.published_at,
               s.p_negative, s.p_neutral, s.p_positive, s.sentiment_score
        FROM e JOIN scores s ON s.article_id = e.article_id AND s.model_version = ?
        WHERE e.published_at >= ? AND e.published_at < ?
        """,
        [model_version, lo, hi],
    ).df()
    if rows.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    instants = pd.DatetimeIndex(rows["published_at"]).as_unit("ns").asi8
    order = np.argsort(instants, kind="stable")
    instants = instants[order]
    starts = np.searchsorted(instants, [pd.Timestamp(w.start).value for w in intervals], "left")
    stops = np.searchsorted(instants, [pd.Timestamp(w.end).value for w in intervals], "left")
    sizes = np.maximum(stops - starts, 0)
    interval = np.repeat(np.arange(len(intervals), dtype=np.int64), sizes)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    picked = rows.iloc[order[np.arange(int(sizes.sum())) + offsets]].reset_index(drop=True)
    picked.insert(1, "interval", interval)
    return _story_totals(picked)


def _story_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-article rows → per (entity, interval) story statistics, summed in a fixed order."""
    if rows.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    rows = rows.sort_values(["entity", "interval", "story_id", "article_id"], kind="stable")
    keys = ["entity", "interval", "story_id"]
    story = rows.groupby(keys, sort=False, dropna=False)[
        ["p_negative", "p_neutral", "p_positive", "sentiment_score"]].mean()
    negative = ((story["p_negative"] >= story["p_neutral"])
                & (story["p_negative"] >= story["p_positive"]))
    score = story["sentiment_score"]
    stats = pd.DataFrame({"n_stories": 1, "n_negative": negative.astype("int64"),
                          "score_sum": score, "score_sumsq": score * score})
    out = stats.groupby(level=["entity", "interval"], sort=False, dropna=False).sum()
    out = out.reset_index()
    out["interval"] = out["interval"].astype("int64")
    return out[STAT_COLUMNS].reset_index(drop=True)


def story_counts(
    con: duckdb.DuckDBPyConnection, *, scope: str, window: Window, model_version: str,
    topics=None,
) -> pd.DataFrame:
    """Story statistics per entity in ``window``.

    Returns:
        DataFrame ``(entity, n_stories, n_negative, score_sum, score_sumsq)``; entities with
        no story are absent.
    """
    stats = interval_stats(con, scope=scope, intervals=[window], model_version=model_version,
                           topics=topics)
    return stats.drop(columns="interval").reset_index(drop=True)


def feed_names(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """``feed_id -> name`` of every known feed (the display name of a source entity)."""
    return dict(con.execute("SELECT feed_id, name FROM feeds").fetchall())


def window_details(
    con: duckdb.DuckDBPyConnection, *, scope: str, items: Sequence[tuple[str, Window]],
    model_version: str, limit: int = 5, topics=None,
) -> dict[tuple[str, Window], dict]:
    """What an alert explains for each ``(entity, window)``: independent sources and headlines.

    One query pair for all items.

    Args:
        scope: one of :data:`SCOPES`; ``topics`` as for :func:`entity_source`.
        items: ``(entity, window)`` pairs.
        model_version: whose scores rank the headlines.
        limit: headlines per item.

    Returns:
        ``{(entity, window): {"n_sources": int, "headlines": [...]}}`` for every item.
        ``n_sources`` counts distinct feeds with an article about the entity in the window
        (scored or not); ``headlines`` are the most negative ones, one per story, as dicts
        ``{title, url, feed_id, source (feed name), published_at (ISO, UTC), p_negative}``,
        ties broken by publication time and article id.
    """
    items = list(dict.fromkeys(items))
    out = {item: {"n_sources": 0, "headlines": []} for item in items}
    if not items:
        return out
    frame = pd.DataFrame({
        "item": range(len(items)),
        "entity": pd.Series([entity for entity, _ in items], dtype=object),
        "w_start": pd.to_datetime([w.start for _, w in items], utc=True),
        "w_end": pd.to_datetime([w.end for _, w in items], utc=True),
    })
    matched = (f"WITH e AS ({entity_source(scope, topics)}) "
               "SELECT it.item, e.article_id FROM e JOIN tw_items it ON e.entity = it.entity"
               " AND e.published_at >= it.w_start AND e.published_at < it.w_end")
    con.register("tw_items", frame)
    try:
        sources = con.execute(
            f"WITH m AS ({matched}) SELECT m.item, count(DISTINCT a.feed_id) FROM m"
            " JOIN articles a ON a.article_id = m.article_id GROUP BY m.item").fetchall()
        headlines = con.execute(
            f"""
            WITH m AS ({matched}),
            best AS (
                SELECT m.item, a.article_id, a.title, a.url, a.feed_id,
                       coalesce(f.name, a.feed_id) AS source, a.published_at, s.p_negative
                FROM m JOIN articles a ON a.article_id = m.article_id
                       JOIN scores s ON s.article_id = m.article_id AND s.model_version = ?
                       LEFT JOIN feeds f ON f.feed_id = a.feed_id
                QUALIFY row_number() OVER (PARTITION BY m.item, a.story_id
                                           ORDER BY s.p_negative DESC, a.published_at,
                                                    a.article_id) = 1
            )
            SELECT * FROM best
            QUALIFY row_number() OVER (PARTITION BY item ORDER BY p_negative DESC,
                                       published_at, article_id) <= ?
            ORDER BY item, p_negative DESC, published_at, article_id
            """,
            [model_version, limit],
        ).df()
    finally:
        con.unregister("tw_items")
    for item, n in sources:
        out[items[int(item)]]["n_sources"] = int(n)
    for r in headlines.itertuples():
        out[items[int(r.item)]]["headlines"].append({
            "title": r.title, "url": r.url, "feed_id": r.feed_id, "source": r.source,
            "published_at": pd.Timestamp(r.published_at).isoformat(),
            "p_negative": round(float(r.p_negative), 4)})
    return out


def daily_window_ends(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    """Each UTC midnight that follows a day with a stored article, sorted (aware UTC)."""
    rows = con.execute(
        "SELECT DISTINCT date_trunc('day', published_at) + INTERVAL 1 DAY AS window_end"
        " FROM articles ORDER BY 1").fetchall()
    return [end.astimezone(UTC) for (end,) in rows]
