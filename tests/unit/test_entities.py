"""pipeline.ingest.entities: cashtags, exchange prefixes and company names → tickers."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.ingest.entities import EntityIndex


@pytest.fixture
def index(tmp_path) -> EntityIndex:
    path = tmp_path / "entities.yaml"
    path.write_text("companies:\n  Apple: aapl\n  Acme Robotics: ACME\n  Acme: ACMX\n",
                    encoding="utf-8")
    return EntityIndex.load(path)


def test_cashtags():
    found = EntityIndex.empty().tickers_in("$ACME and $BRK.B rally; $acme is not a ticker")
    assert found == ["ACME", "BRK.B"]


def test_cashtag_needs_a_clean_start():
    # A dollar amount or a currency prefix is not a cashtag.
    assert EntityIndex.empty().tickers_in("Revenue of $5 million, US$ACME") == []


def test_exchange_prefixes():
    text = "Acme (NASDAQ: ACME) and Globex (NYSE:GLBX) and Vodafone (LSE: VOD)"
    assert EntityIndex.empty().tickers_in(text) == ["ACME", "GLBX", "VOD"]


def test_names_from_yaml_upper_cases_tickers(index):
    assert index.names["Apple"] == "AAPL"
    assert index.tickers_in("Apple shares rise after results") == ["AAPL"]


def test_names_are_case_sensitive_whole_words(index):
    assert index.tickers_in("Grandma's apple pie wins a prize") == []
    assert index.tickers_in("Pineapple prices soar") == []
    assert index.tickers_in("AppleCare plans repriced") == []


def test_longest_name_wins_and_results_are_deduplicated(index):
    assert index.tickers_in("Acme Robotics beats; $ACME up") == ["ACME"]
    assert index.tickers_in("Acme Corp rallies") == ["ACMX"]


def test_missing_file_is_empty(tmp_path):
    assert EntityIndex.load(tmp_path / "absent.yaml").names == {}


@pytest.mark.parametrize(
    "content",
    [
        "companies:\n  - Apple\n  - Acme\n",  # a list, not a mapping
        "companies:\n  Apple: 123\n",  # ticker not a string
        "- just\n- a list\n",
    ],
)
def test_wrong_shape_is_config_error(tmp_path, content):
    path = tmp_path / "entities.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="companies"):
        EntityIndex.load(path)


def test_invalid_yaml_is_config_error(tmp_path):
    path = tmp_path / "entities.yaml"
    path.write_text("companies:\n  Apple: [AAPL\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        EntityIndex.load(path)
    assert str(path) in str(info.value)
