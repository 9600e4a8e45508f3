"""How many CPU threads the forward and backward passes use.

One owner for the thread policy of PyTorch (scoring and training) and ONNX Runtime sessions.

The policy (:func:`choose_threads`): one intra-op thread per available core that other work
leaves free, at least one. An OpenMP parallel region ends at a barrier that waits for its
slowest thread; a thread that shares its core with another busy process gets about half of it,
so every step waits for it, and the threads on free cores spin at the barrier meanwhile. With 2
cores and one kept busy by another process, 2 threads trained several times slower than 1
thread (``bench/training.py --speed``; the README's "Training speed" tables).

Busy cores are read from ``/proc/stat`` (the share of non-idle time of each core this process
may run on, over :data:`SAMPLE_S`), or from the 1-minute load average where that file is absent.
``TONEWATCH_THREADS`` overrides the decision: an integer >= 1 is the thread count, ``all`` is one
per available core (the old policy).
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("tonewatch")

#: Seconds over which :func:`busy_cores` samples ``/proc/stat``.
SAMPLE_S = 0.25
#: A core counts as taken by other work from this share of busy time in the sample.
BUSY_SHARE = 0.5
#: Environment variable that overrides the thread policy (an integer >= 1, or ``all``).
THREADS_ENV = "TONEWATCH_THREADS"


def available_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; CPU quotas of containers that
    pin cores are honoured, ``os.cpu_count`` is only the fallback where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _cpu_times(path: str = "/proc/stat") -> dict[int, tuple[int, int]]:
    """``{cpu: (busy ticks, total ticks)}`` from ``/proc/stat`` (idle = idle + iowait)."""
    times = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
            idle = ticks[3] + ticks[4]
            times[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return times


def busy_cores(sample_s: float = SAMPLE_S, stat_path: str = "/proc/stat") -> float:
    """How many of this process's available cores other work keeps busy now, in cores.

    The sum over the cores of ``os.sched_getaffinity`` of each core's busy share (user, nice,
    system, irq, softirq and steal time over all time) between two reads of ``/proc/stat``
    ``sample_s`` seconds apart. Call it while this process itself computes nothing (at start,
    between epochs), or its own threads count as other work. Where ``/proc/stat`` is missing,
    the 1-minute load average (``os.getloadavg``) capped at the core count stands in; where
    neither exists, 0.

    Returns:
        busy cores, ``0 <= busy <= available_cores()`` (e.g. 1.0: one core fully taken).
    """
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        before = _cpu_times(stat_path)
        time.sleep(sample_s)
        after = _cpu_times(stat_path)
    except (OSError, ValueError, IndexError):
        try:
            return min(float(available_cores()), os.getloadavg()[0])
        except (OSError, AttributeError):
            return 0.0
    busy = 0.0
    for cpu in (cores if cores is not None else after.keys()):
        if cpu not in before or cpu not in after:
            continue
        total = after[cpu][1] - before[cpu][1]
        if total > 0:
            busy += max(0.0, min(1.0, (after[cpu][0] - before[cpu][0]) / total))
    return busy


def choose_threads(available: int, busy: float, override: str | None = None) -> int:
    """Intra-op threads for ``available`` cores of which other work keeps ``busy`` busy.

    One thread per core left free: ``available - floor(busy + 1 - BUSY_SHARE)`` (a core counts
    as taken from a busy share of :data:`BUSY_SHARE`, summed over cores because the scheduler
    spreads one busy process over several), at least 1.

    Args:
        available: cores this process may run on (>= 1).
        busy: busy cores measured by :func:`busy_cores` (clipped to ``[0, available]``).
        override: the value of ``TONEWATCH_THREADS``: an integer >= 1 (used as is), ``all``
            (one per available core), or None / empty (decide from ``busy``).

    Raises:
        ValueError: ``override`` is neither an integer >= 1 nor ``all`` (names the variable).
    """
    if override is not None and override.strip():
        value = override.strip().lower()
        if value == "all":
            return max(1, available)
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{THREADS_ENV}={override!r}: use an integer >= 1 or 'all'")
        return int(value)
    taken = int(max(0.0, min(float(available), busy)) + 1 - BUSY_SHARE)
    return max(1, available - taken)


def cpu_threads(sample_s: float = SAMPLE_S) -> int:
    """The thread count of the policy now: :func:`choose_threads` on :func:`available_cores`,
    :func:`busy_cores` and ``TONEWATCH_THREADS`` (no sampling when the override is set).

    For ONNX Runtime sessions (``intra_op_num_threads``) and torch alike; costs ``sample_s``.

    Raises:
        ValueError: ``TONEWATCH_THREADS`` is malformed.
    """
    override = os.environ.get(THREADS_ENV)
    available = available_cores()
    if (override and override.strip()) or available == 1:
        return choose_threads(available, 0.0, override)
    busy = busy_cores(sample_s)
    threads = choose_threads(available, busy)
    if threads < available:
        log.info("%.1f of %d cores busy with other work: %d intra-op thread(s)",
                 busy, available, threads)
    return threads


def passive_wait_env() -> None:
    """Make OpenMP threads sleep, not spin, while they wait (``OMP_WAIT_POLICY=PASSIVE``),
    unless the user set a policy. Only takes effect before torch is first imported (libgomp
    reads it when loaded); a no-op afterwards."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def configure_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads by the policy (:func:`cpu_threads`); return the count.

    Also sets ``TOKENIZERS_PARALLELISM=false`` unless the user chose otherwise: a chunk is
    tokenized before its forward passes, which already use every core, and the Rust thread pool
    of a tokenizer that was used before a ``fork`` (Airflow's task runner, multiprocessing)
    deadlocks or warns in the child.

    Args:
        threads: use this count instead of the policy's.

    Raises:
        ValueError: ``TONEWATCH_THREADS`` is malformed.
    """
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(threads or cpu_threads())
    return torch.get_num_threads()
