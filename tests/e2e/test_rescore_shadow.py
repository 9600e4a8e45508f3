"""Rescore with a candidate model version and the shadow comparison, through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_FEEDS, cli, query

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AT = "2026-03-06T00:00:00Z"


def _register_gloomier_copy(registry_root: Path, shift: float) -> str:
    """Register the production model with its negative logit raised by ``shift`` as a candidate."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.registry import Registry

    registry = Registry(registry_root)
    production = registry.get("production")
    model = AutoModelForSequenceClassification.from_pretrained(production.path)
    negative = model.config.label2id["negative"]
    with torch.no_grad():
        model.classifier.bias[negative] += shift
    record = registry.register(model, AutoTokenizer.from_pretrained(production.path),
                               name="gloomier", created_at=datetime(2026, 3, 7, tzinfo=UTC),
                               info={"base": str(production.path), "metrics": {}})
    return record.model_version


def test_rescore_keeps_old_scores_and_reports_label_and_alert_changes(env, tmp_path, trained_registry):
    db = tmp_path / "data" / "tonewatch.duckdb"
    run = cli(env, "run", "--no-config", "--at", AT, "--feeds", str(FIXTURE_FEEDS / "*"))
    assert run.returncode == 0, run.stderr
    production = query(db, "SELECT DISTINCT model_version FROM scores")
    assert len(production) == 1
    production = production[0][0]
    before = query(db, "SELECT article_id, label, p_negative FROM scores ORDER BY 1")

    candidate = _register_gloomier_copy(Path(env["TONEWATCH_MODEL_REGISTRY"]), shift=1.5)
    try:
        out = cli(env, "rescore", "--model", candidate, "--json")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        n_articles = query(db, "SELECT count(DISTINCT article_id) FROM scores WHERE model_version = ?",
                           [production])[0][0]
        assert report["rescore"]["scored"] == n_articles
        assert report["baseline"] == production and report["candidate"] == candidate
        assert report["articles_compared"] == n_articles
        assert sum(sum(row.values()) for row in report["transitions"].values()) == n_articles
        # A higher negative logit can only move labels towards negative.
        assert report["labels_changed"] > 0
        assert report["labels_changed"] == sum(report["transitions"][a]["negative"]
                                               for a in ("neutral", "positive"))
        assert report["negative_share"][candidate] > report["negative_share"][production]
        assert report["windows_replayed"] >= 1
        assert report["alerts_candidate"] >= report["alerts_baseline"] >= 1
        # The production scores are untouched and detection still reads them.
        after = query(db, "SELECT article_id, label, p_negative FROM scores WHERE model_version = ?"
                          " ORDER BY 1", [production])
        assert after == before
        detect = cli(env, "detect", "--at", AT)
        assert f"model_version={production}" in detect.stdout or production in detect.stdout

        # A second rescore has nothing left to score; the table form names both versions.
        again = cli(env, "rescore", "--model", candidate, "--since", "2026-03-05")
        assert again.returncode == 0, again.stderr
        assert "scored=0" in again.stdout and "shadow comparison" in again.stdout
        assert candidate in again.stdout and "negative share" in again.stdout
    finally:
        import shutil

        from pipeline.registry import Registry

        shutil.rmtree(Registry(Path(env["TONEWATCH_MODEL_REGISTRY"])).get(candidate).path)


def test_rescore_with_an_unknown_version_is_one_clear_line(env, tmp_path):
    out = cli(env, "rescore", "--model", "no-such-version-1")
    assert out.returncode != 0
    assert "no-such-version-1" in out.stderr and "Traceback" not in out.stderr
