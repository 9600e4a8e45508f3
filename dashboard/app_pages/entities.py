"""Companies page: find a company, see how the news treats it, and which companies moved.

1. A search box over the company universe (ticker, name, aliases; tickers linked to articles
   but missing from the universe are found by ticker) and a picker of the matches.
   ``?ticker=`` in the URL picks a company.
2. The chosen company: its header (name, ticker, exchange, country, sector), the daily stories
   about it with their negative share *toward the company* (the model's label toward it, or
   the article's label where the model gave none: said so), its stories with each link's
   method, relevance and mention and both labels, and its ticker alerts.
3. Movers (:mod:`dashboard.movers`): companies or sources ranked by the change of their
   negative share, with sparklines and a day x entity heatmap.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.movers import ARTICLES_PAGE, COMPANY_REQUEST, movers
from dashboard.panels import alerts_table, period_controls, story_chart
from dashboard.ui import (
    TIME_FORMAT, code_span, db_path, display_tz, escape_markdown, model_caption,
    require_company_tables, require_data, safe_url, to_tz,
)
from pipeline.errors import StorageError

SEARCH_LIMIT = 50  # matches offered by the picker
SHOWN = 500  # stories listed
NOT_LISTED = "not in the company list"

def pick_company(path: str) -> str | None:
    """Draw the search box and the picker; return the chosen ticker (None: nothing to pick).

    The choice is, by priority: a company requested by a ranking row, a new ``?ticker=``, the
    best match of a new search, else the previous pick (kept when a search's matches leave it
    out). A search that matches nothing picks nothing: no company is shown below it.
    """
    left, right = st.columns([2, 3])
    text = left.text_input("Search companies", key="company_search",
                           placeholder="ticker, name or alias").strip()
    matches = queries.search_companies(path, text, limit=SEARCH_LIMIT)
    options = list(matches["ticker"])
    names = {t: n for t, n in zip(matches["ticker"], matches["name"], strict=True)
             if isinstance(n, str)}
    request = st.session_state.pop(COMPANY_REQUEST, None)
    wanted = st.query_params.get("ticker")
    if wanted and st.session_state.get("company_linked") != wanted:
        st.session_state["company_linked"] = wanted
        request = request or wanted
    if text != st.session_state.get("company_search_seen", ""):
        st.session_state["company_search_seen"] = text
        request = request or (options[0] if options else None)
    if request:
        st.session_state["company_pick"] = request
    picked = st.session_state.get("company_pick")
    if picked and picked not in options:
        options.insert(0, picked)
    if not options:
        right.info("No company list yet: the next `tonewatch run` writes it."
                   if not text else "No company matches this search.")
        return None
    if text and matches.empty and not request:
        # Showing the previous pick under a search that matches nothing reads as a match.
        right.info("No company matches this search.")
        return None
    choice = right.selectbox(
        "Company", options, key="company_pick",
        format_func=lambda t: f"{t} · {names[t]}" if t in names else t,
        help=f"The best {SEARCH_LIMIT} matches; without a search, the most covered companies.")
    if choice:
        # Keep the URL shareable; remember it so it is not taken for a new link.
        st.query_params["ticker"] = st.session_state["company_linked"] = choice
    return choice


def header(path: str, ticker: str) -> bool:
    """Draw the company's name and listing; return False for a ticker unknown everywhere."""
    found = queries.company(path, ticker)
    if found.empty:
        st.warning(f"No company {code_span(ticker)} in the company list or the articles.")
        return False
    c = found.iloc[0]
    # Names come from the company list or, for archive tickers, from feed data: escape.
    st.subheader(escape_markdown(c["name"] if c["listed"] else ticker))
    if c["listed"]:
        parts = [ticker, c["exchange"], c["country"], c["sector"], c["industry"]]
        st.text(" · ".join(str(p) for p in parts if isinstance(p, str) and p))
    else:
        st.text(f"{ticker} · {NOT_LISTED}: an archive ticker kept as linked, no sector.")
    return True


def sentiment(path: str, ticker: str, span: tuple) -> None:
    """Totals and the daily chart of stories and negative share toward the company."""
    daily = queries.company_daily(path, ticker, *span)
    if daily.empty:
        st.info("No scored story about this company in this period.")
        return
    n_stories, n_negative = int(daily["n_stories"].sum()), int(daily["n_negative"].sum())
    mean = (daily["mean_sentiment"] * daily["n_stories"]).sum() / n_stories
    cols = st.columns(3)
    cols[0].metric("Stories", f"{n_stories:,}", help="Copies of one story on one day count once.")
    cols[1].metric("Negative toward the company", f"{n_negative / n_stories:.0%}",
                   help=f"{n_negative} negative stories.")
    cols[2].metric("Mean sentiment", f"{mean:+.2f}", help="Mean p_positive - p_negative, -1..1.")
    story_chart(daily, ticker)
    fallback = int(daily["n_article_label"].sum())
    if fallback:
        st.caption(f"{fallback} of these stories are counted with their article label: they "
                   "name no other company (only stories naming several companies are judged "
                   "company by company, unless TONEWATCH_ENTITY_SCORING=all), are not scored "
                   "toward the company yet, or the model in force has no company-level output.")


def stories(path: str, ticker: str, span: tuple, tz: str) -> None:
    """The company's linked articles: how each is linked, its label toward the company and
    the article's own label."""
    found = queries.company_stories(path, ticker, *span, limit=SHOWN)
    st.markdown("**Stories**" + (f" (the newest {SHOWN:,})" if len(found) >= SHOWN else ""))
    if found.empty:
        st.caption("No story linked to this company in this period.")
        return
    basis = ["" if pd.isna(label) else ("company" if targeted else "article label")
             for label, targeted in zip(found["label"], found["targeted"], strict=True)]
    st.dataframe(
        pd.DataFrame({
            "published": to_tz(found["published_at"], tz), "source": found["source"],
            "title": found["title"], "method": found["method"],
            "relevance": found["relevance"], "mention": found["mention"],
            "label": found["label"], "p_negative": found["p_negative"], "basis": basis,
            "article_label": found["article_label"],
            "link": [safe_url(u) for u in found["url"]],
        }),
        hide_index=True, width="stretch", height=min(420, 38 + 35 * len(found)),
        column_config={
            "published": st.column_config.DatetimeColumn(f"published ({tz})", format=TIME_FORMAT),
            "title": st.column_config.TextColumn("title", width="large"),
            "method": st.column_config.TextColumn("link", help="How the company was found."),
            "relevance": st.column_config.NumberColumn(
                format="%.1f", help="1 named in the headline ... 0.3 only the feed's ticker."),
            "label": st.column_config.TextColumn("label toward company",
                                                 help="Empty: not scored yet."),
            "p_negative": st.column_config.NumberColumn(format="%.2f"),
            "basis": st.column_config.TextColumn(
                "label from", help="company: the model's label toward this company; article "
                                   "label: the article's label stands in (a story naming only "
                                   "this company, or not judged toward it)."),
            "article_label": st.column_config.TextColumn("article label"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )


path, tz = db_path(), display_tz()
st.title("Companies")
require_data(path)
try:
    model_caption(path)
    require_company_tables(path)
    chosen = pick_company(path)
    if chosen and header(path, chosen):
        span = period_controls(path, "company")
        sentiment(path, chosen, span)
        stories(path, chosen, span, tz)
        st.markdown("**Alerts**")
        alerts_table(path, "ticker", chosen, tz)
        st.page_link(ARTICLES_PAGE, label=f"Articles of {escape_markdown(chosen)}",
                     icon=":material/article:", query_params={"ticker": chosen})
    st.divider()
    movers(path, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
