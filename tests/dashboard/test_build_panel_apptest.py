"""What model runs and what is being built: the sidebar line and the Model page's build panel."""

from __future__ import annotations

import json

from pipeline.training.status import StatusWriter
from tests.dashboard.helpers import open_page

QUICK = "tonewatch-minilm-20260101-000000"


def _quick_registry(root):
    """A registry whose production version is a quick first model (records only, no weights)."""
    folder = root / "tonewatch-minilm" / QUICK
    folder.mkdir(parents=True)
    (folder / "registry.json").write_text(json.dumps({
        "model_version": QUICK, "name": "tonewatch-minilm", "stage": "production",
        "created_at": "2026-01-01T00:00:00+00:00", "recipe": "quick",
        "metrics": {"accuracy": 0.82, "macro_f1": 0.81, "n": 1659}}))
    return root


def _captions(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def test_running_build_shows_phase_progress_and_eta(monkeypatch, seeded_db, tmp_path):
    registry = _quick_registry(tmp_path / "registry")
    writer = StatusWriter(registry, "tonewatch-minilm", log="/var/log/model-upgrade.log")
    writer.phase("fine-tuning the full default model", total=200)
    writer.status.step, writer.status.eta_seconds = 50, 1830.0
    writer.write()
    monkeypatch.setenv("TONEWATCH_MODEL_REGISTRY", str(registry))
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    assert f"Scores from `{QUICK}` (quick first model)" in _captions(at.sidebar.caption)
    assert "Full model: fine-tuning the full default model: 25%, about 30 min 30 s left" in \
        _captions(at.sidebar.caption)
    assert any("quick first model" in w.value and "82.0%" in w.value for w in at.warning)
    bars = at.get("progress")
    assert len(bars) == 1
    assert bars[0].proto.value == 25
    assert "step 50 of 200" in bars[0].proto.text and "about 30 min 30 s left" in bars[0].proto.text
    assert "/var/log/model-upgrade.log" in _captions(at.caption)


def test_failed_build_is_an_error_with_the_way_out(monkeypatch, seeded_db, tmp_path):
    registry = _quick_registry(tmp_path / "registry")
    StatusWriter(registry, "tonewatch-minilm").fail("cannot load base model 'x'")
    monkeypatch.setenv("TONEWATCH_MODEL_REGISTRY", str(registry))
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("cannot load base model 'x'" in e and "tonewatch model upgrade" in e for e in errors)


def test_full_production_model_shows_no_warning_and_no_build(monkeypatch, seeded_db, tmp_path):
    registry = _quick_registry(tmp_path / "registry")
    info = registry / "tonewatch-minilm" / QUICK / "registry.json"
    info.write_text(info.read_text().replace('"quick"', '"full"'))
    monkeypatch.setenv("TONEWATCH_MODEL_REGISTRY", str(registry))
    at = open_page(monkeypatch, seeded_db.parent, "model")

    assert not at.exception
    assert not any("quick first model" in w.value for w in at.warning)
    assert not at.get("progress")
    assert f"Scores from `{QUICK}`" in _captions(at.sidebar.caption)
    assert "Full model:" not in _captions(at.sidebar.caption)
