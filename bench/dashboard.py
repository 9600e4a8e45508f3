"""Dashboard benchmark (run by hand): how long each page takes to render on a large database.

Generates a ``tonewatch.duckdb`` with the library's schema (``pipeline.storage.db.connect``
applies the migrations) and bulk rows made in DuckDB with ``range()`` (no Python loops):

- ``--articles`` articles (default 1,000,000) spread over the year before 2026-03-02 from 60
  feeds, 0-2 tickers each out of 400, each scored by the production
  model (labels about 30 % negative, 45 % neutral, 25 % positive); the last 30 days are also
  scored by a candidate version (for the Model page's shadow comparison);
- ``--alerts`` alerts (default 10,000) over the same year with explanations and headlines;
- 60 feeds with mixed health states and a year of pipeline ``runs``.

Then each page is rendered with ``streamlit.testing.v1.AppTest`` through the router, as a page
load: caches cleared (``cold``: every query hits DuckDB) and again with warm caches (``warm``:
the 30-second ``st.cache_data`` TTL in effect, as for a second visitor). Times are the wall
clock of ``AppTest.run()``, median of ``--repeat`` runs. ``--browser`` also times each page in
headless Debian chromium (playwright) from navigation to the page's last element drawn.

Goal (issue 7): every page under 2 s. Usage::

    flock /tmp/tonewatch-bench.lock .venv/bin/python bench/dashboard.py \\
        [--articles 1000000] [--alerts 10000] [--db PATH] [--repeat 3] [--browser]

Prints a table, then one JSON line with the per-page seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.storage.db import connect  # noqa: E402

APP = ROOT / "dashboard" / "streamlit_app.py"
PAGES = ["overview", "entities", "articles", "alerts", "feeds", "model"]
PRODUCTION, CANDIDATE = "bench-production", "bench-candidate"
N_FEEDS, N_TICKERS = 60, 400
GOAL_S = 2.0
#: Text drawn near the end of each page's script (the browser timing waits for it).
LAST_TEXT = {"overview": "Latest headlines", "entities": "Negative share by day",
             "articles": "matching articles", "alerts": "Silences in force",
             "feeds": "Not a feed", "model": "Model versions"}


def generate(path: Path, n_articles: int, n_alerts: int, end: datetime) -> float:
    """Write the benchmark database at ``path``; return the seconds it took."""
    started = time.perf_counter()
    year_s = 365 * 86400
    with connect(path) as con:
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"""
            INSERT INTO feeds (feed_id, name, url, category, last_attempt_at, last_success_at,
                               last_status, http_status, error_class, error_message,
                               entries_seen, entries_new, consecutive_failures)
            SELECT 'feed-' || i, 'Feed ' || i, 'https://feed' || i || '.example/rss', 'news',
                   ?::TIMESTAMPTZ, CASE WHEN i % 20 = 7 THEN NULL ELSE ?::TIMESTAMPTZ END,
                   CASE WHEN i % 20 = 7 THEN 'not_a_feed' WHEN i % 20 = 9 THEN 'fetch_failed'
                        ELSE 'ok' END,
                   200, NULL, NULL, 40, 5, CASE WHEN i % 20 IN (7, 9) THEN 4 ELSE 0 END
            FROM range({N_FEEDS}) t(i)
        """, [end, end])
        # Article ids are 32 hex digits like the real sha1-based ones (joins on long strings
        # cost more than on short ones). Articles in publication order (as a live database mostly is), evenly spread with an
        # hour of jitter; single tickers skewed towards low numbers (a few names dominate).
        con.execute(f"""
            INSERT INTO articles (article_id, feed_id, url, title, summary, text, published_at,
                                  published_raw, date_quality, first_seen_at, fetched_at,
                                  language, content_hash, story_id, tickers)
            SELECT md5('a' || i), 'feed-' || (hash(i) % {N_FEEDS}),
                   'https://news.example/' || i,
                   'Headline ' || i || ' about ' || (['earnings', 'rates', 'recall', 'merger',
                       'guidance', 'lawsuit', 'outlook'])[1 + (hash(i * 7) % 7)::BIGINT],
                   NULL, NULL, ts, NULL, 'exact', ts, ts, 'en', 'h' || i, 's' || (i // 2),
                   CASE hash(i * 3) % 3
                       WHEN 0 THEN []::VARCHAR[]
                       WHEN 1 THEN ['T' || floor({N_TICKERS}
                                    * pow((hash(i * 5) % 10000) / 10000.0, 2))::INTEGER]
                       ELSE ['T' || (hash(i * 5) % 50), 'T' || (hash(i * 13) % {N_TICKERS})]
                   END
            FROM (
                SELECT i, ?::TIMESTAMPTZ - to_seconds({year_s} - {year_s} * i // {n_articles})
                          + to_seconds((hash(i) % 3600)::BIGINT) AS ts
                FROM range({n_articles}) t(i)
            )
        """, [end])
        con.execute("""
            INSERT INTO model_versions VALUES
                (?, 'bench', 'models/registry/bench-production', 'production', ?, ?),
                (?, 'bench', 'models/registry/bench-candidate', 'candidate', NULL, ?)
        """, [PRODUCTION, json.dumps({
            "n": 1200, "accuracy": 0.84, "macro_f1": 0.82, "majority_baseline_accuracy": 0.45,
            "per_class": {lab: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 400}
                          for lab in ("negative", "neutral", "positive")},
            "confusion": [[330, 50, 20], [40, 340, 20], [15, 45, 340]]}),
            end, CANDIDATE, end])
        # Probabilities from a hash: negative-leaning, neutral-leaning or positive-leaning.
        scores_sql = """
            INSERT INTO scores (article_id, model_version, label, p_negative, p_neutral,
                                p_positive, sentiment_score, content_hash, scored_at, truncated)
            SELECT article_id, ?, label, pn, pu, pp, pp - pn, content_hash, ?, false
            FROM (
                SELECT article_id, content_hash,
                       CASE WHEN u < 0.30 THEN 'negative' WHEN u < 0.75 THEN 'neutral'
                            ELSE 'positive' END AS label,
                       CASE WHEN u < 0.30 THEN 0.6 + c ELSE (1 - 0.6 - c) / 2 END AS pn,
                       CASE WHEN u >= 0.30 AND u < 0.75 THEN 0.6 + c
                            ELSE (1 - 0.6 - c) / 2 END AS pu,
                       1 - pn - pu AS pp
                FROM (SELECT article_id, content_hash,
                             (hash(article_id || ?) % 10000) / 10000.0 AS u,
                             (hash(article_id || 'c') % 3500) / 10000.0 AS c
                      FROM articles WHERE published_at >= ?)
            )
        """
        con.execute(scores_sql, [PRODUCTION, end, "p", datetime(1970, 1, 1, tzinfo=UTC)])
        con.execute(scores_sql, [CANDIDATE, end, "q", end - timedelta(days=30)])
        headlines = json.dumps([{"title": f"Headline {i} about recall", "url":
                                 f"https://news.example/{i}", "feed_id": "feed-1",
                                 "source": "Feed 1", "published_at": end.isoformat(),
                                 "p_negative": 0.9} for i in range(5)])
        con.execute(f"""
            INSERT INTO alerts (alert_id, fingerprint, rule, scope, entity, window_start,
                                window_end, state, observed, expected, p_value, q_value,
                                severity, n_stories, n_negative, baseline_stories,
                                explanation, created_at, resolved_at)
            SELECT 'al' || i, 'fp' || (i % 500),
                   ['market_negative_surge', 'ticker_negative_surge',
                    'source_negative_surge'][1 + i % 3],
                   ['market', 'ticker', 'source'][1 + i % 3],
                   CASE i % 3 WHEN 0 THEN 'market' WHEN 1 THEN 'T' || (i % {N_TICKERS})
                        ELSE 'feed-' || (i % {N_FEEDS}) END,
                   we - INTERVAL 1 DAY, we,
                   CASE WHEN i >= {n_alerts} - 20 THEN 'firing' ELSE 'resolved' END,
                   0.6, 0.3, 1e-4, 1e-3, CASE WHEN i % 3 = 0 THEN 'critical' ELSE 'warning' END,
                   40, 24, 900,
                   json_object('entity_name', 'entity ' || i, 'baseline_days', 28,
                               'metric', 'negative_share', 'n_sources', 4,
                               'headlines', ?::JSON),
                   we, CASE WHEN i >= {n_alerts} - 20 THEN NULL ELSE we + INTERVAL 1 DAY END
            FROM (SELECT i, ?::TIMESTAMPTZ - to_seconds({year_s} - {year_s} * i // {n_alerts})
                            AS we FROM range({n_alerts}) t(i))
        """, [headlines, end])
        con.execute("""
            INSERT INTO runs
            SELECT 'run' || i, stage, NULL, NULL, t0, t0 + INTERVAL 2 MINUTE, 'ok', '{}'
            FROM (SELECT i, ?::TIMESTAMPTZ - to_seconds(3600 * i) AS t0 FROM range(8760) t(i)),
                 (VALUES ('ingest'), ('score'), ('detect')) s(stage)
        """, [end])
        con.execute("CHECKPOINT")
    return time.perf_counter() - started


def time_pages_apptest(data_dir: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Median seconds of ``AppTest.run()`` per page, cold (caches cleared) and warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["TONEWATCH_DATA_DIR"] = str(data_dir)

    def render(page: str) -> float:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.switch_page(f"app_pages/{page}.py")
        started = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - started
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].message}")
        if not at.title or at.title[0].value.lower() != page:
            raise RuntimeError(f"{page}: rendered {[t.value for t in at.title]}")
        return seconds

    # A running server imports its libraries once (pandas, altair, duckdb, scipy through the
    # alert rules): render every page once outside the timings.
    for page in PAGES:
        render(page)
    results = {}
    for page in PAGES:
        cold, warm = [], []
        for _ in range(repeat):
            st.cache_data.clear()
            cold.append(render(page))
            warm.append(render(page))
        results[page] = {"cold": statistics.median(cold), "warm": statistics.median(warm)}
    return results


def time_pages_browser(data_dir: Path) -> dict[str, float]:
    """Seconds from navigation until each page's script has finished, in headless chromium.

    Every page is opened once first (the server imports its libraries), then the pass waits
    for the query cache to expire (:data:`dashboard.queries.CACHE_TTL_S`) and times each page
    in a new session: its queries run against DuckDB again, as for a visitor after a quiet
    spell. Results cached by an earlier page of the same pass (the production model, the data
    end) are reused, as they are on a live server.
    """
    from dashboard.queries import CACHE_TTL_S
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, TONEWATCH_DATA_DIR=str(data_dir)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def load(name: str) -> float:
                path = "" if name == "overview" else name
                started = time.perf_counter()
                page.goto(f"{url}/{path}?bench={time.time_ns()}")
                page.get_by_role("heading", name=name.capitalize(), exact=True).wait_for(
                    timeout=120_000)
                page.get_by_text(LAST_TEXT[name]).first.wait_for(timeout=120_000)
                # The status widget ("Running...") stays until the page's script has ended.
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=120_000)
                return time.perf_counter() - started

            for name in PAGES:
                load(name)
            time.sleep(CACHE_TTL_S + 1)
            for name in PAGES:
                results[name] = load(name)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=None,
                        help="Database to write (or reuse if it exists), named tonewatch.duckdb "
                             "(the dashboard reads <data dir>/tonewatch.duckdb); default a temp dir.")
    parser.add_argument("--repeat", type=int, default=3, help="Renders per page (median).")
    parser.add_argument("--browser", action="store_true",
                        help="Also time every page in headless chromium.")
    args = parser.parse_args()
    if args.db is not None and args.db.name != "tonewatch.duckdb":
        parser.error(f"--db must be named tonewatch.duckdb (the dashboard reads that file in its "
                     f"data dir), got {args.db}")

    end = datetime(2026, 3, 2, tzinfo=UTC)
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="tonewatch-bench-")
        args.db = Path(tmp.name) / "tonewatch.duckdb"
    generated = 0.0
    if not args.db.exists():
        generated = generate(args.db, args.articles, args.alerts, end)
    size_mb = args.db.stat().st_size / 1e6
    print(f"database {args.db}: {size_mb:.0f} MB, generated in {generated:.1f} s")

    pages = time_pages_apptest(args.db.parent, args.repeat)
    browser = time_pages_browser(args.db.parent) if args.browser else {}
    header = f"{'page':<10} {'cold s':>8} {'warm s':>8}" + (f" {'browser s':>10}" if browser
                                                           else "") + "  goal"
    print(header)
    for page in PAGES:
        worst = max(pages[page]["cold"], browser.get(page, 0.0))
        print(f"{page:<10} {pages[page]['cold']:>8.2f} {pages[page]['warm']:>8.2f}"
              + (f" {browser[page]:>10.2f}" if browser else "")
              + f"  {'ok' if worst < GOAL_S else 'SLOW'}")
    summary = {
        "bench": "dashboard", "articles": args.articles, "alerts": args.alerts,
        "db_mb": round(size_mb), "generate_s": round(generated, 1),
        "cold_s": {p: round(v["cold"], 3) for p, v in pages.items()},
        "warm_s": {p: round(v["warm"], 3) for p, v in pages.items()},
        "browser_s": {p: round(v, 3) for p, v in browser.items()},
        "max_cold_s": round(max(v["cold"] for v in pages.values()), 3),
        "goal_s": GOAL_S,
    }
    print(json.dumps(summary))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
