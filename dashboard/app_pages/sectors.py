"""Sectors page: how the news treats each sector, and which of its companies drive it.

1. Every sector of the company universe in the chosen period: companies, stories, negative
   stories and share, mean sentiment and a sparkline of its daily negative share; then a
   day x sector heatmap. Labels are toward each company (the article's where the model gave
   none); a story naming two companies of one sector counts once for it, as the sector alert
   rules count it.
2. The chosen sector (``?sector=`` in the URL): its daily stories and negative share, its
   companies with the most negative stories in the period (each opens on the Companies page),
   and its sector alerts.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.panels import alerts_table, period_controls, story_chart
from dashboard.ui import (
    db_path, display_tz, escape_markdown, model_caption, require_company_tables, require_data,
)
from pipeline.errors import StorageError

COMPANIES_PAGE = "app_pages/entities.py"

def overview(totals: pd.DataFrame, daily: pd.DataFrame) -> None:
    """One row per sector with its totals and daily trend, then the day x sector heatmap."""
    trend = daily.groupby("sector")["negative_share"].apply(list).to_dict()
    st.dataframe(
        pd.DataFrame({
            "sector": totals["sector"], "companies": totals["n_companies"],
            "stories": totals["n_stories"], "negative": totals["n_negative"],
            "negative_share": totals["negative_share"],
            "mean_sentiment": totals["mean_sentiment"],
            "trend": [trend.get(s, []) for s in totals["sector"]],
        }),
        hide_index=True, width="stretch",
        column_config={
            "companies": st.column_config.NumberColumn(help="Companies of the universe in it."),
            "stories": st.column_config.NumberColumn(help="A story counts once per sector."),
            "negative": st.column_config.NumberColumn("negative stories"),
            "negative_share": st.column_config.NumberColumn("negative share", format="percent"),
            "mean_sentiment": st.column_config.NumberColumn("mean sentiment", format="%+.2f"),
            "trend": st.column_config.LineChartColumn(
                "daily negative share", y_min=0.0, y_max=1.0,
                help="One point per day with scored stories."),
        },
    )
    if daily.empty:
        return
    cells = pd.DataFrame({
        "sector": daily["sector"], "day": daily["day"].dt.strftime("%Y-%m-%d"),
        "negative_share": daily["negative_share"], "n_stories": daily["n_stories"],
    })
    chart = alt.Chart(cells).mark_rect().encode(
        x=alt.X("day:O", title="day (UTC)"),
        y=alt.Y("sector:N", title=None, sort=list(totals["sector"])),
        color=alt.Color("negative_share:Q", title="negative share",
                        scale=alt.Scale(scheme="reds", domain=[0, 1]),
                        legend=alt.Legend(format=".0%")),
        tooltip=[alt.Tooltip("sector:N"), alt.Tooltip("day:O", title="day (UTC)"),
                 alt.Tooltip("negative_share:Q", title="negative share", format=".0%"),
                 alt.Tooltip("n_stories:Q", title="stories")],
    )
    st.altair_chart(chart.properties(height=alt.Step(24)), width="stretch")


def pick_sector(totals: pd.DataFrame) -> str | None:
    """The sector to detail: ``?sector=`` once, else the picker (most negative first)."""
    options = list(totals["sector"])
    wanted = st.query_params.get("sector")
    if wanted in options and st.session_state.get("sector_linked") != wanted:
        st.session_state["sector_pick"] = wanted
    choice = st.selectbox("Sector", options, key="sector_pick")
    if choice:
        st.query_params["sector"] = st.session_state["sector_linked"] = choice
    return choice


def members(path: str, sector: str, span: tuple) -> None:
    """The sector's companies with the most negative stories, and a link to open one."""
    found = queries.sector_companies(path, sector, *span)
    st.markdown("**Companies with the most negative stories**")
    if found.empty:
        st.caption("No scored story about this sector's companies in this period.")
        return
    st.dataframe(
        pd.DataFrame({
            "ticker": found["ticker"], "name": found["name"],
            "stories": found["n_stories"], "negative": found["n_negative"],
            "negative_share": found["negative_share"],
            "mean_sentiment": found["mean_sentiment"],
            "article_label": found["n_article_label"],
        }),
        hide_index=True, width="stretch",
        column_config={
            "negative": st.column_config.NumberColumn("negative stories",
                                                      help="Negative toward the company."),
            "negative_share": st.column_config.NumberColumn("negative share", format="percent"),
            "mean_sentiment": st.column_config.NumberColumn("mean sentiment", format="%+.2f"),
            "article_label": st.column_config.NumberColumn(
                "by article label", help="Stories counted with their article label (they name no other company, or are not judged toward it)."),
        },
    )
    names = dict(zip(found["ticker"], found["name"], strict=True))
    ticker = st.selectbox("Open company", list(names), key="sector_company",
                          format_func=lambda t: f"{t} · {names[t]}")
    if ticker:
        st.page_link(COMPANIES_PAGE, label=f"Company page of {escape_markdown(ticker)}",
                     icon=":material/domain:", query_params={"ticker": ticker})


path, tz = db_path(), display_tz()
st.title("Sectors")
require_data(path)
try:
    model_caption(path)
    require_company_tables(path)
    span = period_controls(path, "sector")
    totals = queries.sector_totals(path, *span)
    if totals.empty:
        st.info("No company list yet: the next `tonewatch run` writes it.")
        st.stop()
    overview(totals, queries.sector_daily(path, *span))
    sector = pick_sector(totals)
    if sector:
        st.subheader(escape_markdown(sector))
        daily = queries.sector_daily(path, *span)
        daily = daily[daily["sector"] == sector]
        if daily.empty:
            st.info("No scored story about this sector in this period.")
        else:
            story_chart(daily, sector)
        members(path, sector, span)
        st.markdown("**Sector alerts**")
        alerts_table(path, "sector", sector, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
