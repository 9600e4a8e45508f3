"""A JSON news API as a source: paged HTTP GETs, a field mapping, an API key from the environment.

Configured in ``feeds.yaml`` with ``type: json_api`` and an ``api`` block::

    - name: Example news API
      type: json_api
      url: https://api.example.com/v2/news?q=markets
      api:
        items: data.articles          # dotted path to the list of items in each page
        fields:                       # entry field: dotted path in an item
          title: title
          link: url
          summary: description
          published: publishedAt
          id: id
          source: source.name
        key_env: EXAMPLE_NEWS_KEY     # environment variable holding the key
        key_header: X-Api-Key         # send it as this header ... or as a query parameter:
        # key_param: apiKey
        page_param: page              # page-number paging (first page 1) ...
        # next_path: links.next       # ... or follow a next-page URL found at this path
        max_pages: 5
        min_interval_s: 1.0           # at least this long between two requests (rate limit)

The key never enters the feed's stored URL, its messages or its health row. A 429 answer is
retried after its ``Retry-After`` by the shared fetcher.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from pipeline.domain import FeedSource
from pipeline.errors import FeedFetchError, FeedParseError
from pipeline.ingest.fetch import fetch_url
from pipeline.ingest.parse import ParsedFeed

ENTRY_FIELDS = ("title", "link", "summary", "published", "id", "source")


class ApiConfig(BaseModel):
    """The ``api`` block of a ``type: json_api`` feed (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    items: str = ""
    fields: dict[str, str] = Field(default_factory=lambda: {"title": "title", "link": "url"})
    key_env: str | None = None
    key_header: str | None = None
    key_param: str | None = None
    page_param: str | None = None
    next_path: str | None = None
    max_pages: int = Field(3, ge=1, le=100)
    min_interval_s: float = Field(1.0, ge=0)

    def model_post_init(self, __context: Any) -> None:
        unknown = sorted(set(self.fields) - set(ENTRY_FIELDS))
        if unknown:
            raise ValueError(f"api.fields: unknown entry field(s) {unknown}; use {ENTRY_FIELDS}")
        if "title" not in self.fields and "link" not in self.fields:
            raise ValueError("api.fields must map at least title or link")
        if self.key_env and not (self.key_header or self.key_param):
            raise ValueError("api.key_env needs key_header or key_param")


def dig(document: Any, path: str) -> Any:
    """Value at a dotted path (``"data.articles"``, ``"source.name"``); '' = the document itself;
    None when any step is missing."""
    value = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query + list(extra.items())),
                       parts.fragment))


def fetch_json_api(
    source: FeedSource, config: ApiConfig, client: httpx.Client, *, max_bytes: int,
    sleep: Callable[[float], None] = time.sleep,
) -> ParsedFeed:
    """Fetch up to ``config.max_pages`` pages and map their items to feed entries.

    Args:
        source: the feed (its ``url`` is the first page, without the key).
        config: the ``api`` block.
        client: httpx client (timeouts, User-Agent).
        max_bytes: per-page body limit.
        sleep: how to wait between requests (tests pass a recorder).

    Returns:
        a :class:`ParsedFeed` (version ``json_api``) with one entry dict per item.

    Raises:
        FeedFetchError: the key's environment variable is unset, or a page could not be fetched.
        FeedParseError: a page is not JSON or has no list at ``config.items``.
    """
    headers, params = {}, {}
    if config.key_env:
        key = os.environ.get(config.key_env, "")
        if not key:
            raise FeedFetchError(f"{source.url}: API key variable {config.key_env} is not set",
                                 source=source.url)
        if config.key_header:
            headers[config.key_header] = key
        else:
            params[config.key_param] = key
    entries: list[dict] = []
    url: str | None = source.url
    last_request = None
    for page in range(1, config.max_pages + 1):
        if url is None:
            break
        if last_request is not None:
            wait = config.min_interval_s - (time.monotonic() - last_request)
            if wait > 0:
                sleep(wait)
        page_params = dict(params)
        if config.page_param:
            page_params[config.page_param] = str(page)
        last_request = time.monotonic()
        result = fetch_url(source, client, max_bytes=max_bytes, url=_with_query(url, page_params),
                           headers=headers)
        try:
            document = json.loads(result.content or b"")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FeedParseError(f"{source.url}: page {page} is not JSON ({exc})", source=source.url) from exc
        items = dig(document, config.items)
        if not isinstance(items, list):
            raise FeedParseError(f"{source.url}: page {page} has no list at {config.items or '(root)'!r}",
                                 source=source.url)
        for item in items:
            entry: dict[str, Any] = {}
            for field, path in config.fields.items():
                value = dig(item, path)
                if value is not None and str(value).strip():
                    entry[field] = {"title": str(value)} if field == "source" else str(value)
            entries.append(entry)
        if not items:
            break
        if config.next_path:
            url = dig(document, config.next_path) or None
        elif not config.page_param:
            break
    return ParsedFeed(title=source.name, version="json_api", entries=entries)
