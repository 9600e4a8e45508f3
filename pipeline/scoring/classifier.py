"""Batched sentiment classification with a Hugging Face sequence-classification model.

Mirrors the transformers text-classification pipeline: preprocess (tokenize with truncation at
``max_length``) → forward (``eval()``, ``torch.inference_mode()``) → postprocess (a numerically
stable softmax). Inputs are sorted by length and cut into batches so that padding is small
(dynamic padding); results come back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pipeline.config import Settings
from pipeline.errors import ModelNotFoundError, ScoringError
from pipeline.scoring.labels import label_permutation
from pipeline.scoring.preprocess import model_input


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits (the row max is subtracted first)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def configure_cpu_threads() -> int:
    """Use as many torch threads as cores this process may run on; return that number."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, cores or 1))
    return torch.get_num_threads()


class SentimentClassifier:
    """A loaded classifier producing ``(n, 3)`` probabilities in negative/neutral/positive order.

    Args:
        model: a local directory with ``save_pretrained`` output, or a hub id.
        model_version: the id stored with every score (defaults to the directory name).
        max_length: tokenizer truncation, tokens (headlines and a summary fit in 128).
        batch_size: sentences per forward pass.
        device: ``"cpu"``, ``"cuda"``…; default CUDA when available.
        label_map: explicit output-label map for checkpoints labelled ``LABEL_0``... (see
            :func:`pipeline.scoring.labels.label_permutation`).

    Raises:
        ModelNotFoundError: nothing loadable at ``model`` (missing dir, or hub unreachable).
        LabelMappingError: the checkpoint's labels cannot be mapped.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        model_version: str | None = None,
        max_length: int = 128,
        batch_size: int = 64,
        device: str | None = None,
        label_map: dict[str, str] | None = None,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.model_path = str(model)
        local = Path(model).is_dir()
        if not local and (Path(model).is_absolute() or str(model).startswith(".")):
            raise ModelNotFoundError(f"model directory not found: {model}")
        from transformers.utils import logging as hf_logging

        # Loading reports and per-tensor progress bars are noise in a scheduled job's log.
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            self.model = AutoModelForSequenceClassification.from_pretrained(self.model_path)
        except OSError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if local:
                raise ModelNotFoundError(
                    f"cannot load model directory {self.model_path!r}: {first}") from exc
            raise ModelNotFoundError(
                f"cannot load {self.model_path!r} from the Hugging Face hub (offline, or no such "
                f"repository): {first}. Without the hub, download it where the hub is reachable "
                f"(`hf download {self.model_path} --local-dir DIR`, or save_pretrained) and pass "
                "the directory: --model DIR or TONEWATCH_MODEL=DIR"
            ) from exc
        self.perm = label_permutation(self.model.config.id2label, label_map)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device == "cpu":
            configure_cpu_threads()
        self.model.to(self.device).eval()
        self.model_version = model_version or Path(self.model_path).name
        self.max_length = max_length
        self.batch_size = batch_size

    def predict_probs(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Class probabilities for each text: :meth:`predict` without the truncation flags."""
        return self.predict(texts, progress=progress)[0]

    def predict(self, texts: Sequence[str], *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities for each text, and which texts the tokenizer truncated.

        Args:
            texts: n strings (empty strings are allowed and scored as such); links are removed
                first (:func:`pipeline.scoring.preprocess.model_input`).
            progress: show a tqdm progress bar (sentences/s, ETA).

        Returns:
            ``(probs, truncated)``: float32 ``(n, 3)`` probabilities with columns negative,
            neutral, positive (rows sum to 1), and a bool ``(n,)`` array, True where the text
            was longer than ``max_length`` tokens and its tail was not seen by the model.
        """
        import torch

        n = len(texts)
        out = np.zeros((n, 3), dtype=np.float32)
        if n == 0:
            return out, np.zeros(0, dtype=bool)
        texts = [model_input(t) for t in texts]
        full = np.asarray(self.tokenizer(
            list(texts), truncation=False, add_special_tokens=True, return_length=True,
            verbose=False,
        )["length"])
        truncated = full > self.max_length
        lengths = np.minimum(full, self.max_length)
        order = np.argsort(lengths, kind="stable")
        bar = tqdm(total=n, unit="sent", desc="scoring", disable=not progress, leave=False)
        try:
            with torch.inference_mode():
                for start in range(0, n, self.batch_size):
                    idx = order[start:start + self.batch_size]
                    batch = self.tokenizer(
                        [texts[i] for i in idx], truncation=True, max_length=self.max_length,
                        padding=True, return_tensors="pt",
                    ).to(self.device)
                    logits = self.model(**batch).logits.float().cpu().numpy()
                    out[idx] = softmax(logits[:, self.perm])
                    bar.update(len(idx))
        except RuntimeError as exc:
            raise ScoringError(f"scoring failed with model {self.model_path}: {exc}") from exc
        finally:
            bar.close()
        return out, truncated


def load_classifier(
    settings: Settings, model: str | None = None, *, canary: bool = True,
    model_labels: str | None = None,
) -> SentimentClassifier:
    """Load the scoring model named by ``model`` (default ``settings.model``).

    ``production`` or a registry version resolves through the registry; anything else is a local
    directory or a hub id. The canary set (:mod:`pipeline.scoring.canary`) runs right after
    loading, so a checkpoint with shuffled labels never scores an article.

    Args:
        canary: run the canary and refuse a model that fails it.
        model_labels: explicit output-label map spec (default ``settings.model_labels``).

    Raises:
        ModelNotFoundError: nothing loadable under that name.
        LabelMappingError: labels that cannot be mapped.
        CanaryFailedError: the model mislabels the canary set.
    """
    from pipeline.scoring.canary import require_canary
    from pipeline.scoring.labels import parse_label_spec
    from pipeline.training.registry import Registry

    name = model or settings.model
    registry = Registry(settings.model_registry)
    label_map = parse_label_spec(model_labels if model_labels is not None else settings.model_labels)
    common = dict(max_length=settings.max_length, batch_size=settings.score_batch_size,
                  label_map=label_map or None)
    if name == "production":
        record = registry.get(name)
    else:  # a registry version, unless a directory of that name exists
        record = None if Path(name).exists() else next(
            (r for r in registry.list() if r.model_version == name), None)
    if record is not None:
        classifier = SentimentClassifier(record.path, model_version=record.model_version, **common)
    else:
        classifier = SentimentClassifier(name, **common)
    if canary:
        require_canary(classifier, what=classifier.model_version)
    return classifier
