"""Evaluation maths on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.domain import LABELS
from pipeline.training.evaluate import classification_metrics, evaluate_classifier


def test_hand_computed_case():
    # true:  neg neg neg neu neu pos ; pred: neg neu neg neu pos pos
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 1, 2, 2])
    m = classification_metrics(y_true, y_pred)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # negative: P=2/2 R=2/3 F1=0.8 ; neutral: P=1/2 R=1/2 F1=0.5 ; positive: P=1/2 R=1 F1=2/3
    assert m["per_class"]["negative"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["neutral"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["positive"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["positive"]["recall"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["majority_baseline_accuracy"] == pytest.approx(3 / 6)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_absent_class_scores_zero_not_nan():
    m = classification_metrics(np.array([1, 1, 1, 1]), np.array([1, 1, 0, 1]))
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["per_class"]["positive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # neutral: P=1 R=0.75 F1=6/7 ; negative: P=0 R=0 ; positive 0 → macro = (6/7)/3
    assert m["macro_f1"] == pytest.approx((6 / 7) / 3)
    assert m["majority_baseline_accuracy"] == 1.0


class _Fixed:
    model_version = "fixed-1"
    temperatures = {"article": 1.0, "company": 1.0}

    def predict_probs(self, texts, temperature=None):
        # "bad" → negative, "good" → positive, else neutral
        out = np.full((len(texts), 3), 0.1)
        for i, t in enumerate(texts):
            out[i, 0 if "bad" in t else 2 if "good" in t else 1] = 0.8
        return out


def test_evaluate_classifier_reports_version_and_latency():
    data = pd.DataFrame({"text": ["bad news", "good news", "news", "bad but good"],
                         "label": ["negative", "positive", "neutral", "positive"]})
    m = evaluate_classifier(_Fixed(), data)
    assert m["model_version"] == "fixed-1"
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["confusion"][LABELS.index("positive")] == [1, 0, 1]
    assert m["seconds"] >= 0 and m["sentences_per_s"] is None or m["sentences_per_s"] > 0


def test_calibration_hand_computed():
    from pipeline.training.evaluate import calibration

    # Four predictions at confidence 0.9 (3 right: accuracy 0.75, gap 0.15) and two at 0.6
    # (both right: gap 0.4), 10 bins: ECE = 4/6 * 0.15 + 2/6 * 0.4 = 0.2333.
    probs = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.2, 0.6, 0.2]] * 2)
    truth = np.array([0, 0, 0, 2, 1, 1])
    result = calibration(probs, truth, n_bins=10)
    assert result["ece"] == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.4)
    assert [(b["lower"], b["n"]) for b in result["bins"]] == [(pytest.approx(0.5), 2), (pytest.approx(0.8), 4)]
    assert result["bins"][1]["accuracy"] == pytest.approx(0.75)


def test_calibration_of_a_calibrated_model_is_near_zero_and_bad_shapes_raise():
    from pipeline.training.evaluate import calibration

    rng = np.random.default_rng(4)
    confidence = rng.uniform(0.34, 1.0, 20_000)
    probs = np.column_stack([confidence, (1 - confidence) / 2, (1 - confidence) / 2])
    truth = np.where(rng.uniform(size=confidence.size) < confidence, 0, 1)  # right with p = confidence
    assert calibration(probs, truth)["ece"] < 0.02
    overconfident = calibration(np.column_stack([np.full(1000, 0.99), np.full(1000, 0.005),
                                                 np.full(1000, 0.005)]), np.r_[np.zeros(600), np.ones(400)])
    assert overconfident["ece"] == pytest.approx(0.39)
    with pytest.raises(ValueError, match="calibration needs"):
        calibration(np.zeros((2, 3)), np.zeros(3))


def test_evaluate_classifier_reports_calibration():
    data = pd.DataFrame({"text": ["bad news", "good news"], "label": ["negative", "positive"]})
    m = evaluate_classifier(_Fixed(), data)
    assert 0 <= m["calibration"]["ece"] <= 1 and sum(b["n"] for b in m["calibration"]["bins"]) == 2
