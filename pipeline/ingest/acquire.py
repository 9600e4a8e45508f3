"""Get one source's entries, whatever the source is: a feed URL, a feed file, an archive file
(:mod:`pipeline.ingest.importer`) or a JSON news API (:mod:`pipeline.ingest.newsapi`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from pipeline.config import Settings
from pipeline.domain import FeedSource
from pipeline.ingest.parse import ParsedFeed

#: Whole-body deadline of one fetch attempt, in multiples of ``TONEWATCH_HTTP_TIMEOUT_S``.
TOTAL_TIMEOUT_FACTOR = 4

#: What one entry of each kind of source is called in progress lines.
UNITS = {"feed": "entries", "import": "rows imported", "json_api": "items"}


def read_source(source: FeedSource, client: httpx.Client, settings: Settings, row: dict
                ) -> ParsedFeed | None:
    """Fetch (or read) and parse one source.

    Args:
        source: the source.
        client: httpx client for remote sources.
        settings: HTTP limits.
        row: the source's health row; its validators (``etag``, ``last_modified``) are sent and
            updated, ``http_status`` is set, and ``last_status`` becomes ``parse_error`` once the
            bytes are in hand (so an unexpected failure after that is recorded as such).

    Returns:
        the parsed entries, or None when the server answered "not modified".

    Raises:
        FeedError: fetch failure, not a feed, or unparsable content (with the right status).
    """
    from pipeline.ingest.fetch import fetch_url, read_file
    from pipeline.ingest.importer import read_import_file
    from pipeline.ingest.newsapi import fetch_json_api
    from pipeline.ingest.parse import parse_feed

    if source.kind == "import":
        row["last_status"] = "parse_error"
        return read_import_file(Path(source.url))
    if source.kind == "json_api":
        return fetch_json_api(source, source.api, client, max_bytes=settings.http_max_bytes)
    if source.is_remote:
        result = fetch_url(source, client, etag=row.get("etag"),
                           last_modified=row.get("last_modified"),
                           max_bytes=settings.http_max_bytes,
                           total_timeout_s=TOTAL_TIMEOUT_FACTOR * settings.http_timeout_s)
    else:
        result = read_file(source, max_bytes=settings.http_max_bytes)
    row.update(http_status=result.status_code, etag=result.etag or row.get("etag"),
               last_modified=result.last_modified or row.get("last_modified"))
    if result.not_modified:
        return None
    row["last_status"] = "parse_error"
    return parse_feed(result.content, source=source.url, content_type=result.content_type,
                      base_url=result.final_url)
