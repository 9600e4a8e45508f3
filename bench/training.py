"""Benchmark of the fine-tuning recipe and the default model (run by hand; never in the tests).

Scenarios, each a real ``tonewatch train`` / ``tonewatch evaluate`` subprocess against a scratch
registry, with wall time and peak resident memory (``wait4`` rusage of that process):

- ``recipe``:  train on ``../shared/data/tfns/train.csv`` (full fine-tuning, bench/configs/recipe.json),
  evaluate on ``../shared/data/tfns/valid.csv``.
- ``lora``:    the same data with low-rank adapters (bench/configs/lora.json).
- ``default``: the default model (project corpus only, the recipe ``make demo`` uses), evaluated on
  the same ``valid.csv``.
- ``speed_bf16`` and ``speed_fp32``: the default model's data and recipe cut to 6 epochs, with
  bf16 autocast (bench/configs/speed_bf16.json) and without it (speed_fp32.json): run together,
  they give the speed-up of bf16 on this CPU and what training costs on a CPU without it.

``valid.csv`` is only ever evaluated on: hyper-parameters were chosen on the validation split that
``tonewatch train`` carves out of the training data.

``--speed`` instead times a few steps of the default recipe per option, in worker subprocesses
(bf16 on/off, threads, OpenMP wait policy, frozen lower layers, length grouping,
``torch.compile``, ONNX Runtime training), on this CPU and on an emulated AVX2-only one, with and without another
process keeping one core busy, plus the torch scoring backend's rows/s with the old and new
thread policies (bench/_training_speed.py says how); results in
bench/results/training_speed.json.

Usage::

    .venv/bin/python bench/training.py [--only recipe,lora,default,speed_bf16,speed_fp32] [--out bench/results/training.json]
    flock -x /tmp/tonewatch-cpu.lock .venv/bin/python bench/training.py --speed [--scenarios native,native+busy,avx2,avx2+busy,score,score+busy] [--steps 24] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TFNS = ROOT.parent / "shared" / "data" / "tfns"
TFNS_LABELS = "0=negative,1=positive,2=neutral"


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float, float]:
    """Run ``cmd``; return ``(exit status, wall seconds, peak RSS in MiB)`` of that process."""
    started = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024  # KiB → MiB


def tonewatch(*args: str) -> list[str]:
    """The CLI as a subprocess command line (same interpreter)."""
    return [sys.executable, "-m", "pipeline.cli", *args]


def scenario(name: str, train_args: list[str], registry: Path, logs: Path) -> dict:
    """Train, then evaluate the new version on tfns valid; return the measurements."""
    env = {**os.environ, "TONEWATCH_MODEL_REGISTRY": str(registry), "HF_HUB_OFFLINE": "1"}
    rc, train_s, train_mib = run_measured(tonewatch("train", "--name", name, *train_args), env,
                                          logs / f"{name}-train.log")
    if rc != 0:
        raise SystemExit(f"{name}: training failed, see {logs / f'{name}-train.log'}")
    version = sorted(p.name for p in (registry / name).iterdir() if not p.name.startswith("."))[-1]
    info = json.loads((registry / name / version / "registry.json").read_text())
    eval_log = logs / f"{name}-eval.json"
    rc, eval_s, eval_mib = run_measured(
        tonewatch("evaluate", "--model", version, "--data", str(TFNS / "valid.csv"),
                  "--label-map", TFNS_LABELS, "--json"), env, eval_log)
    if rc != 0:
        raise SystemExit(f"{name}: evaluation failed, see {eval_log}")
    metrics = json.loads(eval_log.read_text().strip().splitlines()[-1])
    return {
        "scenario": name, "model_version": version, "train_data": info["data_path"],
        "train_examples": info["n_examples"], "best_epoch": info["best_epoch"],
        "history": info["history"], "peft": info.get("peft", "none"),
        "precision": info.get("precision", "float32"),
        "trainable_parameters": info.get("trainable_parameters"),
        "internal_validation": {k: info["metrics"][k] for k in ("n", "accuracy", "macro_f1")},
        "train_wall_s": round(train_s, 1), "train_peak_rss_mib": round(train_mib),
        "valid": {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "majority_baseline_accuracy",
                                          "per_class", "confusion", "sentences_per_s", "canary")},
        "eval_wall_s": round(eval_s, 1), "eval_peak_rss_mib": round(eval_mib),
    }


def merged(out: Path, results: list[dict]) -> dict:
    """The results file with ``results`` replacing the same scenarios' earlier entries.

    Scenarios not run this time keep their earlier entry and its time, so ``--only default``
    does not drop the recipe's numbers. ``when`` maps each scenario to the UTC time its entry
    was written.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        earlier = json.loads(out.read_text())
    except (OSError, ValueError):
        earlier = {}
    fresh = {r["scenario"] for r in results}
    kept = [r for r in earlier.get("results", []) if r.get("scenario") not in fresh]
    when = earlier.get("when") if isinstance(earlier.get("when"), dict) else {}
    when = {k: v for k, v in when.items() if k not in fresh} | {name: now for name in fresh}
    order = {"recipe": 0, "lora": 1, "default": 2, "speed_bf16": 3, "speed_fp32": 4}
    rows = sorted(kept + results, key=lambda r: order.get(r.get("scenario"), 5))
    return {"when": when, "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "results": rows}


def speed(opts) -> int:
    """``--speed``: time the default recipe's steps per option; print the table, write json."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _common import cpu_summary
    from _training_speed import plan, run_process, table

    print(cpu_summary(), flush=True)
    scenarios = [s.strip() for s in opts.scenarios.split(",") if s.strip()]
    out = opts.out if opts.out.name != "training.json" else opts.out.with_name("training_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in plan(scenarios, opts.ort_python):
        print(f"[{datetime.now(UTC):%H:%M:%S}] {spec['scenario']}: "
              f"{', '.join(v['option'] for v in spec['variants'])}...", file=sys.stderr, flush=True)
        fresh = run_process(spec, opts.steps, opts.warmup, opts.rounds, opts.timeout)
        rows += fresh
        print(table(fresh).split("\n", 1)[1], file=sys.stderr, flush=True)
        # Written after every worker, so that an interrupted run keeps what it measured.
        out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                   "cpu": cpu_summary(), "machine": platform.platform(),
                                   "settings": {"steps": opts.steps, "warmup": opts.warmup,
                                                "rounds": opts.rounds},
                                   "results": rows}, indent=2) + "\n")
    print(table(rows))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true",
                        help="time steps of the default recipe per option instead of training")
    parser.add_argument("--scenarios",
                        default="native,native+busy,avx2,avx2+busy,score,score+busy,compile",
                        help="with --speed: which scenarios")
    parser.add_argument("--steps", type=int, default=24,
                        help="with --speed: timed fine-tuning steps per option (twice as many "
                             "linear-probe steps)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --speed: rounds over a worker's options (median reported)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="with --speed: untimed steps first (twice as many for the probe)")
    parser.add_argument("--ort-python", default=None, metavar="PYTHON",
                        help="with --speed: an interpreter that has onnxruntime-training and "
                             "this venv's packages, for the 'ort' scenario (README: Training "
                             "speed)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="with --speed: seconds before an option's worker is abandoned")
    parser.add_argument("--only", default="recipe,lora,default",
                        help="comma-separated scenarios: recipe, lora, default, speed_bf16, "
                             "speed_fp32")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "training.json")
    parser.add_argument("--keep-registry", type=Path, default=None, metavar="DIR",
                        help="train into this registry and keep it (default: a temporary one), "
                             "e.g. to benchmark scoring with the model just built")
    opts = parser.parse_args()
    if opts.speed:
        return speed(opts)
    if not (TFNS / "train.csv").exists():
        print(f"skipped: {TFNS} is absent (the benchmark needs ../shared)", file=sys.stderr)
        return 0
    wanted = [s.strip() for s in opts.only.split(",") if s.strip()]
    plans = {
        "recipe": ["--data", str(TFNS / "train.csv"), "--label-map", TFNS_LABELS,
                   "--config", str(ROOT / "bench" / "configs" / "recipe.json")],
        "lora": ["--data", str(TFNS / "train.csv"), "--label-map", TFNS_LABELS,
                 "--config", str(ROOT / "bench" / "configs" / "lora.json")],
        "default": ["--data", str(ROOT / "models" / "corpus")],
        "speed_bf16": ["--data", str(ROOT / "models" / "corpus"),
                       "--config", str(ROOT / "bench" / "configs" / "speed_bf16.json")],
        "speed_fp32": ["--data", str(ROOT / "models" / "corpus"),
                       "--config", str(ROOT / "bench" / "configs" / "speed_fp32.json")],
    }
    unknown = [w for w in wanted if w not in plans]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}")
    results = []
    with tempfile.TemporaryDirectory(prefix="tonewatch-bench-") as tmp:
        registry, logs = opts.keep_registry or Path(tmp) / "registry", Path(tmp) / "logs"
        logs.mkdir()
        for name in wanted:
            print(f"[{datetime.now(UTC):%H:%M:%S}] {name}: training...", file=sys.stderr, flush=True)
            result = scenario(name, plans[name], registry, logs)
            results.append(result)
            v = result["valid"]
            print(f"{name:12s} valid.csv accuracy {v['accuracy']:.4f} macro-F1 {v['macro_f1']:.4f} "
                  f"(n={v['n']}, majority {v['majority_baseline_accuracy']:.4f}); train "
                  f"{result['train_wall_s']:.0f} s, peak RSS {result['train_peak_rss_mib']} MiB; "
                  f"best epoch {result['best_epoch']}; {result['precision']}", flush=True)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(merged(opts.out, results), indent=2) + "\n")
    print(f"wrote {opts.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
