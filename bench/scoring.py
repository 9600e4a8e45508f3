"""Benchmark of scoring: the transformers pipeline() against tonewatch's scorer (run by hand).

One run, one model (default: the production registry model), one input set: the headlines of
``../shared/data/tfns/valid.csv`` (columns text,label; skipped cleanly when absent) plus
generated long summaries (several headlines joined, up to the 128-token window). Each variant
runs in its own subprocess, so its peak RSS (``VmHWM``) is its own:

- ``pipeline_bs1`` / ``pipeline_bs64``: ``transformers.pipeline("text-classification")`` called
  on consecutive slices of 1 / 64 inputs in input order (bs1 on a fixed sample, it is slow);
- ``torch``: :class:`pipeline.scoring.classifier.SentimentClassifier`, PyTorch backend;
- ``onnx_fp32`` / ``onnx_int8``: the same scorer on the ``tonewatch model export-onnx`` files.

Reported per variant: sentences/s over the whole input set (load and one warm-up excluded), p50
and p95 latency of one batch (a pipeline call; a tonewatch forward pass), peak RSS, accuracy on
the labelled headlines, and label agreement with the ``torch`` variant. The last line is one JSON
object with ``sentences_per_s``, ``ratio_vs_pipeline_bs64`` (best tonewatch variant) and
``int8_label_agreement``.

``--stream N`` instead writes N generated articles to a scratch DuckDB and runs the score stage
over them (chunked reads and bulk writes), reporting articles/s and peak RSS. ``--base-size``
times a BERT-base-sized random model at 32 and 64 tokens (``--device cuda`` on a GPU).

Usage (timings: run alone, or under ``flock /tmp/tonewatch-bench.lock``)::

    .venv/bin/python bench/scoring.py [--model production] [--quick | --limit N] [--device cpu]
    .venv/bin/python bench/scoring.py --stream 20000,100000 [--stream-model tiny|production]
        [--stream-backend torch|onnx-int8|onnx-fp32]
    .venv/bin/python bench/scoring.py --base-size --device cuda [--peak-tflops 790]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFNS_VALID = ROOT.parent / "shared" / "data" / "tfns" / "valid.csv"
TFNS_LABELS = {0: "negative", 1: "positive", 2: "neutral"}
VARIANTS = ("pipeline_bs1", "pipeline_bs64", "torch", "onnx_fp32", "onnx_int8")
BS1_SAMPLE = 300


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


def run_tonewatch(path: str, texts: list[str], backend: str, device: str) -> tuple[np.ndarray, list[float], float]:
    """Probabilities from :class:`SentimentClassifier`, the latency of each forward pass (s),
    and the seconds of the whole ``predict`` call (tokenization and padding included)."""
    from pipeline.scoring.classifier import SentimentClassifier

    classifier = SentimentClassifier(path, backend=backend, device=device if backend == "torch" else None)
    classifier.predict_probs(texts[:64])  # warm-up
    latencies: list[float] = []
    forward = classifier.backend.logits

    def timed(ids, mask):
        started = time.perf_counter()
        result = forward(ids, mask)
        latencies.append(time.perf_counter() - started)
        return result

    classifier.backend.logits = timed
    begun = time.perf_counter()
    probs = classifier.predict_probs(texts)
    return probs, latencies, time.perf_counter() - begun


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
    else:
        backend = {"torch": "torch", "onnx_fp32": "onnx-fp32", "onnx_int8": "onnx-int8"}[args.variant]
        probs, latencies, seconds = run_tonewatch(path, texts, backend, args.device)
    Path(args.out).write_text(json.dumps({
        "n": len(texts), "probs": np.asarray(probs).round(6).tolist(), "latencies": latencies,
        "seconds": seconds, "cpu_seconds": time.process_time() - cpu_started,
        "peak_rss_mib": peak_rss_mib()}))


def measure(variant: str, args, scratch: Path) -> dict | None:
    """Run ``variant`` in a subprocess; return its results with peak RSS (MiB), or None."""
    out = scratch / f"{variant}.json"
    cmd = [sys.executable, __file__, "--child", variant, "--out", str(out), "--model", args.model,
           "--device", args.device] + (["--limit", str(args.limit)] if args.limit else [])
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
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
    print(f"{'variant':<15}{'inputs':>8}{'sent/s':>9}{'sent/CPU-s':>12}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'peak RSS':>10}{'accuracy':>10}{'agree w/ torch':>16}")
    for variant, n, rate, p50, p95, rss, accuracy, agree, per_cpu_s in rows:
        print(f"{variant:<15}{n:>8}{rate:>9.1f}{per_cpu_s:>12.1f}{p50:>9.1f}{p95:>9.1f}"
              f"{rss:>8.0f}Mi{accuracy:>10.4f}{agree:>16.4f}")
    base = rates.get("pipeline_bs64")
    ours = {k: v for k, v in rates.items() if not k.startswith("pipeline")}
    best = max(ours, key=ours.get) if ours else None
    if base:
        for variant in ours:
            print(f"{variant} / pipeline_bs64: {ours[variant] / base:.2f}x")
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
        "sentences_per_s": {k: round(rates[k], 1) if k in rates else None
                            for k in ("pipeline_bs1", "pipeline_bs64", "torch", "onnx_int8")}
        | ({"onnx_fp32": round(rates["onnx_fp32"], 1)} if "onnx_fp32" in rates else {}),
        "ratio_vs_pipeline_bs64": round(ours[best] / base, 2) if base and best else None,
        "best_variant": best,
        "int8_label_agreement": None if int8_agreement is None else round(int8_agreement, 4),
        "accuracy": {k: round(v, 4) for k, v in accuracy.items()},
        "peak_rss_mib": {row[0]: round(row[5]) for row in rows},
        "sentences_per_cpu_s": {row[0]: round(row[8], 1) for row in rows},
        "inputs": len(texts), "device": args.device,
    }


# ------------------------------------------------------------------------- streaming memory

def generate_articles(db_path: Path, n: int, texts: list[str]) -> None:
    """Store ``n`` articles drawn from ``texts`` (one feed, a minute apart) in 100k-row writes."""
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from pipeline.ingest.normalize import ARTICLE_COLUMNS
    from pipeline.storage.articles import upsert_articles
    from pipeline.storage.db import connect

    start, rng = datetime(2025, 1, 1, tzinfo=UTC), np.random.default_rng(3)
    for first in range(0, n, 100_000):
        ids = np.arange(first, min(n, first + 100_000))
        chosen = rng.choice(texts, size=len(ids))
        frame = pd.DataFrame({
            "article_id": [f"gen{i:08d}" for i in ids], "feed_id": "generated",
            "url": [f"https://example.com/{i}" for i in ids], "title": chosen, "summary": None,
            "text": chosen, "published_at": [start + timedelta(minutes=int(i)) for i in ids],
            "published_raw": None, "date_quality": "exact", "first_seen_at": start,
            "fetched_at": start, "language": "en", "content_hash": [f"h{i}" for i in ids],
            "story_id": [f"s{i}" for i in ids], "tickers": [[] for _ in ids],
        }, columns=ARTICLE_COLUMNS)
        with connect(db_path) as con:
            upsert_articles(con, frame)


def stream_child(args) -> None:
    """Score every stored article of the scratch database through ``pipeline.run.score``."""
    from datetime import UTC, datetime

    from pipeline.config import load_settings
    from pipeline.run import score
    from pipeline.scoring.classifier import SentimentClassifier

    settings = load_settings(data_dir=Path(args.out).parent / "data",
                             model_registry=Path(args.out).parent / "registry")
    classifier = SentimentClassifier(args.model, model_version="bench", backend=args.stream_backend)
    started = time.perf_counter()
    result = score(settings, at=datetime(2026, 1, 1, tzinfo=UTC), classifier=classifier)
    Path(args.out).write_text(json.dumps({"counts": result.counts, "peak_rss_mib": peak_rss_mib(),
                                          "seconds": time.perf_counter() - started}))


def stream(args) -> dict:
    """Generate, then score, ``--stream`` articles (comma-separated sizes allowed) in a child."""
    from tests.unit.tiny_bert import WORDS, save_tiny_bert

    texts = (load_inputs(None)[0] if TFNS_VALID.exists()
             else [" ".join(np.random.default_rng(i).choice(WORDS, 12)) for i in range(2000)])
    out = {}
    for n in args.stream_sizes:
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            if args.stream_model == "tiny":
                model = str(save_tiny_bert(scratch / "tiny", {0: "negative", 1: "neutral",
                                                              2: "positive"}))
            else:
                model = resolve_model(args.stream_model)[0]
            started = time.perf_counter()
            generate_articles(scratch / "data" / "tonewatch.duckdb", n, texts)
            generated = time.perf_counter() - started
            db_mib = (scratch / "data" / "tonewatch.duckdb").stat().st_size / 2**20
            cmd = [sys.executable, __file__, "--child", "stream", "--out",
                   str(scratch / "stream.json"), "--model", model,
                   "--stream-backend", args.stream_backend]
            proc = subprocess.Popen(cmd, cwd=ROOT)
            if proc.wait() != 0:
                raise SystemExit(f"stream child failed for n={n}")
            result = json.loads((scratch / "stream.json").read_text())
        rss = result["peak_rss_mib"]
        rate = result["counts"]["scored"] / result["seconds"]
        print(f"stream n={n}: generated in {generated:.0f} s ({db_mib:.0f} MiB DuckDB), scored "
              f"{result['counts']['scored']} in {result['seconds']:.0f} s ({rate:.0f}/s), "
              f"peak RSS {rss:.0f} MiB (model {args.stream_model}, {args.stream_backend})")
        out[str(n)] = {"scored": result["counts"]["scored"], "articles_per_s": round(rate, 1),
                       "peak_rss_mib": round(rss), "db_mib": round(db_mib)}
    return {"stream": out, "model": args.stream_model, "backend": args.stream_backend}


# ------------------------------------------------------------------------- BERT-base on a device

def base_size(args) -> dict:
    """Throughput of a BERT-base-sized random classifier at 32 and 64 tokens on ``--device``.

    FLOPs per sentence: ``2 x weights x tokens`` for the dense layers plus
    ``4 x layers x tokens^2 x hidden`` for attention scores and mixing (Kaplan et al. 2020,
    "Scaling Laws for Neural Language Models", table 1), about 5.5 GFLOP at 32 tokens.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from pipeline.scoring.classifier import SentimentClassifier
    from tests.unit.tiny_bert import WORDS

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bert-base-random"
        path.mkdir()
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
        vocab += [f"tok{i}" for i in range(30522 - len(vocab))]
        (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
        config = BertConfig(num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"},
                            label2id={"negative": 0, "neutral": 1, "positive": 2})
        torch.manual_seed(0)
        BertForSequenceClassification(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
        classifier = SentimentClassifier(path, device=args.device, max_length=64)
        dense = sum(p.numel() for n, p in classifier.backend.model.named_parameters()
                    if "embeddings" not in n)
        rng, results = np.random.default_rng(0), {}
        for tokens in (32, 64):
            n = args.limit or (200_000 if args.device.startswith("cuda") else 400)
            texts = [" ".join(rng.choice(WORDS, tokens - 2)) for _ in range(n)]
            classifier.predict_probs(texts[:2048])  # warm-up
            started = time.perf_counter()
            classifier.predict_probs(texts)
            rate = n / (time.perf_counter() - started)
            ids = np.asarray(tokenizer(texts[:classifier.batch_size])["input_ids"], dtype=np.int64)
            mask = np.ones_like(ids)
            classifier.backend.logits(ids, mask)
            started, reps = time.perf_counter(), 10
            for _ in range(reps):
                classifier.backend.logits(ids, mask)
            forward_rate = reps * len(ids) / (time.perf_counter() - started)
            flops = 2 * dense * tokens + 4 * config.num_hidden_layers * tokens**2 * config.hidden_size
            ceiling = args.peak_tflops * 1e12 / flops
            results[str(tokens)] = {
                "sentences_per_s": round(rate), "forward_only_sentences_per_s": round(forward_rate),
                "gflop_per_sentence": round(flops / 1e9, 2), "ceiling_sentences_per_s": round(ceiling),
                "share_of_ceiling": round(max(rate, forward_rate) / ceiling, 4),
                "batch_size": classifier.batch_size, "token_budget": classifier.token_budget}
            print(f"BERT-base random, {tokens} tokens on {args.device}: {rate:,.0f} sentences/s end "
                  f"to end, {forward_rate:,.0f}/s forward only (batch {len(ids)}); ceiling at "
                  f"{args.peak_tflops:g} TFLOP/s = {ceiling:,.0f}/s "
                  f"({flops / 1e9:.2f} GFLOP/sentence)")
    return {"base_size": results, "device": args.device, "peak_tflops": args.peak_tflops}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="production", help="registry version, 'production' or a dir")
    parser.add_argument("--limit", type=int, default=None, help="score only this many inputs")
    parser.add_argument("--quick", action="store_true", help="same as --limit 600")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
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
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and not args.limit:
        args.limit = 600
    args.variants = [v for v in args.variants.split(",") if v]
    if args.device != "cpu" and "--variants" not in (argv or sys.argv):
        args.variants = [v for v in args.variants if not v.startswith("onnx")]  # CPU-only backends
    args.stream_sizes = [int(v) for v in args.stream.split(",")] if args.stream else []
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
    print(json.dumps(compare_variants(args)))


if __name__ == "__main__":
    main()
