"""Hostile feed text on every page: never rendered as HTML or markdown, only http(s) links,
and browsing the dashboard never writes to the database."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pandas as pd
import pytest

from dashboard.ui import escape_markdown, safe_url
from tests.dashboard.helpers import open_page

PAGES = ["overview", "entities", "sectors", "articles", "alerts", "feeds", "model"]
#: Fragments of the seeded hostile titles, URLs and feed fields.
HOSTILE = ["<script", "javascript:", "onerror", "[Click for details]", "data:text/html",
           "<b>", "<i>"]
#: Elements whose text Streamlit renders as markdown.
MARKDOWN_KINDS = ["markdown", "caption", "title", "header", "subheader", "info", "warning",
                  "error", "success"]


def _markdown_bodies(at) -> list[str]:
    bodies = []
    for kind in MARKDOWN_KINDS:
        bodies.extend(str(e.value) for e in at.get(kind))
    for metric in at.metric:
        bodies.extend([metric.label, metric.value])
    bodies.extend(link.proto.label for link in at.get("page_link"))
    return bodies


@pytest.mark.parametrize("page", PAGES)
def test_no_feed_text_in_markdown_and_only_web_links(monkeypatch, seeded_db, page):
    at = open_page(monkeypatch, seeded_db.parent, page)

    assert not at.exception
    for body in _markdown_bodies(at):
        for fragment in HOSTILE:
            assert fragment not in body, f"{page}: {fragment!r} rendered as markdown: {body!r}"
    for proto in (e.proto for e in at.get("markdown")):
        assert not proto.allow_html, f"{page}: markdown with unsafe_allow_html"
    for frame in (df.value for df in at.dataframe):
        for column in ("link", "url"):
            if column in frame.columns:
                for url in frame[column].dropna():
                    assert urlsplit(url).scheme in ("http", "https"), (page, url)


def test_hostile_titles_are_shown_verbatim_as_cells(monkeypatch, seeded_db):
    """Escaping must not mangle the text either: the analyst sees what the feed said."""
    at = open_page(monkeypatch, seeded_db.parent, "articles")
    titles = set(pd.concat([df.value["title"] for df in at.dataframe
                            if "title" in df.value.columns]))
    assert "<script>alert('x')</script> Acme probe widens" in titles
    assert "[Click for details](javascript:alert(document.domain)) Acme recall" in titles


def test_browsing_every_page_writes_nothing(monkeypatch, seeded_db):
    before = hashlib.sha256(seeded_db.read_bytes()).hexdigest()
    files_before = sorted(p.name for p in seeded_db.parent.iterdir())
    for page in PAGES:
        at = open_page(monkeypatch, seeded_db.parent, page)
        assert not at.exception
    assert hashlib.sha256(seeded_db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in seeded_db.parent.iterdir()) == files_before  # no .wal


@pytest.mark.parametrize("url, expected", [
    ("https://example.com/a?b=1", "https://example.com/a?b=1"),
    ("  http://example.com/  ", "http://example.com/"),
    ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
    ("javascript:alert(1)", None),
    ("JavaScript:alert(1)", None),
    ("java\tscript:alert(1)", None),
    ("https://exa mple.com", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("//evil.example/x", None),
    ("/relative/path", None),
    ("https://", None),
    ("http://[::1", None),
    (None, None),
    (float("nan"), None),
])
def test_safe_url(url, expected):
    assert safe_url(url) == expected


def test_escape_markdown_neutralises_links_and_html():
    escaped = escape_markdown("[x](javascript:alert(1)) <b>bold</b> *em* AT&T")
    assert "](" not in escaped and "<b>" not in escaped
    assert escaped.replace("\\", "") == "[x](javascript:alert(1)) <b>bold</b> *em* AT&T"
    assert escape_markdown(None) == ""
