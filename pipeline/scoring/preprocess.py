"""The last step before the tokenizer, shared by training and scoring so both see the same text."""

from __future__ import annotations

import re

# http(s) and www links, including the shortened links of social posts ("https://t.co/Ab3x").
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def model_input(text: str) -> str:
    """Text as the classifier sees it: links removed, whitespace collapsed.

    A link carries no sentiment, but a shortened one tokenizes into a dozen random word pieces
    that use up the ``max_length`` budget and add noise, so it is dropped. Anything else is kept.

    Args:
        text: a headline, summary or post (any string; non-strings become ``""``).

    Returns:
        the cleaned text (may be ``""``).
    """
    if not isinstance(text, str):
        return ""
    return _SPACE.sub(" ", _URL.sub(" ", text)).strip()


#: ``config.json`` attribute a fine-tune sets when it trained on company-targeted pairs
#: ``(text, company)`` as well as on single texts: such a model serves both inputs (see
#: :func:`pipeline.scoring.batching.encode`). Transformers keeps unknown config attributes
#: through ``save_pretrained``/``from_pretrained``.
TARGETED_FLAG = "tonewatch_targets"


#: What surrounds each mention of the target company in the text of a company-level input.
TARGET_OPEN, TARGET_CLOSE = "<", ">"


def mark_target(text: str, target: str) -> str:
    """``text`` with every whole-word mention of ``target`` wrapped in markers.

    "Acme beats while Globex slumps" toward "Globex" → "Acme beats while < Globex > slumps" (one
    token each side in BERT vocabularies, so a pair costs two tokens more).
    Marking the target where it stands gives the model its position, which the sentence pair
    alone leaves it to find (entity markers: Soares et al. 2019, arXiv:1906.03158; for
    target-dependent sentiment, Gao et al. 2019, TD-BERT). Matching is case-sensitive first,
    then case-insensitive; a target the text does not name (an archive's ticker column) leaves
    the text unmarked.

    Args:
        text: the model input text (:func:`model_input` applied).
        target: the company as the text names it ("Globex", "$GLBX", "Globex Corp").
    """
    target = (target or "").strip()
    if not target or not text:
        return text
    for flags in (0, re.IGNORECASE):
        pattern = re.compile(r"(?<!\w)" + re.escape(target) + r"(?!\w)", flags)
        if pattern.search(text):
            return pattern.sub(lambda m: f"{TARGET_OPEN} {m.group(0)} {TARGET_CLOSE}", text)
    return text


def target_input(text: str, target: str) -> tuple[str, str]:
    """The sentence pair a company-level row becomes, for training and scoring alike:
    ``(text with the target marked, target)``, both cleaned by :func:`model_input`."""
    text, target = model_input(text), model_input(target)
    return mark_target(text, target), target
