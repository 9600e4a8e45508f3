"""The one write the dashboard makes: creating a silence, through the library.

Everything else the dashboard does is read-only. The write opens a read-write connection with
:func:`pipeline.storage.db.connect` for the length of one INSERT (waiting for a running
pipeline stage to release the file lock) and stores the silence with
:func:`pipeline.storage.silences.add_silence`, exactly as ``tonewatch silence add`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pipeline.alerting.silences import LABEL_NAMES, Matcher
from pipeline.storage.db import connect
from pipeline.storage.silences import add_silence

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
                  duration: timedelta, author: str, comment: str, now: datetime) -> str:
    """Silence alerts whose labels equal ``labels`` on ``names``, from ``now`` for ``duration``.

    Args:
        db_path: path of ``tonewatch.duckdb``.
        labels: the alert's labels (``rule``, ``scope``, ``entity``, ``severity``).
        names: which labels the silence matches on (at least one).
        duration: how long the silence lasts.
        author, comment: kept with the silence for audit.
        now: the current instant, tz-aware UTC (the start and the creation time).

    Returns:
        the new silence's id.

    Raises:
        TonewatchError: no matcher, empty author or comment, non-positive duration.
        StorageError: the database is locked for longer than :data:`WRITE_LOCK_TIMEOUT_S`
            or cannot be written.
    """
    with connect(Path(db_path), lock_timeout_s=WRITE_LOCK_TIMEOUT_S) as con:
        matchers = [m.to_dict() for m in alert_matchers(labels, names)]
        return add_silence(con, matchers, starts_at=now, ends_at=now + duration, author=author,
                           comment=comment, now=now)
