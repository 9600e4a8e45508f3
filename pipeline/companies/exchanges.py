"""Stock exchanges and the three symbol dialects that name them.

One table, :data:`EXCHANGES`, ties together how each venue is written:

* Yahoo Finance symbol suffixes (``VOD.L``, ``SAP.DE``, ``7203.T``; US venues have none), which
  is the form of every ticker in the company universe;
* Google Finance prefixes (``LON:VOD``, ``ETR:SAP``, ``NASDAQ:AAPL``), used by pytickersymbols;
* Reuters instrument code (RIC) suffixes (``VOD.L``, ``SAPG.DE``, ``AAPL.O``, ``IBM.N``);
* the prefixes news text writes before a symbol (``NYSE: IBM``, ``LSE: VOD``, ``XETRA: SAP``,
  ``Euronext Paris: BNP``).

Sources: Yahoo's "exchanges and data providers" suffix list, LSEG's RIC exchange-code list and
Google Finance's venue codes, as publicly documented; only the venues that the default universe
or common wire copy use are listed. ``TSE`` means Tokyo here (Toronto is ``TSX``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    """One venue.

    Attributes:
        code: our short code (``NYSE``, ``LSE``, ``XETRA``...), stored as ``Company.exchange``.
        name: human-readable name.
        country: country of the venue (English short name).
        yahoo: Yahoo symbol suffix with its dot (``.L``), ``""`` for US venues.
        rics: Reuters RIC suffixes without the dot (``("O", "OQ")``).
        google: Google Finance prefixes (``("LON",)``).
        text: prefixes written before a symbol in news copy (matched case-sensitively).
    """

    code: str
    name: str
    country: str
    yahoo: str
    rics: tuple[str, ...] = ()
    google: tuple[str, ...] = ()
    text: tuple[str, ...] = ()


EXCHANGES: tuple[Exchange, ...] = (
    Exchange("NYSE", "New York Stock Exchange", "United States", "", ("N",), ("NYSE",),
             ("NYSE", "NYSE Arca")),
    Exchange("NASDAQ", "Nasdaq", "United States", "", ("O", "OQ"), ("NASDAQ",),
             ("NASDAQ", "Nasdaq", "NasdaqGS", "NasdaqGM")),
    Exchange("AMEX", "NYSE American", "United States", "", ("A",), ("NYSEAMERICAN",),
             ("AMEX", "NYSE American", "NYSEAMERICAN")),
    Exchange("OTC", "OTC Markets", "United States", "", ("PK",), ("OTCMKTS",),
             ("OTC", "OTCQX", "OTCQB", "OTCMKTS")),
    Exchange("LSE", "London Stock Exchange", "United Kingdom", ".L", ("L",), ("LON",),
             ("LSE", "LON")),
    Exchange("XETRA", "Xetra", "Germany", ".DE", ("DE",), ("ETR",), ("XETRA", "Xetra", "ETR", "FWB")),
    Exchange("FRA", "Frankfurt Stock Exchange", "Germany", ".F", ("F",), ("FRA",), ("FRA",)),
    Exchange("EPA", "Euronext Paris", "France", ".PA", ("PA",), ("EPA",),
             ("EPA", "Euronext Paris")),
    Exchange("AMS", "Euronext Amsterdam", "Netherlands", ".AS", ("AS",), ("AMS",),
             ("AMS", "Euronext Amsterdam")),
    Exchange("EBR", "Euronext Brussels", "Belgium", ".BR", ("BR",), ("EBR",),
             ("EBR", "Euronext Brussels")),
    Exchange("BIT", "Euronext Milan", "Italy", ".MI", ("MI",), ("BIT",), ("BIT", "Euronext Milan")),
    Exchange("BME", "Bolsa de Madrid", "Spain", ".MC", ("MC",), ("BME",), ("BME", "BMAD")),
    Exchange("SIX", "SIX Swiss Exchange", "Switzerland", ".SW", ("S",), ("SWX",), ("SIX", "SWX")),
    Exchange("STO", "Nasdaq Stockholm", "Sweden", ".ST", ("ST",), ("STO",), ("STO",)),
    Exchange("HEL", "Nasdaq Helsinki", "Finland", ".HE", ("HE",), ("HEL",), ("HEL",)),
    Exchange("CPH", "Nasdaq Copenhagen", "Denmark", ".CO", ("CO",), ("CPH",), ("CPH",)),
    Exchange("OSL", "Oslo Bors", "Norway", ".OL", ("OL",), ("OSL",), ("OSL",)),
    Exchange("VIE", "Vienna Stock Exchange", "Austria", ".VI", ("VI",), ("VIE",), ("VIE",)),
    Exchange("TSE", "Tokyo Stock Exchange", "Japan", ".T", ("T",), ("TYO",), ("TYO", "TSE")),
    Exchange("TSX", "Toronto Stock Exchange", "Canada", ".TO", ("TO",), ("TSE:CA",), ("TSX",)),
    Exchange("ASX", "Australian Securities Exchange", "Australia", ".AX", ("AX",), ("ASX",), ("ASX",)),
    Exchange("HKEX", "Hong Kong Stock Exchange", "Hong Kong", ".HK", ("HK",), ("HKG",),
             ("HKEX", "HKG")),
    Exchange("MCX", "Moscow Exchange", "Russia", ".ME", ("MM",), ("MCX",), ("MCX",)),
)

BY_CODE = {e.code: e for e in EXCHANGES}
BY_YAHOO = {e.yahoo: e for e in EXCHANGES if e.yahoo}
BY_RIC = {ric: e for e in EXCHANGES for ric in e.rics}
BY_GOOGLE = {g: e for e in EXCHANGES for g in e.google}
BY_TEXT = {t: e for e in EXCHANGES for t in e.text}
#: "Euronext: XYZ" names no single venue: any of these.
EURONEXT = ("EPA", "AMS", "EBR", "BIT")
US_CODES = ("NYSE", "NASDAQ", "AMEX", "OTC")


#: Stock indices: the 20 whose constituents pytickersymbols bundles (spelled as the press writes
#: them) and other widely quoted benchmarks. With :data:`MARKET_NAMES` they tell the linker when a
#: company's name is also the name of a market ("Nasdaq", "MSCI").
INDEX_NAMES: tuple[str, ...] = (
    "AEX", "BEL 20", "CAC 40", "CAC Mid 60", "DAX", "Dow Jones", "Euro Stoxx 50", "FTSE 100",
    "IBEX 35", "MDAX", "Nasdaq 100", "Nikkei 225", "OMX Helsinki 25", "OMX Stockholm 30", "SDAX",
    "S&P 100", "S&P 500", "S&P 600", "Switzerland 20", "TecDAX",
    "Nasdaq Composite", "Russell 2000", "MSCI World", "Stoxx 600", "FTSE 250", "Topix", "Kospi",
    "Hang Seng", "Cboe Volatility Index",
)
#: Index families, written alone for their indices ("FTSE falls", "Stoxx hits a record").
INDEX_FAMILIES: tuple[str, ...] = ("S&P", "FTSE", "MSCI", "Stoxx", "Euro Stoxx", "Nikkei", "Dow",
                                   "Russell", "CAC", "IBEX", "OMX")
#: Exchange operators known by their own name whose venues the table above does not list.
OTHER_VENUES: tuple[str, ...] = ("Cboe", "CME", "ICE")


def _market_names() -> frozenset[str]:
    names = {*OTHER_VENUES, *INDEX_FAMILIES}
    firsts: dict[str, int] = {}
    for e in EXCHANGES:
        names.add(e.name)
        if len(e.code) >= 4:  # NYSE, NASDAQ, XETRA, HKEX: codes written as names; not LSE, AMS
            names.add(e.code)
        first = e.name.split()[0]
        firsts[first] = firsts.get(first, 0) + 1
    names.update(f for f, n in firsts.items() if n >= 2)  # operators: Nasdaq, Euronext
    for index in INDEX_NAMES:
        names.add(index)
        if index.split()[-1].isdigit():  # "Nasdaq 100" is also written "Nasdaq"
            names.add(index.rsplit(" ", 1)[0])
    return frozenset(n.casefold() for n in names)


#: Names of exchanges (and codes of four letters or more), operators of several venues (the
#: first word two venue names share: Nasdaq, Euronext), indices without their number, and index
#: families; case-folded: "nasdaq", "euronext", "london stock exchange", "msci", "ftse"...
MARKET_NAMES: frozenset[str] = _market_names()


def is_market_name(text: str) -> bool:
    """Whether ``text`` (any case) is the name of an exchange, an exchange operator, an index or
    an index family (:data:`MARKET_NAMES`): "Nasdaq", "NASDAQ", "London Stock Exchange",
    "MSCI". Such a name in text mostly means the market, not the listed company."""
    return " ".join(text.split()).casefold() in MARKET_NAMES


def split_symbol(symbol: str) -> tuple[str, Exchange | None]:
    """Split a Yahoo-style symbol into its bare code and venue.

    A suffix that is not a known venue (``BRK.B``, ``MOG.A``: share classes) stays part of
    the bare code, and the venue is None (a US listing).

    Returns:
        ``(bare, exchange)``: ``("VOD", LSE)`` for ``VOD.L``, ``("BRK.B", None)`` for ``BRK.B``.
    """
    head, dot, tail = symbol.rpartition(".")
    if dot and head and f".{tail}" in BY_YAHOO:
        return head, BY_YAHOO[f".{tail}"]
    return symbol, None


def qualify(bare: str, exchange: Exchange | None) -> str:
    """The Yahoo-style ticker of ``bare`` on ``exchange`` (``VOD`` on LSE → ``VOD.L``)."""
    return f"{bare}{exchange.yahoo}" if exchange is not None else bare


def exchange_of_country(country: str) -> Exchange | None:
    """The main non-US venue of a country, or None (US and unknown countries)."""
    for e in EXCHANGES:
        if e.country == country and e.yahoo and e.code != "FRA":
            return e
    return None
