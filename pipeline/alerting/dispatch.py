"""Deliver queued notifications: render, send with retries, record only after success.

A notification is marked ``sent`` only after the receiver accepted it, so a crash between the
two re-sends at most that one message on the next run (email copies carry the same Message-ID,
so mail clients collapse them); it is never silently dropped. Retryable
errors are retried with exponential backoff within the run, then left ``pending`` for the next
run; final errors mark it ``failed`` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from pipeline.alerting.notifiers import Message, Notifier
from pipeline.errors import AlertDeliveryError
from pipeline.storage.alerts import pending_notifications, record_delivery
from pipeline.storage.db import connect, transaction

MAX_ATTEMPTS_PER_RUN = 3


def render(alert: dict) -> Message:
    """A human-readable message explaining one alert: what, where, window, numbers, headlines."""
    explanation = alert.get("explanation")
    if isinstance(explanation, str):
        explanation = json.loads(explanation)
    explanation = explanation or {}
    start = pd.Timestamp(alert["window_start"]).strftime("%Y-%m-%d %H:%M UTC")
    end = pd.Timestamp(alert["window_end"]).strftime("%Y-%m-%d %H:%M UTC")
    if alert.get("kind") == "resolved":
        ended = pd.Timestamp(alert["resolved_at"]).strftime("%Y-%m-%d %H:%M UTC") \
            if alert.get("resolved_at") is not None and not pd.isna(alert["resolved_at"]) else "now"
        subject = (f"[RESOLVED] negative surge: {alert['scope']} "
                   f"{explanation.get('entity_name', alert['entity'])} ({alert['rule']})")
        text = (f"The surge reported for the window {start} to {end} has ended: the evaluation "
                f"at {ended} found the negative share back within its baseline.")
        if explanation.get("dashboard_url"):
            text += f"\nDashboard: {explanation['dashboard_url']}"
        return Message(subject=subject, text=text, html=f"<p>{_escape(text)}</p>")
    subject = (f"[{alert['severity'].upper()}] negative surge: {alert['scope']} "
               f"{explanation.get('entity_name', alert['entity'])} ({alert['rule']})")
    days = explanation.get("baseline_days", "?")
    if explanation.get("metric") == "mean_score":
        measure = (f"Mean sentiment score: {alert['observed']:+.2f} over {alert['n_stories']} "
                   f"stories ({alert['n_negative']} negative) vs {alert['expected']:+.2f} expected "
                   f"from a {days}-day baseline of {alert['baseline_stories']} stories")
    elif explanation.get("metric") == "negative_count":
        measure = (f"Negative stories: {alert['n_negative']} (of {alert['n_stories']}) vs "
                   f"{alert['expected']:.1f} expected per window from a {days}-day baseline")
    else:
        measure = (f"Negative stories: {alert['n_negative']} of {alert['n_stories']} "
                   f"({alert['observed']:.0%}) vs expected {alert['expected']:.0%} from a "
                   f"{days}-day baseline of {alert['baseline_stories']} stories")
    lines = [
        f"Window: {start} to {end}",
        measure,
        f"p-value {alert['p_value']:.2g} (BH-adjusted {alert['q_value']:.2g})",
    ]
    if explanation.get("n_sources") is not None:
        lines.append(f"Independent sources in the window: {explanation['n_sources']}")
    if explanation.get("dashboard_url"):
        lines.append(f"Dashboard: {explanation['dashboard_url']}")
    lines.append("Top negative headlines:")
    for item in explanation.get("headlines", []):
        when = pd.Timestamp(item["published_at"]).strftime("%Y-%m-%d %H:%M") if item.get("published_at") else ""
        source = item.get("source") or item.get("feed_id") or ""
        lines.append(f"  - {item['title']} ({source}, {when} UTC, p_negative {item['p_negative']:.2f})"
                     f" {item.get('url') or ''}".rstrip())
    text = "\n".join(lines)
    html_items = "".join(
        f"<li>{_escape(i['title'])} ({i['p_negative']:.2f})</li>" for i in explanation.get("headlines", [])
    )
    html = f"<h3>{_escape(subject)}</h3><pre>{_escape(chr(10).join(lines[:3]))}</pre><ul>{html_items}</ul>"
    return Message(subject=subject, text=text, html=html)


_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def render_group(rows: list[dict]) -> Message:
    """One message for a group of alerts (see :func:`group_key`) going to one receiver.

    A single alert renders as :func:`render`; several become one message whose subject counts
    them and whose body holds each alert's explanation in turn (highest severity first, as
    queued). The message key (email Message-ID) is derived from the group's idempotency keys.
    """
    import hashlib

    key = hashlib.sha1("|".join(sorted(r["idempotency_key"] for r in rows)).encode()).hexdigest()
    if len(rows) == 1:
        message = render(rows[0])
        message.key = rows[0]["idempotency_key"]
        return message
    parts = [render(r) for r in rows]
    first = rows[0]
    resolved = first.get("kind") == "resolved"
    severities = [str(r["severity"]) for r in rows]
    worst = max(severities, key=lambda v: _SEVERITY_RANK.get(v, 0))
    scopes = sorted({str(r["scope"]) for r in rows})
    rules = sorted({str(r["rule"]) for r in rows})
    subject = (f"[{'RESOLVED' if resolved else worst.upper()}] negative surge: "
               f"{len(rows)} {scopes[0] + ' ' if len(scopes) == 1 else ''}alerts "
               f"({', '.join(rules)}): "
               + ", ".join(str(r["entity"]) for r in rows[:6]) + (" ..." if len(rows) > 6 else ""))
    text = "\n\n".join(f"{m.subject}\n{m.text}" for m in parts)
    html = "".join(m.html or f"<pre>{_escape(m.text)}</pre>" for m in parts)
    return Message(subject=subject, text=text, html=html, key=key)


def group_key(row: dict) -> tuple:
    """Which notifications travel together: one message per receiver, kind (firing or
    resolved), window end and the values of the rule's ``group_by`` labels (default
    ``[rule]``; ``[...]`` keeps every alert apart), as Alertmanager's ``group_by``.

    Args:
        row: a pending notification joined with its alert (``explanation`` holds the rule's
            ``group_by``, as a dict or JSON text).

    Returns:
        a hashable key whose first element is the receiver.
    """
    explanation = row.get("explanation")
    if isinstance(explanation, str):
        explanation = json.loads(explanation)
    labels = (explanation or {}).get("group_by") or ["rule"]
    if labels == ["..."]:
        labels = ["rule", "scope", "entity", "severity"]
    values = tuple((label, str(row.get(label))) for label in sorted(labels))
    return (row["receiver"], row["kind"], str(row["window_end"]), values)


def _escape(text: str) -> str:
    import html

    return html.escape(str(text), quote=True)


MAX_RETRY_AFTER_S = 60.0


def _wait(state) -> float:
    """Backoff before the next attempt: the receiver's ``Retry-After`` (capped at
    :data:`MAX_RETRY_AFTER_S`) when it gave one, else exponential (1, 2, 4... s, at most 30)."""
    exc = state.outcome.exception() if state.outcome else None
    hinted = getattr(exc, "retry_after", None)
    if hinted is not None:
        return min(float(hinted), MAX_RETRY_AFTER_S)
    return wait_exponential(multiplier=1, max=30)(state)


def deliver_pending(
    db_path: Path, notifiers: dict[str, Notifier], *, at: datetime,
    sleep: Callable[[float], None] | None = None, pending=None,
) -> tuple[dict[str, int], list[str]]:
    """Send every pending notification once (with in-run retries) and record each outcome.

    The database is not held open while sending: pending rows are read, then each outcome is
    written in its own short transaction right after the receiver answered (one open per
    message, i.e. per group of notifications sent together).

    Args:
        db_path: the DuckDB file.
        notifiers: receiver name → notifier.
        pending: the pending notifications, as :func:`pending_notifications` returns them,
            when the caller already read them (its own open); None reads them here.
        at: the run instant (UTC), recorded as ``sent_at``.
        sleep: injected for tests (default ``time.sleep``) to skip real backoff waits.

    Returns:
        ``(counts, problems)``: counts ``{sent, failed, deferred}`` and one line per
        notification that was not sent (receiver and reason).
    """
    import time

    if pending is None:
        with connect(db_path) as con:
            pending = pending_notifications(con)
    counts = {"sent": 0, "failed": 0, "deferred": 0}
    problems: list[str] = []
    down: dict[str, str] = {}  # receiver → why it is unusable for the rest of this run
    records = pending.to_dict("records")
    groups: dict[tuple, list[dict]] = {}
    for row in records:
        groups.setdefault(group_key(row), []).append(row)
    for (receiver, *_), rows in groups.items():
        notifier = notifiers.get(receiver)
        status, error, attempted = "sent", None, True
        if notifier is None:
            status, error = "failed", f"receiver {receiver!r} is not configured"
        elif receiver in down:
            status, error, attempted = "pending", f"channel unhealthy this run: {down[receiver]}", False
        else:
            try:
                for attempt in Retrying(
                    retry=retry_if_exception(lambda e: isinstance(e, AlertDeliveryError) and e.retryable),
                    stop=stop_after_attempt(MAX_ATTEMPTS_PER_RUN),
                    wait=_wait, sleep=sleep or time.sleep, reraise=True,
                ):
                    with attempt:
                        notifier.send(render_group(rows))
            except AlertDeliveryError as exc:
                if exc.channel_down:  # fail fast: no retry loop, keep it for a later run
                    down[receiver] = str(exc)
                    status, error = "pending", f"channel unhealthy: {exc}"
                else:
                    status, error = ("pending" if exc.retryable else "failed"), str(exc)
        with connect(db_path) as con:
            with transaction(con):
                for row in rows:
                    record_delivery(con, row["idempotency_key"], status=status, at=at,
                                    error=error, attempted=attempted)
        counts["sent" if status == "sent" else "failed" if status == "failed" else "deferred"] += len(rows)
        if error:
            what = "will retry" if status == "pending" else "gave up"
            entities = ", ".join(str(r["entity"]) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
            problems.append(f"{receiver} ({what}): {error} [alert {rows[0]['rule']} {entities}]")
    return counts, problems
