"""Feed fidelity (issue 21): what a feed says is stored exactly, and feeds never overwrite
each other's articles."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.config import load_settings
from pipeline.run import ingest
from tests.conftest import query

AT = datetime(2026, 3, 6, tzinfo=UTC)

DESK_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{desk} desk</title><description>Notes</description>
<item><title>{title}</title><link>/news/1</link>
<pubDate>Thu, 05 Mar 2026 10:00:00 GMT</pubDate></item>
</channel></rss>
"""


def test_two_local_feeds_with_one_relative_link_keep_both_articles(tmp_path):
    titles = {"metals": "Copper smelter output falls for a third month",
              "energy": "Refinery margins widen as winter demand peaks"}
    paths = []
    for desk, title in titles.items():
        (tmp_path / desk).mkdir()
        path = tmp_path / desk / "wire.xml"
        path.write_text(DESK_FEED.format(desk=desk, title=title), encoding="utf-8")
        paths.append(str(path))
    settings = load_settings(data_dir=tmp_path / "data")
    for _ in range(2):  # the re-run finds both articles and adds no third
        ingest(settings, at=AT, use_config=False, extra_sources=paths)
        rows = query(settings.db_path, "SELECT title, url FROM articles ORDER BY title")
        assert [r[0] for r in rows] == sorted(titles.values())
        # resolved against each file's own location: the path from the root, no host
        assert {r[1] for r in rows} == {"file:///news/1"}
