"""The movers panel: companies or sources ranked by the change of their negative share.

Drawn by the Companies page. A table of tickers (or sources) ranked by the change of their
negative share in the window (last day or week) against the 28 days before, each with a
sparkline of its daily negative share; entities with too few articles in the window are listed
last as insufficient data. Selecting a company row opens that company on the Companies page;
selecting a source row (or the picker under the table) opens the Articles page filtered to it.
Then a day x entity heatmap of the negative share for the top entities.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.ui import data_period, escape_markdown, period_note, to_tz, window_text

ARTICLES_PAGE = "app_pages/articles.py"
#: Session key the Companies page reads for a company to show (set by a ranking row).
COMPANY_REQUEST = "company_request"
BASELINE_DAYS = 28
MIN_WINDOW = 3  # fewest scored articles in the window for its share to count
HEATMAP_ENTITIES = 20
_SCOPES = {"Companies": "ticker", "Sources": "source"}
_WINDOWS = {"Last day": 1, "Last 7 days": 7}


def ranking_table(path: str, scope: str, window_days: int, end: pd.Timestamp, tz: str
                  ) -> pd.DataFrame:
    """Draw the ranked table with sparklines for the window ending at ``end``; return the
    ranking (empty when nothing to rank)."""
    ranked = queries.entity_changes(path, scope, end, window_days=window_days,
                                    baseline_days=BASELINE_DAYS, min_window=MIN_WINDOW)
    if ranked.empty:
        st.info("No scored articles in this window yet.")
        return ranked
    win_start = end - pd.Timedelta(days=window_days)
    st.caption(
        f"Window {window_text(*to_tz(pd.Series([win_start, end]), tz))} ({tz}) against the "
        f"{BASELINE_DAYS} days before it. Fewer than {MIN_WINDOW} scored articles in the "
        "window: insufficient data, no share.")
    daily = queries.entity_daily(path, scope, tuple(ranked["entity"]), end,
                                 days=BASELINE_DAYS + window_days)
    trend = daily.groupby("entity")["negative_share"].apply(list).to_dict()
    table = pd.DataFrame({
        "entity": ranked["entity_name"],
        "change": ranked["change"],
        "share_window": ranked["share_window"],
        "share_baseline": ranked["share_baseline"],
        "n_window": ranked["n_window"],
        "n_baseline": ranked["n_baseline"],
        "trend": [trend.get(e, []) for e in ranked["entity"]],
        "coverage": ["ok" if pd.notna(s) else "insufficient data"
                     for s in ranked["share_window"]],
    })
    st.session_state["entity_ranked"] = ranked  # read by the selection callback
    event = st.dataframe(
        table, hide_index=True, width="stretch", key="entity_table",
        on_select=_open_selected if scope == "ticker" else "rerun",
        selection_mode="single-row",
        column_config={
            "entity": st.column_config.TextColumn("ticker" if scope == "ticker" else "source"),
            "change": st.column_config.NumberColumn(
                "change", format="percent", help="Window share minus baseline share."),
            "share_window": st.column_config.NumberColumn("negative share", format="percent"),
            "share_baseline": st.column_config.NumberColumn("baseline share", format="percent"),
            "n_window": st.column_config.NumberColumn("articles (window)"),
            "n_baseline": st.column_config.NumberColumn("articles (baseline)"),
            "trend": st.column_config.LineChartColumn(
                "daily negative share", y_min=0.0, y_max=1.0,
                help="One point per day with scored articles."),
        },
    )
    rows = event.selection.rows if event is not None and scope == "source" else []
    if rows:
        entity = str(ranked.iloc[rows[0]]["entity"])
        st.switch_page(ARTICLES_PAGE, query_params={scope: entity})
    return ranked


def _open_selected() -> None:
    """Selection callback of the company ranking: show the selected company above (widget
    state may be set in a callback, before the page's picker is drawn)."""
    rows = st.session_state["entity_table"]["selection"]["rows"]
    ranked = st.session_state.get("entity_ranked")
    if rows and ranked is not None and rows[0] < len(ranked):
        st.session_state[COMPANY_REQUEST] = str(ranked.iloc[rows[0]]["entity"])


def click_through(ranked: pd.DataFrame, scope: str) -> None:
    """A picker and a link to the Articles page filtered to the chosen entity."""
    names = dict(zip(ranked["entity"], ranked["entity_name"], strict=True))
    choice = st.selectbox("Open the articles of", list(names), format_func=names.get,
                          key="entity_pick")
    if choice is not None:
        # Labels are markdown and ticker symbols come from feed text: escape them.
        st.page_link(ARTICLES_PAGE, label=f"Articles of {escape_markdown(names[choice])}",
                     icon=":material/article:", query_params={scope: choice})


def heatmap(path: str, ranked: pd.DataFrame, scope: str, window_days: int,
            end: pd.Timestamp) -> None:
    """Day × entity negative share of the top entities by window volume."""
    st.subheader("Negative share by day")
    top = ranked.sort_values("n_window", ascending=False).head(HEATMAP_ENTITIES)
    daily = queries.entity_daily(path, scope, tuple(ranked["entity"]), end,
                                 days=BASELINE_DAYS + window_days)
    daily = daily[daily["entity"].isin(top["entity"])]
    if daily.empty:
        st.caption("No daily data for these entities.")
        return
    names = dict(zip(top["entity"], top["entity_name"], strict=True))
    cells = pd.DataFrame({
        "entity": daily["entity"].map(names),
        "day": daily["day"].dt.strftime("%Y-%m-%d"),
        "negative_share": daily["negative_share"],
        "n_scored": daily["n_scored"],
        "coverage": ["ok" if n >= MIN_WINDOW else "insufficient data"
                     for n in daily["n_scored"]],
    })
    base = alt.Chart(cells).encode(
        x=alt.X("day:O", title="day (UTC)"),
        y=alt.Y("entity:N", title=None, sort=[names[e] for e in top["entity"]]),
        tooltip=[alt.Tooltip("entity:N"), alt.Tooltip("day:O", title="day (UTC)"),
                 alt.Tooltip("negative_share:Q", title="negative share", format=".0%"),
                 alt.Tooltip("n_scored:Q", title="scored articles"),
                 alt.Tooltip("coverage:N")],
    )
    chart = base.mark_rect().encode(
        color=alt.condition(
            alt.datum.coverage == "ok",
            alt.Color("negative_share:Q", title="negative share",
                      scale=alt.Scale(scheme="reds", domain=[0, 1]),
                      legend=alt.Legend(format=".0%")),
            alt.value("#e6e6e6")))
    st.altair_chart(chart.properties(height=alt.Step(24)), width="stretch")
    st.caption(f"Grey: fewer than {MIN_WINDOW} scored articles that day (insufficient data).")


def movers(path: str, tz: str) -> None:
    """Draw the movers panel: scope and window pickers, the ranking, the picker and the
    heatmap (its subheader "Negative share by day" is the page's last text)."""
    st.subheader("Movers")
    left, right = st.columns(2)
    scope = _SCOPES[left.segmented_control("Rank", list(_SCOPES), default="Companies",
                                           key="entity_scope") or "Companies"]
    window_days = _WINDOWS[right.segmented_control("Window", list(_WINDOWS), default="Last day",
                                                   key="entity_window") or "Last day"]
    # The window ends now, or at the most recent data when its days hold too few of the
    # articles it ranks (a company's share needs MIN_WINDOW of them).
    if scope == "ticker":
        period = data_period(path, window_days, coverage=queries.link_coverage,
                             minimum=MIN_WINDOW, noun="scored articles on one company")
    else:
        period = data_period(path, window_days, minimum=MIN_WINDOW)
    period_note(period)
    ranked = ranking_table(path, scope, window_days, period.end, tz)
    if not ranked.empty:
        if scope == "source":
            click_through(ranked, scope)
        heatmap(path, ranked, scope, window_days, period.end)
