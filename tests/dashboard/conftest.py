"""Fixtures for dashboard tests: a small seeded DuckDB with hostile feed text.

The schema comes from the library's migrations (``pipeline.storage.db.connect`` applies them);
rows are inserted with plain SQL so the tests depend only on the storage contract.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.access.users import add_user
from pipeline.storage.db import connect

PRODUCTION = "minilm-2024-03-01"
ARCHIVED = "minilm-2024-02-01"
CANDIDATE = "minilm-2024-03-05"

#: A headline judging two companies differently: good for Acme, bad for Beta.
TWO_COMPANY_TITLE = "Acme beats estimates as Beta stumbles"

#: Feed text that must never be rendered as HTML, markdown or a non-web link.
SCRIPT_TITLE = "<script>alert('x')</script> Acme probe widens"
MARKDOWN_TITLE = "[Click for details](javascript:alert(document.domain)) Acme recall"
IMG_TITLE = "<img src=x onerror=alert(1)> Beta guidance cut"

#: article_id, feed_id, title, url, published_at (UTC), tickers, production label (None = unscored)
ARTICLES = [
    ("a1", "acme-wire", TWO_COMPANY_TITLE, "https://acme.example/a1",
     datetime(2024, 3, 4, 9, 0, tzinfo=UTC), ["ACME", "BETA"], "positive"),
    ("a2", "acme-wire", "Acme warns on margins", "https://acme.example/a2",
     datetime(2024, 3, 5, 14, 30, tzinfo=UTC), ["ACME", "GAMMA"], "negative"),
    ("a3", "central-bank", "Rates held steady", "https://bank.example/a3",
     datetime(2024, 3, 5, 16, 0, tzinfo=UTC), ["OLDCO"], "neutral"),
    ("a4", "acme-wire", SCRIPT_TITLE, "javascript:alert(document.cookie)",
     datetime(2024, 3, 6, 8, 15, tzinfo=UTC), ["ACME", "BETA"], "negative"),
    ("a5", "central-bank", "Minutes published", "https://bank.example/a5",
     datetime(2024, 3, 6, 10, 0, tzinfo=UTC), None, None),
    ("a6", "unknown-feed", "Orphan headline", "https://orphan.example/a6",
     datetime(2024, 3, 6, 11, 0, tzinfo=UTC), None, None),
    ("a7", "acme-wire", MARKDOWN_TITLE, "java\tscript:alert(2)",
     datetime(2024, 3, 6, 7, 0, tzinfo=UTC), ["ACME"], "negative"),
    ("a8", "acme-wire", IMG_TITLE, "data:text/html,<script>alert(3)</script>",
     datetime(2024, 3, 6, 6, 0, tzinfo=UTC), ["BETA"], "neutral"),
]
N_SCORED = sum(1 for *_, label in ARTICLES if label)

#: The company universe: ticker, name, exchange, country, sector, industry, aliases. DELTA has
#: no story; OLDCO (an archive ticker on a3) is not in it.
COMPANIES = [
    ("ACME", "Acme Corporation", "NYSE", "US", "Industrials", "Machinery", ["Acme", "Acme Corp"]),
    ("BETA", "Beta Holdings plc", "LSE", "GB", "Financials", "Banks", ["Beta Bank"]),
    ("GAMMA", "Gamma Robotics", "NASDAQ", "US", "Industrials", "Robotics", ["Gamma Bots"]),
    ("DELTA", "Delta Energy SA", "XPAR", "FR", "Energy", "Oil & Gas", []),
]

#: article_id, ticker, method, relevance, mention, label toward the company (None: no
#: company-level score, the article label stands in).
LINKS = [
    ("a1", "ACME", "name", 1.0, "Acme", "positive"),
    ("a1", "BETA", "short_name", 1.0, "Beta", "negative"),  # same headline, judged differently
    ("a2", "ACME", "name", 1.0, "Acme", "negative"),
    # A second Industrials company on a2, only by category: neutral toward it, so the sector's
    # story (mean of ACME's and GAMMA's probabilities) is neutral, counted once.
    ("a2", "GAMMA", "category", 0.4, None, "neutral"),
    ("a3", "OLDCO", "ticker_column", 0.9, None, "neutral"),
    ("a4", "ACME", "name", 1.0, "Acme", "negative"),
    ("a4", "BETA", "cashtag", 0.6, "$BETA", None),  # only in the summary; article label
    ("a7", "ACME", "short_name", 1.0, "Acme", "negative"),
    ("a8", "BETA", "name", 1.0, "Beta", "neutral"),
]

_PROBS = {"negative": (0.8, 0.15, 0.05), "neutral": (0.1, 0.8, 0.1), "positive": (0.05, 0.15, 0.8)}
#: The candidate disagrees on one article: a3 neutral -> negative.
_CANDIDATE_LABELS = {"a3": "negative"}

METRICS = {
    "n": 120, "accuracy": 0.825, "macro_f1": 0.81, "majority_baseline_accuracy": 0.4,
    "per_class": {
        "negative": {"precision": 0.8, "recall": 0.85, "f1": 0.82, "support": 40},
        "neutral": {"precision": 0.84, "recall": 0.8, "f1": 0.82, "support": 50},
        "positive": {"precision": 0.83, "recall": 0.83, "f1": 0.83, "support": 30},
    },
    "confusion": [[34, 4, 2], [6, 40, 4], [2, 3, 25]],
}


def _explanation(headlines: list[dict], entity_name: str = "ACME") -> str:
    return json.dumps({"entity_name": entity_name, "baseline_days": 28, "metric": "negative_share",
                       "model_version": PRODUCTION, "n_sources": 1, "streak": 1,
                       "for_windows": 1, "silenced_by": None, "inhibited_by": None,
                       "headlines": headlines})


def _write_database(path: Path, *, with_production: bool = True) -> Path:
    fetched = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
    with connect(path) as con:
        con.executemany(
            "INSERT INTO feeds (feed_id, name, url, category, last_attempt_at, last_success_at,"
            " last_status, http_status, error_class, error_message, consecutive_failures)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [("acme-wire", "Acme Wire", "https://acme.example/rss", "company", fetched, fetched,
              "ok", 200, None, None, 0),
             ("central-bank", "Central Bank", "https://bank.example/feed", "central_bank",
              fetched, datetime(2024, 3, 3, 12, 0, tzinfo=UTC), "not_a_feed", 200,
              "NotAFeedError", "<b>HTML page</b>, not a feed", 3),
             ("evil-feed", "Evil <i>Feed</i>", "javascript:alert('feed')", None, fetched, None,
              "fetch_failed", None, "FeedFetchError", "connection refused", 7)],
        )
        con.executemany(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id, tickers)"
            " VALUES (?, ?, ?, ?, ?, 'exact', ?, ?, ?, ?, ?)",
            [(aid, feed, url, title, published, fetched, fetched, f"h-{aid}", f"s-{aid}", tickers)
             for aid, feed, title, url, published, tickers, _ in ARTICLES],
        )
        con.executemany("INSERT INTO companies VALUES (?, ?, ?, ?, ?, ?, ?, 'test-seed', ?)",
                        [(*c, fetched) for c in COMPANIES])
        con.executemany("INSERT INTO article_entities VALUES (?, ?, ?, ?, ?)",
                        [link[:5] for link in LINKS])
        con.executemany(
            "INSERT INTO entity_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(aid, ticker, PRODUCTION, label, *_PROBS[label],
              _PROBS[label][2] - _PROBS[label][0], mention or ticker, f"h-{aid}",
              datetime(2024, 3, 6, 12, 1, tzinfo=UTC))
             for aid, ticker, _, _, mention, label in LINKS if label is not None])
        con.executemany(
            "INSERT INTO model_versions VALUES (?, 'minilm', ?, ?, ?, ?)",
            [(PRODUCTION, f"models/registry/{PRODUCTION}",
              "production" if with_production else "candidate", json.dumps(METRICS),
              datetime(2024, 3, 1, tzinfo=UTC)),
             (ARCHIVED, f"models/registry/{ARCHIVED}", "archived", None,
              datetime(2024, 2, 1, tzinfo=UTC)),
             (CANDIDATE, f"models/registry/{CANDIDATE}", "candidate", None,
              datetime(2024, 3, 5, tzinfo=UTC))],
        )
        scores = []
        for aid, *_, label in ARTICLES:
            if label is None:
                continue
            for version, version_label, at in (
                (PRODUCTION, label, datetime(2024, 3, 6, 12, 1, tzinfo=UTC)),
                (CANDIDATE, _CANDIDATE_LABELS.get(aid, label),
                 datetime(2024, 3, 6, 12, 10, tzinfo=UTC)),
                # The archived model scored everything positive *last*: a dashboard that
                # picked "most recently scored" over "production" would show these instead.
                (ARCHIVED, "positive", datetime(2024, 3, 6, 12, 30, tzinfo=UTC)),
            ):
                neg, neu, pos = _PROBS[version_label]
                scores.append((aid, version, version_label, neg, neu, pos, pos - neg,
                               f"h-{aid}", at))
        con.executemany(
            "INSERT INTO scores (article_id, model_version, label, p_negative, p_neutral,"
            " p_positive, sentiment_score, content_hash, scored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", scores)
        headlines = [
            {"title": SCRIPT_TITLE, "url": "javascript:alert(document.cookie)",
             "feed_id": "acme-wire", "source": "Acme Wire",
             "published_at": "2024-03-06T08:15:00+00:00", "p_negative": 0.8,
             "label": "negative", "company": "ACME", "method": "name", "relevance": 1.0,
             "mention": "Acme", "targeted": True},
            {"title": MARKDOWN_TITLE, "url": "https://acme.example/a2", "feed_id": "acme-wire",
             "source": "Acme Wire", "published_at": "2024-03-06T07:00:00+00:00",
             "p_negative": 0.8, "label": "negative", "company": "ACME",
             "method": "short_name", "relevance": 1.0, "mention": "Acme", "targeted": True},
        ]
        con.executemany(
            "INSERT INTO alerts (alert_id, fingerprint, rule, scope, entity, window_start,"
            " window_end, state, observed, expected, p_value, q_value, severity, n_stories,"
            " n_negative, baseline_stories, explanation, created_at, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [("al1", "fp1", "ticker_negative_surge", "ticker", "ACME",
              datetime(2024, 3, 6, 0, 0, tzinfo=UTC), datetime(2024, 3, 7, 0, 0, tzinfo=UTC),
              "firing", 0.67, 0.12, 0.0004, 0.0012, "critical", 3, 2, 25,
              _explanation(headlines), datetime(2024, 3, 6, 12, 2, tzinfo=UTC), None),
             ("al2", "fp2", "market_negative_surge", "market", "all",
              datetime(2024, 3, 5, 0, 0, tzinfo=UTC), datetime(2024, 3, 6, 0, 0, tzinfo=UTC),
              "resolved", 0.5, 0.2, 0.03, 0.03, "warning", 2, 1, 40, None,
              datetime(2024, 3, 5, 23, 0, tzinfo=UTC), datetime(2024, 3, 6, 12, 2, tzinfo=UTC)),
             ("al3", "fp3", "sector_negative_surge", "sector", "Industrials",
              datetime(2024, 3, 4, 0, 0, tzinfo=UTC), datetime(2024, 3, 5, 0, 0, tzinfo=UTC),
              "resolved", 0.6, 0.2, 0.02, 0.04, "warning", 3, 2, 30,
              _explanation(headlines[:1], "Industrials"),
              datetime(2024, 3, 4, 23, 0, tzinfo=UTC), datetime(2024, 3, 5, 12, 0, tzinfo=UTC))],
        )
        con.executemany(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("r1", "ingest", None, None, datetime(2024, 3, 6, 12, 0, tzinfo=UTC),
              datetime(2024, 3, 6, 12, 1, tzinfo=UTC), "ok", json.dumps({"articles_new": 6})),
             ("r1", "detect", None, None, datetime(2024, 3, 6, 12, 2, tzinfo=UTC),
              datetime(2024, 3, 6, 12, 5, tzinfo=UTC), "ok", json.dumps({"firing": 1}))],
        )
    return path


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    """A ``tonewatch.duckdb`` in ``tmp_path/data``: 8 articles (3 with hostile text), 3 feeds,
    3 model versions (production, archived, candidate), 3 alerts (ticker, market, sector),
    1 run, 4 companies (DELTA without stories), 8 article-company links (see :data:`LINKS`;
    OLDCO is an archive ticker not in the universe) and the production model's labels toward
    the companies (a1 is good for ACME and bad for BETA; a4's BETA link has none).

    Six articles are scored by the production model (three negative), two are unscored.
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
    with connect(path):
        pass
    return path


@pytest.fixture(autouse=True)
def server_address():
    """Serve the AppTest runs on loopback, as ``tonewatch dashboard`` does by default (an unset
    ``server.address`` means every interface, which the app refuses without sign-in). Returns
    a setter for tests of other addresses; the old value comes back afterwards."""
    from streamlit import config

    old = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", old)


#: Dashboard users of the ``users_file`` fixture: name -> (role, password).
USERS = {"rita": ("responder", "rita-responds-1"), "vic": ("viewer", "vic-views-only-1"),
         "ada": ("admin", "ada-administers-1")}


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch) -> Path:
    """A user file with :data:`USERS` (Argon2id hashes), set as ``TONEWATCH_USERS_FILE``."""
    path = tmp_path / "secrets" / "users.yaml"
    for name, (role, password) in USERS.items():
        add_user(path, name, role, password)
    monkeypatch.setenv("TONEWATCH_USERS_FILE", str(path))
    return path
