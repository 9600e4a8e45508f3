"""One model, two inputs: company-targeted pairs ``(text, company)`` next to article-level texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ScoringError, TrainingError
from pipeline.registry import Registry
from pipeline.scoring.batching import encode
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.scoring.preprocess import mark_target, target_input
from pipeline.training.arguments import TrainingArguments
from pipeline.training.datasets import load_labelled
from pipeline.training.session import encode_rows
from pipeline.training.train import train_model
from tests.unit.test_model_lifecycle import FAST, _data, tiny  # noqa: F401  (tiny is a fixture)


def _entity_rows() -> pd.DataFrame:
    """Two-company contrasts, each company judged its own way."""
    pairs = [("Corvane", "Dunmore"), ("Elstree", "Farrow"), ("Brantley", "Aldmere"),
             ("Galloway", "Hesketh"), ("Ivory Bay", "Jessop")]
    rows = []
    for i, (a, b) in enumerate(pairs * 3):
        text = f"{a} beats estimates while {b} slumps {'abcdefghijklmno'[i]}"
        rows += [(text, a, "positive"), (text, b, "negative")]
    return pd.DataFrame(rows, columns=["text", "entity", "label"])


def test_loader_reads_a_target_column_from_a_sub_folder(tmp_path):
    _data().to_csv(tmp_path / "articles.csv", index=False)
    (tmp_path / "entities").mkdir()
    _entity_rows().to_csv(tmp_path / "entities" / "pairs.csv", index=False)
    frame = load_labelled(tmp_path)
    assert frame["target"].isna().sum() == len(_data().drop_duplicates())
    targeted = frame[frame["target"].notna()]
    assert len(targeted) == len(_entity_rows())
    # One text judged toward two companies is two rows, not a duplicate.
    assert targeted.groupby("text")["label"].nunique().eq(2).all()


def test_an_explicit_entity_column_must_exist(tmp_path):
    _data().to_csv(tmp_path / "articles.csv", index=False)
    with pytest.raises(TrainingError, match="articles.csv: no entity column 'ticker'"):
        load_labelled(tmp_path / "articles.csv", target_col="ticker")


def test_training_and_scoring_build_the_same_pair_input(tiny):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    frame = pd.DataFrame({"text": ["Corvane beats while Dunmore slumps", "shares fall"],
                          "label": ["positive", "negative"], "target": ["Dunmore", None]})
    enc, _ = encode_rows(tokenizer, frame, 32)
    trained = [row[mask.bool()].tolist() for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
    marked, target = target_input(frame["text"][0], "Dunmore")
    assert marked == "Corvane beats while < Dunmore > slumps"
    pair = encode(tokenizer, [marked], 32, targets=[target]).ids[0].tolist()
    single = encode(tokenizer, frame["text"][1:].tolist(), 32).ids[0].tolist()
    assert trained == [pair, single]
    assert pair.count(tokenizer.sep_token_id) == 2  # [CLS] text [SEP] target [SEP]
    # Truncation cuts the text, never the company.
    short = encode(tokenizer, ["word " * 50], 12, targets=["Dunmore"]).ids[0].tolist()
    assert len(short) == 12 and short[-1] == tokenizer.sep_token_id
    target_ids = tokenizer("Dunmore", add_special_tokens=False)["input_ids"]
    assert short[-len(target_ids) - 2:] == [tokenizer.sep_token_id, *target_ids, tokenizer.sep_token_id]


def test_a_model_trained_on_pairs_serves_both_inputs(tiny, tmp_path):
    data = pd.concat([_data(), _entity_rows()], ignore_index=True)
    data.to_csv(tmp_path / "mixed.csv", index=False)
    registry = Registry(tmp_path / "registry")
    record = train_model(data=tmp_path / "mixed.csv", base=str(tiny), name="tiny", registry=registry,
                         now=datetime(2026, 3, 1, tzinfo=UTC), args=TrainingArguments(**FAST),
                         progress=False)
    info = json.loads((record.path / "registry.json").read_text())
    assert info["n_entity_examples"] == len(_entity_rows())
    assert info["entity_metrics"]["n"] > 0 and info["metrics"]["n"] > 0
    assert info["metrics"]["n"] + info["entity_metrics"]["n"] < len(data)  # validation rows only
    # Each input kind has its own temperature, fitted on its own validation rows.
    assert {info["metrics"]["calibration"]["temperature"],
            info["entity_metrics"]["calibration"]["temperature"]} == set(
        round(t, 4) for t in SentimentClassifier(record.path).temperatures.values())
    classifier = SentimentClassifier(record.path, max_length=32)
    assert classifier.targeted
    texts = ["Corvane beats estimates while Dunmore slumps"] * 2
    probs = classifier.predict_probs(texts, targets=["Corvane", "Dunmore"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert classifier.predict_probs(texts[:1]).shape == (1, 3)
    with pytest.raises(ScoringError, match="1 targets for 2 texts"):
        classifier.predict_probs(texts, targets=["Corvane"])


def test_marking_finds_the_target_as_written():
    assert mark_target("Acme and Acme's rival slump", "Acme") == "< Acme > and < Acme >'s rival slump"
    assert mark_target("ACME falls", "Acme") == "< ACME > falls"          # case-insensitive next
    assert mark_target("$ACME falls; Acmex rises", "$ACME") == "< $ACME > falls; Acmex rises"
    assert mark_target("Acmex rises", "Acme") == "Acmex rises"              # whole words only
    assert mark_target("Shares of the robot maker slide", "Acme Robotics") == (
        "Shares of the robot maker slide")                                  # not named: unmarked


def test_an_article_level_model_refuses_targets(tiny):
    classifier = SentimentClassifier(tiny, max_length=32)
    assert not classifier.targeted
    with pytest.raises(ScoringError, match="no company-level output"):
        classifier.predict_probs(["Corvane rises"], targets=["Corvane"])


def test_conflicting_rows_are_headlines_judging_companies_differently():
    from pipeline.training.evaluate import conflicting_rows

    data = pd.DataFrame({"text": ["A up, B down"] * 2 + ["C and D fall"] * 2 + ["E rises"],
                         "target": ["A", "B", "C", "D", "E"],
                         "label": ["positive", "negative", "negative", "negative", "positive"]})
    assert conflicting_rows(data).tolist() == [True, True, False, False, False]


def test_evaluate_entity_column_reports_model_and_article_baseline(tiny, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app

    data = pd.concat([_data(), _entity_rows()], ignore_index=True)
    data.to_csv(tmp_path / "mixed.csv", index=False)
    record = train_model(data=tmp_path / "mixed.csv", base=str(tiny), name="tiny",
                         registry=Registry(tmp_path / "registry"),
                         now=datetime(2026, 3, 1, tzinfo=UTC), args=TrainingArguments(**FAST),
                         progress=False)
    _entity_rows().to_csv(tmp_path / "heldout.csv", index=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["evaluate", "--model", str(record.path), "--data",
                                      str(tmp_path / "heldout.csv"), "--entity-col", "entity", "--json"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"accuracy", "macro_f1", "conflicting"} <= set(line)
    assert set(line["conflicting"]) == {"accuracy", "macro_f1"}
    assert line["targeted"] is True and line["n"] == line["n_conflicting"] == len(_entity_rows())
    # The article-level baseline gives both companies of a contrast one label: it is right on
    # exactly half of every contrasting headline's rows at best.
    assert line["article_baseline"]["conflicting"]["accuracy"] <= 0.5
    table = CliRunner().invoke(app, ["evaluate", "--model", str(record.path), "--data",
                                     str(tmp_path / "heldout.csv"), "--entity-col", "entity"])
    assert table.exit_code == 0 and "article-level label for every company" in table.stdout
    missing = CliRunner().invoke(app, ["evaluate", "--model", str(record.path), "--data",
                                       str(tmp_path / "heldout.csv"), "--entity-col", "ticker"])
    assert missing.exit_code != 0
