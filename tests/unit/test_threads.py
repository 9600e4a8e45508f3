"""The CPU thread policy (pipeline/scoring/threads.py) on fake load readings; no timing."""

from __future__ import annotations

import os

import pytest

from pipeline.scoring import threads
from pipeline.scoring.threads import busy_cores, choose_threads, cpu_threads


@pytest.mark.parametrize(("available", "busy", "expected"), [
    (2, 0.0, 2),   # idle machine: one thread per core
    (2, 0.3, 2),   # light background work keeps both
    (2, 1.0, 1),   # one core spinning elsewhere: one thread
    (2, 0.5, 1),   # one busy process the scheduler spreads over both cores (2 x 25 %)
    (2, 2.0, 1),   # everything busy: still one thread
    (8, 3.2, 5),
    (1, 1.0, 1),
    (4, 9.0, 1),   # readings above the core count are clipped
])
def test_one_thread_per_core_that_other_work_leaves_free(available, busy, expected):
    assert choose_threads(available, busy) == expected


def test_operators_override_the_policy():
    assert choose_threads(2, 2.0, "2") == 2
    assert choose_threads(2, 1.0, "all") == 2
    assert choose_threads(8, 0.0, " 3 ") == 3
    assert choose_threads(2, 1.0, "") == 1  # empty means unset
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match="TONEWATCH_THREADS"):
            choose_threads(2, 0.0, bad)


def _stat(path, rows):
    """Write a /proc/stat with ``rows`` = {cpu: (user, idle)} (other fields 0)."""
    total = [sum(r[0] for r in rows.values()), sum(r[1] for r in rows.values())]
    lines = [f"cpu  {total[0]} 0 0 {total[1]} 0 0 0 0 0 0"]
    lines += [f"cpu{n} {user} 0 0 {idle} 0 0 0 0 0 0" for n, (user, idle) in rows.items()]
    path.write_text("\n".join(lines + ["intr 1 2 3", "ctxt 42"]) + "\n")


def test_busy_cores_reads_two_samples_of_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    readings = iter([{0: (100, 100), 1: (50, 150), 2: (0, 0)},
                     {0: (200, 100), 1: (75, 225), 2: (0, 100)}])  # cpu0 100 %, cpu1 25 %, cpu2 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(threads.time, "sleep", lambda s: _stat(stat, next(readings)))
    _stat(stat, next(readings))
    assert busy_cores(0.0, str(stat)) == pytest.approx(1.25)


def test_busy_cores_counts_only_the_cores_this_process_may_use(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    readings = iter([{0: (0, 0), 1: (0, 0)}, {0: (100, 0), 1: (0, 100)}])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1})
    monkeypatch.setattr(threads.time, "sleep", lambda s: _stat(stat, next(readings)))
    _stat(stat, next(readings))
    assert busy_cores(0.0, str(stat)) == 0.0


def test_busy_cores_falls_back_to_the_load_average(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 1.0, 1.0))
    assert busy_cores(0.0, str(tmp_path / "absent")) == 2.0


def test_cpu_threads_uses_the_override_without_sampling(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads, "busy_cores", lambda *a: pytest.fail("sampled"))
    monkeypatch.setenv("TONEWATCH_THREADS", "all")
    assert cpu_threads() == 2
    monkeypatch.setenv("TONEWATCH_THREADS", "1")
    assert cpu_threads() == 1
    monkeypatch.setenv("TONEWATCH_THREADS", "lots")
    with pytest.raises(ValueError, match="TONEWATCH_THREADS='lots'"):
        cpu_threads()


def test_cpu_threads_follows_the_measured_load(monkeypatch):
    monkeypatch.delenv("TONEWATCH_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads, "busy_cores", lambda *a: 1.0)
    assert cpu_threads() == 1
    monkeypatch.setattr(threads, "busy_cores", lambda *a: 0.1)
    assert cpu_threads() == 2
