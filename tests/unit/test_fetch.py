"""pipeline.ingest.fetch: conditional GET, retries, size cap, error translation, local files.

HTTP goes through ``httpx.MockTransport``; tenacity's sleep is replaced so retries are instant
and their waits can be asserted.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
import tenacity.nap

from pipeline.domain import FeedSource
from pipeline.errors import FeedFetchError
from pipeline.ingest.fetch import MAX_RETRY_AFTER_S, fetch_url, read_file

URL = "https://feeds.example.com/markets.rss"
BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Seconds tenacity asked to sleep between attempts (nothing actually sleeps)."""
    recorded: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=recorded.append))
    return recorded


@pytest.fixture
def source() -> FeedSource:
    return FeedSource("markets-1234abcd", "Markets", URL)


def client_for(handler, **kwargs) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler), **kwargs)


class Recorder:
    """A MockTransport handler answering with queued responses and recording requests."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item


def test_200_returns_body_and_validators(source, sleeps):
    handler = Recorder(httpx.Response(
        200, content=BODY,
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 05 Mar 2024 09:30:00 GMT",
                 "Content-Type": "application/rss+xml; charset=utf-8"}))
    result = fetch_url(source, client_for(handler))
    assert result.content == BODY
    assert result.status_code == 200
    assert result.etag == '"v1"'
    assert result.last_modified == "Tue, 05 Mar 2024 09:30:00 GMT"
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.final_url == URL
    assert result.not_modified is False
    assert len(handler.requests) == 1 and sleeps == []
    # No validators were given, so none were sent.
    assert "if-none-match" not in handler.requests[0].headers
    assert "if-modified-since" not in handler.requests[0].headers


def test_sends_conditional_headers(source):
    handler = Recorder(httpx.Response(200, content=BODY))
    fetch_url(source, client_for(handler), etag='"v1"',
              last_modified="Tue, 05 Mar 2024 09:30:00 GMT")
    sent = handler.requests[0].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 05 Mar 2024 09:30:00 GMT"


def test_304_is_not_modified_and_keeps_validators(source):
    handler = Recorder(httpx.Response(304))
    result = fetch_url(source, client_for(handler), etag='"v1"',
                       last_modified="Tue, 05 Mar 2024 09:30:00 GMT")
    assert result.not_modified is True
    assert result.content is None
    assert result.status_code == 304
    assert (result.etag, result.last_modified) == ('"v1"', "Tue, 05 Mar 2024 09:30:00 GMT")


def test_404_is_final_without_retry(source, sleeps):
    handler = Recorder(httpx.Response(404))
    with pytest.raises(FeedFetchError) as info:
        fetch_url(source, client_for(handler))
    assert info.value.http_status == 404
    assert info.value.source == URL
    assert URL in str(info.value) and "404" in str(info.value)
    assert len(handler.requests) == 1
    assert sleeps == []


def test_503_twice_then_200_succeeds(source, sleeps):
    handler = Recorder(httpx.Response(503), httpx.Response(503), httpx.Response(200, content=BODY))
    result = fetch_url(source, client_for(handler), attempts=3)
    assert result.content == BODY
    assert len(handler.requests) == 3
    assert len(sleeps) == 2 and all(0 < s <= 10 for s in sleeps)
    assert sleeps[1] >= sleeps[0]  # exponential backoff does not shrink


def test_503_always_fails_after_all_attempts(source, sleeps):
    handler = Recorder(httpx.Response(503))
    with pytest.raises(FeedFetchError) as info:
        fetch_url(source, client_for(handler), attempts=3)
    assert len(handler.requests) == 3
    assert info.value.http_status == 503
    assert "after 3 attempts" in str(info.value)


def test_429_honours_retry_after(source, sleeps):
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "7"}),
                       httpx.Response(200, content=BODY))
    result = fetch_url(source, client_for(handler))
    assert result.content == BODY
    assert sleeps == [7.0]


def test_429_retry_after_longer_than_we_wait_is_left_for_the_next_run(source, sleeps):
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "3600"}),
                       httpx.Response(200, content=BODY))
    with pytest.raises(FeedFetchError, match="wait 3600 s") as info:
        fetch_url(source, client_for(handler))
    assert sleeps == [] and len(handler.requests) == 1 and info.value.http_status == 429
    ok = Recorder(httpx.Response(429, headers={"Retry-After": str(int(MAX_RETRY_AFTER_S))}),
                  httpx.Response(200, content=BODY))
    assert fetch_url(source, client_for(ok)).content == BODY
    assert sleeps == [MAX_RETRY_AFTER_S]


def test_429_retry_after_http_date_in_the_past_waits_zero(source, sleeps):
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "Tue, 05 Mar 2024 09:30:00 GMT"}),
                       httpx.Response(200, content=BODY))
    fetch_url(source, client_for(handler))
    assert sleeps == [0.0]


def test_timeouts_are_retried_then_reported(source, sleeps):
    handler = Recorder(httpx.ReadTimeout("timed out"))
    with pytest.raises(FeedFetchError) as info:
        fetch_url(source, client_for(handler), attempts=2)
    assert len(handler.requests) == 2
    assert info.value.http_status is None
    assert URL in str(info.value) and "ReadTimeout" in str(info.value)


def test_body_over_max_bytes_declared(source, sleeps):
    handler = Recorder(httpx.Response(200, content=b"x" * 2_000))
    with pytest.raises(FeedFetchError, match="2000 bytes exceeds the 1000 byte limit") as info:
        fetch_url(source, client_for(handler), max_bytes=1_000)
    assert info.value.http_status == 200
    assert len(handler.requests) == 1


def test_body_over_max_bytes_streamed_without_length(source, sleeps):
    def handler(request):
        # A generator body: no Content-Length, so the cap is enforced while reading.
        return httpx.Response(200, content=(b"x" * 600 for _ in range(3)))

    with pytest.raises(FeedFetchError, match="exceeds the 1000 byte limit"):
        fetch_url(source, client_for(handler), max_bytes=1_000)


def test_body_at_max_bytes_is_accepted(source):
    handler = Recorder(httpx.Response(200, content=b"x" * 1_000))
    assert fetch_url(source, client_for(handler), max_bytes=1_000).content == b"x" * 1_000


def test_connection_error_names_the_url(source, sleeps):
    handler = Recorder(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(FeedFetchError) as info:
        fetch_url(source, client_for(handler))
    assert URL in str(info.value)
    assert "ConnectError" in str(info.value)
    assert info.value.http_status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_redirect_final_url_is_reported(source):
    def handler(request):
        if request.url.path == "/markets.rss":
            return httpx.Response(301, headers={"Location": "https://cdn.example.com/m.rss"})
        return httpx.Response(200, content=BODY)

    result = fetch_url(source, client_for(handler, follow_redirects=True))
    assert result.final_url == "https://cdn.example.com/m.rss"
    assert result.content == BODY


def test_read_file_returns_bytes_and_file_uri(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(BODY)
    result = read_file(FeedSource("feed-1", "feed", str(path)))
    assert result.content == BODY
    assert result.status_code is None
    assert result.final_url == path.resolve().as_uri()


def test_read_file_missing_path(tmp_path):
    missing = tmp_path / "nope.xml"
    with pytest.raises(FeedFetchError, match="file not found") as info:
        read_file(FeedSource("nope", "nope", str(missing)))
    assert info.value.source == str(missing)
    assert info.value.status == "fetch_failed"


def test_read_file_on_a_directory(tmp_path):
    with pytest.raises(FeedFetchError, match="not a regular file"):
        read_file(FeedSource("dir", "dir", str(tmp_path)))


@pytest.mark.parametrize("header", ["soon", "Tue, 05 Mar 2024 09:30:00 -0000", "Mon, 99 Foo 20"])
def test_malformed_or_zoneless_retry_after_falls_back_to_backoff(source, sleeps, header):
    handler = Recorder(httpx.Response(429, headers={"Retry-After": header}),
                       httpx.Response(200, content=BODY))
    assert fetch_url(source, client_for(handler)).content == BODY
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= MAX_RETRY_AFTER_S


def test_invalid_url_is_a_feed_error(sleeps):
    bad = FeedSource("bad-1", "Bad", "http://[::1/feed")
    with pytest.raises(FeedFetchError, match="invalid URL|InvalidURL|Invalid"):
        fetch_url(bad, httpx.Client())


def _gzip_bomb(size: int) -> bytes:
    import gzip
    import io

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as handle:
        block = b"\0" * (1 << 20)
        for _ in range(size // len(block)):
            handle.write(block)
    return buffer.getvalue()


def test_gzip_bomb_is_refused_with_bounded_memory(source, sleeps):
    import tracemalloc

    bomb = _gzip_bomb(1 << 30)  # 1 GiB of zeros, about 1 MB compressed
    assert len(bomb) < 2_000_000
    handler = Recorder(httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                      stream=httpx.ByteStream(bomb)))
    tracemalloc.start()
    try:
        with pytest.raises(FeedFetchError, match="byte limit"):
            fetch_url(source, client_for(handler), max_bytes=5_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000  # a few times the 5 MB cap, far below the 1 GiB it inflates to


def test_gzip_body_within_limit_is_inflated(source):
    import gzip

    handler = Recorder(httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                      stream=httpx.ByteStream(gzip.compress(BODY))))
    assert fetch_url(source, client_for(handler)).content == BODY


def test_corrupt_gzip_body_is_a_feed_error(source):
    handler = Recorder(httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                      stream=httpx.ByteStream(b"\x1f\x8b\x08\x00garbage-not-deflate")))
    with pytest.raises(FeedFetchError, match="corrupt compressed body"):
        fetch_url(source, client_for(handler))


def test_read_file_schemes_and_special_files(tmp_path):
    import os

    feed = tmp_path / "my feed.xml"
    feed.write_bytes(b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    as_uri = read_file(FeedSource("f", "f", feed.as_uri()))  # file:// with an escaped space
    assert as_uri.content.startswith(b"<rss")
    with pytest.raises(FeedFetchError, match="unsupported URL scheme 'ftp'"):
        read_file(FeedSource("f", "f", "ftp://example.com/x.xml"))
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    with pytest.raises(FeedFetchError, match="not a regular file"):  # would block forever
        read_file(FeedSource("f", "f", str(fifo)))
    with pytest.raises(FeedFetchError, match="not a regular file"):
        read_file(FeedSource("f", "f", str(tmp_path)))
