"""Feed fidelity (issue 21): what a feed says is stored exactly, and feeds never overwrite
each other's articles.

One parametrised test runs every case of tests/fixtures/fidelity/ (a feed file or a folder of
feeds next to ``<case>.expect.yaml``; see the folder's README) and compares what is stored with
what the sidecar states, field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_settings
from pipeline.run import AllFeedsFailedError, ingest
from tests.conftest import query

AT = datetime(2026, 3, 6, tzinfo=UTC)
FIDELITY = Path(__file__).resolve().parents[1] / "fixtures" / "fidelity"
CASES = sorted(FIDELITY.glob("*.expect.yaml"))
#: Article fields a sidecar may state; title, url, published_at and date_quality are required.
FIELDS = ("title", "url", "published_at", "date_quality", "language", "tickers", "summary")


def _case_sources(sidecar: Path) -> list[str]:
    """The feed file(s) of a case: ``<case>.*`` beside the sidecar, or every file in ``<case>/``."""
    stem = sidecar.name.removesuffix(".expect.yaml")
    folder = FIDELITY / stem
    if folder.is_dir():
        return sorted(str(p) for p in folder.iterdir())
    files = [p for p in FIDELITY.glob(f"{stem}.*") if p != sidecar]
    assert len(files) == 1, f"{sidecar.name}: expected one feed file beside it, found {files}"
    return [str(files[0])]


def _ingest_quietly(settings, sources):
    try:
        ingest(settings, at=AT, use_config=False, extra_sources=sources)
    except AllFeedsFailedError:
        pass  # the expected state of a case may be a failure


def _stored(db) -> list[dict]:
    columns = ("title", "url", "published_at", "fetched_at", "date_quality", "language",
               "tickers", "summary")
    rows = query(db, f"SELECT {', '.join(columns)} FROM articles ORDER BY title, url")
    return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.mark.parametrize("sidecar", CASES, ids=lambda p: p.name.removesuffix(".expect.yaml"))
def test_fidelity_case_stores_what_its_sidecar_states(sidecar, tmp_path):
    expected = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    settings = load_settings(data_dir=tmp_path / "data")
    sources = _case_sources(sidecar)
    _ingest_quietly(settings, sources)
    feeds = query(settings.db_path, "SELECT name, last_status FROM feeds ORDER BY name")
    # one state for every source, or a list of states in the order of the feeds' names
    states = expected["state"]
    states = states if isinstance(states, list) else [states] * len(sources)
    assert [state for _, state in feeds] == states, feeds
    if "names" in expected:
        assert [name for name, _ in feeds] == sorted(expected["names"])
    stored = _stored(settings.db_path)
    _ingest_quietly(settings, sources)  # a re-run stores nothing new and changes nothing
    again = _stored(settings.db_path)
    assert [{**r, "fetched_at": None} for r in again] == [{**r, "fetched_at": None} for r in stored]
    articles = sorted(expected["articles"], key=lambda a: (a["title"], a["url"] or ""))
    assert len(stored) == len(articles), [row["title"] for row in stored]
    for row, want in zip(stored, articles, strict=True):
        assert set(want) <= set(FIELDS) and {"title", "url", "published_at", "date_quality"} <= set(want)
        for name, value in want.items():
            got = row[name]
            if name == "published_at":
                value = row["fetched_at"] if value == "fetched" else datetime.fromisoformat(value)
            elif name == "tickers":
                got = list(got)
            assert got == value, f"{sidecar.name}: {row['title']!r}: {name}"

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


def test_progress_line_names_the_state_the_feeds_table_records(tmp_path):
    path = tmp_path / "desk.xml"
    path.write_text(DESK_FEED.format(desk="metals", title="Nickel stocks at the exchange fall"),
                    encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data")
    for state, new in (("ok", 1), ("no_new_entries", 0)):
        lines: list[str] = []
        ingest(settings, at=AT, use_config=False, extra_sources=[str(path)], on_feed=lines.append)
        assert query(settings.db_path, "SELECT last_status FROM feeds") == [(state,)]
        assert lines == [f"read: {path}: 1 entry", f"{state}: {path}: 1 entry, {new} new"]


def test_each_feed_says_what_it_read_before_anything_is_stored(tmp_path):
    paths = []
    for desk in ("metals", "energy"):
        path = tmp_path / f"{desk}.xml"
        path.write_text(DESK_FEED.format(desk=desk, title=f"{desk.title()} desk opens"),
                        encoding="utf-8")
        paths.append(path)
    paths.insert(1, tmp_path / "missing.xml")
    settings = load_settings(data_dir=tmp_path / "data")
    lines: list[str] = []
    ingest(settings, at=AT, use_config=False, extra_sources=[str(p) for p in paths],
           on_feed=lines.append)
    assert lines[0] == f"read: {paths[0]}: 1 entry"  # before the second source is fetched
    assert lines[1].startswith("fetch_failed: ") and str(paths[1]) in lines[1]
    assert lines[2:] == [f"read: {paths[2]}: 1 entry", f"ok: {paths[0]}: 1 entry, 1 new",
                         f"ok: {paths[2]}: 1 entry, 1 new"]


def test_an_entry_cut_off_by_a_truncated_document_is_not_stored_twice(tmp_path):
    whole = DESK_FEED.format(desk="grain", title="Barley premiums widen").replace(
        "</channel>", "<item><title>Oat mills run at capacity</title>"
        "<link>https://grain.example.com/oats</link></item></channel>")
    path = tmp_path / "grain.xml"
    path.write_text(whole[:whole.index("<link>https://grain")], encoding="utf-8")  # cut in item 2
    settings = load_settings(data_dir=tmp_path / "data")
    ingest(settings, at=AT, use_config=False, extra_sources=[str(path)])
    path.write_text(whole, encoding="utf-8")  # the next fetch gets the whole document
    ingest(settings, at=AT, use_config=False, extra_sources=[str(path)])
    rows = query(settings.db_path, "SELECT title, url FROM articles ORDER BY title")
    assert rows == [("Barley premiums widen", "file:///news/1"),
                    ("Oat mills run at capacity", "https://grain.example.com/oats")]
