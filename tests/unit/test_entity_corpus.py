"""The company-level corpus (``models/corpus/entities/``): size, multi-company and conflicting
headlines, well-formed targets, splits and diversity floors (see GUIDELINES.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.training.corpus import corpus_stats
from tests.unit.test_corpus import (
    MAX_NEAR_DUPLICATE_RATE, MAX_SKELETON_DUPLICATE_RATE, MIN_DISTINCT_TRIGRAM_RATIO, TFNS,
)

ENTITIES = Path(__file__).resolve().parents[2] / "models" / "corpus" / "entities"

# The floors: 3,000 headlines, 1,000 naming two or more companies, 400 judging them
# differently.
MIN_HEADLINES, MIN_MULTI, MIN_CONFLICTING = 3000, 1000, 400


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    frames = []
    for path in sorted(ENTITIES.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(frame.columns) == ["text", "entity", "label", "split"], path.name
        frames.append(frame.assign(file=path.name))
    return pd.concat(frames, ignore_index=True)


def test_size_multi_company_and_conflicting_headlines(rows):
    per_text = rows.groupby("text").agg(entities=("entity", "nunique"), labels=("label", "nunique"))
    print("entity corpus:", len(per_text), "headlines,", (per_text["entities"] > 1).sum(), "multi,",
          (per_text["labels"] > 1).sum(), "conflicting,", len(rows), "rows")
    assert len(per_text) >= MIN_HEADLINES
    assert (per_text["entities"] > 1).sum() >= MIN_MULTI
    assert (per_text["labels"] > 1).sum() >= MIN_CONFLICTING


def test_rows_are_well_formed(rows):
    assert set(rows["label"]) <= {"negative", "neutral", "positive"}
    assert not rows.duplicated(["text", "entity"]).any()
    assert (rows["entity"].str.strip() != "").all()
    # Targets are named in the text, save the few rows an archive files under a company the
    # text does not name (GUIDELINES.md): at most 10 %.
    named = [entity in text for text, entity in zip(rows["text"], rows["entity"], strict=True)]
    assert sum(named) >= 0.9 * len(rows)
    shares = rows["label"].value_counts(normalize=True)
    assert min(shares.get("negative", 0), shares.get("positive", 0)) >= 0.2, shares


def test_one_split_per_headline(rows):
    assert set(rows["split"]) == {"train", "validation"}
    assert rows.groupby("text")["split"].nunique().eq(1).all()
    share = rows.drop_duplicates("text")["split"].eq("validation").mean()
    assert 0.10 <= share <= 0.20


def test_headlines_are_not_template_filled(rows):
    stats = corpus_stats(rows.drop_duplicates("text")[["text", "label"]])
    print("entity corpus stats:", stats)
    assert stats["distinct_trigram_ratio"] >= MIN_DISTINCT_TRIGRAM_RATIO, stats
    assert stats["near_duplicate_rate"] <= MAX_NEAR_DUPLICATE_RATE, stats
    assert stats["skeleton_duplicate_rate"] <= MAX_SKELETON_DUPLICATE_RATE, stats


@pytest.mark.skipif(not TFNS.is_dir(), reason="../shared/data/tfns is absent")
def test_no_benchmark_sentences(rows):
    from pipeline.training.corpus import copied_rows

    reference = [str(t) for name in ("train.csv", "valid.csv") for t in pd.read_csv(TFNS / name)["text"]]
    flagged = copied_rows(list(rows["text"].drop_duplicates()), reference)
    assert not flagged, flagged[:10]
