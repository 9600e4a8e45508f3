"""Bad input through the CLI: one clear line naming the culprit, right exit code, no data lost."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import FIXTURE_FEEDS, cli, query

GOOD = str(FIXTURE_FEEDS / "regulator_atom.xml")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("tonewatch: error:")]


@pytest.fixture
def stored(env, tmp_path):
    """A data dir with the good feed ingested once; returns (env, db path, article count)."""
    db = tmp_path / "data" / "tonewatch.duckdb"
    assert cli(env, "ingest", "--no-config", GOOD).returncode == 0
    return env, db, query(db, "SELECT count(*) FROM articles")[0][0]


def test_missing_file_and_dead_url_are_recorded_and_the_rest_is_ingested(stored):
    env, db, n = stored
    url = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    result = cli(env, "ingest", "--no-config", GOOD, "/nonexistent/feed.xml", url,
                 str(FIXTURE_FEEDS / "truncated.xml"))
    assert result.returncode == 0, result.stderr  # something could be done
    assert "file not found: /nonexistent/feed.xml" in result.stderr
    assert url in result.stderr
    assert "truncated.xml: malformed XML" in result.stderr
    assert "Traceback" not in result.stderr
    status = dict(query(db, "SELECT url, last_status FROM feeds"))
    assert status["/nonexistent/feed.xml"] == "fetch_failed"
    assert status[url] == "fetch_failed"
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n


def test_every_feed_failing_exits_nonzero_and_keeps_data(stored):
    env, db, n = stored
    result = cli(env, "ingest", "--no-config", "/nonexistent/a.xml", str(FIXTURE_FEEDS / "news_sitemap.xml"))
    assert result.returncode == 1
    assert _error_lines(result.stderr) == ["tonewatch: error: all 2 sources failed; see `tonewatch feeds`"]
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n
    failures = dict(query(db, "SELECT url, consecutive_failures FROM feeds"))
    assert failures["/nonexistent/a.xml"] == 1


def test_invalid_setting_names_the_variable(env):
    env = dict(env, TONEWATCH_SCORE_BATCH_SIZE="lots")
    result = cli(env, "ingest", "--no-config", GOOD)
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert "TONEWATCH_SCORE_BATCH_SIZE" in line and "Traceback" not in result.stderr


def test_invalid_rules_file_names_file_and_field(stored, tmp_path):
    env, db, _ = stored
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: r1\n    scope: galaxy\n", encoding="utf-8")
    result = cli(dict(env, TONEWATCH_ALERT_RULES_FILE=str(rules)), "detect")
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert str(rules) in line and "scope" in line


def test_unwritable_data_dir_is_one_line(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli(dict(env, TONEWATCH_DATA_DIR=str(blocker / "data")), "ingest", "--no-config", GOOD)
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert "cannot create data directory" in line and str(blocker) in line


def test_missing_model_is_one_line_and_articles_survive(stored, tmp_path):
    env, db, n = stored
    result = cli(dict(env, TONEWATCH_MODEL_REGISTRY=str(tmp_path / "empty-registry")), "score")
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert "no production model" in line
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n


def test_hub_model_offline_is_a_clear_error(stored):
    env, _, _ = stored
    result = cli(env, "score", "--model", "ProsusAI/finbert")
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert "ProsusAI/finbert" in line and "Traceback" not in result.stderr
    assert "--model DIR" in line  # says how to use a local copy instead


def test_bad_at_value(env):
    result = cli(env, "detect", "--at", "yesterday-ish")
    assert result.returncode == 1
    assert _error_lines(result.stderr) == ["tonewatch: error: --at 'yesterday-ish' is not an ISO-8601 date or date-time"]
    result = cli(env, "detect", "--at", "0001-01-01")
    assert _error_lines(result.stderr) == [
        "tonewatch: error: --at '0001-01-01' is out of range (years 1970 to 2199)"]


def test_glob_matching_nothing_is_an_error(env):
    result = cli(env, "run", "--no-config", "--feeds", "/nonexistent/dir/*.xml")
    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        "tonewatch: error: no feeds to ingest: /nonexistent/dir/*.xml: no file matches this pattern"]


def test_unknown_receiver_in_rules_is_a_config_error(stored, tmp_path):
    env, _, _ = stored
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: r1\n    scope: market\n    receivers: [pager]\n",
                     encoding="utf-8")
    result = cli(dict(env, TONEWATCH_ALERT_RULES_FILE=str(rules)), "detect")
    assert result.returncode == 1
    (line,) = _error_lines(result.stderr)
    assert "unknown receiver" in line and "pager" in line


def test_oversized_local_file_is_refused(stored, tmp_path):
    env, db, n = stored
    from pathlib import Path

    limit = Path(GOOD).stat().st_size + 100
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss version='2.0'><channel>" + b" " * limit + b"</channel></rss>")
    result = cli(dict(env, TONEWATCH_HTTP_MAX_BYTES=str(limit)), "ingest", "--no-config", GOOD, str(big))
    assert result.returncode == 0, result.stderr
    assert f"exceeds the {limit} byte limit" in result.stderr
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n


def test_feeds_table_and_version(stored):
    env, _, _ = stored
    result = cli(env, "feeds")
    assert result.returncode == 0, result.stderr
    assert "Example Securities Commission" in result.stdout and "ok" in result.stdout
    version = cli(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("tonewatch ")


def test_an_unexpected_error_in_one_feed_spares_the_others(tmp_path, monkeypatch):
    """A bug or unforeseen input while normalising one feed is recorded on that feed only."""
    from datetime import UTC, datetime

    import pipeline.ingest.normalize as normalize
    from pipeline.config import load_settings
    from pipeline.run import ingest

    real = normalize.normalize_entries

    def flaky(parsed, source, **kwargs):
        if source.url.endswith("central_bank.rss"):
            raise KeyError("surprise")
        return real(parsed, source, **kwargs)

    monkeypatch.setattr(normalize, "normalize_entries", flaky)
    settings = load_settings(data_dir=tmp_path / "data")
    result = ingest(settings, at=datetime(2026, 3, 6, tzinfo=UTC), use_config=False,
                    extra_sources=[GOOD, str(FIXTURE_FEEDS / "central_bank.rss")])
    assert result.status == "partial"
    assert result.counts["feeds_ok"] == 1 and result.counts["feeds_failed"] == 1
    rows = dict(query(settings.db_path, "SELECT url, last_status || ' ' || error_class FROM feeds"))
    bank = next(v for k, v in rows.items() if k.endswith("central_bank.rss"))
    assert bank == "parse_error KeyError"
    assert query(settings.db_path, "SELECT count(*) FROM articles")[0][0] > 0


def test_unknown_backend_flag_names_the_flag(env):
    result = cli(env, "score", "--backend", "tf")
    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        "tonewatch: error: --backend 'tf': use one of auto, torch, onnx-int8, onnx-fp32"]


def test_bad_detect_ranges_and_durations_are_one_line(stored, tmp_path):
    env, db, n = stored
    cases = [
        (["detect", "--backfill", "--since", "2026-03-10", "--at", "2026-03-01"],
         "tonewatch: error: --since '2026-03-10' is after --at (2026-03-01 00:00 UTC): "
         "no window to replay"),
        (["detect", "--since", "2026-03-01", "--at", "2026-03-06"],
         "tonewatch: error: --since needs --backfill (a single run evaluates the windows ending "
         "at --at)"),
        (["detect", "--at", "1970-01-01T00:00+05:00"],
         "tonewatch: error: --at '1970-01-01T00:00+05:00' is out of range (years 1970 to 2199)"),
        (["silence", "add", "--match", "entity=ACME", "--comment", "c",
          "--duration", "1000000w"],
         "tonewatch: error: --duration '1000000w' ends after the year 2199"),
    ]
    for args, expected in cases:
        result = cli(env, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert _error_lines(result.stderr) == [expected], args
    rules = tmp_path / "latin1_rules.yaml"
    rules.write_bytes("rules:\n  # café\n  - name: x\n".encode("latin-1"))
    result = cli({**env, "TONEWATCH_ALERT_RULES_FILE": str(rules)}, "detect")
    assert _error_lines(result.stderr) == [
        f"tonewatch: error: {rules} line 2: not UTF-8 (byte 0xe9); save the file as UTF-8"]
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n  # nothing lost
