"""Company names: legal-suffix stripping, derived aliases and the ordinary-word rule.

Aliases are derived from a company's name, each with its origin (shown by
``tonewatch companies show``):

* ``legal-suffix``: the name without trailing legal-form and group words (:data:`LEGAL_SUFFIXES`:
  Inc., Corp., Corporation, Company, Co., plc, AG, SE, SA, S.A., N.V., Ltd, Limited, Holdings,
  Group, & Co. KGaA, Oyj, ASA, S.p.A., ...), a leading "The" and a trailing parenthesis
  ("Hornbach (retailer)" → "Hornbach");
* ``ascii``: the same without accents ("Nestlé" → "Nestle"), as wire copy often writes it;
* ``case``: the name in the case the press often uses (:func:`case_variant`: "ABN Amro",
  "adidas");
* ``ticker``: the bare listing symbol written as a name ("KKR", "CVS"; :func:`ticker_alias`);
* ``short-form``: the first word of a name of two or more words ("Goldman" for Goldman Sachs,
  "Delta" for Delta Air Lines), only when that word starts no other company's name or alias in
  the universe and is at least four letters; a word that is not in the dictionary must not be
  common (Zipf frequency < 4.0: not a given name such as "Lincoln"), a dictionary word must
  not be very common (Zipf < 4.3: "Delta", "Southwest", "Carnival" yes; "Morgan", "Royal",
  "United" no) and always needs context (below); decided by the universe builder, which sees
  every name.

**Ordinary words.** A one-word name or alias is an *ordinary word* when its lower-case form is
a lower-case entry of Webster's Second International word list (``web2``, shipped by the
``english-words`` package, 1934: no modern brand names) *and* its Zipf frequency in English
(``wordfreq``: log10 of occurrences per billion words) is at least :data:`ORDINARY_ZIPF`
(3.6, about four per million words), so rare dictionary words ("corning", "chevron") are not
treated as ordinary. Apple, Target, Gap, Shell, Visa, Block, Meta, Next, Sage, Unity, Ball,
Discover, Progressive, General are ordinary; Amazon, Nvidia, Tesla, Boeing, Chevron are not.
An ordinary-word mention needs supporting context before it links (see
:mod:`pipeline.companies.linking`).

**Needs context** (:func:`needs_context`): besides ordinary words, a derived alias or short
form that is a place name ("Chiba" for Chiba Bank, "Zurich" for Zurich Insurance: country and
subdivision names from ISO 3166, via the ``pycountry`` package) or a short form that is any
dictionary word ("Delta") links only with context too: "Typhoon hits Chiba" is not about the
bank. A company's own one-word name is never held back for being a place ("Toyota").

**Junk aliases** (:func:`junk_alias`): an alias without a letter or digit ("$", "&") or that is
only a legal-form word or an article ("Inc", "Ltd.", "Group", "The") names no company; the
universe ignores it with a warning.
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
#: The same for a first word that is a dictionary word (such a short form needs context).
SHORT_FORM_MAX_ZIPF_DICTIONARY = 4.3

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
    variant = case_variant(base)
    if variant and variant not in (a for a, _ in found):
        found.append((variant, "case"))
    return found


def case_variant(name: str) -> str | None:
    """How the press often writes a name in another case, or None.

    All-capital words of four letters or more become title case ("ABN AMRO" → "ABN Amro");
    a one-word brand that is no dictionary word and is rare in English (Zipf < 3) gets its
    first letter lower-cased ("Adidas" → "adidas", "EasyJet" → "easyJet"), as brands that
    style themselves so are written.
    """
    words = name.split()
    if len(words) > 1:
        changed = [w.title() if len(w) >= 4 and w.isalpha() and w.isupper() else w for w in words]
        return " ".join(changed) if changed != words else None
    word = words[0] if words else ""
    if (len(word) >= 5 and word.isalpha() and word[0].isupper() and word[1].islower()
            and word.lower() not in _web2_lower() and _zipf(word.lower()) < 3.0):
        return word[0].lower() + word[1:]
    return None


#: Common capitalised abbreviations that are not to be read as a company's ticker in text.
ACRONYMS = frozenset("AI CEO CFO COO CTO IPO ESG EU US UK USA GDP ETF FX IT PE VC EV OPEC FED ECB "
                     "SEC FTC DOJ IMF CPI PMI API TV PR HR NATO OECD WHO WTO FDA EPA FAA NHS BBC "
                     "CNN NFL NBA GMT EST UTC AGM ADR ETN REIT LLC INC PLC LTD CORP".split())


def ticker_alias(ticker: str) -> str | None:
    """The bare listing symbol as a name in text, or None: "KKR", "CVS", "BBVA" (from
    BBVA.MC) are how the news names these companies. Only letters, three or more, not a
    dictionary word ("ALL", "CAT") and not a common abbreviation (:data:`ACRONYMS`)."""
    bare = ticker.split(".")[0]
    if (len(bare) >= 3 and bare.isalpha() and bare.isupper() and bare not in ACRONYMS
            and bare.lower() not in _web2_lower()):
        return bare
    return None


def short_form_candidate(name: str) -> str | None:
    """The first word of the legal-stripped name when it could stand for the company alone.

    Only a candidate: the caller keeps it when no other company's name or alias starts with
    the same word. Rejected here: names of one word, words under four letters, words that are
    not capitalised letters, and common words (Zipf frequency >= 4.0, or >= 4.3 for a
    dictionary word; see the module docstring).
    """
    words = strip_legal(name).split()
    if len(words) < 2:
        return None
    first = words[0]
    if len(first) < 4 or not first[0].isupper() or not first.replace("-", "").isalpha():
        return None
    limit = (SHORT_FORM_MAX_ZIPF_DICTIONARY if first.lower() in _web2_lower()
             else SHORT_FORM_MAX_ZIPF)
    if _zipf(first.lower()) >= limit:
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

#: ``"kind:text"`` → needs context? (:func:`needs_context`), cached like :data:`ORDINARY_MEMO`.
CONTEXT_MEMO: dict[str, bool] = {}


def needs_context(text: str, kind: str) -> bool:
    """Whether a surface links only with supporting context (see the module docstring).

    Args:
        text: the surface as matched ("Apple", "Chiba", "Delta").
        kind: ``name`` (the company's own name), ``alias`` or ``short_name``.
    """
    key = f"{kind}:{text}"
    if key not in CONTEXT_MEMO:
        held = is_ordinary_word(text)
        if not held and kind != "name":
            held = is_place_name(text) or (kind == "short_name" and text.lower() in _web2_lower())
        CONTEXT_MEMO[key] = held
    return CONTEXT_MEMO[key]


def is_dictionary_word(word: str) -> bool:
    """Whether ``word`` (any case) is a lower-case entry of Webster's word list, or the plural of
    one ("Partners", "Ceramics", "Industries"), which the 1934 list does not spell out."""
    low = word.lower()
    words = _web2_lower()
    if low in words:
        return True
    if low.endswith("ies") and low[:-3] + "y" in words:
        return True
    return (low.endswith("s") and low[:-1] in words) or (low.endswith("es") and low[:-2] in words)


def zipf(word: str) -> float:
    """Zipf frequency of a lower-case English word (0.0 when unknown; see the module docstring)."""
    return _zipf(word)


#: Words written before a person's name: a surname that is also a company's short form is the
#: person's after these ("Chair Powell", "Mr Ford", "President Ford").
PERSON_TITLES = frozenset("""mr mrs ms dr prof sir dame rev sen rep gov president chair chairman
chairwoman governor senator minister secretary judge justice commissioner mayor chancellor
premier""".split())

_LEGAL_WORD = re.compile(r"(?i)(?:" + "|".join(LEGAL_SUFFIXES) + r"|The|A|An|And|Of|&)")


def junk_alias(text: str) -> str | None:
    """Why ``text`` cannot name a company, or None: an alias without any letter or digit ("$",
    "&", "--") or one that is only a legal-form or group word ("Inc", "Ltd.", "AG", "Group") or
    an article or conjunction ("The", "and") would link every text that contains it."""
    text = " ".join(str(text).split())
    if not any(ch.isalnum() for ch in text):
        return "no letter or digit"
    if _LEGAL_WORD.fullmatch(text):
        return "only a legal-form word or an article"
    return None


def is_place_name(text: str) -> bool:
    """Whether ``text`` is a country or a country subdivision (ISO 3166-1/-2 via ``pycountry``),
    with or without accents ("Zürich", "Zurich", "Chiba", "Bayern")."""
    return text.strip() in _places()


@functools.lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    import pycountry

    names: set[str] = set()
    for entry in (*pycountry.countries, *pycountry.subdivisions):
        for name in {entry.name, getattr(entry, "common_name", entry.name)}:
            names.update({name, ascii_fold(name)})
    return frozenset(names)


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
