"""Fast backends prepared at build time, and the ``auto`` backend that picks among them.

A tiny random BERT stands in for a model (no training): its export, checks and timings are the
real ones; the tests then edit ``export.json`` or the files to make one backend faster, failed,
missing or stale, and check what ``auto`` loads.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from pipeline.errors import OnnxCheckError
from pipeline.scoring.canary import CANARY
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.scoring.fast_backends import prepare_after_build, prepare_backends
from pipeline.scoring.onnx_check import auto_backend
from pipeline.scoring.onnx_export import export_onnx
from tests.unit.test_onnx_export import decisive_tiny_bert
from tests.unit.test_scoring import sentences


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    path = decisive_tiny_bert(tmp_path_factory.mktemp("fast") / "tiny", seed=3)
    lines = []
    report = prepare_backends(path, texts=sentences(150, seed=4, longest=30), max_length=64,
                              note=lines.append)
    return path, report, lines


@pytest.fixture
def model(prepared, tmp_path):
    """A private copy of the prepared model, free to damage."""
    return shutil.copytree(prepared[0], tmp_path / "model")


def edit_report(path, change) -> None:
    report_path = path / "onnx" / "export.json"
    report = json.loads(report_path.read_text())
    change(report)
    report_path.write_text(json.dumps(report))


def test_prepare_records_checks_and_speeds(prepared):
    path, report, lines = prepared
    stored = json.loads((path / "onnx" / "export.json").read_text())
    assert stored["speed"] == report["speed"] and stored["auto"] == report["auto"]
    assert set(report["speed"]) == {"torch"} | {k for k, c in report["checks"].items() if c["passed"]}
    assert report["auto"] == max(report["speed"], key=report["speed"].get)
    assert all(rate > 0 for rate in report["speed"].values())
    assert report["timing_rows"] == len(CANARY) + 150 - sum(not t for t in sentences(150, 4, 30))
    assert any(line.startswith("sentences/s:") for line in lines)


@pytest.mark.parametrize("fastest", ["onnx-fp32", "onnx-int8", "torch"])
def test_auto_loads_the_fastest_backend_that_passed(model, fastest, caplog):
    def speeds(report):
        report["speed"] = {"torch": 100.0, "onnx-fp32": 200.0, "onnx-int8": 150.0} | {fastest: 900.0}

    edit_report(model, speeds)
    with caplog.at_level(logging.INFO, logger="tonewatch"):
        classifier = SentimentClassifier(model, max_length=64, device="cpu", backend="auto")
    assert classifier.backend.name == fastest
    assert f"scores with {fastest} (auto: fastest that passed its check" in caplog.text


def test_auto_skips_a_backend_that_failed_its_check(model, caplog):
    def fail_int8(report):
        report["speed"] = {"torch": 100.0, "onnx-fp32": 200.0, "onnx-int8": 900.0}
        report["checks"]["onnx-int8"]["passed"] = False

    edit_report(model, fail_int8)
    assert SentimentClassifier(model, max_length=64, backend="auto").backend.name == "onnx-fp32"

    edit_report(model, lambda r: r["checks"]["onnx-fp32"].update(passed=False))
    with caplog.at_level(logging.INFO, logger="tonewatch"):
        classifier = SentimentClassifier(model, max_length=64, device="cpu", backend="auto")
    assert classifier.backend.name == "torch"
    assert "failed the check: onnx-fp32, onnx-int8" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)  # a problem, not a choice


def test_auto_falls_back_to_torch_without_files(model, caplog):
    edit_report(model, lambda r: r.update(speed={"torch": 1.0, "onnx-fp32": 5.0, "onnx-int8": 9.0}))
    (model / "onnx" / "model.int8.onnx").unlink()
    assert SentimentClassifier(model, max_length=64, backend="auto").backend.name == "onnx-fp32"
    shutil.rmtree(model / "onnx")
    with caplog.at_level(logging.INFO, logger="tonewatch"):
        assert SentimentClassifier(model, max_length=64, device="cpu", backend="auto").backend.name == "torch"
    assert "no ONNX export of model" in caplog.text


def test_auto_refuses_a_stale_export(model):
    with (model / "config.json").open("a") as handle:
        handle.write("\n")  # the weights or config changed after the export
    backend, why, problem = auto_backend(model)
    assert (backend, problem) == ("torch", True) and "stale" in why
    assert SentimentClassifier(model, max_length=64, device="cpu", backend="auto").backend.name == "torch"


def test_auto_without_onnxruntime_or_on_cuda_is_torch(model, monkeypatch):
    import importlib.util

    assert auto_backend(model, cuda=True)[:2] == ("torch", "CUDA device")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    assert auto_backend(model)[:2] == ("torch", "onnxruntime is not installed")


def test_auto_falls_back_when_the_file_fails_its_load_check(model, tmp_path, caplog):
    from pipeline.scoring.onnx_export import _export_fp32

    edit_report(model, lambda r: r.update(speed={"torch": 1.0, "onnx-fp32": 9.0}))
    other = decisive_tiny_bert(tmp_path / "other", seed=6)  # other weights, same shapes
    _export_fp32(other, model / "onnx" / "model.onnx")
    with caplog.at_level(logging.WARNING, logger="tonewatch"):
        classifier = SentimentClassifier(model, max_length=64, device="cpu", backend="auto")
    assert classifier.backend.name == "torch"
    assert "onnx-fp32 refused at load" in caplog.text
    with pytest.raises(OnnxCheckError):  # forced by name, the refusal is an error
        SentimentClassifier(model, max_length=64, backend="onnx-fp32")


def test_forced_backend_ignores_the_speeds(model):
    edit_report(model, lambda r: r.update(speed={"torch": 1.0, "onnx-fp32": 9.0, "onnx-int8": 5.0}))
    assert SentimentClassifier(model, max_length=64, backend="torch").backend.name == "torch"
    assert SentimentClassifier(model, max_length=64, backend="onnx-int8").backend.name == "onnx-int8"


def _export_with(path, damage):
    """export_onnx with a ``score`` that damages the probabilities of some files."""
    from pipeline.scoring.backends import OnnxBackend

    torch_model = SentimentClassifier(path, max_length=64, backend="torch")
    texts = [t for t, _ in CANARY] + sentences(80, seed=12, longest=30)
    reference = torch_model.predict_probs(texts)

    def score(target, batch):
        backend = target if hasattr(target, "logits") else OnnxBackend(target)
        probs = torch_model.with_backend(backend).predict_probs(batch)
        return damage(str(getattr(target, "name", target)), probs)

    return export_onnx(path, check_texts=texts, n_canary=len(CANARY), reference=reference,
                       score=score)


def test_the_parity_check_rejects_an_int8_export_that_moves_labels(tmp_path):
    path = decisive_tiny_bert(tmp_path / "tiny", seed=3)

    def rotate_int8(name, probs):  # every label of a quantised file moves
        return np.roll(probs, 1, axis=1) if "int8" in name else probs

    report = _export_with(path, rotate_int8)
    assert not report["checks"]["onnx-int8"]["passed"]
    assert report["quantized_groups"] == 0 and report["checks"]["onnx-fp32"]["passed"]
    assert auto_backend(path)[0] == "torch"  # no speeds: an export alone chooses nothing


def test_the_parity_check_rejects_a_float32_export_that_disagrees(tmp_path):
    path = decisive_tiny_bert(tmp_path / "tiny", seed=3)

    def shift_all(name, probs):
        return np.roll(probs, 1, axis=1) if name.endswith(".onnx") else probs

    with pytest.raises(OnnxCheckError, match="disagrees with PyTorch"):
        _export_with(path, shift_all)
    assert not (path / "onnx" / "model.onnx").exists()


def test_a_failing_export_never_fails_the_build(tmp_path, monkeypatch, caplog):
    import pipeline.scoring.fast_backends as fast

    path = decisive_tiny_bert(tmp_path / "tiny", seed=3)

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setattr(fast, "prepare_backends", broken)
    with caplog.at_level(logging.WARNING, logger="tonewatch"):
        assert prepare_after_build(path, ["a sentence"]) is None
    assert len(caplog.records) == 1
    assert "no fast scoring backends (RuntimeError: exporter exploded)" in caplog.text
    assert SentimentClassifier(path, max_length=64, device="cpu", backend="auto").backend.name == "torch"


def test_train_model_prepares_the_fast_backends_of_the_new_version(tmp_path, monkeypatch, caplog):
    """train_model's hook, with the fine-tuning replaced by a tiny random BERT (no training):
    the registered version gets its export, and a failing export leaves a registered model."""
    from datetime import UTC, datetime

    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import pipeline.scoring.fast_backends as fast
    from pipeline.training import train
    from pipeline.registry import Registry
    from pipeline.training.finetune import TrainResult

    source = decisive_tiny_bert(tmp_path / "source", seed=3)
    texts = sentences(60, seed=5, longest=20)
    labels = ["negative", "neutral", "positive"]
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": [t or "empty" for t in texts],
                  "label": [labels[i % 3] for i in range(60)]}).to_csv(data, index=False)

    def fake_finetune(frame, **kwargs):
        return TrainResult(
            model=AutoModelForSequenceClassification.from_pretrained(source).eval(),
            tokenizer=AutoTokenizer.from_pretrained(source), best_epoch=1, history=[],
            validation=frame.iloc[:30].reset_index(drop=True), seconds=0.0)

    monkeypatch.setattr(train, "finetune", fake_finetune)
    registry = Registry(tmp_path / "registry")
    record = train.train_model(data=data, base=str(source), name="tiny", registry=registry,
                               now=datetime(2026, 1, 1, tzinfo=UTC), progress=False)
    report = json.loads((record.path / "onnx" / "export.json").read_text())
    assert report["auto"] in report["speed"] and report["checks"]["onnx-fp32"]["passed"]

    monkeypatch.setattr(fast, "prepare_backends", lambda *a, **k: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="tonewatch"):
        second = train.train_model(data=data, base=str(source), name="tiny", registry=registry,
                                   now=datetime(2026, 1, 2, tzinfo=UTC), progress=False)
    assert registry.get(second.model_version).path == second.path
    assert not (second.path / "onnx").exists()
    assert "no fast scoring backends (ZeroDivisionError" in caplog.text
