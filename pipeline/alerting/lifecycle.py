"""The alert life cycle: pending → firing → resolved, kept in memory across windows.

As Prometheus' ``for``: a surge is ``pending`` until it has held for the rule's
``for_windows`` consecutive windows, then ``firing``; a calm window resolves every open
(``pending`` or ``firing``) alert of its fingerprint whose window ended by then. An alert that
a later window already resolved stays resolved when its own window is evaluated again (a
re-run or a one-date backfill must not undo it).

:class:`AlertBook` holds the recorded alerts one detection pass can read or change (loaded
with :func:`pipeline.storage.alerts.alert_states`), applies each window's outcome in window
order, and collects what storage must write afterwards. Replaying many windows through one
book gives the rows that evaluating them one at a time against the database gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd


@dataclass
class AlertRecord:
    """What the life cycle needs of one recorded alert."""

    alert_id: str
    fingerprint: str
    window_end: datetime
    state: str
    streak: int
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """``pending`` or ``firing``."""
        return self.state in ("pending", "firing")


def _instant(value) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


class AlertBook:
    """Recorded alerts, updated window by window; see the module docstring.

    Attributes:
        written: ``alert_id -> alert row`` recorded by this pass (final state included).
        resolved: ``alert_id -> resolved_at`` of alerts recorded *before* this pass that it
            resolved.
    """

    def __init__(self, records: list[AlertRecord] = ()) -> None:
        self._by_id: dict[str, AlertRecord] = {}
        self._open: dict[str, dict[str, AlertRecord]] = {}  # fingerprint -> open records
        self._open_at: dict[tuple[str, datetime], AlertRecord] = {}  # (fp, window_end)
        self.written: dict[str, dict] = {}
        self.resolved: dict[str, datetime] = {}
        for record in records:
            self._put(record)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "AlertBook":
        """A book from :func:`pipeline.storage.alerts.alert_states` rows."""
        return cls([AlertRecord(r.alert_id, r.fingerprint, _instant(r.window_end), r.state,
                                int(r.streak), _instant(r.resolved_at))
                    for r in frame.itertuples(index=False)])

    def _put(self, record: AlertRecord) -> None:
        old = self._by_id.get(record.alert_id)
        if old is not None:
            self._open.get(old.fingerprint, {}).pop(old.alert_id, None)
            if self._open_at.get((old.fingerprint, old.window_end)) is old:
                del self._open_at[(old.fingerprint, old.window_end)]
        self._by_id[record.alert_id] = record
        if record.is_open:
            self._open.setdefault(record.fingerprint, {})[record.alert_id] = record
            self._open_at.setdefault((record.fingerprint, record.window_end), record)

    def streak_before(self, fingerprint: str, previous_end: datetime) -> int:
        """Consecutive windows up to the one ending at ``previous_end`` this alert held
        (0 when that window's alert is not open)."""
        record = self._open_at.get((fingerprint, previous_end))
        return record.streak if record is not None else 0

    def record(self, row: dict, *, streak: int) -> dict:
        """Record an evaluated surge (an ``alerts`` row); keeps an earlier resolution.

        Args:
            row: the alert row (``alert_id``, ``fingerprint``, ``window_end``, ``state``, ...);
                its ``state`` / ``resolved_at`` are set to the stored resolution if the alert
                was already resolved.
            streak: the surge's consecutive windows, this one included.

        Returns:
            ``row``, as it will be written.
        """
        old = self._by_id.get(row["alert_id"])
        if old is not None and old.state == "resolved":
            row["state"], row["resolved_at"] = "resolved", old.resolved_at
        self._put(AlertRecord(row["alert_id"], row["fingerprint"], row["window_end"],
                              row["state"], streak, row["resolved_at"]))
        self.written[row["alert_id"]] = row
        return row

    def resolve(self, fingerprints: list[str], at: datetime) -> list[str]:
        """Resolve the open alerts of ``fingerprints`` whose window ended by ``at``.

        Returns:
            the ids resolved now.
        """
        ended = []
        for fp in fingerprints:
            for record in [r for r in self._open.get(fp, {}).values() if r.window_end <= at]:
                self._put(AlertRecord(record.alert_id, fp, record.window_end, "resolved",
                                      record.streak, at))
                if record.alert_id in self.written:
                    self.written[record.alert_id].update(state="resolved", resolved_at=at)
                else:
                    self.resolved[record.alert_id] = at
                ended.append(record.alert_id)
        return ended
