"""Get one source's entries, whatever the source is: a feed URL, a feed file, an archive file
(:mod:`pipeline.ingest.importer`) or a JSON news API (:mod:`pipeline.ingest.newsapi`).

Two steps, so that the ingest stage knows which one failed: :func:`fetch_source` obtains the
bytes (or, for a JSON API, the items), :func:`parse_source` turns them into entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from pipeline.config import Settings
from pipeline.domain import FeedSource
from pipeline.ingest.fetch import FetchResult
from pipeline.ingest.parse import ParsedFeed

#: Whole-body deadline of one fetch attempt, in multiples of ``TONEWATCH_HTTP_TIMEOUT_S``.
TOTAL_TIMEOUT_FACTOR = 4

#: What an entry of each kind of source is called in progress lines: (one, several).
UNITS = {"feed": ("entry", "entries"), "import": ("row imported", "rows imported"),
         "json_api": ("item", "items")}


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch_source` obtained for one source.

    Attributes:
        result: the feed fetch (bytes, HTTP status, validators); None for archives and APIs.
        parsed: entries already parsed (JSON APIs page and parse as they fetch); else None.
    """

    result: FetchResult | None = None
    parsed: ParsedFeed | None = None

    @property
    def not_modified(self) -> bool:
        """The server answered 304: nothing new since the validators were issued."""
        return self.result is not None and self.result.not_modified


def fetch_source(source: FeedSource, client: httpx.Client, settings: Settings, *,
                 etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """Fetch one source's bytes (a remote feed, with conditional GET), read a feed file, or
    page through a JSON API; archives are read by :func:`parse_source`.

    Args:
        source: the source.
        client: httpx client for remote sources.
        settings: HTTP limits (``http_max_bytes``, ``http_timeout_s``).
        etag, last_modified: validators from the feed's last answer (sent as
            ``If-None-Match`` / ``If-Modified-Since``).

    Raises:
        FeedError: the bytes could not be obtained (or, for an API, its answer was unusable).
    """
    from pipeline.ingest.fetch import fetch_url, read_file
    from pipeline.ingest.newsapi import fetch_json_api

    if source.kind == "import":
        return Fetched()
    if source.kind == "json_api":
        return Fetched(parsed=fetch_json_api(source, source.api, client,
                                             max_bytes=settings.http_max_bytes))
    if source.is_remote:
        return Fetched(result=fetch_url(
            source, client, etag=etag, last_modified=last_modified,
            max_bytes=settings.http_max_bytes,
            total_timeout_s=TOTAL_TIMEOUT_FACTOR * settings.http_timeout_s))
    return Fetched(result=read_file(source, max_bytes=settings.http_max_bytes))


def parse_source(source: FeedSource, fetched: Fetched) -> ParsedFeed:
    """Turn what :func:`fetch_source` obtained into entries.

    Raises:
        FeedError: not a feed, or unparsable content (with the right status).
    """
    from pipeline.ingest.importer import read_import_file
    from pipeline.ingest.parse import parse_feed

    if fetched.parsed is not None:
        return fetched.parsed
    if source.kind == "import":
        return read_import_file(Path(source.url))
    result = fetched.result
    return parse_feed(result.content, source=source.url, content_type=result.content_type,
                      base_url=result.final_url)
