"""What detection says about an alert: its one-line summary and its stored explanation."""

from __future__ import annotations


def surge_line(rule, decision, window, *, state: str, entity_name: str, streak: int,
               silenced_by: str | None, inhibited_by: str | None) -> str:
    """One line per pending or firing alert, as ``tonewatch detect`` prints it.

    Example: ``FIRING market_negative_surge market=market window 2026-03-05 00:00..2026-03-06
    00:00 UTC: 9/12 negative stories (75% vs 17% expected, q=0.0001)``, followed by
    ``[pending: 1 of 2 windows]``, ``[silenced by ID]`` or ``[inhibited by a market-wide
    surge]`` when one applies.

    Args:
        rule: the :class:`~pipeline.detection.rules.AlertRule`.
        decision: its :class:`~pipeline.detection.decide.Decision` for the entity.
        window: the evaluated :class:`~pipeline.domain.Window`.
        state: ``pending`` or ``firing``.
        entity_name: the entity as shown (a source's feed name).
        streak: consecutive surging windows, this one included.
        silenced_by, inhibited_by: why a firing alert is not notified, if it is not.
    """
    d = decision
    if rule.metric == "negative_count":
        measure = f"({d.n_negative} vs {d.expected:.1f} expected per window, "
    elif rule.metric == "mean_score":
        measure = f"(mean score {d.observed:+.2f} vs {d.expected:+.2f} expected, "
    else:
        measure = f"({d.observed:.0%} vs {d.expected:.0%} expected, "
    line = (f"{state.upper()} {rule.name} {d.scope}={entity_name} window {window}: "
            f"{d.n_negative}/{d.n_stories} negative stories {measure}q={d.q_value:.2g})")
    if state == "pending":
        return line + f" [pending: {streak} of {rule.for_windows} windows]"
    if silenced_by:
        return line + f" [silenced by {silenced_by}]"
    if inhibited_by:
        return line + " [inhibited by a market-wide surge]"
    return line


def explanation(rule, *, entity_name: str, model_version: str, streak: int,
                silenced_by: str | None, inhibited_by: str | None, alert_id: str,
                dashboard_url: str) -> dict:
    """The ``alerts.explanation`` of one alert (JSON), read by notifications and the dashboard.

    ``n_sources`` and ``headlines`` are left None here: the alerting stage fills them for all
    of a pass's alerts with one query per rule.
    """
    return {
        "entity_name": entity_name, "baseline_days": rule.baseline.days,
        "model_version": model_version, "metric": rule.metric,
        "seasonality": rule.seasonality, "group_by": rule.group_by,
        "streak": streak, "for_windows": rule.for_windows, "silenced_by": silenced_by,
        "inhibited_by": inhibited_by, "n_sources": None,
        "dashboard_url": f"{dashboard_url.rstrip('/')}/?alert={alert_id}",
        "headlines": None,
    }
