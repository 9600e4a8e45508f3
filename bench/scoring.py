"""Benchmark of scoring: the transformers pipeline() against tonewatch's scorer (run by hand).

One run, one model (default: the production registry model), one input set: the headlines of
``../shared/data/tfns/valid.csv`` (columns text,label; skipped cleanly when absent) plus
generated long summaries (several headlines joined, up to the 128-token window). Each variant
runs in its own subprocess, so its peak RSS (``VmHWM``) is its own:

- ``pipeline_bs1`` / ``pipeline_bs64``: ``transformers.pipeline("text-classification")`` called
  on consecutive slices of 1 / 64 inputs in input order (bs1 on a fixed sample, it is slow);
- ``torch``: :class:`pipeline.scoring.classifier.SentimentClassifier`, PyTorch backend;
- ``onnx_fp32`` / ``onnx_int8``: the same scorer on the files a model build (or
  ``tonewatch model export-onnx``) wrote: the fused float32 graph and its int8 quantisation;
- ``auto``: the same scorer as the score stage loads it by default (the fastest backend that
  passed its check, :func:`pipeline.scoring.onnx_check.auto_backend`); the table names its pick.

Reported per variant: sentences/s over the whole input set (load and one warm-up excluded), p50
and p95 latency of one batch (a pipeline call; a tonewatch forward pass), peak RSS, accuracy on
the labelled headlines, label agreement with the ``torch`` variant, and the ratio of its
sentences/s to ``pipeline_bs64``'s. The last line is one JSON object with ``sentences_per_s``,
``ratio_vs_pipeline_bs64`` (per variant), ``auto_backend`` and ``int8_label_agreement``; it is
also written to ``bench/results/scoring_<cpu>.json`` (``--out``), ``<cpu>`` being ``native`` or
``avx2``.

``--avx2`` emulates an AVX2-only CPU for PyTorch (pipeline() and ``torch``):
``ATEN_CPU_CAPABILITY=avx2`` (ATen's kernels), ``ONEDNN_MAX_CPU_ISA=AVX2`` and
``MKL_ENABLE_INSTRUCTIONS=AVX2`` (the GEMM libraries), as ``bench/_training_speed.py`` does.
ONNX Runtime cannot be limited that way: its MLAS kernels pick AVX2, AVX-512, VNNI or AMX from
CPUID and XCR0 when the library loads, with no option or environment variable to cap them
(onnxruntime/core/mlas/lib/platform.cpp), so the ONNX variants run with every instruction set
the machine has.

``--stream N`` instead writes N generated articles to a scratch DuckDB and runs the score stage
over them (chunked reads and bulk writes), reporting articles/s and peak RSS. ``--base-size``
times a BERT-base-sized random model at 32 and 64 tokens (``--device cuda`` on a GPU).
``--entity`` times company-level scoring against article-level scoring on headlines linked to
the default universe, pass by pass and as the whole score stage, on one targeted model (see
``bench/_entity_pass.py``): last line ``entity_adds_pct`` per backend (goal <= 50).
Every mode prints the CPU model and its vector flags first.

Usage (timings: run alone, or under ``flock -x /tmp/tonewatch-cpu.lock``)::

    .venv/bin/python bench/scoring.py [--model production] [--quick | --limit N] [--device cpu]
        [--variants pipeline_bs64,torch,onnx_fp32,onnx_int8,auto] [--avx2] [--out FILE]
    .venv/bin/python bench/scoring.py --stream 20000,100000 [--stream-model tiny|production]
        [--stream-backend torch|onnx-int8|onnx-fp32]
    .venv/bin/python bench/scoring.py --base-size --device cuda [--peak-tflops 790]
    .venv/bin/python bench/scoring.py --entity [--model DIR | --save-model DIR]
        [--entity-limit N] [--entity-backends torch,onnx-int8] [--entity-repeats 3] [--no-stage]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT, TFNS_VALID, cpu_summary, load_inputs, peak_rss_mib, percentiles, resolve_model
from _scoring_stream import base_size, stream, stream_child

VARIANTS = ("pipeline_bs1", "pipeline_bs64", "torch", "onnx_fp32", "onnx_int8", "auto")
BACKEND_OF = {"torch": "torch", "onnx_fp32": "onnx-fp32", "onnx_int8": "onnx-int8", "auto": "auto"}
#: PyTorch on an emulated AVX2-only CPU (see the module docstring).
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
BS1_SAMPLE = 300


# ---------------------------------------------------------------------------- one variant (child)

def run_pipeline(path: str, texts: list[str], batch: int, device: str) -> tuple[np.ndarray, list[float], float]:
    """Probabilities ``(n, 3)`` in LABELS order from transformers' pipeline, call latencies (s),
    and the seconds of all calls together."""
    from transformers import pipeline

    from pipeline.domain import LABELS, canonical_label

    pipe = pipeline("text-classification", model=path, device=device, top_k=None)
    pipe(texts[:batch], batch_size=batch, truncation=True, max_length=128)  # warm-up
    probs, latencies = np.zeros((len(texts), 3)), []
    begun = time.perf_counter()
    for start in range(0, len(texts), batch):
        started = time.perf_counter()
        out = pipe(texts[start:start + batch], batch_size=batch, truncation=True, max_length=128)
        latencies.append(time.perf_counter() - started)
        for row, scores in enumerate(out):
            for item in scores:
                probs[start + row, LABELS.index(canonical_label(item["label"]))] = item["score"]
    return probs, latencies, time.perf_counter() - begun


def run_tonewatch(path: str, texts: list[str], backend: str, device: str) -> tuple[np.ndarray, list[float], float, str]:
    """Probabilities from :class:`SentimentClassifier`, the latency of each forward pass (s),
    the seconds of the whole ``predict`` call (tokenization and padding included), and the
    backend that ran (``auto``'s pick)."""
    from pipeline.scoring.classifier import SentimentClassifier

    classifier = SentimentClassifier(path, backend=backend,
                                     device=device if backend in ("torch", "auto") else None)
    classifier.predict_probs(texts[:64])  # warm-up
    latencies: list[float] = []
    forward = classifier.backend.logits

    def timed(ids, mask):
        started = time.perf_counter()
        result = forward(ids, mask)
        latencies.append(time.perf_counter() - started)
        return result

    name = classifier.backend.name
    classifier.backend.logits = timed
    begun = time.perf_counter()
    probs = classifier.predict_probs(texts)
    return probs, latencies, time.perf_counter() - begun, name


def child(args) -> None:
    """Run one variant; write ``{seconds, probs, latencies}`` to ``args.out``."""
    texts, _ = load_inputs(args.limit)
    path, _ = resolve_model(args.model)
    if args.variant == "pipeline_bs1":
        texts = texts[:BS1_SAMPLE]
    # Loading and one warm-up call happen before the timed calls.
    cpu_started = time.process_time()  # all threads of this process
    if args.variant.startswith("pipeline"):
        probs, latencies, seconds = run_pipeline(
            path, texts, 1 if args.variant.endswith("bs1") else 64, args.device)
        ran = "pipeline"
    else:
        probs, latencies, seconds, ran = run_tonewatch(path, texts, BACKEND_OF[args.variant],
                                                       args.device)
    Path(args.out).write_text(json.dumps({
        "backend": ran,
        "n": len(texts), "probs": np.asarray(probs).round(6).tolist(), "latencies": latencies,
        "seconds": seconds, "cpu_seconds": time.process_time() - cpu_started,
        "peak_rss_mib": peak_rss_mib()}))


def measure(variant: str, args, scratch: Path) -> dict | None:
    """Run ``variant`` in a subprocess; return its results with peak RSS (MiB), or None."""
    out = scratch / f"{variant}.json"
    cmd = [sys.executable, __file__, "--child", variant, "--out", str(out), "--model", args.model,
           "--device", args.device] + (["--limit", str(args.limit)] if args.limit else [])
    started = time.perf_counter()
    env = {**os.environ, **(AVX2_ENV if args.avx2 else {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        last = [line for line in stderr.splitlines() if line.strip()][-1:] or ["?"]
        print(f"  {variant}: skipped ({last[0][:160]})")
        return None
    result = json.loads(out.read_text())
    result["process_s"] = time.perf_counter() - started
    return result


def compare_variants(args) -> dict:
    """Run every variant; print the table; return the headline figures."""
    texts, labels = load_inputs(args.limit)
    headline = np.array([label is not None for label in labels])
    truth = np.array([label or "" for label in labels])
    print(f"inputs: {headline.sum()} tfns valid headlines + {(~headline).sum()} generated summaries;"
          f" model {resolve_model(args.model)[1]}; device {args.device}; "
          f"{len(os.sched_getaffinity(0))} cores")
    from pipeline.domain import LABELS

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for variant in args.variants:
            results[variant] = measure(variant, args, Path(scratch))
    reference = results.get("torch")
    ref_labels = np.asarray(reference["probs"]).argmax(1) if reference else None
    rows, rates = [], {}
    for variant, result in results.items():
        if result is None:
            continue
        probs = np.asarray(result["probs"])
        predicted = np.array([LABELS[i] for i in probs.argmax(1)])
        n = result["n"]
        rate = n / result["seconds"]
        rates[variant] = rate
        p50, p95 = percentiles(result["latencies"])
        on = headline[:n]
        accuracy = float((predicted[on] == truth[:n][on]).mean()) if on.any() else float("nan")
        agree = (float((probs.argmax(1) == ref_labels[:n]).mean()) if ref_labels is not None
                 else float("nan"))
        per_cpu_s = n / result["cpu_seconds"]
        rows.append((variant, n, rate, p50, p95, result["peak_rss_mib"], accuracy, agree, per_cpu_s))
    # sent/CPU-s: sentences per second of CPU time of all the variant's threads; steadier than
    # wall time when other processes share the cores.
    base = rates.get("pipeline_bs64")
    print(f"{'variant':<15}{'ran':<11}{'inputs':>7}{'sent/s':>9}{'x pipe64':>9}{'sent/CPU-s':>11}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'peak RSS':>10}{'accuracy':>10}{'agree w/ torch':>15}")
    for variant, n, rate, p50, p95, rss, accuracy, agree, per_cpu_s in rows:
        ratio = f"{rate / base:.2f}x" if base else "-"
        print(f"{variant:<15}{results[variant]['backend']:<11}{n:>7}{rate:>9.1f}{ratio:>9}"
              f"{per_cpu_s:>11.1f}{p50:>8.1f}{p95:>8.1f}{rss:>8.0f}Mi{accuracy:>10.4f}{agree:>15.4f}")
    ours = {k: v for k, v in rates.items() if not k.startswith("pipeline")}
    best = max(ours, key=ours.get) if ours else None
    accuracy = {row[0]: row[6] for row in rows}
    agreement = {row[0]: row[7] for row in rows}
    if "onnx_int8" in accuracy and "torch" in accuracy:
        print(f"int8 vs fp32 on the labelled headlines: label agreement "
              f"{agreement['onnx_int8']:.4f} (all inputs), accuracy {accuracy['onnx_int8']:.4f} vs "
              f"{accuracy['torch']:.4f} ({(accuracy['onnx_int8'] - accuracy['torch']) * 100:+.2f} points)")
    int8 = results.get("onnx_int8")
    int8_agreement = None
    if int8 and reference:
        int8_labels = np.asarray(int8["probs"]).argmax(1)
        on = headline[:len(int8_labels)]
        int8_agreement = float((int8_labels[on] == ref_labels[on]).mean())
    return {
        "sentences_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ratio_vs_pipeline_bs64": ({k: round(v / base, 2) for k, v in ours.items()}
                                   if base else None),
        "best_variant": best,
        "auto_backend": (results.get("auto") or {}).get("backend"),
        "int8_label_agreement": None if int8_agreement is None else round(int8_agreement, 4),
        "label_agreement_with_torch": {k: round(v, 4) for k, v in agreement.items()},
        "accuracy": {k: round(v, 4) for k, v in accuracy.items()},
        "peak_rss_mib": {row[0]: round(row[5]) for row in rows},
        "sentences_per_cpu_s": {row[0]: round(row[8], 1) for row in rows},
        "inputs": len(texts), "device": args.device,
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="registry version, 'production' or a dir (default production; with "
                             "--entity: a targeted model dir, default one trained by the bench)")
    parser.add_argument("--limit", type=int, default=None, help="score only this many inputs")
    parser.add_argument("--quick", action="store_true", help="same as --limit 600")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--avx2", action="store_true",
                        help="emulate an AVX2-only CPU for PyTorch (ONNX Runtime cannot be capped)")
    parser.add_argument("--out", default=None,
                        help="results file (default bench/results/scoring_native.json or "
                             "scoring_avx2.json)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    parser.add_argument("--stream", default=None, metavar="N[,N...]",
                        help="score N generated articles through the score stage instead")
    parser.add_argument("--stream-model", default="tiny",
                        help="'tiny' (a 2-layer random BERT: measures the streaming itself) or a "
                             "model name as for --model")
    parser.add_argument("--stream-backend", default="torch",
                        help="scoring backend for --stream: torch, onnx-int8 or onnx-fp32")
    parser.add_argument("--base-size", action="store_true",
                        help="time a BERT-base-sized random model at 32 and 64 tokens instead")
    parser.add_argument("--peak-tflops", type=float, default=790.0,
                        help="compute ceiling for --base-size (H200 bf16 dense: 790)")
    parser.add_argument("--entity", action="store_true",
                        help="time the entity (company-level) pass against the article pass on "
                             "linked headlines, and the score stage with and without it")
    parser.add_argument("--entity-limit", type=int, default=None, metavar="N",
                        help="--entity: use a sample of N headlines (default all: tfns valid + "
                             "the English titles of ../shared/real_feeds)")
    parser.add_argument("--entity-backends", default="torch,onnx-int8",
                        help="--entity: comma-separated backends (ONNX ones need an export; a "
                             "bench-trained model is exported on the fly)")
    parser.add_argument("--entity-repeats", type=int, default=3,
                        help="--entity: alternating runs of each pass; medians are reported")
    parser.add_argument("--no-stage", action="store_true",
                        help="--entity: skip timing the whole score stage")
    parser.add_argument("--save-model", default=None, metavar="DIR",
                        help="--entity: copy the model the bench trains to DIR (reuse with --model)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and not args.limit:
        args.limit = 600
    args.variants = [v for v in args.variants.split(",") if v]
    if args.device != "cpu" and "--variants" not in (argv or sys.argv):
        args.variants = [v for v in args.variants if not v.startswith("onnx")]  # CPU-only backends
    args.stream_sizes = [int(v) for v in args.stream.split(",")] if args.stream else []
    args.entity_backends = [v for v in args.entity_backends.split(",") if v]
    if args.model is None and not args.entity:
        args.model = "production"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child == "stream":
        stream_child(args)
        return
    if args.child:
        args.variant = args.child
        child(args)
        return
    if args.entity:
        from _entity_pass import entity_bench

        print(json.dumps(entity_bench(args)))
        return
    print(cpu_summary())
    if args.base_size:
        print(json.dumps(base_size(args)))
        return
    if args.stream:
        print(json.dumps(stream(args)))
        return
    if not TFNS_VALID.exists():
        print(f"skipped: {TFNS_VALID} not found (the benchmark reads ../shared)")
        print(json.dumps({"skipped": "tfns valid.csv not found"}))
        return
    summary = compare_variants(args)
    capped = {k: v for k, v in os.environ.items() if k in AVX2_ENV} | (AVX2_ENV if args.avx2 else {})
    summary |= {"cpu": cpu_summary(), "pytorch_isa_caps": capped,
                "onnxruntime_isa": "uncapped (every instruction set of this CPU)",
                "model": resolve_model(args.model)[1],
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    label = "avx2" if capped.get("ATEN_CPU_CAPABILITY") == "avx2" else "native"
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"scoring_{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
