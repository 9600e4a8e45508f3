"""A JSON news API source over loopback HTTP: field mapping, key from env, paging, rate limit."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.config import load_settings
from pipeline.run import AllFeedsFailedError, ingest
from tests.conftest import query

AT = datetime(2026, 3, 6, tzinfo=UTC)
KEY = "s3cret-key-123"
PAGES = {
    "1": [{"id": "n1", "headline": "Acme Robotics cuts outlook", "web": {"url": "https://e.com/1?utm_source=api"},
           "time": "2026-03-05T10:00:00Z", "blurb": "Orders fell.", "outlet": {"name": "Wire A"}},
          {"id": "n2", "headline": "Borealis Bank raises dividend", "web": {"url": "https://e.com/2"},
           "time": "2026-03-05T11:00:00Z"}],
    "2": [{"id": "n3", "headline": "Cobalt Mining names new chief", "web": {"url": "https://e.com/3"},
           "time": "2026-03-05T12:00:00Z"}],
    "3": [],
}


@pytest.fixture
def api_server():
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            requests.append({"path": parts.path, "params": params, "key": self.headers.get("X-Api-Key")})
            if self.headers.get("X-Api-Key") != KEY:
                body, status = b'{"error": "unauthorised"}', 401
            elif parts.path == "/broken":
                body, status = b"<html>oops</html>", 200
            else:
                body, status = json.dumps({"data": {"results": PAGES.get(params.get("page"), [])}}).encode(), 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()


def _config(tmp_path, base, path="/news", **api):
    block = {"items": "data.results", "key_env": "TW_TEST_NEWS_KEY", "key_header": "X-Api-Key",
             "page_param": "page", "max_pages": 5, "min_interval_s": 0.2,
             "fields": {"title": "headline", "link": "web.url", "published": "time", "id": "id",
                        "summary": "blurb", "source": "outlet.name"}} | api
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "feeds.yaml"
    config.write_text(json.dumps({"feeds": [{"name": "Test API", "type": "json_api",
                                              "url": f"{base}{path}?q=markets", "api": block}]}))
    return load_settings(data_dir=tmp_path / "data", feeds_file=config)


def test_pages_are_mapped_paged_rate_limited_and_the_key_stays_secret(tmp_path, api_server, monkeypatch):
    base, requests = api_server
    monkeypatch.setenv("TW_TEST_NEWS_KEY", KEY)
    settings = _config(tmp_path, base)
    started = datetime.now(UTC)
    result = ingest(settings, at=AT)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    assert result.counts["articles_new"] == 3
    assert [r["params"].get("page") for r in requests] == ["1", "2", "3"]  # stops at the empty page
    assert all(r["params"]["q"] == "markets" and r["key"] == KEY for r in requests)
    assert elapsed >= 0.4  # two waits of min_interval_s between three requests
    rows = {t: (u, str(p)) for t, u, p in query(settings.db_path,
                                                "SELECT title, url, published_at FROM articles")}
    assert rows["Acme Robotics cuts outlook"] == ("https://e.com/1", "2026-03-05 10:00:00+00:00")
    stored = " ".join(str(v) for row in query(settings.db_path, "SELECT * FROM feeds") for v in row)
    assert KEY not in stored and "ok" in stored


def test_missing_key_bad_key_and_non_json_are_per_feed_errors(tmp_path, api_server, monkeypatch):
    base, _ = api_server
    monkeypatch.delenv("TW_TEST_NEWS_KEY", raising=False)
    with pytest.raises(AllFeedsFailedError):
        ingest(_config(tmp_path / "a", base), at=AT)
    (message,) = query(tmp_path / "a" / "data" / "tonewatch.duckdb", "SELECT error_message FROM feeds")[0]
    assert "TW_TEST_NEWS_KEY is not set" in message

    monkeypatch.setenv("TW_TEST_NEWS_KEY", "wrong")
    with pytest.raises(AllFeedsFailedError):
        ingest(_config(tmp_path / "b", base), at=AT)
    (status, message) = query(tmp_path / "b" / "data" / "tonewatch.duckdb",
                              "SELECT http_status, error_message FROM feeds")[0]
    assert status == 401 and "wrong" not in message

    monkeypatch.setenv("TW_TEST_NEWS_KEY", KEY)
    with pytest.raises(AllFeedsFailedError):
        ingest(_config(tmp_path / "c", base, path="/broken"), at=AT)
    (state, message) = query(tmp_path / "c" / "data" / "tonewatch.duckdb",
                             "SELECT last_status, error_message FROM feeds")[0]
    assert state == "parse_error" and "not JSON" in message


def test_bad_api_config_names_the_field(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.ingest.sources import load_feeds

    config = tmp_path / "feeds.yaml"
    config.write_text(json.dumps({"feeds": [{"name": "X", "type": "json_api", "url": "https://x",
                                              "api": {"fields": {"headline": "t"}}}]}))
    with pytest.raises(ConfigError, match="headline"):
        load_feeds(config)


def test_api_block_without_json_api_type_is_refused(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.ingest.sources import load_feeds

    config = tmp_path / "feeds.yaml"
    config.write_text(json.dumps({"feeds": [{"name": "X", "url": "https://x", "api": {"items": "a"}}]}))
    with pytest.raises(ConfigError, match="type: json_api"):
        load_feeds(config)
