"""The default company universe, built at load time from the ``pytickersymbols`` package.

**Why pytickersymbols** (MIT, 1.17.10): it bundles the constituents of 20 indices (S&P 500,
S&P 100, S&P 600, NASDAQ 100, Dow Jones, DAX, MDAX, SDAX, TecDAX, FTSE 100, CAC 40,
CAC Mid 60, EURO STOXX 50, IBEX 35, AEX, BEL 20, OMX Stockholm 30, OMX Helsinki 25,
Switzerland 20, NIKKEI 225) as a Python module, so nothing is fetched at run time. Compared:
``financedatabase`` (300,000+ symbols) downloads its CSVs from the network on first use, so it is
unusable offline; ``yfinance`` and ``yahooquery`` are web-API clients. We read only
``pytickersymbols.indices_data.INDICES`` (not its singleton class) and touch no network.

**The data is messy**, so the builder applies these rules (counts in :func:`default_universe`'s
``warnings``):

* one company per distinct name; its index entries are merged (industries united);
* **ticker** = the entry's ``symbol`` (Yahoo form: bare for US venues, a venue suffix elsewhere:
  ``SAN.MC``, ``VOD.L``). A name with two symbols (Alphabet GOOG/GOOGL, Volkswagen
  VOW/VOW3) keeps the one in more index entries; ties go to the company's home venue, then the
  longer symbol (the share-class line: GOOGL, VOW3.DE); the others become ``listings``;
* a symbol claimed by two names goes to the one with no other symbol; if both lack one and
  their venues differ, the non-US company is **qualified Yahoo-style with its home venue's
  suffix** (Aperam's clash with Artisan Partners on APAM → ``APAM.AS``); if they share a venue
  (a renamed company listed twice) the better-documented entry keeps it and the other name
  becomes its alias (origin ``source-name``);
* no ``symbol``: the Wikipedia "traded as" field (``FWB : DEQ``) gives symbol and venue;
  otherwise the entry is dropped;
* **exchange**: from the symbol's Yahoo suffix; for bare symbols from the Google prefix
  (``NASDAQ:``, ``NYSE:``) or the "traded as" field, else ``US``;
* **country**: the entry's country, where US "City, State" values become "United States" and
  "City, Country" the country; missing → the venue's country;
* **sector**: :func:`pipeline.companies.sectors.derive_sector`;
* **aliases**: :func:`pipeline.companies.names.derived_aliases`, plus unambiguous short forms.

Bare symbols shared by several companies (``SAN``: Banco Santander on BME, Sanofi on Euronext
Paris) are left to the linker, which picks by context (see :mod:`pipeline.companies.linking`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import re
from collections import Counter
from pathlib import Path

from pipeline.companies.exchanges import BY_GOOGLE, BY_TEXT, US_CODES, exchange_of_country, split_symbol
from pipeline.companies.model import Company, Universe
from pipeline.companies.names import (
    CONTEXT_MEMO, ORDINARY_MEMO, derived_aliases, is_ordinary_word, needs_context, short_form_candidate,
    ticker_alias,
)
from pipeline.companies.sectors import derive_sector

log = logging.getLogger(__name__)

_US_STATES = frozenset("""Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware
Florida Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland
Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon
Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming D.C.""".split()) | {
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota",
    "Rhode Island", "South Carolina", "South Dakota", "West Virginia", "Puerto Rico"}
_COUNTRY_FIX = {"Russian Federation": "Russia", "none": ""}
_TRADED_AS = re.compile(r"(Euronext Paris|Euronext Amsterdam|Euronext Brussels|FWB|LSE|NYSE|Nasdaq|"
                        r"TYO|BMAD|SIX)\s*:\s*([A-Z0-9]{1,6})\b")
_US_TRADED_AS = re.compile(r"\b(NYSE|Nasdaq|NASDAQ)\s*:\s*([A-Z][A-Z0-9.]*)")


def source_version() -> str:
    """``pytickersymbols <version>``: recorded in each default company's ``source``."""
    import pytickersymbols

    return f"pytickersymbols {pytickersymbols.__version__}"


@functools.lru_cache(maxsize=1)
def default_universe() -> Universe:
    """The default universe (about 1,800 companies), cached in memory and on disk.

    A cold build reads pytickersymbols and two word lists (about 0.5 s); the result is pickled
    to ``$XDG_CACHE_HOME/tonewatch/`` (default ``~/.cache/tonewatch/``) under a key made of
    the data packages' versions and this package's source, so a later process loads it in
    about 20 ms. An unwritable or corrupt cache is ignored.

    Returns:
        a :class:`Universe`; its ``warnings`` list dropped entries and ambiguous aliases.
    """
    path = _cache_path()
    try:
        companies, notes, memo, context = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        companies, notes = build_default_companies()
        for c in companies:  # what the linker will ask, so that a cached start skips word lists
            for surface, kind in ((c.name, "name"), *((a, "alias") for a in c.aliases),
                                  *((a, "short_name") for a in c.aliases)):
                is_ordinary_word(surface)
                needs_context(surface, kind)
        memo, context = dict(ORDINARY_MEMO), dict(CONTEXT_MEMO)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps((companies, notes, memo, context)))
            os.replace(tmp, path)  # atomic: concurrent processes never read half a file
        except OSError as exc:
            log.debug("universe cache not written: %s", exc)
    ORDINARY_MEMO.update(memo)
    CONTEXT_MEMO.update(context)
    return Universe(companies, notes)


def _cache_path() -> Path:
    from importlib.metadata import version

    key = hashlib.sha256()
    for dist in ("pytickersymbols", "english-words", "wordfreq", "pycountry"):
        key.update(f"{dist}={version(dist)};".encode())
    for module in sorted(Path(__file__).parent.glob("*.py")):
        key.update(module.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tonewatch" / f"universe-{key.hexdigest()[:16]}.pickle"


def build_default_companies() -> tuple[list[Company], list[str]]:
    """Companies from pytickersymbols' bundled index data, by the rules of the module docstring.

    Returns:
        ``(companies, notes)``: companies with unique tickers, and one note per dropped or
        re-keyed entry.
    """
    from pytickersymbols.indices_data import INDICES  # a plain dict literal: no I/O

    version, notes = source_version(), []
    merged: dict[str, dict] = {}
    for index_name, index in INDICES.items():
        for entry in index.get("companies") or []:
            name = " ".join(str(entry.get("name") or "").split())
            if not name:
                continue
            rec = merged.setdefault(name, {"name": name, "symbols": Counter(), "industries": [],
                                           "country": "", "google": [], "indices": [],
                                           "traded_as": "", "alt": [], "rich": 0})
            rec["indices"].append(index_name)
            if entry.get("symbol"):
                rec["symbols"][entry["symbol"].strip()] += 1
            for label in entry.get("industries") or []:
                if label not in rec["industries"]:
                    rec["industries"].append(label)
            rec["country"] = rec["country"] or (entry.get("country") or "")
            meta = entry.get("metadata") or {}
            rec["traded_as"] = rec["traded_as"] or (meta.get("traded_as") or "")
            rec["rich"] += len(entry.get("symbols") or []) + len(meta)
            for s in entry.get("symbols") or []:
                rec["google"].append(s.get("google") or "")
                rec["alt"].append(s.get("yahoo") or "")
    for rec in merged.values():
        rec["country"] = _country(rec["country"])
        if not rec["symbols"]:
            m = _TRADED_AS.search(rec["traded_as"])
            venue = BY_TEXT.get({"FWB": "XETRA", "BMAD": "BME", "Nasdaq": "NASDAQ",
                                 "TYO": "TYO"}.get(m.group(1), m.group(1))) if m else None
            if m and venue is not None:
                rec["symbols"][f"{m.group(2)}{venue.yahoo}"] += 1
            else:
                notes.append(f"dropped {rec['name']!r}: no symbol in the data")
    records = [r for r in merged.values() if r["symbols"]]
    owner = _assign_tickers(records, notes)
    companies = [_company(r, owner[r["name"]], version) for r in records if r["name"] in owner]
    primaries = {c.ticker for c in companies}
    companies = [Company(**{**c.__dict__, "listings": tuple(
        s for s in c.listings if s not in primaries)}) for c in companies]
    return _with_short_forms(companies), notes


def _assign_tickers(records: list[dict], notes: list[str]) -> dict[str, str]:
    """Name → ticker, resolving names with several symbols and symbols with several names."""
    claims: dict[str, list[dict]] = {}
    for r in records:
        for symbol in r["symbols"]:
            claims.setdefault(symbol, []).append(r)
    owner: dict[str, str] = {}
    for r in records:
        free = [s for s in r["symbols"] if len(claims[s]) == 1] or list(r["symbols"])
        home = exchange_of_country(r["country"])
        r["ticker"] = max(free, key=lambda s: (r["symbols"][s], split_symbol(s)[1] == home, len(s)))
    by_ticker: dict[str, list[dict]] = {}
    for r in records:
        by_ticker.setdefault(r["ticker"], []).append(r)
    for ticker, rs in by_ticker.items():
        if len(rs) == 1:
            owner[rs[0]["name"]] = ticker
            continue
        bare, venue = split_symbol(ticker)
        # The entry from the symbol's own country keeps it; then the better-documented one.
        here = venue.country if venue is not None else "United States"
        rs.sort(key=lambda r: (r["country"] != here, -r["rich"]))
        keeper, others = rs[0], rs[1:]
        owner[keeper["name"]] = ticker
        for r in others:
            own = [a for a in r["alt"] if split_symbol(a)[0] == bare and split_symbol(a)[1]]
            qualified = own[0] if own else (
                f"{bare}{exchange_of_country(r['country']).yahoo}"
                if exchange_of_country(r["country"]) else None)
            if venue is None and r["country"] != here and qualified:
                owner[r["name"]] = qualified
                r["symbols"] = Counter({qualified: 1})
                notes.append(f"{r['name']!r}: symbol {ticker} also names {keeper['name']!r}; "
                             f"qualified as {qualified}")
            else:
                keeper.setdefault("other_names", []).append(r["name"])
                notes.append(f"{r['name']!r}: same symbol {ticker} as {keeper['name']!r} on the "
                             "same venue; kept as its alias")
    return owner


def _company(r: dict, ticker: str, version: str) -> Company:
    bare, venue = split_symbol(ticker)
    if venue is not None:
        exchange = venue.code
    else:
        exchange = "US"
        for g in r["google"]:
            prefix, _, sym = g.partition(":")
            if sym == bare and prefix in BY_GOOGLE and BY_GOOGLE[prefix].code in US_CODES:
                exchange = BY_GOOGLE[prefix].code
                break
        else:
            for m in _US_TRADED_AS.finditer(r["traded_as"]):
                if m.group(2) == bare:
                    exchange = m.group(1).upper()
                    break
    country = r["country"] or (venue.country if venue else "United States")
    aliases = derived_aliases(r["name"]) + [(n, "source-name") for n in r.get("other_names", [])]
    symbol = ticker_alias(ticker)
    if symbol and symbol != r["name"] and symbol not in (a for a, _ in aliases):
        aliases.append((symbol, "ticker"))
    listings = tuple(dict.fromkeys(
        s for s in list(r["symbols"]) + [a for a, g in zip(r["alt"], r["google"])
                                         if g.split(":")[0] in ("NYSE", "NASDAQ", "OTCMKTS")]
        if s and s != ticker))
    return Company(
        ticker=ticker, name=r["name"], exchange=exchange, country=country,
        sector=derive_sector(r["industries"], r["name"]), industry="; ".join(r["industries"]),
        aliases=tuple(a for a, _ in aliases), alias_origins=tuple(o for _, o in aliases),
        listings=listings, source=f"{version}: {', '.join(dict.fromkeys(r['indices']))}",
    )


def _with_short_forms(companies: list[Company]) -> list[Company]:
    """Add each company's short form when no other company's name or alias begins with it."""
    first_words = Counter()
    for c in companies:
        starts = {s.split()[0] for s in (c.name, *c.aliases) if s.split()}
        first_words.update(starts)
    out = []
    for c in companies:
        short = short_form_candidate(c.name)
        if short and first_words[short] == 1 and short not in c.aliases:
            c = Company(**{**c.__dict__, "aliases": c.aliases + (short,),
                           "alias_origins": c.alias_origins + ("short-form",)})
        out.append(c)
    return out


def _country(raw: str) -> str:
    raw = " ".join(str(raw or "").split())
    raw = _COUNTRY_FIX.get(raw, raw)
    if "," in raw:
        tail = raw.split(";")[0].rsplit(",", 1)[1].strip()
        return "United States" if tail in _US_STATES else _COUNTRY_FIX.get(tail, tail)
    return raw
