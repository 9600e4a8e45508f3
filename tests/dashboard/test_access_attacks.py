"""The dashboard's access control under the attacks of issue 24's tester (findings 2, 3, 5-8,
11-13, 17), through AppTest."""

from __future__ import annotations

from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from dashboard.ui import code_span, link_alert_id
from pipeline.access.users import add_user, remove_user, set_password
from tests.dashboard.conftest import USERS
from tests.dashboard.helpers import APP, open_page, open_with_identity, sign_in, texts

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
