"""``tonewatch evaluate``'s data checks: an absent split names those present, and rows with an
empty entity cell are counted, not dropped silently (no model needed: the classifier and the
evaluation are stand-ins)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import ConfigError

ROWS = ("text,label,entity,split\n"
        "Acme falls as Globex rises,negative,Acme,train\n"
        "Acme falls as Globex rises,positive,Globex,train\n"
        "Markets calm,neutral,,train\n"
        "Rates steady,neutral,,validation\n")


@pytest.fixture
def data(tmp_path, settings_env):
    path = tmp_path / "heldout.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def test_unknown_split_lists_the_splits_present(data):
    result = CliRunner().invoke(app, ["evaluate", "--model", "production", "--data", str(data),
                                      "--split", "valid"])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == (f"--split valid: no rows of that split in {data} "
                                     "(splits there: train, validation)")


def test_rows_without_an_entity_are_counted(data, monkeypatch):
    import pipeline.run
    import pipeline.scoring.canary
    import pipeline.training.evaluate

    seen = {}
    metrics = {"accuracy": 1.0, "macro_f1": 1.0, "conflicting": None,
               "confusion": [[0, 0, 0]] * 3}

    def evaluate_entities(classifier, frame):
        seen["targets"] = list(frame["target"])
        return {"model_version": "stub", "n": len(frame), "n_conflicting": 0, "entity": None,
                "article_baseline": metrics}

    monkeypatch.setattr(pipeline.run, "load_classifier", lambda *a, **k: object())
    monkeypatch.setattr(pipeline.training.evaluate, "evaluate_entities", evaluate_entities)
    monkeypatch.setattr(pipeline.scoring.canary, "run_target_canary", lambda c: None)
    args = ["evaluate", "--model", "production", "--data", str(data), "--entity-col", "entity"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert seen["targets"] == ["Acme", "Globex"]
    assert json.loads(result.stdout.strip().splitlines()[-1])["rows_without_entity"] == 2
    assert result.stderr.strip() == "2 of 4 rows left out: their entity cell is empty"
    train = CliRunner().invoke(app, [*args, "--split", "train"])
    assert train.exit_code == 0, train.output
    assert train.stderr.strip() == "1 of 3 rows left out: their entity cell is empty"
