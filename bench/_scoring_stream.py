"""Streaming memory and BERT-base throughput parts of ``bench/scoring.py`` (run by hand).

``--stream N``: N generated articles in a scratch DuckDB, scored by the score stage in a child
process (its own peak RSS). ``--base-size``: a BERT-base-sized random classifier at 32 and 64
tokens on ``--device``, against a compute ceiling.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT, TFNS_VALID, load_inputs, peak_rss_mib, resolve_model

SCORING_SCRIPT = str(Path(__file__).with_name("scoring.py"))


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
            cmd = [sys.executable, SCORING_SCRIPT, "--child", "stream", "--out",
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
