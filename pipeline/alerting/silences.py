"""Silences and inhibition: which firing alerts must not notify anyone.

Both follow Prometheus Alertmanager (https://prometheus.io/docs/alerting/latest/alertmanager/):

- a **silence** is a set of label matchers (``label=value``, ``label!=value``, ``label=~regex``,
  ``label!~regex``, regexes anchored at both ends) with a time range, an author and a comment;
  an alert whose labels match *every* matcher of an active silence is recorded but not notified;
- **inhibition**: while a market-wide surge fires (not merely pending) for a window, ticker and
  source alerts of a window of the same length ending at the same instant are recorded but not
  notified (the market alert already says it all).

Alert labels are ``rule``, ``scope``, ``entity`` and ``severity`` (``entity`` also answers to
the entity's display name, e.g. a source's feed name).

Silences are bounded (:class:`SilencePolicy`): no longer than a configured maximum, and a
*broad* silence, one that can match every alert of a scope or the market-wide alert
(:func:`is_broad`), needs a higher role (``admin`` by default) than one entity's silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.access.roles import Actor, require, role_allows
from pipeline.errors import AccessDeniedError, ConfigError

LABEL_NAMES = ("rule", "scope", "entity", "severity")
_MATCHER = re.compile(r"^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$")

#: scope of an alert that inhibits → scopes it mutes in the same window
INHIBITS = {"market": ("ticker", "sector", "source")}


@dataclass(frozen=True)
class Matcher:
    """One label matcher."""

    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfies this matcher (a missing label is the empty string).

        ``entity`` matches the entity's id or its display name (``entity_name``: a source's
        feed name, as alerts show it), so ``entity=Example Wire`` silences that feed's alerts;
        a negative matcher (``!=``, ``!~``) must hold for both.
        """
        values = [str(labels.get(self.label, ""))]
        if self.label == "entity" and labels.get("entity_name") not in (None, "", values[0]):
            values.append(str(labels["entity_name"]))
        if self.op == "=":
            return self.value in values
        if self.op == "!=":
            return all(v != self.value for v in values)
        found = any(re.fullmatch(self.value, v) is not None for v in values)
        return found if self.op == "=~" else not found

    def to_dict(self) -> dict[str, str]:
        """JSON form stored in ``silences.matchers``."""
        return {"label": self.label, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """``"entity=ACME"`` → :class:`Matcher`.

    Raises:
        ConfigError: not ``label OP value``, an unknown label, or an invalid regular expression.
    """
    match = _MATCHER.match(text or "")
    if not match:
        raise ConfigError(f"bad matcher {text!r}: expected LABEL=VALUE, LABEL!=VALUE, "
                          "LABEL=~REGEX or LABEL!~REGEX")
    label, op, value = match.groups()
    if label not in LABEL_NAMES:
        raise ConfigError(f"bad matcher {text!r}: unknown label {label!r}; use one of {LABEL_NAMES}")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"bad matcher {text!r}: invalid regular expression ({exc})") from exc
    return Matcher(label, op, value.strip("\"'"))


def silenced_by(labels: dict[str, str], silences: list[dict]) -> str | None:
    """Id of the first active silence all of whose matchers match ``labels``, else None.

    Args:
        labels: the alert's labels.
        silences: active silences, each ``{"silence_id", "matchers": [Matcher, ...]}``.
    """
    for silence in silences:
        if silence["matchers"] and all(m.matches(labels) for m in silence["matchers"]):
            return silence["silence_id"]
    return None


def inhibited(scope: str, firing_scopes: set[str]) -> bool:
    """Whether an alert of ``scope`` is muted by a firing alert of another scope in its window."""
    return any(scope in INHIBITS.get(other, ()) for other in firing_scopes)


def from_stored(silences: list[dict]) -> list[dict]:
    """Silences as storage returns them (matchers as dicts) with :class:`Matcher` objects.

    Args:
        silences: rows of :func:`pipeline.storage.silences.silences_overlapping`.

    Returns:
        the same dicts (copied) with ``matchers`` a list of :class:`Matcher`.
    """
    return [{**s, "matchers": [Matcher(m["label"], m["op"], m["value"]) for m in s["matchers"]]}
            for s in silences]


def in_force(silences: list[dict], at: datetime) -> list[dict]:
    """The silences of ``silences`` active at ``at`` (started, not ended, not expired), in order."""
    return [s for s in silences if s["starts_at"] <= at < s["ends_at"]
            and (s.get("expired_at") is None or s["expired_at"] > at)]


@dataclass(frozen=True)
class SilencePolicy:
    """Bounds on silences (settings ``TONEWATCH_SILENCE_MAX_HOURS``, ``_SILENCE_BROAD_ROLE``).

    Attributes:
        max_duration: longest ``ends_at - starts_at`` allowed.
        broad_role: role needed for a silence :func:`is_broad` calls broad.
    """

    max_duration: timedelta = timedelta(days=7)
    broad_role: str = "admin"

    @classmethod
    def from_settings(cls, settings) -> SilencePolicy:
        """The policy configured in :class:`pipeline.config.Settings`."""
        return cls(timedelta(hours=settings.silence_max_hours), settings.silence_broad_role)


def is_broad(matchers: list[Matcher]) -> bool:
    """Whether a silence can match every alert of a scope or the market-wide alert.

    A silence is narrow only when it pins one entity (an ``entity=VALUE`` matcher) *and* has a
    ``scope`` matcher that rejects ``market`` (the market scope has a single entity, so any
    silence that can match it mutes the whole scope). ``scope=market``, ``rule=~.*``,
    ``entity=~AC.*`` and a lone ``entity=ACME`` (which says nothing of the scope) are broad.
    """
    pins_entity = any(m.label == "entity" and m.op == "=" for m in matchers)
    excludes_market = any(not m.matches({"scope": "market"}) for m in matchers
                          if m.label == "scope")
    return not (pins_entity and excludes_market)


def _check_breadth(matchers: list[Matcher], actor: Actor, policy: SilencePolicy,
                   what: str) -> None:
    if is_broad(matchers) and not role_allows(actor.role, policy.broad_role):
        raise AccessDeniedError(
            f"{actor.name} ({actor.role}) may not {what} a silence of a whole scope or of the "
            f"market-wide alert; that needs {policy.broad_role}. Name a scope other than "
            "market and one entity (e.g. scope=ticker, entity=ACME)")


def check_silence(matchers: list[Matcher], *, starts_at: datetime, ends_at: datetime,
                  actor: Actor | None, policy: SilencePolicy, now: datetime) -> Actor:
    """Check that ``actor`` may create this silence under ``policy`` at ``now``; return the
    actor.

    A silence must not be over already, and must end within ``policy.max_duration`` of
    ``now``, so that chaining silences that start later cannot mute for longer than the
    maximum (a fresh decision is needed for each stretch).

    Raises:
        AccessDeniedError: not signed in or a role below ``responder``; longer than
            ``policy.max_duration``, or ending more than that after ``now``; already ended
            (``ends_at <= now``); broad (:func:`is_broad`) without ``policy.broad_role``.
    """
    actor = require(actor, "silence.create")
    hours = policy.max_duration.total_seconds() / 3600
    if ends_at - starts_at > policy.max_duration:
        raise AccessDeniedError(
            f"a silence may last at most {hours:g} h (TONEWATCH_SILENCE_MAX_HOURS); this one "
            f"lasts {(ends_at - starts_at).total_seconds() / 3600:g} h")
    if ends_at - now > policy.max_duration:
        raise AccessDeniedError(
            f"a silence must end within {hours:g} h of now (TONEWATCH_SILENCE_MAX_HOURS); "
            f"this one ends {(ends_at - now).total_seconds() / 3600:g} h from now")
    if ends_at <= now:
        raise AccessDeniedError(f"this silence would already be over (it ends "
                                f"{ends_at:%Y-%m-%d %H:%M} UTC): it would mute nothing")
    _check_breadth(matchers, actor, policy, "create")
    return actor


def check_expiry(matchers: list[Matcher], *, actor: Actor | None,
                 policy: SilencePolicy) -> Actor:
    """Check that ``actor`` may end a silence with ``matchers`` early; return the actor.

    The same bar as creating it: a broad silence (:func:`is_broad`) needs
    ``policy.broad_role``.

    Raises:
        AccessDeniedError: not signed in, a role below ``responder``, or a broad silence
            without ``policy.broad_role``.
    """
    actor = require(actor, "silence.expire")
    _check_breadth(matchers, actor, policy, "expire")
    return actor
