"""The build status file: phases, progress and ETA, atomic writes, a dead builder reads failed."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline.training import status as build_status
from pipeline.training.status import StatusWriter, read_status, status_path


def test_phases_progress_and_eta(tmp_path, monkeypatch):
    clock = iter([100.0, 100.0, 100.0, 110.0, 110.0, 120.0, 120.0, 130.0, 130.0])
    monkeypatch.setattr(build_status.time, "monotonic", lambda: next(clock))
    writer = StatusWriter(tmp_path, "m", log="/x/build.log")
    writer.phase("fine-tuning", total=100)
    writer.progress(20)  # 20 steps in 10 s: 2 steps/s, 80 left → 40 s
    status = read_status(tmp_path, "m")
    assert (status.state, status.phase, status.step, status.total) == ("running", "fine-tuning", 20, 100)
    assert status.rate == 2.0 and status.eta_seconds == 40.0 and status.fraction == 0.2
    assert status.log == "/x/build.log"
    writer.finish("promoted", "promoted m-2", model_version="m-2")
    status = read_status(tmp_path, "m")
    assert (status.state, status.phase, status.message) == ("done", "promoted", "promoted m-2")
    assert [h["phase"] for h in status.history] == ["fine-tuning", "promoted"]
    assert status.fraction is None  # the final phase counts no steps


def test_progress_writes_are_throttled_but_the_last_step_always_lands(tmp_path):
    writer = StatusWriter(tmp_path, "m")
    writer.phase("rescoring", total=3)
    writer.progress(1)  # right after the phase's own write: kept in memory only
    assert read_status(tmp_path, "m").step == 0
    writer.progress(3)
    assert read_status(tmp_path, "m").step == 3


def test_a_running_build_whose_process_is_gone_reads_as_failed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    writer = StatusWriter(tmp_path, "m")
    writer.phase("fine-tuning", total=10)
    data = json.loads(status_path(tmp_path, "m").read_text())
    data["pid"] = int(dead.stdout)
    status_path(tmp_path, "m").write_text(json.dumps(data))
    status = read_status(tmp_path, "m")
    assert status.state == "failed" and "ended during 'fine-tuning'" in status.message


def test_failure_message_and_missing_or_damaged_files(tmp_path):
    assert read_status(tmp_path, "m") is None
    writer = StatusWriter(tmp_path, "m")
    writer.fail("cannot load base model")
    status = read_status(tmp_path, "m")
    assert (status.state, status.message) == ("failed", "cannot load base model")
    status_path(tmp_path, "m").write_text("{half a fi")
    assert read_status(tmp_path, "m") is None
    assert not list(status_path(tmp_path, "m").parent.glob("*.tmp"))


def test_upgrade_detach_starts_one_build_and_a_second_call_sees_it(tmp_path, monkeypatch):
    """`tonewatch model upgrade --detach` records its child at once, so a second call (a second
    `make demo` a moment later) starts nothing."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.cli import builds

    registry = tmp_path / "registry"
    version = "tonewatch-minilm-20260101-000000"
    (registry / "tonewatch-minilm" / version).mkdir(parents=True)
    (registry / "tonewatch-minilm" / version / "registry.json").write_text(json.dumps({
        "model_version": version, "name": "tonewatch-minilm", "stage": "production",
        "created_at": "2026-01-01T00:00:00+00:00", "recipe": "quick", "metrics": {}}))
    started = []
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    class FakeChild:  # a live process stands in for the build
        pid = sleeper.pid

        def __init__(self, args, **kwargs):
            started.append(args)

    monkeypatch.setattr(builds.subprocess, "Popen", FakeChild)
    monkeypatch.setenv("TONEWATCH_MODEL_REGISTRY", str(registry))
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    try:
        _detach_twice(runner, app, registry, tmp_path, started, sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()


def _detach_twice(runner, app, registry, tmp_path, started, child_pid):
    first = runner.invoke(app, ["model", "upgrade", "--detach"])
    assert first.exit_code == 0, first.output
    assert "in the background" in first.output and len(started) == 1
    assert started[0][-3:] == ["pipeline.cli", "model", "upgrade"]
    status = read_status(registry, "tonewatch-minilm")
    assert (status.state, status.pid) == ("running", child_pid)
    assert status.log == str(tmp_path / "data" / "logs" / "model-upgrade.log")
    second = runner.invoke(app, ["model", "upgrade", "--detach"])
    assert second.exit_code == 0 and "already running" in second.output
    assert len(started) == 1
