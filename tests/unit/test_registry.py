"""The model registry: round trip, stages and the canary gate, one read of its files per stage."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.errors import CanaryFailedError, ModelNotFoundError
from pipeline.registry import Registry
from pipeline.training.arguments import TrainingArguments
from pipeline.training.train import promote_model, train_model
from tests.unit.test_model_lifecycle import FAST, _data, tiny  # noqa: F401  (tiny is a fixture)


def test_registry_round_trip_and_canary_gates_promotion(tiny, tmp_path):
    csv = tmp_path / "data.csv"
    _data().to_csv(csv, index=False)
    registry = Registry(tmp_path / "registry")
    record = train_model(data=csv, base=str(tiny), name="tiny", registry=registry,
                         now=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                         args=TrainingArguments(**FAST), progress=False)
    assert record.model_version == "tiny-20260301-093000" and record.stage == "candidate"
    files = {p.name for p in record.path.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "training_args.json",
            "registry.json", "README.md"} <= files
    assert any(name.startswith("tokenizer") for name in files)
    info = json.loads((record.path / "registry.json").read_text())
    assert len(info["data_hash"]) == 64 and info["base"] == str(tiny)
    assert json.loads((record.path / "training_args.json").read_text())["seed"] == 7
    assert json.loads((record.path / "metrics.json").read_text())["n"] == record.metrics["n"]
    card = (record.path / "README.md").read_text()
    assert "Base encoder" in card
    # Calibrated on the validation split: the temperature travels in config.json, the card
    # states it with the ECE before and after and shows the reliability diagram.
    from pipeline.scoring.calibration import TEMPERATURE_KEY

    temperatures = json.loads((record.path / "config.json").read_text())[TEMPERATURE_KEY]
    assert set(temperatures) == {"article", "company"}
    assert temperatures["article"] == pytest.approx(info["metrics"]["calibration"]["temperature"], rel=1e-3)
    assert info["metrics"]["calibration"]["ece"] <= info["metrics"]["calibration"]["ece_uncalibrated"] + 1e-9
    assert "## Calibration" in card and "T = " in card and "![Reliability diagram](reliability.svg)" in card
    assert (record.path / "reliability.svg").read_text().startswith("<svg")
    assert registry.get(record.model_version).path == record.path
    # A random tiny network cannot label the canary: promotion is refused, nothing changes.
    with pytest.raises(CanaryFailedError, match="canary"):
        promote_model(registry, record.model_version)
    assert registry.get(record.model_version).stage == "candidate"
    with pytest.raises(ModelNotFoundError):
        registry.get("production")


def _register_tiny(registry: Registry, tiny, day: int):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return registry.register(AutoModelForSequenceClassification.from_pretrained(tiny),
                             AutoTokenizer.from_pretrained(tiny), name="tiny",
                             created_at=datetime(2026, 3, day, tzinfo=UTC), info={"metrics": {}})


def test_registry_reads_once_and_keeps_its_own_writes(tiny, tmp_path):
    registry = Registry(tmp_path / "registry")
    assert registry.list() == []
    first = _register_tiny(registry, tiny, 1)
    assert [r.model_version for r in registry.list()] == [first.model_version]
    assert registry.set_stage(first.model_version, "production").stage == "production"
    second = _register_tiny(registry, tiny, 2)
    registry.set_stage(second.model_version, "production")
    assert registry.get("production").model_version == second.model_version
    assert registry.get(first.model_version).stage == "archived"
    # What an instance keeps after its own writes is what a fresh read of the folder gives.
    assert Registry(tmp_path / "registry").list() == registry.list()
    # Another writer's change is seen by a new instance, or after refresh().
    other = Registry(tmp_path / "registry")
    other.update(other.get(first.model_version), note="reviewed")
    assert "note" not in registry.get(first.model_version).info
    assert registry.refresh().get(first.model_version).info["note"] == "reviewed"
    assert registry.find("no-such-version") is None


def test_one_score_stage_reads_each_registry_file_at_most_once(tiny, tmp_path, monkeypatch):
    import builtins
    import pathlib
    from collections import Counter

    from pipeline import run
    from pipeline.config import load_settings
    from pipeline.scoring import canary
    from pipeline.storage.db import connect

    registry = Registry(tmp_path / "registry")
    old, new = _register_tiny(registry, tiny, 1), _register_tiny(registry, tiny, 2)
    registry.set_stage(new.model_version, "production")
    settings = load_settings(data_dir=tmp_path / "data", model_registry=tmp_path / "registry",
                             model="production")
    # A random tiny network cannot label the canary; what is counted here is the registry reads.
    monkeypatch.setattr(canary, "require_canary", lambda classifier, what: None)
    opened: Counter = Counter()
    real_open, real_path_open = builtins.open, pathlib.Path.open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith("registry.json"):
            opened[str(file)] += 1
        return real_open(file, *args, **kwargs)

    def counting_path_open(self, *args, **kwargs):  # Path.read_text opens through Path.open
        if self.name == "registry.json":
            opened[str(self)] += 1
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(pathlib.Path, "open", counting_path_open)
    result = run.score(settings, at=datetime(2026, 3, 6, tzinfo=UTC))
    monkeypatch.undo()

    assert result.counts["model_version"] == new.model_version
    assert opened == {str(r.path / "registry.json"): 1 for r in (old, new)}
    with connect(settings.db_path, read_only=True) as con:  # and both are mirrored
        rows = con.execute("SELECT model_version, stage FROM model_versions ORDER BY 1").fetchall()
    assert rows == [(old.model_version, "candidate"), (new.model_version, "production")]
