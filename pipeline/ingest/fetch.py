"""Get a feed's bytes: HTTP(S) with conditional GET and retries, or a local file.

HTTP follows RFC 9110/9111: ``If-None-Match`` / ``If-Modified-Since`` from the previous
response's ``ETag`` / ``Last-Modified``; a 304 means "not modified" and costs no parsing.
Timeouts, 5xx and 429 are retried with exponential backoff (honouring ``Retry-After``);
other 4xx are final.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from pipeline.domain import FeedSource
from pipeline.errors import FeedFetchError, TransientFetchError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


@dataclass
class FetchResult:
    """What a fetch returned.

    Attributes:
        content: the body (None when not modified).
        status_code: HTTP status, or None for local files.
        content_type: the ``Content-Type`` header (None for files).
        final_url: the URL after redirects (the base for relative links), or the file path.
        etag / last_modified: validators to send next time (HTTP only).
        not_modified: True for a 304 response.
    """

    content: bytes | None
    status_code: int | None
    content_type: str | None
    final_url: str
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def _retry_after_s(response: httpx.Response | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date, RFC 9110 10.2.3)."""
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # a malformed header is ignored: fall back to exponential backoff
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no information about local time (RFC 5322)
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    hinted = _retry_after_s(exc.response) if isinstance(exc, TransientFetchError) else None
    backoff = wait_exponential(multiplier=0.5, max=10)(state)
    return hinted if hinted is not None else backoff


class _BoundedBody:
    """Collect a response body, decoding gzip/deflate ourselves with a cap on the *output*.

    httpx decodes each network chunk in full, so one 64 KiB chunk of a gzip bomb can expand to
    tens of megabytes before any size check runs. Reading the raw stream and inflating with
    ``zlib``'s ``max_length`` keeps memory within ``max_bytes`` whatever the compression ratio.
    """

    def __init__(self, encoding: str, max_bytes: int, url: str, status: int):
        import zlib

        encoding = encoding.strip().lower()
        self.inflater = None
        if encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise FeedFetchError(f"{url}: unsupported Content-Encoding {encoding!r}",
                                 source=url, http_status=status)
        self.body = bytearray()
        self.max_bytes, self.url, self.status = max_bytes, url, status

    def _too_big(self) -> FeedFetchError:
        return FeedFetchError(f"{self.url}: body exceeds the {self.max_bytes} byte limit "
                              "(TONEWATCH_HTTP_MAX_BYTES)", source=self.url, http_status=self.status)

    def feed(self, raw: bytes) -> None:
        import zlib

        if self.inflater is None:
            self.body.extend(raw)
        else:
            data = raw
            try:
                while data:
                    room = self.max_bytes - len(self.body) + 1
                    self.body.extend(self.inflater.decompress(data, room))
                    if len(self.body) > self.max_bytes:
                        raise self._too_big()
                    data = self.inflater.unconsumed_tail
            except zlib.error as exc:
                raise FeedFetchError(f"{self.url}: corrupt compressed body ({exc})",
                                     source=self.url, http_status=self.status) from exc
        if len(self.body) > self.max_bytes:
            raise self._too_big()


def _raw_chunks(response: httpx.Response, body: _BoundedBody):
    """The raw (still encoded) body chunks; a response built in memory (tests' mock transports)
    has no raw stream left, so its decoded content is used as is."""
    try:
        yield from response.iter_raw()
    except httpx.StreamConsumed:
        body.inflater = None
        yield response.content


def read_file(source: FeedSource, *, max_bytes: int | None = None) -> FetchResult:
    """Read a local feed file.

    Args:
        source: the feed (its ``url`` is the path).
        max_bytes: files larger than this are refused, as HTTP bodies are.

    Raises:
        FeedFetchError: the file does not exist, cannot be read, is not a regular file (a
            directory, a FIFO, a device: reading one could block forever), or is too large;
            or the source is a URL of a scheme other than http(s) and file.
    """
    import stat
    from urllib.parse import unquote, urlparse

    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", source.url)
    if scheme and scheme.group(1).lower() == "file":
        path = Path(unquote(urlparse(source.url).path))
    elif scheme:
        raise FeedFetchError(f"unsupported URL scheme {scheme.group(1)!r} in {source.url} "
                             "(use http(s) URLs or local file paths)", source=source.url)
    else:
        path = Path(source.url)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FeedFetchError(f"{path}: not a regular file", source=source.url)
        size = info.st_size
        if max_bytes is not None and size > max_bytes:
            raise FeedFetchError(f"{path}: file of {size} bytes exceeds the {max_bytes} byte limit "
                                 "(TONEWATCH_HTTP_MAX_BYTES)", source=source.url)
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise FeedFetchError(f"file not found: {path}", source=source.url) from exc
    except OSError as exc:
        raise FeedFetchError(f"cannot read {path}: {exc.strerror}", source=source.url) from exc
    return FetchResult(content, None, None, path.resolve().as_uri())


def fetch_url(
    source: FeedSource,
    client: httpx.Client,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 10_000_000,
    attempts: int = 3,
    total_timeout_s: float | None = 60.0,
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """GET a feed URL with conditional headers, size cap and retries.

    Args:
        source: the feed.
        client: an httpx client (carries timeouts, User-Agent, redirects; tests inject a
            transport).
        etag, last_modified: validators stored from the previous successful fetch.
        max_bytes: bodies larger than this are refused.
        attempts: total tries for retryable failures (timeouts, connection resets, 429, 5xx).
        total_timeout_s: limit on one attempt's whole body transfer, seconds (the client's read
            timeout bounds each read only, so a server trickling bytes could hold a fetch for
            ever); None = no limit.
        url: the URL to request when it differs from ``source.url`` (e.g. with paging or key
            parameters); messages still name ``source.url``, so secrets in it never leak.
        headers: extra request headers (e.g. an API key).

    Raises:
        FeedFetchError: network failure after retries, an HTTP error status, or a body over
            ``max_bytes``. ``http_status`` is set when a response was received.
    """
    target = url or source.url
    headers = dict(headers or {})
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    @retry(
        # A server asking for a longer pause than we wait within a run is not retried now:
        # the feed is recorded as failed and tried again on the next scheduled run.
        retry=retry_if_exception(lambda e: isinstance(e, TransientFetchError)
                                 and (_retry_after_s(e.response) or 0.0) <= MAX_RETRY_AFTER_S),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
    )
    def attempt() -> FetchResult:
        try:
            with client.stream("GET", target, headers=headers) as response:
                if response.status_code in RETRY_STATUSES:
                    raise TransientFetchError(response)
                if response.status_code == 304:
                    return FetchResult(
                        None, 304, None, str(response.url),
                        response.headers.get("etag", etag),
                        response.headers.get("last-modified", last_modified),
                        not_modified=True,
                    )
                if response.status_code >= 400:
                    raise FeedFetchError(
                        f"{source.url}: HTTP {response.status_code} {response.reason_phrase}",
                        source=source.url, http_status=response.status_code,
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FeedFetchError(
                        f"{source.url}: body of {declared} bytes exceeds the {max_bytes} byte limit",
                        source=source.url, http_status=response.status_code,
                    )
                body = _BoundedBody(response.headers.get("content-encoding", ""), max_bytes,
                                    source.url, response.status_code)
                deadline = time.monotonic() + total_timeout_s if total_timeout_s else None
                for chunk in _raw_chunks(response, body):
                    body.feed(chunk)
                    if deadline is not None and time.monotonic() > deadline:
                        raise FeedFetchError(
                            f"{source.url}: body not received within {total_timeout_s:.0f} s",
                            source=source.url, http_status=response.status_code)
                return FetchResult(
                    bytes(body.body), response.status_code,
                    response.headers.get("content-type"), str(response.url),
                    response.headers.get("etag"), response.headers.get("last-modified"),
                )
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise TransientFetchError(None, exc) from exc

    try:
        return attempt()
    except TransientFetchError as exc:
        status = exc.response.status_code if exc.response is not None else None
        what = f"HTTP {status}" if status else f"{type(exc.cause).__name__}: {exc.cause}"
        hinted = _retry_after_s(exc.response)
        if hinted is not None and hinted > MAX_RETRY_AFTER_S:
            raise FeedFetchError(
                f"{source.url}: {what}, server asks to wait {hinted:.0f} s (Retry-After); "
                "left for the next run", source=source.url, http_status=status) from exc
        raise FeedFetchError(
            f"{source.url}: {what} (after {attempts} attempts)", source=source.url,
            http_status=status,
        ) from exc
    except httpx.HTTPError as exc:
        raise FeedFetchError(f"{source.url}: {_describe(exc)}", source=source.url) from exc
    except httpx.InvalidURL as exc:
        raise FeedFetchError(f"{source.url}: invalid URL ({exc})", source=source.url) from exc


def _describe(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return f"{type(exc).__name__}: {text}"


def make_client(*, timeout_s: float, user_agent: str) -> httpx.Client:
    """An httpx client with connect/read timeouts, redirects followed and our User-Agent."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        follow_redirects=True,
        max_redirects=5,
        # Only encodings _BoundedBody can inflate with a size cap are offered.
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate",
                 "Accept": "application/rss+xml, application/atom+xml, "
                 "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
    )
