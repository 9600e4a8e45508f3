"""``tonewatch model upgrade`` and ``tonewatch model status``: the full default model's build,
in the foreground or behind the running demo, and what it is doing now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import err, now, out, settings
from pipeline.cli.models import model_app
from pipeline.errors import TonewatchError


def _log_path(data_dir: Path) -> Path:
    return (Path(data_dir) / "logs" / "model-upgrade.log").resolve()


@model_app.command("upgrade")
def model_upgrade(
    detach: Annotated[bool, typer.Option(
        "--detach", help="Run in the background (its own session, nice 10) and return at once; "
                         "output goes to DATA_DIR/logs/model-upgrade.log, progress to "
                         "`tonewatch model status` and the dashboard's Model page.")] = False,
) -> None:
    """Build the full default model and promote it if it beats the quick first model.

    The candidate is registered, the stored articles are rescored with it and compared with
    production's labels and alerts (shadow rescore), it is promoted when its validation macro-F1
    is higher and it passes the canary, and detection is replayed. Nothing happens when
    production is already a full model. A second call while one runs does nothing.
    """
    from pipeline.lifecycle import is_quick, upgrade_default_model
    from pipeline.registry import DEFAULT_NAME, Registry
    from pipeline.training.status import RUNNING, StatusWriter, read_status

    config = settings()
    registry = Registry(config.model_registry)
    try:
        production = registry.get("production")
    except TonewatchError:
        production = None
    if production is not None and not is_quick(production):
        out.print(f"production is {production.model_version}, a full model: nothing to upgrade")
        return
    running = read_status(registry.root, DEFAULT_NAME)
    if running is not None and running.state == RUNNING and running.pid != os.getpid():
        out.print(f"a build is already running (pid {running.pid}, {running.phase}); "
                  "see `tonewatch model status`")
        return
    if detach:
        log = _log_path(config.data_dir)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as handle:
            proc = subprocess.Popen(
                ["nice", "-n", "10", sys.executable, "-m", "pipeline.cli", "model", "upgrade"],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "TONEWATCH_UPGRADE_LOG": str(log)})
        # Recorded before the child has even imported torch, so that a second call right away
        # sees a running build and starts no other (the child then writes its own phases).
        StatusWriter(registry.root, DEFAULT_NAME, log=str(log), pid=proc.pid)
        out.print(f"building the full default model in the background (pid {proc.pid}); "
                  f"log: {log}; progress: `tonewatch model status` or the dashboard's Model page")
        return
    log_file = os.environ.get("TONEWATCH_UPGRADE_LOG")  # set by --detach: the bars go to the log
    outcome = upgrade_default_model(config, now=now, progress=sys.stderr.isatty() or bool(log_file),
                                    log_file=log_file)
    out.print(outcome.message)


@model_app.command("status")
def model_status() -> None:
    """What the production model is and what the default model's build is doing (phase,
    progress, ETA)."""
    from pipeline.registry import DEFAULT_NAME, Registry
    from pipeline.training.status import read_status

    config = settings()
    registry = Registry(config.model_registry)
    try:
        production = registry.get("production")
        recipe = production.info.get("recipe", "custom")
        m = production.metrics
        out.print(f"production: {production.model_version} ({recipe} recipe; validation accuracy "
                  f"{m.get('accuracy', float('nan')):.3f}, macro-F1 {m.get('macro_f1', float('nan')):.3f})")
    except TonewatchError:
        out.print(f"production: none in {registry.root} (`tonewatch model ensure-default`)")
    status = read_status(registry.root, DEFAULT_NAME)
    if status is None:
        out.print("build: none recorded")
        return
    line = f"build: {status.state}, {status.phase}"
    if status.total:
        line += f", {status.step}/{status.total} ({status.fraction:.0%})"
    if status.eta_seconds is not None and status.state == "running":
        minutes, seconds = divmod(int(status.eta_seconds), 60)
        line += f", about {minutes} min {seconds:02d} s left"
    out.print(line, highlight=False)
    if status.message:
        out.print(f"  {status.message}", highlight=False)
    if status.log:
        out.print(f"  log: {status.log}", highlight=False)
    if status.state == "failed":
        err.print("the last build failed; run `tonewatch model upgrade` to try again")
        raise typer.Exit(1)
