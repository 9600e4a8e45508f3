"""Fixtures for the unit tests: a fixed clock, an isolated settings environment, feed builders.

Unit tests use no network (HTTP goes through ``httpx.MockTransport``), no model and no real
time; every input is written inline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from pipeline.domain import FeedSource
from pipeline.ingest.parse import ParsedFeed


@pytest.fixture
def now() -> datetime:
    """The fetch/run instant used by the tests (UTC)."""
    return datetime(2024, 3, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings_env(monkeypatch, tmp_path) -> Path:
    """Run in an empty folder (no ``.env``) with every ``TONEWATCH_*`` variable removed."""
    import os

    for name in list(os.environ):
        if name.startswith("TONEWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def rss():
    """Build RSS 2.0 bytes from item XML snippets: ``rss(items, title=...)``."""

    def build(items: list[str], *, title: str = "Example Wire") -> bytes:
        body = "\n".join(f"<item>{item}</item>" for item in items)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://wire.example.com/</link>"
            f"<description>test feed</description>\n{body}\n</channel></rss>"
        ).encode("utf-8")

    return build


@pytest.fixture
def parsed_rss(rss):
    """Build a :class:`ParsedFeed` straight from item snippets, via ``feedparser.parse(bytes)``."""

    def build(items: list[str], *, title: str = "Example Wire") -> ParsedFeed:
        doc = feedparser.parse(rss(items, title=title))
        assert not doc.bozo, doc.get("bozo_exception")
        return ParsedFeed(title=doc.feed.get("title", ""), version=doc.version,
                          entries=list(doc.entries))

    return build


@pytest.fixture
def source() -> FeedSource:
    """A feed source with a New York timezone for zone-less dates."""
    return FeedSource("wire-test-0001", "Example Wire", "https://wire.example.com/rss",
                      "wire", "America/New_York")
