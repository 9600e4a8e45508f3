"""The company universe's value types: :class:`Company`, :class:`Link` and :class:`Universe`.

A :class:`Universe` is an immutable set of companies keyed by ticker plus the look-ups the
linker and the CLI need: by bare symbol, by name or alias (the *surfaces* matched in text), and
fuzzy search. Building one (:mod:`pipeline.companies.universe`) is separate from using it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pipeline.companies.exchanges import split_symbol
from pipeline.companies.names import junk_alias

#: Link methods, strongest first (a company found several ways keeps the first of these).
METHODS: tuple[str, ...] = (
    "ticker_column", "instrument_code", "exchange_prefix", "cashtag", "name", "alias",
    "short_name", "category", "feed_ticker",
)


@dataclass(frozen=True)
class Company:
    """One listed company.

    Attributes:
        ticker: unique key: the Yahoo-style listing symbol (``AAPL``, ``VOD.L``, ``7203.T``;
            see :mod:`pipeline.companies.universe` for how clashes are qualified).
        name: display name as the source writes it ("Apple Inc.").
        exchange: venue code from :mod:`pipeline.companies.exchanges` (``NASDAQ``, ``LSE``);
            ``US`` for a US listing whose venue the data does not say; ``""`` unknown.
        country: country of the company (English short name), ``""`` when unknown.
        sector: one of the 11 GICS sectors, or ``Unclassified``.
        industry: the raw industry labels, ``"; "``-joined.
        aliases: other surfaces the linker matches, in derivation order.
        alias_origins: for each alias (same order): ``legal-suffix``, ``ascii``, ``short-form``,
            ``source-name`` (another name the data gives), ``user`` or ``entities-file``.
        listings: other symbols of the same company (Yahoo form: ``GOOG``, ``SIEGY``), used for
            cashtags and exchange prefixes only.
        source: where it came from ("pytickersymbols 1.17.10: DAX, EURO STOXX 50",
            "config/companies.yaml entry 3").
    """

    ticker: str
    name: str
    exchange: str = ""
    country: str = ""
    sector: str = "Unclassified"
    industry: str = ""
    aliases: tuple[str, ...] = ()
    alias_origins: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    source: str = ""

    def alias_origin(self, alias: str) -> str:
        """How ``alias`` was derived (see :attr:`alias_origins`); ``""`` if it is not an alias."""
        for a, origin in zip(self.aliases, self.alias_origins):
            if a == alias:
                return origin
        return ""


@dataclass(frozen=True)
class Link:
    """One company an article is about.

    Attributes:
        ticker: the company's ticker (a universe key, or an archive's ticker as given).
        method: the strongest way it was found, one of :data:`METHODS`.
        relevance: 0..1, how central the company is (scale in :mod:`pipeline.companies.linking`).
        mention: the text that named it, as written in the title or summary (without a
            possessive ending), or None when it was not found in the text.
    """

    ticker: str
    method: str
    relevance: float
    mention: str | None = None


@dataclass(frozen=True)
class Surface:
    """A string the linker matches in text: a name, alias or short form of one company."""

    text: str
    ticker: str
    kind: str  # "name" | "alias" | "short_name"
    origin: str = ""  # the alias's origin (:attr:`Company.alias_origins`); "name" for the name


#: Origins of aliases a user file gives; they lose a clash with another company's own surfaces.
USER_ORIGINS = ("user", "entities-file")


def _tier(kind: str, origin: str) -> int:
    """Precedence of a surface when two companies share it: the name, then derived aliases and
    short forms, then aliases a user file gives (lowest number wins)."""
    return 0 if kind == "name" else 2 if origin in USER_ORIGINS else 1


class Universe:
    """An immutable set of companies keyed by ticker, with the linker's look-ups.

    Args:
        companies: the companies (tickers must be unique; the last of a duplicate wins).
        warnings: problems found while building (ambiguous aliases...), shown by the CLI.

    Surfaces (names, aliases, short forms) shared by two companies are resolved by precedence:
    a company's own name beats the others' aliases, a derived alias or short form beats an
    alias a user file gives ("Apple" stays Apple's when a file gives it to another company; the
    user alias is dropped with a warning naming both). Two at the same level are ambiguous:
    dropped from :attr:`surfaces` and reported in :attr:`warnings` rather than guessed. A
    surface that cannot name anything (:func:`~pipeline.companies.names.junk_alias`: "Inc",
    "$", "&") is dropped with a warning.
    """

    def __init__(self, companies: Iterable[Company], warnings: Iterable[str] = ()):
        self.companies: dict[str, Company] = {c.ticker: c for c in companies}
        notes = list(warnings)
        owners: dict[str, dict[str, tuple[str, str]]] = {}
        for c in self.companies.values():
            entries = [(c.name, "name", "name")] + [
                (a, "short_name" if o == "short-form" else "alias", o)
                for a, o in zip(c.aliases, c.alias_origins)]
            for text, kind, origin in entries:
                why = junk_alias(text)
                if why:
                    notes.append(f"alias {text!r} of {c.ticker}: {why}; not used for linking")
                    continue
                owners.setdefault(text, {}).setdefault(c.ticker, (kind, origin))
        self.surfaces: dict[str, Surface] = {}
        for text, by_ticker in owners.items():
            best = min(_tier(*ko) for ko in by_ticker.values())
            top = [t for t, ko in by_ticker.items() if _tier(*ko) == best]
            if len(top) == 1:
                kind, origin = by_ticker[top[0]]
                self.surfaces[text] = Surface(text, top[0], kind, origin)
                users = sorted(t for t, ko in by_ticker.items() if ko[1] in USER_ORIGINS
                               and t != top[0])
                if users:
                    notes.append(f"alias {text!r} is shared by {', '.join(sorted(by_ticker))}: "
                                 f"kept for {top[0]} (its {'name' if best == 0 else 'derived alias'}), "
                                 f"not used for {', '.join(users)} (given by a user file)")
            else:
                notes.append(f"alias {text!r} is shared by {', '.join(sorted(by_ticker))}: "
                             "not used for linking")
        self.warnings: tuple[str, ...] = tuple(notes)
        self._by_symbol: dict[str, list[Company]] = {}
        for c in self.companies.values():
            for symbol in (c.ticker, *c.listings):
                bare = split_symbol(symbol)[0]
                self._by_symbol.setdefault(bare, [])
                if c not in self._by_symbol[bare]:
                    self._by_symbol[bare].append(c)

    def __len__(self) -> int:
        return len(self.companies)

    def __iter__(self) -> Iterator[Company]:
        return iter(self.companies.values())

    def __contains__(self, ticker: object) -> bool:
        return ticker in self.companies

    def get(self, ticker: str) -> Company | None:
        """The company with this ticker (exact, case-insensitive), or None."""
        return self.companies.get(ticker) or self.companies.get(ticker.upper())

    def by_symbol(self, bare: str) -> tuple[Company, ...]:
        """Companies listed under the bare symbol ``bare`` (``SAN`` → Santander on BME and on
        Euronext Paris...), primary tickers first, then other listings."""
        found = self._by_symbol.get(bare, [])
        return tuple(sorted(found, key=lambda c: split_symbol(c.ticker)[0] != bare))

    def find(self, query: str) -> Company | None:
        """The company whose ticker, name or alias is ``query`` (ticker case-insensitive), or None."""
        query = query.strip()
        company = self.get(query)
        if company is not None:
            return company
        surface = self.surfaces.get(query)
        if surface is not None:
            return self.companies[surface.ticker]
        low = query.lower()
        for c in self.companies.values():
            if c.name.lower() == low or any(a.lower() == low for a in c.aliases):
                return c
        return None

    def suggest(self, query: str, limit: int = 5) -> list[Company]:
        """Companies whose ticker, name or alias is close to ``query`` (difflib ratio >= 0.6)."""
        keys: dict[str, str] = {}
        for c in self.companies.values():
            for key in (c.ticker, c.name, *c.aliases):
                keys.setdefault(key.lower(), c.ticker)
        close = difflib.get_close_matches(query.lower(), list(keys), n=limit * 3, cutoff=0.6)
        tickers = list(dict.fromkeys(keys[k] for k in close))[:limit]
        return [self.companies[t] for t in tickers]

    def select(self, *, sector: str | None = None, country: str | None = None,
               search: str | None = None) -> list[Company]:
        """Companies filtered by sector and country (case-insensitive, exact) and by a
        case-insensitive substring of ticker, name or alias; sorted by ticker."""
        found = []
        for c in self.companies.values():
            if sector and c.sector.lower() != sector.lower():
                continue
            if country and c.country.lower() != country.lower():
                continue
            if search and not any(search.lower() in k.lower() for k in (c.ticker, c.name, *c.aliases)):
                continue
            found.append(c)
        return sorted(found, key=lambda c: c.ticker)

    def filter_problem(self, *, sector: str | None = None, country: str | None = None) -> str | None:
        """One line naming a ``sector`` or ``country`` filter that no company has, with the
        values that exist (sectors largest first, countries as the data spells them), or None
        when every given filter names something (the combination may still select nothing)."""
        problems = []
        if sector and not any(c.sector.lower() == sector.lower() for c in self.companies.values()):
            problems.append(f"no sector {sector!r}; sectors: {', '.join(self.sector_counts())}")
        if country and not any(c.country.lower() == country.lower() for c in self.companies.values()):
            countries = sorted({c.country for c in self.companies.values() if c.country})
            problems.append(f"no country {country!r}; countries: {', '.join(countries)}")
        return "; ".join(problems) or None

    def sector_counts(self) -> dict[str, int]:
        """Number of companies per sector, largest first."""
        counts: dict[str, int] = {}
        for c in self.companies.values():
            counts[c.sector] = counts.get(c.sector, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
