"""The ``alerts`` and ``notifications`` tables: alert records and the delivery outbox."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import duckdb
import pandas as pd

from pipeline.storage.db import upsert_frame


def fingerprint(labels: dict[str, str]) -> str:
    """Alert identity: SHA-1 of the sorted ``name=value`` labels (as Prometheus Alertmanager)."""
    text = "\x1f".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def alert_id_for(fp: str, window_start: datetime) -> str:
    """Id of one alert occurrence: its fingerprint and window start."""
    return hashlib.sha1(f"{fp}|{window_start.isoformat()}".encode()).hexdigest()


def idempotency_key(fp: str, receiver: str, window_start: datetime) -> str:
    """Outbox key: one notification per (fingerprint, receiver, window), ever."""
    return hashlib.sha1(f"{fp}|{receiver}|{window_start.isoformat()}".encode()).hexdigest()


ALERT_COLUMNS = ["alert_id", "fingerprint", "rule", "scope", "entity", "window_start", "window_end",
                 "state", "observed", "expected", "p_value", "q_value", "severity", "n_stories",
                 "n_negative", "baseline_stories", "explanation", "created_at", "resolved_at"]


def upsert_alerts(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> int:
    """Write firing alerts; re-evaluating a window refreshes its numbers, keeps created_at.

    An alert that a later window already resolved stays resolved (with its ``resolved_at``):
    re-running or backfilling its own window must not undo a resolution that a later window
    decided, or a one-date backfill would leave it firing until the next calm window.
    """
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if frame.empty:
        return 0
    resolved = dict(con.execute(
        "SELECT alert_id, resolved_at FROM alerts WHERE state = 'resolved'"
        " AND list_contains(?, alert_id)", [frame["alert_id"].tolist()]).fetchall())
    if resolved:
        kept = frame["alert_id"].isin(list(resolved))
        frame.loc[kept, "state"] = "resolved"
        frame["resolved_at"] = frame["resolved_at"].astype(object)
        frame.loc[kept, "resolved_at"] = frame.loc[kept, "alert_id"].map(resolved)
    frame["explanation"] = frame["explanation"].map(lambda e: json.dumps(e, default=str))
    update = ["state", "observed", "expected", "p_value", "q_value", "n_stories", "n_negative",
              "baseline_stories", "explanation", "resolved_at"]
    return upsert_frame(con, "alerts", frame, ["alert_id"], update)


#: Columns of :func:`alert_states`.
STATE_COLUMNS = ["alert_id", "fingerprint", "window_end", "state", "streak", "resolved_at"]


def alert_states(con: duckdb.DuckDBPyConnection, rules: list[str], *, first_end: datetime,
                 last_end: datetime) -> pd.DataFrame:
    """The alert records a detection pass over window ends in ``[first_end, last_end]`` can touch.

    Those are the rules' open alerts (``pending`` / ``firing``: a surge's previous window, or
    what a calm window resolves) and every alert of theirs whose window ends in the range (a
    re-evaluated window keeps a resolution a later window decided).

    Returns:
        DataFrame ``(alert_id, fingerprint, window_end, state, streak, resolved_at)``;
        ``streak`` is the explanation's (1 when absent).
    """
    if not rules:
        return pd.DataFrame(columns=STATE_COLUMNS)
    return con.execute(
        "SELECT alert_id, fingerprint, window_end, state,"
        " coalesce(TRY_CAST(explanation->>'streak' AS INTEGER), 1) AS streak, resolved_at"
        " FROM alerts WHERE list_contains(?, rule)"
        " AND (state IN ('pending', 'firing') OR window_end BETWEEN ? AND ?)"
        " ORDER BY window_end, alert_id",
        [list(rules), first_end, last_end]).df()[STATE_COLUMNS]


def mark_resolved(con: duckdb.DuckDBPyConnection, resolved: dict[str, datetime]) -> int:
    """Set ``state = 'resolved'`` and ``resolved_at`` of existing alerts, in one statement.

    Args:
        resolved: ``alert_id -> resolved_at`` (UTC).

    Returns:
        number of alert ids given.
    """
    if not resolved:
        return 0
    frame = pd.DataFrame({"alert_id": list(resolved),
                          "resolved_at": pd.to_datetime(list(resolved.values()), utc=True)})
    con.register("tw_resolved", frame)
    try:
        con.execute("UPDATE alerts SET state = 'resolved', resolved_at = r.resolved_at"
                    " FROM tw_resolved r WHERE alerts.alert_id = r.alert_id")
    finally:
        con.unregister("tw_resolved")
    return len(frame)


def resolved_notifications(con: duckdb.DuckDBPyConnection, alert_ids: list[str], at: datetime
                           ) -> list[dict]:
    """Outbox rows announcing the end of these alerts to every receiver that was told they fired.

    Keys are ``idempotency_key(fingerprint, receiver + ':resolved', window_start)``, so each end
    is announced once per receiver.
    """
    if not alert_ids:
        return []
    rows = con.execute(
        "SELECT DISTINCT a.alert_id, a.fingerprint, a.window_start, n.receiver FROM alerts a"
        " JOIN notifications n USING (alert_id)"
        " WHERE list_contains(?, a.alert_id) AND n.status = 'sent' AND n.kind = 'firing'",
        [alert_ids]).fetchall()
    return [{"idempotency_key": idempotency_key(fp, f"{receiver}:resolved", start),
             "alert_id": alert_id, "receiver": receiver, "status": "pending", "attempts": 0,
             "created_at": at, "kind": "resolved"} for alert_id, fp, start, receiver in rows]


def enqueue_notifications(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> int:
    """Add pending notifications; an existing idempotency key is left untouched.

    Returns:
        number of notifications newly queued.
    """
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["idempotency_key", "alert_id", "receiver", "status",
                                        "attempts", "created_at", "kind"])
    frame["kind"] = frame["kind"].astype(object).where(frame["kind"].notna(), "firing")
    before = con.execute("SELECT count(*) FROM notifications").fetchall()[0][0]
    upsert_frame(con, "notifications", frame, ["idempotency_key"], None)
    return con.execute("SELECT count(*) FROM notifications").fetchall()[0][0] - before


def last_notified(con: duckdb.DuckDBPyConnection, fingerprints: list[str]
                  ) -> dict[tuple[str, str], datetime]:
    """``(fingerprint, receiver) -> latest created_at`` of firing notifications (cooldowns)."""
    if not fingerprints:
        return {}
    rows = con.execute(
        "SELECT a.fingerprint, n.receiver, max(n.created_at) FROM notifications n"
        " JOIN alerts a USING (alert_id) WHERE list_contains(?, a.fingerprint)"
        " AND n.kind = 'firing' GROUP BY ALL", [list(fingerprints)]).fetchall()
    return {(fp, receiver): created for fp, receiver, created in rows}


def pending_notifications(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Queued (and earlier failed-but-retryable) notifications joined with their alert."""
    return con.execute(
        "SELECT n.idempotency_key, n.receiver, n.attempts, n.kind, a.* FROM notifications n"
        " JOIN alerts a USING (alert_id) WHERE n.status = 'pending'"
        " ORDER BY a.severity, a.window_start, a.rule, a.entity"
    ).df()


def record_delivery(
    con: duckdb.DuckDBPyConnection, key: str, *, status: str, at: datetime, error: str | None,
    attempted: bool = True,
) -> None:
    """Record a delivery outcome: ``sent`` (with time), ``pending`` (retry later) or ``failed``.

    Args:
        attempted: False when the notification was not sent at all (its channel was down this
            run): ``attempts`` is then left as it was.
    """
    con.execute(
        "UPDATE notifications SET status = ?, attempts = attempts + ?,"
        " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, error = ?"
        " WHERE idempotency_key = ?",
        [status, 1 if attempted else 0, status, at, error, key],
    )
