"""Temperature scaling: fitting, storing in the model, applying at scoring time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.scoring.calibration import TEMPERATURE_KEY, model_temperatures, softmax
from pipeline.training.evaluate import calibration, evaluate_classifier, fit_temperature
from tests.unit.test_model_lifecycle import tiny  # noqa: F401  (a fixture)


def _sampled(temperature: float, n: int = 20_000, seed: int = 3):
    """Logits and labels drawn from ``softmax(logits / temperature)``: the true temperature."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, 3))
    probs = softmax(logits, temperature)
    labels = (rng.uniform(size=(n, 1)) > probs.cumsum(axis=1)).sum(axis=1)
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_t):
    logits, labels = _sampled(true_t)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_t, rel=0.05)
    # And it calibrates: ECE at the fitted temperature is small, at T = 1 it is not (unless 1).
    assert calibration(softmax(logits, fitted), labels)["ece"] < 0.02
    if true_t != 1.0:
        assert calibration(softmax(logits), labels)["ece"] > 0.05


def test_a_per_row_constant_does_not_change_the_fit():
    logits, labels = _sampled(2.0, n=5_000)
    log_probs = np.log(softmax(logits))  # what a scorer returns, logged
    assert fit_temperature(log_probs, labels) == pytest.approx(fit_temperature(logits, labels), rel=1e-3)


def test_fit_temperature_refuses_bad_input():
    with pytest.raises(ValueError, match="needs \\(n, k\\) logits and n labels"):
        fit_temperature(np.zeros((3, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="needs \\(n, k\\)"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.array([[0.0, -np.inf, 1.0]]), np.array([0]))


class _Config:
    pass


def test_model_temperatures_default_to_one_and_are_checked():
    config = _Config()
    assert model_temperatures(config) == {"article": 1.0, "company": 1.0}
    setattr(config, TEMPERATURE_KEY, {"article": 0.8})
    assert model_temperatures(config) == {"article": 0.8, "company": 1.0}
    for bad in ({"article": 0.0}, {"company": "hot"}, {"article": 1e6}, [1.0]):
        setattr(config, TEMPERATURE_KEY, bad)
        with pytest.raises(ValueError, match=TEMPERATURE_KEY):
            model_temperatures(config)


def _with_temperature(tiny, tmp_path, temperatures):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny)
    setattr(model.config, TEMPERATURE_KEY, temperatures)
    model.save_pretrained(tmp_path / "hot")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(tmp_path / "hot")
    return tmp_path / "hot"


def test_the_classifier_divides_the_logits_by_the_model_temperature(tiny, tmp_path):
    from pipeline.scoring.classifier import SentimentClassifier

    texts = ["shares plunge after profit misses", "bank raises dividend", "annual meeting report"]
    plain = SentimentClassifier(tiny, max_length=32).predict_probs(texts)
    hot = SentimentClassifier(_with_temperature(tiny, tmp_path, {"article": 0.25, "company": 4.0}),
                              max_length=32)
    assert hot.temperatures == {"article": 0.25, "company": 4.0}
    served = hot.predict_probs(texts)
    assert np.allclose(served, softmax(np.log(plain.astype(np.float64)), 0.25), atol=1e-5)
    assert (served.argmax(axis=1) == plain.argmax(axis=1)).all()  # labels never change
    assert np.allclose(hot.predict_probs(texts, temperature=1.0), plain, atol=1e-6)
    # evaluate reports the served probabilities' ECE and the plain softmax's next to it.
    data = pd.DataFrame({"text": texts, "label": ["negative", "positive", "neutral"]})
    metrics = evaluate_classifier(hot, data)
    truth = np.array([0, 2, 1])
    assert metrics["calibration"]["temperature"] == 0.25
    assert metrics["calibration"]["ece"] == pytest.approx(calibration(served, truth)["ece"], abs=1e-5)
    assert metrics["calibration"]["ece_uncalibrated"] == pytest.approx(
        calibration(plain, truth)["ece"], abs=1e-5)


def test_a_broken_stored_temperature_is_one_clear_error(tiny, tmp_path):
    from pipeline.errors import ModelNotFoundError
    from pipeline.scoring.classifier import SentimentClassifier

    path = _with_temperature(tiny, tmp_path, {"article": 1.0})
    config = json.loads((path / "config.json").read_text())
    config[TEMPERATURE_KEY] = {"article": -2}
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelNotFoundError, match="is not a temperature"):
        SentimentClassifier(path, max_length=32)
