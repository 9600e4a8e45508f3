"""Ingestion over real HTTP on 127.0.0.1: conditional GET, redirects, retries, failures."""

from __future__ import annotations

import gzip
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.config import load_settings
from pipeline.run import AllFeedsFailedError, ingest
from pipeline.storage.db import connect
from tests.conftest import FIXTURE_FEEDS

AT = datetime(2026, 3, 6, tzinfo=UTC)
FEED = (FIXTURE_FEEDS / "regulator_atom.xml").read_bytes()
ETAG = '"v1"'


def _gzip_bomb(megabytes: int) -> bytes:
    """``megabytes`` MiB of zeros, gzip-compressed (about 1 KB per MiB), built block by block."""
    import io

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as handle:
        block = b"\0" * (1 << 20)
        for _ in range(megabytes):
            handle.write(block)
    return buffer.getvalue()


BOMB = _gzip_bomb(200)


@pytest.fixture
def feed_server():
    """Loopback server: /feed (ETag/304), /moved (301 to /feed), /flaky (503 once), /gone (404),
    /slow (sleeps past the client timeout), /page (HTML), /gzip (gzip body), /error (500),
    /limited (429 with Retry-After once), /bomb (gzip bomb), /trickle (slow body).
    Yields (base_url, hit counts)."""
    hits: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits[self.path] = hits.get(self.path, 0) + 1
            if self.path == "/feed":
                if self.headers.get("If-None-Match") == ETAG:
                    self.send_response(304)
                    self.end_headers()
                    return
                self._send(200, FEED, "application/atom+xml", {"ETag": ETAG})
            elif self.path == "/moved":
                self._send(301, b"", "text/plain", {"Location": "/feed"})
            elif self.path == "/flaky":
                self._fail_once(503, b"busy", {"Retry-After": "0"})
            elif self.path == "/slow":
                time.sleep(3)
                self._send(200, FEED, "application/atom+xml", {})
            elif self.path == "/page":
                self._send(200, b"<!doctype html><html><body>Sign in</body></html>", "text/html", {})
            elif self.path == "/gzip":
                self._send(200, gzip.compress(FEED), "application/atom+xml", {"Content-Encoding": "gzip"})
            elif self.path == "/error":
                self._send(500, b"boom", "text/plain", {})
            elif self.path == "/limited":
                self._fail_once(429, b"slow down", {"Retry-After": "1"})
            elif self.path == "/bomb":
                self._send(200, BOMB, "application/rss+xml", {"Content-Encoding": "gzip"})
            elif self.path == "/trickle":  # each byte arrives before the read timeout
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.end_headers()
                try:
                    for i in range(0, len(FEED), 64):
                        self.wfile.write(FEED[i:i + 64])
                        self.wfile.flush()
                        time.sleep(0.4)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self._send(404, b"not found", "text/plain", {})

        def _fail_once(self, status, body, headers):
            """Answer ``status`` on the first request to this path, the feed afterwards."""
            if hits[self.path] == 1:
                self._send(status, body, "text/plain", headers)
            else:
                self._send(200, FEED, "application/atom+xml", {})

        def _send(self, status, body, ctype, headers):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            try:
                self.wfile.write(body)
            except BrokenPipeError:
                pass  # the client gave up (the /slow route exists to make it do so)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()


def _feeds(db):
    with connect(db, read_only=True) as con:
        frame = con.execute("SELECT url, last_status, http_status, etag, consecutive_failures,"
                            " entries_seen, entries_new FROM feeds").df()
    return {row["url"].rsplit("/", 1)[-1]: row for row in frame.to_dict("records")}


def test_conditional_get_redirect_retry_and_failures(tmp_path, feed_server):
    base, hits = feed_server
    settings = load_settings(data_dir=tmp_path, http_timeout_s=1.0)
    urls = [f"{base}/{p}" for p in ("feed", "moved", "flaky", "gone", "slow", "page")]
    first = ingest(settings, at=AT, extra_sources=urls, use_config=False)
    assert first.status == "partial"
    feeds = _feeds(settings.db_path)
    assert feeds["feed"]["last_status"] == "ok" and feeds["feed"]["etag"] == ETAG
    assert feeds["feed"]["entries_seen"] == 15 and feeds["feed"]["entries_new"] == 15
    assert feeds["moved"]["http_status"] == 200  # followed the redirect
    assert feeds["flaky"]["last_status"] in ("ok", "no_new_entries") and hits["/flaky"] == 2
    assert feeds["gone"]["last_status"] == "fetch_failed" and feeds["gone"]["http_status"] == 404
    assert hits["/gone"] == 1  # a 404 is final: no retry
    assert feeds["slow"]["last_status"] == "fetch_failed"
    assert feeds["page"]["last_status"] == "not_a_feed" and feeds["page"]["http_status"] == 200
    with connect(settings.db_path, read_only=True) as con:
        # Three URLs served the same feed: entry ids are scoped per feed, so three article
        # rows each, but one story each (what detection counts).
        assert con.execute("SELECT count(*), count(DISTINCT story_id) FROM articles"
                           ).fetchall()[0] == (45, 15)

    second = ingest(settings, at=AT, extra_sources=[f"{base}/feed"], use_config=False)
    assert second.counts["articles_new"] == 0
    feeds = _feeds(settings.db_path)
    assert feeds["feed"]["last_status"] == "not_modified" and feeds["feed"]["http_status"] == 304
    assert feeds["gone"]["consecutive_failures"] == 1


def test_every_url_failing_raises_after_recording(tmp_path, feed_server):
    base, _ = feed_server
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(AllFeedsFailedError) as info:
        ingest(settings, at=AT, extra_sources=[f"{base}/gone", f"{base}/page"], use_config=False)
    assert info.value.result.counts["feeds_failed"] == 2
    assert {r["last_status"] for r in _feeds(settings.db_path).values()} == {"fetch_failed", "not_a_feed"}


def test_gzip_server_errors_rate_limit_bomb_and_trickle(tmp_path, feed_server, monkeypatch):
    import pipeline.ingest.fetch as fetch

    base, hits = feed_server
    real = fetch.fetch_url
    # A short whole-body deadline so the trickling route (about 12 s) trips it quickly.
    monkeypatch.setattr(fetch, "fetch_url", lambda *a, **k: real(*a, **{**k, "total_timeout_s": 2}))
    settings = load_settings(data_dir=tmp_path, http_timeout_s=1.0, http_max_bytes=5_000_000)
    urls = [f"{base}/{p}" for p in ("gzip", "error", "limited", "bomb", "trickle")]
    result = ingest(settings, at=AT, extra_sources=urls, use_config=False)
    feeds = _feeds(settings.db_path)
    assert feeds["gzip"]["last_status"] == "ok" and feeds["gzip"]["entries_seen"] == 15
    assert feeds["error"]["last_status"] == "fetch_failed" and feeds["error"]["http_status"] == 500
    assert hits["/error"] == 3  # 5xx retried, then given up
    assert feeds["limited"]["last_status"] in ("ok", "no_new_entries") and hits["/limited"] == 2
    assert feeds["bomb"]["last_status"] == "fetch_failed"
    assert feeds["trickle"]["last_status"] == "fetch_failed"
    assert result.counts["feeds_failed"] == 3
    with connect(settings.db_path, read_only=True) as con:
        (message,) = con.execute("SELECT error_message FROM feeds WHERE url LIKE '%/bomb'").fetchall()[0]
        (slow,) = con.execute("SELECT error_message FROM feeds WHERE url LIKE '%/trickle'").fetchall()[0]
    assert "byte limit" in message and "within 2 s" in slow


def test_a_url_is_named_by_its_channel_title_like_a_file(tmp_path, feed_server):
    from pipeline.domain import FeedSource

    base, _ = feed_server
    settings = load_settings(data_dir=tmp_path, http_timeout_s=1.0)
    named = FeedSource("configured-moved", "Regulator (configured)", f"{base}/moved")
    ingest(settings, at=AT, extra_sources=[f"{base}/feed", named], use_config=False)
    with connect(settings.db_path, read_only=True) as con:
        names = dict(con.execute("SELECT url, name FROM feeds").fetchall())
    assert names[f"{base}/feed"] == "Example Securities Commission — News and Enforcement"
    assert names[f"{base}/moved"] == "Regulator (configured)"  # a given name is kept
