"""The quick first model replaced by the full one: `tonewatch model upgrade` (foreground and
--detach), its status file and `tonewatch model status`, through the CLI on a real database.

No model is trained here: the session's test model is registered twice in a scratch registry,
once as the quick production model and once as an already built full model (what an
interrupted upgrade leaves behind, which the upgrade reuses instead of training again).
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_FEEDS, ROOT, cli, query

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AT = "2026-03-06T00:00:00Z"


def _scratch_registry(root: Path, trained_registry: Path, *, full_f1: float) -> tuple[str, str]:
    """A registry holding the test model as the quick production model (macro-F1 0.70) and as a
    full-recipe candidate trained on the corpus (macro-F1 ``full_f1``); returns both versions."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.registry import DEFAULT_NAME, Registry
    from pipeline.training.datasets import data_hash, load_labelled

    source = Registry(trained_registry).get("production")
    model = AutoModelForSequenceClassification.from_pretrained(source.path)
    tokenizer = AutoTokenizer.from_pretrained(source.path)
    registry = Registry(root)
    quick = registry.register(model, tokenizer, name=DEFAULT_NAME,
                              created_at=datetime(2026, 1, 1, tzinfo=UTC),
                              info={"recipe": "quick", "data_hash": "quick-rows",
                                    "metrics": {"accuracy": 0.72, "macro_f1": 0.70, "n": 100}})
    registry.set_stage(quick.model_version, "production")
    full = registry.register(model, tokenizer, name=DEFAULT_NAME,
                             created_at=datetime(2026, 1, 2, tzinfo=UTC),
                             info={"recipe": "full",
                                   "data_hash": data_hash(load_labelled(ROOT / "models" / "corpus")),
                                   "metrics": {"accuracy": 0.9, "macro_f1": full_f1, "n": 100}})
    if (source.path / "onnx").is_dir():  # same weights: the session model's checked exports
        shutil.copytree(source.path / "onnx", full.path / "onnx")
    return quick.model_version, full.model_version


def _status(registry_root: Path) -> dict:
    return json.loads((registry_root / ".training" / "tonewatch-minilm.json").read_text())


@pytest.fixture
def upgrade_env(env, tmp_path):
    registry = tmp_path / "registry"
    return {**env, "TONEWATCH_MODEL_REGISTRY": str(registry)}, registry


def test_detached_upgrade_promotes_the_better_full_model_rescores_and_replays(
        upgrade_env, tmp_path, trained_registry):
    env, registry = upgrade_env
    quick, full = _scratch_registry(registry, trained_registry, full_f1=0.9)
    db = tmp_path / "data" / "tonewatch.duckdb"
    run = cli(env, "run", "--no-config", "--at", AT, "--feeds", str(FIXTURE_FEEDS / "*"))
    assert run.returncode == 0, run.stderr
    assert query(db, "SELECT DISTINCT model_version FROM scores") == [(quick,)]
    n_articles = query(db, "SELECT count(*) FROM articles")[0][0]

    started = cli(env, "model", "upgrade", "--detach")
    assert started.returncode == 0, started.stderr
    assert "in the background" in started.stdout
    log = tmp_path / "data" / "logs" / "model-upgrade.log"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status_file = registry / ".training" / "tonewatch-minilm.json"
        if status_file.exists() and _status(registry)["state"] != "running":
            break
        time.sleep(1)
    status = _status(registry)
    assert status["state"] == "done", (status, log.read_text() if log.exists() else "")
    assert status["phase"] == "promoted" and status["model_version"] == full
    phases = [step["phase"] for step in status["history"]]
    assert "fine-tuning the full default model" not in phases  # the registered one is reused
    assert phases[-4:] == ["rescoring stored articles with the candidate", "canary and promotion",
                           "replaying detection with the new scores", "promoted"]
    assert status["log"] == str(log) and log.exists()

    from pipeline.registry import Registry

    assert Registry(registry).get("production").model_version == full
    # Every stored article now has a score of the full model, the quick model's are kept.
    assert query(db, "SELECT count(DISTINCT article_id) FROM scores WHERE model_version = ?",
                 [full])[0][0] == query(db, "SELECT count(DISTINCT article_id) FROM scores "
                                            "WHERE model_version = ?", [quick])[0][0] > 0
    assert n_articles > 0

    shown = cli(env, "model", "status")
    assert shown.returncode == 0, shown.stderr
    assert f"production: {full} (full recipe" in shown.stdout
    assert "build: done, promoted" in shown.stdout and quick in shown.stdout

    again = cli(env, "model", "upgrade")
    assert again.returncode == 0 and "nothing to upgrade" in again.stdout


def test_upgrade_keeps_the_quick_model_when_the_candidate_is_not_better(
        upgrade_env, tmp_path, trained_registry):
    env, registry = upgrade_env
    quick, full = _scratch_registry(registry, trained_registry, full_f1=0.65)
    assert cli(env, "run", "--no-config", "--at", AT, "--feeds",
               str(FIXTURE_FEEDS / "*")).returncode == 0
    out = cli(env, "model", "upgrade")
    assert out.returncode == 0, out.stderr
    assert f"kept {quick}" in out.stdout and "not above production's 0.700" in out.stdout
    status = _status(registry)
    assert (status["state"], status["phase"]) == ("done", "kept production")

    from pipeline.registry import Registry

    assert Registry(registry).get("production").model_version == quick
    # Not silent: the status says which model runs and why the candidate was kept.
    shown = cli(env, "model", "status")
    assert "(quick recipe" in shown.stdout and "kept production" in shown.stdout


def test_a_failed_upgrade_says_so_and_leaves_production_alone(upgrade_env, tmp_path,
                                                              trained_registry):
    env, registry = upgrade_env
    quick, full = _scratch_registry(registry, trained_registry, full_f1=0.9)
    assert cli(env, "run", "--no-config", "--at", AT, "--feeds",
               str(FIXTURE_FEEDS / "*")).returncode == 0
    from pipeline.registry import Registry

    (Registry(registry).get(full).path / "model.safetensors").unlink()  # a damaged build
    out = cli(env, "model", "upgrade")
    assert out.returncode != 0
    status = _status(registry)
    assert status["state"] == "failed" and status["message"]
    assert Registry(registry).get("production").model_version == quick
    shown = cli(env, "model", "status")
    assert shown.returncode == 1 and "build: failed" in shown.stdout
    assert "tonewatch model upgrade" in shown.stderr
