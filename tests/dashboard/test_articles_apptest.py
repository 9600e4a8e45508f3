"""AppTest runs of the Articles page, and the CSV export it offers."""

from __future__ import annotations

import io
from datetime import date

import duckdb
import pandas as pd

from dashboard import queries
from dashboard.export import EXPORT_COLUMNS, articles_csv
from tests.dashboard.conftest import (
    ARTICLES, IMG_TITLE, MARKDOWN_TITLE, SCRIPT_TITLE, TWO_COMPANY_TITLE,
)
from tests.dashboard.helpers import frame_with, open_page


def _open(monkeypatch, db, **params):
    at = open_page(monkeypatch, db.parent)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page("app_pages/articles.py").run()
    assert not at.exception
    return at


def test_all_articles_listed_newest_first_with_safe_links(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)

    table = frame_with(at, "title")
    assert len(table) == len(ARTICLES)
    assert table["published"].is_monotonic_decreasing
    assert "**8** matching articles." in [m.value for m in at.markdown]
    row = table.set_index("title")
    # Hostile titles are plain cells; only http(s) URLs became links.
    assert pd.isna(row.loc[SCRIPT_TITLE, "link"])  # javascript:
    assert pd.isna(row.loc[MARKDOWN_TITLE, "link"])  # java<TAB>script:
    assert pd.isna(row.loc[IMG_TITLE, "link"])  # data:
    assert row.loc["Acme warns on margins", "link"] == "https://acme.example/a2"
    assert row.loc["Acme warns on margins", "p_negative"] == 0.8
    assert pd.isna(row.loc["Orphan headline", "label"])  # unscored
    assert row.loc["Orphan headline", "source"] == "unknown-feed"


def test_ticker_from_the_url_filters(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, ticker="BETA")

    assert at.selectbox(key="articles_ticker").value == "BETA"
    assert set(frame_with(at, "title")["title"]) == {SCRIPT_TITLE, IMG_TITLE, TWO_COMPANY_TITLE}


def test_source_label_confidence_and_text_filters(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db, source="central-bank")
    assert set(frame_with(at, "title")["title"]) == {"Rates held steady", "Minutes published"}

    at.selectbox(key="articles_source").select("").run()
    at.multiselect(key="articles_labels").set_value(["negative"]).run()
    assert set(frame_with(at, "title")["label"]) == {"negative"}
    assert len(frame_with(at, "title")) == 3

    at.multiselect(key="articles_labels").set_value(["negative", "neutral", "positive"]).run()
    at.slider(key="articles_confidence").set_value(0.85).run()
    assert not at.dataframe  # no probability reaches 0.85
    # Besides the line saying the default dates are the seeded data's, not the last 30 days.
    assert [i.value for i in at.info if not i.value.startswith("Showing ")] == [
        "No article matches these filters."]

    at.slider(key="articles_confidence").set_value(0.0).run()
    at.text_input(key="articles_text").input("acme").run()
    assert len(frame_with(at, "title")) == 4  # case-insensitive title search
    at.text_input(key="articles_text").input("%").run()
    assert not at.dataframe  # '%' is a literal, not a wildcard


def test_date_range_is_in_the_display_zone(monkeypatch, seeded_db):
    at = _open(monkeypatch, seeded_db)
    at.date_input(key="articles_dates").set_value((date(2024, 3, 5), date(2024, 3, 5))).run()
    assert set(frame_with(at, "title")["title"]) == {"Acme warns on margins", "Rates held steady"}

    # In Tokyo (UTC+9) 2024-03-06 06:00/07:00/08:15 UTC are already afternoon of the 6th and
    # 2024-03-05 16:00 UTC is 01:00 on the 6th.
    at.selectbox(key="tz").select("Asia/Tokyo").run()
    at.date_input(key="articles_dates").set_value((date(2024, 3, 6), date(2024, 3, 6))).run()
    titles = set(frame_with(at, "title")["title"])
    assert "Rates held steady" in titles
    assert "Acme warns on margins" not in titles  # 23:30 on the 5th in Tokyo


def test_csv_export_defuses_formulas_and_keeps_utc(seeded_db):
    where = queries.ArticleFilter(ticker="ACME")
    frame = queries.export_articles(str(seeded_db), where, 100)
    frame.loc[0, "title"] = "=HYPERLINK(\"http://evil.example\")"
    csv = pd.read_csv(io.BytesIO(articles_csv(frame)))

    assert list(csv.columns) == EXPORT_COLUMNS
    assert len(csv) == 4
    assert csv.loc[0, "title"].startswith("'=")
    assert set(csv["published_at_utc"].str[-6:]) == {"+00:00"}
    assert csv["url"].dropna().str.startswith("https://").all()
    assert csv["url"].isna().sum() == 2  # javascript: and java<TAB>script: dropped


def test_limit_holds_when_nothing_is_scored(fresh_db):
    # DuckDB 2.0.1 can drop the LIMIT of a LEFT JOIN over an empty table (see
    # pipeline/storage/articles.py); the Articles query must still return at most `limit` rows.
    con = duckdb.connect(str(fresh_db))
    try:
        con.execute(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id)"
            " SELECT 'a' || i, 'f', 'https://x.example/', 't', now() - to_seconds(i), 'exact',"
            " now(), now(), 'h', 's' || i FROM range(3000) t(i)")
    finally:
        con.close()
    db = str(fresh_db)
    assert len(queries.find_articles(db, queries.ArticleFilter(), 5)) == 5
    assert len(queries.find_articles(db, queries.ArticleFilter(text="t"), 5)) == 5
    assert queries.count_articles(db, queries.ArticleFilter()) == 3000


def test_a_day_whose_midnight_does_not_exist(monkeypatch, seeded_db):
    # Sao Paulo moved its clocks from 00:00 to 01:00 on 2018-11-04: that day starts at 01:00.
    con = duckdb.connect(str(seeded_db))
    try:
        con.execute(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id) VALUES ('old', 'acme-wire',"
            " 'https://acme.example/old', 'Old story', TIMESTAMPTZ '2018-11-04 12:00:00+00',"
            " 'exact', now(), now(), 'h', 's-old')")
    finally:
        con.close()
    at = _open(monkeypatch, seeded_db)
    at.selectbox(key="tz").select("America/Sao_Paulo").run()
    at.date_input(key="articles_dates").set_value((date(2018, 11, 4), date(2018, 11, 4))).run()
    assert not at.exception
    assert list(frame_with(at, "title")["title"]) == ["Old story"]


def _add_late_article(db) -> None:
    """An article at 16:05 UTC on 2024-03-06, the newest: already 2024-03-07 in Tokyo."""
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id) VALUES ('late', 'acme-wire',"
            " 'https://acme.example/late', 'Late story', TIMESTAMPTZ '2024-03-06 16:05:00+00',"
            " 'exact', now(), now(), 'h', 's-late')")
    finally:
        con.close()


def test_default_range_follows_the_newest_day_after_a_timezone_change(monkeypatch, seeded_db):
    _add_late_article(seeded_db)
    at = _open(monkeypatch, seeded_db)
    assert at.date_input(key="articles_dates").value[1] == date(2024, 3, 6)
    assert "Late story" in set(frame_with(at, "title")["title"])

    at.selectbox(key="tz").select("Asia/Tokyo").run()
    assert not at.exception
    assert at.date_input(key="articles_dates").value[1] == date(2024, 3, 7)
    assert len(frame_with(at, "title")) == len(ARTICLES) + 1
    assert not at.get("download_button")[0].proto.disabled


def test_a_picked_range_keeps_its_instants_across_a_timezone_change(monkeypatch, seeded_db):
    _add_late_article(seeded_db)
    at = _open(monkeypatch, seeded_db)
    at.date_input(key="articles_dates").set_value((date(2024, 3, 6), date(2024, 3, 6))).run()
    picked = set(frame_with(at, "title")["title"])
    assert "Late story" in picked and "Rates held steady" not in picked

    # 2024-03-06 in UTC is 09:00 on the 6th to 08:59 on the 7th in Tokyo.
    at.selectbox(key="tz").select("Asia/Tokyo").run()
    assert at.date_input(key="articles_dates").value == (date(2024, 3, 6), date(2024, 3, 7))
    assert picked <= set(frame_with(at, "title")["title"])
    assert any("Timezone changed" in c.value and "(Asia/Tokyo)" in c.value for c in at.caption)

    # Once carried over, the range is the user's again: no note, no further change.
    at.text_input(key="articles_text").input("story").run()
    assert at.date_input(key="articles_dates").value == (date(2024, 3, 6), date(2024, 3, 7))
    assert not any("Timezone changed" in c.value for c in at.caption)
