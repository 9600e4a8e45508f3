"""Company names: legal-suffix stripping, derived aliases and the ordinary-word rule.

Aliases are derived from a company's name, each with its origin (shown by
``tonewatch companies show``):

* ``legal-suffix``: the name without trailing legal-form and group words (:data:`LEGAL_SUFFIXES`:
  Inc., Corp., Corporation, Company, Co., plc, AG, SE, SA, S.A., N.V., Ltd, Limited, Holdings,
  Group, & Co. KGaA, Oyj, ASA, S.p.A., ...), a leading "The" and a trailing parenthesis
  ("Hornbach (retailer)" → "Hornbach");
* ``ascii``: the same without accents ("Nestlé" → "Nestle"), as wire copy often writes it;
* ``short-form``: the first word of a name of two or more words ("Goldman" for Goldman Sachs),
  only when that word starts no other company's name or alias in the universe, is at least
  four letters, and is not a dictionary word at all (any lower-case ``web2`` entry: "Intuitive",
  "Warrior") nor a common given name (Zipf frequency >= 4.0: "Morgan");
  decided by the universe builder, which sees every name.

**Ordinary words.** A one-word name or alias is an *ordinary word* when its lower-case form is
a lower-case entry of Webster's Second International word list (``web2``, shipped by the
``english-words`` package, 1934: no modern brand names) *and* its Zipf frequency in English
(``wordfreq``: log10 of occurrences per billion words) is at least :data:`ORDINARY_ZIPF`
(3.6, about four per million words), so rare dictionary words ("corning", "chevron") are not
treated as ordinary. Apple, Target, Gap, Shell, Visa, Block, Meta, Next, Sage, Unity, Ball,
Discover, Progressive, General are ordinary; Amazon, Nvidia, Tesla, Boeing, Chevron are not.
An ordinary-word mention needs supporting context before it links (see
:mod:`pipeline.companies.linking`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

#: Zipf frequency at or above which a dictionary word counts as ordinary (see module docstring).
ORDINARY_ZIPF = 3.6
#: Zipf frequency at or above which a first word is too common to stand for a company alone.
SHORT_FORM_MAX_ZIPF = 4.0

#: Trailing legal-form and group words, longest alternatives first. Applied repeatedly.
LEGAL_SUFFIXES = (
    r"SE\s*&\s*Co\.?\s*KGaA", r"AG\s*&\s*Co\.?\s*KGaA", r"&\s*Co\.?\s*KGaA", r"KGaA",
    r"S\.A\.B\.\s*de\s*C\.V\.", r"S\.p\.A\.?", r"SpA", r"S\.A\.?", r"SA", r"N\.V\.?", r"NV",
    r"Incorporated", r"Inc\.?", r"Corporation", r"Corp\.?", r"Company", r"Co\.?", r"plc", r"PLC",
    r"p\.l\.c\.", r"AG", r"SE", r"Ltd\.?", r"Limited", r"Holdings?", r"Group", r"GmbH",
    r"Oyj", r"Oy", r"ASA", r"AB\s*\(publ\)", r"AB", r"A/S", r"LLC", r"L\.P\.", r"LP",
    r"& Co\.?", r"and Company",
)
_SUFFIX = re.compile(r"(?:,?\s+|,)(?:" + "|".join(LEGAL_SUFFIXES) + r")\s*$")
_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
#: A legal suffix right after a matched name in text ("Apple Inc.", "Siemens AG"): the linker
#: uses it to widen the mention and to treat the name as written in full.
LEGAL_TAIL = re.compile(r"(?:,?\s+)(?:" + "|".join(LEGAL_SUFFIXES) + r")(?![\w])")


def strip_legal(name: str) -> str:
    """The name without leading "The", trailing parentheses and legal-form words.

    ``"Block, Inc."`` → ``"Block"``; ``"KSB SE & Co. KGaA"`` → ``"KSB"``; ``"The Home Depot"``
    → ``"Home Depot"``. Returns the input (stripped) when nothing would be left.
    """
    base = " ".join(name.split())
    base = _PAREN.sub("", base)
    while True:
        shorter = _SUFFIX.sub("", base).rstrip(" ,")
        if shorter == base or len(shorter) < 2:
            break
        base = shorter
    if base.startswith("The ") and len(base) > 6:
        base = base[4:]
    return base


def ascii_fold(text: str) -> str:
    """``text`` without combining accents (NFKD, marks dropped): "Nestlé" → "Nestle"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ß", "ss")


def derived_aliases(name: str) -> list[tuple[str, str]]:
    """Aliases derivable from the name alone, as ``(alias, origin)`` pairs.

    Origins: ``legal-suffix`` and ``ascii`` (see module docstring); short forms need the whole
    universe and come from :func:`short_form_candidate`. The name itself is never included.
    """
    found: list[tuple[str, str]] = []
    base = strip_legal(name)
    if base != name and len(base) >= 2:
        found.append((base, "legal-suffix"))
    for text in (base,) if "(" in name or base == name else (name, base):
        folded = ascii_fold(text)
        if folded != text and folded not in (a for a, _ in found):
            found.append((folded, "ascii"))
    return found


def short_form_candidate(name: str) -> str | None:
    """The first word of the legal-stripped name when it could stand for the company alone.

    Only a candidate: the caller keeps it when no other company's name or alias starts with
    the same word. Rejected here: names of one word, words under four letters, words that are
    not capitalised letters, any lower-case dictionary word, and words with Zipf frequency
    >= 4.0 (given names: "Morgan").
    """
    words = strip_legal(name).split()
    if len(words) < 2:
        return None
    first = words[0]
    if len(first) < 4 or not first[0].isupper() or not first.replace("-", "").isalpha():
        return None
    if first.lower() in _web2_lower() or _zipf(first.lower()) >= SHORT_FORM_MAX_ZIPF:
        return None
    return first


def is_ordinary_word(text: str) -> bool:
    """True when ``text`` is one word that is also an ordinary English word (see module docstring).

    Multi-word names ("General Motors", "Bank of America") are never ordinary.
    """
    word = text.strip()
    if not word.isalpha():
        return False
    low = word.lower()
    if low not in ORDINARY_MEMO:
        ORDINARY_MEMO[low] = low in _web2_lower() and _zipf(low) >= ORDINARY_ZIPF
    return ORDINARY_MEMO[low]


#: Lower-case word → ordinary? Filled on demand, and pre-filled from the universe's disk cache
#: so that a cached start never loads the word lists (about 0.4 s).
ORDINARY_MEMO: dict[str, bool] = {}


@functools.lru_cache(maxsize=1)
def _web2_lower() -> frozenset[str]:
    # Only entries spelled lower case in the list: "apple" yes, "Amazon" (a proper noun) no.
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"]) if w.islower())


def _zipf(word: str) -> float:
    # Zipf = log10(frequency per billion words); the same number as wordfreq.zipf_frequency
    # for a single lower-case word, read straight from its table (no tokenizer per call).
    freq = _frequencies().get(word, 0.0)
    return math.log10(freq * 1e9) if freq > 0 else 0.0


@functools.lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en", wordlist="large")
