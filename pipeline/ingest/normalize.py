"""Turn feedparser entries into clean, keyed article rows.

Rules (each is a decision an analyst relies on):

* Text: HTML (by the field's declared type) to text with BeautifulSoup, parsed once; escaped
  markup left in the text loses known HTML tags only, and entities are unescaped (twice more, for
  double-escaped feeds); instrument codes (``<ACME.O>``) are always text; plain text keeps its
  angle brackets (``Acme <ACME.O>``);
  whitespace collapsed, Unicode NFC. Display title keeps source suffixes (" - Reuters"); the
  model's text drops them, and drops "The post ... appeared first on ..." trailers. A summary that
  is empty or repeats the title is not scored (the title alone is).
* Identity: the article key is the entry id when it is meaningful (present and not shared by
  most entries of the fetch; scoped to the feed), else the link's identity form
  (:func:`pipeline.ingest.links.canonical_url`; shared across feeds only for an absolute
  http(s) link, a ``file:`` link is scoped to its feed), else a hash of feed + normalised
  title + the raw date string. The stored ``url`` is the feed's link, resolved against the
  feed's base and minus tracking parameters only.
* Dates (:mod:`pipeline.ingest.dates`): the raw string is kept; the instant is UTC;
  ``date_quality`` is ``exact`` (zone given), ``zone_assumed`` (no zone: the feed's timezone
  or UTC applied; or an ambiguous abbreviation such as IST read by
  :data:`pipeline.ingest.dates.AMBIGUOUS_ZONES`), ``inferred`` (no usable date: the fetch
  time is used) or ``out_of_range`` (a date in the future or before the feed's
  horizon, replaced by the fetch time).
* Story: each article starts with ``story_id`` = hash of its normalised title; near-duplicate
  titles from other feeds are merged into one story at store time (:mod:`pipeline.ingest.stories`).
* Companies: each entry's links (:class:`pipeline.companies.linking.Link`: ticker, method,
  relevance, mention) come from its title, summary, categories, the feed's own ticker and an
  archive's ticker column. Entries that share an article key are one article: the first
  (newest) entry's text is kept and the links of all of them are merged, so a story an archive
  files under three tickers becomes one article carrying the three.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
import warnings
from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from pipeline.domain import FeedSource
from pipeline.ingest.dates import DEFAULT_HORIZON, parse_date
from pipeline.ingest.language import detect_language, feed_languages
from pipeline.ingest.links import canonical_url, is_web_url, resolve_link, strip_tracking
from pipeline.ingest.parse import ParsedFeed

#: Longest summary stored and scored, in characters (after HTML is removed); longer ones are
#: cut with "…". A feed item is a teaser; the model reads a few hundred words at most.
MAX_SUMMARY_CHARS = 20_000
#: Longest raw field read, in characters, before HTML is parsed (bounds the parse's cost).
MAX_RAW_FIELD_CHARS = 10 * MAX_SUMMARY_CHARS

_WS = re.compile(r"\s+")
_POST_APPEARED = re.compile(r"\s*The post .{1,300}? appeared first on .{1,200}?\.?\s*$", re.S)
_TITLE_TOKENS = re.compile(r"[^\w]+", re.U)
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def clean_text(value: str | None) -> str:
    """HTML fragment → plain text: tags removed, entities unescaped, whitespace collapsed, NFC.

    The field's own markup is parsed once, as HTML (BeautifulSoup; ``script``/``style``
    contents dropped). What that leaves is text: escaped markup in it (``&lt;br&gt;``,
    double-escaped feeds) is removed only where it is a known HTML element (:data:`HTML_ELEMENTS`),
    and further entity levels (``&amp;nbsp;``) are unescaped, at most twice more; it is never
    parsed as HTML again, so ``Acme <ACME.O> rises`` keeps its instrument code. Instrument
    codes (``<T.N>``, ``<BOLT.PA>``, ``<.SPX>``) are text in the first parse too, where HTML
    would read them as unknown tags.
    """
    if not value:
        return ""
    text = value
    if _TAG.search(text) or _ENTITY.search(text):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(_CODE.sub(r"&lt;\1&gt;", text), "html.parser")
        for hidden in soup(["script", "style"]):
            hidden.decompose()
        text = soup.get_text(" ")  # get_text() also decodes one level of entities
    for _ in range(2):
        stripped = _KNOWN_TAG.sub(_drop_known_tag, text)
        if stripped == text and not _ENTITY.search(text):
            break
        text = html.unescape(stripped)
    return _tidy(text)


#: Element names of HTML (the living standard's, plus obsolete ones feeds still send): the tags
#: that escaped markup in already-decoded text may be, and the only ones removed from it.
HTML_ELEMENTS = frozenset("""
    a abbr acronym address area article aside audio b bdi bdo big blockquote body br button
    canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div
    dl dt em embed fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header hr
    html i iframe img input ins kbd label legend li link main map mark menu meta meter nav
    noscript object ol optgroup option output p param picture pre progress q rp rt ruby s samp
    script section select small source span strike strong style sub summary sup table tbody td
    template textarea tfoot th thead time title tr track tt u ul var video wbr
""".split())
_KNOWN_TAG = re.compile(r"<!--.*?-->|</?([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]*)?/?>", re.S)
# An instrument code in angle brackets (Reuters style): letters/digits, a dot, an exchange
# suffix of capitals (T.N, BOLT.PA, 0005.HK), or an index code starting with a dot (.SPX).
_CODE = re.compile(r"<(\.[A-Z0-9]{2,}|[A-Za-z0-9][A-Za-z0-9_&-]*\.[A-Z]{1,3})>")


def _drop_known_tag(match: re.Match) -> str:
    name = match.group(1)
    return " " if name is None or name.lower() in HTML_ELEMENTS else match.group(0)


def plain_text(value: str | None) -> str:
    """Plain text (already decoded by the parser) → tidy text: entity references left over from
    double escaping (``&amp;amp;``) unescaped, whitespace collapsed, NFC; angle brackets are
    text and stay (``Acme <ACME.O> shares rise``, ``the <blink> tag``)."""
    if not value:
        return ""
    text = value
    for _ in range(2):
        if not _ENTITY.search(text):
            break
        text = html.unescape(text)
    return _tidy(text)


def entry_text(entry, name: str, fallback: str | None = None, *, guessed: bool = False) -> str:
    """An entry's text field (``title``, ``summary``) cleaned by its declared content type.

    feedparser records each field's type in ``<name>_detail``: HTML (``text/html``,
    ``application/xhtml+xml``) goes through :func:`clean_text`; plain text, which the parser
    has already decoded, through :func:`plain_text`. A field without a declared type (archive
    rows, JSON news APIs) is treated as HTML, which strips stray tags such sources carry.

    Args:
        entry: a feedparser entry (or a dict shaped like one).
        name: the field.
        fallback: another field read when ``name`` is empty (e.g. ``description``).
        guessed: the format declares no type and feedparser guessed it (RSS titles): a field
            guessed as plain text still loses known HTML tags (:data:`HTML_ELEMENTS`), since
            one unknown tag (``<b>Acme</b> <ACME.O>``) makes feedparser's guess plain text.
    """
    for field_name in (name, fallback):
        if field_name and entry.get(field_name):
            kind = ((entry.get(f"{field_name}_detail") or {}).get("type") or "html").lower()
            value = entry.get(field_name)[:MAX_RAW_FIELD_CHARS]  # bounds the HTML parse
            if "html" in kind:
                return clean_text(value)
            return plain_text(_KNOWN_TAG.sub(_drop_known_tag, value) if guessed else value)
    return ""


def _tidy(text: str) -> str:
    text = text.replace("\u00a0", " ")
    return unicodedata.normalize("NFC", _WS.sub(" ", text).strip())


def strip_source_suffix(title: str, source_names: list[str]) -> str:
    """Remove trailing `` - Publisher`` suffixes (repeated ones too) naming the entry's or the
    feed's source, unless that would leave 10 characters or fewer (the title is kept whole)."""
    names = [n.strip() for n in source_names if n and n.strip()]
    changed = True
    while changed:
        changed = False
        for name in names:
            for sep in (" - ", " – ", " — ", " | "):
                suffix = f"{sep}{name}"
                if title.endswith(suffix) and len(title) > len(suffix) + 10:
                    title, changed = title[: -len(suffix)].rstrip(), True
    return title


def story_key(text: str) -> str:
    """Normalised title used to group copies of one story: lower-case word tokens."""
    return " ".join(t for t in _TITLE_TOKENS.split(text.lower()) if t)


def _sha1(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _entry_link(entry, base: str | None) -> str:
    """The entry's link as stored: resolved against ``base``, tracking parameters removed."""
    link = (entry.get("link") or "").strip()
    if not link:
        for candidate in entry.get("links", []) or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"].strip()
                break
    return strip_tracking(resolve_link(link, base))


def normalize_entries(
    parsed: ParsedFeed,
    source: FeedSource,
    *,
    fetched_at: datetime,
    linker=None,
) -> tuple[pd.DataFrame, int]:
    """Build article rows from a parsed feed.

    Args:
        parsed: output of :func:`pipeline.ingest.parse.parse_feed`.
        source: the feed (its id, timezone).
        fetched_at: fetch instant, UTC; also ``first_seen_at`` for new articles.
        linker: a :class:`pipeline.companies.linking.Linker`; None links against the default
            universe alone (the ingest stage passes one with the user's company file).

    Returns:
        ``(articles, dropped)``: a DataFrame with the ``articles`` table's columns plus
        ``links`` (per article, a list of ``(entity, method, relevance, mention)`` tuples, one
        per ticker, strongest first), one row per distinct article key, and the number of
        entries dropped (no title and no link, except a JSON Feed item with an id and text; or
        a repeated key merged into an earlier entry).
    """
    linker = linker or _default_linker()
    ids = [(e.get("id") or "").strip() for e in parsed.entries]
    id_counts = Counter(i for i in ids if i)
    n = len(parsed.entries)
    # An id shared by most entries of a fetch (some CMSs emit the channel URL) identifies nothing.
    shared_ids = {i for i, c in id_counts.items() if c > 1 and c > n / 2}

    rows = []
    keys_from: dict[str, str] = {}  # article key -> what it was made of, for warnings
    cut = 0  # summaries shortened to MAX_SUMMARY_CHARS
    # JSON Feed 1.1 makes titles optional: an item with an id and content is an article there,
    # while an RSS item with neither title nor link is a placeholder.
    untitled_ok = parsed.version.startswith("json")
    dropped = 0
    for entry, entry_id in zip(parsed.entries, ids, strict=True):
        title = entry_text(entry, "title", guessed=parsed.version.startswith("rss"))
        link = _entry_link(entry, parsed.base_url)
        if source.is_remote and link[:5].lower() == "file:":
            link = ""  # a web feed cannot point at this machine's files
        summary = entry_text(entry, "summary", "description")
        if len(summary) > MAX_SUMMARY_CHARS:
            summary, cut = summary[:MAX_SUMMARY_CHARS].rstrip() + "…", cut + 1
        if not title and not link and not (untitled_ok and entry_id and summary):
            dropped += 1  # nothing to show or to find it by
            continue
        summary_scored = _POST_APPEARED.sub("", summary).strip()  # trailer kept for display only
        entry_source = (entry.get("source") or {}).get("title", "") if entry.get("source") else ""
        model_title = strip_source_suffix(title, [entry_source, parsed.title])
        if summary_scored and story_key(summary_scored).startswith(story_key(model_title)[:80]) and len(
            story_key(summary_scored)
        ) <= len(story_key(model_title)) + 20:
            summary_for_model = ""  # the summary repeats the title
        else:
            summary_for_model = summary_scored
        text = ". ".join(part for part in (model_title, summary_for_model) if part) or summary_scored

        raw_date = entry.get("published") or entry.get("updated") or entry.get("dc_date")
        if entry_id and entry_id not in shared_ids:
            key, key_from = _sha1("id", source.feed_id, entry_id), f"id {entry_id}"
        elif is_web_url(link):
            key, key_from = _sha1("url", canonical_url(link)), f"link {canonical_url(link)}"
        elif link:  # a file: link (a local feed's relative link) means nothing outside its feed
            key, key_from = _sha1("url", source.feed_id, canonical_url(link)), f"link {link}"
        else:  # the raw date string, not the parsed instant: a missing date must not change per fetch
            key = _sha1("title", source.feed_id, story_key(title), (raw_date or "").strip())
            key_from = "title and date"
        keys_from.setdefault(key, key_from)
        published_at, quality = parse_date(
            raw_date, fetched_at=fetched_at, feed_timezone=source.timezone,
            horizon=timedelta(days=source.horizon_days) if source.horizon_days else DEFAULT_HORIZON,
        )
        language = detect_language(text)
        rows.append(
            {
                "article_id": key,
                "feed_id": source.feed_id,
                "url": link or None,
                "title": title,
                "summary": summary,
                "text": text,
                "published_at": published_at,
                "published_raw": raw_date,
                "date_quality": quality,
                "first_seen_at": fetched_at,
                "fetched_at": fetched_at,
                "language": language,
                "content_hash": _sha1(text),
                "story_id": _sha1(story_key(model_title) or key),
                "links": [(k.ticker, k.method, float(k.relevance), k.mention) for k in linker.link(
                    title, summary, categories=[t.get("term", "") for t in entry.get("tags") or []],
                    feed_ticker=source.ticker, tickers=entry.get("tickers") or ())],
            }
        )
    if cut:
        parsed.warnings.append(f"{cut} summar{'y' if cut == 1 else 'ies'} longer than "
                               f"{MAX_SUMMARY_CHARS:,} characters cut to that length")
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS[:-1] + ["links"])
    if len(frame):
        frame["language"] = feed_languages(frame["text"].tolist(), frame["language"].tolist())
    # Two entries with one key in a fetch: feeds list newest first, so the first occurrence is
    # the current version of the article; an archive lists one story once per ticker it is
    # filed under. Either way the later entries are not stored (counted in ``dropped``), but
    # their companies are: the kept row carries the links of all of them.
    repeated = int(frame["article_id"].duplicated().sum())
    if repeated:
        collisions = _collision_warnings(frame, keys_from) if source.kind != "import" else []
        merged = frame.groupby("article_id", sort=False)["links"].agg(merge_links)
        frame = frame.drop_duplicates(subset=["article_id"], keep="first").reset_index(drop=True)
        frame["links"] = frame["article_id"].map(merged)
        if source.kind == "import":
            parsed.warnings.append(
                f"{repeated} row{' repeats' if repeated == 1 else 's repeat'} an earlier row's "
                "story (same id, link, or title and date); merged into one article with the "
                "tickers of all copies")
        else:
            parsed.warnings.append(
                f"{repeated} entr{'y repeats' if repeated == 1 else 'ies repeat'} an earlier "
                "entry's key (its guid, else its link without tracking parameters); kept the "
                "first (newest)")
            parsed.warnings.extend(collisions)
        dropped += repeated
    frame["tickers"] = [sorted({link[0] for link in links}) for links in frame["links"]]
    return frame[ARTICLE_COLUMNS + ["links"]], dropped


#: Most entries-with-one-key-but-different-titles warnings written per fetch.
MAX_COLLISION_WARNINGS = 3


def _collision_warnings(frame: pd.DataFrame, keys_from: dict[str, str]) -> list[str]:
    """One line per article key shared by entries with different titles (two articles that
    only one row can hold), naming both titles and the key; at most
    :data:`MAX_COLLISION_WARNINGS` lines, then a count."""
    lines = []
    for key, titles in frame.groupby("article_id", sort=False)["title"]:
        distinct = list(dict.fromkeys(titles))
        if len(distinct) > 1:
            lines.append(f"entries {distinct[0]!r} and {distinct[1]!r} have one key "
                         f"({keys_from.get(key, 'unknown')}); only the first is stored")
    if len(lines) > MAX_COLLISION_WARNINGS:
        lines = lines[:MAX_COLLISION_WARNINGS] + [
            f"{len(lines) - MAX_COLLISION_WARNINGS} more keys shared by different titles"]
    return lines


@functools.cache
def _default_linker():
    """A linker over the default universe (built once per process)."""
    from pipeline.companies import Linker, default_universe

    return Linker(default_universe())


def merge_links(groups) -> list[tuple[str, str, float, str | None]]:
    """One link per ticker out of several entries' link lists: the most relevant one (the
    first listed on a tie, i.e. the newest entry's), ordered by relevance then ticker.

    Args:
        groups: iterable of link lists of ``(entity, method, relevance, mention)`` tuples.
    """
    best: dict[str, tuple[str, str, float, str | None]] = {}
    for links in groups:
        for link in links:
            if link[0] not in best or link[2] > best[link[0]][2]:
                best[link[0]] = link
    return sorted(best.values(), key=lambda link: (-link[2], link[0]))


ARTICLE_COLUMNS = [
    "article_id", "feed_id", "url", "title", "summary", "text", "published_at", "published_raw",
    "date_quality", "first_seen_at", "fetched_at", "language", "content_hash", "story_id",
    "tickers",
]
