"""Safe defaults for serving the dashboard: no sign-in, no network.

Viewing stays open on the loopback interface; any other address serves the dashboard to a
network, so it needs a way to sign in first: a user file with password users
(``TONEWATCH_USERS_FILE``) or Streamlit's OIDC login (an ``[auth]`` section in the secrets file
named by ``TONEWATCH_DASHBOARD_SECRETS_FILE``). The dashboard applies the same rule to its own
``server.address`` (so ``streamlit run`` cannot skip it), and beyond loopback asks visitors to
sign in before they read unless ``TONEWATCH_DASHBOARD_ANONYMOUS_READ`` is true.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

from pipeline.access.users import load_users
from pipeline.errors import ConfigError

#: The one line printed when the dashboard would serve a network without sign-in.
NO_SIGN_IN_MESSAGE = (
    "refusing to serve the dashboard on {address} without sign-in: add users with "
    "`tonewatch users add NAME --role admin` and set TONEWATCH_USERS_FILE (or configure OIDC in "
    "the secrets file named by TONEWATCH_DASHBOARD_SECRETS_FILE), or serve on 127.0.0.1")


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or ``localhost``) only accepts connections from this host.

    An empty address means every interface (Streamlit's default), so it is not loopback.
    """
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def oidc_configured(secrets_file: Path | None) -> bool:
    """Whether ``secrets_file`` (Streamlit's secrets.toml) has an ``[auth]`` section with a
    provider (``client_id`` in ``[auth]`` or in a named ``[auth.NAME]``).

    Raises:
        ConfigError: the file is named but missing or not TOML (the message never shows its
            contents: they are secrets).
    """
    if secrets_file is None:
        return False
    try:
        auth = tomllib.loads(Path(secrets_file).read_text(encoding="utf-8")).get("auth") or {}
    except OSError as exc:
        raise ConfigError(f"cannot read TONEWATCH_DASHBOARD_SECRETS_FILE {secrets_file}: "
                          f"{exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"TONEWATCH_DASHBOARD_SECRETS_FILE {secrets_file} is not valid "
                          "TOML") from exc
    return "client_id" in auth or any(isinstance(v, dict) and "client_id" in v
                                      for v in auth.values())


def sign_in_methods(users_file: Path | None, secrets_file: Path | None) -> list[str]:
    """The configured ways to sign in: ``"password"`` (a user file with at least one password
    user) and/or ``"oidc"``; empty when nobody can sign in.

    Raises:
        ConfigError: a bad user file or secrets file.
    """
    methods = []
    if any(u.password_hash for u in load_users(users_file).values()):
        methods.append("password")
    if oidc_configured(secrets_file):
        methods.append("oidc")
    return methods


def check_serving(address: str, users_file: Path | None, secrets_file: Path | None) -> None:
    """Refuse to serve a network without sign-in.

    Raises:
        ConfigError: ``address`` is not loopback and :func:`sign_in_methods` is empty
            (:data:`NO_SIGN_IN_MESSAGE`).
    """
    if not is_loopback(address) and not sign_in_methods(users_file, secrets_file):
        raise ConfigError(NO_SIGN_IN_MESSAGE.format(address=address or "every interface"))
