"""The ``silence`` group: add, list and expire silences (muted notifications; rows kept for audit)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from pipeline.cli.common import PasswordStdinOption, now, out, read_password, settings
from pipeline.domain import as_utc, parse_instant
from pipeline.errors import ConfigError

silence_app = typer.Typer(help="Silences: mute notifications of matching alerts for a while.",
                          no_args_is_help=True)


AsOption = Annotated[Optional[str], typer.Option(
    "--as", help="Act as this user of TONEWATCH_USERS_FILE, with their password (prompted, or "
                 "--password-stdin); recorded with the OS user. Default: the OS user.")]


def _actor(as_name: str | None, password_stdin: bool):
    """The acting user (:func:`pipeline.access.users.shell_actor`); ``--as`` with a user file
    configured reads that user's password first."""
    from pipeline.access.users import load_users, shell_actor

    users_file = settings().users_file
    # Ask only for a listed name (an unknown one is refused by name, without a prompt).
    listed = as_name is not None and users_file is not None and as_name in load_users(users_file)
    return shell_actor(users_file, as_name, read_password(password_stdin) if listed else None)


@silence_app.command("add")
def silence_add(
    match: Annotated[list[str], typer.Option("--match", help="Label matcher, repeatable: "
                                             "entity=ACME, scope!=market, rule=~ticker.*")],
    comment: Annotated[str, typer.Option(help="Why (kept for audit).")],
    duration: Annotated[str, typer.Option(help="How long: 30m, 12h, 2d, 1w (at most "
                                          "TONEWATCH_SILENCE_MAX_HOURS).")] = "1d",
    starts: Annotated[Optional[str], typer.Option(help="Start (ISO, UTC); default now.")] = None,
    as_: AsOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Mute notifications of alerts whose labels (rule, scope, entity, severity) match.

    The author is the OS user (or --as); a silence that can match every alert of a scope or the
    market-wide alert needs the admin role (TONEWATCH_SILENCE_BROAD_ROLE).
    """
    from pipeline.alerting.silences import SilencePolicy, parse_matcher
    from pipeline.alerting.silencing import create_silence
    from pipeline.detection.rules import parse_duration

    config = settings()
    matchers = [parse_matcher(m) for m in match]
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise ConfigError(f"--duration {duration!r}: {exc}") from exc
    created = now()
    start = parse_instant(starts, "--starts") or created
    try:
        ends = as_utc(start + length)
    except (OverflowError, ConfigError) as exc:
        raise ConfigError(f"--duration {duration!r} ends after the year 2199") from exc
    actor = _actor(as_, password_stdin)
    silence_id = create_silence(config.db_path, matchers, starts_at=start, ends_at=ends,
                                actor=actor, comment=comment, now=created,
                                policy=SilencePolicy.from_settings(config))
    # markup=False: matchers and names are data; "[/b]" in one must print as written.
    out.print(f"silence {silence_id}: {', '.join(map(str, matchers))} until "
              f"{ends:%Y-%m-%d %H:%M} UTC, by {actor.name}", highlight=False, markup=False)


@silence_app.command("list")
def silence_list(all_: Annotated[bool, typer.Option("--all", help="Include ended silences.")] = False) -> None:
    """Show active and future silences (with --all, ended ones too)."""
    from pipeline.storage.db import connect
    from pipeline.storage.silences import list_silences

    at = now()
    with connect(settings().db_path) as con:
        frame = list_silences(con, at=at, include_ended=all_)
    table = Table("id", "matchers", "starts (UTC)", "ends (UTC)", "state", "author", "comment",
                  "created (UTC)", "expired by", "expiry comment")
    for r in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        matchers = ", ".join(f"{m['label']}{m['op']}{m['value']}" for m in json.loads(r["matchers"]))
        ended = r["expired_at"] or (r["ends_at"] if r["ends_at"] <= at else None)
        state = ("expired" if r["expired_at"] else "ended") if ended else (
            "pending" if r["starts_at"] > at else "active")
        # Text cells: stored values are data, never rich markup (a comment "[/b]" would
        # crash the table, "[link=...]" would become a terminal hyperlink).
        table.add_row(*(Text(str(cell)) for cell in (
            r["silence_id"], matchers, f"{r['starts_at']:%Y-%m-%d %H:%M}",
            f"{r['ends_at']:%Y-%m-%d %H:%M}", state, r["author"], r["comment"],
            f"{r['created_at']:%Y-%m-%d %H:%M}", r.get("expired_by") or "",
            r.get("expiry_comment") or "")))
    out.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="Id from `tonewatch silence list`.")],
    comment: Annotated[str, typer.Option(help="Why it ends now (kept for audit).")],
    as_: AsOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """End a silence now (it stays listed with --all, with who ended it and why)."""
    from pipeline.alerting.silences import SilencePolicy
    from pipeline.alerting.silencing import expire

    config = settings()
    actor = _actor(as_, password_stdin)
    expire(config.db_path, silence_id, actor=actor, comment=comment, now=now(),
           policy=SilencePolicy.from_settings(config))
    out.print(f"silence {silence_id} expired by {actor.name}", highlight=False, markup=False)
