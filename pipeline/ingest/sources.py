"""Which feeds to ingest: the configured list plus ad-hoc paths, globs and URLs.

``config/feeds.yaml`` has the shape::

    feeds:
      - name: SEC press releases          # required
        url: https://www.sec.gov/news/pressreleases.rss   # required: http(s) URL or local path
        category: regulator               # optional free text
        timezone: America/New_York        # optional IANA zone for zone-less dates
        horizon_days: 3650                # optional: older dates are out of range (default 30 years)
        ticker: ACME                      # optional: a per-company feed's ticker (see entities)
      - name: A JSON news API             # type json_api: see pipeline/ingest/newsapi.py
        type: json_api
        url: https://api.example.com/v2/news?q=markets
        api: {items: articles, fields: {title: title, link: url, published: publishedAt},
              key_env: EXAMPLE_NEWS_KEY, key_header: X-Api-Key, page_param: page, max_pages: 3}
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import read_config
from pipeline.domain import FeedSource
from pipeline.ingest.newsapi import ApiConfig


class FeedConfig(BaseModel):
    """One entry of ``feeds.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    url: str
    type: Literal["feed", "json_api"] = "feed"
    api: ApiConfig | None = None
    category: str | None = None
    timezone: str | None = None
    horizon_days: int | None = Field(None, gt=0)
    ticker: str | None = Field(None, pattern=r"^[A-Za-z]{1,5}(\.[A-Za-z])?$")
    enabled: bool = True

    @model_validator(mode="after")
    def _api_needs_type(self) -> "FeedConfig":
        if self.api is not None and self.type != "json_api":
            raise ValueError("an 'api' block needs 'type: json_api'")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class FeedsFile(BaseModel):
    """The whole ``feeds.yaml`` document."""

    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedConfig] = []


def feed_id_for(url: str) -> str:
    """Stable feed id for a URL or path: a readable slug plus 8 hex digits of its SHA-1.

    A local path (or ``file:`` URI) is resolved first (:func:`local_path`), and both the slug
    and the hash come from the real file, so ``./a.xml``, ``a.xml``, ``file:///.../a.xml``,
    ``links/b/../a.xml`` and a symbolic link to it are one feed.
    """
    if _is_web(url):
        key = url
        stem = re.sub(r"^https?://(www\.)?", "", url.strip())
    else:
        path = local_path(url)
        key, stem = str(path), path.stem
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:48] or "feed"
    return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def local_path(item: str) -> Path:
    """The real location of a local feed given as a path or a ``file:`` URI: absolute, with
    symbolic links and ``..`` resolved (the file need not exist)."""
    item = item.strip()
    if item[:7].lower() == "file://":
        item = unquote(urlsplit(item).path)
    return Path(item).expanduser().resolve()


def _is_web(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://"))


def load_feeds(path: Path) -> list[FeedSource]:
    """Read the enabled feeds of a feeds file.

    Raises:
        ConfigError: missing file, bad YAML, unknown key, missing name/url, unknown timezone.
    """
    doc = read_config(path, FeedsFile)
    return [
        FeedSource(feed_id_for(f.url), f.name, f.url, f.category, f.timezone,
                   kind=f.type, horizon_days=f.horizon_days,
                   ticker=f.ticker.upper() if f.ticker else None,
                   api=(f.api or ApiConfig()) if f.type == "json_api" else None)
        for f in doc.feeds
        if f.enabled
    ]


def expand_sources(items: Iterable[str]) -> tuple[list[FeedSource], list[str]]:
    """Turn CLI arguments (URLs, files, globs) into feed sources.

    Args:
        items: ``http(s)://`` URLs, file paths or shell globs.

    Returns:
        ``(sources, problems)``: one source per URL or matched file (a file's ``url`` is its
        real path: absolute, links resolved, a ``file:`` URI turned into a path), named by its
        URL or file name until its channel title is read (``named=False``); a problem line for each
        glob that matched nothing (a missing file is kept as a source so that its failure is
        recorded in the feeds table like any other fetch failure).
    """
    sources: list[FeedSource] = []
    problems: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item.startswith(("http://", "https://")):
            sources.append(FeedSource(feed_id_for(item), item, item, named=False))
            continue
        if glob.has_magic(item):
            matches = sorted(glob.glob(item))
            if not matches:
                problems.append(f"{item}: no file matches this pattern")
            for match in matches:
                sources.append(_file_source(match))
            continue
        sources.append(_file_source(item))
    return sources, problems


def _file_source(item: str) -> FeedSource:
    """A local feed from the command line, stored under its real path (see :func:`local_path`)."""
    path = str(local_path(item))
    return FeedSource(feed_id_for(path), Path(path).name, path, named=False)


def merge_sources(*groups: Sequence[FeedSource]) -> list[FeedSource]:
    """Concatenate source lists, dropping later duplicates of the same feed id."""
    seen: set[str] = set()
    merged = []
    for group in groups:
        for source in group:
            if source.feed_id not in seen:
                seen.add(source.feed_id)
                merged.append(source)
    return merged


def resolve_sources(feeds_file: Path, extra: Sequence[str | FeedSource] = (), *,
                    use_config: bool = True) -> tuple[list[FeedSource], list[str]]:
    """The sources of one ingest run: the configured feeds plus extra URLs, paths, globs or
    ready :class:`FeedSource` objects, without duplicates (first wins, by ``feed_id``).

    Args:
        feeds_file: the feeds file (``TONEWATCH_FEEDS_FILE``).
        extra: more sources.
        use_config: include ``feeds_file`` (False: only ``extra``).

    Returns:
        ``(sources, problems)``: problems are one line each (a glob matching nothing, a
        missing file).

    Raises:
        ConfigError: the feeds file is invalid.
    """
    configured = load_feeds(feeds_file) if use_config else []
    ready = [s for s in extra if isinstance(s, FeedSource)]
    extra_sources, problems = expand_sources([s for s in extra if not isinstance(s, FeedSource)])
    return merge_sources(configured, ready + extra_sources), problems
