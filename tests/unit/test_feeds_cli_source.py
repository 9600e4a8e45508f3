"""`tonewatch feeds` shows where each feed comes from (issue 21, tester finding 5)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.cli.stages import _FEED_COLUMNS
from pipeline.domain import FeedHealth
from pipeline.storage.db import connect, transaction
from pipeline.storage.feeds import feed_health, upsert_feed_health


def test_feed_health_lists_each_feeds_source(tmp_path):
    db = tmp_path / "tw.duckdb"
    with connect(db) as con, transaction(con):
        upsert_feed_health(con, [
            FeedHealth("desk-1", "Desk", "/srv/feeds/desk.xml",
                       last_attempt_at=datetime(2026, 3, 6, tzinfo=UTC)),
            FeedHealth("desk-2", "Desk", "/srv/other/desk.xml",
                       last_attempt_at=datetime(2026, 3, 6, tzinfo=UTC))])
    with connect(db, read_only=True) as con:
        frame = feed_health(con)
    assert sorted(frame["url"]) == ["/srv/feeds/desk.xml", "/srv/other/desk.xml"]
    assert [c[0] for c in _FEED_COLUMNS][:2] == ["feed", "source"]
