"""Parse feed bytes with feedparser and decide what the document is.

feedparser is lenient: it returns *something* for any input. The decisions here:

* entries came out → a feed; "bozo" problems (encoding override, undefined entity) become
  warnings, not failures;
* no entries and the document is an HTML page, a sitemap (``<urlset>``/``<sitemapindex>``) or
  has no feed version → :class:`NotAFeedError` (a broken source that would otherwise look like
  "no news");
* no entries and an XML syntax error → :class:`FeedParseError`;
* a document declaring XML entities (``<!ENTITY``: entity expansion, external entities) →
  :class:`FeedParseError` before any parsing;
* a well-formed feed with zero entries → an empty feed (no news).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import chardet
import feedparser

from pipeline.errors import FeedParseError, NotAFeedError
from pipeline.ingest.jsonfeed import looks_like_json, parse_json_feed
from pipeline.ingest.links import is_web_url

_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!doctype\s+html|<html)", re.I | re.S)
_SITEMAP_ROOT = re.compile(rb"<(urlset|sitemapindex)[\s>]", re.I)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.I)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*\sencoding\s*=", re.I)
_PROLOG_BYTES = 1 << 16  # a DOCTYPE's internal subset sits before the root element
_XML_BASE = re.compile(rb"xml:base\s*=")
_ENTRY_END = re.compile(rb"</(?:[A-Za-z][\w.-]*:)?(?:item|entry)\s*>", re.I)
#: Stand-in document base of a local file with ``xml:base`` (see :func:`parse_feed`); the
#: ``.invalid`` top-level domain is reserved (RFC 2606), so no real link starts with it.
LOCAL_BASE = "https://local.invalid"


@dataclass
class ParsedFeed:
    """A parsed feed.

    Attributes:
        title: the channel/feed title ('' if none).
        version: feedparser's format name (``rss20``, ``atom10``, ...).
        entries: feedparser entry dicts, in document order.
        warnings: one-line notes about recoverable problems.
        base_url: what links the parser left relative resolve against (a local file's feed:
            its ``<link>`` when that is an http(s) URL, else the file's ``file:`` URI); None
            when every link is already absolute or there is no base (archives, APIs).
    """

    title: str
    version: str
    entries: list[Any]
    warnings: list[str] = field(default_factory=list)
    base_url: str | None = None


def parse_feed(
    content: bytes, *, source: str, content_type: str | None = None, base_url: str | None = None
) -> ParsedFeed:
    """Parse a feed document.

    Args:
        content: the raw bytes (feedparser sniffs the encoding from the XML declaration, the
            content type and the bytes).
        source: the feed URL or path, for messages.
        content_type: the HTTP ``Content-Type``, if any (affects encoding detection).
        base_url: the final URL after redirects, or a local file's ``file:`` URI. Relative
            links resolve against ``xml:base`` first; then, for a URL, against the URL (by
            feedparser); for a file, against the feed's ``<link>`` when that is an http(s) URL,
            else the file's own location (by :mod:`pipeline.ingest.normalize`, through
            :attr:`ParsedFeed.base_url`: feedparser would read ``file:///tmp/x`` as host
            ``tmp``).

    A JSON document is read as a JSON Feed (:mod:`pipeline.ingest.jsonfeed`). A document that
    declares no character encoding is decoded by detection (chardet, through feedparser) and
    says so in a warning.

    Raises:
        NotAFeedError: an HTML page, a sitemap, an empty document (0 bytes or whitespace only),
            JSON that is not a JSON Feed, or a document with no feed structure.
        FeedParseError: malformed XML from which no entry could be recovered, malformed JSON.
    """
    if _ENTITY_DECLARATION.search(content[:_PROLOG_BYTES]):
        # Feeds have no use for DTD entities; declaring them is how entity-expansion ("billion
        # laughs") and external-entity (XXE) attacks work, so such documents are refused unread.
        raise FeedParseError(
            f"{source}: refused: the document declares XML entities (<!ENTITY>), which feeds do "
            "not need and entity-expansion / external-entity attacks use", source=source)
    if _blank(content):
        # 0 bytes and only whitespace are one case: a source that sent nothing, not a feed.
        what = "0 bytes" if not content else f"{len(content)} bytes of whitespace only"
        raise NotAFeedError(f"{source}: not a feed (an empty document: {what})", source=source)
    if looks_like_json(content):
        return ParsedFeed(**parse_json_feed(content, source=source, base_url=base_url))
    local_base = None
    if base_url and not is_web_url(base_url) and _XML_BASE.search(content):
        # feedparser 6 restores an element's outer xml:base only when that base is not empty,
        # so with no document base an item's xml:base would carry over to every later item:
        # a local file with xml:base is parsed against a stand-in http base (mapped back below).
        local_base = LOCAL_BASE + urlsplit(base_url).path
    parsed = _feedparse(content, source=source, content_type=content_type,
                        base_url=base_url if is_web_url(base_url) else local_base)
    if local_base is not None:
        channel_link = parsed.get("feed", {}).get("link", "") or ""
        if is_web_url(channel_link) and not _is_local_base(channel_link):
            # relative links resolve against the channel's http(s) <link>, as without xml:base
            parsed = _feedparse(content, source=source, content_type=content_type,
                                base_url=channel_link)
        else:
            _unmap_local_links(parsed)

    entries = list(parsed.get("entries", []))
    version = parsed.get("version", "") or ""
    bozo_exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    head = content[:4096]

    warnings = []
    if entries and bozo_exc is not None and _is_syntax_error(bozo_exc) and _cut_off(content, entries):
        # The document ends inside its last entry: what was recovered of it (a title without
        # its link, say) would be stored under another key than the whole entry next time.
        entries = entries[:-1]
        warnings.append(f"{source}: the document ends inside its last entry; that entry is not "
                        "stored")
    if not version and not any(e.get("title") or e.get("link") for e in entries):
        entries = []  # XML that merely has <item> elements: no feed structure, nothing usable
    if not entries:
        # An XHTML DOCTYPE in front of <rss> is odd but still a feed: only a document in which
        # feedparser found no feed version is called an HTML page.
        if _HTML_START.search(head) and not version:
            raise NotAFeedError(f"{source}: not a feed (an HTML page)", source=source)
        if _SITEMAP_ROOT.search(head):
            raise NotAFeedError(f"{source}: not a feed (a sitemap)", source=source)
        if bozo_exc is not None and _is_syntax_error(bozo_exc):
            raise FeedParseError(
                f"{source}: malformed XML, no entries recovered ({_one_line(bozo_exc)})",
                source=source,
            )
        if not version:
            raise NotAFeedError(
                f"{source}: not a feed (no RSS/Atom structure found)", source=source
            )

    if isinstance(bozo_exc, feedparser.NonXMLContentType) and not content_type:
        bozo_exc = None  # a local file has no content type to disagree with
    if (isinstance(bozo_exc, feedparser.CharacterEncodingOverride)
            and _undeclared(content, content_type)):
        warnings.append(f"{source}: no declared character encoding; read as "
                        f"{parsed.get('encoding')} (detected)")
        bozo_exc = None
    elif not _undeclared(content, content_type):
        doubt = _encoding_doubt(content, parsed.get("encoding"))
        if doubt:
            warnings.append(f"{source}: {doubt}")
    if bozo_exc is not None:
        warnings.append(f"{source}: {type(bozo_exc).__name__}: {_one_line(bozo_exc)}")
    title = parsed.get("feed", {}).get("title", "") or ""
    channel_link = parsed.get("feed", {}).get("link", "") or ""
    link_base = None
    if base_url and not is_web_url(base_url):
        link_base = channel_link if is_web_url(channel_link) else base_url
    return ParsedFeed(title=title.strip(), version=version, entries=entries, warnings=warnings,
                      base_url=link_base)


#: Bytes of a document given to chardet when a declared single-byte charset is checked.
_DETECT_BYTES = 1 << 16
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*>")
# Codecs with one byte per character (what a wrong declaration turns into mojibake silently:
# every byte decodes to something), and the Latin-1 family, which detection cannot tell apart.
_SINGLE_BYTE = re.compile(r"^(iso8859-\d+|cp125\d|cp8\d\d|koi8-\w+|mac-\w+|latin-1|ascii)$")
_LATIN1 = {"latin-1", "iso8859-1", "iso8859-15", "cp1252"}
#: A declared single-byte charset is doubted when chardet scores it under this share of its best.
DOUBT_RATIO = 0.25


def _encoding_doubt(content: bytes, used: str | None) -> str | None:
    """A warning when a document declares a single-byte charset but chardet reads its bytes
    as something else entirely (Shift-JIS served as ISO-8859-1, Windows-1251 declared as
    KOI8-R); None when it agrees, the charset is multi-byte, or the bytes are ASCII.

    The declaration is removed before detection (chardet would take its word for it), and the
    document is still read as declared: the warning says it may be garbled.
    """
    try:
        name = codecs.lookup(used or "").name
    except LookupError:
        return None
    if not _SINGLE_BYTE.match(name) or content.isascii():
        return None
    candidates = [c for c in chardet.detect_all(_XML_DECLARATION.sub(b"", content[:_DETECT_BYTES], 1))
                  if c.get("encoding")]
    declared = max((c["confidence"] for c in candidates if _family(c["encoding"]) == _family(name)),
                   default=0.0)
    # chardet ranks every single-byte codec; short texts give low scores to all of them, so
    # "disagrees" means the declared one scores under a quarter of the best one
    if not candidates or declared >= DOUBT_RATIO * candidates[0]["confidence"]:
        return None
    return (f"declared {used}, but the bytes read as {candidates[0]['encoding']} (detected); "
            "read as declared, the text may be garbled")


def _family(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding.lower()
    return "latin-1" if name in _LATIN1 else name


def _cut_off(content: bytes, entries: list) -> bool:
    """True when fewer entries are closed (``</item>``, ``</entry>``) than were recovered: the
    document was cut inside the last one. Only asked of malformed documents."""
    closed = len(_ENTRY_END.findall(content))
    return closed < len(entries)


def _blank(content: bytes) -> bool:
    """True for a document with nothing but whitespace, after a UTF-8 or UTF-16 byte-order
    mark (decoded by the mark's encoding)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return not content.decode("utf-16").strip()
        except UnicodeDecodeError:
            return False
    return not content.removeprefix(b"\xef\xbb\xbf").strip()


def _feedparse(content: bytes, *, source: str, content_type: str | None,
               base_url: str | None) -> feedparser.FeedParserDict:
    """feedparser over ``content``, with ``base_url`` (an http(s) URL, or None) as the
    document's base; a crash is a :class:`FeedParseError` naming the feed."""
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if base_url:
        headers["content-location"] = base_url
        # A response without a Content-Type would be read as ISO-8859-1 (RFC 3023's rule for
        # a missing type), which never fails and so never reaches detection: read it as XML.
        headers.setdefault("content-type", "application/xml")
    try:
        # Content is left as the feed wrote it: nothing feedparser returns is rendered (text
        # fields go through normalize.clean_text), and its HTML passes (sanitising, resolving
        # links in content) delete or lower-case instrument codes such as "&lt;ACME.O&gt;" in
        # a description as unknown tags.
        return feedparser.parse(content, response_headers=headers or None, sanitize_html=False,
                                resolve_relative_uris=False)
    except Exception as exc:  # feedparser should not raise; if it does, name the feed.
        raise FeedParseError(f"{source}: parser crashed: {exc}", source=source) from exc


def _is_local_base(url: str) -> bool:
    """True for a link resolved against the stand-in base :data:`LOCAL_BASE`."""
    return url == LOCAL_BASE or url.startswith(LOCAL_BASE + "/")


def _unmap_local_links(parsed: feedparser.FeedParserDict) -> None:
    """Turn links resolved against :data:`LOCAL_BASE` back into the file's ``file:`` URIs
    (``https://local.invalid/tmp/a.html`` → ``file:///tmp/a.html``), in place."""
    def unmap(url):
        return "file://" + url[len(LOCAL_BASE):] if isinstance(url, str) and _is_local_base(url) else url

    for entry in parsed.get("entries", []):
        for name in ("link", "id"):
            if name in entry:
                entry[name] = unmap(entry[name])
        for link in entry.get("links", []) or []:
            if "href" in link:
                link["href"] = unmap(link["href"])
    feed = parsed.get("feed", {})
    if "link" in feed:
        feed["link"] = unmap(feed["link"])


def _undeclared(content: bytes, content_type: str | None) -> bool:
    """True when neither the XML declaration nor the HTTP ``Content-Type`` names a charset (nor
    a byte-order mark the encoding), so the encoding feedparser used came from detection."""
    if content.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return False
    declared = _XML_ENCODING.match(content[:200])
    return not declared and "charset=" not in (content_type or "").lower()


def _is_syntax_error(exc: Exception) -> bool:
    """True unless the problem is one feedparser recovers from (encoding override, undefined entity)."""
    if isinstance(exc, (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)):
        return False
    return "undefined entity" not in str(exc)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
