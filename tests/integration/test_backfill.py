"""A replay in one pass (detect_backfill) records exactly what window-by-window detect does.

A seeded 40-day history with surges of every kind the rules handle (a ticker surge that holds
for several windows, a market-wide day that inhibits ticker alerts, a tone drop, a burst of
negative volume, a topic, evening news for seasonal rules) and two silences (one expired half
way), evaluated by the batch path on one copy of the database and by ``detect`` at each window
end on another: the ``alerts`` tables must be equal column for column, and the printed lines
and counts too. A second, overlapping pass starts from the alerts the first one left (open
alerts, streaks, resolutions of later windows).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_settings
from pipeline.detection.rules import AlertRule
from pipeline.domain import FeedHealth
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.run import backfill_instants, detect, detect_backfill
from tests.seeding import store_articles
from pipeline.storage.db import connect
from pipeline.storage.feeds import upsert_feed_health
from pipeline.storage.scores import score_rows, upsert_scores
from pipeline.storage.silences import add_silence, expire_silence
from tests.conftest import query

AT = datetime(2026, 3, 6, tzinfo=UTC)
DAYS = 40
NEG, NEU, POS = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.15, 0.75]

RULES = [
    AlertRule(name="market", scope="market", min_articles=10, min_negative=5, significance=0.05,
              severity="critical", baseline="14d"),
    AlertRule(name="source", scope="source", min_articles=4, min_negative=3, significance=0.05,
              baseline="14d"),
    AlertRule(name="ticker_held", scope="ticker", min_articles=3, min_negative=2,
              significance=0.05, for_windows=2, baseline="14d"),
    AlertRule(name="ticker_volume", scope="ticker", metric="negative_count", min_articles=2,
              min_negative=3, significance=0.05, baseline="14d"),
    AlertRule(name="ticker_tone", scope="ticker", metric="mean_score", min_articles=3,
              min_negative=1, min_drop=0.2, significance=0.05, baseline="14d",
              group_by=["entity"]),
    AlertRule(name="topic", scope="topic", min_articles=3, min_negative=2, significance=0.05,
              baseline="14d"),
    AlertRule(name="evening_volume", scope="market", window="6h", baseline="14d",
              seasonality="hour_of_day", metric="negative_count", min_articles=2, min_negative=2,
              significance=0.1),
    AlertRule(name="half_day_share", scope="source", window="12h", baseline="14d",
              seasonality="hour_of_day", min_articles=2, min_negative=2, significance=0.1),
]


def _history(db) -> None:
    """Forty days of seeded news from two feeds about three tickers, with planted surges."""
    rng = np.random.default_rng(11)
    rows, probs = [], []

    def add(when, title, p, tickers, feed):
        i = len(rows)
        rows.append({c: None for c in ARTICLE_COLUMNS} | {
            "article_id": f"a{i}", "feed_id": feed, "title": title, "text": title,
            "published_at": when, "date_quality": "exact", "first_seen_at": when,
            "fetched_at": when, "content_hash": f"h{i}", "story_id": f"s{i}",
            "tickers": tickers})
        probs.append(p)

    for day in range(DAYS, 0, -1):
        start = AT - timedelta(days=day)
        for i in range(18):  # ordinary flow: mostly neutral or positive, one in six negative
            ticker = ["ACME", "BRLX", "CRWN"][i % 3]
            tone = NEG if rng.random() < 1 / 6 else (POS if rng.random() < 0.6 else NEU)
            title = f"{ticker} update {day}-{i}" + (" amid layoffs" if i == 4 else "")
            add(start + timedelta(hours=8 + i // 2, minutes=7 * i), title, tone, [ticker],
                "wire" if i % 2 else "daily")
        for i in range(3):  # evening news for the seasonal rules
            add(start + timedelta(hours=19 + i), f"Evening wrap {day}-{i}",
                NEG if rng.random() < 0.2 else NEU, [], "wire")
        if day in (12, 11, 10):  # ACME turns for three days (pending, then firing)
            for i in range(10):
                add(start + timedelta(hours=9, minutes=5 * i), f"ACME probe widens {day}-{i}",
                    NEG, ["ACME"], "daily")
        if day == 7:  # a market-wide bad day: inhibits ticker alerts
            for i in range(24):
                add(start + timedelta(hours=6, minutes=20 * i), f"Markets slump {i}", NEG,
                    ["BRLX"] if i % 2 else [], "wire")
        if day == 5:  # BRLX coverage sours without many outright negatives
            for i in range(8):
                add(start + timedelta(hours=10, minutes=5 * i), f"BRLX cautious note {i}",
                    NEG if i < 2 else NEU, ["BRLX"], "wire")
        if day == 4:  # a layoffs wave
            for i in range(6):
                add(start + timedelta(hours=11, minutes=5 * i), f"Layoffs spread, plant {i}",
                    NEG, [], "daily")
        if day == 3:  # CRWN: a burst of negative volume, evening included
            for i in range(9):
                add(start + timedelta(hours=14 + i), f"CRWN recall expands {i}", NEG, ["CRWN"],
                    "wire")
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS)
    with connect(db) as con:
        store_articles(con, frame)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      probs, "synthetic-1", AT))
        upsert_feed_health(con, [FeedHealth("wire", "Example Wire", "https://wire.test/rss"),
                                 FeedHealth("daily", "Daily Ledger", "https://daily.test/rss")])
        add_silence(con, [{"label": "entity", "op": "=", "value": "Example Wire"}],
                    starts_at=AT - timedelta(days=9), ends_at=AT - timedelta(days=2),
                    author="ops", comment="wire outage", now=AT - timedelta(days=30))
        early = add_silence(con, [{"label": "rule", "op": "=~", "value": "ticker_.*"}],
                            starts_at=AT - timedelta(days=30), ends_at=AT + timedelta(days=30),
                            author="ops", comment="noisy", now=AT - timedelta(days=31))
        expire_silence(con, early, AT - timedelta(days=11), by="ops",
                       comment="noise fixed")


@pytest.fixture
def twins(tmp_path):
    """Two settings over identical databases and topics: (batch, serial)."""
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  layoffs: [layoff*, job cuts]\n  recalls: [recall*]\n")
    first = load_settings(data_dir=tmp_path / "batch", topics_file=topics)
    _history(first.db_path)
    second = load_settings(data_dir=tmp_path / "serial", topics_file=topics)
    second.db_path.parent.mkdir(parents=True)
    shutil.copy(first.db_path, second.db_path)
    return first, second


def _alerts(settings) -> list[tuple]:
    return query(settings.db_path, "SELECT * EXCLUDE (explanation), explanation::VARCHAR"
                                   " FROM alerts ORDER BY alert_id")


def _serial(settings, ends) -> tuple[dict, list[str]]:
    totals, lines = {}, []
    for at in ends:
        result = detect(settings, at=at, rules=RULES, enqueue=False)
        lines += result.messages
        for key, value in result.counts.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return {"windows": len(ends), **totals}, lines


def test_one_pass_records_what_window_by_window_detection_records(twins):
    batch, serial = twins
    ends = backfill_instants(batch, since=None, until=AT)
    assert len(ends) == DAYS
    # Two overlapping passes: the second starts from what the first left in the table.
    for part in (ends[:26], ends[18:]):
        result = detect_backfill(batch, since=None, until=AT, rules=RULES, ends=part)
        totals, lines = _serial(serial, part)
        assert result.messages == lines
        assert {k: v for k, v in result.counts.items() if isinstance(v, int)} == totals
        assert _alerts(batch) == _alerts(serial)
    # The history exercised every part of the life cycle and of the policy chain.
    fired = dict(query(batch.db_path, "SELECT rule, count(*) FROM alerts GROUP BY rule"))
    assert {"market", "ticker_held", "ticker_volume", "ticker_tone", "topic"} <= set(fired)
    streaks = query(batch.db_path, "SELECT explanation->>'streak', state FROM alerts"
                                   " WHERE rule = 'ticker_held' AND entity = 'ACME'"
                                   " ORDER BY window_end")
    assert streaks == [("1", "resolved"), ("2", "resolved"), ("3", "resolved")]
    assert any("PENDING ticker_held ticker=ACME" in line for line in lines)
    assert query(batch.db_path, "SELECT count(*) FROM alerts WHERE state = 'firing'")[0][0] >= 1
    reasons = query(batch.db_path, "SELECT DISTINCT explanation->>'silenced_by' IS NOT NULL,"
                                   " explanation->>'inhibited_by' FROM alerts")
    assert (True, None) in reasons and (False, "market") in reasons
    assert query(batch.db_path, "SELECT count(*) FROM notifications") == [(0,)]


def test_backfill_without_windows_or_scores(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    empty = detect_backfill(settings, since=None, until=AT, rules=RULES[:1])
    assert empty.counts == {"windows": 0} and empty.messages == []
    with connect(settings.db_path) as con:
        store_articles(con, pd.DataFrame([{c: None for c in ARTICLE_COLUMNS} | {
            "article_id": "a", "feed_id": "f", "title": "t", "text": "t",
            "published_at": AT - timedelta(hours=3), "date_quality": "exact",
            "first_seen_at": AT, "fetched_at": AT, "content_hash": "h", "story_id": "s",
            "tickers": []}], columns=ARTICLE_COLUMNS))
    unscored = detect_backfill(settings, since=None, until=AT, rules=RULES[:2])
    assert unscored.counts["windows"] == 1 and unscored.counts["rules"] == 2
    assert unscored.messages == ["no scores yet: nothing to evaluate"]
