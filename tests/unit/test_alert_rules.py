"""Alert rule configuration: durations and the rules file (pipeline.detection.rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.detection.rules import load_rules, parse_duration
from pipeline.errors import ConfigError

# --- parse_duration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1d", timedelta(days=1)), ("6h", timedelta(hours=6)), ("30min", timedelta(minutes=30)),
     ("2w", timedelta(weeks=2)), (90, timedelta(seconds=90))],
)
def test_parse_duration(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["soon", "1 fortnight", "none"])
def test_parse_duration_invalid(value):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["", "nan", "NaT"])
def test_parse_duration_empty_or_nat_is_value_error(value):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


def test_load_rules_empty_duration_is_config_error(tmp_path):
    path = tmp_path / "alert_rules.yaml"
    path.write_text('rules:\n  - name: r\n    scope: ticker\n    window: ""\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="window"):
        load_rules(path)


@pytest.mark.parametrize("value", ["1d", "2w"])
def test_parse_duration_documented_units_are_not_deprecated(value):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_duration(value)


@pytest.mark.parametrize("value", ["0d", "0s", "-1h"])
def test_parse_duration_not_positive(value):
    with pytest.raises(ValueError, match="positive"):
        parse_duration(value)


# --- load_rules ---------------------------------------------------------------------------

GOOD_RULES = """
rules:
  - name: ticker_negative_surge
    scope: ticker
    window: 1d
    baseline: 28d
    min_articles: 5
    min_negative: 3
    min_lift: 1.5
    significance: 0.01
    severity: warning
    cooldown: 6h
    receivers: [default, slack]
  - name: market_tone
    scope: market
"""


def write_rules(tmp_path, text):
    path = tmp_path / "alert_rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_rules_good_file(tmp_path):
    rules = load_rules(write_rules(tmp_path, GOOD_RULES))
    assert [r.name for r in rules] == ["ticker_negative_surge", "market_tone"]
    first = rules[0]
    assert (first.window, first.baseline, first.cooldown) == (
        timedelta(days=1), timedelta(days=28), timedelta(hours=6))
    assert first.receivers == ["default", "slack"]
    defaults = rules[1]
    assert (defaults.min_articles, defaults.significance, defaults.receivers) == (5, 0.01, ["default"])


def test_load_rules_unknown_key(tmp_path):
    path = write_rules(tmp_path, "rules:\n  - name: r\n    scope: ticker\n    treshold: 3\n")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(path) in str(info.value) and "treshold" in str(info.value)


def test_load_rules_baseline_shorter_than_window(tmp_path):
    path = write_rules(tmp_path, "rules:\n  - name: r\n    scope: ticker\n    window: 7d\n"
                                 "    baseline: 1d\n")
    with pytest.raises(ConfigError, match="baseline must be at least as long as window"):
        load_rules(path)


def test_load_rules_duplicate_names(tmp_path):
    path = write_rules(tmp_path, "rules:\n  - name: r\n    scope: ticker\n"
                                 "  - name: r\n    scope: market\n")
    with pytest.raises(ConfigError, match="duplicate rule names"):
        load_rules(path)


def test_load_rules_bad_duration_and_scope(tmp_path):
    with pytest.raises(ConfigError, match="window"):
        load_rules(write_rules(tmp_path, "rules:\n  - name: r\n    scope: ticker\n    window: soon\n"))
    with pytest.raises(ConfigError, match="scope"):
        load_rules(write_rules(tmp_path, "rules:\n  - name: r\n    scope: planet\n"))


def test_load_rules_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rules(tmp_path / "absent.yaml")
