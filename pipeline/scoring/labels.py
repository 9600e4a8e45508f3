"""Map a checkpoint's ``config.id2label`` onto tonewatch's negative/neutral/positive.

Checkpoints disagree on order and spelling (ProsusAI/finbert: 0=positive, 1=negative,
2=neutral; others use bearish/bullish or upper case), so the order is never assumed. The
spellings themselves (:func:`pipeline.domain.canonical_label`) and the ``RAW=label`` map syntax
(:func:`pipeline.domain.parse_label_spec`) live in :mod:`pipeline.domain`, below the settings
that validate ``model_labels`` with them.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.domain import LABELS, canonical_label
from pipeline.errors import LabelMappingError


def label_permutation(
    id2label: Mapping[int | str, str], label_map: Mapping[str, str] | None = None
) -> list[int]:
    """Indices that reorder a model's output columns into :data:`LABELS` order.

    Args:
        id2label: the checkpoint's mapping from output index to label name.
        label_map: explicit ``{model label or output index: negative|neutral|positive}`` for
            checkpoints whose labels carry no meaning (``LABEL_0``...), e.g.
            ``{"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"}``; it wins
            over the names in ``id2label``.

    Returns:
        ``perm`` such that ``logits[:, perm]`` has columns negative, neutral, positive.

    Raises:
        LabelMappingError: a label is unknown (e.g. ``LABEL_0``), a class is missing or repeated.
    """
    mapping: dict[str, int] = {}
    explicit = {str(k).strip(): v for k, v in (label_map or {}).items()}
    for index, name in id2label.items():
        given = explicit.get(str(name)) or explicit.get(str(index))
        label = canonical_label(given) if given else canonical_label(name)
        if label is None:
            raise LabelMappingError(
                f"model label {name!r} (index {index}) is not one of negative/neutral/positive "
                "or a known synonym; give an explicit map (--model-labels "
                "LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive, or TONEWATCH_MODEL_LABELS) "
                "or fix config.id2label of the checkpoint"
            )
        if label in mapping:
            raise LabelMappingError(f"model labels map two outputs onto {label!r}: {dict(id2label)}")
        mapping[label] = int(index)
    missing = [label for label in LABELS if label not in mapping]
    if missing:
        raise LabelMappingError(f"model has no output for {missing}: id2label={dict(id2label)}")
    return [mapping[label] for label in LABELS]

