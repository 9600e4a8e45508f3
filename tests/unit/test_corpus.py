"""The project's labelled corpus: size, balance, splits and diversity floors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.training.corpus import (
    assign_splits, copied_rows, corpus_stats, distinct_trigram_ratio, near_duplicate_rate, skeleton,
    skeleton_duplicate_rate, stable_split,
)
from pipeline.training.datasets import load_labelled

CORPUS = Path(__file__).resolve().parents[2] / "models" / "corpus"
TFNS = Path(__file__).resolve().parents[3] / "shared" / "data" / "tfns"

# Floors: a corpus produced by filling templates falls far below them (a template set repeats
# most of its trigrams and shares skeletons); the hand-written corpus is well above.
MIN_ROWS = 3000
MIN_DISTINCT_TRIGRAM_RATIO = 0.80
MAX_NEAR_DUPLICATE_RATE = 0.02
MAX_SKELETON_DUPLICATE_RATE = 0.03


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    """The article-level rows (company-level rows have a target; tests/unit/test_entity_corpus.py)."""
    frame = load_labelled(CORPUS)
    return frame[frame["target"].isna()] if "target" in frame.columns else frame


def test_corpus_size_balance_and_splits(corpus):
    stats = corpus_stats(corpus)
    print("corpus stats:", stats)  # reported with -s
    assert stats["rows"] >= MIN_ROWS
    assert 0.45 <= stats["label_share"]["neutral"] <= 0.60
    assert min(stats["label_share"]["negative"], stats["label_share"]["positive"]) >= 0.15
    assert 0.10 <= stats["split_rows"]["validation"] / stats["rows"] <= 0.20
    for path in CORPUS.glob("*.csv"):
        assert list(pd.read_csv(path, nrows=1).columns) == ["text", "label", "split"], path.name


def test_corpus_is_not_template_filled(corpus):
    stats = corpus_stats(corpus)
    assert stats["distinct_trigram_ratio"] >= MIN_DISTINCT_TRIGRAM_RATIO, stats
    assert stats["near_duplicate_rate"] <= MAX_NEAR_DUPLICATE_RATE, stats
    assert stats["skeleton_duplicate_rate"] <= MAX_SKELETON_DUPLICATE_RATE, stats


def test_no_text_in_both_splits(corpus):
    both = set(corpus[corpus["split"] == "train"]["text"]) & set(corpus[corpus["split"] == "validation"]["text"])
    assert not both


def test_measures_flag_a_template_set():
    names = ["Acme", "Borealis", "Cobalt", "Dunmore", "Elstree", "Fenwick", "Galloway", "Harrow"]
    filled = [f"{n} shares rise {i + 2}% after quarterly profit beats estimates" for i, n in enumerate(names)]
    varied = ["Acme shares rise after profit beat", "Regulator fines Borealis over reporting",
              "Cobalt names new finance chief", "Dunmore cuts outlook as demand fades"]
    assert distinct_trigram_ratio(filled) < 0.3 < 0.9 < distinct_trigram_ratio(varied)
    assert near_duplicate_rate(filled) == 1.0 and near_duplicate_rate(varied) == 0.0
    assert skeleton_duplicate_rate(filled) == 1.0 and skeleton_duplicate_rate(varied) == 0.0


def test_skeleton_masks_names_numbers_and_cashtags():
    assert skeleton("Acme Corp shares jump 12% after $ACME beat") == "N shares jump 0 after $T beat"
    assert skeleton("Acme Corp Reports Third Quarter Results") is None  # Title Case: not compared


def test_assign_splits_is_stable_and_keeps_existing_splits(tmp_path):
    pd.DataFrame({"text": [f"row number {i} about markets" for i in range(200)],
                  "label": "neutral"}).to_csv(tmp_path / "a.csv", index=False)
    assert assign_splits(tmp_path) == {"a.csv": 200}
    first = pd.read_csv(tmp_path / "a.csv")
    assert set(first["split"]) == {"train", "validation"}
    assert 10 <= (first["split"] == "validation").sum() <= 50
    assert all(first["split"] == first["text"].map(stable_split))
    edited = first.copy()
    edited.loc[0, "split"] = "validation" if first.loc[0, "split"] == "train" else "train"
    edited.to_csv(tmp_path / "a.csv", index=False)
    assert assign_splits(tmp_path) == {"a.csv": 0}
    assert pd.read_csv(tmp_path / "a.csv").loc[0, "split"] == edited.loc[0, "split"]
    # A file with nothing to assign keeps its bytes, Windows line ends included.
    crlf = b"text,label,split\r\nAcme rises,positive,train\r\n"
    (tmp_path / "a.csv").write_bytes(crlf)
    assert assign_splits(tmp_path) == {"a.csv": 0}
    assert (tmp_path / "a.csv").read_bytes() == crlf


def test_copied_rows_flags_carried_over_sentences_not_shared_forms():
    reference = ["$ACME - Acme Corp EPS beats by $0.02, misses on revenue https://t.co/x1",
                 "Euro off 0.3% at $1.0712 as traders await the ECB decision"]
    texts = ["Borealis EPS beats by $0.05, misses on revenue",   # the form, other name and figure
             "Euro off 0.3% at $1.0712",                         # carried over with its figures
             "Regulator fines Cobalt over late filings",         # unrelated
             "Euro off"]                                         # too short to judge
    flagged = copied_rows(texts, reference)
    assert [row for row, _, _ in flagged] == ["Euro off 0.3% at $1.0712"]
    assert flagged[0][1] == reference[1] and flagged[0][2] == 1.0


@pytest.mark.skipif(not TFNS.is_dir(), reason="../shared/data/tfns is absent")
def test_corpus_carries_no_benchmark_sentences(corpus):
    """The default model is benchmarked on tfns; no corpus row may reproduce one of its rows."""
    reference = [str(t) for name in ("train.csv", "valid.csv") for t in pd.read_csv(TFNS / name)["text"]]
    flagged = copied_rows(list(corpus["text"]), reference)
    assert not flagged, flagged[:10]


def test_copies_command_exit_status(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    def main(argv: list[str]):
        """``tonewatch corpus ARGV...``: its result (exit status, stdout)."""
        return CliRunner().invoke(app, ["corpus", *argv])

    folder = tmp_path / "corpus"
    folder.mkdir()
    pd.DataFrame({"text": ["Euro off 0.3% at $1.0712", "Regulator fines Cobalt over late filings"],
                  "label": ["negative", "negative"], "split": ["train", "train"]}).to_csv(folder / "a.csv", index=False)
    clean, copied = tmp_path / "clean.csv", tmp_path / "copied.csv"
    pd.DataFrame({"text": ["Borealis names a new chief executive"], "label": [2]}).to_csv(clean, index=False)
    pd.DataFrame({"text": ["Euro off 0.3% at $1.0712 ahead of the ECB"], "label": [0]}).to_csv(copied, index=False)
    assert main(["copies", str(folder), str(clean)]).exit_code == 0
    flagged = main(["copies", str(folder), str(clean), str(copied)])
    assert flagged.exit_code == 1
    assert "Euro off 0.3% at $1.0712" in flagged.stdout
    assert main(["copies", str(folder)]).exit_code == 2
