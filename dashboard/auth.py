"""Sign-in: who is acting on the dashboard, with which role, until when.

Viewing needs no sign-in; every write (creating or expiring a silence) calls
:func:`current_actor` at the moment it runs and hands the result to the library, which checks
the role (:mod:`pipeline.access.roles`). Hiding a form is a courtesy, not the check.

Two ways to sign in, either or both:

- **password** (``TONEWATCH_USERS_FILE``): the sidebar form checks the name and password
  against the user file's Argon2id hashes (:func:`pipeline.access.users.verify_password`).
  The signed-in user is kept in this browser session's server-side state
  (``st.session_state``), which the browser cannot write, and lasts
  ``TONEWATCH_DASHBOARD_SESSION_MINUTES``; reloading the page signs out.
- **OIDC** (an ``[auth]`` section in ``TONEWATCH_DASHBOARD_SECRETS_FILE``): Streamlit's
  ``st.login()``; ``st.user``'s e-mail names the user, whose role comes from the user file
  (``tonewatch users add EMAIL --oidc --role ...``) only when the provider says the e-mail is
  verified (``email_verified``); ``viewer`` otherwise, or when not listed there. The
  sign-in also ends ``TONEWATCH_DASHBOARD_SESSION_MINUTES`` after the token was issued.

Each call re-reads the user file, so a removed user, a changed role or a new password (which
ends the sessions signed in with the old one) takes effect at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import streamlit as st

from pipeline.access.roles import Actor
from pipeline.access.serving import NO_SIGN_IN_MESSAGE, is_loopback
from pipeline.access.users import (
    SignInThrottle, User, check_name, credential_stamp, load_users, verify_password,
)
from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError, SignInError

#: Session-state key of the password sign-in: ``{"name", "stamp", "expires_at"}`` (UTC;
#: ``stamp`` is :func:`~pipeline.access.users.credential_stamp` at sign-in).
SESSION_KEY = "signed_in"
_NOTE_KEY = "sign_in_note"
_FAILED_KEY = "sign_in_failed"
_BROKEN_KEY = "users_file_error"
EXPIRED_NOTE = "Your session expired: sign in again."

#: Shared by every session of this server process (modules are imported once per process).
THROTTLE = SignInThrottle()

#: What anyone sees of a broken user file; the details go to the server log only (they may
#: hold a value typed in the wrong place, e.g. a password as a role).
BROKEN_USERS_NOTE = "Sign-in unavailable: the user file is invalid (see the server log)."

_LOG = logging.getLogger(__name__)
_LOGGED: set[str] = set()  # user-file errors already logged (pages rerun on every click)


def _users(settings: Settings) -> dict[str, User]:
    # Fail closed: a broken user file signs nobody in (the sidebar says why) instead of
    # breaking every page.
    try:
        users = load_users(settings.users_file)
    except ConfigError as exc:
        if str(exc) not in _LOGGED:
            _LOGGED.add(str(exc))
            _LOG.error("nobody can sign in: %s", exc)
        st.session_state[_BROKEN_KEY] = True
        return {}
    st.session_state.pop(_BROKEN_KEY, None)
    return users


def _oidc_configured() -> bool:
    # st.user has is_logged_in only when the secrets hold an [auth] section.
    return "is_logged_in" in st.user.to_dict()


def _oidc_actor(settings: Settings, now: datetime) -> Actor | None:
    if not _oidc_configured() or not st.user.is_logged_in:
        return None
    issued = st.user.to_dict().get("iat")
    if isinstance(issued, (int, float)) and now - datetime.fromtimestamp(issued, UTC) > \
            timedelta(minutes=settings.dashboard_session_minutes):
        st.session_state[_NOTE_KEY] = EXPIRED_NOTE
        return None
    claims = st.user.to_dict()
    name = str(claims.get("email") or claims.get("sub") or "")
    try:
        check_name(name)  # shown on every page and in the audit trail: no markup, no spaces
    except ConfigError:
        return None
    # A provider may let anyone claim an address they do not own: only a verified e-mail
    # takes a role from the user file; anything else reads, as a viewer.
    verified = bool(claims.get("email")) and claims.get("email_verified") is True
    known = _users(settings).get(name) if verified else None
    return Actor(name, known.role if known else "viewer", "oidc")


def current_actor(now: datetime | None = None) -> Actor | None:
    """The signed-in user of this browser session, or None (anonymous, expired, removed).

    Args:
        now: the current instant, tz-aware UTC; default the clock.

    Raises:
        ConfigError: the settings are invalid (a broken user file signs nobody in instead).
    """
    settings = load_settings()
    now = now or datetime.now(UTC)
    session = st.session_state.get(SESSION_KEY)
    if session:
        user = _users(settings).get(session["name"])
        if (now >= session["expires_at"] or user is None or user.password_hash is None
                or session.get("stamp") != credential_stamp(user)):
            # Expired, removed, or a new password since (a reset ends old sessions).
            del st.session_state[SESSION_KEY]
            st.session_state[_NOTE_KEY] = EXPIRED_NOTE
            return None
        return Actor(user.name, user.role, "password")
    return _oidc_actor(settings, now)


def _client_address() -> str | None:
    # The browser's IP address (a reverse proxy's own behind one); None when unknown.
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def sign_in(name: str, password: str, now: datetime | None = None) -> Actor:
    """Check ``name`` and ``password`` against the user file and start a session.

    Raises:
        SignInError: unknown user or wrong password (the message does not say which), too
            many failures for this name or this client lately, or too many sign-ins being
            checked at once (:data:`THROTTLE`).
    """
    settings = load_settings()
    now = now or datetime.now(UTC)
    name = name.strip()
    client = _client_address()
    THROTTLE.attempt(name, client, now)  # reserved before the slow check: no race
    with THROTTLE.verifying():
        user = verify_password(_users(settings), name, password)
    THROTTLE.succeeded(name, client, now)
    st.session_state[SESSION_KEY] = {
        "name": user.name, "stamp": credential_stamp(user),
        "expires_at": now + timedelta(minutes=settings.dashboard_session_minutes)}
    st.session_state.pop(_NOTE_KEY, None)
    return Actor(user.name, user.role, "password")


def sign_out() -> None:
    """End the password session (an OIDC sign-in ends through ``st.logout``)."""
    st.session_state.pop(SESSION_KEY, None)


def _submit_sign_in() -> None:
    # A callback runs before the script, the one moment a widget's value may be reset: the
    # password leaves the session state as soon as it has been checked.
    name = st.session_state.get("sign_in_user", "")
    password = st.session_state.get("sign_in_password", "")
    st.session_state["sign_in_password"] = ""
    try:
        sign_in(name, password)
    except SignInError as exc:
        st.session_state[_FAILED_KEY] = f"Sign-in failed: {exc}."


def sign_in_panel() -> None:
    """The sidebar's sign-in block: who is signed in and a sign-out button, or the ways in."""
    settings = load_settings()
    actor = current_actor()
    st.divider()
    if actor is not None:
        st.text(f"Signed in as {actor.name} ({actor.role})")
        if actor.via == "oidc":
            st.button("Sign out", key="sign_out", on_click=st.logout)
        else:
            st.button("Sign out", key="sign_out", on_click=sign_out)
        return
    note = st.session_state.pop(_NOTE_KEY, None)
    if note:
        st.warning(note)
    has_passwords = any(u.password_hash for u in _users(settings).values())
    if st.session_state.get(_BROKEN_KEY):
        st.error(BROKEN_USERS_NOTE)
    if has_passwords:
        failed = st.session_state.pop(_FAILED_KEY, None)
        with st.form("sign_in_form"):
            st.text_input("User", key="sign_in_user")
            st.text_input("Password", type="password", key="sign_in_password")
            st.form_submit_button("Sign in", on_click=_submit_sign_in)
        if failed:
            st.error(failed)
    if _oidc_configured():
        st.button("Sign in with your identity provider", key="sign_in_oidc", on_click=st.login)
    if not has_passwords and not _oidc_configured():
        st.caption("Read-only: no sign-in is configured (TONEWATCH_USERS_FILE).")


def served_address() -> str:
    """The address this Streamlit server listens on: ``server.address``, empty when unset
    (Streamlit then listens on every interface, as ``streamlit run`` does by default)."""
    return st.get_option("server.address") or ""


def serving_refusal(settings: Settings, address: str) -> str | None:
    """Why this server must not serve ``address`` (the one line of
    :data:`pipeline.access.serving.NO_SIGN_IN_MESSAGE`), or None when it may.

    The same rule as ``tonewatch dashboard`` (:func:`pipeline.access.serving.check_serving`),
    checked again here because ``streamlit run --server.address 0.0.0.0`` skips that command.
    A broken user file counts as no password sign-in.
    """
    if is_loopback(address) or _oidc_configured() or any(
            u.password_hash for u in _users(settings).values()):
        return None
    return NO_SIGN_IN_MESSAGE.format(address=address or "every interface")


def anonymous_may_read(settings: Settings, address: str) -> bool:
    """Whether a visitor who has not signed in may read the pages:
    ``TONEWATCH_DASHBOARD_ANONYMOUS_READ`` when set, else only on a loopback ``address``."""
    if settings.dashboard_anonymous_read is not None:
        return settings.dashboard_anonymous_read
    return is_loopback(address)
