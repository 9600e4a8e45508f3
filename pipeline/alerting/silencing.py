"""Creating and expiring silences on behalf of someone: access check, bounds, audit row.

The one path every front end takes to change silences (``tonewatch silence``, the dashboard's
Alerts page): the acting user's role and the :class:`~pipeline.alerting.silences.SilencePolicy`
are checked here, on the server side, whatever the front end showed or hid; the row records
who, when and why (:mod:`pipeline.storage.silences`). Nothing is written when a check fails.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pipeline.access.roles import Actor, require
from pipeline.alerting.silences import (
    Matcher, SilencePolicy, check_expiry, check_silence,
)
from pipeline.storage.db import connect
from pipeline.storage.silences import add_silence, expire_silence, silence_matchers


def create_silence(db_path: Path, matchers: list[Matcher], *, starts_at: datetime,
                   ends_at: datetime, actor: Actor | None, comment: str, now: datetime,
                   policy: SilencePolicy, lock_timeout_s: float = 30.0) -> str:
    """Store a silence authored by ``actor`` after checking their role and ``policy``.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        matchers: the silence's label matchers (at least one).
        starts_at, ends_at: its time range, tz-aware UTC.
        actor: who silences (None: nobody signed in, refused); their name is the author.
        comment: why (kept for audit).
        now: the current instant, tz-aware UTC (``created_at``).
        policy: the configured bounds.
        lock_timeout_s: how long to wait for a pipeline writer, seconds.

    Returns:
        the new silence's id (12 hex digits).

    Raises:
        AccessDeniedError: not signed in, role too low, too long (or ending more than the
            maximum after ``now``), already over, or broad without the role.
        TonewatchError: no matcher, empty comment, ``ends_at <= starts_at``.
        StorageError: the database is locked longer than ``lock_timeout_s`` or unwritable.
    """
    actor = check_silence(matchers, starts_at=starts_at, ends_at=ends_at, actor=actor,
                          policy=policy, now=now)
    with connect(Path(db_path), lock_timeout_s=lock_timeout_s) as con:
        return add_silence(con, matchers, starts_at=starts_at, ends_at=ends_at,
                           author=actor.name, comment=comment, now=now)


def expire(db_path: Path, silence_id: str, *, actor: Actor | None, comment: str,
           now: datetime, policy: SilencePolicy, lock_timeout_s: float = 30.0) -> None:
    """End a silence now on behalf of ``actor``, recording who, when and why.

    Args:
        policy: the configured bounds: a broad silence needs ``policy.broad_role`` to end,
            as to create.

    Raises:
        AccessDeniedError: not signed in, a role below ``responder``, or a broad silence
            without ``policy.broad_role``; nothing is written.
        TonewatchError: unknown id, already ended, or an empty comment.
        StorageError: the database is locked longer than ``lock_timeout_s`` or unwritable.
    """
    with connect(Path(db_path), lock_timeout_s=lock_timeout_s) as con:
        stored = silence_matchers(con, silence_id)
        # An unknown id needs only the role; expire_silence then says it is unknown.
        actor = (require(actor, "silence.expire") if stored is None else
                 check_expiry([Matcher(**m) for m in stored], actor=actor, policy=policy))
        expire_silence(con, silence_id, now, by=actor.name, comment=comment)
