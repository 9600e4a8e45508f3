"""A writer holding the database past the read retry budget: every live part (``@st.fragment``)
shows the pages' one-line warning, never a traceback.

Streamlit runs a fragment inside its own error handler, so the page-level ``except
StorageError`` never sees an error raised in one. The first run fills the query cache; the
lock is then taken and only the fragment's own query is dropped from the cache, as on a timed
fragment rerun after the cache expired.
"""

from __future__ import annotations

import pytest

from dashboard import queries
from dashboard.queries import core
from tests.dashboard.helpers import hold_write_lock, open_page, texts

WARNING = "Cannot read the database right now: database "


@pytest.mark.parametrize(("page", "fragment_query"), [
    ("feeds", queries.feed_health),
    ("alerts", queries.list_alerts),
    (None, queries.latest_alerts),  # Overview
])
def test_a_locked_database_gives_a_warning_in_the_live_fragment(
        monkeypatch, seeded_db, page, fragment_query):
    at = open_page(monkeypatch, seeded_db.parent, page)
    assert not at.exception
    monkeypatch.setattr(core, "READ_LOCK_TIMEOUT_S", 0.3)
    holder = hold_write_lock(str(seeded_db), 30.0)
    try:
        fragment_query.clear()
        at.run()
    finally:
        holder.kill()
        holder.wait(timeout=10)

    assert not at.exception
    warnings = [w.value for w in at.warning if w.value.startswith(WARNING)]
    assert warnings, texts(at)  # Overview's timeline reads the alerts too, and warns as well
    assert all(w.endswith("stayed locked by a writer for 0.3 s") for w in warnings)
