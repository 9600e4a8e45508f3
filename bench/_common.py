"""Helpers shared by the scoring benchmark's modules (``bench/scoring.py`` and its parts).

Not a benchmark itself: inputs (tfns headlines), model resolution, the CPU line every benchmark
prints, a process's own peak RSS and latency percentiles.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TFNS_VALID = ROOT.parent / "shared" / "data" / "tfns" / "valid.csv"
TFNS_LABELS = {0: "negative", 1: "positive", 2: "neutral"}
#: Vector-instruction flags that decide transformer speed on a CPU, printed with every run.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def cpu_summary() -> str:
    """Model name, usable cores and the vector-instruction flags of this CPU (/proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    present = " ".join(f for f in CPU_FLAGS if f in flags) or "-"
    return (f"CPU: {model}; {len(os.sched_getaffinity(0))} usable cores of {os.cpu_count()}; "
            f"flags: {present}; load average {os.getloadavg()[0]:.2f}")


def load_inputs(limit: int | None, long_share: float = 0.1) -> tuple[list[str], list[str | None]]:
    """Headlines of tfns valid.csv plus generated long summaries; labels (None for summaries).

    A summary joins 6-9 headlines drawn with a fixed seed, so it is real financial text that
    fills most of the 128-token window. Every text goes through tonewatch's
    :func:`~pipeline.scoring.preprocess.model_input` (links removed) first, so the pipeline()
    variants see exactly what the tonewatch scorer sees.
    """
    import pandas as pd

    from pipeline.scoring.preprocess import model_input

    frame = pd.read_csv(TFNS_VALID)
    texts = [model_input(t) for t in frame["text"].astype(str)]
    labels: list[str | None] = [TFNS_LABELS[int(v)] for v in frame["label"]]
    rng = np.random.default_rng(8)
    summaries = [" ".join(rng.choice(texts, size=rng.integers(6, 10), replace=False))
                 for _ in range(int(len(texts) * long_share))]
    texts, labels = texts + summaries, labels + [None] * len(summaries)
    if limit:
        keep = np.sort(np.random.default_rng(9).permutation(len(texts))[:limit])
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    return texts, labels


def resolve_model(name: str) -> tuple[str, str]:
    """``(path, model_version)`` of a registry version, ``production`` or a directory."""
    from pipeline.config import load_settings
    from pipeline.registry import Registry

    if Path(name).is_dir():
        return str(Path(name).resolve()), Path(name).name
    record = Registry(load_settings().model_registry).get(name)
    return str(record.path), record.model_version


def peak_rss_mib() -> float:
    """This process's own peak resident set (``VmHWM`` of ``/proc/self/status``), MiB.

    Not ``wait4``'s ``ru_maxrss``: Linux carries the parent's high-water mark across the
    fork/exec that starts a child, so a parent that generated a big database would be billed
    to the child.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    values = np.asarray(latencies) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))
