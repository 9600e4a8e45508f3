"""An entry's link: as stored (the feed's own bytes, tracking parameters removed), resolved
against the feed's base, and its identity form (what de-duplication compares).

Two forms, on purpose:

* :func:`strip_tracking` gives the link that is **stored and shown**: exactly what the feed
  wrote, minus the query parameters that only track the click (``utm_*``, ``fbclid``, ...:
  :data:`TRACKING_PARAMS`). Common words that track on one site and select the article on
  another (``ref``, ``src``, ``mod``, ``cmpid``) are removed only on the sites listed in
  :data:`SITE_TRACKING_PARAMS` (``mod`` on MarketWatch): elsewhere ``view?ref=1001`` and
  ``view?ref=1002`` are two articles, and removing ``ref`` would store one of them only.
  The rest of the query is kept byte for byte (``news.php?12345`` stays so, ``%20`` stays
  ``%20``, an encoded ``/`` stays ``%2F``): servers disagree on what those spellings mean.
* :func:`canonical_url` gives the **identity** of a link, hashed into the article key:
  scheme and host lower-cased (an internationalised host in its ASCII form), percent-escapes
  of the path upper-cased (``%2f`` is ``%2F``), default port and fragment dropped, the query read as form
  pairs without the tracking ones. Two links that differ only in tracking parameters, or in
  spellings the form encoding treats as equal, name one article.

Only ``http``, ``https`` and ``file`` links are links; ``javascript:``, ``data:``, ``mailto:``
and the like are dropped (the dashboard shows links, and such a link is never an article).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

#: Query parameters that only track the click, never select the content, on any site.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|\.tsrc|ref_src|sr_share|smid|ncid|"
    r"yptr|guccounter|guce_referrer.*)$",
    re.I,
)
#: Parameters that track on the named sites (and their subdomains) only; elsewhere the same
#: names can select the content, so they are kept.
SITE_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "marketwatch.com": frozenset({"mod"}),
    "wsj.com": frozenset({"mod"}),
}
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LINK_SCHEMES = ("http", "https", "file")


def is_web_url(url: str | None) -> bool:
    """True for an absolute ``http(s)://`` URL with a host (a link that means the same thing
    in every feed), False for anything else (relative, ``file:``, empty)."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def is_tracking_param(name: str, host: str) -> bool:
    """True when the query parameter ``name`` only tracks the click on ``host`` (a host name,
    any case): one of :data:`TRACKING_PARAMS`, or listed for that site (or a parent domain)
    in :data:`SITE_TRACKING_PARAMS`."""
    if TRACKING_PARAMS.match(name):
        return True
    labels = host.lower().rstrip(".").split(".")
    return any(name.lower() in SITE_TRACKING_PARAMS.get(".".join(labels[i:]), ())
               for i in range(len(labels) - 1))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def resolve_link(link: str | None, base: str | None) -> str:
    """An entry's link made absolute against ``base`` (the feed's ``<link>`` or its file or
    URL); a link that already has a scheme, or an empty ``base``, is returned unchanged, except
    that a protocol-relative ``//host/path`` becomes ``https://host/path`` when ``base`` is not
    an http(s) URL.

    Returns '' for an empty link.
    """
    link = (link or "").strip()
    if link.startswith("//") and not is_web_url(base):
        # A protocol-relative link names a web host; against a file (or no base) it would
        # become file://host/... : the web's default scheme is taken instead.
        return "https:" + link
    if not link or _SCHEME.match(link) or not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def strip_tracking(url: str | None) -> str:
    """The link as the feed gave it, minus tracking parameters (see the module docstring).

    Returns '' for an empty link and for a link that is not ``http(s)``/``file`` (relative
    links included: resolve them first with :func:`resolve_link`). When no tracking parameter
    is present the link comes back unchanged (outer whitespace aside).
    """
    url = (url or "").strip()
    scheme = _SCHEME.match(url)
    if not scheme or scheme.group(1).lower() not in _LINK_SCHEMES:
        return ""
    head, hash_, fragment = url.partition("#")
    path, question, query = head.partition("?")
    if not question:
        return url
    host = _host(url)
    kept = [part for part in query.split("&")
            if not is_tracking_param(unquote_plus(part.partition("=")[0]), host)]
    if len(kept) == len(query.split("&")):
        return url
    query = "&".join(kept)
    return path + ("?" + query if query else "") + hash_ + fragment


def canonical_url(url: str | None) -> str:
    """Identity form of a link: scheme/host lower-cased (IDNA host in ASCII), default port,
    tracking parameters and fragment removed, path escapes upper-cased, the query re-encoded
    from its form pairs (order kept).

    This is what article keys hash (see the module docstring); it is not what is stored.
    Returns '' for an empty input and for schemes other than http(s) and file.
    """
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _LINK_SCHEMES:
        return ""  # javascript:, data:, mailto: ... are not article links
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(k, parts.hostname or "")]
    netloc = _ascii_host(parts.netloc.lower())
    if netloc.endswith(":80") and parts.scheme.lower() == "http":
        netloc = netloc[:-3]
    if netloc.endswith(":443") and parts.scheme.lower() == "https":
        netloc = netloc[:-4]
    path = _ESCAPE.sub(lambda m: m.group(0).upper(), parts.path) or "/"  # %2f is %2F
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query), ""))


def _ascii_host(netloc: str) -> str:
    """``bücher.example`` → ``xn--bcher-kva.example`` (IDNA, Python's codec), port and user
    kept; a host the codec refuses is returned as it is."""
    if netloc.isascii():
        return netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return netloc
    return f"{userinfo}{at}{host}{colon}{port}"
