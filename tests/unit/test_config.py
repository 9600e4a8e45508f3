"""pipeline.config: settings from the environment, their errors, and secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError


def test_defaults(settings_env):
    settings = load_settings()
    assert settings.score_batch_size == 64
    assert settings.score_languages == ["en"]
    assert settings.db_path == Path("data") / "tonewatch.duckdb"


def test_env_values_are_read(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_BATCH_SIZE", "16")
    monkeypatch.setenv("TONEWATCH_DATA_DIR", "/srv/tw")
    settings = load_settings()
    assert settings.score_batch_size == 16
    assert settings.db_path == Path("/srv/tw/tonewatch.duckdb")


def test_overrides_win_and_none_is_ignored(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_BATCH_SIZE", "16")
    assert load_settings(score_batch_size=8).score_batch_size == 8
    assert load_settings(score_batch_size=None).score_batch_size == 16


def test_dotenv_file_in_working_directory(settings_env):
    (settings_env / ".env").write_text("TONEWATCH_MAX_LENGTH=256\n", encoding="utf-8")
    assert load_settings().max_length == 256


def test_non_integer_batch_size_names_the_variable(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_BATCH_SIZE", "abc")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "TONEWATCH_SCORE_BATCH_SIZE" in str(info.value)
    assert "abc" in str(info.value)


def test_out_of_range_value_names_the_variable(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SMTP_PORT", "70000")
    with pytest.raises(ConfigError, match="TONEWATCH_SMTP_PORT"):
        load_settings()


def test_languages_as_json_list(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_LANGUAGES", '["en", "de"]')
    assert load_settings().score_languages == ["en", "de"]


def test_languages_comma_separated_override(settings_env):
    assert load_settings(score_languages="en, de").score_languages == ["en", "de"]


def test_languages_comma_separated_env(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_LANGUAGES", "en,de")
    assert load_settings().score_languages == ["en", "de"]


def test_smtp_to_comma_separated_env(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SMTP_TO", "ops@example.com,risk@example.com")
    assert load_settings().smtp_to == ["ops@example.com", "risk@example.com"]


def test_malformed_list_env_is_config_error(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SCORE_LANGUAGES", "[en")
    with pytest.raises(ConfigError, match="TONEWATCH_SCORE_LANGUAGES"):
        load_settings()


def test_secrets_are_not_in_repr(settings_env, monkeypatch):
    monkeypatch.setenv("TONEWATCH_SMTP_PASSWORD", "hunter2-very-secret")
    settings = load_settings(slack_webhook_url="https://hooks.slack.com/services/T0/B0/XYZsecret")
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2-very-secret" not in text
        assert "XYZsecret" not in text
    # ... yet the values are there for the code that needs them.
    assert settings.smtp_password.get_secret_value() == "hunter2-very-secret"
    assert settings.slack_webhook_url.get_secret_value().endswith("XYZsecret")


@pytest.mark.parametrize("name, value, message", [
    ("TONEWATCH_SCORE_LANGUAGES", "klingon", "not ISO 639-1"),
    ("TONEWATCH_DASHBOARD_URL", "notaurl", "not an http(s) URL"),
    ("TONEWATCH_SLACK_WEBHOOK_URL", "hooks.example/T000-secret-token", "is a secret"),
])
def test_url_and_language_settings_are_checked_at_load(monkeypatch, name, value, message):
    from pipeline.config import load_settings
    from pipeline.errors import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings()
    assert name in str(caught.value)
    if "SLACK" in name:
        assert "secret-token" not in str(caught.value)  # a secret is never echoed


def test_language_codes_are_normalised(monkeypatch):
    from pipeline.config import load_settings

    monkeypatch.setenv("TONEWATCH_SCORE_LANGUAGES", "en, DE")
    assert load_settings().score_languages == ["en", "de"]
