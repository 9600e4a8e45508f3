"""Reads and writes of the company tables: ``companies`` (the universe in force) and
``article_entities`` (which companies each article is about, how each link was made).

``articles.tickers`` stays what other tools read: the sorted tickers of an article's links. It
is recomputed from ``article_entities`` whenever an article's links are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from pipeline.storage.db import upsert_frame

#: Columns of ``article_entities`` rows (see migration 005).
LINK_COLUMNS = ["article_id", "entity", "method", "relevance", "mention"]

#: Columns of ``companies`` rows, less ``updated_at``.
COMPANY_COLUMNS = ["ticker", "name", "exchange", "country", "sector", "industry", "aliases", "source"]

#: A link an archive declared (its ticker column) is a fact about the row, not a reading of its
#: text: it survives a relink and a later import of the same story under another ticker.
DECLARED_METHOD = "ticker_column"


def replace_links(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], links: pd.DataFrame) -> int:
    """Make ``links`` the links of ``article_ids``; refresh their ``articles.tickers``.

    Links found in the text are recomputed on every write (an edited headline may name other
    companies), so an article's stored links other than declared ones are deleted first; links
    an archive declared (method ``ticker_column``) are kept, so importing one story filed under
    ACME and later under GLBX leaves it linked to both. For one (article, entity), the incoming
    link replaces the stored one.

    Args:
        con: read-write connection (the caller owns the transaction).
        article_ids: every article written in this batch, including those with no link now.
        links: rows with :data:`LINK_COLUMNS`; at most one per (article_id, entity).

    Returns:
        links written.
    """
    if not len(article_ids):
        return 0
    ids = pd.DataFrame({"article_id": list(dict.fromkeys(article_ids))})
    con.register("_written", ids)
    try:
        con.execute("DELETE FROM article_entities WHERE method <> ? AND article_id IN"
                    " (SELECT article_id FROM _written)", [DECLARED_METHOD])
        written = upsert_frame(con, "article_entities", links[LINK_COLUMNS] if len(links) else None,
                               ["article_id", "entity"], ["method", "relevance", "mention"])
        con.execute("""
            UPDATE articles SET tickers = coalesce(l.tickers, [])
            FROM _written w LEFT JOIN (
                SELECT article_id, list(entity ORDER BY entity) AS tickers
                FROM article_entities WHERE article_id IN (SELECT article_id FROM _written)
                GROUP BY article_id) l USING (article_id)
            WHERE articles.article_id = w.article_id""")
    finally:
        con.unregister("_written")
    return written


def upsert_companies(con: duckdb.DuckDBPyConnection, companies: pd.DataFrame, at: datetime) -> int:
    """Write the universe in force (one row per ticker); companies no longer in it stay, so
    old articles' links keep their names and sectors.

    Args:
        con: read-write connection.
        companies: rows with :data:`COMPANY_COLUMNS`.
        at: UTC instant stored as ``updated_at``.

    Returns:
        rows written.
    """
    if companies is None or companies.empty:
        return 0
    frame = companies[COMPANY_COLUMNS].copy()
    frame["updated_at"] = pd.Timestamp(at)
    changed = con.execute(
        "SELECT count(*) FROM companies").fetchall()[0][0] != len(frame) or _differs(con, frame)
    if not changed:
        return 0
    return upsert_frame(con, "companies", frame, ["ticker"], COMPANY_COLUMNS[1:] + ["updated_at"])


def _differs(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> bool:
    """Whether any row of ``frame`` is new or differs from the stored one (so an unchanged
    universe costs one read per ingest, not 2,000 row updates)."""
    con.register("_universe", frame[COMPANY_COLUMNS])
    try:
        return bool(con.execute("""
            SELECT 1 FROM (SELECT * FROM _universe EXCEPT
                           SELECT ticker, name, exchange, country, sector, industry, aliases, source
                           FROM companies) LIMIT 1""").fetchall())
    finally:
        con.unregister("_universe")


def article_links(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> pd.DataFrame:
    """Stored links of ``article_ids``: :data:`LINK_COLUMNS`, ordered by article then relevance."""
    con.register("_wanted", pd.DataFrame({"article_id": list(article_ids)}))
    try:
        return con.execute(
            "SELECT " + ", ".join(LINK_COLUMNS) + " FROM article_entities"
            " WHERE article_id IN (SELECT article_id FROM _wanted)"
            " ORDER BY article_id, relevance DESC, entity").df()
    finally:
        con.unregister("_wanted")
