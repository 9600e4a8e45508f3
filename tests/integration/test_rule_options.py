"""Alert-rule options on a synthetic scored history: topic scope, seasonal baselines, mean-score
metric and notification grouping, through the library's detect and notify stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from pipeline.alerting.dispatch import group_key, render_group
from pipeline.config import load_settings
from pipeline.detection.rules import AlertRule
from pipeline.detection.topics import Topic, load_topics, phrase_pattern
from pipeline.alerting.stage import rule_decisions
from pipeline.detection.windows import baseline_intervals
from pipeline.domain import Window
from pipeline.errors import ConfigError
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.run import detect
from tests.seeding import store_articles
from pipeline.storage.db import connect
from pipeline.storage.scores import score_rows, upsert_scores
from tests.conftest import query

AT = datetime(2026, 3, 6, tzinfo=UTC)
NEG, NEU, POS = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]


def _store(db, items: list[tuple[datetime, str, list[float], list[str]]]) -> None:
    """Store ``(published_at, title, probabilities, tickers)`` items, each its own story."""
    rows = []
    for i, (when, title, _, tickers) in enumerate(items):
        rows.append({c: None for c in ARTICLE_COLUMNS} | {
            "article_id": f"a{i}", "feed_id": "wire", "title": title, "text": title,
            "published_at": when, "date_quality": "exact", "first_seen_at": when,
            "fetched_at": when, "content_hash": f"h{i}", "story_id": f"s{i}", "tickers": tickers})
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS)
    with connect(db) as con:
        store_articles(con, frame)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      [p for *_, p, _ in items], "synthetic-1", AT))


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data")


# --- topics -------------------------------------------------------------------------------


def test_phrase_pattern_words_wildcards_and_case():
    topic = Topic("layoffs", phrase_pattern(["job cuts", "layoff*", "S&P"]))
    assert topic.matches("Acme announces JOB   CUTS in Ohio")
    assert topic.matches("Layoffs hit the plant")
    assert topic.matches("S&P lowers outlook")
    assert not topic.matches("jobcuts")          # word boundaries
    assert not topic.matches("Playoffs start tonight")  # no match inside a word
    # Phrases starting or ending with punctuation still match (no \b next to a non-word char).
    punctuated = Topic("us", phrase_pattern(["U.S.", "(Reuters)"]))
    assert punctuated.matches("the U.S. economy") and punctuated.matches("NEW YORK (Reuters) -")
    assert not punctuated.matches("US economy")


def test_topic_patterns_run_the_same_in_duckdb():
    # DuckDB uses RE2, not Python's re: every shipped topic must compile and agree there.
    topics = load_topics(__import__("pathlib").Path("config/topics.yaml"))
    texts = ["Fed signals rate hikes as inflation cools", "Acme to cut jobs after data breach",
             "S&P Global Ratings downgrades Brlx to junk", "Quiet day"]
    con = duckdb.connect()
    for topic in topics:
        for text in texts:
            (hit,) = con.execute("SELECT regexp_matches(?, ?)", [text, topic.pattern]).fetchone()
            assert hit == topic.matches(text), (topic.name, text)
    assert {t.name for t in topics if t.matches(texts[0])} >= {"central_banks", "macro"}


def test_bad_topics_file_is_one_config_error(tmp_path):
    path = tmp_path / "topics.yaml"
    path.write_text("topics:\n  'bad name!': [x]\n")
    with pytest.raises(ConfigError, match="bad name"):
        load_topics(path)
    path.write_text("topics:\n  empty: []\n")
    with pytest.raises(ConfigError, match="at least one phrase"):
        load_topics(path)
    path.write_text("topics:\n  everything: ['*']\n")
    with pytest.raises(ConfigError, match="no letter or digit"):
        load_topics(path)


def test_topic_scope_fires_for_the_topic_that_surged(settings, tmp_path):
    items = []
    for day in range(28, 0, -1):  # calm history: one layoff story and five others a day
        base = AT - timedelta(days=day)
        items.append((base + timedelta(hours=1), f"Acme layoffs talk day {day}", NEU, []))
        items += [(base + timedelta(hours=2 + i), f"Quarterly results {day} {i}", NEU if i else NEG, [])
                  for i in range(5)]
    items += [(AT - timedelta(hours=10 - i), f"Brlx job cuts widen, plant {i} closes", NEG, [])
              for i in range(8)]
    _store(settings.db_path, items)
    topics_file = tmp_path / "topics.yaml"
    topics_file.write_text("topics:\n  layoffs: [layoff*, job cuts]\n  earnings: [quarterly results]\n")
    settings = settings.model_copy(update={"topics_file": topics_file})
    rule = AlertRule(name="topic_surge", scope="topic", min_articles=5, min_negative=3)
    result = detect(settings, at=AT, rules=[rule])
    assert result.counts["firing"] == 1, result.messages
    assert query(settings.db_path, "SELECT entity FROM alerts WHERE state = 'firing'") == [("layoffs",)]


def test_topic_rule_without_topics_is_a_config_error(settings):
    _store(settings.db_path, [(AT - timedelta(hours=1), "x", NEG, [])])
    rule = AlertRule(name="t", scope="topic")
    with connect(settings.db_path, read_only=True) as con, pytest.raises(ConfigError, match="topics"):
        rule_decisions(con, rule, at=AT, model_version="synthetic-1", topics=[])


# --- seasonality --------------------------------------------------------------------------


def test_baseline_intervals_trailing_and_seasonal():
    hourly = AlertRule(name="h", scope="market", window="1h", baseline="2d")
    trailing = baseline_intervals(hourly, hourly.window_at(AT))
    assert len(trailing) == 48
    assert trailing[0] == Window(AT - timedelta(hours=2), AT - timedelta(hours=1))
    weekly = AlertRule(name="w", scope="market", window="1h", baseline="28d",
                       seasonality="hour_of_week")
    same_hour = baseline_intervals(weekly, weekly.window_at(AT))
    assert same_hour == [Window(AT - timedelta(hours=1, days=7 * j), AT - timedelta(days=7 * j))
                         for j in range(1, 5)]


@pytest.mark.parametrize("kw, message", [
    ({"window": "2d", "seasonality": "hour_of_day"}, "at most 1 day"),
    ({"window": "1h", "baseline": "10d", "seasonality": "hour_of_week"}, "at least two periods"),
    ({"group_by": ["colour"]}, "group_by"),
])
def test_rule_option_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        AlertRule(name="r", scope="market", **kw)


def test_hour_of_week_baseline_expects_the_busy_hour(settings):
    # Every Friday 09:00-10:00 brings 6 negative stories of 10 (an earnings call slot); other
    # hours 1 of 10. The trailing baseline calls this Friday's hour a surge; the same-hour-of-
    # week baseline knows Fridays at 09:00 look like this.
    at = datetime(2026, 3, 6, 10, tzinfo=UTC)  # a Friday, 10:00 UTC
    items = []
    for day in range(28, -1, -1):
        for hour in (3, 9, 15):
            start = at - timedelta(days=day, hours=10 - hour)
            if start >= at:
                continue
            busy = hour == 9 and (start.weekday() == 4)
            for i in range(10):
                items.append((start + timedelta(minutes=5 * i), f"item {day} {hour} {i}",
                              NEG if i < (6 if busy else 1) else NEU, []))
    _store(settings.db_path, items)
    trailing = AlertRule(name="trailing", scope="market", window="1h", baseline="28d",
                         min_articles=5, min_negative=3)
    seasonal = trailing.model_copy(update={"name": "seasonal", "seasonality": "hour_of_week"})
    with connect(settings.db_path, read_only=True) as con:
        (t,) = rule_decisions(con, trailing, at=at, model_version="synthetic-1")
        (s,) = rule_decisions(con, seasonal, at=at, model_version="synthetic-1")
    assert (t.n_stories, t.n_negative) == (s.n_stories, s.n_negative) == (10, 6)
    assert t.status == "firing" and s.status == "calm"
    assert s.baseline_stories == 40 and s.expected > 0.4


# --- mean score ---------------------------------------------------------------------------


def test_mean_score_rule_fires_when_tone_sours_without_many_negatives(settings):
    # Baseline: positive-leaning coverage (score ~ +0.7). Window: the same volume turns
    # neutral-to-negative: only 3 of 12 stories are outright negative (a 25% share, under the
    # share rule's lift), but the mean score falls by more than a point.
    items = []
    for day in range(29, 1, -1):  # the 28 days before the window [AT - 1d, AT)
        base = AT - timedelta(days=day)
        items += [(base + timedelta(hours=1 + i), f"d{day} {i}", POS if i % 4 else NEU, ["ACME"])
                  for i in range(8)]
    items += [(AT - timedelta(hours=12 - i), f"w {i}", NEG if i < 3 else NEU, ["ACME"])
              for i in range(12)]
    _store(settings.db_path, items)
    mean_rule = AlertRule(name="tone", scope="ticker", metric="mean_score", min_articles=5,
                          min_negative=3, min_drop=0.3)
    with connect(settings.db_path, read_only=True) as con:
        (d,) = rule_decisions(con, mean_rule, at=AT, model_version="synthetic-1")
        (strict,) = rule_decisions(con, mean_rule.model_copy(update={"min_drop": 1.5}), at=AT,
                                   model_version="synthetic-1")
    assert d.status == "firing" and d.p_value < 1e-4
    assert (d.n_stories, d.baseline_stories) == (12, 224)
    assert d.observed == pytest.approx((3 * -0.7 + 9 * 0.0) / 12)
    assert d.expected == pytest.approx((6 * 0.7 + 2 * 0.0) / 8)
    assert strict.status == "calm"  # significant, but smaller than the required drop


# --- group_by -----------------------------------------------------------------------------


def _row(entity, rule="r", severity="warning", group_by=None):
    return {"receiver": "console", "kind": "firing", "window_end": AT, "rule": rule,
            "scope": "ticker", "entity": entity, "severity": severity,
            "idempotency_key": f"k-{rule}-{entity}", "window_start": AT - timedelta(days=1),
            "observed": 0.5, "expected": 0.1, "p_value": 0.001, "q_value": 0.002,
            "n_stories": 10, "n_negative": 5, "baseline_stories": 100,
            "explanation": {"group_by": group_by} if group_by else {}}


def test_group_by_default_rule_and_every_label():
    default = [_row("A"), _row("B"), _row("C", rule="other")]
    assert len({group_key(r) for r in default}) == 2
    apart = [_row("A", group_by=["..."]), _row("B", group_by=["..."])]
    assert len({group_key(r) for r in apart}) == 2
    by_severity = [_row("A", group_by=["severity"]), _row("B", rule="other", group_by=["severity"]),
                   _row("C", severity="critical", group_by=["severity"])]
    assert len({group_key(r) for r in by_severity}) == 2


def test_grouped_message_names_every_rule_and_the_worst_severity():
    message = render_group([_row("A", group_by=["scope"]),
                            _row("B", rule="other", severity="critical", group_by=["scope"])])
    assert message.subject.startswith("[CRITICAL]")
    assert "other, r" in message.subject and "A, B" in message.subject


def test_seasonal_count_catches_a_night_surge_the_trailing_count_misses(settings):
    # Days bring 10 stories an hour (4 negative) from 08:00 to 18:00, nights 1 calm story an
    # hour. Four negative stories at 03:00 are ordinary for a day hour, extraordinary at night.
    at = datetime(2026, 3, 6, 4, tzinfo=UTC)
    items = []
    for hour_back in range(29 * 24, 0, -1):
        start = at - timedelta(hours=hour_back)
        day = 8 <= start.hour < 18
        for i in range(10 if day else 1):
            items.append((start + timedelta(minutes=5 * i), f"h{hour_back} {i}",
                          NEG if day and i < 4 else NEU, []))
    items = [it for it in items if it[0] < at - timedelta(hours=1)]
    items += [(at - timedelta(minutes=50 - 10 * i), f"night {i}", NEG, []) for i in range(4)]
    _store(settings.db_path, items)
    trailing = AlertRule(name="trailing", scope="market", window="1h", baseline="28d",
                         metric="negative_count", min_articles=3, min_negative=3)
    seasonal = trailing.model_copy(update={"name": "seasonal", "seasonality": "hour_of_day"})
    with connect(settings.db_path, read_only=True) as con:
        (t,) = rule_decisions(con, trailing, at=at, model_version="synthetic-1")
        (s,) = rule_decisions(con, seasonal, at=at, model_version="synthetic-1")
    assert t.n_negative == s.n_negative == 4
    assert t.status == "calm" and t.expected == pytest.approx(40 * 28 / 672, rel=0.05)
    # Negatives are expected in proportion to the market's volume in the slot: 1 night story
    # an hour times the level 1,120 negatives / 3,192 stories.
    assert s.status == "firing" and s.expected == pytest.approx(1120 / 3192, rel=0.05)
