"""Classification metrics of a model on labelled data."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pipeline.domain import LABELS
from pipeline.training.datasets import label_ids


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, majority baseline.

    Args:
        y_true, y_pred: class indices in :data:`pipeline.domain.LABELS` order, shape ``(n,)``.

    Returns:
        JSON-friendly dict; ``confusion[i][j]`` counts true class i predicted as j.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = [0, 1, 2]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    majority = np.bincount(y_true, minlength=3).max() / max(len(y_true), 1)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)),
        "majority_baseline_accuracy": float(majority),
        "per_class": {
            LABELS[i]: {"precision": float(precision[i]), "recall": float(recall[i]),
                        "f1": float(f1[i]), "support": int(support[i])}
            for i in labels
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def calibration(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Expected calibration error and reliability bins of the top label.

    The predicted label's probability (the *confidence*) is put in ``n_bins`` equal-width bins
    over [0, 1]; ECE is the sample-weighted mean gap between each bin's accuracy and its mean
    confidence, ``sum_b (n_b / n) * |acc_b - conf_b|`` (Guo et al. 2017, "On Calibration of
    Modern Neural Networks", eq. 3; 15 bins as there). 0 means that among predictions made with
    confidence p, a share p is right.

    Args:
        probs: ``(n, 3)`` probabilities in :data:`pipeline.domain.LABELS` order.
        y_true: ``(n,)`` true class indices.
        n_bins: number of equal-width confidence bins.

    Returns:
        ``{"ece": float in [0, 1], "n_bins": int, "bins": [{"lower", "upper", "n",
        "confidence", "accuracy"}...]}``, empty bins left out (JSON-friendly).

    Raises:
        ValueError: shapes disagree, or no row.
    """
    probs, y_true = np.asarray(probs, dtype=float), np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(y_true) or not len(probs):
        raise ValueError(f"calibration needs (n, k) probabilities and n labels, n > 0; got "
                         f"{probs.shape} and {y_true.shape}")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    # Bin b holds confidences in (b/n_bins, (b+1)/n_bins]; a confidence of 0 joins bin 0.
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        if not count:
            continue
        conf, acc = float(confidence[members].mean()), float(correct[members].mean())
        ece += count / len(probs) * abs(acc - conf)
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "n": count,
                     "confidence": conf, "accuracy": acc})
    return {"ece": float(ece), "n_bins": n_bins, "bins": bins}


def fit_temperature(log_probs: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature ``T`` that minimises the negative log-likelihood of ``y_true`` under
    ``softmax(log_probs / T)``: temperature scaling (Guo et al. 2017, section 4.2).

    Args:
        log_probs: ``(n, k)`` logits, or log-probabilities of the uncalibrated softmax (they
            differ by a per-row constant, which the softmax ignores).
        y_true: ``(n,)`` true class indices.

    Returns:
        ``T`` within :data:`pipeline.scoring.calibration.TEMPERATURE_RANGE` (a bounded search on
        ``log T``; NLL is convex in ``1/T``, so the minimum found is the global one).

    Raises:
        ValueError: shapes disagree, no row, or non-finite inputs.
    """
    from scipy.optimize import minimize_scalar

    from pipeline.scoring.calibration import TEMPERATURE_RANGE, softmax

    log_probs, y_true = np.asarray(log_probs, dtype=np.float64), np.asarray(y_true)
    if log_probs.ndim != 2 or len(log_probs) != len(y_true) or not len(y_true):
        raise ValueError(f"fit_temperature needs (n, k) logits and n labels, n > 0; got "
                         f"{log_probs.shape} and {y_true.shape}")
    if not np.isfinite(log_probs).all():
        raise ValueError("fit_temperature needs finite logits (clip log-probabilities first)")
    rows = np.arange(len(y_true))

    def nll(log_t: float) -> float:
        probs = softmax(log_probs, float(np.exp(log_t)))
        return float(-np.log(np.maximum(probs[rows, y_true], 1e-300)).mean())

    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    found = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def evaluate_classifier(classifier, data: pd.DataFrame) -> dict[str, Any]:
    """Score ``data`` with a :class:`~pipeline.scoring.classifier.SentimentClassifier`.

    Args:
        classifier: loaded classifier.
        data: rows ``(text, label)``.

    Returns:
        :func:`classification_metrics` plus ``calibration`` (:func:`calibration` of the
        probabilities the model serves, i.e. after its temperature, with ``temperature`` and
        ``ece_uncalibrated``, the plain softmax's ECE on the same rows; None without rows),
        ``model_version``, ``seconds``, ``sentences_per_s`` and ``latency_ms_per_sentence``
        (wall clock of batched scoring on this machine, milliseconds per sentence).
    """
    from pipeline.scoring.calibration import softmax

    started = time.perf_counter()
    plain = classifier.predict_probs(list(data["text"]), temperature=1.0)
    seconds = time.perf_counter() - started
    temperature = classifier.temperatures["article"]
    # The log of the plain softmax is the logits up to a per-row constant, which the softmax
    # ignores: one pass gives both the served and the uncalibrated probabilities.
    probs = softmax(np.log(np.maximum(plain.astype(np.float64), 1e-300)), temperature)
    truth = np.array(label_ids(data["label"]))
    metrics = classification_metrics(truth, probs.argmax(axis=1))
    metrics["calibration"] = None
    if len(truth):
        metrics["calibration"] = calibration(probs, truth)
        metrics["calibration"].update(temperature=temperature,
                                      ece_uncalibrated=calibration(plain, truth)["ece"])
    metrics.update(model_version=classifier.model_version, seconds=round(seconds, 3),
                   sentences_per_s=round(len(data) / seconds, 1) if seconds > 0 else None,
                   latency_ms_per_sentence=round(1000 * seconds / len(data), 3) if len(data) else None)
    return metrics


def conflicting_rows(data: pd.DataFrame) -> np.ndarray:
    """Rows whose text appears with several targets carrying different labels (bool ``(n,)``):
    the headlines where one label per headline must be wrong for some company."""
    labels = data.groupby("text")["label"].transform("nunique")
    targets = data.groupby("text")["target"].transform("nunique")
    return ((labels > 1) & (targets > 1)).to_numpy()


def evaluate_entities(classifier, data: pd.DataFrame) -> dict[str, Any]:
    """Company-level evaluation: each ``(text, target)`` row's label toward its company.

    Measures, in one run, the model's company-level predictions (the pair ``(text, target)``)
    and the article-level baseline: the text's article-level label applied to every company it
    names, which is what scoring did before company-level labels existed.

    Args:
        classifier: a loaded classifier; without company-level output
            (:attr:`~pipeline.scoring.classifier.SentimentClassifier.targeted` false) only the
            baseline is measured.
        data: rows ``(text, target, label)``; ``target`` names the company.

    Returns:
        ``{n, n_conflicting, model_version, entity: metrics | None, article_baseline: metrics}``
        where each metrics dict is :func:`classification_metrics` plus ``conflicting``
        (``accuracy`` and ``macro_f1`` over :func:`conflicting_rows`, None when there are none).
    """
    data = data.reset_index(drop=True)
    truth = np.array(label_ids(data["label"]))
    conflicting = conflicting_rows(data)

    def measured(pred: np.ndarray) -> dict[str, Any]:
        metrics = classification_metrics(truth, pred)
        sub = classification_metrics(truth[conflicting], pred[conflicting]) if conflicting.any() else None
        metrics["conflicting"] = ({"accuracy": sub["accuracy"], "macro_f1": sub["macro_f1"], "n": sub["n"]}
                                  if sub else None)
        return metrics

    texts = list(data["text"])
    baseline = classifier.predict_probs(texts).argmax(axis=1)
    entity = None
    if getattr(classifier, "targeted", False):
        entity = measured(classifier.predict_probs(texts, targets=list(data["target"])).argmax(axis=1))
    return {"n": int(len(data)), "n_conflicting": int(conflicting.sum()),
            "model_version": classifier.model_version, "entity": entity,
            "article_baseline": measured(baseline)}
