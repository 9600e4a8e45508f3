"""pipeline.ingest.sources: feeds.yaml, ad-hoc sources and feed ids."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.ingest.sources import expand_sources, feed_id_for, load_feeds, merge_sources


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_feeds_good_file(tmp_path):
    path = write(tmp_path / "feeds.yaml", """
feeds:
  - name: SEC press releases
    url: https://www.sec.gov/news/pressreleases.rss
    category: regulator
    timezone: America/New_York
  - name: Local sample
    url: samples/wire.xml
  - name: Switched off
    url: https://off.example.com/rss
    enabled: false
""")
    feeds = load_feeds(path)
    assert [f.name for f in feeds] == ["SEC press releases", "Local sample"]
    sec = feeds[0]
    assert sec.url == "https://www.sec.gov/news/pressreleases.rss"
    assert (sec.category, sec.timezone) == ("regulator", "America/New_York")
    assert sec.feed_id == feed_id_for(sec.url)
    assert sec.is_remote and not feeds[1].is_remote
    assert (feeds[1].category, feeds[1].timezone) == (None, None)


def test_load_feeds_empty_file_is_no_feeds(tmp_path):
    assert load_feeds(write(tmp_path / "feeds.yaml", "")) == []


def test_load_feeds_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path / "feeds.yaml",
                 "feeds:\n  - name: A\n    url: https://a.example.com/rss\n    colour: red\n")
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    assert str(path) in str(info.value)
    assert "colour" in str(info.value)


def test_load_feeds_bad_timezone(tmp_path):
    path = write(tmp_path / "feeds.yaml",
                 "feeds:\n  - name: A\n    url: https://a.example.com/rss\n    timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_feeds(path)


def test_load_feeds_missing_url(tmp_path):
    path = write(tmp_path / "feeds.yaml", "feeds:\n  - name: A\n")
    with pytest.raises(ConfigError, match="url"):
        load_feeds(path)


def test_load_feeds_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_feeds(tmp_path / "absent.yaml")


def test_load_feeds_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path / "feeds.yaml", "feeds:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_feeds(path)


def test_expand_sources_urls_globs_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "feeds").mkdir()
    for name in ("b.xml", "a.xml", "notes.txt"):
        (tmp_path / "feeds" / name).write_text("<rss/>")
    sources, problems = expand_sources([
        "https://wire.example.com/rss",
        "feeds/*.xml",
        "  ",
        "nothing/*.rss",
        "missing.xml",
    ])
    assert [s.url for s in sources] == ["https://wire.example.com/rss"] + [
        str(tmp_path / p) for p in ("feeds/a.xml", "feeds/b.xml", "missing.xml")]
    assert [s.name for s in sources][1:] == ["a.xml", "b.xml", "missing.xml"]
    assert sources[0].name == "https://wire.example.com/rss"
    assert problems == ["nothing/*.rss: no file matches this pattern"]
    assert len({s.feed_id for s in sources}) == 4


def test_feed_id_for_is_stable_across_path_spellings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fid = feed_id_for("a.xml")
    assert fid == feed_id_for("./a.xml") == feed_id_for(str(tmp_path / "a.xml"))
    assert fid.startswith("a-") and len(fid.split("-")[-1]) == 8
    assert feed_id_for("b.xml") != fid
    # The same file name in another folder is another feed.
    assert feed_id_for("sub/a.xml") != fid


def test_one_file_under_any_spelling_is_one_feed_named_by_its_real_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "links" / "a").mkdir(parents=True)
    (tmp_path / "links" / "b").mkdir()
    real = tmp_path / "links" / "a" / "desk.xml"
    real.write_text("<rss/>")
    (tmp_path / "alias.xml").symlink_to(real)
    (tmp_path / "dirlink").symlink_to(tmp_path / "links" / "a")
    spellings = ["links/a/desk.xml", "alias.xml", real.as_uri(), "dirlink/desk.xml",
                 "links/b/../a/desk.xml", f"file://{tmp_path}/links/./a/desk.xml"]
    sources, problems = expand_sources(spellings)
    assert problems == []
    assert {s.feed_id for s in sources} == {feed_id_for(str(real))}
    assert feed_id_for(str(real)).startswith("desk-")
    assert {s.url for s in sources} == {str(real)}
    assert len(merge_sources(sources)) == 1


def test_feed_id_for_urls():
    fid = feed_id_for("https://www.sec.gov/news/pressreleases.rss")
    assert fid == feed_id_for("https://www.sec.gov/news/pressreleases.rss")
    assert fid.startswith("sec-gov-news-pressreleases-rss-")
    assert fid != feed_id_for("https://www.sec.gov/news/speeches.rss")


def test_merge_sources_drops_later_duplicates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, _ = expand_sources(["a.xml", "https://x.example.com/rss"])
    second, _ = expand_sources(["./a.xml", "b.xml"])
    merged = merge_sources(first, second)
    assert [s.url for s in merged] == [
        str(tmp_path / "a.xml"), "https://x.example.com/rss", str(tmp_path / "b.xml")]
