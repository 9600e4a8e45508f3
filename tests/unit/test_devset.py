"""The development set (models/devset): its shape, and its independence from the training corpus
and from the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.training.corpus import copied_rows, corpus_stats, near_duplicate_rate, words
from pipeline.training.datasets import load_labelled

ROOT = Path(__file__).resolve().parents[2]
DEVSET = ROOT / "models" / "devset"
CORPUS = ROOT / "models" / "corpus"
TFNS = ROOT.parent / "shared" / "data" / "tfns"
KINDS = {"headline", "headline_standfirst", "wire_lede", "live_markets", "mixed"}


@pytest.fixture(scope="module")
def devset() -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False)
                      for p in sorted(DEVSET.glob("*.csv"))], ignore_index=True)


def test_devset_size_labels_and_kinds(devset):
    assert len(devset) >= 1000
    assert list(devset.columns) == ["text", "label", "kind", "rule"]
    assert set(devset["label"]) == {"negative", "neutral", "positive"}
    shares = devset["label"].value_counts(normalize=True)
    assert min(shares) >= 0.2, shares  # enough of each class for per-class recall
    assert set(devset["kind"]) <= KINDS
    # At least a quarter of the rows test the analyst-reading rules of revision 2 (A1-A7).
    assert devset["rule"].str.fullmatch(r"A[1-7]").mean() >= 0.25
    assert not devset["text"].duplicated().any()
    # Loadable as labelled data (the evaluate command reads it so).
    assert len(load_labelled(DEVSET)) == len(devset)


def test_devset_is_not_template_filled(devset):
    stats = corpus_stats(devset)
    assert stats["distinct_trigram_ratio"] >= 0.85 and stats["near_duplicate_rate"] <= 0.01, stats


def test_devset_shares_no_text_with_the_training_corpus(devset):
    """Never trained on: no dev row is in the corpus, nor a near-copy of a corpus row."""
    corpus = load_labelled(CORPUS)
    assert not set(devset["text"]) & set(corpus["text"])
    assert not copied_rows(list(devset["text"]), list(corpus["text"].drop_duplicates()))
    dev_sets = [frozenset(words(t)) for t in devset["text"]]
    index: dict[str, list[int]] = {}
    corpus_sets = [frozenset(words(t)) for t in corpus["text"].drop_duplicates()]
    for j, ws in enumerate(corpus_sets):
        for w in ws:
            index.setdefault(w, []).append(j)
    for i, ws in enumerate(dev_sets):
        candidates = {j for w in ws for j in index.get(w, ()) if len(index[w]) < 200}
        for j in candidates:
            union = len(ws | corpus_sets[j])
            assert len(ws & corpus_sets[j]) / union < 0.8, (devset["text"][i], j)


def test_near_duplicate_measure_is_the_corpus_one():
    assert near_duplicate_rate(["Acme beats estimates today", "Acme beats estimates today!"]) == 1.0


@pytest.mark.skipif(not TFNS.is_dir(), reason="../shared/data/tfns is absent")
def test_devset_carries_no_benchmark_sentences(devset):
    reference = [str(t) for name in ("train.csv", "valid.csv") for t in pd.read_csv(TFNS / name)["text"]]
    flagged = copied_rows(list(devset["text"]), reference)
    assert not flagged, flagged[:10]
