"""Articles page: find the articles behind a number, and export them.

Filters: published date range (days in the display zone), ticker, source, label, minimum
confidence (the top class's probability) and a text search over title and summary. The table
shows the newest matches with the production model's label and three probabilities, a link to
the publisher (http(s) only) and a CSV export of up to :data:`EXPORT_LIMIT` rows. The URL
carries ``?ticker=`` or ``?source=`` so the Companies page can link here.

Under the table, the detail of one article (picked by selecting its row, or in the picker; the
newest by default): the companies it is linked to, how (method, relevance, mention) and its
label toward each (or the article label where the model gave none for the company).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.export import articles_csv
from dashboard.period import Period
from dashboard.ui import (
    TIME_FORMAT, data_period, db_path, display_tz, escape_markdown, fmt_instant, model_caption,
    period_note, require_data, safe_url, tickers_text, to_tz,
)
from pipeline.domain import LABELS
from pipeline.errors import StorageError

SHOWN = 500  # rows drawn in the table
EXPORT_LIMIT = 100_000  # rows in a CSV export
DEFAULT_DAYS = 30
COMPANIES_PAGE = "app_pages/entities.py"


def _query_param_choice(name: str, options: list[str]) -> int:
    """Index of ``?name=`` in ``options`` (0, "any", when absent); unknown values are added."""
    value = st.query_params.get(name)
    if not value:
        return 0
    if value not in options:
        options.append(value)
    return options.index(value)


def _day_start(day: date, tz: str) -> pd.Timestamp:
    """The first instant of ``day`` in ``tz``. Where a DST change skips midnight (e.g.
    America/Sao_Paulo until 2019) that is the first instant that exists."""
    return pd.Timestamp(day).tz_localize(tz, nonexistent="shift_forward", ambiguous=True)


def date_range(container, first: date, last: date, tz: str, period: Period) -> object:
    """Draw the published-date range (days in ``tz``) and return its value.

    Left untouched, the range is the days in ``tz`` that ``period`` touches (the
    :data:`DEFAULT_DAYS` up to now, or up to the most recent data: see
    :func:`dashboard.ui.data_period`; a line under the filters then says so), and keeps
    following it when the timezone changes or newer articles arrive. A range the user picked
    wins: it is kept, and carried over a timezone change as the days in the new zone that hold
    every instant of the old range (up to one day wider), and a caption says so.

    Args:
        container: where to draw (a column).
        first, last: days of the oldest and newest article in ``tz``.
        tz: IANA name of the display zone.
        period: the default period.
    """
    key, basis_key = "articles_dates", "articles_dates_basis"
    low, high = first, max(last, pd.Timestamp.now(tz=tz).date())
    default = (min(max(period.start.tz_convert(tz).date(), low), high),
               min(max(period.last_instant.tz_convert(tz).date(), low), high))
    # (zone, default range) of the previous run: tells a default range from a picked one.
    old_tz, old_default = st.session_state.get(basis_key, (tz, None))
    picked = st.session_state.get(key)
    value, note = picked, None
    if picked is None or tuple(picked) == old_default:
        value = default
    elif old_tz != tz and len(picked) == 2:
        start = _day_start(picked[0], old_tz).tz_convert(tz).date()
        end = (_day_start(picked[1] + timedelta(days=1), old_tz)
               - pd.Timedelta(1, "ns")).tz_convert(tz).date()
        value = (min(max(start, low), high), min(max(end, low), high))
        note = (f"Timezone changed: your range {picked[0]} – {picked[1]} ({old_tz}) is now "
                f"{value[0]} – {value[1]} ({tz}), the days holding the same instants.")
    if value != picked:
        st.session_state[key] = value  # the widget's value; `value=` would not reset it
    st.session_state[basis_key] = (tz, default)
    span = container.date_input(f"Published ({tz})", min_value=low, max_value=high, key=key)
    if note:
        container.caption(note)
    elif tuple(value) == default:
        period_note(period)
    return span


def filters(path: str, tz: str) -> queries.ArticleFilter:
    """Draw the filter widgets and return what they select."""
    choices = queries.filter_choices(path)
    newest = choices["last"] if choices["last"] is not None else pd.Timestamp.now(tz="UTC")
    last = pd.Timestamp(newest).tz_convert(tz).date()
    first = pd.Timestamp(choices["first"]).tz_convert(tz).date() \
        if choices["first"] is not None else last
    period = data_period(path, DEFAULT_DAYS)
    top = st.columns([2, 1, 2, 2])
    span = date_range(top[0], first, last, tz, period)
    tickers = ["", *choices["tickers"]]
    ticker = top[1].selectbox("Ticker", tickers, index=_query_param_choice("ticker", tickers),
                              format_func=lambda t: t or "any", key="articles_ticker")
    sources = dict(choices["sources"])
    source_ids = ["", *sources]
    source = top[2].selectbox("Source", source_ids,
                              index=_query_param_choice("source", source_ids),
                              format_func=lambda s: sources.get(s, s) if s else "any",
                              key="articles_source")
    labels = top[3].multiselect("Label", list(LABELS), default=list(LABELS),
                                key="articles_labels")
    bottom = st.columns([1, 2])
    confidence = bottom[0].slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05,
                                  key="articles_confidence",
                                  help="Probability of the predicted label.")
    text = bottom[1].text_input("Search title and summary", key="articles_text").strip()
    # Keep the URL shareable: it names the entity being looked at.
    for name, value in (("ticker", ticker), ("source", source)):
        if value:
            st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]

    start = end = None
    if isinstance(span, tuple) and len(span) == 2:
        # Days are picked in the display zone; the query compares instants, so convert here.
        start, end = _day_start(span[0], tz), _day_start(span[1] + timedelta(days=1), tz)
    return queries.ArticleFilter(
        start=start, end=end, ticker=ticker or None, feed_id=source or None,
        labels=None if set(labels) == set(LABELS) else tuple(labels),
        min_confidence=confidence or None, text=text or None)


def results(path: str, where: queries.ArticleFilter, tz: str) -> pd.DataFrame:
    """The matching articles, newest first, and the CSV export; return the shown rows."""
    total = queries.count_articles(path, where)
    found = queries.find_articles(path, where, limit=SHOWN)
    left, right = st.columns([3, 1])
    left.markdown(f"**{total:,}** matching articles"
                  + (f"; the newest {SHOWN:,} are shown." if total > SHOWN else "."))
    right.download_button(
        "Export CSV", data=lambda: articles_csv(
            queries.export_articles(path, where, EXPORT_LIMIT)),
        file_name="tonewatch-articles.csv", mime="text/csv", on_click="ignore",
        disabled=total == 0, icon=":material/download:",
        help=f"Up to {EXPORT_LIMIT:,} matching articles, times in UTC.")
    if found.empty:
        st.info("No article matches these filters.")
        return found
    st.session_state["articles_shown"] = found  # read by the row-selection callback
    st.dataframe(
        pd.DataFrame({
            "published": to_tz(found["published_at"], tz), "source": found["source"],
            "title": found["title"], "label": found["label"],
            "p_negative": found["p_negative"], "p_neutral": found["p_neutral"],
            "p_positive": found["p_positive"],
            "tickers": [tickers_text(t) for t in found["tickers"]],
            "link": [safe_url(u) for u in found["url"]],
        }),
        hide_index=True, width="stretch", height=560, key="articles_table",
        on_select=_pick_selected_row, selection_mode="single-row",
        column_config={
            "published": st.column_config.DatetimeColumn(f"published ({tz})", format=TIME_FORMAT),
            "title": st.column_config.TextColumn("title", width="large"),
            "label": st.column_config.TextColumn("label", help="Empty: not scored yet."),
            "p_negative": st.column_config.NumberColumn(format="%.2f"),
            "p_neutral": st.column_config.NumberColumn(format="%.2f"),
            "p_positive": st.column_config.NumberColumn(format="%.2f"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )
    return found


def _pick_selected_row() -> None:
    """Selection callback: show the selected article in the detail below (a callback may set
    the picker's state before the picker is drawn)."""
    rows = st.session_state["articles_table"]["selection"]["rows"]
    shown = st.session_state.get("articles_shown")
    if rows and shown is not None and rows[0] < len(shown):
        st.session_state["article_pick"] = str(shown.iloc[rows[0]]["article_id"])


def detail(path: str, found: pd.DataFrame, tz: str) -> None:
    """One article's companies: method, relevance, mention, label and p_negative toward each."""
    st.subheader("Article detail")
    ids = list(found["article_id"])
    titles = dict(zip(found["article_id"], found["title"], strict=True))
    if st.session_state.get("article_pick") not in ids:
        st.session_state.pop("article_pick", None)  # filtered away: back to the newest
    chosen = st.selectbox(
        "Article", ids, key="article_pick",
        format_func=lambda a: _shorten(titles.get(a)),
        help="Or select a row of the table.")
    row = found.set_index("article_id").loc[chosen]
    st.text(str(row["title"]))  # feed text: plain text only
    label = (f"article label {row['label']} (p_negative {row['p_negative']:.2f})"
             if isinstance(row["label"], str) else "not scored yet")
    st.text(f"{row['source']} · {fmt_instant(row['published_at'], tz)} ({tz}) · {label}")
    links = (queries.article_companies(path, chosen) if queries.has_company_tables(path)
             else pd.DataFrame())
    if links.empty:
        st.caption("Linked to no company.")
        return
    st.dataframe(
        pd.DataFrame({
            "ticker": links["ticker"], "company": links["name"], "sector": links["sector"],
            "method": links["method"], "relevance": links["relevance"],
            "mention": links["mention"], "label": links["label"],
            "p_negative": links["p_negative"],
            "basis": ["" if pd.isna(lab) else ("company" if t else "article label")
                      for lab, t in zip(links["label"], links["targeted"], strict=True)],
        }),
        hide_index=True, width="stretch",
        column_config={
            "company": st.column_config.TextColumn(help="Empty: not in the company list."),
            "method": st.column_config.TextColumn("link", help="How the company was found."),
            "relevance": st.column_config.NumberColumn(format="%.1f"),
            "label": st.column_config.TextColumn("label toward company"),
            "p_negative": st.column_config.NumberColumn(format="%.2f"),
            "basis": st.column_config.TextColumn(
                "label from", help="company: the model's label toward this company; article "
                                   "label: the article's label stands in (it names only this "
                                   "company, or is not judged toward it)."),
        },
    )
    top = str(links.iloc[0]["ticker"])
    st.page_link(COMPANIES_PAGE, label=f"Company page of {escape_markdown(top)}",
                 icon=":material/domain:", query_params={"ticker": top})


def _shorten(title: object, width: int = 90) -> str:
    """A title cut to ``width`` characters for the picker (plain text)."""
    text = "" if title is None or pd.isna(title) else " ".join(str(title).split())
    return text if len(text) <= width else text[:width - 1] + "…"


path, tz = db_path(), display_tz()
st.title("Articles")
require_data(path)
try:
    model_caption(path)
    shown = results(path, filters(path, tz), tz)
    if not shown.empty:
        detail(path, shown, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
