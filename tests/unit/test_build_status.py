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
