"""AppTest runs of the Entities page on the seeded database."""

from __future__ import annotations

import pandas as pd

from tests.dashboard.helpers import chart_frames, frame_with, open_page


def test_tickers_ranked_by_change_with_sparklines(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "entities")

    assert not at.exception
    assert [t.value for t in at.title] == ["Entities"]
    ranked = frame_with(at, "change")
    # Window = the day before the last data hour (2024-03-06 12:00 UTC): ACME has 3 negative
    # articles (a2, a4, a7) against a positive baseline (a1); BETA has 2 (a4, a8), fewer
    # than the 3 needed, so it comes last as insufficient data with no share.
    assert list(ranked["entity"]) == ["ACME", "BETA"]
    acme, beta = ranked.iloc[0], ranked.iloc[1]
    assert acme["share_window"] == 1.0
    assert acme["share_baseline"] == 0.0
    assert acme["change"] == 1.0
    assert acme["coverage"] == "ok"
    assert pd.isna(beta["share_window"]) and pd.isna(beta["change"])
    assert beta["coverage"] == "insufficient data"
    # Sparkline: ACME's daily negative shares, 2024-03-04 (0), -05 (1), -06 (1).
    assert list(acme["trend"]) == [0.0, 1.0, 1.0]


def test_heatmap_and_click_through_to_articles(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "entities")

    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    cells = chart_frames(charts[0])[0]
    assert set(cells["entity"]) == {"ACME", "BETA"}
    acme_day = cells[(cells["entity"] == "ACME") & (cells["day"] == "2024-03-06")].iloc[0]
    assert acme_day["negative_share"] == 1.0
    assert acme_day["coverage"] == "insufficient data"  # 2 scored articles that day
    links = at.get("page_link")
    assert len(links) == 1
    assert links[0].proto.page == "articles"
    assert links[0].proto.query_string == "ticker=ACME"

    at.selectbox(key="entity_pick").select("BETA").run()
    assert at.get("page_link")[0].proto.query_string == "ticker=BETA"


def test_sources_scope_uses_feed_names(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "entities")
    at.get("button_group")[0].set_value("Sources").run()

    assert not at.exception
    ranked = frame_with(at, "change")
    assert "Acme Wire" in set(ranked["entity"])
    assert at.get("page_link")[0].proto.query_string.startswith("source=")


def test_empty_database_says_no_data(monkeypatch, fresh_db):
    at = open_page(monkeypatch, fresh_db.parent, "entities")
    assert not at.exception
    assert [i.value for i in at.info] == ["No data yet: run `tonewatch run` first"]
