"""Turn rule decisions into alert records and queued notifications (one detection pass).

Called by :func:`pipeline.run.detect` inside its transaction: for every rule, every entity's
decision (:func:`pipeline.detection.windows.rule_decisions`) becomes an ``alerts`` row
(``pending`` until it held for the rule's ``for_windows``, then ``firing``), calm decisions
resolve earlier alerts, and notifications are queued unless silenced, inhibited or within the
rule's cooldown (:mod:`pipeline.alerting.silences`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb


def record_decisions(
    con: duckdb.DuckDBPyConnection, rules: list, *, at: datetime, model_version: str,
    available: list[str], enqueue: bool, dashboard_url: str, counts: dict, messages: list[str],
    topics=None,
) -> None:
    """Evaluate ``rules`` at ``at`` and write alerts and notifications (caller's transaction).

    Args:
        con: read-write connection inside a transaction.
        rules: :class:`~pipeline.detection.rules.AlertRule` list.
        at: window end, aware UTC.
        model_version: whose scores count.
        available: configured receiver names (``default`` expands to them).
        enqueue: queue notifications (False for silent backfills).
        dashboard_url: base URL linked from each alert.
        counts: updated in place (evaluated, insufficient, pending, firing, resolved, queued,
            silenced, inhibited).
        messages: one line appended per pending or firing alert.
        topics: :class:`~pipeline.detection.topics.Topic` list for ``scope: topic`` rules.
    """
    from pipeline.alerting.notifiers import expand_receivers
    from pipeline.alerting.silences import inhibited, silenced_by
    from pipeline.detection.windows import rule_decisions, source_count, top_negative_headlines
    from pipeline.storage import alerts as alert_store
    from pipeline.storage.silences import active_silences

    decided = [(rule, rule_decisions(con, rule, at=at, model_version=model_version,
                                            topics=topics))
               for rule in rules]
    # Life-cycle state of every surge first (pending until it held for for_windows), so that
    # only a *firing* alert inhibits, and only alerts of its own window length ending at `at`.
    streaks: dict[str, int] = {}  # fingerprint -> consecutive surging windows, this one included
    firing_scopes: dict = {}  # window length -> scopes with a firing alert
    for rule, decisions in decided:
        for d in decisions:
            if d.status != "firing":
                continue
            fp = alert_store.fingerprint({"rule": d.rule, "scope": d.scope, "entity": d.entity})
            streak = alert_store.streak_before(con, fp, at - rule.window) + 1
            streaks[fp] = streak
            if streak >= rule.for_windows:
                firing_scopes.setdefault(rule.window, set()).add(d.scope)
    silences = active_silences(con, at)
    for rule, decisions in decided:
        w_start = at - rule.window
        firing_rows, calm_fps, queue = [], [], []
        for d in decisions:
            counts["evaluated"] += 1
            fp = alert_store.fingerprint({"rule": d.rule, "scope": d.scope, "entity": d.entity})
            if d.status == "insufficient":
                counts["insufficient"] += 1
                continue
            if d.status == "calm":
                calm_fps.append(fp)
                continue
            streak = streaks[fp]
            state = "firing" if streak >= rule.for_windows else "pending"
            counts[state] += 1
            alert_id = alert_store.alert_id_for(fp, w_start)
            entity_name = d.entity
            if d.scope == "source":
                names = con.execute("SELECT name FROM feeds WHERE feed_id = ?",
                                    [d.entity]).fetchall()
                entity_name = names[0][0] if names else d.entity
            labels = {"rule": d.rule, "scope": d.scope, "entity": d.entity,
                      "entity_name": entity_name, "severity": rule.severity}
            muted = silenced_by(labels, silences)
            inhibited_by = ("market" if inhibited(d.scope, firing_scopes.get(rule.window, set()))
                            else None)
            explanation = {
                "entity_name": entity_name, "baseline_days": rule.baseline.days,
                "model_version": model_version, "metric": rule.metric,
                "seasonality": rule.seasonality, "group_by": rule.group_by,
                "streak": streak, "for_windows": rule.for_windows, "silenced_by": muted,
                "inhibited_by": inhibited_by,
                "n_sources": source_count(con, scope=rule.scope, entity=d.entity,
                                          start=w_start, end=at),
                "dashboard_url": f"{dashboard_url.rstrip('/')}/?alert={alert_id}",
                "headlines": top_negative_headlines(
                    con, scope=rule.scope, entity=d.entity, start=w_start, end=at,
                    model_version=model_version),
            }
            firing_rows.append({
                "alert_id": alert_id, "fingerprint": fp, "rule": d.rule, "scope": d.scope,
                "entity": d.entity, "window_start": w_start, "window_end": at,
                "state": state, "observed": d.observed, "expected": d.expected,
                "p_value": d.p_value, "q_value": d.q_value, "severity": rule.severity,
                "n_stories": d.n_stories, "n_negative": d.n_negative,
                "baseline_stories": d.baseline_stories, "explanation": explanation,
                "created_at": at, "resolved_at": None,
            })
            messages.append(
                f"{state.upper()} {rule.name} {d.scope}={entity_name} window {w_start:%Y-%m-%d %H:%M}"
                f"..{at:%Y-%m-%d %H:%M} UTC: {d.n_negative}/{d.n_stories} negative stories "
                + (f"({d.n_negative} vs {d.expected:.1f} expected per window, "
                   if rule.metric == "negative_count" else
                   f"(mean score {d.observed:+.2f} vs {d.expected:+.2f} expected, "
                   if rule.metric == "mean_score" else
                   f"({d.observed:.0%} vs {d.expected:.0%} expected, ")
                + f"q={d.q_value:.2g})")
            if state == "pending":
                messages[-1] += f" [pending: {streak} of {rule.for_windows} windows]"
            elif muted or inhibited_by:
                counts["silenced" if muted else "inhibited"] += 1
                messages[-1] += (f" [silenced by {muted}]" if muted
                                 else " [inhibited by a market-wide surge]")
            elif enqueue:
                for receiver in expand_receivers(rule.receivers, available):
                    if alert_store.notified_recently(con, fp, receiver, at - rule.cooldown):
                        continue
                    queue.append({"idempotency_key": alert_store.idempotency_key(fp, receiver, w_start),
                                  "alert_id": alert_id, "receiver": receiver,
                                  "status": "pending", "attempts": 0, "created_at": at})
        alert_store.upsert_alerts(con, firing_rows)
        ended = alert_store.resolve_alerts(con, calm_fps, at)
        counts["resolved"] += len(ended)
        if enqueue:
            queue += alert_store.resolved_notifications(con, ended, at)
        counts["queued"] += alert_store.enqueue_notifications(con, queue)
