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

Before an ONNX file scores anything, :func:`load_onnx_backend` re-scores the stored check
sentences and compares them with the PyTorch probabilities recorded at export time; a file
that disagrees (stale, damaged, a different ONNX Runtime) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ModelNotFoundError, ScoringError

ONNX_DIR = "onnx"
FILES = {"onnx-fp32": "model.onnx", "onnx-int8": "model.int8.onnx"}
REPORT = "export.json"
#: Export-time thresholds per backend: least label agreement, largest probability difference.
LIMITS = {"onnx-fp32": (1.0, 1e-3), "onnx-int8": (0.995, 0.5)}
#: Load-time thresholds. int8 is looser than at export: dynamic quantisation takes each batch's
#: activation range, so other batching (another token budget) moves a borderline sentence or
#: two; this check is there to catch a stale, damaged or mismatched file, which moves many.
LOAD_LIMITS = {"onnx-fp32": (1.0, 1e-3), "onnx-int8": (0.98, 0.5)}
#: Sentences re-scored at every load (canary first, then calibration rows up to this many).
LOAD_CHECK_ROWS = 256


class OnnxCheckError(ScoringError):
    """An exported ONNX model disagrees with the PyTorch model it came from."""


@dataclass
class Agreement:
    """How an ONNX model's probabilities compare with PyTorch's on the same sentences."""

    n: int
    label_agreement: float
    max_prob_diff: float
    mean_prob_diff: float
    canary_agrees: bool

    def passed(self, backend: str, limits: dict = LIMITS) -> bool:
        """Whether it is within ``limits`` (default :data:`LIMITS`) of ``backend`` and labels the
        canary alike."""
        min_agreement, max_diff = limits[backend]
        return (self.canary_agrees and self.label_agreement >= min_agreement
                and self.max_prob_diff <= max_diff)

    def summary(self) -> str:
        """One line, e.g. ``labels agree on 99.6% of 581, max |dp| 0.12``."""
        return (f"labels agree on {self.label_agreement:.1%} of {self.n}, max |dp| "
                f"{self.max_prob_diff:.3g}, mean |dp| {self.mean_prob_diff:.2g}"
                + ("" if self.canary_agrees else ", canary labels differ"))


def compare(reference: np.ndarray, probs: np.ndarray, n_canary: int) -> Agreement:
    """Compare two ``(n, 3)`` probability arrays; the first ``n_canary`` rows are the canary."""
    same = reference.argmax(axis=1) == probs.argmax(axis=1)
    diff = np.abs(reference - probs)
    return Agreement(len(reference), float(same.mean()), float(diff.max()), float(diff.mean()),
                     bool(same[:n_canary].all()))


def weights_fingerprint(model_dir: Path) -> str:
    """SHA-256 over the checkpoint's weight and config files (names sorted), hex."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).iterdir()):
        if path.is_file() and (path.suffix in (".safetensors", ".bin") or path.name == "config.json"):
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


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


def onnx_file(model_dir: Path, backend: str) -> tuple[Path, dict]:
    """The exported file for ``backend`` and its export report, after the static checks.

    Raises:
        ModelNotFoundError: no export for that model (the message says how to make one).
        OnnxCheckError: the export failed its check, or the weights changed since.
    """
    model_dir = Path(model_dir)
    path, report_path = model_dir / ONNX_DIR / FILES[backend], model_dir / ONNX_DIR / REPORT
    if not path.exists() or not report_path.exists():
        raise ModelNotFoundError(
            f"no {backend} export of {model_dir.name}; run `tonewatch model export-onnx "
            f"{model_dir.name}` first (or use TONEWATCH_SCORING_BACKEND=torch)")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    if report.get("weights_fingerprint") != weights_fingerprint(model_dir):
        raise OnnxCheckError(f"the ONNX export of {model_dir.name} is stale (the weights changed "
                             "since); run `tonewatch model export-onnx` again")
    check = report.get("checks", {}).get(backend, {})
    if not check.get("passed"):
        raise OnnxCheckError(
            f"the {backend} export of {model_dir.name} failed its check against PyTorch at export "
            f"time (label agreement {check.get('label_agreement', float('nan')):.1%}); "
            "score with TONEWATCH_SCORING_BACKEND=torch")
    return path, report


def recheck(report: dict, backend: str, probs: np.ndarray, what: str) -> Agreement:
    """Compare freshly scored load-check sentences with the stored PyTorch probabilities.

    Raises:
        OnnxCheckError: outside :data:`LOAD_LIMITS` for ``backend``.
    """
    stored = report["load_check"]
    agreement = compare(np.asarray(stored["reference"]), probs, stored["n_canary"])
    if not agreement.passed(backend, LOAD_LIMITS):
        raise OnnxCheckError(f"{backend} model {what} disagrees with its PyTorch model "
                             f"({agreement.summary()}); re-export it or use "
                             "TONEWATCH_SCORING_BACKEND=torch")
    return agreement


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


def export_model(settings, version: str, *, note: Callable[[str], None] = lambda line: None) -> dict:
    """``tonewatch model export-onnx VERSION``: export, quantise and check a registry model.

    The reference is the PyTorch float32 model on the CPU; the check sentences are the canary
    followed by :func:`calibration_texts` of ``settings.corpus_dir``.

    Args:
        settings: settings (registry, corpus folder, max_length, label map).
        version: a registry version or ``production``.
        note: receives one progress line per step.

    Returns:
        the export report (see :func:`export_onnx`), plus ``path``: the ``onnx`` folder.

    Raises:
        ModelNotFoundError: no such version. OnnxCheckError: the float32 export disagrees.
    """
    from pipeline.scoring.backends import OnnxBackend
    from pipeline.scoring.canary import CANARY
    from pipeline.scoring.classifier import SentimentClassifier
    from pipeline.scoring.labels import parse_label_spec
    from pipeline.training.registry import Registry

    record = Registry(settings.model_registry).get(version)
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
