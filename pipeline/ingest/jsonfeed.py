"""JSON Feed (https://jsonfeed.org/version/1.1) documents read as feeds.

feedparser reads only XML, and no JSON Feed parser on PyPI is maintained, so this module maps
the format's documented fields onto the entry shape :mod:`pipeline.ingest.normalize` reads
(feedparser's names):

==========================  ===========================================================
JSON Feed item field        entry field
==========================  ===========================================================
``id`` (coerced to text)    ``id``
``url``, else               ``link`` (resolved against ``home_page_url``, else the
``external_url``            document's own location)
``title`` (plain text)      ``title``, ``title_detail.type = text/plain``
``summary`` (plain), else   ``summary`` with ``summary_detail.type`` text/plain or
``content_text``, else      text/html as the field is
``content_html``
``date_published``          ``published`` (RFC 3339)
``date_modified``           ``updated``
``tags``                    ``tags`` (``[{"term": tag}]``)
==========================  ===========================================================

Version 1.0 documents (``https://jsonfeed.org/version/1``) share these fields and are read too.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.errors import FeedParseError, NotAFeedError
from pipeline.ingest.links import is_web_url

VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(content: bytes) -> bool:
    """True when the document's first non-blank byte opens a JSON object or array (after a
    UTF-8 BOM): an array is JSON too, just not a JSON Feed (:func:`parse_json_feed` says so)."""
    return content.lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (
        b"{", b"[")


def parse_json_feed(content: bytes, *, source: str,
                    base_url: str | None = None) -> dict[str, Any]:
    """Parse a JSON Feed document.

    Args:
        content: the bytes (UTF-8, as RFC 8259 and the JSON Feed spec require; a BOM is allowed).
        source: the feed URL or path, for messages.
        base_url: the document's own URL or ``file:`` URI, the base for relative item URLs
            when the feed has no http(s) ``home_page_url``.

    Returns:
        the fields of a :class:`~pipeline.ingest.parse.ParsedFeed` (``title``, ``version``
        ``json1`` / ``json11``, ``entries``, ``warnings``, ``base_url``), which
        :func:`~pipeline.ingest.parse.parse_feed` builds; items that are not JSON objects are
        skipped with a warning.

    Raises:
        FeedParseError: the bytes are not UTF-8 or not valid JSON.
        NotAFeedError: valid JSON that is not a JSON Feed (no jsonfeed.org ``version``, or
            ``items`` not a list).
    """
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FeedParseError(f"{source}: JSON that is not UTF-8 (byte {exc.start})",
                             source=source) from exc
    except json.JSONDecodeError as exc:
        raise FeedParseError(f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: "
                             f"{exc.msg}", source=source) from exc
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise NotAFeedError(f"{source}: not a feed (JSON without a jsonfeed.org version)",
                            source=source)
    items = document.get("items")
    if not isinstance(items, list):
        raise NotAFeedError(f"{source}: not a feed (JSON Feed without an items list)",
                            source=source)
    entries, skipped = [], 0
    for item in items:
        if isinstance(item, dict):
            entries.append(_entry(item))
        else:
            skipped += 1
    warnings = [f"{source}: {skipped} item{'s are' if skipped > 1 else ' is'} not a JSON object; "
                "skipped"] if skipped else []
    home = document.get("home_page_url")
    return {"title": _text(document.get("title")).strip(),
            "version": "json" + version[len(VERSION_PREFIX):].replace(".", ""),
            "entries": entries, "warnings": warnings,
            "base_url": home if is_web_url(home) else base_url}


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    """One JSON Feed item as a feedparser-shaped entry (see the module docstring)."""
    entry: dict[str, Any] = {
        "id": _text(item.get("id")),
        "link": _text(item.get("url")) or _text(item.get("external_url")),
        "title": _text(item.get("title")),
        "title_detail": {"type": "text/plain"},
        "published": _text(item.get("date_published")) or None,
        "updated": _text(item.get("date_modified")) or None,
        "tags": [{"term": t} for t in item.get("tags") or [] if isinstance(t, str)],
    }
    for name, kind in (("summary", "text/plain"), ("content_text", "text/plain"),
                       ("content_html", "text/html")):
        if _text(item.get(name)):
            entry["summary"], entry["summary_detail"] = _text(item.get(name)), {"type": kind}
            break
    return entry


def _text(value: Any) -> str:
    """A JSON value as text: strings as they are, numbers as written (ids may be numbers),
    anything else (null, lists, objects) as ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""
