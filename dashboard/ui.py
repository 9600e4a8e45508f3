"""Helpers shared by the dashboard pages: session values, guards, safe display of feed text.

Feed text (titles, summaries, URLs) is untrusted: a feed can carry ``<script>`` tags, markdown
links to ``javascript:`` URLs or lookalike link text. Pages therefore show it only as dataframe
cells or ``st.text`` (never through ``st.markdown``/``unsafe_allow_html``), and turn a URL into a
link only when :func:`safe_url` accepts it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.period import COVERAGE_COLUMNS, Period, choose_period, period_start
from pipeline.config import load_settings
from pipeline.errors import StorageError, TonewatchError

NO_DATA_MESSAGE = "No data yet: run `tonewatch run` first"
COMPANIES_UPGRADE_MESSAGE = (
    "This database predates company links: the next `tonewatch run` (or any pipeline stage) "
    "upgrades it and links its articles to companies.")

_P = ParamSpec("_P")

#: momentJS format for ``st.column_config.DatetimeColumn``.
TIME_FORMAT = "YYYY-MM-DD HH:mm"

# Characters with a meaning in markdown or HTML; escaped, they render as themselves.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&])")

def db_path() -> str:
    """The database path set by the router (``TONEWATCH_DATA_DIR``) for this session."""
    return st.session_state.get("db_path") or str(load_settings().db_path.resolve())


def display_tz() -> str:
    """The IANA zone chosen in the sidebar; storage stays UTC, only display converts."""
    return st.session_state.get("tz", "UTC")


def to_tz(instants: pd.Series, tz: str) -> pd.Series:
    """Convert a tz-aware UTC series to ``tz`` for display (storage stays UTC)."""
    return pd.to_datetime(instants, utc=True).dt.tz_convert(tz)


def fmt_instant(instant: object, tz: str) -> str:
    """Format one UTC instant as ``YYYY-MM-DD HH:MM`` in ``tz``; ``"never"`` for NULL."""
    if instant is None or pd.isna(instant):
        return "never"
    return f"{pd.Timestamp(instant).tz_convert(tz):%Y-%m-%d %H:%M}"


def safe_url(url: object) -> str | None:
    """Return ``url`` if it is an absolute http(s) URL, else None (no javascript:, data: ...).

    Control characters and whitespace inside the URL are refused too: browsers strip them, so
    ``java\\tscript:`` would otherwise slip through a scheme check.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    return None


def escape_markdown(text: object) -> str:
    """Backslash-escape markdown and HTML specials, for feed-derived text in a widget label
    (labels are rendered as markdown): ``[x](javascript:y)`` shows as written, not as a link."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", "" if text is None else str(text))


def code_span(text: object) -> str:
    """Render ``text`` as a markdown code span (literal; backticks inside are replaced, and
    line breaks too: a blank line would end the span and let the rest render as markdown)."""
    return "`" + re.sub(r"[\r\n\v\f\u2028\u2029\x85]+", " ", str(text).replace("`", "'")) + "`"


#: What an alert id in a link (``?alert=``) may look like: alert ids are 40 hex digits.
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def link_alert_id(value: object) -> str | None:
    """``value`` (a ``?alert=`` query parameter) when it has the shape of an alert id, else
    None: a link's text is never echoed unless it is a plain id."""
    return value if isinstance(value, str) and _LINK_ID.match(value) else None


def tickers_text(tickers: object) -> str:
    """Join a list of ticker symbols into ``"AAPL, MSFT"`` (empty for NULL or no tickers)."""
    if isinstance(tickers, str):
        return tickers
    try:
        return ", ".join(str(t) for t in tickers)
    except TypeError:  # NULL arrives as None or NaN
        return ""


def window_text(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """Format a window ``[start, end)`` already converted to the display zone."""
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}"


def unreadable_warning(exc: StorageError) -> None:
    """Show the one-line warning every page gives when the database cannot be read."""
    st.warning(f"Cannot read the database right now: {exc}")


def warn_if_unreadable(draw: Callable[_P, None]) -> Callable[_P, None]:
    """Wrap a page part so a :class:`StorageError` shows :func:`unreadable_warning` instead
    of a traceback, and the rest of the page still draws.

    Put it under every ``@st.fragment``: Streamlit runs a fragment inside its own error
    handler, which draws any exception as a traceback before the page's ``except
    StorageError`` could see it (and a timed rerun of the fragment runs without the page).
    """
    @functools.wraps(draw)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            draw(*args, **kwargs)
        except StorageError as exc:
            unreadable_warning(exc)
    return guarded


def require_data(path: str) -> None:
    """Stop the page with a hint when there is no database or no article yet."""
    if not queries.database_exists(path):
        st.info(NO_DATA_MESSAGE)
        st.stop()
    try:
        counts = queries.headline_counts(path)
    except StorageError as exc:
        unreadable_warning(exc)
        st.stop()
    if counts.empty or int(counts.at[0, "n_articles"]) == 0:
        st.info(NO_DATA_MESSAGE)
        st.stop()


@st.cache_data(ttl=300, show_spinner=False)
def min_scored_per_bucket() -> int:
    """Fewest scored articles a bucket (day or hour) needs to show a share: the market rule's
    ``min_articles``.

    The same threshold detection uses to call a window *insufficient*
    (``config/alert_rules.yaml``); 10 when the rules file cannot be read.
    """
    from pipeline.detection.rules import load_rules

    try:
        rules = load_rules(load_settings().alert_rules_file)
    except (TonewatchError, OSError):
        return 10
    market = [r.min_articles for r in rules if r.scope == "market"]
    return min(market) if market else 10


def data_period(path: str, days: int | None, *,
                coverage: Callable[[str, pd.Timestamp | None], pd.DataFrame] | None = None,
                minimum: int | None = None, noun: str = "scored articles") -> Period:
    """The period of ``days`` days a page shows by default: the last ``days`` days, or the most
    recent data when those cannot be read (:func:`dashboard.period.choose_period` with the clock
    now).

    The coverage is read in up to three steps, each only when the one before found no readable
    day, so a database pays for about a month up to its newest dated article rather than its
    whole history: from the later, then the earlier, of the start of the last ``days`` days
    and 31 days before the newest dated article; then all history.

    Args:
        path: path of ``tonewatch.duckdb``.
        days: length in days, None for all history.
        coverage: ``f(path, since)`` returning the per-day coverage of what the view counts
            from ``since`` on; default :func:`dashboard.queries.day_coverage` (every dated
            article).
        minimum: scored articles a day needs to be read; default the market rule's
            ``min_articles`` (:func:`min_scored_per_bucket`).
        noun: what the coverage counts, plural, for the note.

    Raises:
        StorageError: the database cannot be read.
    """
    coverage = coverage or queries.day_coverage
    minimum = min_scored_per_bucket() if minimum is None else minimum
    now = pd.Timestamp.now(tz="UTC")
    nominal = choose_period(pd.DataFrame(columns=COVERAGE_COLUMNS), days, now, minimum, noun)
    last = queries.last_dated(path)
    if days is None or last is None:
        return nominal
    # Each step reads every day from `since` to now. One that holds a readable day holds the
    # newest, and the whole of the last `days` days whenever that day is older (the steps
    # before found none there), so choose_period decides as it would on all history.
    month = period_start(last.ceil("h"), 31)  # the month up to the newest dated article
    for since in (max(nominal.start, month), min(nominal.start, month)):
        frame = coverage(path, since)
        if (frame["n_scored"] >= max(minimum, 1)).any():
            return choose_period(frame, days, now, minimum, noun)
    return choose_period(coverage(path, None), days, now, minimum, noun)


def period_note(period: Period, container=None) -> None:
    """Say in one line that ``period`` was moved back to the most recent data (nothing when it
    was not)."""
    if period.note:
        (container or st).info(period.note, icon=":material/history:")


def require_company_tables(path: str) -> None:
    """Stop the page with a hint when the database predates the company tables (migration 5).

    Raises:
        StorageError: the database cannot be read.
    """
    if not queries.has_company_tables(path):
        st.info(COMPANIES_UPGRADE_MESSAGE)
        st.stop()


def model_caption(path: str) -> None:
    """Say whose scores are shown, and warn when that model has scored nothing."""
    model = queries.production_model(path)
    if model.empty:
        st.warning("No article has been scored yet: run `tonewatch run` to score them.")
        return
    row = model.iloc[0]
    version = code_span(row["model_version"])
    if row["chosen_by"] == "production":
        st.caption(f"Scores from production model {version}.")
    elif row["chosen_by"] == "previous":
        st.caption(f"Production model {code_span(row['production'])} has not scored any "
                   f"article yet; showing the scores of {version} until it has (as detection "
                   "does). `tonewatch score` scores the stored articles with it.")
    else:
        st.caption(
            f"No model is marked production; showing the most recently scored model {version}.")
