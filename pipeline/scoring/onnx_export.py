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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import OnnxCheckError
from pipeline.scoring.backends import OnnxBackend
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


#: ``config.model_type`` values whose graphs ONNX Runtime's BERT optimizer fuses (encoders with
#: BERT's post-LayerNorm layout; the optimizer leaves what it does not recognise unfused).
BERT_LIKE = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "camembert", "mpnet")


def _optimize(source: Path, target: Path, config) -> dict[str, int]:
    """Fuse the float32 graph with ONNX Runtime's transformer optimizer; the fused operators.

    ``optimize_model(..., model_type="bert", opt_level=0)`` replaces each layer's MatMul/Softmax
    attention by one ``Attention`` node (Q, K and V in one weight), Add+LayerNorm by
    ``SkipLayerNormalization`` and bias+GELU by ``BiasGelu``
    (https://onnxruntime.ai/docs/performance/transformers-optimization.html); opt_level 0 leaves
    the session's own graph optimisations to load time, so the file stays portable across CPUs.
    Writes nothing and returns ``{}`` for other architectures.
    """
    if getattr(config, "model_type", "") not in BERT_LIKE:
        return {}
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    # The optimizer's fusion modules log counts and shape notes on their own module loggers
    # (which inherit the root logger's level): noise for an operator.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        model = optimize_model(str(source), model_type="bert",
                               num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                               hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=0)
    finally:
        root.setLevel(level)
    model.save_model_to_file(str(target))
    return {op: int(n) for op, n in model.get_fused_operator_statistics().items() if n}


@dataclass
class _Group:
    """Nodes multiplying one activation tensor by constant weights: quantised together, since
    dynamic quantisation quantises their shared input once."""

    input: str
    nodes: list[str]
    weights: list[str]


def _quant_groups(onnx_path: Path) -> list[_Group]:
    """Weight MatMuls and fused ``Attention`` nodes grouped by their input tensor, graph order."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    groups: dict[str, _Group] = {}
    for node in graph.node:
        if (node.op_type in QUANTIZED_OPS and len(node.input) >= 2 and node.input[1] in weights):
            group = groups.setdefault(node.input[0], _Group(node.input[0], [], []))
            group.nodes.append(node.name)
            group.weights.append(node.input[1])
    return list(groups.values())


def _matmul_groups(onnx_path: Path) -> list[list[str]]:
    """Node names of :func:`_quant_groups` (kept for callers that only need the names)."""
    return [group.nodes for group in _quant_groups(onnx_path)]


#: Operators quantised to int8: MatMul (``MatMulInteger``, fused by ONNX Runtime into
#: ``DynamicQuantizeMatMul``) and the optimizer's fused ``Attention`` (``QAttention``).
QUANTIZED_OPS = ("MatMul", "Attention")


def _fake_quant_error(x: np.ndarray, weight: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    """Squared error that dynamic int8 quantisation adds to ``x @ weight``, and the squared norm.

    Mirrors ONNX Runtime's dynamic quantisation: the activation ``x`` (any shape, last axis
    ``k``) is quantised per tensor to uint8 with the range of the whole batch (including 0, as
    ``DynamicQuantizeLinear`` does), the weight ``(k, n)`` per output column to symmetric int8.
    The error is measured on ``rows`` of the flattened activation (a sample, to bound the cost).
    """
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero = np.round(-low / scale)
    flat = x.reshape(-1, x.shape[-1])[rows]
    xq = (np.clip(np.round(flat / scale) + zero, 0, 255) - zero) * scale
    w_scale = np.abs(weight).max(axis=0) / 127
    w_scale[w_scale == 0] = 1.0
    wq = np.clip(np.round(weight / w_scale), -127, 127) * w_scale
    exact = flat @ weight
    return float(((xq @ wq - exact) ** 2).sum()), float((exact ** 2).sum())


class _ErrorProbe:
    """A backend that runs the float32 graph with every group's input exposed and accumulates,
    per group, the relative error int8 quantisation would add to its products (its
    sensitivity: ``sum ||XqWq - XW||^2 / sum ||XW||^2``, the inverse of the SQNR)."""

    name = "probe"

    def __init__(self, source: Path, target: Path, groups: list[_Group], rows_per_batch: int = 256):
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(source))
        init = {i.name: i for i in model.graph.initializer}
        self.weights = [[numpy_helper.to_array(init[w]).astype(np.float32) for w in g.weights]
                        for g in groups]
        exposed = {o.name for o in model.graph.output}
        for group in groups:
            if group.input not in exposed:
                model.graph.output.append(
                    onnx.helper.make_tensor_value_info(group.input, onnx.TensorProto.FLOAT, None))
                exposed.add(group.input)
        onnx.save(model, str(target))
        self.backend = OnnxBackend(target, name="probe")
        self.outputs = [o.name for o in self.backend.session.get_outputs()]
        self.groups = groups
        self.error = np.zeros(len(groups))
        self.norm = np.zeros(len(groups))
        self.rows_per_batch = rows_per_batch
        self.rng = np.random.default_rng(0)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": np.zeros_like(input_ids)}
        values = dict(zip(self.outputs, self.backend.session.run(
            None, {k: feed[k] for k in self.backend.inputs}), strict=True))
        for i, group in enumerate(self.groups):
            x = values[group.input]
            n_rows = int(np.prod(x.shape[:-1]))
            rows = np.sort(self.rng.choice(n_rows, min(n_rows, self.rows_per_batch), replace=False))
            for weight in self.weights[i]:
                error, norm = _fake_quant_error(x, weight, rows)
                self.error[i] += error
                self.norm[i] += norm
        return values[self.outputs[0]].astype(np.float32)

    def sensitivity(self) -> np.ndarray:
        """Relative squared error per group, ``(len(groups),)``."""
        return self.error / np.maximum(self.norm, 1e-30)


def _quantize(source: Path, target: Path, nodes: list[str]) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs "consider pre-processing" on the root logger once per call; the export
    # calls it several times, so an operator would see a handful of identical warnings.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_quantize=nodes,
                         # Fused contrib operators defeat ONNX shape inference; their outputs
                         # are float32.
                         extra_options={"MatMulConstBOnly": True,
                                        "DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


Score = Callable[[Path | object, Sequence[str]], np.ndarray]


def export_onnx(
    model_dir: Path, *, check_texts: Sequence[str], n_canary: int, reference: np.ndarray,
    score: Score, target: float = 0.995, max_mean_diff: float = 0.001,
    note: Callable[[str], None] = lambda line: None,
) -> dict:
    """Write ``model.onnx`` and ``model.int8.onnx`` under ``model_dir/onnx`` and check them.

    ``model.onnx`` is the float32 export fused by :func:`_optimize` (the plain export when the
    fused graph does not match PyTorch or the architecture is not BERT-like). ``model.int8.onnx``
    quantises the longest prefix of its MatMul groups, ranked by the error int8 adds to each
    group's products on the check sentences (:class:`_ErrorProbe`, least first), that keeps the
    labels (agreement >= ``target``, canary unchanged) and moves the probabilities by at most
    ``max_mean_diff`` on average: every group first, then a binary search over prefixes.

    Args:
        model_dir: a ``save_pretrained`` directory.
        check_texts: calibration sentences, the canary first (``n_canary`` of them).
        reference: PyTorch float32 probabilities ``(len(check_texts), 3)`` for them.
        score: probabilities ``(n, 3)`` of texts under an ONNX file, or under a backend object
            with a ``logits`` method (the classifier's own preprocessing and batching, so the
            check sees what scoring will see).
        target: least label agreement with ``reference`` the int8 model must keep.
        max_mean_diff: largest mean absolute probability difference it may add.
        note: receives one progress line per step.

    Returns:
        the report written to ``export.json`` (``checks`` has one :class:`Agreement` per file).

    Raises:
        OnnxCheckError: the float32 export itself disagrees with PyTorch (a bug, not noise).
    """
    from transformers import AutoConfig

    out = Path(model_dir) / ONNX_DIR
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix=".export."))
    try:
        plain, fp32 = work / "plain.onnx", work / FILES["onnx-fp32"]
        _export_fp32(Path(model_dir), plain)
        fused = _optimize(plain, fp32, AutoConfig.from_pretrained(model_dir))
        checks = {}
        if fused:
            checks["onnx-fp32"] = compare(reference, score(fp32, check_texts), n_canary)
            if not checks["onnx-fp32"].passed("onnx-fp32"):
                note(f"fused float32 graph disagrees ({checks['onnx-fp32'].summary()}); "
                     "keeping the plain export")
                fused = {}
        if not fused:
            os.replace(plain, fp32)
            checks["onnx-fp32"] = compare(reference, score(fp32, check_texts), n_canary)
        note(f"float32 ONNX ({', '.join(f'{n} {op}' for op, n in fused.items()) or 'not fused'}):"
             f" {checks['onnx-fp32'].summary()}")
        if not checks["onnx-fp32"].passed("onnx-fp32"):
            raise OnnxCheckError(f"the float32 ONNX export of {model_dir} disagrees with PyTorch "
                                 f"({checks['onnx-fp32'].summary()})")
        groups = _quant_groups(fp32)
        probe = _ErrorProbe(fp32, work / "probe.onnx", groups)
        score(probe, check_texts)
        sensitivity = probe.sensitivity()
        del probe
        ranked = [groups[i] for i in np.argsort(sensitivity, kind="stable")]
        trial, int8 = work / "trial.int8.onnx", work / FILES["onnx-int8"]
        tried: dict[int, Agreement] = {}

        def keeps_labels(k: int) -> bool:
            _quantize(fp32, trial, [n for g in ranked[:k] for n in g.nodes])
            tried[k] = compare(reference, score(trial, check_texts), n_canary)
            kept = (tried[k].passed("onnx-int8") and tried[k].label_agreement >= target
                    and tried[k].mean_prob_diff <= max_mean_diff)
            if kept:  # the largest passing prefix so far (the search only moves up from here)
                os.replace(trial, int8)
            return kept

        # Every group first (one trial when the model tolerates it); else the largest prefix of
        # the ranking that keeps the labels (binary search: the ranking adds the least damaging
        # groups first, so the damage of a prefix grows with its length).
        lo = hi = len(ranked)
        if not keeps_labels(hi):
            lo, hi = 0, hi - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if keeps_labels(mid) else (lo, mid - 1)
        chosen = [n for g in ranked[:lo] for n in g.nodes]
        n_nodes = sum(len(g.nodes) for g in groups)
        note(f"int8: {lo} of {len(groups)} groups quantised ({len(chosen)} of {n_nodes} "
             f"MatMul/Attention nodes; {len(tried)} trials)")
        # No group at all: there is no int8 model (the smallest prefix tried says why).
        checks["onnx-int8"] = tried[lo] if lo else tried[min(tried)]
        passed = {name: check.passed(name) for name, check in checks.items()}
        passed["onnx-int8"] = passed["onnx-int8"] and lo > 0
        note(f"int8 ONNX: {checks['onnx-int8'].summary()}"
             + ("" if passed["onnx-int8"] else "; not written"))
        keep = min(len(check_texts), LOAD_CHECK_ROWS)
        report = {
            "weights_fingerprint": weights_fingerprint(model_dir),
            "fused_operators": fused,
            "quantized_matmuls": chosen, "matmul_groups": len(groups), "quantized_groups": lo,
            "quantizable_nodes": n_nodes,
            "group_sensitivity": {g.input: round(float(s), 8)
                                  for g, s in zip(groups, sensitivity, strict=True)},
            "checks": {k: asdict(v) | {"passed": passed[k]} for k, v in checks.items()},
            "load_check": {"texts": list(check_texts[:keep]), "n_canary": n_canary,
                           "reference": np.round(reference[:keep], 6).tolist()},
        }
        for name in FILES.values():
            if (work / name).exists():
                os.replace(work / name, out / name)
            else:  # an older export's file must not outlive its failed check
                (out / name).unlink(missing_ok=True)
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
