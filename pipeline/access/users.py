"""The user file: who may sign in to the dashboard, and with which role.

For a team without an identity provider. The file is YAML, written only by ``tonewatch users``
(mode 0600, replaced atomically)::

    users:
      alice:
        role: responder
        password_hash: "$argon2id$v=19$m=65536,t=3,p=4$..."
      bob@example.com:
        role: admin            # no password_hash: an OIDC identity; the role is all it gets here

Passwords are hashed with Argon2id by argon2-cffi (a random salt per hash, parameters in the
hash string), never stored or logged in plain text. Its path is ``TONEWATCH_USERS_FILE``.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pipeline.access.roles import ROLES, Actor, check_role
from pipeline.config import read_yaml
from pipeline.errors import ConfigError, SignInError

#: Shortest password ``tonewatch users add`` accepts, characters.
MIN_PASSWORD_LENGTH = 10

# Names are shown in the audit trail and typed at sign-in: ASCII only (no look-alikes such as
# a Cyrillic "а" in "аda"), no spaces, nothing with a meaning in markdown but "_".
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")

#: Weakest Argon2id parameters accepted in the user file (OWASP's minimum: 19 MiB, 2 passes).
MIN_MEMORY_KIB, MIN_TIME_COST = 19456, 2

_HASHER = PasswordHasher()
# Checked when the name is unknown, so that a wrong name costs as long as a wrong password
# (no timing oracle for which names exist).
_DUMMY_HASH = _HASHER.hash("tonewatch-no-such-user")


@dataclass(frozen=True)
class User:
    """One entry of the user file.

    Attributes:
        name: sign-in name (or an OIDC identity's e-mail).
        role: ``viewer``, ``responder`` or ``admin``.
        password_hash: Argon2id hash string, or None for an OIDC identity (no password sign-in).
    """

    name: str
    role: str
    password_hash: str | None = None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid user name (ASCII letters, digits, ``. @ + - _``, 1-128).

    Raises:
        ConfigError: anything else.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"bad user name {name!r}: use 1-128 ASCII letters, digits or . @ + - _")
    return name


def hash_password(password: str) -> str:
    """Argon2id hash (random salt) of ``password``.

    Raises:
        ConfigError: shorter than :data:`MIN_PASSWORD_LENGTH` characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def load_users(path: Path | None) -> dict[str, User]:
    """Read the user file; a missing file or ``None`` is an empty dict.

    Raises:
        ConfigError: unreadable, not YAML, or an entry with a bad name, role or hash
            (one line naming the file and the entry).
    """
    if path is None or not Path(path).exists():
        return {}

    data = read_yaml(Path(path)) or {}  # an empty (touched) file: no users yet
    entries = (data.get("users") or {}) if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected a mapping 'users:' of name -> {{role, password_hash}}")
    users = {}
    for name, entry in entries.items():
        where = f"{path}: users.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected {{role, password_hash}}")
        try:
            check_name(str(name))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        role = entry.get("role")
        if role not in ROLES:
            # Never echo it either: a password typed on the wrong line would show.
            raise ConfigError(f"{where}: role must be one of {', '.join(ROLES)}")
        digest = entry.get("password_hash")
        if digest is not None:
            check_hash(str(digest), where)
        same = [other for other in users if other.lower() == str(name).lower()]
        if same:
            raise ConfigError(f"{where}: differs from user {same[0]!r} only by case")
        users[str(name)] = User(str(name), role, None if digest is None else str(digest))
    return users


def check_hash(digest: str, where: str) -> str:
    """Return ``digest`` if it is a whole Argon2id hash string with at least
    :data:`MIN_MEMORY_KIB` and :data:`MIN_TIME_COST`.

    Raises:
        ConfigError: anything else, as ``"{where}: ..."``; the value is never echoed (it might
            be a password someone pasted in by hand).
    """
    try:
        params = extract_parameters(digest)
    except (InvalidHashError, ValueError):
        params = None
    if params is None or digest.count("$") != 5:
        raise ConfigError(f"{where}: password_hash is not an Argon2 hash "
                          "(set passwords with `tonewatch users add` or `users passwd`)")
    if (params.type is not Type.ID or params.memory_cost < MIN_MEMORY_KIB
            or params.time_cost < MIN_TIME_COST):
        raise ConfigError(f"{where}: password_hash must be Argon2id with at least "
                          f"m={MIN_MEMORY_KIB} KiB and t={MIN_TIME_COST} (reset the password "
                          "with `tonewatch users passwd`)")
    return digest


def file_mode_warning(path: Path | None) -> str | None:
    """A one-line warning when the user file can be read or written by other accounts than its
    owner (group or world bits set), else None (also for no file)."""
    if path is None or not Path(path).exists():
        return None
    mode = Path(path).stat().st_mode & 0o777
    if mode & 0o077:
        return (f"warning: user file {path} has mode {mode:04o}; other accounts can read its "
                f"hashes: chmod 600 {path}")
    return None


def save_users(path: Path, users: dict[str, User]) -> None:
    """Write the user file atomically with mode 0600 (readable by its owner only).

    Raises:
        ConfigError: the folder cannot be written.
    """
    path = Path(path)
    body = {"users": {u.name: {"role": u.role, **({"password_hash": u.password_hash}
                                                    if u.password_hash else {})}
                      for u in sorted(users.values(), key=lambda u: u.name)}}
    text = ("# tonewatch users: written by `tonewatch users`; Argon2id hashes, never passwords.\n"
            + yaml.safe_dump(body, sort_keys=False))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write user file {path}: {exc.strerror}") from exc


def add_user(path: Path, name: str, role: str, password: str | None) -> User:
    """Add a user (with a password, or ``None`` for an OIDC identity) and save the file.

    Raises:
        ConfigError: the name exists or is invalid, an unknown role, a short password.
    """
    users = load_users(path)
    check_name(name)
    check_role(role)
    same = [other for other in users if other.lower() == name.lower()]
    if same:
        raise ConfigError(f"user {name!r} already exists in {path} as {same[0]!r} (names "
                          "differing only by case are one name; remove it first, or set-role)")
    user = User(name, role, None if password is None else hash_password(password))
    save_users(path, {**users, name: user})
    return user


def remove_user(path: Path, name: str) -> None:
    """Remove a user and save the file.

    Raises:
        ConfigError: no such user.
    """
    users = load_users(path)
    if name not in users:
        raise ConfigError(f"no user {name!r} in {path}")
    del users[name]
    save_users(path, users)


def set_role(path: Path, name: str, role: str) -> User:
    """Change a user's role and save the file.

    Raises:
        ConfigError: no such user, or an unknown role.
    """
    users = load_users(path)
    check_role(role)
    if name not in users:
        raise ConfigError(f"no user {name!r} in {path}")
    users[name] = User(name, role, users[name].password_hash)
    save_users(path, users)
    return users[name]


def set_password(path: Path, name: str, password: str) -> User:
    """Give an existing password user a new password (role kept) and save the file; their
    dashboard sessions end at their next action (see :func:`credential_stamp`).

    Raises:
        ConfigError: no such user, an OIDC identity (no password), or a short password.
    """
    users = load_users(path)
    if name not in users:
        raise ConfigError(f"no user {name!r} in {path}")
    if users[name].password_hash is None:
        raise ConfigError(f"user {name!r} signs in with OIDC and has no password")
    users[name] = User(name, users[name].role, hash_password(password))
    save_users(path, users)
    return users[name]


def credential_stamp(user: User) -> str:
    """A short fingerprint of ``user``'s password hash, kept with a dashboard session: a new
    password (``users passwd``, or remove and add again) changes it and so ends every session
    signed in with the old one. Not secret-bearing: a digest of a salted hash."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def verify_password(users: dict[str, User], name: str, password: str) -> User:
    """The user ``name`` if ``password`` matches their hash.

    An unknown name is checked against a dummy hash first, so both failures take as long.

    Raises:
        SignInError: unknown user, a user without a password (OIDC), or a wrong password; the
            message does not say which.
    """
    user = users.get(name)
    digest = user.password_hash if user is not None else None
    try:
        _HASHER.verify(digest or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        digest = None
    if user is None or digest is None:
        raise SignInError("unknown user or wrong password")
    return user


class SignInThrottle:
    """A brake on password guessing, shared by every browser session of a dashboard process
    (thread-safe), so opening new sessions does not reset it.

    Each sign-in first *reserves* a failure under a lock (:meth:`attempt`), before the slow
    password check, so concurrent guesses cannot all slip past a check that has not yet seen
    the others; a success takes its reservation back (:meth:`succeeded`). Three counts, each
    within ``window``:

    - one name from one client (``max_failures``): the brake on guessing one password;
    - one name from every client (``max_failures * 10``): distributed guessing, while one
      stranger alone cannot lock a user out;
    - one client, any names (``max_client_failures``): trying many names.

    Unknown names are throttled like real ones, so the brake does not reveal which exist.
    Counts older than ``window`` are dropped at every attempt, so the map stays small.
    :meth:`verifying` bounds how many password checks (Argon2, ~0.2 s and 64 MiB each) run at
    once.

    Args:
        max_failures: failures allowed per name and client within ``window``.
        window: how long a failure counts.
        max_client_failures: failures allowed per client (any names) within ``window``.
        max_concurrent: password checks running at once, across all sessions.
    """

    def __init__(self, max_failures: int = 5, window: timedelta = timedelta(minutes=5),
                 max_client_failures: int = 20, max_concurrent: int = 2):
        self.max_failures = max_failures
        self.window = window
        self.max_client_failures = max_client_failures
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(max_concurrent)

    def _limits(self, name: str, client: str | None) -> dict[str, int]:
        name = name.lower()
        limits = {f"name:{name}|{client or ''}": self.max_failures,
                  f"name:{name}": self.max_failures * 10}
        if client:
            limits[f"client:{client}"] = self.max_client_failures
        return limits

    def _prune(self, now: datetime) -> None:
        for key in list(self._failures):
            recent = [t for t in self._failures[key] if now - t < self.window]
            if recent:
                self._failures[key] = recent
            else:
                del self._failures[key]

    def attempt(self, name: str, client: str | None, now: datetime) -> None:
        """Reserve one sign-in attempt for ``name`` from ``client`` (an IP address, or None
        when unknown) at ``now`` (tz-aware UTC), counted as a failure until
        :meth:`succeeded`.

        Raises:
            SignInError: too many recent failures; nothing is reserved; the message says how
                long to wait (seconds).
        """
        limits = self._limits(name, client)
        with self._lock:
            self._prune(now)
            for key, limit in limits.items():
                recent = self._failures.get(key, [])
                if len(recent) >= limit:
                    wait = (recent[-limit] + self.window - now).total_seconds()
                    raise SignInError(f"too many failed sign-ins for this name; try again in "
                                      f"{max(1, round(wait))} s")
            for key in limits:
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, name: str, client: str | None, at: datetime) -> None:
        """Take back the reservation made by :meth:`attempt` at ``at`` and forget this
        client's failures for ``name``."""
        limits = self._limits(name, client)
        with self._lock:
            for key in limits:
                times = self._failures.get(key, [])
                if at in times:
                    times.remove(at)
                if not times:
                    self._failures.pop(key, None)
            self._failures.pop(next(iter(limits)), None)  # this name from this client

    @contextmanager
    def verifying(self, timeout_s: float = 10.0) -> Iterator[None]:
        """Hold one of the ``max_concurrent`` password-check slots for the ``with`` block.

        Raises:
            SignInError: no slot freed within ``timeout_s`` seconds (the server is busy).
        """
        if not self._checks.acquire(timeout=timeout_s):
            raise SignInError("sign-in is busy; try again in a moment")
        try:
            yield
        finally:
            self._checks.release()


def os_user() -> str:
    """The operating-system account running this process (``uid<N>`` when it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid{os.getuid()}"


def shell_actor(users_file: Path | None, as_name: str | None,
                password: str | None = None) -> Actor:
    """Who acts from the command line, for the audit trail.

    - ``--as NAME`` with a user file configured: NAME must be a password user of it and
      ``password`` theirs (whoever runs the CLI gains NAME's role only with NAME's password);
      recorded as ``"NAME (os user U)"``, so the shell account stays on record.
    - ``--as NAME`` without a user file: recorded as ``"NAME (os user U)"``, role ``admin``
      (no file to check it against).
    - no ``--as``: the OS user; its role from the user file when listed there, else ``admin``
      (whoever may run the CLI can already write the database file).

    Raises:
        ConfigError: ``--as`` names nobody in the configured user file, or the file is bad.
        SignInError: ``--as`` a user of the file without ``password`` or with a wrong one, or
            an OIDC identity (no password to check).
    """
    account = os_user()
    users = load_users(users_file)
    if as_name is not None:
        if users_file is None:
            return Actor(f"{check_name(as_name)} (os user {account})", "admin", "cli-as")
        if as_name not in users:
            raise ConfigError(f"--as {as_name!r}: no such user in {users_file} "
                              "(see `tonewatch users list`)")
        if password is None:
            raise SignInError(f"--as {as_name}: needs {as_name}'s password (prompted, or "
                              "--password-stdin)")
        user = verify_password(users, as_name, password)
        return Actor(f"{user.name} (os user {account})", user.role, "cli-as")
    known = users.get(account)
    return Actor(account, known.role if known else "admin", "os-user")
