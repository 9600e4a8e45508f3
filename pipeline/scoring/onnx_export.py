"""Export a model to ONNX, fuse it, quantise it to int8, and check both against PyTorch.

:func:`pipeline.scoring.fast_backends.prepare_backends` (run by every model build and by
``tonewatch model export-onnx VERSION``) writes, next to the model in the registry (gitignored)::

    <registry>/<name>/<version>/onnx/
        model.onnx         float32 graph (torch.onnx.export, dynamic batch and sequence axes),
                           fused by ONNX Runtime's transformer optimizer
        model.int8.onnx    dynamic int8 quantisation (onnxruntime.quantization.quantize_dynamic,
                           per-channel int8 weights); absent when no MatMul group keeps the labels
        export.json        weights fingerprint, fused operators, quantised nodes, check results,
                           reference probs, measured speeds, the backend ``auto`` picks

Fusion (:func:`_optimize`) turns each layer's attention into one ``Attention`` node and folds
bias, residual, LayerNorm and GELU into ``SkipLayerNormalization`` and ``BiasGelu``.

Dynamic quantisation stores int8 weights (per output channel) and quantises each MatMul's input
per batch (per tensor, uint8). An input with outlier channels (BERT's LayerNorm and GELU outputs)
loses precision that way, so the export first smooths them: one float32 pass over the check
sentences with every group's input exposed (:class:`_ActivationProbe`) measures each input
channel's range, and SmoothQuant (:func:`_smooth`) divides each channel by a scale that the
weights' rows absorb, an equivalent float32 graph whose activations int8 holds better. The same
pass gives each group of MatMuls sharing an input the relative error int8 still adds to its
products; the groups are ranked by it, all of them are tried first, and otherwise the longest
prefix of the ranking is kept that still keeps the labels (agreement >= ``target``, canary unchanged) and moves the probabilities by
at most ``max_mean_diff`` on average. The mean bound matters because the corpus sentences are
clear-cut: their labels survive quantisation that already flips borderline market chatter
(measured on an earlier MiniLM model: calibration mean |dp| 0.0009 kept 99.5% of tfns labels,
0.0023 only 99.2%). This is the sensitivity-based mixed precision of ONNX Runtime's quantisation
guide (https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html).

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


def _fake_quant(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """``x`` through uint8 quantisation with the range ``[low, high]`` (widened to hold 0, as
    ONNX Runtime's ``DynamicQuantizeLinear`` does) and back."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255 or 1.0
    zero = np.round(-low / scale)
    return (np.clip(np.round(x / scale) + zero, 0, 255) - zero) * scale


def _fake_quant_weight(weight: np.ndarray) -> np.ndarray:
    """A ``(k, n)`` weight through symmetric int8 quantisation per output column, and back."""
    scale = np.abs(weight).max(axis=0) / 127
    scale[scale == 0] = 1.0
    return np.clip(np.round(weight / scale), -127, 127) * scale


#: SmoothQuant's migration strength (Xiao et al. 2023, https://arxiv.org/abs/2211.10438): the
#: share of an activation channel's range moved into the weights; 0.5 is the paper's default.
SMOOTH_ALPHA = 0.5


class _ActivationProbe:
    """A backend that runs the float32 graph with every group's input exposed, and keeps what
    the int8 choice needs: each input's per-channel range per batch and a sample of its rows.

    From them :meth:`smoothing` derives SmoothQuant scales and :meth:`sensitivity` the relative
    error int8 would add to each group's products after smoothing (``sum ||XqWq - XW||^2 /
    sum ||XW||^2``, the inverse of the SQNR), with the activation quantised per batch tensor as
    ONNX Runtime's dynamic quantisation does.
    """

    name = "probe"

    def __init__(self, source: Path, target: Path, groups: list[_Group], rows_per_batch: int = 48):
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
        self.ranges: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in groups]
        self.rows: list[list[np.ndarray]] = [[] for _ in groups]
        self.rows_per_batch = rows_per_batch
        self.rng = np.random.default_rng(0)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": np.zeros_like(input_ids)}
        values = dict(zip(self.outputs, self.backend.session.run(
            None, {k: feed[k] for k in self.backend.inputs}), strict=True))
        for i, group in enumerate(self.groups):
            flat = values[group.input].reshape(-1, values[group.input].shape[-1])
            self.ranges[i].append((flat.min(axis=0), flat.max(axis=0)))
            pick = self.rng.choice(len(flat), min(len(flat), self.rows_per_batch), replace=False)
            self.rows[i].append(flat[np.sort(pick)].copy())
        return values[self.outputs[0]].astype(np.float32)

    def smoothing(self, alpha: float = SMOOTH_ALPHA) -> list[np.ndarray]:
        """Per group, the per-input-channel scales ``s`` (``(k,)``): ``s_j = max|X_j|^alpha /
        max|W_j|^(1 - alpha)`` (SmoothQuant); the graph then multiplies ``X`` by ``1/s`` and the
        weight rows by ``s``, the same product with flatter activation channels."""
        out = []
        for ranges, weights in zip(self.ranges, self.weights, strict=True):
            x_max = np.max([np.maximum(np.abs(lo), np.abs(hi)) for lo, hi in ranges], axis=0)
            w_max = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
            scale = x_max ** alpha / np.maximum(w_max, 1e-8) ** (1 - alpha)
            scale[~np.isfinite(scale) | (scale <= 0)] = 1.0
            out.append(np.clip(scale, 1e-4, 1e4).astype(np.float32))
        return out

    def sensitivity(self, smoothing: list[np.ndarray]) -> np.ndarray:
        """Relative squared error int8 adds to each group's products, ``(len(groups),)``."""
        out = np.zeros(len(self.groups))
        for i, scale in enumerate(smoothing):
            rows = np.concatenate(self.rows[i])
            # Each sampled row is quantised with the range of the batch it came from.
            xq = np.concatenate([
                _fake_quant(batch / scale, float((lo / scale).min()), float((hi / scale).max()))
                for (lo, hi), batch in zip(self.ranges[i], self.rows[i], strict=True)])
            error = norm = 0.0
            for weight in self.weights[i]:
                exact = rows @ weight
                error += float(((xq @ _fake_quant_weight(weight * scale[:, None]) - exact) ** 2).sum())
                norm += float((exact ** 2).sum())
            out[i] = error / max(norm, 1e-30)
        return out


def _smooth(source: Path, target: Path, groups: list[_Group], smoothing: list[np.ndarray]) -> None:
    """Write ``source`` with each group's input divided by its scales (one ``Mul`` feeding the
    group's nodes; other readers of the tensor keep the original) and its weight rows multiplied
    by them: the same function in float32, with activations int8 can hold (SmoothQuant)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    members = {name: i for i, group in enumerate(groups) for name in group.nodes}
    nodes = []
    for node in graph.node:
        i = members.get(node.name)
        if i is not None:
            group, scale = groups[i], smoothing[i]
            smoothed = f"{group.input}/smoothed"
            if node.name == group.nodes[0]:
                inverse = numpy_helper.from_array((1 / scale).astype(np.float32),
                                                  f"{group.input}/smooth_inverse")
                graph.initializer.append(inverse)
                nodes.append(onnx.helper.make_node("Mul", [group.input, inverse.name], [smoothed],
                                                   name=f"{group.input}/Smooth"))
            weight = init[node.input[1]]
            weight.CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(weight) * scale[:, None], weight.name))
            node.input[0] = smoothed
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))


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
    group's products on the check sentences after smoothing (:class:`_ActivationProbe`,
    :func:`_smooth`; least first), that keeps the
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
        probe = _ActivationProbe(fp32, work / "probe.onnx", groups)
        score(probe, check_texts)
        smoothing = probe.smoothing()
        sensitivity = probe.sensitivity(smoothing)
        del probe
        smooth = work / "smooth.onnx"
        _smooth(fp32, smooth, groups, smoothing)
        ranked = [groups[i] for i in np.argsort(sensitivity, kind="stable")]
        trial, int8 = work / "trial.int8.onnx", work / FILES["onnx-int8"]
        tried: dict[int, Agreement] = {}

        def keeps_labels(k: int) -> bool:
            _quantize(smooth, trial, [n for g in ranked[:k] for n in g.nodes])
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
