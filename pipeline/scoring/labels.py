"""Map a checkpoint's ``config.id2label`` onto tonewatch's negative/neutral/positive.

Checkpoints disagree on order and spelling (ProsusAI/finbert: 0=positive, 1=negative,
2=neutral; others use bearish/bullish or upper case), so the order is never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.domain import LABELS
from pipeline.errors import LabelMappingError

SYNONYMS: dict[str, str] = {
    "negative": "negative", "neg": "negative", "bearish": "negative", "bear": "negative",
    "neutral": "neutral", "neu": "neutral", "none": "neutral",
    "positive": "positive", "pos": "positive", "bullish": "positive", "bull": "positive",
}


def canonical_label(name: str) -> str | None:
    """``'Bearish'`` → ``'negative'``; None when the spelling is unknown."""
    return SYNONYMS.get(str(name).strip().lower())


def label_permutation(id2label: Mapping[int | str, str]) -> list[int]:
    """Indices that reorder a model's output columns into :data:`LABELS` order.

    Args:
        id2label: the checkpoint's mapping from output index to label name.

    Returns:
        ``perm`` such that ``logits[:, perm]`` has columns negative, neutral, positive.

    Raises:
        LabelMappingError: a label is unknown (e.g. ``LABEL_0``), a class is missing or repeated.
    """
    mapping: dict[str, int] = {}
    for index, name in id2label.items():
        label = canonical_label(name)
        if label is None:
            raise LabelMappingError(
                f"model label {name!r} (index {index}) is not one of negative/neutral/positive "
                "or a known synonym; fix config.id2label of the checkpoint"
            )
        if label in mapping:
            raise LabelMappingError(f"model labels map two outputs onto {label!r}: {dict(id2label)}")
        mapping[label] = int(index)
    missing = [label for label in LABELS if label not in mapping]
    if missing:
        raise LabelMappingError(f"model has no output for {missing}: id2label={dict(id2label)}")
    return [mapping[label] for label in LABELS]
