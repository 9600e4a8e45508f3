"""Temperature scaling: the one number that turns a model's logits into calibrated probabilities.

A fine-tuned classifier's softmax outputs are not frequencies: trained with label smoothing they
are too timid, trained without it often too sure. Temperature scaling (Guo et al. 2017, "On
Calibration of Modern Neural Networks", section 4.2) divides the logits by one scalar ``T > 0``
fitted after training by minimising the negative log-likelihood of held-out labels; ``T > 1``
softens, ``T < 1`` sharpens. The predicted label never changes (the order of the logits is
kept), only how confident the probabilities are, so ``p_negative`` thresholds and the
``mean_score`` metric mean what they say.

A model carries its temperatures in ``config.json`` under :data:`TEMPERATURE_KEY`, one per input
kind, so the export to ONNX and every backend apply the same ones; a model without them (trained
before calibration existed) is scored with ``T = 1``, the plain softmax.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: ``config.json`` attribute holding ``{"article": T, "company": T}``: the temperature for
#: article-level inputs and for company-level pairs (:mod:`pipeline.scoring.preprocess`).
#: Transformers keeps unknown config attributes through ``save_pretrained``/``from_pretrained``.
TEMPERATURE_KEY = "tonewatch_temperature"

#: Input kinds a temperature is fitted for.
KINDS = ("article", "company")

#: Temperatures outside this range mean a broken fit or a broken model, not a calibration.
TEMPERATURE_RANGE = (0.05, 20.0)


def model_temperatures(config: object) -> dict[str, float]:
    """The temperatures a model's config carries, ``{"article": T, "company": T}``.

    Args:
        config: a transformers ``PretrainedConfig`` (or anything with attributes).

    Returns:
        both kinds, 1.0 for a kind the config does not name (an uncalibrated model).

    Raises:
        ValueError: a stored temperature is not a number within :data:`TEMPERATURE_RANGE`.
    """
    stored = getattr(config, TEMPERATURE_KEY, None) or {}
    if not isinstance(stored, Mapping):
        raise ValueError(f"config {TEMPERATURE_KEY} must map input kinds to numbers, "
                         f"not {stored!r}")
    out = {}
    for kind in KINDS:
        value = stored.get(kind, 1.0)
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not TEMPERATURE_RANGE[0] <= value <= TEMPERATURE_RANGE[1]):
            raise ValueError(f"config {TEMPERATURE_KEY}[{kind!r}] = {value!r} is not a "
                             f"temperature in [{TEMPERATURE_RANGE[0]}, {TEMPERATURE_RANGE[1]}]")
        out[kind] = float(value)
    return out


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, stable for large logits (the row max is
    subtracted first).

    Args:
        logits: ``(n, k)`` array.
        temperature: ``T > 0``; 1 is the plain softmax.

    Returns:
        ``(n, k)`` probabilities, rows summing to 1, in the input's float dtype.
    """
    scaled = logits / temperature
    shifted = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
