"""Alert delivery to real local receivers: an SMTP server and a Slack-style webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.alerting.notifiers import EmailNotifier, Message, SlackNotifier
from pipeline.config import load_settings
from pipeline.errors import AlertDeliveryError
from pipeline.run import notify
from pipeline.storage.alerts import enqueue_notifications, fingerprint, idempotency_key, upsert_alerts
from pipeline.storage.db import connect

AT = datetime(2026, 3, 6, tzinfo=UTC)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """An aiosmtpd server on a free loopback port; yields (port, received messages)."""
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def webhook_server():
    """A loopback HTTP server; ``script`` lists the statuses to answer in turn (then 200)."""
    calls: list[dict] = []
    script: list[tuple[int, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(json.loads(body))
            status, headers = script.pop(0) if script else (200, {})
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"rate_limited")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls, script
    finally:
        server.shutdown()


def _seed_alert(db, receivers):
    fp = fingerprint({"rule": "r", "scope": "ticker", "entity": "ACME"})
    start = AT.replace(day=5)
    alert_id = "a1"
    with connect(db) as con:
        upsert_alerts(con, [{
            "alert_id": alert_id, "fingerprint": fp, "rule": "r", "scope": "ticker", "entity": "ACME",
            "window_start": start, "window_end": AT, "state": "firing", "observed": 0.9,
            "expected": 0.3, "p_value": 1e-4, "q_value": 2e-4, "severity": "warning",
            "n_stories": 10, "n_negative": 9, "baseline_stories": 12,
            "explanation": {"entity_name": "ACME", "baseline_days": 28,
                            "headlines": [{"title": "Acme <b>probe</b>", "url": "https://x.example/1",
                                           "p_negative": 0.9}]},
            "created_at": AT, "resolved_at": None}])
        enqueue_notifications(con, [{"idempotency_key": idempotency_key(fp, r, start), "alert_id": alert_id,
                                     "receiver": r, "status": "pending", "attempts": 0,
                                     "created_at": AT} for r in receivers])


def test_email_and_slack_receive_the_alert_once(tmp_path, smtp_server, webhook_server, monkeypatch):
    port, received = smtp_server
    url, calls, script = webhook_server
    script.append((429, {"Retry-After": "0"}))  # Slack rate-limits once; the retry succeeds
    settings = load_settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_to=["risk@example.com"], smtp_from="tonewatch@example.com",
                             slack_webhook_url=url)
    _seed_alert(settings.db_path, ["email", "slack", "console"])
    result = notify(settings, at=AT, sleep=lambda s: None)
    assert result.counts == {"sent": 3, "failed": 0, "deferred": 0}
    assert len(received) == 1 and received[0].rcpt_tos == ["risk@example.com"]
    import email
    from email import policy

    mail = email.message_from_bytes(received[0].content, policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "ACME" in mail["Subject"] and "9 of 10" in text
    assert "&lt;b&gt;probe&lt;/b&gt;" in html  # feed text is escaped in the HTML part
    assert len(calls) == 2 and all(c["text"] and c["blocks"] for c in calls)
    again = notify(settings, at=AT, sleep=lambda s: None)
    assert again.counts == {"sent": 0, "failed": 0, "deferred": 0}
    assert len(received) == 1 and len(calls) == 2


def test_dead_smtp_server_defers_and_keeps_the_notification(tmp_path):
    port = _free_port()
    settings = load_settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_to=["risk@example.com"])
    _seed_alert(settings.db_path, ["email"])
    result = notify(settings, at=AT, sleep=lambda s: None)
    assert result.status == "partial" and result.counts["deferred"] == 1
    with connect(settings.db_path, read_only=True) as con:
        status, attempts, error = con.execute(
            "SELECT status, attempts, error FROM notifications").fetchall()[0]
    assert status == "pending" and attempts == 1 and f"127.0.0.1:{port}" in error


def test_unconfigured_receiver_fails_with_reason(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    _seed_alert(settings.db_path, ["slack"])
    result = notify(settings, at=AT, sleep=lambda s: None)
    assert result.counts["failed"] == 1
    with connect(settings.db_path, read_only=True) as con:
        (error,) = con.execute("SELECT error FROM notifications").fetchall()[0]
    assert "not configured" in error


def test_slack_client_error_is_not_retryable(webhook_server):
    url, calls, script = webhook_server
    script.append((403, {}))
    with pytest.raises(AlertDeliveryError) as info:
        SlackNotifier(url).send(Message("s", "t"))
    assert info.value.retryable is False and "403" in str(info.value)


def test_email_auth_failure_is_final(smtp_server):
    port, _ = smtp_server
    notifier = EmailNotifier(host="127.0.0.1", port=port, sender="a@example.com",
                             recipients=["b@example.com"], user="u", password="p")
    with pytest.raises(AlertDeliveryError) as info:
        notifier.send(Message("s", "t"))
    # aiosmtpd without auth configured refuses AUTH: not something a retry would fix.
    assert info.value.retryable is False


def test_slack_retry_after_is_honoured(tmp_path, webhook_server):
    url, calls, script = webhook_server
    script.append((429, {"Retry-After": "7"}))
    settings = load_settings(data_dir=tmp_path, slack_webhook_url=url)
    _seed_alert(settings.db_path, ["slack"])
    waits: list[float] = []
    result = notify(settings, at=AT, sleep=waits.append)
    assert result.counts["sent"] == 1 and waits == [7.0] and len(calls) == 2


def test_email_auth_failure_marks_the_channel_down_and_keeps_notifications(tmp_path, smtp_server):
    """Two alerts for a channel whose login fails: one attempt in all, both kept for later."""
    port, received = smtp_server
    settings = load_settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_to=["risk@example.com"], smtp_user="u", smtp_password="wrong")
    _seed_alert(settings.db_path, ["email"])
    with connect(settings.db_path) as con:  # a second alert (another rule) for the same channel
        con.execute("INSERT INTO alerts SELECT * REPLACE ('a2' AS alert_id, 'r2' AS rule) FROM alerts")
        con.execute("INSERT INTO notifications SELECT 'k2', 'a2', receiver, 'pending', 0,"
                    " created_at, NULL, NULL, kind FROM notifications")
    waits: list[float] = []
    result = notify(settings, at=AT, sleep=waits.append)
    assert result.counts == {"sent": 0, "failed": 0, "deferred": 2}
    assert waits == []  # no retry loop against a login that will keep failing
    with connect(settings.db_path, read_only=True) as con:
        rows = con.execute("SELECT status, attempts, error FROM notifications ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["pending", "pending"]
    assert sorted(r[1] for r in rows) == [0, 1]  # the second was not even tried
    assert all("unhealthy" in r[2] for r in rows) and "wrong" not in str(rows)
    assert received == []


def test_crash_between_send_and_record_resends_once_with_the_same_message_id(
        tmp_path, smtp_server, monkeypatch):
    import email
    from email import policy

    import pipeline.alerting.dispatch as dispatch

    port, received = smtp_server
    settings = load_settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_to=["risk@example.com"])
    _seed_alert(settings.db_path, ["email"])
    real = dispatch.record_delivery

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between send and record")

    monkeypatch.setattr(dispatch, "record_delivery", crash)
    with pytest.raises(KeyboardInterrupt):
        notify(settings, at=AT, sleep=lambda s: None)
    assert len(received) == 1
    with connect(settings.db_path, read_only=True) as con:
        assert con.execute("SELECT status FROM notifications").fetchall() == [("pending",)]

    monkeypatch.setattr(dispatch, "record_delivery", real)
    result = notify(settings, at=AT, sleep=lambda s: None)
    assert result.counts["sent"] == 1 and len(received) == 2  # re-sent once, not dropped
    ids = {email.message_from_bytes(r.content, policy=policy.default)["Message-ID"] for r in received}
    assert len(ids) == 1  # the copy carries the same Message-ID
    assert notify(settings, at=AT, sleep=lambda s: None).counts["sent"] == 0


def test_alerts_of_one_rule_and_window_go_out_as_one_message(tmp_path, smtp_server):
    import email
    from email import policy

    port, received = smtp_server
    settings = load_settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_to=["risk@example.com"])
    _seed_alert(settings.db_path, ["email"])
    with connect(settings.db_path) as con:  # the same rule and window for two more tickers
        for n, ticker in enumerate(("BRLX", "CBLT"), 2):
            con.execute(f"INSERT INTO alerts SELECT * REPLACE ('a{n}' AS alert_id, '{ticker}' AS entity)"
                        " FROM alerts WHERE alert_id = 'a1'")
            con.execute(f"INSERT INTO notifications SELECT 'k{n}', 'a{n}', receiver, 'pending', 0,"
                        " created_at, NULL, NULL, kind FROM notifications WHERE alert_id = 'a1'")
    result = notify(settings, at=AT, sleep=lambda s: None)
    assert result.counts["sent"] == 3 and len(received) == 1
    mail = email.message_from_bytes(received[0].content, policy=policy.default)
    assert "3 ticker alerts" in mail["Subject"] and "BRLX" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert body.count("Negative stories:") == 3
