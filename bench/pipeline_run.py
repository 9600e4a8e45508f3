"""Benchmark one full `tonewatch run` (ingest → score → detect → notify) on local feeds.

Runs the pipeline in-process twice on a fresh temporary data dir — a cold pass that stores and
scores everything, then a warm pass over the same feeds that must add nothing — and prints the
wall time of each stage, the counts, and peak RSS. Uses the production model of the registry
(`TONEWATCH_MODEL_REGISTRY`, default models/registry; build it with `make model`).

Usage: .venv/bin/python bench/pipeline_run.py [FEED_GLOB ...]
Default feeds: tests/fixtures/feeds/* and ../shared/real_feeds/*.xml when present.
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import load_settings  # noqa: E402
from pipeline.run import run_pipeline  # noqa: E402


def main(argv: list[str]) -> None:
    feeds = argv or [str(ROOT / "tests/fixtures/feeds/*")] + (
        [str(ROOT.parent / "shared/real_feeds/*.xml")] if (ROOT.parent / "shared/real_feeds").is_dir() else [])
    data_dir = Path(tempfile.mkdtemp(prefix="tonewatch-bench-"))
    settings = load_settings(data_dir=data_dir)
    at = datetime.now(UTC)
    passes = {}
    for name in ("cold", "warm"):
        timings: dict[str, float] = {}
        last = [time.perf_counter()]

        def on_stage(result, timings=timings, last=last):
            now = time.perf_counter()
            timings[result.stage] = round(now - last[0], 2)
            timings[f"{result.stage}_counts"] = result.counts
            last[0] = now

        started = time.perf_counter()
        run_pipeline(settings, at=at, extra_sources=feeds, use_config=False, on_stage=on_stage,
                     on_feed=lambda line: None)
        timings["total"] = round(time.perf_counter() - started, 2)
        passes[name] = timings
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'pass':<6}{'ingest s':>10}{'score s':>10}{'detect s':>10}{'notify s':>10}{'total s':>10}")
    for name, t in passes.items():
        print(f"{name:<6}{t['ingest']:>10}{t['score']:>10}{t['detect']:>10}{t['notify']:>10}{t['total']:>10}")
    cold = passes["cold"]
    print(f"cold counts: ingest {cold['ingest_counts']}\n             score {cold['score_counts']}\n"
          f"             detect {cold['detect_counts']}")
    print(f"peak RSS {peak_mb:.0f} MB; data dir {data_dir}")
    scored = cold["score_counts"].get("scored", 0)
    print(json.dumps({
        "bench": "pipeline_run", "articles_new": cold["ingest_counts"].get("articles_new"),
        "scored": scored, "cold_total_s": cold["total"], "warm_total_s": passes["warm"]["total"],
        "score_sentences_per_s": round(scored / cold["score"], 1) if cold["score"] else None,
        "peak_rss_mb": round(peak_mb), "warm_articles_new": passes["warm"]["ingest_counts"].get("articles_new"),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
