"""tonewatch_rescore and tonewatch_train: their task bodies, run with a manual run's context.

The task callables are the real task bodies; only ``get_current_context`` is replaced by the
context Airflow would pass a manual run (params, no data interval, ``run_after``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.errors import ModelNotFoundError
from tests.conftest import ROOT, query
from tests.dags.conftest import DAGS_DIR, SURGE_AT, tonewatch_env
from tests.unit.test_model_lifecycle import FAST, _data
from tests.unit.tiny_bert import save_tiny_bert

pytest.importorskip("airflow")


def load_dag_module(stem: str):
    spec = importlib.util.spec_from_file_location(f"{stem}_under_test", DAGS_DIR / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manual_context(run_after: datetime, **params) -> dict:
    """What Airflow passes a task of a manual run triggered without a logical date."""
    return {"params": params, "data_interval_start": None, "data_interval_end": None,
            "dag_run": SimpleNamespace(run_type="manual", run_after=run_after)}


@pytest.fixture
def settings_env(monkeypatch, tmp_path):
    """Clear TONEWATCH_* and run from the repository root; returns a setter for new values."""
    monkeypatch.chdir(ROOT)
    for name in list(os.environ):
        if name.startswith("TONEWATCH_"):
            monkeypatch.delenv(name)

    def apply(values: dict[str, str]) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return apply


@pytest.mark.slow
def test_rescore_dag_scores_the_range_with_the_candidate_and_returns_counts(
        settings_env, monkeypatch, tmp_path, surge_feed, trained_registry):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline import run
    from pipeline.config import load_settings
    from pipeline.registry import Registry

    # A private copy of the session's registry, plus a candidate that leans negative.
    registry_root = tmp_path / "registry"
    shutil.copytree(trained_registry, registry_root)
    settings_env(tonewatch_env(tmp_path, registry_root, feeds=(surge_feed,)))
    settings = load_settings()
    run.ingest(settings, at=SURGE_AT)
    production = run.score(settings, at=SURGE_AT).counts["model_version"]
    registry = Registry(registry_root)
    model = AutoModelForSequenceClassification.from_pretrained(registry.get("production").path)
    with torch.no_grad():
        model.classifier.bias[model.config.label2id["negative"]] += 1.0
    candidate = registry.register(
        model, AutoTokenizer.from_pretrained(registry.get("production").path), name="gloomier",
        created_at=datetime(2026, 3, 7, tzinfo=UTC), info={"metrics": {}}).model_version

    module = load_dag_module("tonewatch_rescore")
    context = manual_context(SURGE_AT, model=candidate, since="2026-03-01", until="", against="")
    monkeypatch.setattr(module, "get_current_context", lambda: context)
    summary = module.rescore_dag.get_task("rescore").python_callable()

    db = tmp_path / "data" / "tonewatch.duckdb"
    in_range = query(db, "SELECT count(*) FROM articles WHERE published_at >= ? AND published_at < ?",
                     [datetime(2026, 3, 1, tzinfo=UTC), SURGE_AT])[0][0]
    assert summary["counts"]["model_version"] == candidate
    assert summary["counts"]["scored"] == in_range
    assert query(db, "SELECT count(*) FROM scores WHERE model_version = ?", [candidate])[0][0] == in_range
    comparison = summary["comparison"]
    assert comparison["baseline"] == production and comparison["candidate"] == candidate
    assert comparison["articles_compared"] == in_range
    assert comparison["negative_share"][candidate] >= comparison["negative_share"][production]
    json.dumps(summary)  # an XCom: small and JSON-serialisable
    # Nothing was promoted: detection still reads production's scores.
    assert registry.get("production").model_version == production

    # The same range again scores nothing.
    again = module.rescore_dag.get_task("rescore").python_callable()
    assert again["counts"]["scored"] == 0


def test_train_dag_registers_a_candidate_evaluates_it_and_never_promotes(
        settings_env, monkeypatch, tmp_path):
    tiny = save_tiny_bert(tmp_path / "tiny", {0: "negative", 1: "neutral", 2: "positive"})
    data, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    _data().to_csv(data, index=False)
    _data(4).to_csv(holdout, index=False)
    (tmp_path / "args.json").write_text(json.dumps(FAST), encoding="utf-8")
    settings_env({"TONEWATCH_MODEL_REGISTRY": str(tmp_path / "registry"),
                  "TONEWATCH_DATA_DIR": str(tmp_path / "data")})

    module = load_dag_module("tonewatch_train")
    run_after = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    context = manual_context(run_after, data=str(data), base=str(tiny), name="tiny",
                             config=str(tmp_path / "args.json"), peft="", eval_data=str(holdout),
                             label_map="")
    monkeypatch.setattr(module, "get_current_context", lambda: context)
    trained = module.train_dag.get_task("train").python_callable()
    assert trained["model_version"] == "tiny-20260301-093000"  # named by the run, not the clock
    assert trained["stage"] == "candidate"
    evaluated = module.train_dag.get_task("evaluate").python_callable(trained)
    assert evaluated["model_version"] == trained["model_version"]
    assert evaluated["eval_n"] == len(_data(4))
    assert evaluated["canary_total"] == 20 and isinstance(evaluated["canary_passed"], bool)
    json.dumps(trained), json.dumps(evaluated)

    from pipeline.registry import Registry

    registry = Registry(tmp_path / "registry")
    info = json.loads((registry.get(trained["model_version"]).path / "registry.json").read_text())
    assert info["evaluation"]["n"] == len(_data(4)) and "canary" in info
    assert registry.get(trained["model_version"]).stage == "candidate"
    with pytest.raises(ModelNotFoundError):
        registry.get("production")
    assert not (tmp_path / "data").exists(), "training touched the database"
