"""What happens to one window's surges: life cycle → silence → inhibit → cooldown → queue.

Each step is a small function over the window's :class:`Surge` list (all rules together, in
rule then entity order), the shapes of Prometheus Alertmanager's pipeline. Grouping happens
at delivery (:func:`pipeline.alerting.dispatch.group_key`, from the rule's ``group_by`` kept
in the explanation); dedup against the outbox is its idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.alerting.lifecycle import AlertBook
from pipeline.alerting.notifiers import expand_receivers
from pipeline.alerting.silences import inhibited, silenced_by
from pipeline.domain import Window
from pipeline.storage.alerts import alert_id_for, fingerprint, idempotency_key


@dataclass
class Surge:
    """A surging decision on its way to an alert record.

    Attributes:
        rule, decision, window: the rule, its firing :class:`~pipeline.detection.decide.
            Decision` and the evaluated window.
        fingerprint, alert_id: identity (computed once, :func:`identify`).
        entity_name: the entity as shown (a source's feed name).
        streak, state: set by :func:`life_cycle`.
        silenced_by, inhibited_by: set by :func:`silence` and :func:`inhibit`.
    """

    rule: object
    decision: object
    window: Window
    fingerprint: str
    alert_id: str
    entity_name: str
    streak: int = 0
    state: str = "pending"
    silenced_by: str | None = None
    inhibited_by: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        """Alert labels silences match (``entity`` also answers to ``entity_name``)."""
        return {"rule": self.rule.name, "scope": self.decision.scope,
                "entity": self.decision.entity, "entity_name": self.entity_name,
                "severity": self.rule.severity}

    @property
    def muted(self) -> bool:
        """A firing alert that is recorded but not notified."""
        return bool(self.silenced_by or self.inhibited_by)


def identify(rule, window: Window, decisions: list, names: dict[str, str | None]
             ) -> tuple[list[Surge], list[str]]:
    """Fingerprint each decision once: surges to record, and calm fingerprints to resolve.

    Args:
        names: ``feed_id -> name`` (display names of ``source`` entities).

    Returns:
        ``(surges, calm fingerprints)``; insufficient decisions are in neither.
    """
    surges, calm = [], []
    for d in decisions:
        if d.status == "insufficient":
            continue
        fp = fingerprint({"rule": d.rule, "scope": d.scope, "entity": d.entity})
        if d.status == "calm":
            calm.append(fp)
            continue
        name = names.get(d.entity, d.entity) if d.scope == "source" else d.entity
        surges.append(Surge(rule, d, window, fp, alert_id_for(fp, window.start), name))
    return surges, calm


def life_cycle(surges: list[Surge], book: AlertBook) -> None:
    """Streak and state of each surge: ``firing`` once it held ``for_windows`` windows."""
    for s in surges:
        s.streak = book.streak_before(s.fingerprint, s.window.start) + 1
        s.state = "firing" if s.streak >= s.rule.for_windows else "pending"


def silence(surges: list[Surge], silences: list[dict]) -> None:
    """Note the first active silence whose matchers all match each surge's labels."""
    for s in surges:
        s.silenced_by = silenced_by(s.labels, silences)


def inhibit(surges: list[Surge]) -> None:
    """Mute ticker and source surges while a market surge *fires* for a window of the same
    length ending at the same instant (a pending one does not inhibit)."""
    firing_scopes: dict = {}
    for s in surges:
        if s.state == "firing":
            firing_scopes.setdefault(s.window, set()).add(s.decision.scope)
    for s in surges:
        s.inhibited_by = ("market" if inhibited(s.decision.scope, firing_scopes.get(s.window, set()))
                          else None)


def notifications(surges: list[Surge], *, receivers: list[str], at: datetime,
                  last_notified: dict[tuple[str, str], datetime]) -> list[dict]:
    """Outbox rows for firing, unmuted surges, past each receiver's cooldown.

    Args:
        receivers: configured receiver names (``default`` in a rule expands to them).
        at: the run instant (UTC): ``created_at`` of the rows.
        last_notified: ``(fingerprint, receiver) -> latest firing notification`` (cooldown:
            none again within ``rule.cooldown`` of it).
    """
    queue = []
    for s in surges:
        if s.state != "firing" or s.muted:
            continue
        for receiver in expand_receivers(s.rule.receivers, receivers):
            last = last_notified.get((s.fingerprint, receiver))
            if last is not None and last >= at - s.rule.cooldown:
                continue
            queue.append({"idempotency_key": idempotency_key(s.fingerprint, receiver, s.window.start),
                          "alert_id": s.alert_id, "receiver": receiver, "status": "pending",
                          "attempts": 0, "created_at": at})
    return queue
