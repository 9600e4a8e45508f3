"""Forward passes: PyTorch (CPU or CUDA) and ONNX Runtime, behind one small interface.

A backend turns a padded batch (``input_ids``, ``attention_mask``, both int64 ``(b, t)``) into
float32 logits ``(b, n_outputs)`` in the checkpoint's own output order; the classifier maps
them to negative/neutral/positive and applies the softmax. Which backend scores is chosen by
``TONEWATCH_SCORING_BACKEND`` (see :func:`pipeline.scoring.classifier.load_classifier`).

CUDA specifics follow the PyTorch performance-tuning guide: bf16 autocast where the GPU supports
it (fp16 otherwise), SDPA attention, pinned host memory with non-blocking copies, optional
``torch.compile``, and a batch size found by timing rather than guessed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.errors import ModelNotFoundError, ScoringError
from pipeline.scoring.threads import available_cores, configure_cpu_threads, cpu_threads

log = logging.getLogger("tonewatch")

BACKENDS = ("torch", "onnx-int8", "onnx-fp32")

__all__ = ["BACKENDS", "OnnxBackend", "TorchBackend", "autocast_dtype", "available_cores",
           "configure_cpu_threads", "find_batch_size"]


def autocast_dtype(device_type: str, bf16_supported: bool):
    """The reduced-precision dtype for the forward pass, or None for full float32.

    Args:
        device_type: ``"cuda"`` or ``"cpu"``.
        bf16_supported: whether the GPU computes in bfloat16 (Ampere and newer;
            ``torch.cuda.is_bf16_supported()``).

    Returns:
        ``torch.bfloat16`` on such GPUs (float32's exponent range: no overflow in logits),
        ``torch.float16`` on older GPUs, None on CPU: reduced precision there would change
        labels for little gain without AMX units, so CPU stays float32 and uses the int8
        ONNX backend for speed.
    """
    import torch

    if device_type != "cuda":
        return None
    return torch.bfloat16 if bf16_supported else torch.float16


def find_batch_size(
    time_batch: Callable[[int], float], *, start: int = 16, limit: int = 4096,
    min_gain: float = 0.05,
) -> int:
    """Double the batch size while throughput still grows; return the best size measured.

    Args:
        time_batch: seconds one forward pass of that many rows takes (warm, synchronised);
            it may raise ``torch.OutOfMemoryError`` (or a RuntimeError saying "out of memory"),
            which ends the search.
        start: first size tried.
        limit: largest size tried.
        min_gain: stop once a doubling raises rows/s by less than this fraction.

    Returns:
        the batch size with the highest measured rows/s (``start`` when even that fails).
    """
    best_size, best_rate, size = start, 0.0, start
    while size <= limit:
        try:
            seconds = time_batch(size)
        except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
            if "out of memory" not in str(exc).lower():
                raise
            break
        rate = size / max(seconds, 1e-9)
        if rate <= best_rate * (1 + min_gain):
            if rate > best_rate:
                best_size, best_rate = size, rate
            break
        best_size, best_rate = size, rate
        size *= 2
    return best_size


class TorchBackend:
    """A transformers sequence classifier run by PyTorch.

    Args:
        model_path: ``save_pretrained`` directory or hub id.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default CUDA when available.
        compile: wrap the model in ``torch.compile`` (CUDA only; dynamic shapes, since every
            batch has its own length).

    Raises:
        ModelNotFoundError: nothing loadable at ``model_path``.
    """

    name = "torch"

    def __init__(self, model_path: str, *, device: str | None = None, compile: bool = False):
        import torch
        from transformers import AutoModelForSequenceClassification

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            # SDPA: fused attention kernels (flash / memory-efficient on CUDA, fused on CPU).
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model_path, attn_implementation="sdpa")
        except ValueError:  # an architecture without an SDPA implementation
            self.model = AutoModelForSequenceClassification.from_pretrained(model_path)
        self.config = self.model.config
        self.cuda = self.device.type == "cuda"
        self.dtype = autocast_dtype(self.device.type,
                                    self.cuda and torch.cuda.is_bf16_supported())
        if self.device.type == "cpu":
            configure_cpu_threads()
        self.model.to(self.device).eval()
        self.forward = torch.compile(self.model, dynamic=True) if compile and self.cuda else self.model

    def _to_device(self, array: np.ndarray):
        import torch

        tensor = torch.from_numpy(array)
        if self.cuda:  # page-locked memory lets the copy run asynchronously to the host
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Float32 logits ``(b, n_outputs)`` for a right-padded int64 batch ``(b, t)``."""
        import torch

        inputs = {"input_ids": self._to_device(input_ids),
                  "attention_mask": self._to_device(attention_mask)}
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype,
                                                    enabled=self.dtype is not None):
            out = self.forward(**inputs).logits
        return out.float().cpu().numpy()  # .cpu() waits for the GPU

    def measure_batch_size(self, seq_len: int, *, limit: int = 4096) -> int:
        """Batch size of ``seq_len``-token rows with the best measured throughput on this device.

        Each size is timed on random token ids after one warm-up pass, with
        ``torch.cuda.synchronize`` around the timed pass.
        """
        import torch

        vocab = int(getattr(self.config, "vocab_size", 1000))
        rng = np.random.default_rng(0)
        low = min(1000, vocab // 2)  # special tokens sit at the start of BERT vocabularies

        def time_batch(size: int) -> float:
            ids = rng.integers(low, vocab, size=(size, seq_len), dtype=np.int64)
            mask = np.ones_like(ids)
            self.logits(ids, mask)  # warm-up (and compilation for this shape)
            if self.cuda:
                torch.cuda.synchronize(self.device)
            started = time.perf_counter()
            self.logits(ids, mask)
            if self.cuda:
                torch.cuda.synchronize(self.device)
            return time.perf_counter() - started

        try:
            return find_batch_size(time_batch, limit=limit)
        finally:
            if self.cuda:
                torch.cuda.empty_cache()


class OnnxBackend:
    """An exported (optionally int8-quantised) model run by ONNX Runtime on the CPU.

    Args:
        onnx_path: the ``.onnx`` file (:mod:`pipeline.scoring.onnx_export` writes them).
        threads: intra-op threads; default one per core that other work leaves free
            (:func:`pipeline.scoring.threads.cpu_threads`, `TONEWATCH_THREADS` overrides).

    Raises:
        ModelNotFoundError: the file is missing or ONNX Runtime cannot load it.
    """

    def __init__(self, onnx_path: Path, *, threads: int | None = None, name: str = "onnx"):
        import onnxruntime as ort

        self.name = name
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(onnx_path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped errors
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelNotFoundError(f"cannot load ONNX model {onnx_path}: {first}") from exc
        self.inputs = [i.name for i in self.session.get_inputs()]

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Float32 logits ``(b, n_outputs)`` for a right-padded int64 batch ``(b, t)``."""
        feed = {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": np.zeros_like(input_ids)}
        try:
            return self.session.run(None, {k: feed[k] for k in self.inputs})[0].astype(np.float32)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped errors
            raise ScoringError(f"ONNX Runtime failed on a batch of shape {input_ids.shape}: "
                               f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from exc

