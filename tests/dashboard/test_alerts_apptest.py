"""AppTest runs of the Alerts page: list, explanation, deep link, creating a silence (signed in:
who may do it is tested in test_access.py)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from tests.dashboard.conftest import MARKDOWN_TITLE, SCRIPT_TITLE, USERS
from tests.dashboard.helpers import frame_with, open_page, sign_in


def _silences(db) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT matchers, author, comment, ends_at - starts_at"
                           " FROM silences").fetchall()
    finally:
        con.close()


def test_lists_alerts_and_explains_the_newest(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "alerts")

    assert not at.exception
    listed = frame_with(at, "alert_id")
    assert list(listed["alert_id"]) == ["al1", "al2", "al3"]  # newest window first
    assert list(listed["state"]) == ["firing", "resolved", "resolved"]
    assert list(listed["scope"]) == ["ticker", "market", "sector"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Observed negative share": "67.0%", "Expected": "12.0%",
                       "p-value": "0.0004", "q-value": "0.0012", "State": "firing"}
    assert any("2 negative of 3 stories in the window; 25 stories in the baseline; "
               "1 independent source(s)" in t.value for t in at.text)
    heads = frame_with(at, "p_negative")
    assert list(heads["title"]) == [SCRIPT_TITLE, MARKDOWN_TITLE]
    assert pd.isna(heads.iloc[0]["link"])  # javascript: URL dropped
    assert heads.iloc[1]["link"] == "https://acme.example/a2"
    # A ticker alert's headlines say why each counts for the company.
    assert list(heads["method"]) == ["name", "short_name"]
    assert list(heads["relevance"]) == [1.0, 1.0]
    assert list(heads["label"]) == ["negative", "negative"]
    assert list(heads["basis"]) == ["company", "company"]


def test_sector_scope_is_listed_and_filtered(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    at.multiselect(key="alert_scopes").set_value(["sector"]).run()
    assert list(frame_with(at, "alert_id")["entity"]) == ["Industrials"]


def test_state_filter(monkeypatch, seeded_db):
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    at.multiselect(key="alert_states").set_value(["resolved"]).run()
    assert list(frame_with(at, "alert_id")["alert_id"]) == ["al2", "al3"]
    assert {m.label: m.value for m in at.metric}["State"] == "resolved"


def test_alert_link_from_a_message_opens_that_alert(monkeypatch, seeded_db):
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(seeded_db.parent))
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.helpers import APP

    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["alert"] = "al2"  # <dashboard>/?alert=al2 lands on the default page
    at.run()

    assert not at.exception
    assert [t.value for t in at.title] == ["Alerts"]
    assert at.selectbox(key="alert_pick").value == "al2"
    assert {m.label: m.value for m in at.metric}["State"] == "resolved"


def _create_silence_button(at):
    return next(b for b in at.button if b.label == "Create silence")


def test_create_silence_from_an_alert(monkeypatch, seeded_db, users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.text_input(key="silence_comment").input("known recall story")
    at.selectbox(key="silence_duration").select("12 hours")
    _create_silence_button(at).click().run()

    assert not at.exception
    assert any(s.value.startswith("Silence ") for s in at.success)
    rows = _silences(seeded_db)
    assert len(rows) == 1
    matchers, author, comment, length = rows[0]
    assert json.loads(matchers) == [
        {"label": "rule", "op": "=", "value": "ticker_negative_surge"},
        {"label": "scope", "op": "=", "value": "ticker"},
        {"label": "entity", "op": "=", "value": "ACME"}]
    # The author is the signed-in user: the form has no name field to type another.
    assert (author, comment) == ("rita", "known recall story")
    assert length.total_seconds() == 12 * 3600
    shown = frame_with(at, "matchers")
    assert list(shown["matchers"]) == [
        "rule=ticker_negative_surge, scope=ticker, entity=ACME"]
    assert list(frame_with(at, "expired_by")["author"]) == ["rita"]  # the history


def test_silence_without_comment_is_refused_and_nothing_written(monkeypatch, seeded_db,
                                                                users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    _create_silence_button(at).click().run()

    assert not at.exception
    assert [e.value for e in at.error] == [
        "Silence not created: a silence needs an author and a comment (kept for audit)"]
    assert _silences(seeded_db) == []


@pytest.mark.parametrize(("silenced_by", "inhibited_by", "expected"), [
    (None, "market", "Not notified: inhibited by a market-wide surge in the same window."),
    ("sil-42", None, "Not notified: silenced by sil-42."),
    ("sil-42", "market", "Not notified: silenced by sil-42 and inhibited by a market-wide "
                         "surge in the same window."),
    (None, None, None),
])
def test_why_an_alert_was_not_notified(monkeypatch, seeded_db, silenced_by, inhibited_by,
                                       expected):
    con = duckdb.connect(str(seeded_db))
    try:
        info = json.loads(con.execute(
            "SELECT explanation FROM alerts WHERE alert_id = 'al1'").fetchone()[0])
        info.update(silenced_by=silenced_by, inhibited_by=inhibited_by)
        con.execute("UPDATE alerts SET explanation = ? WHERE alert_id = 'al1'",
                    [json.dumps(info)])
    finally:
        con.close()
    at = open_page(monkeypatch, seeded_db.parent, "alerts")

    assert not at.exception
    notes = [i.value for i in at.info if i.value.startswith("Not notified")]
    assert notes == ([expected] if expected else [])
