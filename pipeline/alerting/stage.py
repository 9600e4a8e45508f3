"""The alerting stage: rules evaluated over stored windows, decisions turned into alert records.

One pass covers one window end (a scheduled run) or many (a replay): for each rule, storage
aggregates every interval the windows need in one query
(:func:`pipeline.storage.stories.interval_stats`), detection decides every window from those
numbers (:func:`pipeline.detection.windows.decide_windows`), then window by window, in order,
the surges go through the policy chain (:mod:`pipeline.alerting.policy`: life cycle → silence →
inhibit → cooldown → queue) against an in-memory :class:`~pipeline.alerting.lifecycle.AlertBook`,
and storage writes the result once. Evaluating N windows in one pass records the same alert
rows as N passes of one window each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from pipeline.alerting.lifecycle import AlertBook
from pipeline.alerting.messages import explanation, surge_line
from pipeline.alerting.policy import Surge, identify, inhibit, life_cycle, notifications, silence
from pipeline.alerting.silences import from_stored, in_force
from pipeline.detection.decide import Decision
from pipeline.detection.windows import decide_windows, plan_rule
from pipeline.domain import Window, as_utc
from pipeline.errors import ConfigError
from pipeline.storage import alerts as alert_store
from pipeline.storage.silences import silences_overlapping
from pipeline.storage.stories import feed_names, interval_stats, window_details

#: Counters of one window's pass, in the order ``tonewatch detect`` prints them.
COUNT_KEYS = ("evaluated", "insufficient", "pending", "firing", "resolved", "queued", "silenced",
              "inhibited")


@dataclass
class WindowOutcome:
    """What one window end's evaluation did.

    Attributes:
        end: the window end (UTC).
        counts: :data:`COUNT_KEYS` → int.
        messages: one line per pending or firing alert (:func:`~pipeline.alerting.messages.
            surge_line`), rule by rule.
    """

    end: datetime
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    messages: list[str] = field(default_factory=list)


def require_topics(rules, topics) -> None:
    """Check that topics are defined when a rule has ``scope: topic``.

    Raises:
        ConfigError: a topic rule and no topics defined.
    """
    topic_rules = [r.name for r in rules if r.scope == "topic"]
    if topic_rules and not topics:
        raise ConfigError(f"alert rule {topic_rules[0]!r} has scope topic but no topics are "
                          "defined (TONEWATCH_TOPICS_FILE, default config/topics.yaml)")


def decisions_over(
    con: duckdb.DuckDBPyConnection, rules, ends: Sequence[datetime], *, model_version: str,
    topics=None, watchlist: Sequence[str] | None = None,
) -> dict[str, tuple[tuple[Window, ...], list[list[Decision]]]]:
    """Every rule's decisions at each of ``ends`` (distinct UTC instants); reads only.

    One aggregate query per rule over all the intervals its windows need, plus one for the
    market's numbers per distinct set of intervals (rules with the same window and baseline
    share it). With a ``watchlist`` (tickers), ticker rules evaluate only those companies,
    so the false-discovery control runs over the companies a desk covers.

    Returns:
        ``rule name -> (windows, decisions)``: the rule's window at each end, and per window
        its :class:`~pipeline.detection.decide.Decision` list (sorted by entity).

    Raises:
        ConfigError: a topic rule and no topics defined.
    """
    require_topics(rules, topics)
    market_cache: dict[tuple[Window, ...], object] = {}
    out = {}
    for rule in rules:
        plan = plan_rule(rule, ends)
        stats = interval_stats(con, scope=rule.scope, intervals=plan.intervals,
                               model_version=model_version, topics=topics,
                               min_relevance=rule.min_relevance,
                               entities=watchlist if rule.scope == "ticker" else None)
        if rule.scope == "market":
            market_cache.setdefault(plan.intervals, stats)
        if plan.intervals not in market_cache:
            market_cache[plan.intervals] = interval_stats(
                con, scope="market", intervals=plan.intervals, model_version=model_version)
        out[rule.name] = (plan.windows, decide_windows(rule, plan, stats,
                                                       market_cache[plan.intervals]))
    return out


def rule_decisions(con: duckdb.DuckDBPyConnection, rule, *, at: datetime, model_version: str,
                   topics=None, watchlist: Sequence[str] | None = None) -> list[Decision]:
    """One rule's decisions for its window ending at ``at`` (UTC); reads only.

    Raises:
        ConfigError: a topic rule and no topics defined.
    """
    return decisions_over(con, [rule], [at], model_version=model_version,
                          topics=topics, watchlist=watchlist)[rule.name][1][0]


def _alert_row(s: Surge, *, at: datetime, model_version: str, dashboard_url: str) -> dict:
    d = s.decision
    return {
        "alert_id": s.alert_id, "fingerprint": s.fingerprint, "rule": d.rule, "scope": d.scope,
        "entity": d.entity, "window_start": s.window.start, "window_end": s.window.end,
        "state": s.state, "observed": d.observed, "expected": d.expected,
        "p_value": d.p_value, "q_value": d.q_value, "severity": s.rule.severity,
        "n_stories": d.n_stories, "n_negative": d.n_negative,
        "baseline_stories": d.baseline_stories,
        "explanation": explanation(s.rule, entity_name=s.entity_name,
                                   model_version=model_version, streak=s.streak,
                                   silenced_by=s.silenced_by, inhibited_by=s.inhibited_by,
                                   alert_id=s.alert_id, dashboard_url=dashboard_url),
        "created_at": at, "resolved_at": None,
    }


def detect_windows(
    con: duckdb.DuckDBPyConnection, rules, ends: Sequence[datetime], *, model_version: str,
    topics=None, receivers: Sequence[str] = (), enqueue: bool = False, dashboard_url: str = "",
    watchlist: Sequence[str] | None = None,
) -> list[WindowOutcome]:
    """Evaluate ``rules`` at each window end and record alerts (caller's transaction).

    Surges become ``alerts`` rows (``pending`` until they held for the rule's
    ``for_windows``, then ``firing``); calm decisions resolve earlier alerts of their
    fingerprint; firing alerts matching an active silence, or inhibited by a market-wide surge
    in the same window, are recorded with ``silenced_by`` / ``inhibited_by`` but not notified.

    Args:
        con: read-write connection inside a transaction.
        rules: :class:`~pipeline.detection.rules.AlertRule` list.
        ends: distinct window ends (aware UTC), evaluated in increasing order.
        model_version: whose scores count.
        topics: :class:`~pipeline.detection.topics.Topic` list for ``scope: topic`` rules.
        receivers: configured receiver names (``default`` expands to them).
        enqueue: queue notifications (only for a single window end: a replay never notifies).
        dashboard_url: base URL linked from each alert.
        watchlist: tickers that ticker rules are restricted to (None: every company).

    Returns:
        one :class:`WindowOutcome` per end, in increasing order.

    Raises:
        ValueError: ``enqueue`` with more than one window end.
        ConfigError: a topic rule and no topics defined.
    """
    ends = sorted({as_utc(end) for end in ends})  # plain UTC datetimes (as_utc), deduplicated
    if enqueue and len(ends) > 1:
        raise ValueError("notifications are queued for one window end at a time")
    if not ends:
        return []
    decided = decisions_over(con, rules, ends, model_version=model_version, topics=topics,
                             watchlist=watchlist)
    book = AlertBook.from_frame(alert_store.alert_states(
        con, [r.name for r in rules], first_end=ends[0], last_end=ends[-1]))
    silences = from_stored(silences_overlapping(con, ends[0], ends[-1]))
    names = feed_names(con) if any(r.scope == "source" for r in rules) else {}
    outcomes, recorded = [], []
    for t, at in enumerate(ends):
        surges, calm, outcome = _surges_at(rules, decided, t, at, names)
        life_cycle(surges, book)
        silence(surges, in_force(silences, at))
        inhibit(surges)
        recorded += _record(surges, book, outcome, model_version=model_version,
                            dashboard_url=dashboard_url)
        ended = book.resolve(calm, at)
        outcome.counts["resolved"] += len(ended)
        outcomes.append(outcome)
    _explain(con, rules, recorded, model_version=model_version, topics=topics)
    alert_store.upsert_alerts(con, list(book.written.values()))
    alert_store.mark_resolved(con, book.resolved)
    if enqueue:
        firing = [s.fingerprint for s, _ in recorded if s.state == "firing" and not s.muted]
        queue = notifications([s for s, _ in recorded], receivers=list(receivers), at=ends[0],
                              last_notified=alert_store.last_notified(con, firing))
        queue += alert_store.resolved_notifications(con, ended, ends[0])
        outcomes[0].counts["queued"] += alert_store.enqueue_notifications(con, queue)
    return outcomes


def _surges_at(rules, decided: dict, t: int, at: datetime, names: dict
               ) -> tuple[list[Surge], list[str], WindowOutcome]:
    """Window ``t``'s surges of every rule (rule order), its calm fingerprints, its counts."""
    outcome, surges, calm = WindowOutcome(at), [], []
    for rule in rules:
        windows, per_window = decided[rule.name]
        found, quiet = identify(rule, windows[t], per_window[t], names)
        outcome.counts["evaluated"] += len(per_window[t])
        outcome.counts["insufficient"] += sum(d.status == "insufficient" for d in per_window[t])
        surges += found
        calm += quiet
    return surges, calm, outcome


def _record(surges: list[Surge], book: AlertBook, outcome: WindowOutcome, *,
            model_version: str, dashboard_url: str) -> list[tuple[Surge, dict]]:
    """Count, describe and record one window's surges; returns ``(surge, alert row)`` pairs."""
    pairs = []
    for s in surges:
        outcome.counts[s.state] += 1
        if s.state == "firing" and s.muted:
            outcome.counts["silenced" if s.silenced_by else "inhibited"] += 1
        outcome.messages.append(surge_line(
            s.rule, s.decision, s.window, state=s.state, entity_name=s.entity_name,
            streak=s.streak, silenced_by=s.silenced_by, inhibited_by=s.inhibited_by))
        row = _alert_row(s, at=outcome.end, model_version=model_version,
                         dashboard_url=dashboard_url)
        pairs.append((s, book.record(row, streak=s.streak)))
    return pairs


def _explain(con: duckdb.DuckDBPyConnection, rules, recorded: list[tuple[Surge, dict]], *,
             model_version: str, topics) -> None:
    """Fill each alert's sources and headlines: one query pair per rule for the whole pass."""
    for rule in rules:
        pairs = [(s, row) for s, row in recorded if s.rule.name == rule.name]
        if not pairs:
            continue
        details = window_details(con, scope=rule.scope, model_version=model_version,
                                 items=[(s.decision.entity, s.window) for s, _ in pairs],
                                 topics=topics, min_relevance=rule.min_relevance)
        for s, row in pairs:
            row["explanation"].update(details[(s.decision.entity, s.window)])
