"""Watchlists: unknown tickers warn (kept), malformed or empty ones are one error line, and a
broken watchlist stops ``run_pipeline`` before anything is ingested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from pipeline.companies import load_watchlist, universe_from_settings
from pipeline.companies.userfile import check_file
from pipeline.config import load_settings
from pipeline.detection.rules import AlertRule
from pipeline.errors import ConfigError
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.run import detect, run_pipeline, watchlist_from_settings
from pipeline.storage.db import connect
from pipeline.storage.scores import score_rows, upsert_scores
from tests.conftest import query
from tests.seeding import store_articles

AT = datetime(2026, 3, 6, tzinfo=UTC)
NEG, NEU = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(settings_env):
    return load_settings(data_dir=settings_env / "data")


@pytest.fixture
def universe(settings):
    return universe_from_settings(settings)


def test_unknown_ticker_is_kept_with_a_warning(tmp_path, universe, tonewatch_log):
    path = write(tmp_path, "wl.txt", "AAPL\nNOTATICKER\nZZFAKE  # archive-only ticker\n")
    assert load_watchlist(path, universe) == ("AAPL", "NOTATICKER", "ZZFAKE")
    lines = [r.getMessage() for r in tonewatch_log.records]
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: line 2: unknown ticker NOTATICKER")
    assert lines[1].startswith(f"{path}: line 3: unknown ticker ZZFAKE")
    assert all("kept" in line for line in lines)


@pytest.mark.parametrize("text, message", [
    ("AAPL\nAAPL MSFT\n", r"line 2: not a ticker symbol \(got 'AAPL MSFT'\)"),
    ("AAPL\nnot a ticker!\n", r"line 2: not a ticker symbol"),
    ("AAPL\nMSFT\naapl\n", r"line 3: AAPL already listed in line 1"),
])
def test_malformed_lines_are_one_error_line(tmp_path, universe, text, message):
    with pytest.raises(ConfigError, match=message):
        load_watchlist(write(tmp_path, "wl.txt", text), universe)


@pytest.mark.parametrize("name, text", [("wl.txt", "# nobody yet\n\n"), ("wl.yaml", "[]\n"),
                                        ("wl.yaml", "watchlist: []\n")])
def test_an_empty_watchlist_is_an_error(tmp_path, universe, name, text):
    with pytest.raises(ConfigError, match="lists no ticker: ticker rules would never fire; "
                                          "unset TONEWATCH_WATCHLIST_FILE"):
        load_watchlist(write(tmp_path, name, text), universe)


def test_companies_check_reports_unknown_tickers_as_warnings(tmp_path, settings):
    path = write(tmp_path, "wl.txt", "AAPL\nVOD\n")
    report = check_file(path, settings)
    assert report.problems == ()
    assert report.summary.startswith(f"watchlist {path}: 2 tickers\n  warning: {path}: line 2: "
                                     "unknown ticker VOD (did you mean VOD.L?)")
    empty = check_file(write(tmp_path, "empty.txt", "# none\n"), settings)
    assert len(empty.problems) == 1 and "lists no ticker" in empty.problems[0]
    bad_path = write(tmp_path, "bad.txt", "AAPL\nA B\n")
    bad = check_file(bad_path, settings)
    assert bad.problems == (f"{bad_path}: line 2: not a ticker symbol "
                            "(got 'A B'); one ticker per line, e.g. AAPL, BRK.B, VOD.L",)


def test_broken_watchlist_stops_the_run_before_ingest(tmp_path, settings):
    settings = settings.model_copy(update={"watchlist_file": write(tmp_path, "wl.txt", "AAPL\n$$$\n")})
    requests = []
    client = httpx.Client(transport=httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(500)))
    with pytest.raises(ConfigError, match=r"wl.txt: line 2: not a ticker symbol"):
        run_pipeline(settings, at=AT, extra_sources=["https://wire.example.com/rss"], client=client)
    assert requests == [] and not settings.db_path.exists()
    empty = settings.model_copy(update={"watchlist_file": write(tmp_path, "empty.txt", "")})
    with pytest.raises(ConfigError, match="lists no ticker"):
        run_pipeline(empty, at=AT, client=client)
    assert watchlist_from_settings(settings.model_copy(update={"watchlist_file": None})) is None


def _store(db, items: list[tuple[datetime, list[float], list[str]]]) -> None:
    """Store ``(published_at, probabilities, tickers)`` items, each its own story."""
    frame = pd.DataFrame([{c: None for c in ARTICLE_COLUMNS} | {
        "article_id": f"a{i}", "feed_id": "wire", "title": f"story {i}", "text": f"story {i}",
        "published_at": when, "date_quality": "exact", "first_seen_at": when, "fetched_at": when,
        "content_hash": f"h{i}", "story_id": f"s{i}", "tickers": tickers}
        for i, (when, _, tickers) in enumerate(items)], columns=ARTICLE_COLUMNS)
    with connect(db) as con:
        store_articles(con, frame)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      [p for _, p, _ in items], "synthetic-1", AT))


def test_unknown_tickers_still_alert_with_every_other_scope(tmp_path, settings, tonewatch_log):
    # ZZFAKE exists only through an import's ticker column; GLBX surges too but is not watched.
    items = []
    for day in range(28, 1, -1):
        base = AT - timedelta(days=day)
        items += [(base + timedelta(hours=1 + i), NEG if i == 0 else NEU, [t])
                  for t in ("ZZFAKE", "GLBX") for i in range(5)]
    items += [(AT - timedelta(hours=10 - i), NEG, [t]) for t in ("ZZFAKE", "GLBX") for i in range(8)]
    _store(settings.db_path, items)
    settings = settings.model_copy(update={
        "watchlist_file": write(tmp_path, "wl.txt", "ZZFAKE\nNOTATICKER\n")})
    rules = [AlertRule(name="ticker_surge", scope="ticker"), AlertRule(name="market_surge", scope="market")]
    result = detect(settings, at=AT, rules=rules)
    assert result.status == "ok"
    assert sorted(query(settings.db_path, "SELECT rule, entity FROM alerts WHERE state = 'firing'")) == [
        ("market_surge", "market"), ("ticker_surge", "ZZFAKE")]
    assert "unknown ticker NOTATICKER" in tonewatch_log.text and "unknown ticker ZZFAKE" in tonewatch_log.text
