"""The ``tonewatch`` command line: thin wrappers over :mod:`pipeline.run` and friends.

Every command parses its options, calls one library function and prints its result. A
:class:`~pipeline.errors.TonewatchError` is printed as one line (``tonewatch: error: ...``) with
exit status 1; anything else is a bug and shows a traceback.

Commands by group: :mod:`~pipeline.cli.stages` (run, ingest, import, score, detect, notify,
feeds), :mod:`~pipeline.cli.models` (train, evaluate, rescore, ``model ...``),
:mod:`~pipeline.cli.silences` (``silence ...``), :mod:`~pipeline.cli.corpus` (``corpus ...``),
:mod:`~pipeline.cli.companies` (``companies ...``), :mod:`~pipeline.cli.users` (``users ...``),
:mod:`~pipeline.cli.dashboard`; shared options and printing in :mod:`~pipeline.cli.common`.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from pipeline import __version__
from pipeline.cli import builds, dashboard, models, stages  # noqa: F401 - builds adds `model upgrade|status`
from pipeline.cli.common import err, out
from pipeline.cli.companies import companies_app
from pipeline.cli.corpus import corpus_app
from pipeline.cli.silences import silence_app
from pipeline.cli.users import users_app
from pipeline.errors import TonewatchError

app = typer.Typer(help="tonewatch: financial-news sentiment monitor.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

# `tonewatch --help` lists the commands in this order, then the groups.
_COMMANDS = (
    ("run", stages.run), ("ingest", stages.ingest), ("import", stages.import_),
    ("score", stages.score), ("rescore", models.rescore), ("detect", stages.detect),
    ("notify", stages.notify), ("feeds", stages.feeds), ("train", models.train),
    ("evaluate", models.evaluate), ("dashboard", dashboard.dashboard),
)
for _name, _command in _COMMANDS:
    app.command(_name)(_command)
app.add_typer(models.model_app, name="model")
app.add_typer(silence_app, name="silence")
app.add_typer(corpus_app, name="corpus")
app.add_typer(companies_app, name="companies")
app.add_typer(users_app, name="users")


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if version:
        out.print(f"tonewatch {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()


def main() -> None:
    """Console-script entry point: one line per expected error, exit status 1."""
    try:
        app()
    except TonewatchError as exc:
        err.print(f"tonewatch: error: {exc}", highlight=False, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("tonewatch: interrupted", highlight=False)
        sys.exit(130)
