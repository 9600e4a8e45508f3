"""Fixtures for dashboard tests: a small seeded DuckDB built from the migration SQL.

The database is made with plain duckdb (not ``pipeline.storage``) so these tests depend only on
the storage contract: the tables and columns of ``001_initial.sql``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATION = REPO_ROOT / "pipeline" / "storage" / "migrations" / "001_initial.sql"

PRODUCTION = "minilm-2024-03-01"
ARCHIVED = "minilm-2024-02-01"

#: article_id, feed_id, title, url, published_at (UTC), tickers, production label (None = unscored)
ARTICLES = [
    ("a1", "acme-wire", "Acme beats estimates", "https://acme.example/a1",
     datetime(2024, 3, 4, 9, 0, tzinfo=UTC), ["ACME"], "positive"),
    ("a2", "acme-wire", "Acme warns on margins", "https://acme.example/a2",
     datetime(2024, 3, 5, 14, 30, tzinfo=UTC), ["ACME"], "negative"),
    ("a3", "central-bank", "Rates held steady", "https://bank.example/a3",
     datetime(2024, 3, 5, 16, 0, tzinfo=UTC), [], "neutral"),
    ("a4", "acme-wire", "<script>alert('x')</script> Acme probe widens",
     "javascript:alert(document.cookie)",
     datetime(2024, 3, 6, 8, 15, tzinfo=UTC), ["ACME", "BETA"], "negative"),
    ("a5", "central-bank", "Minutes published", "https://bank.example/a5",
     datetime(2024, 3, 6, 10, 0, tzinfo=UTC), None, None),
    ("a6", "unknown-feed", "Orphan headline", "https://orphan.example/a6",
     datetime(2024, 3, 6, 11, 0, tzinfo=UTC), None, None),
]

_PROBS = {"negative": (0.8, 0.15, 0.05), "neutral": (0.1, 0.8, 0.1), "positive": (0.05, 0.15, 0.8)}


def _write_database(path: Path, *, with_production: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(MIGRATION.read_text(encoding="utf-8"))
        con.executemany(
            "INSERT INTO feeds (feed_id, name, url, consecutive_failures) VALUES (?, ?, ?, 0)",
            [("acme-wire", "Acme Wire", "https://acme.example/rss"),
             ("central-bank", "Central Bank", "https://bank.example/feed")],
        )
        fetched = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
        con.executemany(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id, tickers)"
            " VALUES (?, ?, ?, ?, ?, 'exact', ?, ?, ?, ?, ?)",
            [(aid, feed, url, title, published, fetched, fetched, f"h-{aid}", f"s-{aid}", tickers)
             for aid, feed, title, url, published, tickers, _ in ARTICLES],
        )
        con.executemany(
            "INSERT INTO model_versions VALUES (?, 'minilm', ?, ?, ?, ?)",
            [(PRODUCTION, f"models/registry/{PRODUCTION}",
              "production" if with_production else "candidate", json.dumps({"macro_f1": 0.81}),
              datetime(2024, 3, 1, tzinfo=UTC)),
             (ARCHIVED, f"models/registry/{ARCHIVED}", "archived", None,
              datetime(2024, 2, 1, tzinfo=UTC))],
        )
        scores = []
        for aid, *_, label in ARTICLES:
            if label is None:
                continue
            neg, neu, pos = _PROBS[label]
            scores.append((aid, PRODUCTION, label, neg, neu, pos, pos - neg, f"h-{aid}",
                           datetime(2024, 3, 6, 12, 1, tzinfo=UTC)))
            # The archived model scored everything positive *later*: a dashboard that picked
            # "most recently scored" over "production" would show these instead.
            neg, neu, pos = _PROBS["positive"]
            scores.append((aid, ARCHIVED, "positive", neg, neu, pos, pos - neg, f"h-{aid}",
                           datetime(2024, 3, 6, 12, 30, tzinfo=UTC)))
        con.executemany("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", scores)
        con.executemany(
            "INSERT INTO alerts (alert_id, fingerprint, rule, scope, entity, window_start,"
            " window_end, state, observed, expected, p_value, severity, created_at, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [("al1", "fp1", "negative_surge", "ticker", "ACME",
              datetime(2024, 3, 6, 0, 0, tzinfo=UTC), datetime(2024, 3, 7, 0, 0, tzinfo=UTC),
              "firing", 0.67, 0.12, 0.0004, "critical",
              datetime(2024, 3, 6, 12, 2, tzinfo=UTC), None),
             ("al2", "fp2", "negative_surge", "market", "all",
              datetime(2024, 3, 5, 0, 0, tzinfo=UTC), datetime(2024, 3, 6, 0, 0, tzinfo=UTC),
              "resolved", 0.5, 0.2, 0.03, "warning",
              datetime(2024, 3, 5, 23, 0, tzinfo=UTC), datetime(2024, 3, 6, 12, 2, tzinfo=UTC))],
        )
        con.executemany(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("r1", "ingest", None, None, datetime(2024, 3, 6, 12, 0, tzinfo=UTC),
              datetime(2024, 3, 6, 12, 1, tzinfo=UTC), "ok", json.dumps({"articles_new": 6})),
             ("r1", "detect", None, None, datetime(2024, 3, 6, 12, 2, tzinfo=UTC),
              datetime(2024, 3, 6, 12, 5, tzinfo=UTC), "ok", json.dumps({"firing": 1}))],
        )
    finally:
        con.close()
    return path


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    """A ``tonewatch.duckdb`` in ``tmp_path/data`` with 6 articles, 2 models, 2 alerts, 1 run.

    Four articles are scored by the production model (two negative), two are unscored.
    """
    return _write_database(tmp_path / "data" / "tonewatch.duckdb")


@pytest.fixture
def seeded_db_without_production(tmp_path: Path) -> Path:
    """Like ``seeded_db`` but no model version has ``stage = 'production'``."""
    return _write_database(tmp_path / "data" / "tonewatch.duckdb", with_production=False)


@pytest.fixture
def fresh_db(tmp_path: Path) -> Path:
    """A ``tonewatch.duckdb`` in ``tmp_path/data`` with the schema and no rows."""
    path = tmp_path / "data" / "tonewatch.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(MIGRATION.read_text(encoding="utf-8"))
    finally:
        con.close()
    return path
