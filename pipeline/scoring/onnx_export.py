"""Export a registry model to ONNX, quantise it to int8, and check both against PyTorch.

``tonewatch model export-onnx VERSION`` writes, next to the model in the registry (gitignored)::

    <registry>/<name>/<version>/onnx/
        model.onnx         float32 graph (torch.onnx.export, dynamic batch and sequence axes)
        model.int8.onnx    dynamic int8 quantisation (onnxruntime.quantization.quantize_dynamic)
        export.json        weights fingerprint, quantised nodes, check results, reference probs

Dynamic quantisation stores int8 weights and quantises each MatMul's input per batch
(per-tensor, uint8). A MatMul whose input has outlier channels (BERT's LayerNorm outputs,
GELU outputs) loses precision, so not every MatMul is quantised: each group of MatMuls that
share an input is first quantised alone and ranked by how far it moves the probabilities on a
calibration set (the project corpus's validation rows plus the canary), and the longest prefix
of that ranking that still keeps the labels (agreement >= ``target``, canary unchanged) and moves
the probabilities by at most ``max_mean_diff`` on average is kept. The mean bound matters
because the corpus sentences are clear-cut: their labels survive quantisation that already
flips borderline market chatter (measured on the MiniLM model: calibration mean |dp| 0.0009
kept 99.5% of tfns labels, 0.0023 only 99.2%).
This is the sensitivity-based mixed precision of ONNX Runtime's quantisation guide
(https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html).

Before an ONNX file scores anything, the classifier re-scores the stored check sentences and
compares them with the PyTorch probabilities recorded at export time; a file that disagrees
(stale, damaged, a different ONNX Runtime) is refused (:mod:`pipeline.scoring.onnx_check`, which
also names the files and holds the agreement measure both sides use).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipeline.errors import OnnxCheckError
from pipeline.registry import Registry
from pipeline.scoring.backends import OnnxBackend
from pipeline.scoring.canary import CANARY
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.scoring.onnx_check import (
    FILES, LOAD_CHECK_ROWS, ONNX_DIR, REPORT, Agreement, compare, weights_fingerprint,
)


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # Eager attention exports as plain MatMul/Softmax, which quantises and fuses cleanly.
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager").eval()
    example = AutoTokenizer.from_pretrained(model_dir)(
        ["an example", "a longer example sentence"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    # The TorchScript exporter (dynamo=False) gives the node names and plain MatMuls the
    # quantiser and ONNX Runtime's fusions expect; it takes a second where dynamo takes many.
    with torch.inference_mode(), warnings.catch_warnings():
        # Tracer and deprecation notices about the exporter itself: noise for an operator.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(model, (), str(target), kwargs={n: example[n] for n in names},
                          input_names=names, output_names=["logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)


def _matmul_groups(onnx_path: Path) -> list[list[str]]:
    """Weight MatMuls grouped by their shared input tensor, in graph order."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    groups: dict[str, list[str]] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in weights:
            groups.setdefault(node.input[0], []).append(node.name)
    return list(groups.values())


def _quantize(source: Path, target: Path, nodes: list[str]) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs "consider pre-processing" on the root logger once per call; the export
    # calls it once per MatMul group, so an operator would see a dozen identical warnings.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)


def export_onnx(
    model_dir: Path, *, check_texts: Sequence[str], n_canary: int, reference: np.ndarray,
    score: Callable[[Path, Sequence[str]], np.ndarray], target: float = 0.995,
    max_mean_diff: float = 0.001, note: Callable[[str], None] = lambda line: None,
) -> dict:
    """Write ``model.onnx`` and ``model.int8.onnx`` under ``model_dir/onnx`` and check them.

    Args:
        model_dir: a ``save_pretrained`` directory.
        check_texts: calibration sentences, the canary first (``n_canary`` of them).
        reference: PyTorch float32 probabilities ``(len(check_texts), 3)`` for them.
        score: probabilities ``(n, 3)`` of texts under an ONNX file (the classifier's own
            preprocessing and batching, so the check sees what scoring will see).
        target: least label agreement with ``reference`` the int8 model must keep.
        max_mean_diff: largest mean absolute probability difference it may add.
        note: receives one progress line per step.

    Returns:
        the report written to ``export.json`` (``checks`` has one :class:`Agreement` per file).

    Raises:
        OnnxCheckError: the float32 export itself disagrees with PyTorch (a bug, not noise).
    """
    out = Path(model_dir) / ONNX_DIR
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix=".export."))
    try:
        fp32 = work / FILES["onnx-fp32"]
        _export_fp32(Path(model_dir), fp32)
        checks = {"onnx-fp32": compare(reference, score(fp32, check_texts), n_canary)}
        note(f"float32 ONNX: {checks['onnx-fp32'].summary()}")
        if not checks["onnx-fp32"].passed("onnx-fp32"):
            raise OnnxCheckError(f"the float32 ONNX export of {model_dir} disagrees with PyTorch "
                                 f"({checks['onnx-fp32'].summary()})")
        groups = _matmul_groups(fp32)
        trial = work / "trial.int8.onnx"
        damage = []
        for group in groups:  # how far quantising this group alone moves the probabilities
            _quantize(fp32, trial, group)
            damage.append(compare(reference, score(trial, check_texts), n_canary).mean_prob_diff)
        ranked = [groups[i] for i in np.argsort(damage, kind="stable")]

        def keeps_labels(k: int) -> Agreement:
            _quantize(fp32, trial, [n for g in ranked[:k] for n in g])
            return compare(reference, score(trial, check_texts), n_canary)

        # Largest prefix of the ranking that keeps the labels (binary search; the damage of a
        # prefix grows with its length, as the ranking adds the least harmful groups first).
        lo, hi = 0, len(ranked)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            trial_check = keeps_labels(mid)
            if (trial_check.passed("onnx-int8") and trial_check.label_agreement >= target
                    and trial_check.mean_prob_diff <= max_mean_diff):
                lo = mid
            else:
                hi = mid - 1
        chosen = [n for g in ranked[:lo] for n in g]
        note(f"int8: {lo} of {len(groups)} MatMul groups quantised "
             f"({len(chosen)} of {sum(map(len, groups))} MatMuls)")
        _quantize(fp32, work / FILES["onnx-int8"], chosen)
        trial.unlink(missing_ok=True)
        checks["onnx-int8"] = compare(reference, score(work / FILES["onnx-int8"], check_texts),
                                      n_canary)
        note(f"int8 ONNX: {checks['onnx-int8'].summary()}")
        keep = min(len(check_texts), LOAD_CHECK_ROWS)
        report = {
            "weights_fingerprint": weights_fingerprint(model_dir),
            "quantized_matmuls": chosen, "matmul_groups": len(groups), "quantized_groups": lo,
            "checks": {k: asdict(v) | {"passed": v.passed(k)} for k, v in checks.items()},
            "load_check": {"texts": list(check_texts[:keep]), "n_canary": n_canary,
                           "reference": np.round(reference[:keep], 6).tolist()},
        }
        for name in FILES.values():
            os.replace(work / name, out / name)
        _write_json(out / REPORT, report)
        return report
    finally:
        for leftover in work.glob("*"):
            leftover.unlink()
        work.rmdir()


def _write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


def calibration_texts(corpus_dir: Path, limit: int = 600) -> list[str]:
    """Up to ``limit`` validation-split sentences of the project corpus (never trained on).

    Returns:
        texts in file order (empty when the corpus folder has none).
    """
    import pandas as pd

    texts: list[str] = []
    for path in sorted(Path(corpus_dir).glob("*.csv")):
        frame = pd.read_csv(path)
        if {"text", "split"} <= set(frame.columns):
            rows = (frame["split"] == "validation") & frame["text"].notna()
            texts += frame.loc[rows, "text"].astype(str).tolist()
    return texts[:limit]


def export_model(
    settings, version: str, *, note: Callable[[str], None] = lambda line: None,
    registry: Registry | None = None,
) -> dict:
    """``tonewatch model export-onnx VERSION``: export, quantise and check a registry model.

    The reference is the PyTorch float32 model on the CPU; the check sentences are the canary
    followed by :func:`calibration_texts` of ``settings.corpus_dir``.

    Args:
        settings: settings (registry, corpus folder, max_length, label map).
        version: a registry version or ``production``.
        note: receives one progress line per step.
        registry: where ``version`` is registered (default: ``settings.model_registry``).

    Returns:
        the export report (see :func:`export_onnx`), plus ``path``: the ``onnx`` folder.

    Raises:
        ModelNotFoundError: no such version. OnnxCheckError: the float32 export disagrees.
    """
    from pipeline.domain import parse_label_spec

    registry = registry if registry is not None else Registry(settings.model_registry)
    record = registry.get(version)
    torch_model = SentimentClassifier(
        record.path, model_version=record.model_version, max_length=settings.max_length,
        batch_size=settings.score_batch_size, device="cpu", token_budget=settings.score_token_budget,
        label_map=parse_label_spec(settings.model_labels) or None)
    texts = [t for t, _ in CANARY] + calibration_texts(settings.corpus_dir)
    note(f"{record.model_version}: PyTorch reference on {len(texts)} check sentences")
    reference = torch_model.predict_probs(texts)

    def score(path: Path, batch: Sequence[str]) -> np.ndarray:
        return torch_model.with_backend(OnnxBackend(path)).predict_probs(batch)

    report = export_onnx(record.path, check_texts=texts, n_canary=len(CANARY),
                         reference=reference, score=score, note=note)
    return report | {"path": str(Path(record.path) / ONNX_DIR)}
