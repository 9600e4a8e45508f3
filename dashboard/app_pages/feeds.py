"""Feeds page: is every source delivering?

Counts of sources per state, then one row per source: its last fetch outcome (``ok``,
``no_new_entries``, ``not_modified``, ``fetch_failed``, ``not_a_feed``, ``parse_error``), last
attempt and last success, consecutive failures, HTTP status, the error, parser warnings, and
how many articles it has given. Failing sources come first; a source that answers with an HTML
page instead of a feed is flagged *not a feed*. Refreshed every minute.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.ui import (
    NO_DATA_MESSAGE, TIME_FORMAT, db_path, display_tz, safe_url, to_tz, warn_if_unreadable,
)

#: Display of ``feeds.last_status`` values.
_STATE_TEXT = {
    "ok": "ok", "no_new_entries": "ok (nothing new)", "not_modified": "ok (not modified)",
    "fetch_failed": "fetch failed", "not_a_feed": "not a feed", "parse_error": "parse error",
}
_FAILING = ("fetch_failed", "not_a_feed", "parse_error")


@st.fragment(run_every=timedelta(seconds=60))
@warn_if_unreadable
def feed_table(path: str, tz: str) -> None:
    """State counts and the per-source health table; reruns on its own every 60 s."""
    feeds = queries.feed_health(path)
    if feeds.empty:
        st.info("No source has been fetched yet: run `tonewatch ingest` first.")
        return
    status = feeds["last_status"].fillna("never fetched")
    healthy = int((~status.isin(_FAILING) & feeds["last_success_at"].notna()).sum())
    cols = st.columns(4)
    cols[0].metric("Sources", f"{len(feeds):,}")
    cols[1].metric("Healthy", f"{healthy:,}")
    cols[2].metric("Failing", f"{int(status.isin(_FAILING).sum()):,}")
    cols[3].metric("Not a feed", f"{int((status == 'not_a_feed').sum()):,}")
    broken = feeds[feeds["consecutive_failures"] >= 3]
    if not broken.empty:
        st.warning(f"{len(broken)} source(s) failed 3 or more times in a row; their news is "
                   "missing from the counts until they recover.")
    st.dataframe(
        pd.DataFrame({
            "source": feeds["name"],
            "state": status.map(lambda s: _STATE_TEXT.get(s, s)),
            "failures": feeds["consecutive_failures"],
            "last_success": to_tz(feeds["last_success_at"], tz),
            "last_attempt": to_tz(feeds["last_attempt_at"], tz),
            "http": feeds["http_status"],
            "error": [": ".join(str(p) for p in (c, m) if isinstance(p, str))
                      for c, m in zip(feeds["error_class"], feeds["error_message"], strict=True)],
            "warnings": feeds["warnings"],
            "new": feeds["entries_new"],
            "articles": feeds["n_articles"],
            "newest_article": to_tz(feeds["last_published_at"], tz),
            "category": feeds["category"],
            "url": [safe_url(u) for u in feeds["url"]],
        }),
        hide_index=True, width="stretch",
        column_config={
            "failures": st.column_config.NumberColumn("consecutive failures"),
            "last_success": st.column_config.DatetimeColumn(f"last success ({tz})",
                                                            format=TIME_FORMAT),
            "last_attempt": st.column_config.DatetimeColumn(f"last attempt ({tz})",
                                                            format=TIME_FORMAT),
            "http": st.column_config.NumberColumn("HTTP", format="%d"),
            "new": st.column_config.NumberColumn("new entries", help="In the last fetch."),
            "articles": st.column_config.NumberColumn("articles stored"),
            "newest_article": st.column_config.DatetimeColumn(f"newest article ({tz})",
                                                              format=TIME_FORMAT),
            "url": st.column_config.LinkColumn("feed URL"),
        },
    )


path, tz = db_path(), display_tz()
st.title("Feeds")
if not queries.database_exists(path):
    st.info(NO_DATA_MESSAGE)
    st.stop()
feed_table(path, tz)  # shows the unreadable-database warning itself
