"""The ``users`` group: the dashboard's user file (roles and Argon2id password hashes).

Passwords are read from a hidden prompt or, with ``--password-stdin``, from the first line of
standard input; never from an option (it would show in ``ps`` and the shell history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from pipeline.cli.common import PasswordStdinOption, err, out, read_password, settings
from pipeline.errors import ConfigError

users_app = typer.Typer(help="Dashboard users: who may sign in, with which role "
                             "(viewer, responder, admin).", no_args_is_help=True)

FileOption = Annotated[Optional[Path], typer.Option(
    "--file", help="User file; default TONEWATCH_USERS_FILE.")]


def _users_file(file: Path | None) -> Path:
    from pipeline.access.users import file_mode_warning

    path = file or settings().users_file
    if path is None:
        raise ConfigError("no user file: set TONEWATCH_USERS_FILE=/path/outside/the/repo/users.yaml "
                          "(or pass --file)")
    warning = file_mode_warning(path)
    if warning:
        err.print(warning, highlight=False, markup=False)
    return path


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name (or an OIDC e-mail with --oidc).")],
    role: Annotated[str, typer.Option(help="viewer, responder or admin.")] = "viewer",
    oidc: Annotated[bool, typer.Option("--oidc", help="An identity-provider user: role only, "
                                       "no password.")] = False,
    password_stdin: PasswordStdinOption = False,
    file: FileOption = None,
) -> None:
    """Add a user (prompts for the password twice unless --oidc or --password-stdin)."""
    from pipeline.access.roles import check_role
    from pipeline.access.users import add_user, check_name

    path = _users_file(file)
    check_name(name)
    check_role(role)
    password = None if oidc else read_password(password_stdin, confirm=True)
    user = add_user(path, name, role, password)
    out.print(f"user {user.name} added to {path} with role {user.role}", highlight=False, markup=False)


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="The user to remove.")],
                 file: FileOption = None) -> None:
    """Remove a user (their existing dashboard sessions end at their next action, and stay
    ended if the name is added again)."""
    from pipeline.access.users import remove_user

    path = _users_file(file)
    remove_user(path, name)
    out.print(f"user {name} removed from {path}", highlight=False, markup=False)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: PasswordStdinOption = False,
    file: FileOption = None,
) -> None:
    """Set a user's new password; their open dashboard sessions end at their next action."""
    from pipeline.access.users import set_password

    path = _users_file(file)
    user = set_password(path, name, read_password(password_stdin, confirm=True))
    out.print(f"user {user.name}: password changed; their sessions are signed out",
              highlight=False, markup=False)


@users_app.command("set-role")
def users_set_role(name: Annotated[str, typer.Argument(help="The user.")],
                   role: Annotated[str, typer.Argument(help="viewer, responder or admin.")],
                   file: FileOption = None) -> None:
    """Change a user's role."""
    from pipeline.access.users import set_role

    path = _users_file(file)
    user = set_role(path, name, role)
    out.print(f"user {user.name} now has role {user.role}", highlight=False, markup=False)


@users_app.command("list")
def users_list(file: FileOption = None) -> None:
    """List users, their roles and how they sign in (no hash is printed)."""
    from pipeline.access.users import load_users

    path = _users_file(file)
    table = Table("user", "role", "sign-in")
    for user in sorted(load_users(path).values(), key=lambda u: u.name):
        table.add_row(Text(user.name), user.role, "password" if user.password_hash else "oidc")
    out.print(table)
