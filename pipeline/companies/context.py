"""Context words and tests for linking: what, next to a company's name, shows that the text
means the company (a business word after an ordinary-word name) or means something else (a
capitalised neighbour that belongs to another proper name). Used by
:class:`pipeline.companies.linking.Linker`; the rules are described there.
"""

from __future__ import annotations

import re

from pipeline.companies.names import ACRONYMS, is_dictionary_word, zipf

#: Words that, within three words after an ordinary-word name, show it is a company.
BUSINESS_WORDS = frozenset("""
report shares share stock stocks profit profits revenue revenues sales earnings results quarter quarterly
dividend dividends buyback guidance outlook forecast forecasts ceo cfo chief chairman boss
executives executive board shareholders beats beat misses reports reported
posts raises raise cuts cut lifts lowers slashes trims boosts hikes falls fell rises rose jumps
slides slumps drops gains tumbles soars surges plunges sinks climbs rallies sheds stake bid deal
merger acquisition acquires acquire buys buy sells sell sold takeover layoffs jobs workers staff
employees plant plants factory factories stores ipo bonds debt rating downgrade downgraded upgrade
upgraded lawsuit sues sued fined recall recalls settles settlement unit division subsidiary
valuation margin margins probe antitrust launches unveils announces agrees plans expects warns
said says files filed delays halts suspends expands invests hires appoints names shuts closes
opens spins lists delists inc corp plc ag signs sign spend spends invest lay premiums
customers subscribers users orders deliveries shipments bookings supplier suppliers
pulls withdraws scraps reinstates reaffirms reiterates narrows widens tops
""".split())
#: Words that may stand between an ordinary-word name and its business word (two at most):
#: "Apple to cut", "Progressive net premiums", "Shell's first-quarter profit", "Sharp returns
#: to profit".
LEAD_INS = frozenset("""to net operating annual quarterly full-year half-year first-half
second-half first-quarter second-quarter third-quarter fourth-quarter core adjusted underlying
pretax pre-tax returns swings""".split())
#: Business words that are no evidence after the name of a market: what indices and exchanges
#: do every day ("Nasdaq falls", "Nasdaq closes higher", "Nasdaq halts trading in...") and what
#: is listed on them ("Nasdaq stocks", "Nasdaq IPO").
MARKET_WORDS = frozenset("""
falls fell rises rose jumps slides slumps drops gains tumbles soars surges plunges sinks climbs
rallies sheds lifts beats misses closes opens halts suspends lists delists stock stocks ipo
""".split())
#: Zipf frequency from which a capitalised neighbour is a common word (a demonym, a month, a
#: common given name: "Chinese", "March", "John"), not part of a rarer proper name.
COMMON_NEIGHBOUR_ZIPF = 4.5
#: Words that do not make a headline title case by being lower case ("Deal of the Year").
_SMALL = frozenset("a an the of in on at to for and or but nor by with as vs via from into onto "
                   "per up off over out is are be".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'&.-]*")
#: Up to four words directly after a mention, spaces only between.
_NEXT_WORDS = re.compile(r"(?:[ \t]+[A-Za-z][A-Za-z'&.-]*){1,4}")
#: Upper-case category terms that are common acronyms, never bare tickers.
STOP_TERMS = frozenset("AI CEO CFO IPO ESG EU US UK USA GDP ETF FX IT M&A PE VC EV OPEC FED ECB "
                       "SEC FTC DOJ IMF CPI PMI API TV PR HR".split())


def business_next(after: str, market: bool) -> bool:
    """Whether ``after`` starts (spaces only) with a business word, after at most two lead-ins."""
    m = _NEXT_WORDS.match(after)
    if not m:
        return False
    words = [w.lower().strip(".'") for w in m.group().split()]
    for i, word in enumerate(words[:3]):
        if word in BUSINESS_WORDS and not (market and word in MARKET_WORDS):
            return True
        if word not in LEAD_INS or i == 2:
            return False
    return False


def is_title_case(text: str) -> bool:
    """Whether ``text`` capitalises every word but the small ones ("Goldman Sachs Beats
    Estimates"): then a capital letter says nothing about a word being a name."""
    words = [w for w in _WORD.findall(text) if w.lower() not in _SMALL]
    return len(words) >= 3 and not any(w.islower() for w in words)


def proper_noun_like(word: str, initial: bool, title_case: bool) -> bool:
    """Whether a capitalised ``word`` next to a company's short form or alias looks like part of
    another proper name rather than an ordinary word.

    Yes for an acronym that is not a common one ("QRT", "KKD"), and for a word no dictionary
    has ("Jerome", "Lakeview") unless it is common in English (Zipf >= 4.5: demonyms, days,
    common given names: "Chinese Tesla rival"). A dictionary word ("Juniper", "River") counts
    only capitalised mid-sentence in a text that is not title case ("bought by Juniper
    Partners", "Powell River mill"; not "Analysts Upgrade Powell"). Business words ("Shares",
    "CEO") and common acronyms ("US", "EU") never.
    """
    bare = word.rstrip(".")
    if not bare.replace("&", "").replace("-", "").isalpha() or not bare[0].isupper():
        return False
    low = bare.lower()
    if low in BUSINESS_WORDS or bare.upper() in ACRONYMS or bare.upper() in STOP_TERMS:
        return False
    if bare.isupper() and len(bare) >= 2:
        return True
    if is_dictionary_word(low):
        return not title_case and not initial
    return zipf(low) < COMMON_NEIGHBOUR_ZIPF
