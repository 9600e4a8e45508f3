"""Overview page: how negative is the news, is anything firing, is the pipeline alive?

From top to bottom the screen shows:

1. Headline metrics: articles stored, articles scored by the production model, firing alerts,
   the last successful pipeline stage, and the latest alerts (refreshed every minute).
2. Coverage: whether the latest day holds enough scored articles to say anything.
3. The timeline, daily or hourly: article volume (bars), negative share (line) with thin
   buckets greyed out as *insufficient data* instead of drawn as calm, alert markers at each
   alert's window start, and below it the market sentiment index. Its period is the last days
   up to now, or up to the most recent data when those hold too few scored articles (one line
   says so: :func:`dashboard.ui.data_period`).
4. The latest scored headlines.

Instants are stored in UTC and converted to the sidebar's timezone only for display.
"""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.ui import (
    TIME_FORMAT, data_period, db_path, display_tz, fmt_instant, min_scored_per_bucket,
    model_caption, period_note, require_data, safe_url, tickers_text, to_tz, warn_if_unreadable,
    window_text,
)
from pipeline.errors import StorageError

_ALERT_MARKERS = 500  # most alert rules drawn on the timeline
#: Periods of the daily view in days (None: every stored article); see
#: :func:`dashboard.ui.data_period`.
_PERIODS = {"30 days": 30, "90 days": 90, "1 year": 365, "all": None}
_GRAINS = {"Daily": "day", "Hourly": "hour"}


@st.fragment(run_every=timedelta(seconds=60))
@warn_if_unreadable
def live_panels(path: str, tz: str) -> None:
    """Headline metrics and the latest alerts; reruns on its own every 60 s."""
    counts = queries.headline_counts(path)
    ok_run = queries.last_run(path, status="ok")
    any_run = queries.last_run(path)
    alerts = queries.latest_alerts(path, limit=_ALERT_MARKERS).head(50)
    if counts.empty:  # the file vanished since the page started
        return
    row = counts.iloc[0]
    articles, scored, firing, last = st.columns([1, 1, 1, 2])
    articles.metric("Articles", f"{int(row['n_articles']):,}")
    scored.metric("Scored", f"{int(row['n_scored']):,}",
                  help="Articles scored by the production model.")
    firing.metric("Firing alerts", f"{int(row['n_firing']):,}")
    if ok_run.empty:
        last.metric("Last successful run", "never")
    else:
        run = ok_run.iloc[0]
        at = run["finished_at"] if pd.notna(run["finished_at"]) else run["started_at"]
        last.metric(f"Last successful run ({tz})", fmt_instant(at, tz),
                    help=f"run {run['run_id']}, stage {run['stage']}")
        last.caption(f"stage: {run['stage']}")
    if not any_run.empty and any_run.at[0, "status"] in ("failed", "partial"):
        latest = any_run.iloc[0]
        st.warning(f"The latest run stage ({latest['stage']}, started "
                   f"{fmt_instant(latest['started_at'], tz)}) ended {latest['status']}; "
                   "see the `tonewatch` logs and the Feeds page.")

    st.subheader("Latest alerts")
    if alerts.empty:
        st.caption("No alerts yet.")
        return
    start, end = to_tz(alerts["window_start"], tz), to_tz(alerts["window_end"], tz)
    st.dataframe(
        pd.DataFrame({
            "rule": alerts["rule"], "scope": alerts["scope"], "entity": alerts["entity_name"],
            "window": [window_text(s, e) for s, e in zip(start, end, strict=True)],
            "observed": alerts["observed"], "expected": alerts["expected"],
            "p_value": alerts["p_value"], "severity": alerts["severity"],
            "state": alerts["state"],
        }),
        hide_index=True, width="stretch", height=230,
        column_config={
            "window": st.column_config.TextColumn(f"window ({tz})"),
            "observed": st.column_config.NumberColumn(
                "observed share", format="percent", help="Negative share in the window."),
            "expected": st.column_config.NumberColumn(
                "expected share", format="percent", help="Baseline negative share."),
            "p_value": st.column_config.NumberColumn("p-value", format="%.2g"),
        },
    )


def coverage(buckets: pd.DataFrame, minimum: int, grain: str) -> None:
    """Warn when the newest bucket is too thin to read, and count the thin ones shown."""
    if buckets.empty:
        return
    newest = buckets.iloc[-1]
    unit = "day" if grain == "day" else "hour"
    if int(newest["n_scored"]) < minimum:
        st.warning(
            f"Insufficient data for the latest {unit} ({newest['bucket']:%Y-%m-%d %H:%M} UTC): "
            f"{int(newest['n_scored'])} scored articles, fewer than the {minimum} needed. "
            "A quiet chart here means little coverage, not calm news.")
    thin = int((buckets["n_scored"] < minimum).sum())
    if thin:
        st.caption(f"{thin} of {len(buckets)} {unit}s shown have fewer than {minimum} scored "
                   "articles: drawn grey as insufficient data, with no share.")


def sentiment_timeline(path: str, tz: str) -> None:
    """Volume, negative share (thin buckets greyed) and alert markers; the sentiment index."""
    st.subheader("Market sentiment over time")
    left, right = st.columns(2)
    grain = _GRAINS[left.segmented_control("Granularity", list(_GRAINS), default="Daily",
                                           key="timeline_grain") or "Daily"]
    if grain == "day":
        # Feeds carry stray items from years ago; by default show the recent stretch.
        choice = right.segmented_control("Period", list(_PERIODS), default="90 days",
                                         key="timeline_period")
        period = data_period(path, _PERIODS.get(choice or "90 days"))
    else:
        right.caption(f"{queries.HOURLY_DAYS} days, one bar per hour.")
        period = data_period(path, queries.HOURLY_DAYS)
    period_note(period)
    buckets = queries.timeline(path, grain, period.start, period.end)
    alerts = queries.latest_alerts(path, limit=_ALERT_MARKERS)
    if buckets.empty:
        st.caption("No articles in this period.")
        return
    alerts = alerts[(alerts["window_start"] >= buckets["bucket"].min())
                    & (alerts["window_start"] < period.end)]
    minimum = min_scored_per_bucket()
    coverage(buckets, minimum, grain)

    step = pd.Timedelta(days=1) if grain == "day" else pd.Timedelta(hours=1)
    thin = buckets["n_scored"] < minimum
    data = pd.DataFrame({
        # Vega-Lite draws instants in the browser's zone unless told otherwise; the axis is
        # shown in the display zone by shifting the wall-clock time and using a UTC scale.
        "start": _wall_clock(buckets["bucket"], tz),
        "end": _wall_clock(buckets["bucket"] + step, tz),
        "mid": _wall_clock(buckets["bucket"] + step / 2, tz),
        "n_articles": buckets["n_articles"], "n_scored": buckets["n_scored"],
        "n_negative": buckets["n_negative"],
        "negative_share": buckets["negative_share"].where(~thin),
        "sentiment_index": buckets["sentiment_index"].where(~thin),
        "coverage": ["insufficient data" if t else "ok" for t in thin],
    })
    x_scale = alt.Scale(type="utc")
    fmt = "%Y-%m-%d" if grain == "day" else "%m-%d %H:%M"
    x_axis = alt.Axis(title=f"{'day' if grain == 'day' else 'hour'} ({tz})", format=fmt)
    tooltip = [
        alt.Tooltip("start:T", title=f"from ({tz})", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("n_articles:Q", title="articles"),
        alt.Tooltip("n_scored:Q", title="scored"),
        alt.Tooltip("n_negative:Q", title="negative"),
        alt.Tooltip("negative_share:Q", title="negative share", format=".1%"),
        alt.Tooltip("coverage:N", title="coverage"),
    ]
    base = alt.Chart(data)
    volume = base.mark_bar(opacity=0.8).encode(
        x=alt.X("start:T", scale=x_scale, axis=x_axis), x2="end:T",
        y=alt.Y("n_articles:Q", title="articles", axis=alt.Axis(orient="left")),
        color=alt.Color("coverage:N", title="coverage",
                        scale=alt.Scale(domain=["ok", "insufficient data"],
                                        range=["#c7d3e0", "#e0e0e0"])),
        tooltip=tooltip,
    )
    share = base.mark_line(point=True, color="#1f4e79").encode(
        x=alt.X("mid:T", scale=x_scale, axis=x_axis),
        y=alt.Y("negative_share:Q", title="negative share",
                axis=alt.Axis(orient="right", format=".0%")),
        tooltip=tooltip,
    )
    layers = [volume, share]
    if not alerts.empty:
        markers = pd.DataFrame({
            "at": _wall_clock(alerts["window_start"], tz),
            "alert": [f"{r} · {e} · {s}" for r, e, s in
                      zip(alerts["rule"], alerts["entity_name"], alerts["severity"], strict=True)],
            "state": alerts["state"],
        })
        layers.append(alt.Chart(markers).mark_rule(
            color="#d62728", strokeDash=[4, 3], opacity=0.7).encode(
            x=alt.X("at:T", scale=x_scale, axis=x_axis),
            tooltip=[alt.Tooltip("alert:N", title="alert"),
                     alt.Tooltip("at:T", title=f"window start ({tz})", format="%Y-%m-%d %H:%M"),
                     alt.Tooltip("state:N", title="state")],
        ))
    st.altair_chart(alt.layer(*layers).resolve_scale(y="independent", color="independent")
                    .properties(height=300), width="stretch")

    index = base.mark_line(color="#2a7f62").encode(
        x=alt.X("mid:T", scale=x_scale, axis=x_axis),
        y=alt.Y("sentiment_index:Q", title="sentiment index",
                scale=alt.Scale(domain=[-100, 100])),
        tooltip=[alt.Tooltip("start:T", title=f"from ({tz})", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("sentiment_index:Q", title="index", format="+.1f"),
                 alt.Tooltip("coverage:N", title="coverage")],
    )
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(color="#999").encode(y="y:Q")
    st.altair_chart((index + zero).properties(height=160), width="stretch")
    st.caption("Sentiment index: 100 × the mean of p_positive − p_negative over the bucket's "
               "scored articles (−100 all negative, +100 all positive).")


def _wall_clock(instants: pd.Series, tz: str) -> pd.Series:
    """UTC instants → naive wall-clock times in ``tz``, drawn unchanged on a UTC scale."""
    return to_tz(instants, tz).dt.tz_localize(None)


def latest_headlines(path: str, tz: str) -> None:
    """The newest scored headlines as plain text, with http(s) links only."""
    st.subheader("Latest headlines")
    heads = queries.latest_headlines(path, limit=100)
    if heads.empty:
        st.caption("No scored headlines yet.")
        return
    st.dataframe(
        pd.DataFrame({
            "published": to_tz(heads["published_at"], tz), "feed": heads["feed"],
            "title": heads["title"], "label": heads["label"],
            "sentiment": heads["sentiment_score"], "p_negative": heads["p_negative"],
            "p_neutral": heads["p_neutral"], "p_positive": heads["p_positive"],
            "tickers": [tickers_text(t) for t in heads["tickers"]],
            "link": [safe_url(u) for u in heads["url"]],
        }),
        hide_index=True, width="stretch",
        column_config={
            "published": st.column_config.DatetimeColumn(f"published ({tz})", format=TIME_FORMAT),
            "title": st.column_config.TextColumn("title", width="large"),
            "sentiment": st.column_config.NumberColumn(
                "sentiment", format="%+.2f", help="p_positive - p_negative, in [-1, 1]."),
            "p_negative": st.column_config.NumberColumn(format="%.2f"),
            "p_neutral": st.column_config.NumberColumn(format="%.2f"),
            "p_positive": st.column_config.NumberColumn(format="%.2f"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )


path, tz = db_path(), display_tz()
st.title("Overview")
require_data(path)
try:
    model_caption(path)
    live_panels(path, tz)
    sentiment_timeline(path, tz)
    latest_headlines(path, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
