"""The ``silence`` group: add, list and expire silences (muted notifications; rows kept for audit)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from pipeline.cli.common import now, out, settings
from pipeline.domain import as_utc, parse_instant
from pipeline.errors import ConfigError

silence_app = typer.Typer(help="Silences: mute notifications of matching alerts for a while.",
                          no_args_is_help=True)


@silence_app.command("add")
def silence_add(
    match: Annotated[list[str], typer.Option("--match", help="Label matcher, repeatable: "
                                             "entity=ACME, scope!=market, rule=~ticker.*")],
    author: Annotated[str, typer.Option(help="Who mutes (kept for audit).")],
    comment: Annotated[str, typer.Option(help="Why (kept for audit).")],
    duration: Annotated[str, typer.Option(help="How long: 30m, 12h, 2d, 1w.")] = "1d",
    starts: Annotated[Optional[str], typer.Option(help="Start (ISO, UTC); default now.")] = None,
) -> None:
    """Mute notifications of alerts whose labels (rule, scope, entity, severity) match."""
    from pipeline.alerting.silences import parse_matcher
    from pipeline.detection.rules import parse_duration
    from pipeline.storage.db import connect
    from pipeline.storage.silences import add_silence

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
    with connect(settings().db_path) as con:
        silence_id = add_silence(con, matchers, starts_at=start, ends_at=ends,
                                 author=author, comment=comment, now=created)
    out.print(f"silence {silence_id}: {', '.join(map(str, matchers))} until "
              f"{ends:%Y-%m-%d %H:%M} UTC", highlight=False)


@silence_app.command("list")
def silence_list(all_: Annotated[bool, typer.Option("--all", help="Include ended silences.")] = False) -> None:
    """Show active and future silences (with --all, ended ones too)."""
    from pipeline.storage.db import connect
    from pipeline.storage.silences import list_silences

    at = now()
    with connect(settings().db_path) as con:
        frame = list_silences(con, at=at, include_ended=all_)
    table = Table("id", "matchers", "starts (UTC)", "ends (UTC)", "state", "author", "comment")
    for r in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        matchers = ", ".join(f"{m['label']}{m['op']}{m['value']}" for m in json.loads(r["matchers"]))
        ended = r["expired_at"] or (r["ends_at"] if r["ends_at"] <= at else None)
        state = ("expired" if r["expired_at"] else "ended") if ended else (
            "pending" if r["starts_at"] > at else "active")
        table.add_row(r["silence_id"], matchers, f"{r['starts_at']:%Y-%m-%d %H:%M}",
                      f"{r['ends_at']:%Y-%m-%d %H:%M}", state, r["author"], r["comment"])
    out.print(table)


@silence_app.command("expire")
def silence_expire(silence_id: Annotated[str, typer.Argument(help="Id from `tonewatch silence list`.")]) -> None:
    """End a silence now (it stays listed with --all, for audit)."""
    from pipeline.storage.db import connect
    from pipeline.storage.silences import expire_silence

    with connect(settings().db_path) as con:
        expire_silence(con, silence_id, now())
    out.print(f"silence {silence_id} expired")
