"""The dashboard's writes: creating and expiring silences, through the library.

Everything else the dashboard does is read-only. Each write passes the acting user (from
:func:`dashboard.auth.current_actor`, read when the write runs) to
:mod:`pipeline.alerting.silencing`, which checks the role and the silence bounds on the server
side and records who, when and why, exactly as ``tonewatch silence`` does; it opens a
read-write connection for the length of one statement (waiting for a running pipeline stage to
release the file lock).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pipeline.access.roles import Actor
from pipeline.alerting.silences import LABEL_NAMES, Matcher, SilencePolicy
from pipeline.alerting.silencing import create_silence, expire

#: How long the dashboard waits for a pipeline writer before giving up, seconds.
WRITE_LOCK_TIMEOUT_S = 10.0


def alert_matchers(labels: dict[str, str], names: list[str]) -> list[Matcher]:
    """Equality matchers on the chosen alert labels (``rule``, ``scope``, ``entity``,
    ``severity``), in that canonical order.

    Raises:
        ValueError: a name that is not an alert label.
    """
    unknown = sorted(set(names) - set(LABEL_NAMES))
    if unknown:
        raise ValueError(f"not alert labels: {unknown}; use {LABEL_NAMES}")
    return [Matcher(name, "=", str(labels[name])) for name in LABEL_NAMES if name in names]


def silence_alert(db_path: str, labels: dict[str, str], names: list[str], *,
                  duration: timedelta, actor: Actor | None, comment: str, now: datetime,
                  policy: SilencePolicy) -> str:
    """Silence alerts whose labels equal ``labels`` on ``names``, from ``now`` for ``duration``,
    authored by ``actor``.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        labels: the alert's labels (``rule``, ``scope``, ``entity``, ``severity``).
        names: which labels the silence matches on (at least one).
        duration: how long the silence lasts.
        actor: the signed-in user (None: anonymous, refused); the silence's author.
        comment: why, kept with the silence for audit.
        now: the current instant, tz-aware UTC (the start and the creation time).
        policy: the configured silence bounds.

    Returns:
        the new silence's id.

    Raises:
        AccessDeniedError: not signed in, a role below responder, longer than the policy
            allows, or a broad silence without the admin role; nothing is written.
        TonewatchError: no matcher, empty comment, non-positive duration.
        StorageError: the database is locked for longer than :data:`WRITE_LOCK_TIMEOUT_S`
            or cannot be written.
    """
    return create_silence(Path(db_path), alert_matchers(labels, names), starts_at=now,
                          ends_at=now + duration, actor=actor, comment=comment, now=now,
                          policy=policy, lock_timeout_s=WRITE_LOCK_TIMEOUT_S)


def expire_silence(db_path: str, silence_id: str, *, actor: Actor | None, comment: str,
                   now: datetime, policy: SilencePolicy) -> None:
    """End a silence now on behalf of ``actor``, recording who, when and why.

    Raises:
        AccessDeniedError: not signed in, a role below responder, or a broad silence without
            ``policy.broad_role``; nothing is written.
        TonewatchError: unknown id, already ended, or an empty comment.
        StorageError: locked longer than :data:`WRITE_LOCK_TIMEOUT_S` or unwritable.
    """
    expire(Path(db_path), silence_id, actor=actor, comment=comment, now=now, policy=policy,
           lock_timeout_s=WRITE_LOCK_TIMEOUT_S)
