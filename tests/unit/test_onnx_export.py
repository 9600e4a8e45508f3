"""ONNX export of a tiny random BERT: float32 and int8 files, their checks, refusal when stale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.errors import ModelNotFoundError, OnnxCheckError
from pipeline.scoring.backends import OnnxBackend
from pipeline.scoring.canary import CANARY
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.scoring.onnx_check import compare, recheck
from pipeline.scoring.onnx_export import export_onnx
from tests.unit.test_scoring import sentences
from tests.unit.tiny_bert import save_tiny_bert

LABEL_ORDER = {0: "negative", 1: "neutral", 2: "positive"}


def decisive_tiny_bert(path, seed: int = 5):
    """A tiny random BERT whose classifier is scaled up, so its labels have clear margins
    (a random head gives near-uniform probabilities, where any rounding flips a label)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    save_tiny_bert(path, LABEL_ORDER, seed=seed)
    state = AutoModelForSequenceClassification.from_pretrained(path).state_dict()
    state["classifier.weight"] = state["classifier.weight"] * 40
    del torch
    return save_tiny_bert(path, LABEL_ORDER, state=state)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = decisive_tiny_bert(tmp_path_factory.mktemp("onnx") / "tiny")
    torch_model = SentimentClassifier(path, max_length=64)
    texts = [t for t, _ in CANARY] + sentences(200, seed=7, longest=40)
    reference = torch_model.predict_probs(texts)
    lines = []
    report = export_onnx(
        path, check_texts=texts, n_canary=len(CANARY), reference=reference, note=lines.append,
        score=lambda onnx, batch: torch_model.with_backend(
            onnx if hasattr(onnx, "logits") else OnnxBackend(onnx)).predict_probs(batch))
    return path, torch_model, report, lines


def test_export_writes_checked_float32_and_int8_files(exported):
    path, _, report, lines = exported
    assert (path / "onnx" / "model.onnx").exists() and (path / "onnx" / "model.int8.onnx").exists()
    assert json.loads((path / "onnx" / "export.json").read_text())["checks"] == report["checks"]
    fp32, int8 = report["checks"]["onnx-fp32"], report["checks"]["onnx-int8"]
    assert fp32["passed"] and fp32["label_agreement"] == 1.0 and fp32["max_prob_diff"] < 1e-4
    assert int8["passed"] and int8["label_agreement"] >= 0.995 and int8["canary_agrees"]
    assert report["quantized_groups"] >= 1 and report["quantized_matmuls"]
    assert any(line.startswith("int8:") for line in lines)
    assert not list((path / "onnx").glob(".export.*"))  # the work folder is cleaned up


@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_onnx_backends_score_like_torch(exported, backend):
    path, torch_model, _, _ = exported
    onnx_model = SentimentClassifier(path, backend=backend, max_length=64)
    assert onnx_model.backend.name == backend and onnx_model.load_check.canary_agrees
    texts = sentences(120, seed=11, longest=40)
    probs, reference = onnx_model.predict_probs(texts), torch_model.predict_probs(texts)
    agreement = compare(reference, probs, 0)
    if backend == "onnx-fp32":
        assert agreement.label_agreement == 1.0 and agreement.max_prob_diff < 1e-4
    else:  # int8 is an approximation: most labels, close probabilities
        assert agreement.label_agreement >= 0.97 and agreement.mean_prob_diff < 0.02


def test_changed_weights_make_the_export_stale(exported, tmp_path):
    import shutil

    path, _, _, _ = exported
    copy = shutil.copytree(path, tmp_path / "copy")
    with (copy / "config.json").open("a") as handle:
        handle.write("\n")  # any change to weights or config
    with pytest.raises(OnnxCheckError, match="stale"):
        SentimentClassifier(copy, backend="onnx-int8")


def test_a_wrong_onnx_file_is_refused_before_scoring(exported, tmp_path):
    import shutil

    path, _, _, _ = exported
    copy = shutil.copytree(path, tmp_path / "swapped")
    from pipeline.scoring.onnx_export import _export_fp32

    other = decisive_tiny_bert(tmp_path / "other", seed=6)  # other weights, same shapes

    _export_fp32(other, copy / "onnx" / "model.onnx")
    with pytest.raises(OnnxCheckError, match="disagrees with its PyTorch model"):
        SentimentClassifier(copy, backend="onnx-fp32")


def test_missing_export_says_how_to_make_one(tmp_path):
    path = save_tiny_bert(tmp_path / "plain", LABEL_ORDER)
    with pytest.raises(ModelNotFoundError, match="tonewatch model export-onnx"):
        SentimentClassifier(path, backend="onnx-int8")


def test_recheck_limits():
    report = {"load_check": {"n_canary": 2, "reference": [[0.9, 0.05, 0.05], [0.1, 0.1, 0.8],
                                                           [0.2, 0.7, 0.1]]}}
    same = np.array(report["load_check"]["reference"])
    assert recheck(report, "onnx-fp32", same, "m").label_agreement == 1.0
    flipped = same[[0, 2, 1]]  # a canary sentence changes label
    with pytest.raises(OnnxCheckError):
        recheck(report, "onnx-int8", flipped, "m")


def test_export_model_from_the_registry(tmp_path):
    from datetime import UTC, datetime

    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipeline.config import load_settings
    from pipeline.scoring.fast_backends import export_model
    from pipeline.scoring.onnx_export import calibration_texts
    from pipeline.registry import Registry

    source = decisive_tiny_bert(tmp_path / "source", seed=8)
    record = Registry(tmp_path / "registry").register(
        AutoModelForSequenceClassification.from_pretrained(source),
        AutoTokenizer.from_pretrained(source), name="tiny",
        created_at=datetime(2026, 1, 1, tzinfo=UTC), info={})
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = sentences(90, seed=9, longest=20)
    pd.DataFrame({"text": texts, "label": "neutral",
                  "split": ["validation" if i % 3 else "train" for i in range(90)]}
                 ).to_csv(corpus / "rows.csv", index=False)
    assert calibration_texts(corpus) == [t for i, t in enumerate(texts) if i % 3 and t]
    settings = load_settings(model_registry=tmp_path / "registry", corpus_dir=corpus)
    report = export_model(settings, record.model_version)
    assert report["path"] == str(record.path / "onnx")
    assert report["checks"]["onnx-fp32"]["n"] == len(CANARY) + len(calibration_texts(corpus))
    assert SentimentClassifier(record.path, backend="onnx-fp32").backend.name == "onnx-fp32"
