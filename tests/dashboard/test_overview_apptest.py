"""AppTest runs of the Overview page through the router (``dashboard/streamlit_app.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
NO_DATA = "No data yet: run `tonewatch run` first"
from tests.dashboard.helpers import chart_frames
from tests.dashboard.conftest import ARCHIVED, N_SCORED, PRODUCTION, SCRIPT_TITLE


def _run(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> AppTest:
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(data_dir))
    # The first run imports pandas/altair/duckdb; the 3 s default is too tight on slow CI.
    at = AppTest.from_file(str(APP), default_timeout=30)
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _frame_containing(at: AppTest, column: str):
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert frames, f"no dataframe with a {column!r} column"
    return frames[0]


def test_overview_shows_metrics_alerts_and_headlines(monkeypatch, seeded_db):
    at = _run(monkeypatch, seeded_db.parent)

    assert not at.exception
    assert [t.value for t in at.title] == ["Overview"]
    assert _metrics(at) == {
        "Articles": "8",
        "Scored": "6",  # by the production model; the archived one scored later
        "Firing alerts": "1",
        "Last successful run (UTC)": "2024-03-06 12:05",
    }
    assert any(f"`{PRODUCTION}`" in c.value for c in at.caption)

    alerts = _frame_containing(at, "entity")
    acme = alerts[alerts["entity"] == "ACME"]
    assert len(acme) == 1
    assert acme.iloc[0]["state"] == "firing"
    assert acme.iloc[0]["window"] == "2024-03-06 00:00 → 2024-03-07 00:00"
    assert set(alerts["entity"]) == {"ACME", "all", "Industrials"}

    heads = _frame_containing(at, "title")
    assert len(heads) == N_SCORED  # scored by the production model
    assert heads.iloc[0]["title"] == SCRIPT_TITLE
    assert heads.iloc[0]["label"] == "negative"  # the archived model said positive
    assert heads.iloc[0]["tickers"] == "ACME, BETA"
    # Only http(s) URLs become links: the javascript: URL is dropped.
    assert pd.isna(heads.iloc[0]["link"])
    assert set(heads["link"].dropna()) == {
        "https://acme.example/a1", "https://acme.example/a2", "https://bank.example/a3"}
    assert set(heads["feed"]) == {"Acme Wire", "Central Bank"}

    sidebar_captions = [c.value for c in at.sidebar.caption]
    assert any(str(seeded_db) in c for c in sidebar_captions)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # volume + share + alert markers; the sentiment index
    spec = json.loads(charts[0].proto.spec)
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "line", "rule"]
    # Every seeded day has fewer scored articles than the market rule's minimum: the share
    # line has no point (insufficient data), not a calm 0 %.
    data = chart_frames(charts[0])[0]
    assert set(data["coverage"]) == {"insufficient data"}
    assert data["negative_share"].isna().all()
    assert any("Insufficient data for the latest day" in w.value for w in at.warning)


def test_timezone_changes_display_not_storage(monkeypatch, seeded_db):
    at = _run(monkeypatch, seeded_db.parent)
    assert at.session_state["tz"] == "UTC"

    at.selectbox(key="tz").select("America/New_York").run()

    assert not at.exception
    # 2024-03-06 is before the US DST switch: UTC-5.
    assert _metrics(at)["Last successful run (America/New_York)"] == "2024-03-06 07:05"
    alerts = _frame_containing(at, "entity")
    acme = alerts[alerts["entity"] == "ACME"].iloc[0]
    assert acme["window"] == "2024-03-05 19:00 → 2024-03-06 19:00"
    heads = _frame_containing(at, "title")
    assert str(heads["published"].dt.tz) == "America/New_York"
    assert heads.iloc[0]["published"].isoformat() == "2024-03-06T03:15:00-05:00"


def test_without_production_model_falls_back_to_latest_scored(
    monkeypatch, seeded_db_without_production
):
    at = _run(monkeypatch, seeded_db_without_production.parent)

    assert not at.exception
    assert any("No model is marked production" in c.value and f"`{ARCHIVED}`" in c.value
               for c in at.caption)
    heads = _frame_containing(at, "title")
    assert set(heads["label"]) == {"positive"}


def test_empty_data_dir_says_no_data_yet(monkeypatch, tmp_path):
    at = _run(monkeypatch, tmp_path / "empty")

    assert not at.exception
    assert [i.value for i in at.info] == [NO_DATA]
    assert not at.metric
    assert not at.dataframe


def test_database_without_articles_says_no_data_yet(monkeypatch, fresh_db):
    at = _run(monkeypatch, fresh_db.parent)

    assert not at.exception
    assert [i.value for i in at.info] == [NO_DATA]
    assert not at.metric


def test_articles_without_scores_warn_and_still_render(monkeypatch, fresh_db):
    con = duckdb.connect(str(fresh_db))
    try:
        con.execute(
            "INSERT INTO articles (article_id, feed_id, url, title, published_at, date_quality,"
            " first_seen_at, fetched_at, content_hash, story_id)"
            " VALUES ('a1', 'f', 'https://x.example/1', 'Unscored', TIMESTAMPTZ"
            " '2024-03-06 09:00:00+00', 'exact', now(), now(), 'h', 's')"
        )
    finally:
        con.close()

    at = _run(monkeypatch, fresh_db.parent)

    assert not at.exception
    assert any("No article has been scored yet" in w.value for w in at.warning)
    assert _metrics(at) == {
        "Articles": "1", "Scored": "0", "Firing alerts": "0", "Last successful run": "never"}
    assert "No alerts yet." in [c.value for c in at.caption]
    assert "No scored headlines yet." in [c.value for c in at.caption]


def _add_scored_day(db, day: str, n: int, negative: int) -> None:
    """Store ``n`` articles published at noon UTC on ``day``, ``negative`` of them negative."""
    con = duckdb.connect(str(db))
    try:
        for i in range(n):
            aid = f"bulk-{day}-{i}"
            con.execute(
                "INSERT INTO articles (article_id, feed_id, url, title, published_at,"
                " date_quality, first_seen_at, fetched_at, content_hash, story_id)"
                f" VALUES (?, 'acme-wire', 'https://x.example/', 'Bulk', TIMESTAMPTZ"
                f" '{day} 12:00:00+00', 'exact', now(), now(), 'h', ?)", [aid, aid])
            label = "negative" if i < negative else "neutral"
            con.execute(
                "INSERT INTO scores (article_id, model_version, label, p_negative, p_neutral,"
                " p_positive, sentiment_score, content_hash, scored_at)"
                " VALUES (?, ?, ?, ?, ?, 0.1, ?, 'h', now())",
                [aid, PRODUCTION, label, 0.8 if i < negative else 0.1,
                 0.1 if i < negative else 0.8, 0.1 - (0.8 if i < negative else 0.1)])
    finally:
        con.close()


def test_covered_day_shows_its_share_and_index(monkeypatch, seeded_db):
    _add_scored_day(seeded_db, "2024-03-03", 12, 3)
    at = _run(monkeypatch, seeded_db.parent)

    assert not at.exception
    data = chart_frames(at.get("vega_lite_chart")[0])[0].set_index("start")
    covered = data.loc[pd.Timestamp("2024-03-03")]
    assert covered["coverage"] == "ok"
    assert covered["negative_share"] == 0.25
    # Index = 100 x mean(p_positive - p_negative) = 100 x (3 x -0.7 + 9 x 0.0) / 12.
    index = chart_frames(at.get("vega_lite_chart")[1])[0].set_index("start")
    assert index.loc[pd.Timestamp("2024-03-03"), "sentiment_index"] == pytest.approx(-17.5)
    # The last 90 days (up to today) hold nothing: the default period ends with the newest day
    # that can be read, and says so; the thin days after it show under "all".
    assert list(data.index) == [pd.Timestamp("2024-03-03")]
    assert any(i.value.startswith("Showing 2023-12-04 – 2024-03-03 (UTC), up to the latest day "
                                  "with enough scored articles") for i in at.info)
    at.button_group(key="timeline_period").set_value("all").run()
    assert any("3 of 4 days shown have fewer than 10" in c.value for c in at.caption)
    assert not any(i.value.startswith("Showing") for i in at.info)


def test_hourly_buckets_in_the_display_zone(monkeypatch, seeded_db):
    at = _run(monkeypatch, seeded_db.parent)
    at.get("button_group")[0].set_value("Hourly").run()  # granularity
    at.selectbox(key="tz").select("Asia/Tokyo").run()

    assert not at.exception
    data = chart_frames(at.get("vega_lite_chart")[0])[0]
    # 8 articles in 8 distinct UTC hours; Tokyo wall clock is UTC+9.
    assert data["n_articles"].sum() == 8
    assert pd.Timestamp("2024-03-06 17:15").floor("h") in set(data["start"])  # a4, 08:15 UTC
    assert any("Insufficient data for the latest hour" in w.value for w in at.warning)
