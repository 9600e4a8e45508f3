"""AppTest runs of the Feeds and Model pages."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from tests.dashboard.conftest import CANDIDATE, METRICS, N_SCORED, PRODUCTION
from tests.dashboard.helpers import chart_frames, frame_with, open_page, texts


def test_feeds_health(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "feeds")

    assert not at.exception
    assert {m.label: m.value for m in at.metric} == {
        "Sources": "3", "Healthy": "1", "Failing": "2", "Not a feed": "1"}
    assert any("2 source(s) failed 3 or more times" in w.value for w in at.warning)
    feeds = frame_with(at, "failures").set_index("source")
    assert list(feeds.index) == ["Evil <i>Feed</i>", "Central Bank", "Acme Wire"]  # failing first
    assert feeds.loc["Central Bank", "state"] == "not a feed"
    assert feeds.loc["Central Bank", "error"] == "NotAFeedError: <b>HTML page</b>, not a feed"
    assert feeds.loc["Central Bank", "failures"] == 3
    assert feeds.loc["Acme Wire", "state"] == "ok"
    assert feeds.loc["Acme Wire", "articles"] == 5
    assert pd.isna(feeds.loc["Evil <i>Feed</i>", "last_success"])
    assert pd.isna(feeds.loc["Evil <i>Feed</i>", "url"])  # javascript: feed URL not linked
    assert feeds.loc["Acme Wire", "url"] == "https://acme.example/rss"


def test_model_metrics_confusion_drift_and_shadow(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    assert f"Production model `{PRODUCTION}`" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy"] == "82.5%"
    assert metrics["Macro-F1"] == "81.0%"
    per_class = frame_with(at, "recall")
    assert per_class.loc["negative", "recall"] == 0.85

    confusion, drift = at.get("vega_lite_chart")
    cells = chart_frames(confusion)[0]
    assert cells.pivot(index="true", columns="predicted", values="n").loc[
        ["negative", "neutral", "positive"], ["negative", "neutral", "positive"]
    ].to_numpy().tolist() == METRICS["confusion"]
    shares = chart_frames(drift)[0]
    assert shares.groupby("day")["share"].sum().round(9).eq(1.0).all()
    assert shares["n"].sum() == N_SCORED

    # Shadow: the candidate relabels a3 neutral -> negative.
    assert at.selectbox(key="candidate").value == CANDIDATE
    assert metrics["Articles compared"] == str(N_SCORED)
    assert metrics["Labels changed"] == "1"
    assert metrics["Negative share (production)"] == "50.0%"
    assert metrics["Negative share (candidate)"] == "66.7%"
    table = frame_with(at, "neutral")
    assert table.loc["neutral", "negative"] == 1

    versions = frame_with(at, "scored_articles").set_index("model_version")
    assert versions.loc[PRODUCTION, "stage"] == "production"
    assert versions.loc[PRODUCTION, "macro_f1"] == 0.81


def test_model_without_candidate_or_metrics(monkeypatch, seeded_db):
    con = duckdb.connect(str(seeded_db))
    try:
        con.execute("DELETE FROM scores WHERE model_version = ?", [CANDIDATE])
        con.execute("UPDATE model_versions SET metrics = NULL")
    finally:
        con.close()
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    text = texts(at)
    assert "No evaluation recorded for this version" in text
    assert "Expected calibration error" not in {m.label for m in at.metric}
    assert "No candidate version has scored articles" in text


def test_model_page_shows_calibration_and_reliability(monkeypatch, seeded_db):
    bins = [{"lower": 0.4, "upper": 0.4667, "n": 20, "confidence": 0.44, "accuracy": 0.5},
            {"lower": 0.9333, "upper": 1.0, "n": 100, "confidence": 0.96, "accuracy": 0.93}]
    metrics = dict(METRICS, calibration={"ece": 0.031, "n_bins": 15, "bins": bins,
                                         "temperature": 0.75, "ece_uncalibrated": 0.073})
    con = duckdb.connect(str(seeded_db))
    try:
        con.execute("UPDATE model_versions SET metrics = ? WHERE model_version = ?",
                    [json.dumps(metrics), PRODUCTION])
    finally:
        con.close()
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Expected calibration error"] == "3.1%"
    assert shown["Without calibration"] == "7.3%"
    assert "T = 0.750" in texts(at)
    reliability = [c for c in at.get("vega_lite_chart")
                   if any("accuracy" in f.columns and "confidence" in f.columns
                          for f in chart_frames(c))]
    assert len(reliability) == 1
    points = next(f for f in chart_frames(reliability[0]) if "confidence" in f.columns)
    assert points[["n", "confidence", "accuracy"]].to_numpy().tolist() == [
        [20, 0.44, 0.5], [100, 0.96, 0.93]]
