"""Reading archive files for `tonewatch import`: columns per row, ticker cells (no file leaves
a row or a ticker behind without saying so)."""

from __future__ import annotations

import json

import pytest

from pipeline.ingest.importer import parse_tickers, read_import_file


@pytest.mark.parametrize(("cell", "tickers", "rejected"), [
    ("ACME, GLBX", ["ACME", "GLBX"], []),
    ("$ACME GLBX", ["ACME", "GLBX"], []),
    ("NYSE:ACME|nasdaq:glbx", ["ACME", "GLBX"], []),
    (["SHEL.L", "BP.L"], ["SHEL.L", "BP.L"], []),
    ("ACME; ACME", ["ACME"], []),
    ("N/A", [], []),
    ("", [], []),
    # Free text is not a list of tickers: "not a ticker!!" is not NOT, A and TICKER!!.
    ("not a ticker!!", [], ["not a ticker!!"]),
    ("ACME, bad!", ["ACME"], ["bad!"]),
    ({"a": "b"}, [], ['{"a": "b"}']),
    ([{"x": 1}, "ACME"], ["ACME"], ['{"x": 1}']),
    ([7203, "ACME"], ["7203", "ACME"], []),  # numeric symbols exist (7203.T's home code)
])
def test_ticker_cells(cell, tickers, rejected):
    assert parse_tickers(cell) == (tickers, rejected)


def test_jsonl_lines_may_name_their_fields_differently(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        {"title": "Acme Robotics opens a plant", "published": "2026-02-10T09:00:00Z", "ticker": "ACME"},
        {"headline": "Globex cuts its outlook", "date": "2026-02-11T09:00:00Z", "symbol": "GLBX"},
        {"headline": "Initrode and Umbrella sign a deal", "date": "2026-02-12T09:00:00Z",
         "symbols": ["INTR", "UMBR"], "ticker": "INTR"},
        {"text": "Hooli lists its shares", "timestamp": 1770800000, "tickers": "HOOLI"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    parsed = read_import_file(path)
    assert [e["title"] for e in parsed.entries] == [
        "Acme Robotics opens a plant", "Globex cuts its outlook", "Initrode and Umbrella sign a deal",
        "Hooli lists its shares"]
    assert [e["tickers"] for e in parsed.entries] == [["ACME"], ["GLBX"], ["INTR", "UMBR"], ["HOOLI"]]
    assert all(e["published"] for e in parsed.entries)
    assert parsed.warnings == []


def test_bad_ticker_values_are_reported_with_line_and_column(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"title": "A", "date": "2026-02-10", "ticker": {"a": "b"}}) + "\n"
                    + json.dumps({"title": "B", "date": "2026-02-10", "symbols": "not a ticker!!"}) + "\n",
                    encoding="utf-8")
    parsed = read_import_file(path)
    assert [e.get("tickers") for e in parsed.entries] == [None, None]
    (warning,) = parsed.warnings
    assert "2 value(s) in column 'ticker' or 'symbols' are not tickers" in warning
    assert "line 1 'ticker': '{\"a\": \"b\"}'" in warning and "line 2 'symbols': 'not a ticker!!'" in warning
