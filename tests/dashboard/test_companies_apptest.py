"""AppTest runs of the Companies page (``app_pages/entities.py``) on the seeded database: search,
a company's sentiment toward it, its stories and links, its alerts, and the movers ranking."""

from __future__ import annotations

import duckdb
import pandas as pd

from tests.dashboard.conftest import SCRIPT_TITLE, TWO_COMPANY_TITLE
from tests.dashboard.helpers import chart_frames, frame_with, move_article, open_page, texts

NO_STORY = "No scored story about this company in this period."


def _open(monkeypatch, db, **params):
    at = open_page(monkeypatch, db.parent)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page("app_pages/entities.py").run()
    assert not at.exception
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _widget(at, kind: str, key: str):
    return next(w for w in at.get(kind) if w.key == key)


def test_most_covered_company_first_with_header_and_sentiment_chart(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)

    assert [t.value for t in at.title] == ["Companies"]
    assert at.selectbox(key="company_pick").value == "ACME"  # most linked articles
    assert "Acme Corporation" in [s.value for s in at.subheader]
    assert "ACME · NYSE · US · Industrials · Machinery" in [t.value for t in at.text]
    assert _metrics(at) == {"Stories": "4", "Negative toward the company": "75%",
                            "Mean sentiment": "-0.38"}
    chart = chart_frames(at.get("vega_lite_chart")[0])[0]
    assert list(chart["day"]) == ["2024-03-04", "2024-03-05", "2024-03-06"]
    assert list(chart["n_stories"]) == [1, 1, 2]
    assert list(chart["negative"]) == [0, 1, 2]
    assert list(chart["negative_share"]) == [0.0, 1.0, 1.0]
    assert list(chart["mean_sentiment"]) == [0.75, -0.75, -0.75]
    assert at.query_params["ticker"] == "ACME"


def test_search_by_alias_name_and_ticker(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)

    at.text_input(key="company_search").input("gamma bots").run()  # an alias
    assert at.selectbox(key="company_pick").value == "GAMMA"
    assert "Gamma Robotics" in [s.value for s in at.subheader]
    at.text_input(key="company_search").input("holdings").run()  # part of a name
    assert at.selectbox(key="company_pick").value == "BETA"
    at.text_input(key="company_search").input("delta").run()  # ticker; no story at all
    assert not at.exception
    assert at.selectbox(key="company_pick").value == "DELTA"
    assert NO_STORY in [i.value for i in at.info]
    assert "No story linked to this company in this period." in texts(at)
    assert "No ticker alert for this company." in texts(at)
    at.text_input(key="company_search").input("zzz-nothing").run()
    assert not at.exception
    assert "No company matches this search." in [i.value for i in at.info]
    # Nothing is shown below a search that matches nothing, not the previous pick (DELTA).
    assert not [w for w in at.selectbox if w.key == "company_pick"]
    assert "Delta Energy SA" not in [s.value for s in at.subheader]
    assert "No story linked to this company in this period." not in texts(at)
    at.text_input(key="company_search").input("").run()
    assert at.selectbox(key="company_pick").value == "ACME"  # most covered again


def test_days_without_stories_are_gaps_in_the_chart(monkeypatch, seeded_db):
    # Move a1 two weeks back: no ACME story from 2024-02-20 to 2024-03-04.
    move_article(seeded_db, "a1", "2024-02-19 09:00:00+00")
    at = _open(monkeypatch, seeded_db, ticker="ACME")
    chart = chart_frames(at.get("vega_lite_chart")[0])[0]
    assert list(chart["day"]) == [d.strftime("%Y-%m-%d") for d in pd.date_range("2024-02-19", "2024-03-06")]
    shown = chart.set_index("day")
    assert shown.loc["2024-02-19", "n_stories"] == 1 and shown.loc["2024-03-05", "n_stories"] == 1
    gap = shown.loc["2024-02-20":"2024-03-04"]
    assert len(gap) == 14 and (gap["n_stories"] == 0).all() and (gap["negative"] == 0).all()
    # A null share breaks the line (Vega-Lite's default for path marks), not a zero share.
    assert gap["negative_share"].isna().all() and gap["mean_sentiment"].isna().all()


def test_stories_show_link_method_relevance_and_both_labels(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, ticker="BETA")

    assert at.selectbox(key="company_pick").value == "BETA"
    stories = frame_with(at, "method").set_index("title")
    # One headline, two companies: good for Acme (article label), bad for Beta.
    two = stories.loc[TWO_COMPANY_TITLE]
    assert (two["method"], two["relevance"], two["mention"]) == ("short_name", 1.0, "Beta")
    assert (two["label"], two["article_label"], two["basis"]) == ("negative", "positive",
                                                                  "company")
    assert two["p_negative"] == 0.8
    # Only in the summary, and no label toward Beta: the article label stands in, said so.
    only_summary = stories.loc[SCRIPT_TITLE]
    assert (only_summary["method"], only_summary["relevance"]) == ("cashtag", 0.6)
    assert only_summary["basis"] == "article label"
    assert any("1 of these stories are counted with their article label" in c.value
               for c in at.caption)
    # The chart counts the same stories toward Beta.
    chart = chart_frames(at.get("vega_lite_chart")[0])[0]
    # (2024-03-04 and 03-06; 03-05, without a Beta story, is a gap of zero stories.)
    assert list(chart["negative"]) == [1, 0, 1] and list(chart["n_article_label"]) == [0, 0, 1]
    assert chart["negative_share"].isna().tolist() == [False, True, False]

    _widget(at, "slider", "company_relevance").set_value(0.7).run()
    assert SCRIPT_TITLE not in set(frame_with(at, "method")["title"])
    assert _metrics(at)["Stories"] == "2"


def test_company_alerts_and_links(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, ticker="ACME")

    alerts = frame_with(at, "alert_id")
    assert list(alerts["alert_id"]) == ["al1"]
    assert list(alerts["rule"]) == ["ticker_negative_surge"]
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    assert links["Explain the newest alert"].page == "alerts"
    assert links["Explain the newest alert"].query_string == "alert=al1"
    assert links["Articles of ACME"].query_string == "ticker=ACME"


def test_archive_ticker_missing_from_the_universe(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, ticker="OLDCO")

    assert "OLDCO" in [s.value for s in at.subheader]
    assert any("not in the company list" in t.value for t in at.text)
    assert list(frame_with(at, "method")["method"]) == ["ticker_column"]
    assert _metrics(at)["Stories"] == "1"


def test_unknown_ticker_in_the_url(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, ticker="NOPE")
    assert any("No company `NOPE`" in w.value for w in at.warning)


def test_movers_rank_companies_by_their_labels(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)

    ranked = frame_with(at, "change")
    # Window = the day before the last data hour (2024-03-06 12:00 UTC): ACME has 3 negative
    # articles (a2, a4, a7) against a positive baseline (a1); BETA has 2 (a4 negative by the
    # article label, a8 neutral), fewer than the 3 needed: insufficient data, no share.
    assert list(ranked["entity"]) == ["ACME", "BETA", "GAMMA", "OLDCO"]
    acme, beta = ranked.iloc[0], ranked.iloc[1]
    assert (acme["share_window"], acme["share_baseline"], acme["change"]) == (1.0, 0.0, 1.0)
    assert acme["coverage"] == "ok"
    assert pd.isna(beta["share_window"]) and beta["coverage"] == "insufficient data"
    assert list(acme["trend"]) == [0.0, 1.0, 1.0]
    assert "Negative share by day" in [s.value for s in at.subheader]
    cells = chart_frames(at.get("vega_lite_chart")[1])[0]
    acme_day = cells[(cells["entity"] == "ACME") & (cells["day"] == "2024-03-06")].iloc[0]
    assert acme_day["negative_share"] == 1.0
    assert acme_day["coverage"] == "insufficient data"  # 2 scored articles that day


def test_movers_sources_link_to_articles(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)
    _widget(at, "button_group", "entity_scope").set_value("Sources").run()

    assert not at.exception
    assert "Acme Wire" in set(frame_with(at, "change")["entity"])
    links = [p.proto for p in at.get("page_link") if p.proto.query_string.startswith("source=")]
    assert len(links) == 1 and links[0].page == "articles"


def test_empty_database_says_no_data(monkeypatch, fresh_db):
    at = open_page(monkeypatch, fresh_db.parent, "entities")
    assert not at.exception
    assert [i.value for i in at.info] == ["No data yet: run `tonewatch run` first"]


def test_no_company_list_yet_still_finds_linked_tickers(monkeypatch, seeded_db):
    con = duckdb.connect(str(seeded_db))
    try:
        con.execute("DELETE FROM companies")
    finally:
        con.close()
    at = _open(monkeypatch, seeded_db)
    assert at.selectbox(key="company_pick").value == "ACME"
    assert any("not in the company list" in t.value for t in at.text)
    assert _metrics(at)["Stories"] == "4"


def test_database_from_before_the_company_tables(monkeypatch, seeded_db):
    con = duckdb.connect(str(seeded_db))
    try:
        for table in ("entity_scores", "article_entities", "companies"):
            con.execute(f"DROP TABLE {table}")
    finally:
        con.close()
    for page in ("entities", "sectors"):
        at = open_page(monkeypatch, seeded_db.parent, page)
        assert not at.exception
        assert any("predates company links" in i.value for i in at.info), page
    at = open_page(monkeypatch, seeded_db.parent, "articles")
    assert not at.exception
    assert "Linked to no company." in texts(at)
