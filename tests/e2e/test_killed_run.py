"""A `tonewatch run` killed with SIGKILL in the middle of scoring is completed by the next run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import duckdb
import pytest

from tests.conftest import ROOT, cli, query

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N_ITEMS = 400


def _feed(path):
    items = "".join(
        f"<item><title>Example Corp {i} reports quarterly results, shares move {i % 9} percent</title>"
        f"<link>https://news.example.com/{i}</link><guid>item-{i}</guid>"
        f"<pubDate>Mon, 02 Mar 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate></item>"
        for i in range(N_ITEMS))
    path.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
                    f"{items}</channel></rss>", encoding="utf-8")


def _scores(db) -> int | None:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None  # the writer holds the lock right now
    try:
        return con.execute("SELECT count(*) FROM scores").fetchall()[0][0]
    except duckdb.Error:
        return None
    finally:
        con.close()


def test_sigkill_during_scoring_then_rerun(env, tmp_path):
    feed = tmp_path / "big.xml"
    _feed(feed)
    db = tmp_path / "data" / "tonewatch.duckdb"
    env = dict(env, TONEWATCH_SCORE_CHUNK_SIZE="32", TONEWATCH_SCORE_BATCH_SIZE="16")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--no-config", str(feed)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        n = _scores(db) if db.exists() else None
        if n and n >= 32:
            proc.send_signal(signal.SIGKILL)
            killed_at = n
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed_at is not None, "the run finished before it could be killed mid-scoring"
    assert proc.returncode == -signal.SIGKILL
    partial = query(db, "SELECT count(*) FROM scores")[0][0]
    assert 0 < partial < N_ITEMS
    assert query(db, "SELECT count(*) FROM articles")[0][0] == N_ITEMS

    again = cli(env, "run", "--no-config", str(feed))
    assert again.returncode == 0, again.stderr
    assert query(db, "SELECT count(*) FROM articles")[0][0] == N_ITEMS
    assert query(db, "SELECT count(*), count(DISTINCT article_id) FROM scores")[0] == (N_ITEMS, N_ITEMS)
    assert f"pending={N_ITEMS - partial}" in again.stdout
    # The killed run's score stage no longer claims to be running.
    statuses = query(db, "SELECT stage, status FROM runs ORDER BY started_at")
    assert ("score", "interrupted") in statuses and ("score", "running") not in statuses
