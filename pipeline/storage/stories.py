"""Reads for detection: per-entity story statistics over time intervals, and alert details.

Copies of one story (same ``story_id``: syndication, re-posts) count once: a story's
probabilities are the mean over its copies and its label is their argmax; its sentiment score
is the mean of its copies' ``sentiment_score``. Counting stories, not articles, keeps one wire
item carried by ten outlets from looking like ten pieces of bad news.

Scopes: ``market`` (one entity), ``ticker`` (each company an article is linked to),
``sector`` (the sector of each linked company, from the ``companies`` table), ``source`` (the
feed) and ``topic`` (each topic whose pattern matches the article's text; topics come from
``config/topics.yaml`` and are passed in).

Market, source and topic count an article with its article-level label (``scores``). Ticker
and sector count it with its label *toward the company* (``entity_scores``), so good news
about one company is not bad news about another named in the same headline; a link without a
company-level score (an article-level model, or not yet scored) falls back to the article's
label and says so (``targeted`` false in the explanation). Only links whose relevance is at
least the rule's ``min_relevance`` count. A sector story naming two of its companies counts
once, with the mean of its companies' probabilities.

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

from pipeline.domain import LABELS, Window

SCOPES = ("market", "ticker", "sector", "source", "topic")

#: Scopes whose entities are companies (or their sectors), read through ``article_entities``.
COMPANY_SCOPES = ("ticker", "sector")

#: Columns of :func:`interval_stats`.
STAT_COLUMNS = ["entity", "interval", "n_stories", "n_negative", "score_sum", "score_sumsq"]

_ENTITY_SOURCES = {
    "market": "SELECT article_id, story_id, published_at, 'market' AS entity FROM articles",
    "source": "SELECT article_id, story_id, published_at, feed_id AS entity FROM articles",
}

#: ``(article_id, story_id, published_at, entity, company, method, relevance, mention)`` of
#: each link, for the company scopes; ``{floor}`` is the relevance floor.
_LINK_SOURCES = {
    "ticker": ("SELECT a.article_id, a.story_id, a.published_at, l.entity, l.entity AS company,"
               " l.method, l.relevance, l.mention"
               " FROM article_entities l JOIN articles a USING (article_id)"
               " WHERE l.relevance >= {floor}"),
    "sector": ("SELECT a.article_id, a.story_id, a.published_at, c.sector AS entity,"
               " l.entity AS company, l.method, l.relevance, l.mention"
               " FROM article_entities l JOIN articles a USING (article_id)"
               " JOIN companies c ON c.ticker = l.entity"
               " WHERE l.relevance >= {floor} AND c.sector IS NOT NULL"),
}


def _literal(text: str) -> str:
    """A SQL string literal (DuckDB strings take backslashes literally; quotes are doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def entity_source(scope: str, topics=None, min_relevance: float = 0.0) -> str:
    """SQL selecting ``(article_id, story_id, published_at, entity)`` for ``scope`` (company
    scopes add ``company, method, relevance, mention``: the link that made the row).

    Args:
        scope: one of :data:`SCOPES`.
        min_relevance: company scopes: the least link relevance that counts (0..1).
        topics: for ``topic``: objects with ``name`` and ``pattern`` (an RE2 regular
            expression), e.g. :class:`pipeline.detection.topics.Topic`. Each pattern is
            written into the SQL as a constant, so DuckDB compiles it once; a pattern taken
            from a joined column is compiled again for every article (100 times slower).

    Raises:
        ValueError: unknown scope, or scope ``topic`` without topics.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {list(SCOPES)}")
    if scope in COMPANY_SCOPES:
        return _LINK_SOURCES[scope].format(floor=float(min_relevance))
    if scope != "topic":
        return _ENTITY_SOURCES[scope]
    if not topics:
        raise ValueError("scope topic needs at least one topic")
    return " UNION ALL ".join(
        f"SELECT article_id, story_id, published_at, {_literal(t.name)} AS entity FROM articles"
        f" WHERE regexp_matches(coalesce(text, title, ''), {_literal(t.pattern)})"
        for t in topics)


def scored_source(scope: str, topics=None, min_relevance: float = 0.0) -> str:
    """SQL selecting each scored row of ``scope``: ``(entity, story_id, article_id,
    published_at, p_negative, p_neutral, p_positive, sentiment_score, targeted)`` plus, for
    company scopes, ``company, method, relevance, mention``. Its one parameter is the model
    version (``$model``).

    Company scopes take the probabilities toward the company where the model gave them
    (``targeted`` true), else the article's.
    """
    if scope not in COMPANY_SCOPES:
        return (f"WITH e AS ({entity_source(scope, topics)}) "
                "SELECT e.entity, e.story_id, e.article_id, e.published_at, s.p_negative,"
                " s.p_neutral, s.p_positive, s.sentiment_score, false AS targeted"
                " FROM e JOIN scores s ON s.article_id = e.article_id AND s.model_version = $model")
    return (f"WITH e AS ({entity_source(scope, topics, min_relevance)}) "
            "SELECT e.entity, e.story_id, e.article_id, e.published_at,"
            " coalesce(t.p_negative, s.p_negative) AS p_negative,"
            " coalesce(t.p_neutral, s.p_neutral) AS p_neutral,"
            " coalesce(t.p_positive, s.p_positive) AS p_positive,"
            " coalesce(t.sentiment_score, s.sentiment_score) AS sentiment_score,"
            " t.article_id IS NOT NULL AS targeted, e.company, e.method, e.relevance, e.mention"
            " FROM e JOIN scores s ON s.article_id = e.article_id AND s.model_version = $model"
            " LEFT JOIN entity_scores t ON t.article_id = e.article_id AND t.entity = e.company"
            "  AND t.model_version = $model")


def interval_stats(
    con: duckdb.DuckDBPyConnection, *, scope: str, intervals: Sequence[Window], model_version: str,
    topics=None, min_relevance: float = 0.0, entities: Sequence[str] | None = None,
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
        min_relevance: company scopes: the least link relevance that counts (0..1).
        entities: only these entities (a desk's watchlist); None = all.

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
        f"WITH r AS ({scored_source(scope, topics, min_relevance)})"
        " SELECT entity, story_id, article_id, published_at, p_negative, p_neutral, p_positive,"
        " sentiment_score FROM r WHERE published_at >= $lo AND published_at < $hi"
        + (" AND list_contains($entities, entity)" if entities is not None else ""),
        {"model": model_version, "lo": lo, "hi": hi,
         **({"entities": list(entities)} if entities is not None else {})},
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
    topics=None, min_relevance: float = 0.0,
) -> pd.DataFrame:
    """Story statistics per entity in ``window``.

    Returns:
        DataFrame ``(entity, n_stories, n_negative, score_sum, score_sumsq)``; entities with
        no story are absent.
    """
    stats = interval_stats(con, scope=scope, intervals=[window], model_version=model_version,
                           topics=topics, min_relevance=min_relevance)
    return stats.drop(columns="interval").reset_index(drop=True)


def feed_names(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """``feed_id -> name`` of every known feed (the display name of a source entity)."""
    return dict(con.execute("SELECT feed_id, name FROM feeds").fetchall())


def window_details(
    con: duckdb.DuckDBPyConnection, *, scope: str, items: Sequence[tuple[str, Window]],
    model_version: str, limit: int = 5, topics=None, min_relevance: float = 0.0,
) -> dict[tuple[str, Window], dict]:
    """What an alert explains for each ``(entity, window)``: independent sources and headlines.

    One query pair for all items.

    Args:
        scope: one of :data:`SCOPES`; ``topics`` and ``min_relevance`` as for
            :func:`entity_source`.
        items: ``(entity, window)`` pairs.
        model_version: whose scores rank the headlines.
        limit: headlines per item.

    Returns:
        ``{(entity, window): {"n_sources": int, "headlines": [...]}}`` for every item.
        ``n_sources`` counts distinct feeds with an article about the entity in the window
        (scored or not); ``headlines`` are the most negative ones, one per story, as dicts
        ``{title, url, feed_id, source (feed name), published_at (ISO, UTC), p_negative,
        label}``, ties broken by publication time and article id. For company scopes each
        also says why it counts for the company: ``{company, method, relevance, mention,
        targeted}`` (``targeted``: the label is the model's reading toward the company, not
        the article's).
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
    company = scope in COMPANY_SCOPES
    why = ", r.company, r.method, r.relevance, r.mention" if company else ""
    con.register("tw_items", frame)
    try:
        sources = con.execute(
            f"WITH e AS ({entity_source(scope, topics, min_relevance)}) "
            "SELECT it.item, count(DISTINCT a.feed_id) FROM e JOIN tw_items it"
            " ON e.entity = it.entity AND e.published_at >= it.w_start AND e.published_at < it.w_end"
            " JOIN articles a ON a.article_id = e.article_id GROUP BY it.item").fetchall()
        headlines = con.execute(
            f"""
            WITH r AS ({scored_source(scope, topics, min_relevance)}),
            best AS (
                SELECT it.item, a.article_id, a.title, a.url, a.feed_id,
                       coalesce(f.name, a.feed_id) AS source, a.published_at, r.p_negative,
                       r.p_neutral, r.p_positive, r.targeted {why}
                FROM r JOIN tw_items it ON r.entity = it.entity
                       AND r.published_at >= it.w_start AND r.published_at < it.w_end
                       JOIN articles a ON a.article_id = r.article_id
                       LEFT JOIN feeds f ON f.feed_id = a.feed_id
                QUALIFY row_number() OVER (PARTITION BY it.item, a.story_id
                                           ORDER BY r.p_negative DESC, a.published_at,
                                                    a.article_id) = 1
            )
            SELECT * FROM best
            QUALIFY row_number() OVER (PARTITION BY item ORDER BY p_negative DESC,
                                       published_at, article_id) <= $limit
            ORDER BY item, p_negative DESC, published_at, article_id
            """,
            {"model": model_version, "limit": limit},
        ).df()
    finally:
        con.unregister("tw_items")
    for item, n in sources:
        out[items[int(item)]]["n_sources"] = int(n)
    for r in headlines.itertuples():
        probs = (r.p_negative, r.p_neutral, r.p_positive)
        headline = {
            "title": r.title, "url": r.url, "feed_id": r.feed_id, "source": r.source,
            "published_at": pd.Timestamp(r.published_at).isoformat(),
            "p_negative": round(float(r.p_negative), 4),
            "label": LABELS[max(range(3), key=lambda i: (probs[i], -i))]}
        if company:
            headline.update(company=r.company, method=r.method,
                            relevance=round(float(r.relevance), 2),
                            mention=None if pd.isna(r.mention) else r.mention,
                            targeted=bool(r.targeted))
        out[items[int(r.item)]]["headlines"].append(headline)
    return out


def daily_window_ends(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    """Each UTC midnight that follows a day with a stored article, sorted (aware UTC)."""
    rows = con.execute(
        "SELECT DISTINCT date_trunc('day', published_at) + INTERVAL 1 DAY AS window_end"
        " FROM articles ORDER BY 1").fetchall()
    return [end.astimezone(UTC) for (end,) in rows]
