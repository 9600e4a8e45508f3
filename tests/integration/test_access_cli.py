"""``tonewatch silence`` and ``tonewatch users`` as an attacker tries them (issue 24, tester
findings), in-process through typer's CliRunner (fast: no subprocess)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from pipeline.access.users import credential_stamp, load_users, verify_password
from pipeline.cli import app
from pipeline.cli.common import out
from pipeline.errors import AccessDeniedError, ConfigError, SignInError
from tests.conftest import query

HOSTILE = "ok [/bold] closing tag [link=https://evil.example/phish]see runbook[/link] [reverse]x"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A data folder of its own and no user file (the OS user acts as admin)."""
    for name in ("TONEWATCH_USERS_FILE", "TONEWATCH_SILENCE_MAX_HOURS",
                 "TONEWATCH_SILENCE_BROAD_ROLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(out, "width", 2000)  # one table row per line, nothing wrapped
    return tmp_path


def tw(*args: str, stdin: str | None = None):
    """Run ``tonewatch ARGS`` in-process; return typer's result."""
    return CliRunner().invoke(app, list(args), input=stdin)


def test_rich_markup_in_silence_data_prints_as_written(env, monkeypatch):
    """Finding 1: markup in a comment, a matcher or an author is data, not rich markup."""
    monkeypatch.setenv("LOGNAME", "[/x]eve")  # getpass.getuser() reads it first
    added = tw("silence", "add", "--match", "scope=ticker", "--match", "entity=[/b]",
               "--comment", HOSTILE)
    assert added.exit_code == 0, added.output
    assert "entity=[/b]" in added.output and "by [/x]eve" in added.output
    for listing in (tw("silence", "list"), tw("silence", "list", "--all")):
        assert listing.exit_code == 0, listing.output
        flat = " ".join(listing.output.split())
        assert "[/b]" in flat and "[/x]eve" in flat and "[link=https://evil.example/phish]" in flat
        assert "\x1b]8;" not in listing.output  # no OSC-8 terminal hyperlink


def test_users_passwd_replaces_the_hash_and_keeps_the_role(env, monkeypatch):
    """Finding 3: a password can be reset without remove + add; the role stays."""
    users = env / "users.yaml"
    monkeypatch.setenv("TONEWATCH_USERS_FILE", str(users))
    assert tw("users", "add", "rita", "--role", "responder", "--password-stdin",
              stdin="rita-responds-1\n").exit_code == 0
    old = load_users(users)["rita"]
    changed = tw("users", "passwd", "rita", "--password-stdin", stdin="rita-new-secret-2\n")
    assert changed.exit_code == 0, changed.output
    new = load_users(users)["rita"]
    assert new.role == "responder" and credential_stamp(new) != credential_stamp(old)
    verify_password(load_users(users), "rita", "rita-new-secret-2")
    with pytest.raises(SignInError):
        verify_password(load_users(users), "rita", "rita-responds-1")
    assert isinstance(tw("users", "passwd", "nobody", "--password-stdin", stdin="x" * 12 + "\n"
                         ).exception, ConfigError)


def test_no_password_prompt_without_a_terminal(env, monkeypatch):
    """Finding 18: with stdin not a terminal the prompt could echo; refuse, name the option."""
    monkeypatch.setenv("TONEWATCH_USERS_FILE", str(env / "users.yaml"))
    result = tw("users", "add", "rita", "--role", "responder", stdin="rita-responds-1\n")
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "--password-stdin" in str(result.exception)
    assert not (env / "users.yaml").exists()


def test_as_another_user_needs_their_password_and_keeps_the_os_user(env, monkeypatch):
    """Finding 4: a shell user cannot put an admin's name (and role) on a silence without
    the admin's password; the OS account is recorded next to the name."""
    users = env / "users.yaml"
    monkeypatch.setenv("TONEWATCH_USERS_FILE", str(users))
    monkeypatch.setenv("LOGNAME", "vic")
    for name, role in (("vic", "viewer"), ("ada", "admin")):
        assert tw("users", "add", name, "--role", role, "--password-stdin",
                  stdin=f"{name}-password-1\n").exit_code == 0
    market = ("silence", "add", "--match", "scope=market", "--comment", "quiet day")
    assert isinstance(tw(*market).exception, AccessDeniedError)  # vic is a viewer
    for stdin in ("vic-password-1\n", "\n"):
        refused = tw(*market, "--as", "ada", "--password-stdin", stdin=stdin)
        assert isinstance(refused.exception, SignInError)
    assert isinstance(tw(*market, "--as", "ada").exception, ConfigError)  # no terminal
    db = env / "data" / "tonewatch.duckdb"
    assert not db.exists() or query(db, "SELECT count(*) FROM silences") == [(0,)]
    ok = tw(*market, "--as", "ada", "--password-stdin", stdin="ada-password-1\n")
    assert ok.exit_code == 0, ok.output
    assert query(db, "SELECT author FROM silences") == [("ada (os user vic)",)]


def test_a_responder_cannot_expire_an_admins_market_silence(env, monkeypatch):
    """Finding 9, end to end: ``silence expire --as rita`` of a scope=market silence."""
    users = env / "users.yaml"
    monkeypatch.setenv("TONEWATCH_USERS_FILE", str(users))
    assert tw("users", "add", "rita", "--role", "responder", "--password-stdin",
              stdin="rita-password-1\n").exit_code == 0
    monkeypatch.setenv("LOGNAME", "root")  # not in the file: admin
    added = tw("silence", "add", "--match", "scope=market", "--comment", "macro day")
    assert added.exit_code == 0, added.output
    db = env / "data" / "tonewatch.duckdb"
    (silence_id,), = query(db, "SELECT silence_id FROM silences")
    refused = tw("silence", "expire", silence_id, "--comment", "over", "--as", "rita",
                 "--password-stdin", stdin="rita-password-1\n")
    assert isinstance(refused.exception, AccessDeniedError)
    assert query(db, "SELECT expired_at FROM silences") == [(None,)]
    assert tw("silence", "expire", silence_id, "--comment", "over").exit_code == 0


def test_chained_silences_cannot_outlast_the_maximum(env):
    """Finding 10, end to end: a second week-long silence starting in a week is refused."""
    start = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%MZ")
    chained = tw("silence", "add", "--match", "scope=ticker", "--match", "entity=ACME",
                 "--comment", "next week too", "--duration", "1w", "--starts", start)
    assert isinstance(chained.exception, AccessDeniedError)
    past = tw("silence", "add", "--match", "scope=ticker", "--match", "entity=ACME",
              "--comment", "already over", "--duration", "1h", "--starts", "2020-01-01")
    assert isinstance(past.exception, AccessDeniedError)
