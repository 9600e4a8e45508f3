"""The language of each article: lingua's n-gram models on headline-sized texts, with the
feed's majority language as the prior for what a few words cannot settle.

Only articles in ``TONEWATCH_SCORE_LANGUAGES`` are scored, so a headline read as the wrong
language goes unscored, its companies with it; the rules below come from such misreadings.
"""

from __future__ import annotations

import functools
import re

DETECT_LANGUAGES = ("en", "pt", "es", "de", "fr", "it", "nl")


@functools.lru_cache(maxsize=1)
def _language_detector():
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in DETECT_LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()


#: What says nothing about a text's language and misleads n-gram models: links ("t.co/QTBf..."
#: reads as Dutch or German), cashtags and handles.
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[$@#][A-Za-z][\w.]*")

#: Texts shorter than this many words keep their feed's majority language unless the detector
#: gives that language almost no chance (:data:`_SHORT_TEXT_PRIOR`): four words of title case
#: ("Duravant To Acquire WECO") read as Italian at 0.53, English 0.22.
_SHORT_TEXT_WORDS = 6
_SHORT_TEXT_PRIOR = 0.15


def _language_text(text: str) -> str:
    return " ".join(_NOT_LANGUAGE.sub(" ", text).split())


def detect_language(text: str, *, min_confidence: float = 0.5) -> str | None:
    """ISO 639-1 code of the text's language among :data:`DETECT_LANGUAGES`, or None if unsure.

    Uses lingua (n-gram models built for short texts such as headlines) on the text without
    links, cashtags and handles. "Unsure" means the best language's confidence is below
    ``min_confidence`` (0..1); callers then fall back to the feed's majority language (a
    two-word headline says little on its own).
    """
    text = _language_text(text)
    if len(text) < 3:
        return None
    values = _language_detector().compute_language_confidence_values(text)
    if not values or values[0].value < min_confidence:
        return None
    return values[0].language.iso_code_639_1.name.lower()


def _fits_language(text: str, code: str) -> bool:
    """True when ``text`` is short and the detector gives language ``code`` at least
    :data:`_SHORT_TEXT_PRIOR` confidence (the feed's majority language then wins)."""
    text = _language_text(text)
    if len(text.split()) >= _SHORT_TEXT_WORDS:
        return False
    from lingua import IsoCode639_1

    try:
        language = getattr(IsoCode639_1, code.upper())
    except AttributeError:
        return False
    values = _language_detector().compute_language_confidence_values(text)
    return any(v.language.iso_code_639_1 == language and v.value >= _SHORT_TEXT_PRIOR
               for v in values)


def feed_languages(texts: list[str], detected: list[str | None]) -> list[str | None]:
    """The language of each of one fetch's texts, given what :func:`detect_language` said.

    Unsure (None) texts take the fetch's majority language; a short text given to another
    language keeps the majority one when the detector finds it plausible
    (:func:`_fits_language`). All None stays all None.

    Args:
        texts: the model texts, in order.
        detected: ISO 639-1 codes or None (or NaN, read as None), one per text.

    Returns:
        one code (or None) per text.
    """
    detected = [code if isinstance(code, str) else None for code in detected]  # NaN from pandas
    known = [code for code in detected if code is not None]
    if not known:
        return detected
    counts = {code: known.count(code) for code in dict.fromkeys(known)}
    majority = min(counts, key=lambda code: (-counts[code], code))  # pandas mode's tie-break
    return [majority if code is None or (code != majority and _fits_language(text or "", majority))
            else code for text, code in zip(texts, detected, strict=True)]
