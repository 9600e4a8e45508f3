"""The ``silences`` table: add, list, expire (never delete), and the ones active at an instant.

Matchers are stored and returned as plain dicts ``{"label", "op", "value"}`` (the JSON of
``silences.matchers``); :mod:`pipeline.alerting.silences` turns them into matcher objects.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import duckdb
import pandas as pd

from pipeline.errors import TonewatchError


def _matcher_dict(matcher) -> dict[str, str]:
    as_dict = matcher if isinstance(matcher, dict) else matcher.to_dict()
    return {"label": as_dict["label"], "op": as_dict["op"], "value": as_dict["value"]}


def add_silence(con: duckdb.DuckDBPyConnection, matchers: list, *, starts_at: datetime,
                ends_at: datetime, author: str, comment: str, now: datetime) -> str:
    """Store a silence and return its id (12 hex digits).

    Args:
        matchers: ``{"label", "op", "value"}`` dicts, or objects with ``to_dict()`` returning
            one (:class:`pipeline.alerting.silences.Matcher`).

    Raises:
        TonewatchError: no matcher, an empty author or comment, or ``ends_at <= starts_at``.
    """
    if not matchers:
        raise TonewatchError("a silence needs at least one matcher (--match LABEL=VALUE)")
    if not author.strip() or not comment.strip():
        raise TonewatchError("a silence needs an author and a comment (kept for audit)")
    if ends_at <= starts_at:
        raise TonewatchError("a silence must end after it starts")
    payload = json.dumps([_matcher_dict(m) for m in matchers])
    silence_id = hashlib.sha1(f"{payload}|{starts_at.isoformat()}|{now.isoformat()}".encode()).hexdigest()[:12]
    con.execute("INSERT INTO silences (silence_id, matchers, starts_at, ends_at, author, comment,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [silence_id, payload, starts_at, ends_at, author.strip(), comment.strip(), now])
    return silence_id


def expire_silence(con: duckdb.DuckDBPyConnection, silence_id: str, now: datetime, *,
                   by: str, comment: str) -> None:
    """End a silence now (the row stays for audit, with who ended it, when and why).

    Args:
        by: who expires it (kept in ``expired_by``).
        comment: why (kept in ``expiry_comment``).
        now: the instant, tz-aware UTC (kept in ``expired_at``).

    Raises:
        TonewatchError: unknown id, already expired / ended, or an empty ``by`` or ``comment``.
    """
    if not by.strip() or not comment.strip():
        raise TonewatchError("expiring a silence needs who and a comment (kept for audit)")
    rows = con.execute("SELECT ends_at, expired_at FROM silences WHERE silence_id = ?",
                       [silence_id]).fetchall()
    if not rows:
        raise TonewatchError(f"no silence with id {silence_id!r} (see `tonewatch silence list --all`)")
    ends_at, expired_at = rows[0]
    if expired_at is not None or ends_at <= now:
        raise TonewatchError(f"silence {silence_id} has already ended")
    con.execute("UPDATE silences SET expired_at = ?, expired_by = ?, expiry_comment = ?"
                " WHERE silence_id = ?", [now, by.strip(), comment.strip(), silence_id])


def silence_matchers(con: duckdb.DuckDBPyConnection, silence_id: str) -> list[dict] | None:
    """The matchers (``{"label", "op", "value"}`` dicts) of one silence; None for an unknown
    id."""
    row = con.execute("SELECT matchers FROM silences WHERE silence_id = ?",
                      [silence_id]).fetchone()
    return None if row is None else json.loads(row[0])


def list_silences(con: duckdb.DuckDBPyConnection, *, at: datetime, include_ended: bool = False
                  ) -> pd.DataFrame:
    """Silences (active and pending; with ``include_ended`` also ended ones), newest first."""
    where = "" if include_ended else (
        "WHERE ends_at > ? AND (expired_at IS NULL OR expired_at > ?)")
    params = [] if include_ended else [at, at]
    return con.execute(f"SELECT * FROM silences {where} ORDER BY created_at DESC", params).df()


def silences_overlapping(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
                         ) -> list[dict]:
    """Silences in force at some instant of ``[start, end]`` (UTC), oldest first.

    Returns:
        ``[{"silence_id", "starts_at", "ends_at", "expired_at", "matchers": [dict, ...]}]``;
        a silence is in force at ``t`` when ``starts_at <= t < ends_at`` and it was not expired
        at or before ``t``.
    """
    rows = con.execute(
        "SELECT silence_id, starts_at, ends_at, expired_at, matchers FROM silences"
        " WHERE starts_at <= ? AND ends_at > ? AND (expired_at IS NULL OR expired_at > ?)"
        " ORDER BY created_at", [end, start, start]).fetchall()
    return [{"silence_id": sid, "starts_at": starts, "ends_at": ends, "expired_at": expired,
             "matchers": json.loads(payload)} for sid, starts, ends, expired, payload in rows]


def active_silences(con: duckdb.DuckDBPyConnection, at: datetime) -> list[dict]:
    """Silences in force at ``at`` (UTC), oldest first; see :func:`silences_overlapping`."""
    return silences_overlapping(con, at, at)
