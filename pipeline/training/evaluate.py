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


def evaluate_classifier(classifier, data: pd.DataFrame) -> dict[str, Any]:
    """Score ``data`` with a :class:`~pipeline.scoring.classifier.SentimentClassifier`.

    Args:
        classifier: loaded classifier.
        data: rows ``(text, label)``.

    Returns:
        :func:`classification_metrics` plus ``model_version``, ``seconds``,
        ``sentences_per_s`` and ``latency_ms_per_sentence`` (wall clock of batched scoring on
        this machine, milliseconds per sentence).
    """
    started = time.perf_counter()
    probs = classifier.predict_probs(list(data["text"]))
    seconds = time.perf_counter() - started
    metrics = classification_metrics(np.array(label_ids(data["label"])), probs.argmax(axis=1))
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
