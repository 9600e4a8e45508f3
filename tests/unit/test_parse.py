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


# --- issue 21: empty documents, XHTML DOCTYPE, JSON Feed, undeclared encodings ------------


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n", b"\xef\xbb\xbf\n", b"\xff\xfe", b"\xfe\xff",
                                     b"\xff\xfe" + " \n".encode("utf-16-le")])
def test_empty_and_whitespace_only_documents_are_one_state(content):
    with pytest.raises(NotAFeedError, match="empty document") as info:
        parse_feed(content, source="blank.xml")
    assert info.value.status == "not_a_feed"


def test_rss_with_an_xhtml_doctype_and_no_items_is_an_empty_feed():
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<rss version="2.0"><channel><title>Quiet desk</title><link>https://desk.example.org/</link>
<description>Nothing today</description></channel></rss>"""
    parsed = parse_feed(doc, source="quiet.xml")
    assert (parsed.title, parsed.entries) == ("Quiet desk", [])


JSON_FEED = """{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "Harbour Desk",
  "home_page_url": "https://harbour.example.org/",
  "items": [
    {"id": "hd-1", "url": "/markets/1?utm_source=json", "title": "Freight rates ease <again>",
     "content_html": "<p>Container rates fell for a <b>fourth</b> week.</p>",
     "date_published": "2026-03-05T08:15:00+01:00", "tags": ["shipping"]},
    {"id": 2, "external_url": "https://other.example.net/story", "content_text": "No title here.",
     "date_modified": "2026-03-05T09:00:00Z"},
    "not an item"
  ]
}"""


def test_json_feed_maps_its_documented_fields():
    parsed = parse_feed(JSON_FEED.encode(), source="harbour.json",
                        base_url="file:///srv/feeds/harbour.json")
    assert (parsed.title, parsed.version) == ("Harbour Desk", "json11")
    assert parsed.base_url == "https://harbour.example.org/"  # home_page_url, not the file
    first, second = parsed.entries
    assert first["title"] == "Freight rates ease <again>"
    assert first["title_detail"]["type"] == "text/plain"
    assert first["summary_detail"]["type"] == "text/html"
    assert first["link"] == "/markets/1?utm_source=json" and first["tags"] == [{"term": "shipping"}]
    assert (second["id"], second["link"], second["title"]) == ("2", "https://other.example.net/story", "")
    assert (second["summary"], second["updated"]) == ("No title here.", "2026-03-05T09:00:00Z")
    assert parsed.warnings == ["harbour.json: 1 item is not a JSON object; skipped"]


@pytest.mark.parametrize(("content", "error", "message"), [
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', FeedParseError, "line 1"),
    (b'{"status": "ok", "articles": []}', NotAFeedError, "jsonfeed.org version"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', NotAFeedError, "items list"),
])
def test_json_that_is_not_a_json_feed(content, error, message):
    with pytest.raises(error, match=message):
        parse_feed(content, source="api.json")


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/xml"])
def test_undeclared_encoding_is_detected_and_said(content_type):
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Лента</title>'
           "<item><title>Центральный банк сохранил ставку без изменений</title>"
           "<link>https://lenta.example.org/1</link>"
           "<description>Регулятор сослался на замедление инфляции.</description></item>"
           "</channel></rss>").encode("koi8-r")
    parsed = parse_feed(doc, source="lenta.xml", content_type=content_type,
                        base_url="https://lenta.example.org/rss" if content_type else None)
    assert parsed.entries[0]["title"] == "Центральный банк сохранил ставку без изменений"
    assert parsed.warnings == ["lenta.xml: no declared character encoding; read as KOI8-R (detected)"]


def test_undeclared_encoding_over_http_without_a_content_type_is_detected():
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Лента</title>'
           "<item><title>Рубль укрепился к доллару на открытии торгов</title>"
           "<link>/1</link></item></channel></rss>").encode("windows-1251")
    parsed = parse_feed(doc, source="u", base_url="https://lenta.example.org/rss")
    assert parsed.title == "Лента" and parsed.entries[0]["link"] == "https://lenta.example.org/1"


def test_item_xml_base_in_a_local_file_without_a_channel_link_ends_with_its_item():
    doc = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
           b'<item xml:base="https://wire.example.org/a/"><title>One</title><link>1.html</link></item>'
           b"<item><title>Two</title><link>2.html</link></item>"
           b"<item><title>Three</title><link>../up/3.html#top</link></item></channel></rss>")
    parsed = parse_feed(doc, source="feed.xml", base_url="file:///data/desk/feed.xml")
    assert [e["link"] for e in parsed.entries] == [
        "https://wire.example.org/a/1.html", "file:///data/desk/2.html", "file:///data/up/3.html#top"]


def test_a_declared_single_byte_charset_the_bytes_contradict_is_warned_about():
    body = ("<rss version=\"2.0\"><channel><title>Лента</title>"
            "<item><title>Центральный банк сохранил ставку без изменений</title>"
            "<link>https://lenta.example.org/1</link>"
            "<description>Регулятор сослался на замедление инфляции.</description></item>"
            "</channel></rss>")
    wrong = b'<?xml version="1.0" encoding="koi8-r"?>' + body.encode("windows-1251")
    parsed = parse_feed(wrong, source="lenta.xml")
    assert parsed.warnings == ["lenta.xml: declared koi8-r, but the bytes read as Windows-1251 "
                               "(detected); read as declared, the text may be garbled"]
    right = b'<?xml version="1.0" encoding="windows-1251"?>' + body.encode("windows-1251")
    assert parse_feed(right, source="lenta.xml").warnings == []
    sjis = body.replace("Лента", "日本経済").encode("shift_jis", errors="ignore")
    served = parse_feed(b"<?xml version=\"1.0\"?>" + sjis, source="u",
                        content_type="application/rss+xml; charset=iso-8859-1",
                        base_url="https://nikkei.example.jp/rss")
    assert any("declared iso-8859-1, but the bytes read as" in w for w in served.warnings)
