"""End to end on real publishers' feeds from ../shared/real_feeds (skipped when absent)."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED, cli, query

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realdata]
REAL = SHARED / "real_feeds"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_feeds is absent")
def test_real_feeds_are_ingested_and_scored(env, tmp_path):
    db = tmp_path / "data" / "tonewatch.duckdb"
    files = sorted(REAL.glob("*.xml"))
    result = cli(env, "run", "--no-config", "--feeds", *map(str, files))
    assert result.returncode == 0, result.stderr
    status = dict(query(db, "SELECT url, last_status FROM feeds"))
    sitemap = [u for u in status if "NOT-A-FEED" in u]
    assert sitemap and status[sitemap[0]] == "not_a_feed"
    others = [u for u in status if "NOT-A-FEED" not in u]
    assert len(others) == len(files) - 1
    assert all(status[u] == "ok" for u in others), status
    # Every feed contributed articles, and every English article has a score row.
    per_feed = dict(query(db, "SELECT f.url, count(a.article_id) FROM feeds f"
                              " LEFT JOIN articles a USING (feed_id) GROUP BY f.url"))
    assert all(per_feed[u] > 0 for u in others), per_feed
    missing = query(db, "SELECT a.title FROM articles a LEFT JOIN scores s USING (article_id)"
                        " WHERE a.language = 'en' AND s.article_id IS NULL")
    assert missing == []
    assert query(db, "SELECT count(*) FROM articles WHERE language = 'en'")[0][0] >= 240
