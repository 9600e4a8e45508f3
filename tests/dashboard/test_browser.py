"""A real browser through every page: ``streamlit run`` on a loopback port, headless Chromium.

Uses Debian's ``chromium`` (``/usr/bin/chromium``; installed with apt-get when missing) driven
by playwright's Python package, so no browser download is needed. Screenshots of every page are
saved under ``tests/artifacts/dashboard/`` (gitignored); the path is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dashboard.conftest import USERS
from tests.dashboard.helpers import CHROMIUM, ensure_chromium, serve_dashboard

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "dashboard"
TIMEOUT_MS = 20_000

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def dashboard_url(seeded_db, users_file):
    """Serve the dashboard on the seeded database, with the test users' file; yield its base
    URL."""
    env = dict(os.environ, TONEWATCH_DATA_DIR=str(seeded_db.parent),
               TONEWATCH_USERS_FILE=str(users_file))
    with serve_dashboard(env) as url:
        yield url


def test_every_page_in_headless_chromium(dashboard_url, seeded_db):
    ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: Chromium's sandbox refuses to run as root (CI containers).
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            # expect() has its own 5 s default: a first page load on a busy machine takes more.
            sync_api.expect.set_options(timeout=TIMEOUT_MS)
            # Any script smuggled in by the hostile seeded titles would open a dialog.
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            expect = sync_api.expect

            def shot(name: str) -> None:
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

            page.goto(dashboard_url)
            expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
            expect(page.get_by_text("Firing alerts")).to_be_visible()
            expect(page.get_by_text("Insufficient data for the latest day")).to_be_visible()
            expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
            shot("overview")

            nav = page.locator("[data-testid='stSidebarNav']")
            nav.get_by_text("Companies", exact=True).click()
            expect(page.get_by_role("heading", name="Companies", exact=True)).to_be_visible()
            expect(page.get_by_role("heading", name="Acme Corporation")).to_be_visible()
            expect(page.get_by_text("Articles of ACME")).to_be_visible()
            expect(page.get_by_text("Negative share by day")).to_be_visible()
            shot("companies")

            # Open a company by selecting its row in the movers ranking (the third table, after
            # the stories and alerts): the grid is a canvas, so click the selection cell of its
            # second row (BETA; rows and header are 35 px high).
            grid = page.locator("[data-testid='stDataFrame']").nth(2)
            grid.scroll_into_view_if_needed()
            page.wait_for_timeout(500)  # the canvas draws after the element appears
            box = grid.bounding_box()
            page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 + 17)
            expect(page.get_by_role("heading", name="Beta Holdings plc")).to_be_visible()
            assert "ticker=BETA" in page.url

            # ... and on to its articles through the link under its alerts.
            page.get_by_text("Articles of BETA").click()
            expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
            expect(page.get_by_text("3 matching articles")).to_be_visible()
            assert "ticker=BETA" in page.url
            # Apply a filter: text search.
            search = page.get_by_label("Search title and summary")
            search.fill("stumbles")
            search.press("Enter")
            expect(page.get_by_text("1 matching articles")).to_be_visible()
            expect(page.get_by_role("button", name="Export CSV")).to_be_enabled()
            expect(page.get_by_text("Company page of ACME")).to_be_visible()
            shot("articles_filtered")

            nav.get_by_text("Sectors", exact=True).click()
            expect(page.get_by_role("heading", name="Sectors", exact=True)).to_be_visible()
            expect(page.get_by_text("Companies with the most negative stories")).to_be_visible()
            expect(page.get_by_text("Company page of ACME")).to_be_visible()
            shot("sectors")

            nav.get_by_text("Alerts", exact=True).click()
            expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
            expect(page.get_by_text("Observed negative share")).to_be_visible()
            expect(page.get_by_text("Contributing headlines")).to_be_visible()
            # Anonymous: no silence form, whatever the page would otherwise offer (issue 24).
            expect(page.get_by_text("Sign in (sidebar) as a responder or admin to change "
                                    "silences.")).to_be_visible()
            expect(page.get_by_role("button", name="Create silence")).to_have_count(0)
            sidebar = page.locator("[data-testid='stSidebar']")

            def sign_in(name: str, password: str) -> None:
                sidebar.get_by_label("User", exact=True).fill(name)
                sidebar.get_by_label("Password", exact=True).fill(password)
                sidebar.get_by_role("button", name="Sign in").click()

            sign_in("rita", "a-wrong-password")
            expect(sidebar.get_by_text("Sign-in failed: unknown user or wrong password.")
                   ).to_be_visible()
            expect(page.get_by_role("button", name="Create silence")).to_have_count(0)
            sign_in("rita", USERS["rita"][1])
            expect(sidebar.get_by_text("Signed in as rita (responder)")).to_be_visible()
            page.get_by_label("Comment", exact=True).fill("seen in the browser")
            page.get_by_role("button", name="Create silence").click()
            expect(page.get_by_text("created by rita")).to_be_visible()
            shot("alerts")

            nav.get_by_text("Feeds", exact=True).click()
            expect(page.get_by_role("heading", name="Feeds", exact=True)).to_be_visible()
            expect(page.get_by_text("Not a feed", exact=True)).to_be_visible()
            shot("feeds")

            nav.get_by_text("Model", exact=True).click()
            expect(page.get_by_role("heading", name="Model", exact=True)).to_be_visible()
            # The confusion matrix and the label-drift chart.
            expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(2)
            expect(page.get_by_text("Shadow comparison")).to_be_visible()
            expect(page.get_by_text("Labels changed")).to_be_visible()
            shot("model")

            # Hostile titles were data, not markup: nothing ran, no element was injected.
            assert page.locator("script:has-text('alert(')").count() == 0
            assert page.locator("a[href^='javascript:']").count() == 0
            assert page.locator("img[src='x']").count() == 0
        finally:
            sync_api.expect.set_options(timeout=5_000)  # playwright's default, for other tests
            browser.close()
    assert dialogs == [], f"a script ran in the page: {dialogs}"
    import duckdb

    con = duckdb.connect(str(seeded_db), read_only=True)
    try:
        assert con.execute("SELECT author, comment FROM silences").fetchall() == [
            ("rita", "seen in the browser")]
    finally:
        con.close()
    print(f"\nscreenshots: {ARTIFACTS}")
