"""Export, check and time a model's fast CPU backends once, so that scoring can pick the fastest.

:func:`prepare_backends` runs at the end of every model build (``train_model``) and from
``tonewatch model export-onnx``: it exports the model to ONNX (fused float32 and int8,
:func:`pipeline.scoring.onnx_export.export_onnx`), checks both against PyTorch on the parity
sentences (the canary plus held-out sentences), times every backend that passed on the same
sentences, and records the result next to the model (``onnx/export.json``: ``speed``,
``auto``). The ``auto`` scoring backend (the default) then loads the fastest backend that passed
(:func:`pipeline.scoring.onnx_check.auto_backend`).

Its cost is bounded for the 5-minute demo: at most :data:`PARITY_ROWS` sentences are scored per
check, the int8 search usually needs one trial, and each backend is timed on the same short set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.scoring.backends import OnnxBackend, available_cores
from pipeline.scoring.canary import CANARY
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.scoring.onnx_check import FILES, ONNX_DIR, REPORT
from pipeline.scoring.onnx_export import _write_json, calibration_texts, export_onnx

log = logging.getLogger("tonewatch")

#: Parity sentences per check (canary included): enough to measure 99.5 % agreement to one
#: sentence in 300, few enough that a check is a fraction of a second on two cores.
PARITY_ROWS = 320
#: Timed passes over the parity sentences per backend; the fastest counts (least disturbed).
TIMING_REPEATS = 2


def _rate(classifier: SentimentClassifier, texts: Sequence[str]) -> float:
    """Sentences per second of ``classifier.predict_probs(texts)``, best of :data:`TIMING_REPEATS`
    after one warm-up pass over the first 32."""
    classifier.predict_probs(texts[:32])
    best = float("inf")
    for _ in range(TIMING_REPEATS):
        started = time.perf_counter()
        classifier.predict_probs(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / max(best, 1e-9)


def prepare_backends(
    model_dir: Path, corpus_dir: Path | None = None, *, texts: Sequence[str] | None = None,
    max_length: int = 128, label_map: dict[str, str] | None = None, rows: int = PARITY_ROWS,
    note: Callable[[str], None] = lambda line: None,
) -> dict:
    """Export, check and time the ONNX backends of the model in ``model_dir``.

    Args:
        model_dir: a ``save_pretrained`` directory (a registry version's folder).
        corpus_dir: folder of labelled CSVs whose ``validation`` rows are parity sentences
            (:func:`~pipeline.scoring.onnx_export.calibration_texts`); used when ``texts`` is None.
        texts: held-out sentences to check on instead (e.g. the training run's validation rows).
        max_length: tokenizer truncation, tokens (as scoring uses it).
        label_map: explicit output-label map for checkpoints labelled ``LABEL_0``...
        rows: most parity sentences, canary included.
        note: receives one progress line per step.

    Returns:
        the export report (see :func:`~pipeline.scoring.onnx_export.export_onnx`) plus ``speed``
        (sentences/s per backend that passed, torch included, timed on the parity sentences in
        this process), ``auto`` (the fastest of them), ``cores``, ``onnxruntime`` (version),
        ``seconds`` (wall time of the whole preparation) and ``path`` (the ``onnx`` folder).

    Raises:
        ImportError: onnx or onnxruntime is not installed.
        OnnxCheckError: the float32 export disagrees with PyTorch.
        ModelNotFoundError: nothing loadable at ``model_dir``.
    """
    import onnxruntime

    started = time.perf_counter()
    model_dir = Path(model_dir)
    torch_model = SentimentClassifier(model_dir, max_length=max_length, device="cpu",
                                      label_map=label_map)
    held_out = list(texts) if texts is not None else (
        calibration_texts(Path(corpus_dir)) if corpus_dir is not None else [])
    check_texts = [t for t, _ in CANARY] + [t for t in held_out if t][:max(0, rows - len(CANARY))]
    note(f"{model_dir.name}: PyTorch reference on {len(check_texts)} parity sentences")
    reference = torch_model.predict_probs(check_texts)

    def score(target, batch: Sequence[str]) -> np.ndarray:
        backend = target if hasattr(target, "logits") else OnnxBackend(target)
        return torch_model.with_backend(backend).predict_probs(batch)

    report = export_onnx(model_dir, check_texts=check_texts, n_canary=len(CANARY),
                         reference=reference, score=score, note=note)
    speed = {"torch": _rate(torch_model, check_texts)}
    for backend, name in FILES.items():
        if report["checks"][backend]["passed"]:
            onnx = torch_model.with_backend(OnnxBackend(model_dir / ONNX_DIR / name, name=backend))
            speed[backend] = _rate(onnx, check_texts)
    auto = max(speed, key=speed.get)
    report |= {"speed": {k: round(v, 1) for k, v in speed.items()}, "auto": auto,
               "timing_rows": len(check_texts), "cores": available_cores(),
               "onnxruntime": onnxruntime.__version__,
               "seconds": round(time.perf_counter() - started, 1)}
    _write_json(model_dir / ONNX_DIR / REPORT, report)
    note("sentences/s: " + ", ".join(f"{k} {v:.0f}" for k, v in speed.items())
         + f"; auto scores with {auto} ({report['seconds']:.0f} s)")
    return report | {"path": str(model_dir / ONNX_DIR)}


def prepare_after_build(model_dir: Path, texts: Sequence[str]) -> dict | None:
    """:func:`prepare_backends` for a model just built; a failure is one log line, never raised.

    A model without fast backends still scores (``auto`` falls back to torch), so an export
    problem (no onnxruntime, an operator the exporter lacks, a failed check) must not fail the
    build that produced a good model.

    Args:
        model_dir: the registered version's folder.
        texts: the build's held-out (validation) sentences, the parity sentences after the canary.

    Returns:
        the report, or None when the preparation failed (logged as a warning).
    """
    try:
        return prepare_backends(model_dir, texts=texts, note=log.info)
    except Exception as exc:  # noqa: BLE001 - any failure leaves a torch-only model, by design
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("%s: no fast scoring backends (%s: %s); it scores with torch "
                    "(`tonewatch model export-onnx %s` tries again)", Path(model_dir).name,
                    type(exc).__name__, first[:300], Path(model_dir).name)
        return None


def export_model(
    settings, version: str, *, note: Callable[[str], None] = lambda line: None,
    registry=None,
) -> dict:
    """``tonewatch model export-onnx VERSION``: :func:`prepare_backends` for a registry version
    (a model built before builds did it, or again after an ONNX Runtime upgrade).

    The parity sentences are the canary followed by the validation rows of
    ``settings.corpus_dir``.

    Args:
        settings: settings (registry, corpus folder, max_length, label map).
        version: a registry version or ``production``.
        note: receives one progress line per step.
        registry: where ``version`` is registered (default: ``settings.model_registry``).

    Returns:
        the report of :func:`prepare_backends`.

    Raises:
        ModelNotFoundError: no such version. OnnxCheckError: the float32 export disagrees.
        ImportError: onnx or onnxruntime is not installed.
    """
    from pipeline.domain import parse_label_spec
    from pipeline.registry import Registry

    registry = registry if registry is not None else Registry(settings.model_registry)
    record = registry.get(version)
    return prepare_backends(record.path, settings.corpus_dir, max_length=settings.max_length,
                            label_map=parse_label_spec(settings.model_labels) or None, note=note)
