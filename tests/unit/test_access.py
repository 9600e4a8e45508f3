"""Roles, the user file, silence bounds and the serving check (issue 24), as an attacker tries.

The user file never holds a plain password; a wrong password and an unknown name fail alike;
a responder may silence one entity of a non-market scope, only an admin a whole scope; the
dashboard refuses a network address without sign-in.
"""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.access.roles import Actor, require, role_allows
from pipeline.access.serving import check_serving, is_loopback, sign_in_methods
from pipeline.access.users import (
    SignInThrottle, add_user, file_mode_warning, load_users, remove_user, set_role, shell_actor,
    verify_password,
)
from pipeline.alerting.silences import (
    SilencePolicy, check_expiry, check_silence, is_broad, parse_matcher,
)
from pipeline.errors import AccessDeniedError, ConfigError, SignInError

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 6, tzinfo=UTC)


@pytest.fixture
def users_path(tmp_path):
    path = tmp_path / "users.yaml"
    add_user(path, "rita", "responder", PASSWORD)
    add_user(path, "ops@example.com", "admin", None)  # an OIDC identity: role only
    return path


def test_the_user_file_holds_salted_argon2_hashes_only(users_path, tmp_path):
    text = users_path.read_text()
    assert PASSWORD not in text and "$argon2id$" in text
    assert stat.S_IMODE(users_path.stat().st_mode) == 0o600
    add_user(tmp_path / "other.yaml", "rita", "responder", PASSWORD)
    # A random salt per hash: the same password never gives the same string.
    assert load_users(users_path)["rita"].password_hash != \
        load_users(tmp_path / "other.yaml")["rita"].password_hash


def test_right_password_signs_in_and_wrong_ones_do_not(users_path):
    users = load_users(users_path)
    assert verify_password(users, "rita", PASSWORD).role == "responder"
    for name, password in (("rita", "wrong password"), ("rita", ""), ("nobody", PASSWORD),
                           ("ops@example.com", ""), ("ops@example.com", PASSWORD)):
        with pytest.raises(SignInError, match="^unknown user or wrong password$"):
            verify_password(users, name, password)


def test_password_guessing_is_braked_per_name_for_every_session():
    throttle = SignInThrottle(max_failures=3, window=timedelta(minutes=5))
    for i in range(3):
        throttle.attempt("Rita", None, T0 + timedelta(seconds=i))  # each counts until it succeeds
    with pytest.raises(SignInError, match="too many failed sign-ins for this name; try again "
                                          "in 298 s"):
        throttle.attempt("rita", None, T0 + timedelta(seconds=2))  # names compare case-blind
    throttle.attempt("nobody", None, T0)  # other names are not held up
    throttle.attempt("rita", None, T0 + timedelta(minutes=5))  # the first left the window
    throttle.succeeded("rita", None, T0 + timedelta(minutes=5))
    throttle.attempt("rita", None, T0 + timedelta(minutes=5, seconds=1))


def test_concurrent_guesses_are_reserved_before_the_slow_check():
    """Finding 5: ten guesses at once for one name: only ``max_failures`` get to the check."""
    throttle = SignInThrottle(max_failures=5)
    allowed, start = [], threading.Barrier(10)

    def guess():
        start.wait()
        try:
            throttle.attempt("ada", None, T0)
        except SignInError:
            return
        allowed.append(1)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 5


def test_one_stranger_cannot_lock_a_user_out_nor_spray_names():
    """Finding 5: failures count per name and client; a client trying many names is braked;
    old failures leave the map."""
    throttle = SignInThrottle(max_failures=5, max_client_failures=8)
    for i in range(5):
        throttle.attempt("ada", "203.0.113.9", T0 + timedelta(seconds=i))
    with pytest.raises(SignInError):
        throttle.attempt("ada", "203.0.113.9", T0 + timedelta(seconds=6))
    throttle.attempt("ada", "198.51.100.7", T0 + timedelta(seconds=7))  # ada's own client
    throttle.succeeded("ada", "198.51.100.7", T0 + timedelta(seconds=7))
    for i in range(3):
        throttle.attempt(f"name{i}", "203.0.113.9", T0 + timedelta(seconds=8))
    with pytest.raises(SignInError):  # 5 + 3 failures from this client, whatever the names
        throttle.attempt("name9", "203.0.113.9", T0 + timedelta(seconds=9))
    throttle.attempt("zed", "192.0.2.1", T0 + timedelta(minutes=6))
    assert set(throttle._failures) == {"name:zed|192.0.2.1", "name:zed", "client:192.0.2.1"}


def test_password_checks_at_once_are_bounded():
    throttle = SignInThrottle(max_concurrent=1)
    with throttle.verifying(), pytest.raises(SignInError, match="busy"):
        with throttle.verifying(timeout_s=0.01):
            pass
    with throttle.verifying():
        pass


def test_manage_users_and_bad_input_names_the_culprit(users_path):
    assert set_role(users_path, "rita", "admin").role == "admin"
    assert verify_password(load_users(users_path), "rita", PASSWORD).role == "admin"
    with pytest.raises(ConfigError, match="unknown role 'root'"):
        set_role(users_path, "rita", "root")
    with pytest.raises(ConfigError, match="already exists"):
        add_user(users_path, "rita", "viewer", PASSWORD)
    with pytest.raises(ConfigError, match="too short"):
        add_user(users_path, "sam", "viewer", "short")
    with pytest.raises(ConfigError, match="bad user name"):
        add_user(users_path, "sam smith", "viewer", PASSWORD)
    remove_user(users_path, "rita")
    assert set(load_users(users_path)) == {"ops@example.com"}
    with pytest.raises(ConfigError, match="no user 'rita'"):
        remove_user(users_path, "rita")


def test_a_hand_written_plain_password_is_refused_and_not_echoed(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  eve:\n    role: admin\n    password_hash: hunter2hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_users(path)
    assert "not an Argon2 hash" in str(caught.value) and "hunter2" not in str(caught.value)


def test_roles_are_ordered_and_require_names_who_and_what():
    assert role_allows("admin", "responder") and not role_allows("viewer", "responder")
    assert not role_allows("root", "viewer")
    with pytest.raises(AccessDeniedError, match="sign in"):
        require(None, "silence.create")
    with pytest.raises(AccessDeniedError, match="vic has the role viewer"):
        require(Actor("vic", "viewer", "password"), "silence.expire")


@pytest.mark.parametrize(("matchers", "broad"), [
    (["scope=market"], True),
    (["scope=market", "entity=market"], True),
    (["entity=ACME"], True),                      # says nothing of the scope
    (["scope=ticker"], True),                     # every ticker
    (["scope=ticker", "entity=~AC.*"], True),     # a regex is not one entity
    (["rule=~.*"], True),
    (["scope=ticker", "entity=ACME"], False),
    (["rule=r", "scope=sector", "entity=Energy"], False),
    (["scope!=market", "entity=ACME"], False),
])
def test_which_silences_are_broad(matchers, broad):
    assert is_broad([parse_matcher(m) for m in matchers]) is broad


def test_silence_bounds():
    policy = SilencePolicy(max_duration=timedelta(hours=24), broad_role="admin")
    narrow = [parse_matcher("scope=ticker"), parse_matcher("entity=ACME")]
    rita, ada = Actor("rita", "responder", "password"), Actor("ada", "admin", "password")
    day = {"starts_at": T0, "ends_at": T0 + timedelta(hours=24), "now": T0}
    assert check_silence(narrow, actor=rita, policy=policy, **day) == rita
    with pytest.raises(AccessDeniedError, match="needs admin"):
        check_silence([parse_matcher("scope=market")], actor=rita, policy=policy, **day)
    assert check_silence([parse_matcher("scope=market")], actor=ada, policy=policy, **day) == ada
    with pytest.raises(AccessDeniedError, match="at most 24 h"):
        check_silence(narrow, actor=ada, policy=policy, starts_at=T0,
                      ends_at=T0 + timedelta(hours=25), now=T0)
    with pytest.raises(AccessDeniedError):
        check_silence(narrow, actor=None, policy=policy, **day)


def test_chained_future_silences_and_past_ones_are_refused():
    """Finding 10: a silence must end within the maximum of now, and not be over already."""
    policy = SilencePolicy(max_duration=timedelta(hours=24))
    narrow = [parse_matcher("scope=ticker"), parse_matcher("entity=ACME")]
    rita = Actor("rita", "responder", "password")
    check_silence(narrow, actor=rita, policy=policy, starts_at=T0 + timedelta(hours=2),
                  ends_at=T0 + timedelta(hours=24), now=T0)  # later today: fine
    with pytest.raises(AccessDeniedError, match="must end within 24 h of now"):
        check_silence(narrow, actor=rita, policy=policy, starts_at=T0 + timedelta(hours=24),
                      ends_at=T0 + timedelta(hours=48), now=T0)  # the next link of a chain
    with pytest.raises(AccessDeniedError, match="already be over"):
        check_silence(narrow, actor=rita, policy=policy, starts_at=T0 - timedelta(hours=5),
                      ends_at=T0 - timedelta(hours=1), now=T0)


def test_a_responder_may_not_expire_a_broad_silence():
    """Finding 9: ending a whole scope's silence takes the same role as creating it."""
    policy = SilencePolicy()
    rita, ada = Actor("rita", "responder", "password"), Actor("ada", "admin", "password")
    with pytest.raises(AccessDeniedError, match="may not expire a silence of a whole scope"):
        check_expiry([parse_matcher("scope=market")], actor=rita, policy=policy)
    assert check_expiry([parse_matcher("scope=market")], actor=ada, policy=policy) == ada
    narrow = [parse_matcher("scope=ticker"), parse_matcher("entity=ACME")]
    assert check_expiry(narrow, actor=rita, policy=policy) == rita


def test_shell_actor_is_the_os_user_or_a_listed_as(users_path, monkeypatch):
    monkeypatch.setattr("pipeline.access.users.getpass.getuser", lambda: "alice")
    assert shell_actor(None, None) == Actor("alice", "admin", "os-user")
    # --as needs that user's password, and the shell account stays on record (finding 4).
    assert shell_actor(users_path, "rita", PASSWORD) == Actor("rita (os user alice)",
                                                              "responder", "cli-as")
    with pytest.raises(ConfigError, match="--as 'mallory': no such user"):
        shell_actor(users_path, "mallory", PASSWORD)
    # Without a user file a --as name cannot be checked: the shell account stays on record.
    assert shell_actor(None, "rita").name == "rita (os user alice)"


def test_a_listed_viewer_cannot_borrow_a_higher_role_without_its_password(users_path,
                                                                          monkeypatch):
    """Finding 4: ``--as`` an admin from a viewer's shell account needs the admin's password."""
    add_user(users_path, "vic", "viewer", PASSWORD + "-vic")
    add_user(users_path, "ada", "admin", PASSWORD + "-ada")
    monkeypatch.setattr("pipeline.access.users.getpass.getuser", lambda: "vic")
    assert shell_actor(users_path, None).role == "viewer"
    for password in (None, "", PASSWORD, PASSWORD + "-vic"):
        with pytest.raises(SignInError):
            shell_actor(users_path, "ada", password)
    with pytest.raises(SignInError):  # an OIDC identity has no password to give
        shell_actor(users_path, "ops@example.com", PASSWORD)
    assert shell_actor(users_path, "ada", PASSWORD + "-ada") == Actor(
        "ada (os user vic)", "admin", "cli-as")


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.5", False),
    ("dashboard.example", False),
])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_serving_a_network_needs_sign_in(users_path, tmp_path):
    check_serving("127.0.0.1", None, None)  # viewing stays open on loopback
    with pytest.raises(ConfigError, match="refusing to serve the dashboard on 0.0.0.0 without "
                                          "sign-in: add users with `tonewatch users add"):
        check_serving("0.0.0.0", None, None)
    only_oidc = tmp_path / "only_oidc.yaml"
    add_user(only_oidc, "ops@example.com", "admin", None)
    with pytest.raises(ConfigError):
        check_serving("0.0.0.0", only_oidc, None)  # nobody can sign in with a password
    check_serving("0.0.0.0", users_path, None)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "https://tw.example/oauth2callback"\n'
                       'cookie_secret = "s3cret-cookie"\n[auth.corp]\nclient_id = "x"\n')
    assert sign_in_methods(None, secrets) == ["oidc"]
    check_serving("0.0.0.0", None, secrets)
    secrets.write_text('[auth\ncookie_secret = "s3cret-cookie"\n')
    with pytest.raises(ConfigError) as caught:
        check_serving("0.0.0.0", None, secrets)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("name", ["\u0430da", "Ada", "ADA", "a da", "ada\u200b", "<b>x</b>"])
def test_look_alike_names_are_refused(users_path, name):
    """Finding 14: ASCII names only, and none differing from another only by case."""
    add_user(users_path, "ada", "admin", PASSWORD)
    with pytest.raises(ConfigError, match="bad user name|only by case"):
        add_user(users_path, name, "admin", PASSWORD)


def test_a_hand_written_case_twin_makes_the_file_invalid(users_path):
    users_path.write_text(users_path.read_text() + "  Rita:\n    role: admin\n")
    with pytest.raises(ConfigError, match="users.Rita: differs from user 'rita' only by case"):
        load_users(users_path)


@pytest.mark.parametrize("digest", [
    "$argon2id$garbage",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ",                             # no hash part
    "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",   # argon2i
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",      # too weak
])
def test_a_weak_or_broken_hash_is_refused_and_does_not_count_as_sign_in(tmp_path, digest):
    """Finding 15: a garbage hash no longer counts as password sign-in configured."""
    path = tmp_path / "users.yaml"
    path.write_text(f"users:\n  eve:\n    role: admin\n    password_hash: '{digest}'\n")
    with pytest.raises(ConfigError, match="users.eve: password_hash"):
        load_users(path)
    with pytest.raises(ConfigError):
        check_serving("0.0.0.0", path, None)


def test_an_empty_user_file_has_no_users_and_a_loose_mode_is_reported(tmp_path):
    """Finding 15: a touched file is an empty one; group/world bits are reported."""
    path = tmp_path / "users.yaml"
    path.touch()
    assert load_users(path) == {}
    add_user(path, "rita", "responder", PASSWORD)
    assert file_mode_warning(path) is None
    path.chmod(0o644)
    assert file_mode_warning(path) == (f"warning: user file {path} has mode 0644; other "
                                       f"accounts can read its hashes: chmod 600 {path}")
