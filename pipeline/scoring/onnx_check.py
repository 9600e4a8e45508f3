"""The files of a model's ONNX export, and the check that they still agree with PyTorch.

:mod:`pipeline.scoring.onnx_export` writes, next to a model in the registry::

    <version folder>/onnx/
        model.onnx         float32 graph
        model.int8.onnx    dynamic int8 quantisation
        export.json        weights fingerprint, quantised nodes, check results, reference probs

Before an ONNX file scores anything, the classifier (:mod:`pipeline.scoring.classifier`) finds it
with :func:`onnx_file` (refusing a missing, stale or failed export) and re-scores the stored check
sentences; :func:`recheck` compares them with the PyTorch probabilities recorded at export time,
so a file that disagrees (stale, damaged, a different ONNX Runtime) is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ModelNotFoundError, OnnxCheckError

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


#: The default scoring backend: the fastest that passed its check for that model (:func:`auto_backend`).
AUTO = "auto"


def auto_backend(model_dir: str | Path, *, cuda: bool = False) -> tuple[str, str, bool]:
    """The backend ``auto`` scores a model with, why (one phrase for the log), and whether the
    reason is a problem an operator should hear about (a failed check, a stale export, no
    onnxruntime) rather than a plain choice.

    The fastest backend measured by :func:`pipeline.scoring.fast_backends.prepare_backends` among
    those that passed their check against PyTorch (``export.json``: ``speed`` and ``checks``);
    ``torch`` on a CUDA device (the speeds were measured on the CPU), for a model that is not a
    local directory, when onnxruntime is missing, and when the export is missing, stale (the
    weights changed), unreadable or has no measured speeds. The chosen ONNX file is still checked
    again when it loads (:func:`onnx_file`, :func:`recheck`).

    Args:
        model_dir: the model's ``save_pretrained`` directory (or a hub id).
        cuda: whether the model will run on a CUDA device.

    Returns:
        ``(backend, reason, problem)``, e.g. ``("onnx-int8", "fastest that passed its check:
        onnx-int8 612/s, onnx-fp32 598/s, torch 301/s", False)``.
    """
    import importlib.util

    model_dir = Path(model_dir)
    if cuda:
        return "torch", "CUDA device", False
    if not model_dir.is_dir():
        return "torch", "not a local model directory (no ONNX export)", False
    if importlib.util.find_spec("onnxruntime") is None:
        return "torch", "onnxruntime is not installed", True
    try:
        report = json.loads((model_dir / ONNX_DIR / REPORT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "torch", (f"no ONNX export of {model_dir.name} (`tonewatch model export-onnx "
                         f"{model_dir.name}` makes one)"), False
    except (OSError, ValueError) as exc:
        return "torch", f"unreadable {REPORT} ({exc})", True
    speed = report.get("speed")
    if not isinstance(speed, dict) or not speed:
        return "torch", (f"the ONNX export of {model_dir.name} has no measured speeds (made before "
                         "they were recorded; `tonewatch model export-onnx` again)"), False
    if report.get("weights_fingerprint") != weights_fingerprint(model_dir):
        return "torch", (f"the ONNX export of {model_dir.name} is stale (the weights changed "
                         "since; `tonewatch model export-onnx` again)"), True
    checks = report.get("checks", {})
    passed = {name: float(rate) for name, rate in speed.items()
              if name == "torch" or (name in FILES and checks.get(name, {}).get("passed")
                                     and (model_dir / ONNX_DIR / FILES[name]).exists())}
    failed = [name for name in FILES if not checks.get(name, {}).get("passed")]
    best = max(passed, key=passed.get) if passed else "torch"
    rates = ", ".join(f"{name} {rate:.0f}/s" for name, rate in
                      sorted(passed.items(), key=lambda item: -item[1]))
    why = f"fastest that passed its check: {rates}" if rates else "no backend passed its check"
    if failed:
        why += f"; failed the check: {', '.join(failed)}"
    return best, why, best == "torch" and bool(failed)
