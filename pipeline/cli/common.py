"""What every ``tonewatch`` command shares: the consoles, the common options, result printing.

Commands read the clock here, at the edge (:func:`instant_or_now`); library stages take the
instant as an argument.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Optional

import typer
from rich.console import Console

from pipeline.config import Settings, load_settings
from pipeline.domain import StageResult, parse_instant
from pipeline.errors import ConfigError

# Tables are wide; when output goes to a pipe or log, rich would otherwise wrap at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

AtOption = Annotated[Optional[str], typer.Option(
    "--at", help="Run instant, ISO-8601 (e.g. 2026-03-06 or 2026-03-06T06:30Z); default now, UTC. "
                 "Zone-less values are UTC.")]
FeedsOption = Annotated[Optional[list[str]], typer.Option(
    "--feeds", help="Extra feed URL, file or glob (repeatable; further paths may follow as arguments).")]
SourcesArg = Annotated[Optional[list[str]], typer.Argument(
    help="More feed URLs, files or globs.", show_default=False)]
PasswordStdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin.")]
NoConfigOption = Annotated[bool, typer.Option(
    "--no-config", help="Ignore the configured feeds file; ingest only the given sources.")]


def settings() -> Settings:
    """The settings from the environment and config files (read once per command)."""
    return load_settings()


def now() -> datetime:
    """The current instant, aware UTC: the one place the CLI reads the clock."""
    return datetime.now(UTC)


def instant_or_now(value: str | None, option: str = "--at") -> datetime:
    """An instant option's value in UTC (:func:`pipeline.domain.parse_instant`); absent → now.

    Args:
        value: the option as typed, or None / ``''`` when absent.
        option: the option's name for the error message (``--at``, ``--until``, ``--starts``).

    Raises:
        ConfigError: not ISO-8601, or outside the years 1970 to 2199.
    """
    return parse_instant(value, option) or now()


def read_password(from_stdin: bool, *, confirm: bool = False) -> str:
    """A password from the first line of stdin (``from_stdin``) or a hidden terminal prompt.

    Never from an option: it would show in ``ps`` and the shell history.

    Args:
        from_stdin: read the first line of standard input (``--password-stdin``).
        confirm: prompt twice (a new password).

    Raises:
        ConfigError: no ``from_stdin`` and stdin is not a terminal (the prompt could echo the
            password into a log); the message points to ``--password-stdin``.
    """
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the password without echoing it: pipe it "
                          "in with --password-stdin")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


def print_result(result: StageResult) -> None:
    """A stage's one-line summary on stdout, then its messages indented by two spaces."""
    out.print(result.summary(), highlight=False)
    for message in result.messages:
        out.print(f"  {message}", highlight=False)


def feed_line(line: str) -> None:
    """One per-feed progress line on stderr, indented by two spaces, printed verbatim."""
    err.print(f"  {line}", highlight=False, markup=False)


def score_progress() -> Callable[[int, int], None] | None:
    """Per-chunk progress lines for logs; on a terminal the progress bar does this job."""
    if sys.stderr.isatty():
        return None
    return lambda done, total: err.print(
        f"  scored {done}/{total} (articles, then links toward companies)", highlight=False)
