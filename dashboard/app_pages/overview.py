"""Overview page: how negative is the news today, and is anything firing?

From top to bottom the screen shows:

1. Headline metrics: articles stored, articles scored by the production model, firing alerts,
   the last pipeline run (refreshed every minute).
2. The latest alerts (refreshed with the metrics).
3. A timeline of the daily negative share (line, right axis) over article volume (bars, left
   axis), one bar per UTC day, with a red rule at each alert's window start.
4. The latest scored headlines.

Instants are stored in UTC and converted to the sidebar's timezone only here, for display. Feed
text (titles, URLs) is shown as plain dataframe cells, never as HTML; only ``http(s)`` URLs become
links.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from pipeline.config import load_settings
from pipeline.errors import StorageError

NO_DATA_MESSAGE = "No data yet: run `tonewatch run` first"
_TIME_FORMAT = "YYYY-MM-DD HH:mm"  # momentJS, for st.column_config.DatetimeColumn
_ALERT_MARKERS = 500  # most alert rules drawn on the timeline


def _to_tz(instants: pd.Series, tz: str) -> pd.Series:
    """Convert a tz-aware UTC series to ``tz`` for display (storage stays UTC)."""
    return pd.to_datetime(instants, utc=True).dt.tz_convert(tz)


def _safe_url(url: object) -> str | None:
    """Return ``url`` if it is an absolute http(s) URL, else None (no javascript:, data: ...)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def _tickers_text(tickers: object) -> str:
    """Join a list of ticker symbols into ``"AAPL, MSFT"`` (empty for NULL or no tickers)."""
    if isinstance(tickers, str):
        return tickers
    try:
        return ", ".join(str(t) for t in tickers)
    except TypeError:  # NULL arrives as None or NaN
        return ""


def _window_text(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """Format an alert window ``[start, end)`` already converted to the display zone."""
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}"


def require_data(db_path: str) -> None:
    """Stop the page with a hint when there is no database or no article yet."""
    if not queries.database_exists(db_path):
        st.info(NO_DATA_MESSAGE)
        st.stop()
    try:
        counts = queries.headline_counts(db_path)
    except StorageError as exc:
        st.warning(f"Cannot read the database right now: {exc}")
        st.stop()
    if counts.empty or int(counts.at[0, "n_articles"]) == 0:
        st.info(NO_DATA_MESSAGE)
        st.stop()


def model_caption(db_path: str) -> None:
    """Say whose scores are shown, and warn when that model has scored nothing."""
    model = queries.production_model(db_path)
    if model.empty:
        st.warning("No article has been scored yet: run `tonewatch run` to score them.")
        return
    row = model.iloc[0]
    if row["chosen_by"] == "production":
        st.caption(f"Scores from production model `{row['model_version']}`.")
    else:
        st.caption(
            f"No model is marked production; showing the most recently scored model "
            f"`{row['model_version']}`."
        )
    if int(row["n_scores"]) == 0:
        st.warning(f"Model `{row['model_version']}` has not scored any article yet.")


@st.fragment(run_every=timedelta(seconds=60))
def live_panels(db_path: str, tz: str) -> None:
    """Headline metrics and the latest alerts; reruns on its own every 60 s."""
    try:
        counts = queries.headline_counts(db_path)
        run = queries.last_run(db_path)
        alerts = queries.latest_alerts(db_path, limit=50)
    except StorageError as exc:
        st.warning(f"Cannot read the database right now: {exc}")
        return
    if counts.empty:  # the file vanished since the page started
        st.info(NO_DATA_MESSAGE)
        return
    counts_row = counts.iloc[0]

    articles, scored, firing, last = st.columns(4)
    articles.metric("Articles", f"{int(counts_row['n_articles']):,}")
    scored.metric("Scored", f"{int(counts_row['n_scored']):,}",
                  help="Articles scored by the production model.")
    firing.metric("Firing alerts", f"{int(counts_row['n_firing']):,}")
    if run.empty:
        last.metric("Last run", "never")
    else:
        run_row = run.iloc[0]
        at = run_row["finished_at"] if pd.notna(run_row["finished_at"]) else run_row["started_at"]
        last.metric(
            f"Last run ({tz})",
            f"{pd.Timestamp(at).tz_convert(tz):%Y-%m-%d %H:%M}",
            help=f"run {run_row['run_id']}, stage {run_row['stage']}",
        )
        last.caption(f"{run_row['stage']}: {run_row['status']}")
        if run_row["status"] == "failed":
            st.warning(f"The last run ({run_row['stage']}) failed; see `tonewatch` logs.")

    st.subheader("Latest alerts")
    if alerts.empty:
        st.caption("No alerts yet.")
        return
    start, end = _to_tz(alerts["window_start"], tz), _to_tz(alerts["window_end"], tz)
    table = pd.DataFrame({
        "rule": alerts["rule"],
        "scope": alerts["scope"],
        "entity": alerts["entity_name"],
        "window": [_window_text(s, e) for s, e in zip(start, end, strict=True)],
        "observed": alerts["observed"],
        "expected": alerts["expected"],
        "p_value": alerts["p_value"],
        "severity": alerts["severity"],
        "state": alerts["state"],
    })
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "window": st.column_config.TextColumn(f"window ({tz})"),
            "observed": st.column_config.NumberColumn(
                "observed share", format="percent", help="Negative share in the window."),
            "expected": st.column_config.NumberColumn(
                "expected share", format="percent", help="Baseline negative share."),
            "p_value": st.column_config.NumberColumn("p-value", format="%.2g"),
        },
    )


#: Timeline periods, counted back from the latest day with data (None = everything).
_PERIODS = {"30 days": 30, "90 days": 90, "1 year": 365, "all": None}


def sentiment_timeline(db_path: str, tz: str) -> None:
    """Daily negative share over article volume, with alert rules at window starts."""
    st.subheader("Negative share by day")
    daily = queries.negative_share_daily(db_path)
    alerts = queries.latest_alerts(db_path, limit=_ALERT_MARKERS)
    if daily.empty:
        st.caption("No articles yet.")
        return
    # Feeds carry stray items from years ago; by default show the recent stretch of data.
    period = st.segmented_control("Period", list(_PERIODS), default="1 year",
                                  key="timeline_period")
    days_back = _PERIODS.get(period or "1 year")
    if days_back is not None:
        daily = daily[daily["day"] >= daily["day"].max() - pd.Timedelta(days=days_back)]
        alerts = alerts[alerts["window_start"] >= daily["day"].min()]

    days = daily.assign(
        day_end=daily["day"] + pd.Timedelta(days=1),
        midday=daily["day"] + pd.Timedelta(hours=12),
        day_label=daily["day"].dt.strftime("%Y-%m-%d"),
    )
    # Days are UTC calendar days, so the axis is drawn in UTC whatever the display zone;
    # a "utc" scale stops the browser from shifting them into its local time.
    x_scale = alt.Scale(type="utc")
    x_axis = alt.Axis(title="day (UTC)", format="%Y-%m-%d")
    tooltip = [
        alt.Tooltip("day_label:N", title="day (UTC)"),
        alt.Tooltip("n_articles:Q", title="articles"),
        alt.Tooltip("n_scored:Q", title="scored"),
        alt.Tooltip("n_negative:Q", title="negative"),
        alt.Tooltip("negative_share:Q", title="negative share", format=".1%"),
        alt.Tooltip("mean_sentiment:Q", title="mean sentiment", format="+.2f"),
    ]
    volume = alt.Chart(days).mark_bar(color="#c7d3e0", opacity=0.8).encode(
        x=alt.X("day:T", scale=x_scale, axis=x_axis),
        x2="day_end:T",
        y=alt.Y("n_articles:Q", title="articles per day", axis=alt.Axis(orient="left")),
        tooltip=tooltip,
    )
    share = alt.Chart(days).mark_line(point=True, color="#1f4e79").encode(
        x=alt.X("midday:T", scale=x_scale, axis=x_axis),
        y=alt.Y("negative_share:Q", title="negative share",
                axis=alt.Axis(orient="right", format=".0%")),
        tooltip=tooltip,
    )
    layers = [volume, share]
    if not alerts.empty:
        markers = pd.DataFrame({
            "window_start": alerts["window_start"],
            "label": [
                f"{r} · {e} · {s}"
                for r, e, s in zip(alerts["rule"], alerts["entity"], alerts["severity"],
                                   strict=True)
            ],
            "window": [
                _window_text(s, e) for s, e in zip(
                    _to_tz(alerts["window_start"], tz), _to_tz(alerts["window_end"], tz),
                    strict=True)
            ],
            "state": alerts["state"],
        })
        layers.append(
            alt.Chart(markers).mark_rule(color="#d62728", strokeDash=[4, 3], opacity=0.7).encode(
                x=alt.X("window_start:T", scale=x_scale, axis=x_axis),
                tooltip=[
                    alt.Tooltip("label:N", title="alert"),
                    alt.Tooltip("window:N", title=f"window ({tz})"),
                    alt.Tooltip("state:N", title="state"),
                ],
            )
        )
    chart = alt.layer(*layers).resolve_scale(y="independent").properties(height=320)
    st.altair_chart(chart, width="stretch")


def latest_headlines(db_path: str, tz: str) -> None:
    """The newest scored headlines as plain text, with http(s) links only."""
    st.subheader("Latest headlines")
    heads = queries.latest_headlines(db_path, limit=100)
    if heads.empty:
        st.caption("No scored headlines yet.")
        return
    table = pd.DataFrame({
        "published": _to_tz(heads["published_at"], tz),
        "feed": heads["feed"],
        "title": heads["title"],
        "label": heads["label"],
        "sentiment": heads["sentiment_score"],
        "p_negative": heads["p_negative"],
        "p_neutral": heads["p_neutral"],
        "p_positive": heads["p_positive"],
        "tickers": [_tickers_text(t) for t in heads["tickers"]],
        "link": [_safe_url(u) for u in heads["url"]],
    })
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "published": st.column_config.DatetimeColumn(f"published ({tz})", format=_TIME_FORMAT),
            "title": st.column_config.TextColumn("title", width="large"),
            "sentiment": st.column_config.NumberColumn(
                "sentiment", format="%+.2f", help="p_positive - p_negative, in [-1, 1]."),
            "p_negative": st.column_config.NumberColumn(format="%.2f"),
            "p_neutral": st.column_config.NumberColumn(format="%.2f"),
            "p_positive": st.column_config.NumberColumn(format="%.2f"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )


db_path = st.session_state.get("db_path") or str(load_settings().db_path.resolve())
tz = st.session_state.get("tz", "UTC")

st.title("Overview")
require_data(db_path)
try:
    model_caption(db_path)
    live_panels(db_path, tz)
    sentiment_timeline(db_path, tz)
    latest_headlines(db_path, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
