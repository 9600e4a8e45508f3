"""Alerts page: what fired, why, and muting it.

1. The alert list (firing, pending and resolved; filter by state and scope), newest window
   first; refreshed every minute.
2. The chosen alert's explanation: observed vs expected negative share, p-value and q-value,
   stories in the window and baseline, independent sources, and its contributing headlines
   (plain text, http(s) links only). ``?alert=<alert_id>`` (the link in alert messages) picks it.
3. For a signed-in responder or admin (see :mod:`dashboard.auth`), a form that creates a
   silence from the alert through the library, authored by the signed-in user; anonymous
   visitors and viewers see none. The silences in force (a responder may expire one, saying
   why), and the history of every silence and expiry with who, when and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.actions import expire_silence, silence_alert
from dashboard.auth import current_actor
from dashboard.ui import (
    TIME_FORMAT, code_span, db_path, display_tz, escape_markdown, fmt_instant, link_alert_id,
    require_data, safe_url, to_tz, warn_if_unreadable, window_text,
)
from pipeline.access.roles import PERMISSIONS, Actor, role_allows
from pipeline.alerting.silences import SilencePolicy
from pipeline.config import load_settings
from pipeline.errors import StorageError, TonewatchError

_STATES = ("firing", "pending", "resolved")
_SCOPES = ("market", "ticker", "sector", "source", "topic")
_DURATIONS = {"1 hour": timedelta(hours=1), "12 hours": timedelta(hours=12),
              "1 day": timedelta(days=1), "3 days": timedelta(days=3),
              "1 week": timedelta(weeks=1)}


@st.fragment(run_every=timedelta(seconds=60))
@warn_if_unreadable
def alert_list(path: str, tz: str) -> None:
    """Filters and the alert table; reruns on its own every 60 s."""
    left, right = st.columns(2)
    states = left.multiselect("State", _STATES, default=["firing", "resolved"],
                              key="alert_states")
    scopes = right.multiselect("Scope", _SCOPES, default=list(_SCOPES), key="alert_scopes")
    alerts = queries.list_alerts(path, tuple(states), tuple(scopes))
    st.session_state["alert_ids"] = alerts  # the picker below offers the listed alerts
    if alerts.empty:
        st.caption("No alerts match.")
        return
    st.dataframe(
        pd.DataFrame({
            "state": alerts["state"], "severity": alerts["severity"], "rule": alerts["rule"],
            "scope": alerts["scope"], "entity": alerts["entity_name"],
            "window": [window_text(s, e) for s, e in zip(
                to_tz(alerts["window_start"], tz), to_tz(alerts["window_end"], tz),
                strict=True)],
            "observed": alerts["observed"], "expected": alerts["expected"],
            "p_value": alerts["p_value"], "stories": alerts["n_stories"],
            "alert_id": alerts["alert_id"],
        }),
        hide_index=True, width="stretch", height=280,
        column_config={
            "window": st.column_config.TextColumn(f"window ({tz})"),
            "observed": st.column_config.NumberColumn("observed", format="%.3g"),
            "expected": st.column_config.NumberColumn("expected", format="%.3g"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.2g"),
        },
    )


def pick_alert() -> str | None:
    """The alert to explain: a new ``?alert=`` (a link from a message) once, else the picker's
    choice among the listed alerts (the first by default)."""
    listed = st.session_state.get("alert_ids")
    options = [] if listed is None else list(listed["alert_id"])
    labels = {} if listed is None else {
        r.alert_id: f"{r.state} · {r.rule} · {r.entity_name} · {r.window_start:%Y-%m-%d %H:%M} UTC"
        for r in listed.itertuples()}
    wanted = st.query_params.get("alert")
    if wanted and link_alert_id(wanted) is None:
        # Never echo it: a crafted link could carry markdown (a fake "sign in here" link).
        st.warning("The link's alert id is not valid: pick an alert below.")
        wanted = None
    if wanted and st.session_state.get("alert_seen") != wanted:
        # A link just opened: show that alert, even when the filters hide it.
        st.session_state["alert_seen"] = st.session_state["alert_linked"] = wanted
        st.session_state["alert_pick"] = wanted
    linked = st.session_state.get("alert_linked")
    if linked and st.session_state.get("alert_pick") == linked and linked not in options:
        options.insert(0, linked)
    if not options:
        return None
    choice = st.selectbox("Explain alert", options, format_func=lambda a: labels.get(a, a),
                          key="alert_pick")
    if choice:
        # Keep the URL pointing at what is shown (shareable), without re-pinning it.
        st.session_state["alert_seen"] = choice
        st.query_params["alert"] = choice
    return choice


def explanation(path: str, alert_id: str, tz: str) -> dict | None:
    """Observed vs expected, significance, coverage and headlines; return the alert's labels."""
    detail = queries.alert_detail(path, alert_id)
    if detail.empty:
        st.warning(f"No alert with id {code_span(alert_id)}.")
        return None
    a = detail.iloc[0]
    info = json.loads(a["explanation"]) if isinstance(a["explanation"], str) else {}
    st.subheader(f"{a['rule']} · {a['scope']}")
    st.text(f"Entity: {a['entity_name']}    window "
            f"{window_text(*to_tz(pd.Series([a['window_start'], a['window_end']]), tz))} ({tz})")
    count_metric = info.get("metric") == "negative_count"
    cols = st.columns(5)
    fmt = (lambda v: f"{v:.1f}") if count_metric else (lambda v: f"{v:.1%}")
    cols[0].metric("Observed" + (" negative stories" if count_metric else " negative share"),
                   fmt(a["observed"]) if pd.notna(a["observed"]) else "n/a")
    cols[1].metric("Expected", fmt(a["expected"]) if pd.notna(a["expected"]) else "n/a",
                   help=f"From the {info.get('baseline_days', '?')} days before the window.")
    cols[2].metric("p-value", f"{a['p_value']:.2g}" if pd.notna(a["p_value"]) else "n/a",
                   help="One-sided test of the window against the baseline.")
    cols[3].metric("q-value", f"{a['q_value']:.2g}" if pd.notna(a["q_value"]) else "n/a",
                   help="Benjamini-Hochberg adjusted across entities.")
    cols[4].metric("State", str(a["state"]))
    st.text(
        f"{_int(a['n_negative'])} negative of {_int(a['n_stories'])} stories in the window; "
        f"{_int(a['baseline_stories'])} stories in the baseline; "
        f"{info.get('n_sources', '?')} independent source(s). Severity {a['severity']}. "
        f"Created {fmt_instant(a['created_at'], tz)}"
        + (f", resolved {fmt_instant(a['resolved_at'], tz)}" if pd.notna(a["resolved_at"]) else "")
        + f" ({tz}).")
    muted = not_notified_text(info.get("silenced_by"), info.get("inhibited_by"))
    if muted:
        st.info(muted)
    heads = info.get("headlines") or []
    st.markdown("**Contributing headlines** (most negative story first)")
    if heads:
        frame = pd.DataFrame(heads)
        table = pd.DataFrame({
            "published": to_tz(pd.to_datetime(frame.get("published_at"), utc=True), tz),
            "source": frame.get("source"), "title": frame.get("title"),
            "p_negative": frame.get("p_negative"),
            "link": [safe_url(u) for u in frame.get("url", [None] * len(frame))],
        })
        if "company" in frame.columns:
            # Company scopes: why each headline counts for the company (see
            # pipeline.storage.stories.window_details).
            table.insert(3, "company", frame["company"])
            table.insert(4, "method", frame.get("method"))
            table.insert(5, "relevance", frame.get("relevance"))
            table.insert(6, "label", frame.get("label"))
            table.insert(7, "basis", ["company" if t else "article label"
                                      for t in frame.get("targeted", [False] * len(frame))])
        st.dataframe(
            table,
            hide_index=True, width="stretch",
            column_config={
                "published": st.column_config.DatetimeColumn(f"published ({tz})",
                                                             format=TIME_FORMAT),
                "title": st.column_config.TextColumn("title", width="large"),
                "p_negative": st.column_config.NumberColumn(format="%.2f"),
                "method": st.column_config.TextColumn("link", help="How the company was found."),
                "relevance": st.column_config.NumberColumn(format="%.1f"),
                "label": st.column_config.TextColumn("label toward company"),
                "basis": st.column_config.TextColumn("label from"),
                "link": st.column_config.LinkColumn("link", display_text="open"),
            },
        )
    else:
        st.caption("No headlines recorded with this alert.")
    return {"rule": a["rule"], "scope": a["scope"], "entity": a["entity"],
            "severity": a["severity"]}


def not_notified_text(silenced_by: str | None, inhibited_by: str | None) -> str | None:
    """Say why an alert sent no notification, naming only the causes that apply.

    Args:
        silenced_by: id of the silence that matched the alert, or None.
        inhibited_by: scope of the firing alert that inhibited it (``"market"``), or None.

    Returns:
        e.g. ``"Not notified: inhibited by a market-wide surge in the same window."``; None
        when the alert was neither silenced nor inhibited.
    """
    reasons = []
    if silenced_by:
        reasons.append(f"silenced by {silenced_by}")
    if inhibited_by == "market":
        reasons.append("inhibited by a market-wide surge in the same window")
    elif inhibited_by:
        reasons.append(f"inhibited by a firing {inhibited_by} alert in the same window")
    return f"Not notified: {' and '.join(reasons)}." if reasons else None


def _int(value: object) -> str:
    return "?" if value is None or pd.isna(value) else f"{int(value):,}"


def may(action: str) -> Actor | None:
    """The signed-in user when their role allows ``action``, else None after a caption saying
    who may (the form is then not drawn; the library checks again when anything is written)."""
    actor = current_actor()
    needed = PERMISSIONS[action]
    if actor is None:
        st.caption(f"Sign in (sidebar) as a {needed} or admin to change silences.")
        return None
    if not role_allows(actor.role, needed):
        st.caption(f"Signed in as {actor.name} ({actor.role}): changing silences needs "
                   f"{needed} or admin.")
        return None
    return actor


def silence_durations(maximum: timedelta) -> dict[str, timedelta]:
    """The lengths the silence form offers: the presets up to ``maximum``, and ``maximum``
    itself whatever it is (``TONEWATCH_SILENCE_MAX_HOURS`` may be 0.5 or 36)."""
    durations = {k: v for k, v in _DURATIONS.items() if v <= maximum}
    if maximum not in durations.values():
        durations[f"{maximum.total_seconds() / 3600:g} hours (the maximum)"] = maximum
    return durations


def _dropped(form: str, outcome: str) -> None:
    # The form's submit callback ran (see _submitted) but the form is not drawn any more:
    # the user was signed out or lost the role since. Say so rather than drop it silently.
    if st.session_state.pop(f"{form}_submitted", False):
        st.error(f"{outcome}: your session ended or your role changed; sign in again.")


def _silences_changed() -> None:
    # This session's write shows at once (other sessions within the cache's TTL).
    queries.active_silences.clear()
    queries.silence_history.clear()
    queries.silence_count.clear()


def _submitted(form: str) -> None:
    st.session_state[f"{form}_submitted"] = True


def silence_form(path: str, labels: dict[str, str]) -> None:
    """Create a silence matching this alert's labels, authored by the signed-in user."""
    actor = may("silence.create")
    if actor is None:
        _dropped("silence_form", "Silence not created")
        return
    st.session_state.pop("silence_form_submitted", None)
    policy = SilencePolicy.from_settings(load_settings())
    durations = silence_durations(policy.max_duration)
    with st.form("silence_form", clear_on_submit=False):
        st.markdown("**Silence alerts like this one**")
        names = st.multiselect(
            "Match on", list(labels), default=["rule", "scope", "entity"],
            format_func=lambda n: f"{n} = {labels[n]}", key="silence_labels")
        left, right = st.columns([1, 3])
        duration = left.selectbox("For", list(durations), index=min(2, len(durations) - 1),
                                  key="silence_duration")
        comment = right.text_input("Comment", key="silence_comment")
        st.text(f"Author: {actor.name} ({actor.role})")
        submitted = st.form_submit_button("Create silence", icon=":material/notifications_off:",
                                          on_click=_submitted, args=("silence_form",))
    if not submitted:
        return
    try:
        # The user is read again now: a session that expired since the form was drawn fails.
        silence_id = silence_alert(path, labels, names, duration=durations[duration],
                                   actor=current_actor(), comment=comment,
                                   now=datetime.now(UTC), policy=policy)
    except (TonewatchError, ValueError) as exc:
        st.error(f"Silence not created: {exc}")
        return
    _silences_changed()
    st.success(f"Silence {silence_id} created by {escape_markdown(actor.name)}: notifications of matching "
               f"alerts are muted for {duration}.")


def _matchers_text(payload: str) -> str:
    return ", ".join(f"{m['label']}{m['op']}{m['value']}" for m in json.loads(payload))


def silence_table(frame: pd.DataFrame, tz: str, *, audit: bool = False) -> None:
    """A table of silences (with their ``state``, active or pending, when ``frame`` has one);
    with ``audit`` also when each was created, and who ended it early, when and why
    (``frame`` as :func:`dashboard.queries.silence_history` returns it)."""
    table = {
        "silence_id": frame["silence_id"],
        **({"state": frame["state"]} if "state" in frame else {}),
        "matchers": [_matchers_text(j) for j in frame["matchers"]],
        "starts": to_tz(frame["starts_at"], tz), "ends": to_tz(frame["ends_at"], tz),
        "author": frame["author"], "comment": frame["comment"],
    }
    if audit:
        table |= {"created": to_tz(frame["created_at"], tz),
                  "expired": to_tz(frame["expired_at"], tz),
                  "expired_by": frame["expired_by"], "expiry_comment": frame["expiry_comment"]}
    st.dataframe(
        pd.DataFrame(table), hide_index=True, width="stretch",
        column_config={name: st.column_config.DatetimeColumn(f"{name} ({tz})", format=TIME_FORMAT)
                       for name in ("created", "starts", "ends", "expired") if name in table},
    )


def silences(path: str, tz: str) -> None:
    """The silences not yet ended, and a form to end one early."""
    now = pd.Timestamp.now(tz="UTC")
    found = queries.active_silences(path, now.floor("min"))  # cached per minute...
    # ...so filter on now itself: one expired a moment ago must not linger.
    expired = pd.to_datetime(found["expired_at"], utc=True)
    found = found[(pd.to_datetime(found["ends_at"], utc=True) > now)
                  & (expired.isna() | (expired > now))]
    st.subheader("Silences in force")
    note = st.session_state.pop("silence_expired_note", None)
    if note:
        st.success(note)
    if found.empty:
        st.caption("No active or pending silence.")
        return
    found = found.assign(state=["active" if s <= now else "pending"
                                for s in pd.to_datetime(found["starts_at"], utc=True)])
    silence_table(found, tz)
    expire_form(path, list(found["silence_id"]))


def expire_form(path: str, silence_ids: list[str]) -> None:
    """End a silence in force now, saying why (responder or admin)."""
    actor = may("silence.expire")
    if actor is None:
        _dropped("expire_form", "Silence not expired")
        return
    st.session_state.pop("expire_form_submitted", None)
    with st.form("expire_form"):
        left, right = st.columns([1, 3])
        chosen = left.selectbox("Expire silence", silence_ids, key="expire_id")
        comment = right.text_input("Why it ends now", key="expire_comment")
        submitted = st.form_submit_button("Expire silence", on_click=_submitted,
                                          args=("expire_form",))
    if not submitted:
        return
    try:
        expire_silence(path, chosen, actor=current_actor(), comment=comment,
                       now=datetime.now(UTC), policy=SilencePolicy.from_settings(load_settings()))
    except TonewatchError as exc:
        st.error(f"Silence not expired: {exc}")
        return
    _silences_changed()
    # The table above was drawn before this write: draw the page again, then say so.
    st.session_state["silence_expired_note"] = (
        f"Silence {chosen} expired by {escape_markdown(actor.name)}.")
    st.rerun()


def silence_history(path: str, tz: str) -> None:
    """Every silence and expiry with who, when and why (the audit trail)."""
    history = queries.silence_history(path)
    total = queries.silence_count(path)
    shown = f", the latest {len(history)} shown" if total > len(history) else ""
    with st.expander(f"Silence history: {total} silence(s){shown}, who, when and why"):
        if history.empty:
            st.caption("No silence yet.")
            return
        silence_table(history, tz, audit=True)


path, tz = db_path(), display_tz()
st.title("Alerts")
require_data(path)
try:
    alert_list(path, tz)
    chosen = pick_alert()
    if chosen:
        labels = explanation(path, chosen, tz)
        if labels:
            silence_form(path, labels)
    silences(path, tz)
    silence_history(path, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
