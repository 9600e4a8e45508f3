"""Who may mute an alert on the dashboard, tried as an attacker would (issue 24).

Anonymous visitors and viewers get no silence form; a forged or stale submission writes
nothing because the library checks the signed-in user when the write runs; wrong passwords and
expired sessions are refused; a responder may silence one entity, only an admin a whole scope.
OIDC identities (``AppTest.user`` stands in for ``st.login``) take their role from the user file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from dashboard.actions import silence_alert
from pipeline.access.roles import Actor
from pipeline.access.users import add_user, remove_user
from pipeline.alerting.silences import SilencePolicy
from pipeline.errors import AccessDeniedError
from tests.dashboard.conftest import USERS
from tests.dashboard.helpers import frame_with, open_page, open_with_identity, sign_in, texts

TICKER_LABELS = {"rule": "ticker_negative_surge", "scope": "ticker", "entity": "ACME",
                 "severity": "critical"}


def _rows(db, sql="SELECT author, comment, expired_by, expiry_comment FROM silences"):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _button(at, label):
    found = [b for b in at.button if b.label == label]
    return found[0] if found else None


def test_anonymous_visitor_gets_no_form_and_cannot_write(monkeypatch, seeded_db, users_file):
    at = open_page(monkeypatch, seeded_db.parent, "alerts")

    assert not at.exception
    assert _button(at, "Create silence") is None
    assert "silence_comment" not in [w.key for w in at.text_input]
    assert "Sign in (sidebar) as a responder or admin to change silences." in texts(at)
    # Forging the form's values into the session does not make the form (or a write) appear.
    at.session_state["silence_comment"] = "forged"
    at.run()
    assert _button(at, "Create silence") is None and _rows(seeded_db) == []


@pytest.mark.parametrize("actor", [None, Actor("vic", "viewer", "password")])
def test_the_write_itself_refuses_anonymous_and_viewers(seeded_db, actor):
    """What a forged websocket message would reach: the action, not the hidden widget."""
    with pytest.raises(AccessDeniedError):
        silence_alert(str(seeded_db), TICKER_LABELS, ["scope", "entity"],
                      duration=timedelta(hours=1), actor=actor, comment="forged",
                      now=datetime.now(UTC), policy=SilencePolicy())
    assert _rows(seeded_db) == []


def test_wrong_password_and_unknown_user_are_refused_alike(monkeypatch, seeded_db, users_file):
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    for name, password in (("rita", "not-her-password"), ("mallory", USERS["rita"][1])):
        at = sign_in(at, name, password)
        assert [e.value for e in at.sidebar.error] == [
            "Sign-in failed: unknown user or wrong password."]
        assert _button(at, "Create silence") is None
    # The form clears on submit: no password stays in the session.
    assert "not-her-password" not in repr(at.session_state)
    assert USERS["rita"][1] not in repr(at.session_state)


def test_repeated_failures_lock_the_name_even_for_the_right_password(monkeypatch, seeded_db,
                                                                   users_file):
    from dashboard.auth import THROTTLE

    monkeypatch.setattr(THROTTLE, "max_failures", 2)
    monkeypatch.setattr(THROTTLE, "_failures", {})  # this test's failures only
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    for _ in range(2):
        at = sign_in(at, "ada", "guess-guess-guess")
    at = sign_in(at, "ada", USERS["ada"][1])
    assert at.sidebar.error[0].value.startswith(
        "Sign-in failed: too many failed sign-ins for this name; try again in")
    assert _button(at, "Create silence") is None


def test_a_broken_user_file_signs_nobody_in_and_pages_still_read(monkeypatch, seeded_db,
                                                                  users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    users_file.write_text("users:\n  rita:\n    role: root\n")
    at.run()
    assert not at.exception
    assert _button(at, "Create silence") is None
    # Details (which may hold a misplaced password) go to the server log only (finding 8).
    assert [e.value for e in at.sidebar.error] == [
        "Sign-in unavailable: the user file is invalid (see the server log)."]
    assert frame_with(at, "alert_id") is not None  # reading goes on


def test_viewer_signed_in_gets_no_form(monkeypatch, seeded_db, users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "vic", USERS["vic"][1])

    assert "Signed in as vic (viewer)" in [t.value for t in at.sidebar.text]
    assert _button(at, "Create silence") is None
    assert "Signed in as vic (viewer): changing silences needs responder or admin." in texts(at)


def test_expired_session_cannot_submit_the_form_it_was_shown(monkeypatch, seeded_db,
                                                             users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.text_input(key="silence_comment").input("stale form")
    session = dict(at.session_state["signed_in"])
    session["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    at.session_state["signed_in"] = session
    _button(at, "Create silence").click().run()

    assert not at.exception
    assert _rows(seeded_db) == []
    assert "Your session expired: sign in again." in [w.value for w in at.sidebar.warning]
    assert _button(at, "Create silence") is None


def test_removed_user_is_signed_out_before_the_write(monkeypatch, seeded_db, users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.text_input(key="silence_comment").input("after removal")
    remove_user(users_file, "rita")
    _button(at, "Create silence").click().run()
    assert _rows(seeded_db) == []


def test_responder_may_not_silence_the_market_wide_alert_but_an_admin_may(
        monkeypatch, seeded_db, users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.selectbox(key="alert_pick").select("al2").run()  # the market alert
    at.text_input(key="silence_comment").input("macro day")
    _button(at, "Create silence").click().run()
    assert len(at.error) == 1 and "needs admin" in at.error[0].value
    assert _rows(seeded_db) == []

    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "ada", USERS["ada"][1])
    at.selectbox(key="alert_pick").select("al2").run()
    at.text_input(key="silence_comment").input("macro day")
    _button(at, "Create silence").click().run()
    assert not at.error
    assert _rows(seeded_db, "SELECT author, matchers->>'$[1].value' FROM silences") == [
        ("ada", "market")]


def test_durations_are_bounded_by_configuration(monkeypatch, seeded_db, users_file):
    monkeypatch.setenv("TONEWATCH_SILENCE_MAX_HOURS", "24")
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "ada", USERS["ada"][1])
    assert at.selectbox(key="silence_duration").options == ["1 hour", "12 hours", "1 day"]
    with pytest.raises(AccessDeniedError, match="at most 24 h"):
        silence_alert(str(seeded_db), TICKER_LABELS, ["scope", "entity"],
                      duration=timedelta(days=3), actor=Actor("ada", "admin", "password"),
                      comment="long", now=datetime.now(UTC),
                      policy=SilencePolicy(max_duration=timedelta(hours=24)))
    assert _rows(seeded_db) == []


def test_responder_expires_a_silence_and_the_history_says_who_when_why(
        monkeypatch, seeded_db, users_file):
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.text_input(key="silence_comment").input("recall story")
    _button(at, "Create silence").click().run()
    at.text_input(key="expire_comment").input("story is over")
    _button(at, "Expire silence").click().run()

    assert not at.exception and not at.error
    assert _rows(seeded_db) == [("rita", "recall story", "rita", "story is over")]
    history = frame_with(at, "expired_by")
    assert list(history[["author", "comment", "expired_by", "expiry_comment"]].iloc[0]) == [
        "rita", "recall story", "rita", "story is over"]
    assert history["created"].notna().all() and history["expired"].notna().all()


def test_oidc_identity_takes_its_role_from_the_user_file(monkeypatch, seeded_db, users_file):
    add_user(users_file, "ops@example.com", "admin", None)
    fresh = datetime.now(UTC).timestamp()
    at = open_with_identity(monkeypatch, seeded_db.parent,
                             {"is_logged_in": True, "email": "ops@example.com",
                              "email_verified": True, "iat": fresh})
    assert "Signed in as ops@example.com (admin)" in [t.value for t in at.sidebar.text]
    at.text_input(key="silence_comment").input("via the identity provider")
    _button(at, "Create silence").click().run()
    assert _rows(seeded_db, "SELECT author FROM silences") == [("ops@example.com",)]

    # Not in the user file: a viewer. Not signed in: the provider's button, no form.
    at = open_with_identity(monkeypatch, seeded_db.parent,
                             {"is_logged_in": True, "email": "guest@example.com",
                              "email_verified": True, "iat": fresh})
    assert "Signed in as guest@example.com (viewer)" in [t.value for t in at.sidebar.text]
    assert _button(at, "Create silence") is None
    at = open_with_identity(monkeypatch, seeded_db.parent, {"is_logged_in": False})
    assert _button(at, "Sign in with your identity provider") is not None
    assert _button(at, "Create silence") is None


def test_oidc_sign_in_expires_after_the_session_length(monkeypatch, seeded_db, users_file):
    add_user(users_file, "ops@example.com", "admin", None)
    monkeypatch.setenv("TONEWATCH_DASHBOARD_SESSION_MINUTES", "60")
    issued = (datetime.now(UTC) - timedelta(minutes=61)).timestamp()
    at = open_with_identity(monkeypatch, seeded_db.parent,
                             {"is_logged_in": True, "email": "ops@example.com",
                              "email_verified": True, "iat": issued})
    assert _button(at, "Create silence") is None
    assert "Your session expired: sign in again." in [w.value for w in at.sidebar.warning]
