"""Reads and writes of the ``articles`` table."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from pipeline.storage.db import upsert_frame

#: Columns refreshed when a known article is fetched again (first_seen_at is kept).
_REFRESHED = ["url", "title", "summary", "text", "published_at", "published_raw", "date_quality",
              "fetched_at", "language", "content_hash", "story_id", "tickers"]


def upsert_articles(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> tuple[int, int]:
    """Insert new articles and refresh known ones, in one statement.

    Args:
        con: read-write connection (the caller owns the transaction).
        frame: rows with the ``articles`` columns (see :data:`pipeline.ingest.normalize.ARTICLE_COLUMNS`).

    Returns:
        ``(new, changed)``: articles not stored before, and stored ones whose content hash changed
        (they will be rescored).
    """
    if frame.empty:
        return 0, 0
    frame = frame.drop_duplicates(subset=["article_id"], keep="first")
    con.register("_incoming", frame[["article_id", "content_hash", "date_quality"]])
    try:
        new, changed = con.execute(
            "SELECT count(*) FILTER (WHERE a.article_id IS NULL),"
            " count(*) FILTER (WHERE a.article_id IS NOT NULL AND a.content_hash <> i.content_hash)"
            " FROM _incoming i LEFT JOIN articles a USING (article_id)"
        ).fetchall()[0]
        # An entry without a usable date is dated at its fetch ("inferred"). Once stored, it
        # keeps the date it got first: re-dating it at every fetch would count one old story
        # again in every new window its feed is fetched in.
        kept = con.execute(
            "SELECT a.article_id, a.published_at, a.published_raw, a.date_quality"
            " FROM _incoming i JOIN articles a USING (article_id)"
            " WHERE i.date_quality = 'inferred'").df()
    finally:
        con.unregister("_incoming")
    if len(kept):
        frame = frame.copy()
        stored = kept.set_index("article_id")
        rows = frame["article_id"].isin(stored.index)
        for column in ("published_at", "published_raw", "date_quality"):
            frame.loc[rows, column] = frame.loc[rows, "article_id"].map(stored[column]).to_numpy()
    upsert_frame(con, "articles", frame, ["article_id"], _REFRESHED)
    return int(new), int(changed)


def owned_by_other_feeds(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.Series:
    """Which incoming rows are articles already stored by another feed (one web link in two
    feeds): a boolean Series aligned with ``frame``.

    The feed that stored an article first keeps it (its text, title and links); a copy in
    another feed changes nothing, so two feeds carrying one link do not overwrite each other
    at every run (and the article is not rescored each time).
    """
    if frame.empty:
        return pd.Series(False, index=frame.index)
    con.register("_incoming_owner", frame[["article_id", "feed_id"]])
    try:
        foreign = {row[0] for row in con.execute(
            "SELECT i.article_id FROM _incoming_owner i JOIN articles a USING (article_id)"
            " WHERE a.feed_id <> i.feed_id").fetchall()}
    finally:
        con.unregister("_incoming_owner")
    return frame["article_id"].isin(foreign)


# NOT EXISTS rather than LEFT JOIN ... IS NULL: with an empty scores table DuckDB 2.0.1 drops the
# LIMIT of the LEFT JOIN form and returns every row, which would defeat the paging.
_UNSCORED = (
    " FROM articles a WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.article_id = a.article_id"
    "   AND s.model_version = ? AND s.content_hash = a.content_hash)"
    "   AND (a.language IS NULL OR list_contains(?, a.language))"
    "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at >= ?::TIMESTAMPTZ)"
    "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at < ?::TIMESTAMPTZ)"
)


def unscored_count(
    con: duckdb.DuckDBPyConnection, model_version: str, languages: list[str],
    since: datetime | None = None, until: datetime | None = None,
) -> int:
    """How many articles :func:`unscored_chunk` would return in all (same arguments)."""
    return int(con.execute("SELECT count(*)" + _UNSCORED,
                           [model_version, languages, since, since, until, until]).fetchall()[0][0])


def unscored_chunk(
    con: duckdb.DuckDBPyConnection, model_version: str, languages: list[str], *,
    since: datetime | None = None, until: datetime | None = None,
    after: tuple[datetime, str] | None = None, limit: int = 2048,
) -> pd.DataFrame:
    """The next ``limit`` articles needing a score from ``model_version``, oldest first.

    An article needs one when it has no score from that version, or its score was computed
    for other content (``scores.content_hash`` differs from the article's current hash: the
    feed changed the text, so it is rescored); an unchanged, already scored article is
    skipped. Paging is by key (``published_at, article_id`` after ``after``), not by offset,
    so a caller that writes scores between pages neither skips nor repeats an article, and
    memory holds one page only.

    Args:
        con: any connection.
        model_version: the scoring model's version id.
        languages: ISO 639-1 codes to score; articles of unknown language are included.
        since: only articles published at or after this instant (aware UTC); None = all.
        until: only articles published before this instant (aware UTC); None = no end.
        after: the ``(published_at, article_id)`` of the last row of the previous page.
        limit: most rows returned.

    Returns:
        DataFrame ``(article_id, text, content_hash, published_at)`` ordered by
        ``(published_at, article_id)``; empty when nothing is left.
    """
    last_at, last_id = after if after is not None else (None, None)
    return con.execute(
        "SELECT a.article_id, a.text, a.content_hash, a.published_at" + _UNSCORED
        + "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at > ?::TIMESTAMPTZ"
          "        OR (a.published_at = ?::TIMESTAMPTZ AND a.article_id > ?))"
          " ORDER BY a.published_at, a.article_id LIMIT ?",
        [model_version, languages, since, since, until, until, last_at, last_at, last_at, last_id,
         limit],
    ).df()


def skipped_language_count(
    con: duckdb.DuckDBPyConnection, languages: list[str], since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Stored articles published in ``[since, until)`` whose language is not in ``languages``."""
    return int(con.execute(
        "SELECT count(*) FROM articles WHERE language IS NOT NULL"
        " AND NOT list_contains(?, language)"
        " AND (?::TIMESTAMPTZ IS NULL OR published_at >= ?::TIMESTAMPTZ)"
        " AND (?::TIMESTAMPTZ IS NULL OR published_at < ?::TIMESTAMPTZ)",
        [languages, since, since, until, until]).fetchall()[0][0])


def articles_published_between(con: duckdb.DuckDBPyConnection, start, end) -> pd.DataFrame:
    """Stored articles published in ``[start, end]`` (inclusive, UTC), for story matching.

    Returns:
        columns ``article_id, story_id, title, published_at``.
    """
    return con.execute(
        "SELECT article_id, story_id, title, published_at FROM articles"
        " WHERE published_at BETWEEN ? AND ?", [start, end]).df()
