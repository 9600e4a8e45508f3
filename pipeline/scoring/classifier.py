"""Batched sentiment classification with a Hugging Face sequence-classification model.

Mirrors the transformers text-classification pipeline: preprocess (tokenize with truncation at
``max_length``) → forward (``eval()``, ``torch.inference_mode()``) → postprocess (a numerically
stable softmax of the logits divided by the model's fitted temperature,
:mod:`pipeline.scoring.calibration`). Each text is tokenized once; inputs are sorted by length and cut into batches
by a padded-token budget (:mod:`pipeline.scoring.batching`), right-padded with an attention
mask, and run by a backend (:mod:`pipeline.scoring.backends`: PyTorch on CPU or CUDA, or ONNX
Runtime); results come back in input order.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pipeline.config import Settings
from pipeline.domain import parse_label_spec
from pipeline.errors import ModelNotFoundError, OnnxCheckError, ScoringError
from pipeline.registry import Registry
from pipeline.scoring.backends import BACKENDS, OnnxBackend, TorchBackend, configure_cpu_threads
from pipeline.scoring.batching import encode, pad_batch, token_budget_batches
from pipeline.scoring.calibration import model_temperatures, softmax
from pipeline.scoring.labels import label_permutation
from pipeline.scoring.onnx_check import AUTO, auto_backend, onnx_file, recheck
from pipeline.scoring.preprocess import TARGETED_FLAG, model_input, target_input

__all__ = ["BACKEND_CHOICES", "SentimentClassifier", "configure_cpu_threads", "load_classifier", "softmax"]

log = logging.getLogger("tonewatch")

#: What ``TONEWATCH_SCORING_BACKEND`` and ``--backend`` accept: ``auto`` (the default: the fastest
#: backend that passed its check for the model, :func:`~pipeline.scoring.onnx_check.auto_backend`)
#: or one backend by name.
BACKEND_CHOICES = (AUTO, *BACKENDS)

#: Padded tokens per batch on the CPU when no budget is given: 32 headlines of 32 tokens. Smaller
#: batches keep activations in cache; 512-1024 beat 2048 by 5-10% on the 2-core benchmark machine
#: (bench/scoring.py), and fewer rows per pass is also less padding.
CPU_TOKEN_BUDGET = 1024


def _load_error(path: str, local: bool, exc: OSError) -> ModelNotFoundError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if local:
        return ModelNotFoundError(f"cannot load model directory {path!r}: {first}")
    return ModelNotFoundError(
        f"cannot load {path!r} from the Hugging Face hub (offline, or no such "
        f"repository): {first}. Without the hub, download it where the hub is reachable "
        f"(`hf download {path} --local-dir DIR`, or save_pretrained) and pass "
        "the directory: --model DIR or TONEWATCH_MODEL=DIR"
    )


def hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when a TCP connection to it opens.

    Checked before a hub id is handed to ``from_pretrained``, whose offline retries take about a
    minute and print dozens of lines. ``HF_HUB_OFFLINE=1`` skips the check (the caller wants the
    local hub cache), as does a reachable endpoint; ``HF_ENDPOINT`` names a mirror.
    """
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or endpoint
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return (f"the Hugging Face hub ({host}) is unreachable ({exc.strerror or exc}); "
                "for a model in the local hub cache set HF_HUB_OFFLINE=1")
    return None


class SentimentClassifier:
    """A loaded classifier producing ``(n, 3)`` probabilities in negative/neutral/positive order.

    Args:
        model: a local directory with ``save_pretrained`` output, or a hub id.
        model_version: the id stored with every score (defaults to the directory name).
        max_length: tokenizer truncation, tokens (headlines and a summary fit in 128).
        batch_size: most sentences per forward pass.
        device: ``"cpu"``, ``"cuda"``…; default CUDA when available (torch backend only).
        label_map: explicit output-label map for checkpoints labelled ``LABEL_0``... (see
            :func:`pipeline.scoring.labels.label_permutation`).
        backend: ``"auto"`` (the fastest backend that passed its check for this model, see
            :func:`~pipeline.scoring.onnx_check.auto_backend`; torch when none did, with one log
            line saying why), ``"torch"``, or ``"onnx-int8"`` / ``"onnx-fp32"`` for a model
            exported at build time or with ``tonewatch model export-onnx`` (checked against
            PyTorch before use, see :mod:`pipeline.scoring.onnx_check`).
        token_budget: most padded tokens per forward pass; default
            :data:`CPU_TOKEN_BUDGET` on the CPU and, on CUDA, the measured best batch size at
            ``max_length`` tokens times ``max_length``.
        compile: ``torch.compile`` the model (CUDA only).

    Raises:
        ModelNotFoundError: nothing loadable at ``model`` (missing dir, or hub unreachable), or
            no ONNX export for an ONNX backend.
        LabelMappingError: the checkpoint's labels cannot be mapped.
        OnnxCheckError: the ONNX export disagrees with the PyTorch model.
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
        backend: str = "torch",
        token_budget: int | None = None,
        compile: bool = False,
    ):
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if backend not in BACKEND_CHOICES:
            raise ScoringError(f"unknown scoring backend {backend!r}; use one of "
                               f"{', '.join(BACKEND_CHOICES)}")
        self.model_path = str(model)
        local = Path(model).is_dir()
        if not local and (Path(model).is_absolute() or str(model).startswith(".")):
            raise ModelNotFoundError(f"model directory not found: {model}")
        # Loading reports and per-tensor progress bars are noise in a scheduled job's log.
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            config = AutoConfig.from_pretrained(self.model_path)
        except OSError as exc:
            raise _load_error(self.model_path, local, exc) from exc
        except ValueError as exc:  # e.g. a directory without tokenizer files or config.json
            if not local:
                raise
            raise ModelNotFoundError(
                f"{self.model_path} is not a model directory (no loadable tokenizer and "
                f"config: {str(exc).splitlines()[0][:200]})") from exc
        self.perm = label_permutation(config.id2label, label_map)
        try:
            #: ``{"article": T, "company": T}``: the logits are divided by these before the
            #: softmax (1.0 for a model trained before calibration existed).
            self.temperatures = model_temperatures(config)
        except ValueError as exc:
            raise ModelNotFoundError(f"{self.model_path}: {exc}") from exc
        #: Whether the model was fine-tuned on company-targeted pairs (``tonewatch train``
        #: records it in ``config.json``), so that :meth:`predict` with ``targets`` means
        #: something; an article-level model has no company-level output.
        self.targeted = bool(getattr(config, TARGETED_FLAG, False))
        self.model_version = model_version or Path(self.model_path).name
        self.max_length = max_length
        self.batch_size = batch_size
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.model = None
        self.token_budget = token_budget or CPU_TOKEN_BUDGET
        requested = backend
        if backend == AUTO:
            backend = self._choose_backend(device)
        if backend != "torch":
            try:
                self._load_onnx(backend)
                self.device = "cpu"
            except (ModelNotFoundError, OnnxCheckError) as exc:
                if requested != AUTO:
                    raise
                log.warning("%s: %s refused at load (%s); scoring with torch",
                            self.model_version, backend, str(exc).splitlines()[0])
                backend = "torch"
        if backend == "torch":
            try:
                self.backend = TorchBackend(self.model_path, device=device, compile=compile)
            except OSError as exc:
                raise _load_error(self.model_path, local, exc) from exc
            self.model = self.backend.model
            self.device = str(self.backend.device)
        if token_budget is None and self.device.startswith("cuda"):
            measured = self.backend.measure_batch_size(max_length)
            self.token_budget = measured * max_length
            # Short rows: more of them fit the same budget (a headline is ~16-32 tokens).
            self.batch_size = max(batch_size, measured * max(1, max_length // 16))

    def _choose_backend(self, device: str | None) -> str:
        """``auto``: the backend :func:`~pipeline.scoring.onnx_check.auto_backend` picks, logged."""
        if device is None:
            import torch

            cuda = torch.cuda.is_available()
        else:
            cuda = device.startswith("cuda")
        backend, why, problem = auto_backend(self.model_path, cuda=cuda)
        log.log(logging.WARNING if problem else logging.INFO, "%s scores with %s (auto: %s)",
                self.model_version, backend, why)
        return backend

    def _load_onnx(self, backend: str) -> None:
        if not Path(self.model_path).is_dir():
            raise ModelNotFoundError(f"{backend} needs a local model directory with an ONNX "
                                     f"export, not {self.model_path!r}")
        path, report = onnx_file(Path(self.model_path), backend)
        self.backend = OnnxBackend(path, name=backend)
        self.load_check = recheck(report, backend, self.predict_probs(report["load_check"]["texts"]),
                                  self.model_version)

    def with_backend(self, backend) -> SentimentClassifier:
        """A copy that shares tokenizer and label mapping but runs ``backend`` (e.g. an
        :class:`~pipeline.scoring.backends.OnnxBackend` on a file being exported)."""
        other = copy.copy(self)
        other.backend, other.model, other.device = backend, None, "cpu"
        return other

    def predict_probs(self, texts: Sequence[str], *, targets: Sequence[str] | None = None,
                      progress: bool = False, temperature: float | None = None) -> np.ndarray:
        """Class probabilities for each text: :meth:`predict` without the truncation flags."""
        return self.predict(texts, targets=targets, progress=progress, temperature=temperature)[0]

    def predict(self, texts: Sequence[str], *, targets: Sequence[str] | None = None,
                progress: bool = False, temperature: float | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities for each text, and which texts the tokenizer truncated.

        Args:
            texts: n strings (empty strings are allowed and scored as such); links are removed
                first (:func:`pipeline.scoring.preprocess.model_input`).
            targets: None for article-level probabilities; else n company names as the texts
                write them, for probabilities *toward that company* (each row is the pair
                ``(text with the company marked, company)``, see
                :func:`pipeline.scoring.preprocess.target_input` and
                :func:`pipeline.scoring.batching.encode`).
            progress: show a tqdm progress bar (sentences/s, ETA).
            temperature: divide the logits by this instead of the model's own temperature for
                the input kind (:attr:`temperatures`); ``1.0`` gives the uncalibrated softmax,
                whose log is the logits up to a per-row constant (what a temperature fit needs).

        Returns:
            ``(probs, truncated)``: float32 ``(n, 3)`` probabilities with columns negative,
            neutral, positive (rows sum to 1; calibrated by the model's temperature), and a
            bool ``(n,)`` array, True where the text was longer than ``max_length`` tokens and
            its tail was not seen by the model.

        Raises:
            ScoringError: the forward pass failed (e.g. out of memory), ``targets`` has another
                length than ``texts``, or the model was not trained on targets.
        """
        n = len(texts)
        out = np.zeros((n, 3), dtype=np.float32)
        if targets is not None:
            if len(targets) != n:
                raise ScoringError(f"{len(targets)} targets for {n} texts")
            if not self.targeted:
                raise ScoringError(f"model {self.model_version} has no company-level output "
                                   "(it was not fine-tuned on company-targeted pairs)")
        if n == 0:
            return out, np.zeros(0, dtype=bool)
        if targets is None:
            encoded = encode(self.tokenizer, [model_input(t) for t in texts], self.max_length)
        else:
            pairs = [target_input(t, g) for t, g in zip(texts, targets, strict=True)]
            encoded = encode(self.tokenizer, [t for t, _ in pairs], self.max_length,
                             targets=[g for _, g in pairs])
        if temperature is None:
            temperature = self.temperatures["article" if targets is None else "company"]
        batches = token_budget_batches(encoded.lengths, max_tokens=self.token_budget,
                                       max_batch=self.batch_size)
        bar = tqdm(total=n, unit="sent", desc="scoring", disable=not progress, leave=False)
        try:
            for idx in batches:
                ids, mask = pad_batch([encoded.ids[i] for i in idx], self.pad_id)
                logits = self.backend.logits(ids, mask)
                out[idx] = softmax(logits[:, self.perm], temperature)
                bar.update(len(idx))
        except RuntimeError as exc:
            raise ScoringError(f"scoring failed with model {self.model_path}: {exc}") from exc
        finally:
            bar.close()
        return out, encoded.truncated


def load_classifier(
    settings: Settings, model: str | None = None, *, canary: bool = True,
    model_labels: str | None = None, backend: str | None = None,
    registry: Registry | None = None,
) -> SentimentClassifier:
    """Load the scoring model named by ``model`` (default ``settings.model``).

    ``production`` or a registry version resolves through the registry; anything else is a local
    directory or a hub id. The canary set (:mod:`pipeline.scoring.canary`) runs right after
    loading, so a checkpoint with shuffled labels never scores an article.

    Args:
        canary: run the canary and refuse a model that fails it.
        model_labels: explicit output-label map spec (default ``settings.model_labels``).
        backend: ``auto``, ``torch``, ``onnx-int8`` or ``onnx-fp32`` (default
            ``settings.scoring_backend``, itself ``auto`` by default).
        registry: the registry to resolve ``model`` in (default: a new one on
            ``settings.model_registry``); pass the stage's own to read it once per stage.

    Raises:
        ModelNotFoundError: nothing loadable under that name.
        LabelMappingError: labels that cannot be mapped.
        CanaryFailedError: the model mislabels the canary set.
        OnnxCheckError: an ONNX backend's export disagrees with its PyTorch model.
    """
    from pipeline.scoring.canary import require_canary

    name = model or settings.model
    registry = registry if registry is not None else Registry(settings.model_registry)
    label_map = parse_label_spec(model_labels if model_labels is not None else settings.model_labels)
    common = dict(max_length=settings.max_length, batch_size=settings.score_batch_size,
                  label_map=label_map or None, backend=backend or settings.scoring_backend,
                  token_budget=settings.score_token_budget, compile=settings.score_compile)
    if name == "production":
        record = registry.get(name)
    else:  # a registry version, unless a directory of that name exists
        record = None if Path(name).exists() else registry.find(name)
    if record is not None:
        classifier = SentimentClassifier(record.path, model_version=record.model_version, **common)
    else:
        if not Path(name).exists():
            unreachable = hub_unreachable()
            if unreachable:
                versions = [r.model_version for r in registry.list()]
                raise ModelNotFoundError(
                    f"model {name!r} is not a registry version "
                    f"({', '.join(versions[-5:]) or 'the registry is empty'}; "
                    f"`tonewatch model list`), not a local directory, and {unreachable}; "
                    f"for a hub model, download it where the hub is reachable (`hf download "
                    f"{name} --local-dir DIR`) and pass --model DIR or TONEWATCH_MODEL=DIR")
        classifier = SentimentClassifier(name, **common)
    if canary:
        require_canary(classifier, what=classifier.model_version)
    return classifier
