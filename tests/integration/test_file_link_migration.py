"""Migration 007 (issue 21, tester finding 7): local-file articles keyed the old way (link
'file://tmp/...', key = sha1 of the link alone) are re-keyed the new way, keeping their
scores and company links; copies already stored under the new key are removed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import duckdb
import pytest

from pipeline.config import load_settings
from pipeline.ingest.sources import feed_id_for
from pipeline.run import ingest
from pipeline.storage.db import connect
from tests.conftest import query
from tests.seeding import database_before

AT = datetime(2026, 3, 6, tzinfo=UTC)
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Upland desk</title><description>Notes</description>
<item><title>Hill farms report a late lambing season</title><link>alpha.html</link>
<pubDate>Thu, 05 Mar 2026 10:00:00 GMT</pubDate></item>
<item><title>Reservoir levels recover after wet winter</title><link>beta.html</link>
<pubDate>Thu, 05 Mar 2026 11:00:00 GMT</pubDate></item>
</channel></rss>
"""


def _sha1(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _old_database(db, feed_id: str, links: dict[str, str]) -> None:
    """A database at schema 6 holding articles as tonewatch stored them before issue 21."""
    con = database_before(db, 7)
    for title, url in links.items():
        key = _sha1("url", url)
        con.execute("INSERT INTO articles VALUES (?, ?, ?, ?, '', ?, ?, 'raw', 'exact', ?, ?,"
                    " 'en', 'h', ?, [])", [key, feed_id, url, title, title, AT, AT, AT,
                                           _sha1(title)])
        con.execute("INSERT INTO scores (article_id, model_version, label, p_negative, p_neutral,"
                    " p_positive, sentiment_score, content_hash, scored_at)"
                    " VALUES (?, 'm1', 'neutral', 0.1, 0.8, 0.1, 0.0, 'h', ?)", [key, AT])
        con.execute("INSERT INTO article_entities VALUES (?, 'ACME', 'name', 0.9, 'Acme')", [key])
    con.close()


@pytest.fixture
def desk(tmp_path):
    """``(feed file, settings)``: a local feed with relative links and an empty data dir."""
    feed = tmp_path / "upland" / "desk.xml"
    feed.parent.mkdir()
    feed.write_text(FEED, encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data")
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    return feed, settings


def test_upgrade_rekeys_old_file_links_and_a_re_read_adds_nothing(desk):
    feed, settings = desk
    folder = str(feed.parent)  # /tmp/.../upland: the old form read "tmp" as a host
    old = {"Hill farms report a late lambing season": f"file:/{folder}/alpha.html",
           "Reservoir levels recover after wet winter": f"file:/{folder}/beta.html"}
    assert all(not url.startswith("file:///") for url in old.values())
    _old_database(settings.db_path, feed_id_for(str(feed)), old)

    with connect(settings.db_path):
        pass  # a writer brings the schema up to date
    rows = query(settings.db_path, "SELECT url FROM articles ORDER BY url")
    assert rows == [(f"file://{folder}/alpha.html",), (f"file://{folder}/beta.html",)]
    assert query(settings.db_path, "SELECT count(*) FROM scores JOIN articles USING (article_id)"
                 " JOIN article_entities USING (article_id)") == [(2,)]

    ingest(settings, at=AT, use_config=False, extra_sources=[str(feed)])
    assert query(settings.db_path, "SELECT count(*), count(DISTINCT url) FROM articles") == [(2, 2)]
    assert query(settings.db_path, "SELECT count(*) FROM scores") == [(2,)]


def test_upgrade_removes_copies_already_stored_under_the_new_key(desk):
    feed, settings = desk
    folder = str(feed.parent)
    _old_database(settings.db_path, feed_id_for(str(feed)),
                  {"Hill farms report a late lambing season": f"file:/{folder}/alpha.html"})
    with duckdb.connect(str(settings.db_path)) as con:  # still at schema 6: the new code ran
        new_key = _sha1("url", feed_id_for(str(feed)), f"file://{folder}/alpha.html")
        con.execute("INSERT INTO articles SELECT * REPLACE (? AS article_id, ? AS url)"
                    " FROM articles", [new_key, f"file://{folder}/alpha.html"])
    assert query(settings.db_path, "SELECT count(*) FROM articles") == [(2,)]

    ingest(settings, at=AT, use_config=False, extra_sources=[str(feed)])
    rows = query(settings.db_path, "SELECT article_id, url FROM articles ORDER BY url")
    assert rows == [(new_key, f"file://{folder}/alpha.html"),
                    (_sha1("url", feed_id_for(str(feed)), f"file://{folder}/beta.html"),
                     f"file://{folder}/beta.html")]
    # the removed copy's score moved to the kept row, which had none
    assert query(settings.db_path, "SELECT article_id FROM scores") == [(new_key,)]
