"""The dashboard's queries and a pipeline writer in another process share one DuckDB file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard import queries
from tests.dashboard.helpers import hold_write_lock

WRITER = Path(__file__).with_name("writer_loop.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
SECONDS = 8.0


def _read_every_query(db: str) -> int:
    """Run each page's queries once, uncached; return the articles counted."""
    st.cache_data.clear()  # every call below opens the file again
    counts = queries.headline_counts(db)
    queries.day_coverage(db)
    end = pd.Timestamp.now(tz="UTC").ceil("h")
    queries.timeline(db, "day")
    queries.timeline(db, "hour", end - pd.Timedelta(days=queries.HOURLY_DAYS), end)
    queries.latest_alerts(db)
    queries.latest_headlines(db)
    queries.last_run(db, status="ok")
    queries.entity_changes(db, "ticker", end)
    queries.entity_daily(db, "ticker", ("ACME", "BETA"), end)
    queries.search_companies(db, "acme")
    queries.company_daily(db, "ACME", None, end)
    queries.company_stories(db, "ACME", None, end)
    queries.sector_totals(db, None, end)
    queries.sector_daily(db, None, end)
    queries.article_companies(db, "a1")
    queries.find_articles(db, queries.ArticleFilter(ticker="ACME"))
    queries.list_alerts(db, ("firing", "resolved"), ("market", "ticker", "source"))
    queries.feed_health(db)
    queries.label_drift(db, None, end)
    queries.model_versions(db)
    return int(counts.at[0, "n_articles"])


@pytest.mark.timeout(120)
def test_queries_and_a_writer_process_both_succeed(seeded_db):
    db = str(seeded_db)
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), db, str(SECONDS)], cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reads, seen = 0, []
    try:
        # Start reading when the writer starts writing (its imports can take seconds on a loaded
        # machine), and keep reading for as long as it writes, so the two always overlap.
        # Reads that run on after the writer exits (a slow machine: fewer than three while it
        # wrote) see its last commit, so the last read always shows progress.
        assert writer.stdout.readline().strip() == "ready"
        while writer.poll() is None or reads < 3:
            seen.append(_read_every_query(db))  # raises StorageError if a read fails
            reads += 1
    finally:
        out, err = writer.communicate(timeout=90)
    assert writer.returncode == 0, err
    print(out)
    batches = int(out.split()[0].split("=")[1])
    # Not starved: it commits again and again between the reads (on a loaded 2-core machine
    # one commit has waited 3 s for the readers; alone it takes ~0.1 s).
    assert batches >= 2, f"the writer was starved: {out} {err}"
    assert reads >= 3
    # Readers saw the writer's progress, never a half-written batch (50 articles per commit).
    assert seen == sorted(seen)
    assert all((n - 8) % 50 == 0 for n in seen)
    assert seen[-1] > 8
    assert _read_every_query(db) == 8 + 50 * batches


def test_a_read_waits_for_a_short_write_and_gives_up_on_a_long_one(seeded_db, monkeypatch):
    from dashboard.queries import core
    from pipeline.errors import StorageError

    db = str(seeded_db)
    holder = hold_write_lock(db, 1.0)
    started = time.monotonic()
    assert len(core.read(db, "SELECT * FROM articles", None, [])) == 8
    assert 0.5 < time.monotonic() - started < core.READ_LOCK_TIMEOUT_S
    holder.wait(timeout=10)

    monkeypatch.setattr(core, "READ_LOCK_TIMEOUT_S", 0.5)
    holder = hold_write_lock(db, 3.0)
    try:
        with pytest.raises(StorageError, match="stayed locked by a writer for"):
            core.read(db, "SELECT 1", None, [])
    finally:
        holder.kill()
        holder.wait(timeout=10)
