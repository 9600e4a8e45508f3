"""The first screens tell the demo's story: every page on the database ``make demo`` builds.

``make demo`` runs ``tonewatch run --feeds 'tests/fixtures/feeds/*' ['../shared/real_feeds/*.xml']``,
then ``tonewatch detect --backfill``, then serves the dashboard. This module builds that database
the same way (the same feed files, ``../shared/real_feeds`` when present, the session's test
model; ``--no-config`` leaves out the configured web feeds, which would need the network and make
the data change from run to run) with today's clock, so the sample surge of March 2026 lies far
outside every "last N days". Every page's *default* view must still show the demo's data and no
"no data" or "insufficient data" placeholder: one streamlit server and one headless Chromium
serve all pages (screenshots in ``tests/artifacts/dashboard/demo_*.png``), and AppTest reads the
data behind the charts and tables on the same database.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FIXTURE_FEEDS, ROOT, SHARED, cli, query
from tests.dashboard.helpers import (
    CHROMIUM, chart_frames, ensure_chromium, frame_with, open_page, serve_dashboard, texts,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

REAL_FEEDS = SHARED / "real_feeds"
ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"
TIMEOUT_MS = 30_000
SURGE_DAY = pd.Timestamp("2026-03-05")  # the fixture wire's cluster of negative Acme stories

#: What a page says when it has nothing to show; none may appear on the demo's default views.
PLACEHOLDERS = (
    "No data yet", "Insufficient data for the latest", "No articles in this period",
    "No scored articles in this window yet", "No scored story", "No scored articles in the period",
    "No article matches", "No alerts match", "No alerts yet", "No company list yet",
    "No daily data", "No company matches", "No source has been fetched yet",
    "Cannot read the database",
)


@pytest.fixture(scope="module")
def demo_data(trained_registry, tmp_path_factory) -> Path:
    """The data folder of a database built as ``make demo`` builds it (see the module)."""
    data = tmp_path_factory.mktemp("demo") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env.update(TONEWATCH_DATA_DIR=str(data), TONEWATCH_MODEL_REGISTRY=str(trained_registry),
               TONEWATCH_ALERT_RULES_FILE=str(ROOT / "config" / "alert_rules.yaml"),
               TONEWATCH_ENTITIES_FILE=str(ROOT / "config" / "entities.yaml"),
               HF_HUB_OFFLINE="1")
    feeds = [str(FIXTURE_FEEDS / "*")]
    if REAL_FEEDS.is_dir():
        feeds.append(str(REAL_FEEDS / "*.xml"))
    run = cli(env, "run", "--no-config", "--feeds", *feeds)
    assert run.returncode == 0, run.stderr[-3000:]
    detect = cli(env, "detect", "--backfill")
    assert detect.returncode == 0, detect.stderr[-3000:]
    return data


@pytest.fixture(scope="module")
def demo_alerts(demo_data) -> set[tuple[str, str]]:
    """``(scope, entity)`` of the alerts the demo fired."""
    return set(query(demo_data / "tonewatch.duckdb",
                     "SELECT scope, entity FROM alerts WHERE state IN ('firing', 'resolved')"))


@pytest.fixture(scope="module")
def browser_page(demo_data):
    """One dashboard server on the demo database and one Chromium page for every test here."""
    ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env.update(TONEWATCH_DATA_DIR=str(demo_data),
               TONEWATCH_ALERT_RULES_FILE=str(ROOT / "config" / "alert_rules.yaml"))
    with serve_dashboard(env) as url, sync_api.sync_playwright() as pw:
        # --no-sandbox: Chromium's sandbox refuses to run as root (CI containers).
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            sync_api.expect.set_options(timeout=TIMEOUT_MS)  # a first page load can be slow
            yield page, url, sync_api.expect
        finally:
            sync_api.expect.set_options(timeout=5_000)  # playwright's default, for other tests
            browser.close()


def _utc_days(instants: pd.Series) -> pd.Series:
    """Midnight UTC of each instant, naive (charts carry naive wall-clock times, tables UTC)."""
    instants = pd.to_datetime(instants)
    if instants.dt.tz is not None:
        instants = instants.dt.tz_convert("UTC").dt.tz_localize(None)
    return instants.dt.floor("D")


def _open(browser_page, path: str, heading: str, last: str):
    """Open ``/path`` in a new session (default widgets), wait until ``last`` (the page's last
    text) shows and the script has finished, check that no placeholder shows, and save a
    screenshot; return the page."""
    page, url, expect = browser_page
    page.goto(f"{url}/{path}")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_text(last, exact=True).first).to_be_visible()
    # The status widget shows while the script runs (fragments included).
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0)
    body = page.locator("[data-testid='stMain']").inner_text()
    shown = [p for p in PLACEHOLDERS if p in body]
    assert not shown, f"{heading}: placeholder(s) {shown} on the demo's default view"
    page.screenshot(path=str(ARTIFACTS / f"demo_{path or 'overview'}.png"), full_page=True)
    return page, expect


def _period_note(page, expect) -> None:
    """The line saying the default period is the demo's data, not the last days."""
    expect(page.get_by_text("up to the latest day with enough scored articles to read").first
           ).to_be_visible()


def test_overview_opens_on_the_surge(browser_page, demo_data, monkeypatch):
    page, expect = _open(browser_page, "", "Overview", "Latest headlines")
    _period_note(page, expect)
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(2)  # share, index

    at = open_page(monkeypatch, demo_data)
    assert not at.exception
    timeline = chart_frames(at.get("vega_lite_chart")[0])[0].set_index("start")
    surge = timeline.loc[SURGE_DAY]
    assert surge["coverage"] == "ok" and surge["negative_share"] > 0
    assert timeline.index.max() >= SURGE_DAY  # the newest day shown is the surge or later
    assert timeline.iloc[-1]["coverage"] == "ok"
    markers = chart_frames(at.get("vega_lite_chart")[0])[1]  # the alerts' window starts
    assert any("ACME" in a for a in markers["alert"])


def test_companies_show_scored_companies_and_movers(browser_page, demo_data, monkeypatch):
    page, expect = _open(browser_page, "companies", "Companies", "Negative share by day")
    _period_note(page, expect)
    expect(page.get_by_text("Stories", exact=True).first).to_be_visible()

    at = open_page(monkeypatch, demo_data, "entities")
    assert not at.exception
    assert at.selectbox(key="company_pick").value == "ACME"  # the most covered company
    ranked = frame_with(at, "change").set_index("entity")  # the movers, on the surge's day
    assert ranked.loc["ACME", "coverage"] == "ok" and ranked.loc["ACME", "change"] > 0


def test_sectors_show_the_industrials_surge(browser_page, demo_data, monkeypatch):
    page, expect = _open(browser_page, "sectors", "Sectors", "Sector alerts")
    _period_note(page, expect)

    at = open_page(monkeypatch, demo_data, "sectors")
    assert not at.exception
    totals = frame_with(at, "negative_share").set_index("sector")
    assert totals.loc["Industrials", "stories"] > 0
    assert (totals["stories"] > 0).sum() >= 2


def test_articles_list_the_demo_articles(browser_page, demo_data, monkeypatch):
    page, expect = _open(browser_page, "articles", "Articles", "Article detail")
    _period_note(page, expect)
    expect(page.get_by_role("button", name="Export CSV")).to_be_enabled()

    at = open_page(monkeypatch, demo_data, "articles")
    assert not at.exception
    found = frame_with(at, "title")
    assert len(found) >= 20 and found["label"].notna().all()
    assert (_utc_days(found["published"]) == SURGE_DAY).any()


def test_alerts_list_the_sample_alerts(browser_page, demo_data, demo_alerts, monkeypatch):
    page, expect = _open(browser_page, "alerts", "Alerts", "Silences in force")
    expect(page.get_by_text("Contributing headlines").first).to_be_visible()

    assert {("ticker", "ACME"), ("sector", "Industrials")} <= demo_alerts
    at = open_page(monkeypatch, demo_data, "alerts")
    assert not at.exception
    listed = frame_with(at, "alert_id")
    assert {("ticker", "ACME"), ("sector", "Industrials")} <= set(
        zip(listed["scope"], listed["entity"], strict=True))
    assert "Example Market Wire" in set(listed["entity"])  # the source alert, by its name


def test_feeds_show_every_demo_source(browser_page, demo_data, monkeypatch):
    _open(browser_page, "feeds", "Feeds", "Healthy")

    at = open_page(monkeypatch, demo_data, "feeds")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Healthy"]) >= 4  # the sample feeds that parse (more with ../shared)


def test_model_shows_the_label_distribution_of_the_demo(browser_page, demo_data, monkeypatch):
    page, expect = _open(browser_page, "model", "Model", "Model versions")
    _period_note(page, expect)

    at = open_page(monkeypatch, demo_data, "model")
    assert not at.exception
    assert "Label distribution by day" in texts(at)
    drift = next(frame for chart in at.get("vega_lite_chart") for frame in chart_frames(chart)
                 if "label" in frame.columns and "share" in frame.columns)
    assert (_utc_days(drift["day"]) == SURGE_DAY).any()
