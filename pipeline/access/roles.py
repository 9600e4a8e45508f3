"""Roles and the acting user: every change of state names who did it and needs a role.

Roles are ordered; a higher role may do everything a lower one may:

- ``viewer``: reads the dashboard (the same as an anonymous visitor on loopback);
- ``responder``: creates and expires silences of one entity of one scope;
- ``admin``: also silences that can match every alert of a scope, or the market-wide alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import AccessDeniedError, ConfigError

ROLES = ("viewer", "responder", "admin")

#: Action → the lowest role allowed to do it.
PERMISSIONS = {"silence.create": "responder", "silence.expire": "responder"}


@dataclass(frozen=True)
class Actor:
    """Who performs an action, as the audit trail records it.

    Attributes:
        name: the user's name (user-file name, OIDC e-mail, or the operating-system user).
        role: one of :data:`ROLES`.
        via: how the identity was established: ``password`` (dashboard sign-in against the
            user file), ``oidc`` (Streamlit's OIDC login), ``os-user`` (the shell account
            running the CLI) or ``cli-as`` (the CLI's ``--as``, checked against the user file).
    """

    name: str
    role: str
    via: str


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`.

    Raises:
        ConfigError: any other value (the message lists the roles).
    """
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` is ``needed`` or higher (unknown roles allow nothing)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def require(actor: Actor | None, action: str) -> Actor:
    """Return ``actor`` when it may perform ``action`` (a key of :data:`PERMISSIONS`).

    This is the server-side check every write calls, whatever the front end showed.

    Raises:
        AccessDeniedError: no actor (not signed in), or a role below the action's.
        KeyError: an action missing from :data:`PERMISSIONS` (a bug).
    """
    needed = PERMISSIONS[action]
    if actor is None:
        raise AccessDeniedError(f"sign in as a {needed} or admin to do that ({action})")
    if not role_allows(actor.role, needed):
        raise AccessDeniedError(
            f"{actor.name} has the role {actor.role}; {action} needs {needed} or higher")
    return actor
