"""pipeline.ingest.parse: what a document is (feed, empty feed, HTML, sitemap, broken XML)."""

from __future__ import annotations

import pytest

from pipeline.errors import FeedError, FeedParseError, NotAFeedError
from pipeline.ingest.parse import parse_feed

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Access denied</title></head>
<body><h1>Please enable JavaScript</h1><p>Request blocked.</p></body></html>"""

SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example.com/a1</loc>
    <news:news><news:title>Acme cuts outlook</news:title></news:news></url>
</urlset>"""

TRUNCATED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example Wire</title>
<link>https://wire.example.com/</link><description>Company news (fict"""


def test_html_page_is_not_a_feed():
    with pytest.raises(NotAFeedError, match="HTML") as info:
        parse_feed(HTML_PAGE, source="https://example.com/rss", content_type="text/html")
    assert info.value.source == "https://example.com/rss"
    assert info.value.status == "not_a_feed"


def test_sitemap_is_not_a_feed():
    with pytest.raises(NotAFeedError, match="sitemap"):
        parse_feed(SITEMAP, source="sitemap.xml")


def test_truncated_rss_is_a_parse_error():
    with pytest.raises(FeedParseError) as info:
        parse_feed(TRUNCATED, source="truncated.xml")
    assert info.value.status == "parse_error"
    assert "truncated.xml" in str(info.value)
    assert not isinstance(info.value, NotAFeedError)


def test_plain_text_is_not_a_feed():
    with pytest.raises(FeedError):
        parse_feed(b"hello, this is not xml at all", source="x.txt")


def test_valid_rss_with_zero_items_is_an_empty_feed(rss):
    parsed = parse_feed(rss([], title="Quiet Wire"), source="quiet.xml")
    assert parsed.entries == []
    assert parsed.title == "Quiet Wire"
    assert parsed.version == "rss20"
    assert parsed.warnings == []


def test_valid_rss_entries_in_order(rss):
    parsed = parse_feed(
        rss(["<title>First</title><link>https://e.com/1</link>",
             "<title>Second</title><link>https://e.com/2</link>"]),
        source="two.xml", content_type="application/rss+xml",
    )
    assert [e.title for e in parsed.entries] == ["First", "Second"]
    assert parsed.warnings == []


def test_undefined_entity_keeps_entries_with_a_warning(rss):
    content = rss(["<title>Acme&nbsp;Robotics cuts outlook</title><link>https://e.com/1</link>",
                   "<title>Globex wins contract</title><link>https://e.com/2</link>"])
    parsed = parse_feed(content, source="entity.xml")
    assert len(parsed.entries) == 2
    assert parsed.warnings, "the undefined entity should be reported as a warning"
    assert parsed.warnings[0].startswith("entity.xml: ")
    assert "Globex wins contract" in [e.title for e in parsed.entries]


def test_atom_feed_parses():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Regulator</title>
<id>urn:x</id><updated>2024-03-05T09:30:00Z</updated>
<entry><title>Fine imposed</title><id>urn:1</id><link href="https://r.example.gov/1"/>
<updated>2024-03-05T09:30:00Z</updated></entry></feed>"""
    parsed = parse_feed(atom, source="atom.xml")
    assert parsed.version == "atom10"
    assert [e.link for e in parsed.entries] == ["https://r.example.gov/1"]
