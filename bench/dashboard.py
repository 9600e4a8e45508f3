"""Dashboard benchmark (run by hand): how long each page takes to render on a large database.

Generates a ``tonewatch.duckdb`` with the library's schema and bulk rows made in DuckDB
(:mod:`_dashboard_data`, no Python loops over rows): ``--articles`` articles (default
1,000,000) over the year before 2026-03-02 from 60 feeds, 0-2 tickers each out of 400, scored by
the production model (the last 30 days also by a candidate); the 400 companies (11 GICS
sectors), one link per ticker of an article (name in the headline 1.0, cashtag 1.0, summary 0.6,
category 0.4) and company-level scores for 95 % of them (about one in six disagreeing with its
article's label); ``--alerts`` alerts (default 10,000) of market, ticker, sector and source
scope, ticker and sector ones with company headline fields; feeds with mixed health and a year
of pipeline ``runs``.

Then each page is rendered with ``streamlit.testing.v1.AppTest`` through the router, as a page
load: caches cleared (``cold``: every query hits DuckDB) and again with warm caches (``warm``:
the 30-second ``st.cache_data`` TTL in effect, as for a second visitor). Times are the wall
clock of the page's ``AppTest.run()`` (reached from the default page, as a visitor clicking
through: AppTest needs a first run to find a page with its own URL path), median of
``--repeat`` runs. ``--browser`` also times each page in headless Debian chromium
(playwright) from navigation to the page's last element drawn.

Goal (issue 7): every page under 2 s. Usage::

    flock /tmp/tonewatch-bench.lock .venv/bin/python bench/dashboard.py \\
        [--articles 1000000] [--alerts 10000] [--db PATH] [--repeat 3] [--browser]

Prints the CPU line (model, cores, vector flags, load), a table, the load average at start
and end, then one JSON line with the per-page seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

# bench/ is on sys.path when run as a script.
from _common import ROOT, cpu_summary
from _dashboard_data import generate

APP = ROOT / "dashboard" / "streamlit_app.py"
GOAL_S = 2.0


class Page(NamedTuple):
    """A dashboard page as the router declares it (``dashboard/streamlit_app.py``)."""

    stem: str  #: file stem in ``dashboard/app_pages/``
    title: str  #: ``st.title`` and navigation title
    url: str  #: URL path ("" for the default page)
    last_text: str  #: text drawn near the end of its script (the browser timing waits for it)


PAGES = [
    Page("overview", "Overview", "", "Latest headlines"),
    Page("entities", "Companies", "companies", "Negative share by day"),
    # Every sector has alerts in the generated data, so the picked one ends with this link.
    Page("sectors", "Sectors", "sectors", "Explain the newest alert"),
    Page("articles", "Articles", "articles", "matching articles"),
    Page("alerts", "Alerts", "alerts", "Silences in force"),
    Page("feeds", "Feeds", "feeds", "Not a feed"),
    Page("model", "Model", "model", "Model versions"),
]


def time_pages_apptest(data_dir: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Median seconds of ``AppTest.run()`` per page, cold (caches cleared) and warm."""
    import streamlit as st
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    # As `tonewatch dashboard` serves by default: an unset address means every interface,
    # which the app refuses without sign-in.
    config.set_option("server.address", "127.0.0.1")

    os.environ["TONEWATCH_DATA_DIR"] = str(data_dir)

    def render(page: Page, cold: bool = False) -> float:
        # AppTest finds a page with its own URL path (Companies) only once a first run has
        # registered the router's pages: open the default page, then switch (as a visitor
        # clicking through), clearing the caches in between for a cold render.
        at = AppTest.from_file(str(APP), default_timeout=120).run()
        if cold:
            st.cache_data.clear()
        at.switch_page(f"app_pages/{page.stem}.py")
        started = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - started
        if at.exception:
            raise RuntimeError(f"{page.title}: {at.exception[0].message}")
        if not at.title or at.title[0].value != page.title:
            raise RuntimeError(f"{page.title}: rendered {[t.value for t in at.title]}")
        return seconds

    # A running server imports its libraries once (pandas, altair, duckdb, scipy through the
    # alert rules): render every page once outside the timings.
    for page in PAGES:
        render(page)
    results = {}
    for page in PAGES:
        cold, warm = [], []
        for _ in range(repeat):
            cold.append(render(page, cold=True))
            warm.append(render(page))
        results[page.title] = {"cold": statistics.median(cold),
                               "warm": statistics.median(warm)}
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

            def load(target: Page) -> float:
                started = time.perf_counter()
                page.goto(f"{url}/{target.url}?bench={time.time_ns()}")
                page.get_by_role("heading", name=target.title, exact=True).wait_for(
                    timeout=120_000)
                page.get_by_text(target.last_text).first.wait_for(timeout=120_000)
                # The status widget ("Running...") stays until the page's script has ended.
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=120_000)
                return time.perf_counter() - started

            for target in PAGES:
                load(target)
            time.sleep(CACHE_TTL_S + 1)
            for target in PAGES:
                results[target.title] = load(target)
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

    print(cpu_summary())
    load_start = os.getloadavg()
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
    load_end = os.getloadavg()
    header = f"{'page':<10} {'cold s':>8} {'warm s':>8}" + (f" {'browser s':>10}" if browser
                                                           else "") + "  goal"
    print(header)
    for title in (p.title for p in PAGES):
        worst = max(pages[title]["cold"], browser.get(title, 0.0))
        print(f"{title:<10} {pages[title]['cold']:>8.2f} {pages[title]['warm']:>8.2f}"
              + (f" {browser[title]:>10.2f}" if browser else "")
              + f"  {'ok' if worst < GOAL_S else 'SLOW'}")
    print(f"load average (1, 5, 15 min): at start {' '.join(f'{v:.2f}' for v in load_start)}, "
          f"at end {' '.join(f'{v:.2f}' for v in load_end)}")
    summary = {
        "bench": "dashboard", "articles": args.articles, "alerts": args.alerts,
        "db_mb": round(size_mb), "generate_s": round(generated, 1),
        "cold_s": {p: round(v["cold"], 3) for p, v in pages.items()},
        "warm_s": {p: round(v["warm"], 3) for p, v in pages.items()},
        "browser_s": {p: round(v, 3) for p, v in browser.items()},
        "max_cold_s": round(max(v["cold"] for v in pages.values()), 3),
        "max_browser_s": round(max(browser.values()), 3) if browser else None,
        "goal_s": GOAL_S, "load_start": round(load_start[0], 2),
        "load_end": round(load_end[0], 2),
    }
    print(json.dumps(summary))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
