"""AppTest runs of the Sectors page and of the Articles page's company detail."""

from __future__ import annotations

import duckdb
import pandas as pd

from tests.dashboard.conftest import SCRIPT_TITLE, TWO_COMPANY_TITLE
from tests.dashboard.helpers import chart_frames, frame_with, move_article, open_page, texts


def _open(monkeypatch, db, page="sectors", **params):
    at = open_page(monkeypatch, db.parent)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception
    return at


def test_sectors_count_a_story_once_with_company_labels(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)

    assert [t.value for t in at.title] == ["Sectors"]
    totals = frame_with(at, "companies").set_index("sector")
    assert list(totals.index) == ["Industrials", "Financials", "Energy"]
    # Industrials: a1 (good for Acme), a2 (ACME negative + GAMMA neutral: one story, mean
    # probabilities neutral), a4 and a7 negative.
    assert totals.loc["Industrials", ["companies", "stories", "negative"]].tolist() == [2, 4, 2]
    # Financials: a1 is bad for Beta though the article is positive; a4 by its article label.
    assert totals.loc["Financials", ["companies", "stories", "negative"]].tolist() == [1, 3, 2]
    assert totals.loc["Energy", "stories"] == 0 and pd.isna(totals.loc["Energy", "negative_share"])
    assert list(totals.loc["Industrials", "trend"]) == [0.0, 0.0, 1.0]

    heat = chart_frames(at.get("vega_lite_chart")[0])[0]
    assert set(heat["sector"]) == {"Industrials", "Financials"}

    # The most negative sector is detailed first: chart, companies, alerts.
    assert at.selectbox(key="sector_pick").value == "Industrials"
    daily = chart_frames(at.get("vega_lite_chart")[1])[0]
    assert list(daily["n_stories"]) == [1, 1, 2] and list(daily["negative"]) == [0, 0, 2]
    members = frame_with(at, "ticker")
    assert list(members["ticker"]) == ["ACME", "GAMMA"]
    assert members["negative"].tolist() == [3, 0]
    link = next(p.proto for p in at.get("page_link") if p.proto.label.startswith("Company"))
    assert link.page == "companies" and link.query_string == "ticker=ACME"
    alerts = frame_with(at, "alert_id")
    assert list(alerts["alert_id"]) == ["al3"]


def test_days_without_stories_are_gaps_in_the_sector_chart(monkeypatch, seeded_db):
    # Move a1 (ACME, Industrials) two weeks back: no Industrials story from 02-20 to 03-04.
    move_article(seeded_db, "a1", "2024-02-19 09:00:00+00")
    at = _open(monkeypatch, seeded_db, sector="Industrials")
    daily = chart_frames(at.get("vega_lite_chart")[1])[0].set_index("day")
    assert list(daily.index) == [d.strftime("%Y-%m-%d") for d in pd.date_range("2024-02-19", "2024-03-06")]
    assert daily.loc["2024-02-19", "n_stories"] == 1 and daily.loc["2024-03-06", "n_stories"] == 2
    gap = daily.loc["2024-02-20":"2024-03-04"]
    assert len(gap) == 14 and (gap["n_stories"] == 0).all()
    # Null, not zero: the negative share's line breaks over the gap instead of crossing it.
    assert gap["negative_share"].isna().all()


def test_relevance_floor_and_sector_from_the_url(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, sector="Financials")
    assert at.selectbox(key="sector_pick").value == "Financials"
    assert list(frame_with(at, "ticker")["ticker"]) == ["BETA"]
    assert "No sector alert for this sector." in texts(at)

    # Without GAMMA's category link (0.4), a2 is ACME's alone: negative.
    next(s for s in at.slider if s.key == "sector_relevance").set_value(0.5).run()
    totals = frame_with(at, "companies").set_index("sector")
    assert totals.loc["Industrials", "negative"] == 3
    assert totals.loc["Financials", "stories"] == 3  # a4's summary-only link (0.6) is kept


def test_no_company_list_yet(monkeypatch, seeded_db):
    con = duckdb.connect(str(seeded_db))
    try:
        con.execute("DELETE FROM companies")
    finally:
        con.close()
    at = _open(monkeypatch, seeded_db)
    assert "No company list yet: the next `tonewatch run` writes it." in texts(at)


def test_article_detail_lists_each_company_and_its_label(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, page="articles")
    # The newest article (unscored, no link) is shown by default.
    assert "Linked to no company." in texts(at)

    at.selectbox(key="article_pick").select("a1").run()
    assert TWO_COMPANY_TITLE in [t.value for t in at.text]
    links = frame_with(at, "basis").set_index("ticker")
    assert list(links.index) == ["ACME", "BETA"]
    assert links.loc["ACME", ["method", "relevance", "label", "p_negative"]].tolist() == [
        "name", 1.0, "positive", 0.05]
    assert links.loc["BETA", ["method", "relevance", "label", "p_negative"]].tolist() == [
        "short_name", 1.0, "negative", 0.8]
    assert any("article label positive" in t.value for t in at.text)

    at.selectbox(key="article_pick").select("a4").run()
    assert SCRIPT_TITLE in [t.value for t in at.text]  # plain text, verbatim
    links = frame_with(at, "basis").set_index("ticker")
    assert links.loc["BETA", "basis"] == "article label"
    assert links.loc["BETA", "relevance"] == 0.6
    link = next(p.proto for p in at.get("page_link") if p.proto.label.startswith("Company"))
    assert link.query_string == "ticker=ACME"

    at.selectbox(key="article_pick").select("a3").run()
    links = frame_with(at, "basis")
    assert list(links["ticker"]) == ["OLDCO"] and pd.isna(links.iloc[0]["company"])
