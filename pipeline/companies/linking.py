"""Entity linking: which companies of the universe an article is about.

:class:`Linker` finds companies by, strongest first (:data:`~pipeline.companies.model.METHODS`):

* ``ticker_column``: an archive's explicit tickers (kept even when not in the universe);
* ``instrument_code``: Reuters codes ``<ACME.O>``, ``<VOD.L>``, ``<BRKb.N>``;
* ``exchange_prefix``: ``NYSE: IBM``, ``(NASDAQ:ACME)``, ``LSE: VOD``, ``XETRA: SAP``;
* ``cashtag``: ``$ACME``, ``$BRK.B``;
* ``name``, ``alias``, ``short_name``: the universe's surfaces, matched with one Aho-Corasick
  automaton (pyahocorasick) over title and summary: case-sensitive, whole words only
  ("AppleCare", "Pineapple" do not match Apple), leftmost-longest when matches overlap ("Bank of
  America" beats "America"), followed by an optional possessive ("Globex's", "Goldman Sachs'")
  or legal suffix ("Apple Inc." counts as the full ``name``);
* ``category``: the feed entry's category terms (a cashtag, prefixed or bare known symbol, or a
  name/alias written as the whole term; bare acronyms such as AI or CEO are ignored);
* ``feed_ticker``: the ticker of a per-company feed, unless the item names other companies
  and not that one.

**Ordinary-word names** (Apple, Target, Shell, Next...; rule in
:mod:`pipeline.companies.names`) link only with supporting context: the legal suffix written
out ("Apple Inc."); a business word directly after the mention, possessive included, or after
at most two lead-in words ("Target raises outlook", "Shell's profit", "Apple to cut jobs",
"Progressive net premiums"; lists in :data:`~pipeline.companies.context.BUSINESS_WORDS` and :data:`~pipeline.companies.context.LEAD_INS`), or, unless
the text is title case, after the capitalised rest of a longer name ("Honda Motor Co. posts"):
"Apple cider makers report" is no context; a cue just before it ("shares of Apple", "job cuts at
Ford"); or the company listed next to another confirmed company ("Honda and Nissan", "General
Motors and Ford"); or the same company found another way in the same item (its ticker, code,
cashtag, another name, a category, the feed's ticker, the ticker column).

**Names of markets** (a surface that is also the name of an exchange, an exchange operator, an
index or an index family: "Nasdaq", "MSCI", "London Stock Exchange";
:func:`~pipeline.companies.exchanges.is_market_name`) need the same context, where the moves
of a market and what is listed on it are none (:data:`~pipeline.companies.context.MARKET_WORDS`: "Nasdaq falls", "Nasdaq
stocks", "Nasdaq-listed"), and are never linked for being listed next to a company ("S&P 500,
Nasdaq hit record"; "Nvidia, Nasdaq slide"). "Nasdaq shares", "shares of Nasdaq", "Nasdaq
Inc." and ``$NDAQ`` link.

**Words of other names.** A short form or a one-word alias (not the bare symbol) does not count
when it is a word of a different proper name (:meth:`Linker._named_apart`): directly after a
proper-noun-like word ("Senators grill Jerome Powell", "QRT Partners", "bought by Juniper
Partners") or a person's title ("Mr Powell", "Chair Powell"), or, for a short form, directly
before one that does not continue its company's own name ("Titan Cement"; but "Estée Lauder
Cos." is Estée Lauder). A capitalised dictionary word is proper-noun-like only mid-sentence in
text that is not title case, so "Analysts Upgrade Goldman" and "Goldman Beats Estimates" still
link; common capitalised words (demonyms, given names: "Chinese Nvidia rival") never are
(:func:`pipeline.companies.context.proper_noun_like`).

**Relevance** (0..1): named in the headline 1.0 (codes, prefixes and cashtags too); ticker
column 0.9; only in the summary 0.6; only a category 0.4; only the feed's ticker 0.3. A company
found several ways keeps the highest relevance and the strongest method; the mention comes from
the headline when it is named there.

**Ambiguous bare symbols** (``$SAN``: Banco Santander's US listing, Sanofi on Euronext Paris):
an exchange prefix or RIC suffix picks the venue; otherwise the company listed under exactly
that US symbol (primary ticker, then a US listing/ADR) wins; otherwise the one also named in
the text; otherwise no link (never a guess).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import ahocorasick

from pipeline.companies.context import STOP_TERMS, business_next, is_title_case, proper_noun_like
from pipeline.companies.exchanges import BY_RIC, BY_TEXT, EURONEXT, Exchange, is_market_name, qualify
from pipeline.companies.model import METHODS, Company, Link, Universe
from pipeline.companies.names import LEGAL_TAIL, PERSON_TITLES, needs_context, strip_legal
from pipeline.companies.userfile import SYMBOL

RELEVANCE = {"title": 1.0, "ticker_column": 0.9, "summary": 0.6, "category": 0.4,
             "feed_ticker": 0.3}
_RANK = {m: i for i, m in enumerate(METHODS)}

#: Words that, right before "of/in/at/for/by" + an ordinary-word name, show it is a company.
_BEFORE = re.compile(r"(?i)\b(?:shares|stock|stake|investors|shareholders|ceo|chief executive|"
                     r"boss|analysts?|cuts|layoffs|rival|owner|maker|unit)\s+(?:of|in|at|for|by)\s+$")
_LISTED = re.compile(r"\s*(?:,|and|&|or|vs\.?|versus|,\s*and)\s*")
#: The word directly after a mention (spaces only between).
_NEXT = re.compile(r"[ \t]+([A-Za-z][A-Za-z'&.-]*)")
#: Capitalised words that continue a name before its business word ("Honda Motor Co. posts").
_NAME_GOES_ON = re.compile(r"(?:[ \t]+[A-Z][A-Za-z&'-]*\.?){1,2}")
#: A capitalised word directly before a mention (spaces only between), and what precedes it.
_PREV = re.compile(r"(^|.*?[^A-Za-z0-9&.'-])([A-Z][A-Za-z0-9&.'-]*)[ \t]+$", re.S)
#: Curly quotes and odd spaces → ASCII, same length, so offsets map back to the original text.
_NORMALISE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " ", "\u2009": " ",
                            "\u202f": " "})
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,6}(?:\.[A-Z]{1,2})?)\b")
_PREFIX = re.compile(r"(?<![\w])(" + "|".join(sorted(map(re.escape, [*BY_TEXT, "Euronext"]),
                                                     key=len, reverse=True))
                     + r")\s*:\s*([A-Z0-9]{1,6}(?:\.[A-Z])?)\b")
_RIC = re.compile(r"<([A-Z0-9]{1,6})(?:_?([a-z]))?\.([A-Z]{1,2})>")


#: Phrases that contain a company's name but name something else: market indices, central banks
#: and regulators, and a few common expressions. Matched like company names, they win the
#: leftmost-longest contest ("Nasdaq Composite" over Nasdaq Inc., "Swiss National Bank" over
#: "National Bank") and link nothing.
NOT_COMPANIES = (
    "Nasdaq Composite", "Nasdaq 100", "Nasdaq-100", "Dow Jones", "MSCI World", "MSCI ACWI",
    "MSCI Emerging Markets", "MSCI EAFE", "Russell 2000", "Russell 1000", "Swiss National Bank",
    "National Bank of Belgium", "Prudential Regulation Authority", "Amazon rainforest",
    "Amazon River", "Amazon basin", "Tesla coil", "Box office",
)


class Linker:
    """Finds the companies of a :class:`~pipeline.companies.model.Universe` in article text.

    Args:
        universe: the companies to link to; its unambiguous ``surfaces`` are compiled into one
            Aho-Corasick automaton (about 0.1 s for the default universe).
    """

    def __init__(self, universe: Universe):
        self.universe = universe
        self._automaton = ahocorasick.Automaton()
        #: ticker → the words that follow a short form in the company's own names ("Lauder").
        self._goes_on: dict[str, frozenset[str]] = {}
        for text, surface in universe.surfaces.items():
            if surface.kind == "short_name":
                c = universe.companies[surface.ticker]
                self._goes_on[surface.ticker] = frozenset(
                    s.split()[1] for s in (strip_legal(c.name), *c.aliases)
                    if len(s.split()) > 1 and s.split()[0] == text)
            # A derived alias needs three letters: "Q2" (Q2 Holdings) is mostly a quarter.
            if len(text) >= 2 and (surface.kind == "name" or sum(c.isalpha() for c in text) >= 3):
                market = is_market_name(text)
                # Short forms and one-word aliases (not the symbol) can be a word of another
                # proper name: "Jerome Powell", "Juniper Partners" (see _named_apart).
                loose = surface.kind == "short_name" or (
                    surface.kind == "alias" and " " not in text and surface.origin != "ticker")
                self._automaton.add_word(text, (len(text), surface.ticker, surface.kind,
                                                market or needs_context(text, surface.kind),
                                                market, loose))
        for text in NOT_COMPANIES:
            if text not in universe.surfaces:
                self._automaton.add_word(text, (len(text), None, "block", False, False, False))
        self._automaton.make_automaton()
        self._empty = len(self._automaton) == 0

    def link(self, title: str, summary: str = "", categories: Iterable[str] = (),
             feed_ticker: str | None = None, tickers: Iterable[str] = ()) -> list[Link]:
        """The companies one article is about, one :class:`Link` per ticker.

        Args:
            title: the headline.
            summary: the summary or first paragraph (plain text).
            categories: the feed entry's category terms.
            feed_ticker: the ticker of a per-company feed, or None.
            tickers: an archive's ticker column; upper-cased, kept when symbol-shaped even if
                not in the universe (method ``ticker_column``).

        Returns:
            links sorted by relevance (highest first), then method strength, then ticker.
        """
        hits: dict[str, list[tuple[str, float, str | None]]] = {}
        pending: list[tuple[str, str, float, str]] = []  # ordinary words awaiting support
        for where, text in (("title", title or ""), ("summary", summary or "")):
            if text:
                self._scan(text, RELEVANCE[where], hits, pending)
        for raw in tickers or ():
            symbol = str(raw or "").strip().upper()
            if SYMBOL.match(symbol):
                company = self._resolve(symbol, None, hits)
                hits.setdefault(company.ticker if company else symbol, []).append(
                    ("ticker_column", RELEVANCE["ticker_column"], None))
        for term in categories or ():
            for ticker in self._category(str(term or "").strip(), hits):
                hits.setdefault(ticker, []).append(("category", RELEVANCE["category"], None))
        if feed_ticker:
            company = self._resolve(feed_ticker.strip().upper(), None, hits)
            ticker = company.ticker if company else feed_ticker.strip().upper()
            if not hits or ticker in hits or any(p[1] == ticker for p in pending):
                hits.setdefault(ticker, []).append(("feed_ticker", RELEVANCE["feed_ticker"], None))
        for method, ticker, relevance, mention in pending:
            if ticker in hits:  # supported by another way of finding the same company
                hits[ticker].append((method, relevance, mention))
        links = []
        for ticker, found in hits.items():
            method = min((m for m, _, _ in found), key=_RANK.__getitem__)
            relevance = max(r for _, r, _ in found)
            texts = [(-r, _RANK[m], t) for m, r, t in found if t]
            links.append(Link(ticker, method, relevance, min(texts)[2] if texts else None))
        return sorted(links, key=lambda k: (-k.relevance, _RANK[k.method], k.ticker))

    def tickers(self, title: str, summary: str = "", **kwargs) -> list[str]:
        """Sorted tickers of :meth:`link` (same arguments), for a ``tickers`` column."""
        return sorted(k.ticker for k in self.link(title, summary, **kwargs))

    def _scan(self, original: str, relevance: float, hits: dict, pending: list) -> None:
        text = original.translate(_NORMALISE)
        if "$" in text:
            for m in _CASHTAG.finditer(text):
                self._add(hits, self._symbol(m.group(1), None, hits, text), "cashtag",
                          relevance, original[m.start():m.end()])
        taken: list[tuple[int, int]] = []  # symbol spans: "Nasdaq: TSLA" is no mention of Nasdaq Inc.
        if ":" in text:
            for m in _PREFIX.finditer(text):
                taken.append((m.start(), m.end()))
                venue = BY_TEXT.get(m.group(1))
                self._add(hits, self._symbol(m.group(2), venue, hits, text, m.group(1)),
                          "exchange_prefix", relevance, original[m.start():m.end()])
        if "<" in text:
            for m in _RIC.finditer(text):
                bare = m.group(1) + (f".{m.group(2).upper()}" if m.group(2) else "")
                self._add(hits, self._symbol(bare, BY_RIC.get(m.group(3)), hits, text),
                          "instrument_code", relevance, original[m.start():m.end()])
        if self._empty:
            return
        found = []
        for end, (length, ticker, kind, ordinary, market, loose) in self._automaton.iter(text):
            start, stop = end - length + 1, end + 1
            if (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_$@")) or (
                    stop < len(text) and text[stop].isalnum()):
                continue
            found.append((start, stop, ticker, kind, ordinary, market, loose))
        found.sort(key=lambda f: (f[0], f[0] - f[1]))
        last, confirmed, waiting, title_case = -1, [], [], None
        for start, stop, ticker, kind, ordinary, market, loose in found:
            if start < last or any(a <= start < b for a, b in taken):
                continue  # overlaps a longer or earlier match: leftmost-longest wins
            last = stop
            if ticker is None:  # NOT_COMPANIES: an index or an institution, not the company
                continue
            tail = LEGAL_TAIL.match(text, stop)
            if tail:
                stop, kind, ordinary, market, loose = tail.end(), "name", False, False, False
            if loose:
                if title_case is None:
                    title_case = is_title_case(text)
                if self._named_apart(text, start, stop, title_case,
                                     self._goes_on.get(ticker) if kind == "short_name" else None):
                    continue  # a word of another proper name: "Jerome Powell", "QRT Partners"
            method = "short_name" if kind == "short_name" else kind
            mention = original[start:stop]
            if ordinary:
                if title_case is None:
                    title_case = is_title_case(text)
            if ordinary and not self._context(text, start, stop, market, title_case):
                if not market:  # "Apple, Nasdaq slide": a market listed with a company is a market
                    waiting.append((start, stop, (method, ticker, relevance, mention)))
                else:
                    pending.append((method, ticker, relevance, mention))
                continue
            confirmed.append((start, stop))
            hits.setdefault(ticker, []).append((method, relevance, mention))
        for start, stop, item in waiting:
            # Listed with a confirmed company ("Honda and Nissan", "General Motors and Ford").
            if any(_LISTED.fullmatch(text[b:start]) or _LISTED.fullmatch(text[stop:a])
                   for a, b in confirmed):
                method, ticker, relevance, mention = item
                hits.setdefault(ticker, []).append((method, relevance, mention))
            else:
                pending.append(item)

    @staticmethod
    def _context(text: str, start: int, stop: int, market: bool = False,
                 title_case: bool = False) -> bool:
        """A business word directly after the mention ("Target raises", "Shell's profit"),
        after up to two :data:`~pipeline.companies.context.LEAD_INS` ("Apple to cut", "Progressive net premiums") or, unless
        the text is title case, after the capitalised rest of a longer name ("Honda Motor Co.
        posts"); or a cue right before it ("shares of Apple"). "Apple cider makers report" has none.
        After a market's name (``market``) the moves of a market (:data:`~pipeline.companies.context.MARKET_WORDS`) and a
        hyphen ("Nasdaq-listed") are no evidence."""
        after = text[stop:stop + 80]
        if market and after.startswith("-"):
            return False
        if after.startswith("'s") or after.startswith("'"):
            after = " " + (after[2:] if after.startswith("'s") else after[1:]).lstrip()
        if business_next(after, market):
            return True
        if not title_case and not market:
            m = _NAME_GOES_ON.match(after)
            tail = LEGAL_TAIL.match(after, m.end()) if m else None
            if m and business_next(after[(tail or m).end():], market):
                return True
        return bool(_BEFORE.search(text[max(0, start - 40):start]))

    @staticmethod
    def _named_apart(text: str, start: int, stop: int, title_case: bool,
                     goes_on: frozenset[str] | None = None) -> bool:
        """Whether a short form or one-word alias at ``text[start:stop]`` is a word of another
        proper name: directly after a proper-noun-like word ("Jerome Powell", "QRT Partners",
        "Juniper Partners") or a person's title ("Chair Powell"); a short form (``goes_on``:
        the words that follow it in its company's own names, not None) also directly before
        one ("Titan Cement", but "Estée Lauder Cos." is Estée Lauder). See
        :func:`~pipeline.companies.context.proper_noun_like`."""
        m = _PREV.match(text, max(0, start - 40), start)
        if m and not m.group(2).endswith("'s") and not m.group(2).endswith("'"):
            word = m.group(2)
            if word.rstrip(".").lower() in PERSON_TITLES:
                return True
            initial = not m.group(1).strip() or m.group(1).rstrip()[-1:] in ".!?:;|\"\u201c("
            if proper_noun_like(word, initial, title_case):
                return True
        if goes_on is not None:
            n = _NEXT.match(text, stop, stop + 40)
            if n and n.group(1)[0].isupper():
                word = n.group(1)
                word = word[:-2] if word.endswith("'s") else word.rstrip("'")
                return word not in goes_on and proper_noun_like(word, False, title_case)
        return False

    @staticmethod
    def _add(hits: dict, company: Company | str | None, method: str, relevance: float, mention: str):
        if company is not None:
            ticker = company if isinstance(company, str) else company.ticker
            hits.setdefault(ticker, []).append((method, relevance, mention))

    def _symbol(self, bare: str, venue: Exchange | None, hits: dict, text: str = "",
                prefix: str = "") -> Company | str | None:
        """The company an explicit symbol (cashtag, exchange prefix, instrument code) names;
        a symbol no company of the universe has is kept as written, Yahoo-qualified by its
        venue ("LSE: XYZ" → ``XYZ.L``): the text declares a listed company the universe lacks
        (a small cap, a new listing). Ambiguous known symbols still give None."""
        company = self._resolve(bare, venue, hits, text, prefix)
        if company is not None or self.universe.by_symbol(bare):
            return company
        if bare in STOP_TERMS:
            return None
        return qualify(bare, venue) if venue is not None and venue.yahoo else bare

    def _resolve(self, bare: str, venue: Exchange | None, hits: dict, text: str = "",
                 prefix: str = "") -> Company | None:
        """The company a symbol names, by the rule in the module docstring; None if unknown
        or ambiguous."""
        u = self.universe
        if venue is not None and venue.yahoo:
            exact = u.get(qualify(bare, venue))
            if exact is not None:
                return exact
        candidates = u.by_symbol(bare)
        if prefix == "Euronext":
            candidates = tuple(c for c in candidates if c.exchange in EURONEXT)
        elif venue is not None and venue.yahoo:
            candidates = tuple(c for c in candidates
                               if c.exchange == venue.code or c.country == venue.country)
        elif venue is not None:  # a US venue: the bare US ticker or a US listing (ADR)
            candidates = tuple(c for c in candidates if c.ticker == bare or bare in c.listings)
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        us = [c for c in candidates if c.ticker == bare] or [
            c for c in candidates if bare in c.listings]
        if len(us) == 1:
            return us[0]
        named = [c for c in candidates if c.ticker in hits or (text and c.name in text)]
        return named[0] if len(named) == 1 else None

    def _category(self, term: str, hits: dict) -> list[str]:
        if not term:
            return []
        found = []
        for m in _CASHTAG.finditer(term):
            found.append(self._symbol(m.group(1), None, hits))
        for m in _PREFIX.finditer(term):
            found.append(self._symbol(m.group(2), BY_TEXT.get(m.group(1)), hits, "", m.group(1)))
        if not found and SYMBOL.match(term) and len(term) >= 2 and term not in STOP_TERMS:
            found.append(self.universe.get(term) or self._resolve(term, None, hits))
        surface = self.universe.surfaces.get(term)
        if surface is not None:
            found.append(self.universe.companies[surface.ticker])
        return [c if isinstance(c, str) else c.ticker for c in found if c is not None]
