"""Seeding helpers shared by tests that write synthetic articles straight into storage."""

from __future__ import annotations

import pandas as pd

from pipeline.storage.articles import upsert_articles
from pipeline.storage.entities import LINK_COLUMNS, replace_links


def store_articles(con, frame: pd.DataFrame) -> tuple[int, int]:
    """Upsert ``frame`` (articles columns) and link each row to its ``tickers`` (method
    ``stored``, relevance 1: as a database made before links existed carries them).

    Returns:
        what :func:`pipeline.storage.articles.upsert_articles` returns.
    """
    result = upsert_articles(con, frame)
    links = [(article_id, ticker, "stored", 1.0, None)
             for article_id, tickers in zip(frame["article_id"], frame["tickers"], strict=True)
             for ticker in (tickers if tickers is not None else [])]
    replace_links(con, list(frame["article_id"]), pd.DataFrame(links, columns=LINK_COLUMNS))
    return result


def database_before(db, version: int):
    """A database file at the schema just before migration ``version`` (as an older
    tonewatch left it): an open raw DuckDB connection, UTC, for the caller to fill and close.

    Opening it with :func:`pipeline.storage.db.connect` afterwards runs the newer migrations.
    """
    import duckdb

    from pipeline.storage.db import migrations

    con = duckdb.connect(str(db))
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR"
                " NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for number, name, sql in migrations():
        if number < version:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                        [number, name])
    return con
