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
