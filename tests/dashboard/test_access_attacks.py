"""The dashboard's access control under the attacks of issue 24's tester (findings 2, 3, 5-8,
11-13, 17), through AppTest."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
from streamlit.testing.v1 import AppTest

from dashboard.ui import code_span, link_alert_id
from pipeline.access.users import add_user, remove_user, set_password, set_role
from tests.dashboard.conftest import USERS
from tests.dashboard.helpers import (
    APP, open_page, open_with_identity, sign_in, texts,
)

PHISH = "x\n\n**Your session expired.** [Sign in again here](https://evil.example/login)\n\n"


def test_a_crafted_alert_link_is_not_echoed_as_markdown(monkeypatch, seeded_db):
    """Finding 2: ``?alert=`` with a blank line and a markdown link shows no link."""
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(seeded_db.parent))
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["alert"] = PHISH
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "evil.example" not in shown and "Your session expired" not in shown
    assert "The link's alert id is not valid: pick an alert below." in shown


def test_code_spans_cannot_be_ended_by_a_blank_line():
    """Finding 2, the other door: any echoed id stays one code span on one line."""
    assert code_span(PHISH).count("\n") == 0 and code_span("a`b") == "`a'b`"
    assert link_alert_id("al2") == "al2" and link_alert_id("a" * 40) == "a" * 40
    assert link_alert_id(PHISH) is None and link_alert_id("a" * 65) is None


def _button(at, label):
    found = [b for b in at.button if b.label == label]
    return found[0] if found else None


def _signed_in_as(at) -> list[str]:
    return [t.value for t in at.sidebar.text if t.value.startswith("Signed in as")]


def test_a_password_reset_ends_the_sessions_of_the_old_password(monkeypatch, seeded_db,
                                                                users_file):
    """Finding 3: remove + add (even with a higher role), or passwd, signs old sessions out."""
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    assert _signed_in_as(at) == ["Signed in as rita (responder)"]
    remove_user(users_file, "rita")
    add_user(users_file, "rita", "admin", "a-brand-new-password")
    at.run()
    assert _signed_in_as(at) == [] and _button(at, "Create silence") is None
    assert "Your session expired: sign in again." in [w.value for w in at.sidebar.warning]

    at = sign_in(at, "rita", "a-brand-new-password")
    assert _signed_in_as(at) == ["Signed in as rita (admin)"]
    set_password(users_file, "rita", "another-new-password")
    at.run()
    assert _signed_in_as(at) == [] and _button(at, "Create silence") is None


def test_an_unverified_oidc_email_gets_no_role_and_odd_names_are_refused(
        monkeypatch, seeded_db, users_file):
    """Finding 13: a provider that lets someone claim an admin's address without verifying
    it gives a viewer; a name with markup or spaces is not signed in at all."""
    add_user(users_file, "ops@example.com", "admin", None)
    fresh = datetime.now(UTC).timestamp()
    for claims in ({"email": "ops@example.com", "email_verified": False},
                   {"email": "ops@example.com"},  # no claim at all
                   {"email": "ops@example.com", "email_verified": "true"}):  # not a boolean
        at = open_with_identity(monkeypatch, seeded_db.parent,
                                 {"is_logged_in": True, "iat": fresh, **claims})
        assert _signed_in_as(at) == ["Signed in as ops@example.com (viewer)"]
        assert _button(at, "Create silence") is None
    at = open_with_identity(monkeypatch, seeded_db.parent, {
        "is_logged_in": True, "iat": fresh, "email_verified": True,
        "email": "**boss** [x](https://evil.example)@example.com"})
    assert _signed_in_as(at) == [] and "evil.example" not in texts(at)


def test_streamlit_run_on_a_network_address_without_sign_in_serves_nothing(
        monkeypatch, seeded_db, server_address):
    """Finding 7: ``streamlit run --server.address 0.0.0.0`` (or no address: every interface)
    skips ``tonewatch dashboard``'s check; the app refuses by itself."""
    monkeypatch.delenv("TONEWATCH_USERS_FILE", raising=False)
    for address in ("0.0.0.0", ""):
        server_address(address)
        at = open_page(monkeypatch, seeded_db.parent)
        assert not at.exception and not at.dataframe and not at.sidebar.caption
        assert [e.value for e in at.error] == [
            f"refusing to serve the dashboard on {address or 'every interface'} without "
            "sign-in: add users with `tonewatch users add NAME --role admin` and set "
            "TONEWATCH_USERS_FILE (or configure OIDC in the secrets file named by "
            "TONEWATCH_DASHBOARD_SECRETS_FILE), or serve on 127.0.0.1"]


def test_off_loopback_strangers_must_sign_in_to_read(monkeypatch, seeded_db, users_file,
                                                     server_address):
    """Findings 6 and 8: beyond loopback an anonymous visitor sees the sign-in form only, not
    the pages nor the database path; TONEWATCH_DASHBOARD_ANONYMOUS_READ=true opens reading."""
    server_address("0.0.0.0")
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    assert not at.exception and not at.dataframe
    assert "Sign in (sidebar) to view the dashboard." in texts(at)
    assert str(seeded_db.parent) not in texts(at)
    at = sign_in(at, "vic", USERS["vic"][1])
    assert at.dataframe and f"Data: `{seeded_db.resolve()}`" in texts(at)

    monkeypatch.setenv("TONEWATCH_DASHBOARD_ANONYMOUS_READ", "true")
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    assert at.dataframe and str(seeded_db.parent) not in texts(at)


def test_a_broken_user_file_shows_strangers_no_detail(monkeypatch, seeded_db, users_file,
                                                      caplog):
    """Finding 8: a password typed as a role is neither shown nor logged; the sidebar says
    only that the file is invalid."""
    users_file.write_text("users:\n  rita:\n    role: hunter2-secret-pw\n")
    at = open_page(monkeypatch, seeded_db.parent, "alerts")
    assert [e.value for e in at.sidebar.error] == [
        "Sign-in unavailable: the user file is invalid (see the server log)."]
    assert "hunter2" not in texts(at) and "hunter2" not in caplog.text


def _insert_silences(db, rows: str) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("INSERT INTO silences (silence_id, matchers, starts_at, ends_at, author, "
                    "comment, created_at) " + rows)
    finally:
        con.close()


def _in_force(at):
    """The "Silences in force" table (it has a state column and no audit columns)."""
    return next(df.value for df in at.dataframe
                if "matchers" in df.value.columns and "state" in df.value.columns)


def test_an_expired_silence_leaves_the_list_at_once_and_pending_ones_say_so(
        monkeypatch, seeded_db, users_file):
    """Finding 11: no stale "in force" row after an expiry; a future silence is "pending"."""
    _insert_silences(seeded_db, """VALUES ('later', '[{"label": "scope", "op": "=",
        "value": "ticker"}, {"label": "entity", "op": "=", "value": "BETA"}]',
        now() + INTERVAL 2 HOUR, now() + INTERVAL 3 HOUR, 'ada', 'tomorrow''s call', now())""")
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    at.text_input(key="silence_comment").input("recall story")
    _button(at, "Create silence").click().run()
    in_force = _in_force(at)
    assert sorted(in_force["state"]) == ["active", "pending"]
    created = in_force.loc[in_force["state"] == "active", "silence_id"].iloc[0]
    at.selectbox(key="expire_id").select(created)
    at.text_input(key="expire_comment").input("story is over")
    _button(at, "Expire silence").click().run()
    assert not at.error
    assert list(_in_force(at)["silence_id"]) == ["later"]
    assert at.selectbox(key="expire_id").options == ["later"]


def test_the_form_offers_the_configured_maximum_whatever_it_is(monkeypatch, seeded_db,
                                                               users_file):
    """Finding 12: a maximum below an hour, or between presets, can be picked."""
    for hours, options in (("0.5", ["0.5 hours (the maximum)"]),
                           ("36", ["1 hour", "12 hours", "1 day", "36 hours (the maximum)"])):
        monkeypatch.setenv("TONEWATCH_SILENCE_MAX_HOURS", hours)
        at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita",
                     USERS["rita"][1])
        assert not at.exception
        assert at.selectbox(key="silence_duration").options == options
    at.selectbox(key="silence_duration").select("36 hours (the maximum)")
    at.text_input(key="silence_comment").input("a day and a half")
    _button(at, "Create silence").click().run()
    assert not at.error and "muted for 36 hours (the maximum)" in texts(at)


def test_history_counts_every_silence_and_a_dropped_form_says_so(monkeypatch, seeded_db,
                                                                 users_file):
    """Finding 17: the history's count is the real total, not the 200 rows shown; a form
    submitted after the user lost the role says it created nothing."""
    _insert_silences(seeded_db, """SELECT 'old' || i, '[{"label": "scope", "op": "=",
        "value": "market"}]', now() - INTERVAL 9 DAY, now() - INTERVAL 8 DAY, 'ada', 'old',
        now() - INTERVAL 9 DAY FROM range(205) t(i)""")
    at = sign_in(open_page(monkeypatch, seeded_db.parent, "alerts"), "rita", USERS["rita"][1])
    assert "Silence history: 205 silence(s), the latest 200 shown, who, when and why" in [
        e.label for e in at.expander]
    at.text_input(key="silence_comment").input("after demotion")
    set_role(users_file, "rita", "viewer")
    _button(at, "Create silence").click().run()
    assert [e.value for e in at.error] == [
        "Silence not created: your session ended or your role changed; sign in again."]
    con = duckdb.connect(str(seeded_db), read_only=True)
    assert con.execute("SELECT count(*) FROM silences").fetchone() == (205,)
    con.close()
