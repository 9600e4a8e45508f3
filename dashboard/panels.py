"""Panels shared by the Companies and Sectors pages: period controls, the daily stories chart
and an entity's alerts."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.ui import data_period, period_note, to_tz, window_text

ALERTS_PAGE = "app_pages/alerts.py"

#: Periods offered, in days (None: all history); see :func:`dashboard.ui.data_period`.
PERIODS = {"30 days": 30, "90 days": 90, "1 year": 365, "All": None}
DEFAULT_PERIOD = "90 days"


def period_controls(path: str, key: str) -> tuple[pd.Timestamp | None, pd.Timestamp, float]:
    """Draw the period and minimum-relevance pickers; return ``(start, end, min_relevance)``.

    The period is :func:`dashboard.ui.data_period` of the chosen length: the last days up to
    now, or up to the most recent data when those hold too few scored articles (a line under
    the pickers says so). ``start`` is midnight UTC, or None for all history; ``end`` a whole
    UTC hour.

    Args:
        path: path of ``tonewatch.duckdb``.
        key: prefix of the widget keys (one set per page).

    Raises:
        StorageError: the database cannot be read.
    """
    left, right = st.columns([2, 1])
    period = left.segmented_control("Period", list(PERIODS), default=DEFAULT_PERIOD,
                                    key=f"{key}_period") or DEFAULT_PERIOD
    floor = right.slider(
        "Minimum link relevance", 0.0, 1.0, 0.0, 0.1, key=f"{key}_relevance",
        help="1: named in the headline; 0.9: an archive's ticker column; 0.6: only in the "
             "summary; 0.4: only a category; 0.3: only the feed's ticker.")
    span = data_period(path, PERIODS[period])
    period_note(span)
    return span.start, span.end, float(floor)


def every_day(daily: pd.DataFrame) -> pd.DataFrame:
    """``daily`` with a row for each day from its first to its last, oldest first.

    A day without stories gets zero stories and a null negative share and mean sentiment:
    no bar, and the share's line breaks there (Vega-Lite breaks a line at a null) instead of
    drawing a straight segment across weeks or months with no data.

    Args:
        daily: one row per day with stories (``day`` at midnight UTC, counts, shares).
    """
    if daily.empty:
        return daily
    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    full = daily.set_index("day").reindex(days).rename_axis("day").reset_index()
    counts = [c for c in ("n_stories", "n_negative", "n_article_label") if c in full.columns]
    full[counts] = full[counts].fillna(0)
    return full


def story_chart(daily: pd.DataFrame, subject: str) -> None:
    """Daily stories (negative ones red) and the negative share toward ``subject``; days
    without stories are gaps (:func:`every_day`), for the Companies and Sectors pages alike.

    Args:
        daily: rows of :data:`dashboard.queries.companies.DAILY_COLUMNS`.
        subject: what the labels are toward, for the axis title (plain text).
    """
    daily = every_day(daily)
    frame = pd.DataFrame({
        # Date-only ISO strings are parsed as UTC midnight by Vega-Lite.
        "day": daily["day"].dt.strftime("%Y-%m-%d"),
        "negative": daily["n_negative"].astype(int),
        "other": (daily["n_stories"] - daily["n_negative"]).astype(int),
        "n_stories": daily["n_stories"].astype(int),
        "negative_share": daily["negative_share"].astype(float),
        "mean_sentiment": daily["mean_sentiment"].astype(float),
        "n_article_label": daily["n_article_label"].astype(int),
    })
    x = alt.X("day:T", timeUnit="utcyearmonthdate", title="day (UTC)")
    tooltip = [alt.Tooltip("day:T", timeUnit="utcyearmonthdate", title="day (UTC)"),
               alt.Tooltip("n_stories:Q", title="stories"),
               alt.Tooltip("negative:Q", title="negative stories"),
               alt.Tooltip("negative_share:Q", title="negative share", format=".0%"),
               alt.Tooltip("mean_sentiment:Q", title="mean sentiment", format="+.2f"),
               alt.Tooltip("n_article_label:Q", title="counted with the article label")]
    bars = alt.Chart().transform_fold(["negative", "other"], as_=["kind", "stories"]).mark_bar(
        opacity=0.75).encode(
        x=x, y=alt.Y("stories:Q", stack=True, title="stories"),
        color=alt.Color("kind:N", title="label", scale=alt.Scale(
            domain=["negative", "other"], range=["#d62728", "#b0b7c3"])),
        tooltip=tooltip)
    line = alt.Chart().mark_line(point=True, color="#7f0000").encode(
        # Points in the middle of their day's bar.
        x=alt.X("day:T", timeUnit="utcyearmonthdate", title="day (UTC)", bandPosition=0.5), y=alt.Y("negative_share:Q", title=f"negative share toward {subject}",
                      scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        tooltip=tooltip)
    chart = alt.layer(bars, line, data=frame).resolve_scale(y="independent")
    st.altair_chart(chart.properties(height=260), width="stretch")


def alerts_table(path: str, scope: str, entity: str, tz: str) -> None:
    """The alerts of one entity (any state, newest window first) and a link to explain the
    newest on the Alerts page."""
    alerts = queries.entity_alerts(path, scope, entity)
    if alerts.empty:
        st.caption(f"No {scope} alert for this {'company' if scope == 'ticker' else scope}.")
        return
    st.dataframe(
        pd.DataFrame({
            "state": alerts["state"], "severity": alerts["severity"], "rule": alerts["rule"],
            "window": [window_text(s, e) for s, e in zip(
                to_tz(alerts["window_start"], tz), to_tz(alerts["window_end"], tz),
                strict=True)],
            "observed": alerts["observed"], "expected": alerts["expected"],
            "p_value": alerts["p_value"], "stories": alerts["n_stories"],
            "alert_id": alerts["alert_id"],
        }),
        hide_index=True, width="stretch",
        column_config={
            "window": st.column_config.TextColumn(f"window ({tz})"),
            "observed": st.column_config.NumberColumn("observed", format="%.3g"),
            "expected": st.column_config.NumberColumn("expected", format="%.3g"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.2g"),
        },
    )
    st.page_link(ALERTS_PAGE, label="Explain the newest alert",
                 icon=":material/notifications_active:",
                 query_params={"alert": str(alerts.iloc[0]["alert_id"])})
