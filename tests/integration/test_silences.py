"""Silences and inhibition on a synthetic scored history, through the library and the CLI."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pipeline.alerting.silences import Matcher, inhibited, parse_matcher, silenced_by
from pipeline.config import load_settings
from pipeline.detection.rules import AlertRule
from pipeline.errors import ConfigError
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.run import detect
from tests.seeding import store_articles
from pipeline.storage.db import connect
from pipeline.storage.scores import score_rows, upsert_scores
from pipeline.storage.silences import add_silence
from tests.conftest import cli, query

AT = datetime(2026, 3, 6, tzinfo=UTC)
RULES = [AlertRule(name="market", scope="market", min_articles=10, min_negative=5, severity="critical"),
         AlertRule(name="ticker", scope="ticker", min_articles=4, min_negative=3)]


def _history(db) -> None:
    """28 calm days (1 negative in 6 stories a day), then a day where ACME and the market turn."""
    rows, probs = [], []
    for day in range(29, 0, -1):
        surge = day == 1
        for i in range(12 if surge else 6):
            negative = (i < 9) if surge else (i == 0)
            when = AT - timedelta(days=day) + timedelta(hours=1 + i)
            rows.append({c: None for c in ARTICLE_COLUMNS} | {
                "article_id": f"a{day}-{i}", "feed_id": "f", "title": f"item {day} {i}",
                "text": f"item {day} {i}", "published_at": when, "date_quality": "exact",
                "first_seen_at": when, "fetched_at": when, "content_hash": f"h{day}-{i}",
                "story_id": f"s{day}-{i}", "tickers": ["ACME"] if i % 2 == 0 else ["BRLX"]})
            probs.append([0.8, 0.1, 0.1] if negative else [0.1, 0.8, 0.1])
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS)
    with connect(db) as con:
        store_articles(con, frame)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      probs, "synthetic-1", AT))


@pytest.fixture
def settings(tmp_path):
    s = load_settings(data_dir=tmp_path / "data")
    _history(s.db_path)
    return s


def test_market_surge_inhibits_ticker_notifications(settings):
    result = detect(settings, at=AT, rules=RULES)
    assert result.counts["firing"] >= 2 and result.counts["inhibited"] >= 1
    fired = dict(query(settings.db_path, "SELECT scope || ':' || entity, explanation->>'inhibited_by'"
                                         " FROM alerts"))
    assert fired["market:market"] is None
    tickers = {k: v for k, v in fired.items() if k.startswith("ticker:")}
    assert tickers and set(tickers.values()) == {"market"}
    notified = query(settings.db_path, "SELECT DISTINCT a.scope FROM notifications n"
                                       " JOIN alerts a USING (alert_id)")
    assert notified == [("market",)]


def test_silence_mutes_matching_alerts_only_while_active_and_is_audited(settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env["TONEWATCH_DATA_DIR"] = str(settings.data_dir)
    # A silence over the synthetic day (in the past now, so the CLI refuses it since tester
    # finding 10: stored directly; the policy is tested in test_access).
    with connect(settings.db_path) as con:
        silence_id = add_silence(con, [Matcher("scope", "=", "market")],
                                 starts_at=AT - timedelta(days=1), ends_at=AT + timedelta(days=6),
                                 author="ops", comment="known macro day", now=AT)
    result = detect(settings, at=AT, rules=RULES[:1])
    assert result.counts["silenced"] == 1 and result.counts["queued"] == 0
    assert query(settings.db_path, "SELECT explanation->>'silenced_by' FROM alerts") == [(silence_id,)]

    # No user file: the OS user is the author (and, owning the database, may silence a scope).
    # One starting now can be expired early, with who and why kept.
    current = cli(env, "silence", "add", "--match", "scope=market", "--comment", "noisy feed")
    assert current.returncode == 0, current.stderr
    current_id = current.stdout.split()[1].rstrip(":")
    author = getpass.getuser()
    assert current.stdout.rstrip().endswith(f"by {author}")
    listing = cli(env, "silence", "list", "--all")
    assert current_id in listing.stdout and "scope=market" in listing.stdout and author in listing.stdout
    expired = cli(env, "silence", "expire", current_id, "--comment", "feed fixed")
    assert expired.returncode == 0, expired.stderr
    assert query(settings.db_path, "SELECT silence_id, expired_by, expiry_comment FROM silences"
                                   " WHERE expired_at IS NOT NULL") == [
        (current_id, author, "feed fixed")]
    again = cli(env, "silence", "expire", current_id, "--comment", "again")
    assert again.returncode == 1 and "already ended" in again.stderr


def test_matchers_and_bad_input():
    labels = {"rule": "ticker_negative_surge", "scope": "ticker", "entity": "ACME", "severity": "warning"}
    assert parse_matcher("entity=ACME").matches(labels)
    assert parse_matcher("scope!=market").matches(labels)
    assert parse_matcher("rule=~ticker_.*").matches(labels)
    assert not parse_matcher("rule=~ticker").matches(labels)  # anchored at both ends
    assert parse_matcher("severity!~crit.*").matches(labels)
    silences = [{"silence_id": "s1", "matchers": [Matcher("entity", "=", "ACME"),
                                                  Matcher("severity", "=", "critical")]},
                {"silence_id": "s2", "matchers": [Matcher("entity", "=~", "AC.*")]}]
    assert silenced_by(labels, silences) == "s2"  # every matcher of a silence must match
    assert inhibited("ticker", {"market"}) and not inhibited("market", {"market", "ticker"})
    for bad in ("entity", "colour=red", "entity=~[unclosed"):
        with pytest.raises(ConfigError):
            parse_matcher(bad)


def test_silence_cli_refuses_incomplete_input(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env["TONEWATCH_DATA_DIR"] = str(tmp_path / "data")
    out = cli(env, "silence", "add", "--match", "entity=ACME", "--comment", " ")
    assert out.returncode == 1 and "comment" in out.stderr
    out = cli(env, "silence", "add", "--match", "weather=rain", "--comment", "x")
    assert out.returncode == 1 and "unknown label" in out.stderr
    out = cli(env, "silence", "add", "--match", "entity=ACME", "--comment", "x",
              "--duration", "soon")
    assert out.returncode == 1 and "--duration" in out.stderr
    out = cli(env, "silence", "add", "--match", "entity=ACME", "--comment", "x",
              "--duration", "8d")
    assert out.returncode == 1 and "at most 168 h (TONEWATCH_SILENCE_MAX_HOURS)" in out.stderr
    # A typed author name is no longer accepted.
    out = cli(env, "silence", "add", "--match", "entity=ACME", "--author", "a", "--comment", "x")
    assert out.returncode != 0 and "--author" in out.stderr
    assert not (tmp_path / "data" / "tonewatch.duckdb").exists() or query(
        tmp_path / "data" / "tonewatch.duckdb", "SELECT count(*) FROM silences") == [(0,)]


def test_cli_users_and_silence_as(tmp_path):
    """The user file from the shell, and --as checked against it (issue 24)."""
    users = tmp_path / "users.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env.update(TONEWATCH_DATA_DIR=str(tmp_path / "data"), TONEWATCH_USERS_FILE=str(users))

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env,
                              input=stdin, capture_output=True, text=True, timeout=120)

    added = run("users", "add", "rita", "--role", "responder", "--password-stdin",
                stdin="rita-responds-1\n")
    assert added.returncode == 0, added.stderr
    assert "rita-responds-1" not in users.read_text() and "$argon2id$" in users.read_text()
    listing = run("users", "list")
    assert "rita" in listing.stdout and "responder" in listing.stdout
    assert "argon2" not in listing.stdout
    refused = run("silence", "add", "--match", "scope=ticker", "--match", "entity=ACME",
                  "--comment", "x", "--as", "mallory")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"tonewatch: error: --as 'mallory': no such user in {users} "
                                      "(see `tonewatch users list`)")
    as_rita = ("--as", "rita", "--password-stdin")
    broad = run("silence", "add", "--match", "scope=market", "--comment", "x", *as_rita,
                stdin="rita-responds-1\n")
    assert broad.returncode == 1 and "needs admin" in broad.stderr
    ok = run("silence", "add", "--match", "scope=ticker", "--match", "entity=ACME",
             "--comment", "recall", *as_rita, stdin="rita-responds-1\n")
    assert ok.returncode == 0, ok.stderr
    # --as needs rita's password and keeps the shell account on record (changed deliberately:
    # tester finding 4).
    assert query(tmp_path / "data" / "tonewatch.duckdb", "SELECT author FROM silences") == [
        (f"rita (os user {getpass.getuser()})",)]
    role = run("users", "set-role", "rita", "root")
    assert role.returncode == 1 and "unknown role 'root'" in role.stderr


def test_dashboard_refuses_a_network_address_without_sign_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    env["TONEWATCH_DATA_DIR"] = str(tmp_path / "data")
    out = cli(env, "dashboard", "--address", "0.0.0.0", "--port", "1")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "tonewatch: error: refusing to serve the dashboard on 0.0.0.0 without sign-in: add "
        "users with `tonewatch users add NAME --role admin` and set TONEWATCH_USERS_FILE (or "
        "configure OIDC in the secrets file named by TONEWATCH_DASHBOARD_SECRETS_FILE), or "
        "serve on 127.0.0.1"]


def test_cooldown_holds_across_runs_and_a_replay_queues_nothing_twice(settings):
    rule = [AlertRule(name="market", scope="market", min_articles=10, min_negative=5,
                      window=timedelta(days=1), cooldown=timedelta(hours=1))]
    first = detect(settings, at=AT, rules=rule)
    assert first.counts["firing"] == 1 and first.counts["queued"] == 1
    # Half an hour later the same surge is still in the window: within the cooldown, no message.
    later = detect(settings, at=AT + timedelta(minutes=30), rules=rule)
    assert later.counts["firing"] == 1 and later.counts["queued"] == 0
    # Replaying the first instant (as `--at` does) finds the same alert and queues nothing new.
    replay = detect(settings, at=AT, rules=rule)
    assert replay.counts["queued"] == 0
    assert query(settings.db_path, "SELECT count(*) FROM notifications") == [(1,)]
    # After the cooldown the still-firing surge (new window) notifies again.
    after = detect(settings, at=AT + timedelta(hours=2), rules=rule)
    assert after.counts["firing"] == 1 and after.counts["queued"] == 1


def test_resolved_message_goes_to_receivers_that_were_told(settings, capsys):
    from pipeline.run import notify

    rule = [AlertRule(name="market", scope="market", min_articles=10, min_negative=5)]
    assert detect(settings, at=AT, rules=rule).counts["queued"] == 1
    assert notify(settings, at=AT).counts["sent"] == 1
    # A calm next day: 12 stories, 2 negative.
    rows, probs = [], []
    for i in range(12):
        when = AT + timedelta(hours=1 + i)
        rows.append({c: None for c in ARTICLE_COLUMNS} | {
            "article_id": f"calm-{i}", "feed_id": "f", "title": f"calm {i}", "text": f"calm {i}",
            "published_at": when, "date_quality": "exact", "first_seen_at": when, "fetched_at": when,
            "content_hash": f"c{i}", "story_id": f"calm-{i}", "tickers": []})
        probs.append([0.8, 0.1, 0.1] if i < 2 else [0.1, 0.8, 0.1])
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS)
    with connect(settings.db_path) as con:
        store_articles(con, frame)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      probs, "synthetic-1", AT))
    calm = detect(settings, at=AT + timedelta(days=1), rules=rule)
    assert calm.counts["resolved"] == 1 and calm.counts["queued"] == 1
    capsys.readouterr()
    assert notify(settings, at=AT + timedelta(days=1)).counts["sent"] == 1
    assert "[RESOLVED] negative surge: market" in capsys.readouterr().out
    kinds = query(settings.db_path, "SELECT kind, status FROM notifications ORDER BY created_at")
    assert kinds == [("firing", "sent"), ("resolved", "sent")]
    # Evaluating the calm day again announces nothing more.
    assert detect(settings, at=AT + timedelta(days=1), rules=rule).counts["queued"] == 0


def test_negative_count_rule_over_stored_history(settings, capsys):
    from pipeline.run import notify

    rule = [AlertRule(name="volume", scope="ticker", metric="negative_count", min_articles=4,
                      min_negative=3)]
    result = detect(settings, at=AT, rules=rule)
    fired = {d.split()[2]: d for d in result.messages if d.startswith("FIRING")}
    # ACME had one negative story a day for 28 days, then five in the surge day.
    assert "ticker=ACME" in fired and "expected per window" in fired["ticker=ACME"]
    (observed, expected), = query(settings.db_path, "SELECT observed, expected FROM alerts"
                                                    " WHERE entity = 'ACME'")
    assert observed == 5 and expected == pytest.approx((28 + 0.5) / 29)
    notify(settings, at=AT)
    assert "expected per window from a 28-day baseline" in capsys.readouterr().out


def test_for_windows_keeps_a_surge_pending_until_it_holds(settings):
    """A two-window rule: the first surging window is pending (nothing sent), the next fires."""
    rule = [AlertRule(name="market", scope="market", min_articles=4, min_negative=3,
                      significance=0.05, window=timedelta(hours=6), baseline=timedelta(days=28),
                      for_windows=2)]
    # The surge day's stories sit at hours 1-12 after AT - 1 day: five in the first 6-hour
    # window (all negative), six in the second (four negative).
    first = detect(settings, at=AT - timedelta(hours=18), rules=rule)
    assert (first.counts["pending"], first.counts["firing"], first.counts["queued"]) == (1, 0, 0)
    assert "[pending: 1 of 2 windows]" in first.messages[0]
    second = detect(settings, at=AT - timedelta(hours=12), rules=rule)
    assert (second.counts["pending"], second.counts["firing"], second.counts["queued"]) == (0, 1, 1)
    states = query(settings.db_path, "SELECT state, explanation->>'streak' FROM alerts ORDER BY window_end")
    assert states == [("pending", "1"), ("firing", "2")]


def test_a_pending_market_surge_does_not_inhibit(settings):
    # The market surge needs two windows to fire; until then it must not mute the firing ticker.
    rules = [RULES[0].model_copy(update={"for_windows": 2}), RULES[1]]
    result = detect(settings, at=AT, rules=rules)
    assert result.counts["pending"] == 1 and result.counts["inhibited"] == 0
    assert result.counts["queued"] >= 1
    assert query(settings.db_path, "SELECT count(*) FROM alerts WHERE scope = 'ticker'"
                                    " AND explanation->>'inhibited_by' IS NOT NULL") == [(0,)]


def test_a_market_surge_mutes_only_its_own_window_length(settings):
    # A 1-day market surge says nothing about a 7-day ticker window ending at the same time.
    weekly = RULES[1].model_copy(update={"name": "ticker_week", "window": timedelta(days=7),
                                         "baseline": timedelta(days=21)})
    result = detect(settings, at=AT, rules=[RULES[0], weekly])
    fired = dict(query(settings.db_path, "SELECT rule, count(*) FROM alerts GROUP BY rule"))
    assert fired == {"market": 1, "ticker_week": 1}
    assert result.counts["inhibited"] == 0 and result.counts["queued"] == 2


def test_entity_matcher_takes_the_display_name_too():
    labels = {"rule": "source", "scope": "source", "entity": "wire-92e45dfd",
              "entity_name": "Example Market Wire", "severity": "warning"}
    assert parse_matcher("entity=Example Market Wire").matches(labels)
    assert parse_matcher("entity=wire-92e45dfd").matches(labels)
    assert parse_matcher("entity=~Example.*").matches(labels)
    assert not parse_matcher("entity!=Example Market Wire").matches(labels)
    assert parse_matcher("entity!=Other Wire").matches(labels)
    assert not parse_matcher("entity=Other Wire").matches(labels)


def test_a_database_from_before_migration_6_keeps_its_silences(tmp_path):
    """Migration 006 adds who expired a silence and why; older rows survive, unattributed."""
    import duckdb

    from pipeline.storage.db import migrations

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR"
                " NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for version, name, sql in migrations():
        if version < 6:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                        [version, name])
    con.execute("INSERT INTO silences VALUES ('old1', '[]', ?, ?, 'ops', 'legacy', ?, ?)",
                [AT, AT + timedelta(days=1), AT, AT + timedelta(hours=1)])
    con.close()
    with connect(db) as con:  # a writer brings the schema up to date
        rows = con.execute("SELECT silence_id, author, comment, expired_at IS NOT NULL,"
                           " expired_by, expiry_comment FROM silences").fetchall()
    assert rows == [("old1", "ops", "legacy", True, None, None)]
