"""User company files and watchlists: read, validate, apply on top of the default universe.

**Company file** (YAML or CSV, UTF-8). YAML: a list of entries, or ``companies:`` holding one::

    companies:
      - {ticker: ACME, name: Acme Robotics, aliases: [Acme], sector: Industrials,
         exchange: NASDAQ, country: United States, industry: Industrial robots}
      - {ticker: GOOGL, aliases: [Google]}        # override: aliases are added
      - {ticker: AAPL, drop_aliases: [Apple]}     # remove a derived alias
      - {ticker: APLE, drop: true}                # remove a default company

CSV: a header row with the same column names; ``aliases`` and ``drop_aliases`` are
``;``-separated, ``drop`` is true/false. Keys: ``ticker`` (required), ``name``, ``aliases``,
``sector`` (a GICS sector; name and sector are required for a new company), ``exchange``,
``country``, ``industry``, ``drop``, ``drop_aliases``. A ticker already in the universe is an
override: the given fields replace the default's, aliases are added. The old
``config/entities.yaml`` shape (``companies: {Name: TICKER}``) is accepted too: each name
becomes an alias of a known ticker, or a new company (sector derived from the name, else
Unclassified).

**Watchlist**: the tickers a desk covers, a YAML list (or ``watchlist:``/``tickers:`` holding
one) or a text file with one ticker per line (``#`` starts a comment). An empty watchlist, or
an entry that is not ticker-shaped, is an error; a ticker the universe lacks is a warning (kept:
it matches only articles linked to it, such as an import's ticker column links).

Every problem is one line naming file, entry (YAML, 1-based) or row (CSV, 1-based data row) and
field: ``config/companies.yaml: entry 3: field 'ticker': empty``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.companies.exchanges import BY_CODE, BY_TEXT
from pipeline.companies.model import Company, Universe
from pipeline.companies.names import junk_alias
from pipeline.companies.sectors import derive_sector, normalise_sector
from pipeline.config import read_yaml
from pipeline.errors import ConfigError

log = logging.getLogger("tonewatch")

FIELDS = ("ticker", "name", "aliases", "sector", "exchange", "country", "industry", "drop",
          "drop_aliases")
#: A listing symbol: letters/digits, optional class or venue suffix (BRK.B, VOW3.DE, 7203.T).
SYMBOL = re.compile(r"^[A-Z0-9]{1,10}(?:[.\-/][A-Z0-9]{1,4}){0,2}$")


@dataclass
class Entry:
    """One entry of a company file: where it is (``entry 3`` / ``row 3``) and its fields."""

    where: str
    fields: dict
    old_shape: bool = False


def read_text(path: Path) -> str:
    """A config file's text; ConfigError naming the line of the first non-UTF-8 byte."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
                          "save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def parse_company_file(path: Path) -> tuple[list[Entry], list[str]]:
    """Read a company file into entries, collecting every shape problem.

    Returns:
        ``(entries, problems)``; each problem is one line naming file, entry/row and field.

    Raises:
        ConfigError: the file is unreadable, not UTF-8 or not valid YAML.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(read_text(path))))
        entries = [Entry(f"row {i}", {k.strip(): v for k, v in r.items() if k and k.strip()})
                   for i, r in enumerate(rows, 1)]
    else:
        doc = read_yaml(path)
        if isinstance(doc, dict) and isinstance(doc.get("companies"), dict):
            return [Entry(f"entry {i}", {"name": k, "ticker": v}, old_shape=True)
                    for i, (k, v) in enumerate(doc["companies"].items(), 1)], []
        items = doc.get("companies") if isinstance(doc, dict) else doc
        if items is None:
            return [], []
        if not isinstance(items, list):
            return [], [f"{path}: 'companies' must be a list of entries (or the old "
                        "'Name: TICKER' mapping)"]
        entries = [Entry(f"entry {i}", item if isinstance(item, dict) else {"": item})
                   for i, item in enumerate(items, 1)]
    problems = [p for e in entries for p in _shape_problems(path, e)]
    return entries, problems


def _shape_problems(path: Path, e: Entry) -> list[str]:
    out = []
    for key, value in e.fields.items():
        if key not in FIELDS:
            out.append(f"{path}: {e.where}: unknown field {key!r} (known: {', '.join(FIELDS)})"
                       if key else f"{path}: {e.where}: not a mapping of fields (got {value!r})")
        elif key in ("aliases", "drop_aliases"):
            if isinstance(value, str):
                e.fields[key] = [a.strip() for a in value.split(";") if a.strip()]
            elif value is None:
                e.fields[key] = []
            elif not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
                out.append(f"{path}: {e.where}: field {key!r}: not a list of names (got {value!r})")
            if key == "aliases" and isinstance(e.fields[key], list):
                for alias in e.fields[key]:
                    why = junk_alias(alias) if isinstance(alias, str) else None
                    if why:
                        out.append(f"{path}: {e.where}: field 'aliases': {alias!r} cannot name a "
                                   f"company ({why}): it would link every text containing it")
        elif key == "drop":
            flag = str(value).strip().lower()
            if flag not in ("true", "false", "yes", "no", "1", "0", ""):
                out.append(f"{path}: {e.where}: field 'drop': not true/false (got {value!r})")
            e.fields[key] = flag in ("true", "yes", "1")
        elif value is not None and not isinstance(value, (str, int, float)):
            out.append(f"{path}: {e.where}: field {key!r}: not text (got {value!r})")
    return out


def apply_entries(path: Path, base: dict[str, Company], entries: list[Entry]
                  ) -> tuple[dict[str, Company], list[str]]:
    """Apply a file's entries to ``base`` (ticker → company), in order.

    Returns:
        ``(companies, problems)``: the new ticker → company mapping and one line per problem
        (duplicate tickers, a name given two tickers, unknown sector, bad ticker...).
    """
    companies, problems = dict(base), []
    seen_ticker: dict[str, str] = {}
    seen_name: dict[str, tuple[str, str]] = {}
    default_names = {c.name.lower(): c.ticker for c in base.values()}
    for e in entries:
        f = e.fields

        def bad(field: str, msg: str) -> None:
            problems.append(f"{path}: {e.where}: field {field!r}: {msg}")

        ticker = str(f.get("ticker") if f.get("ticker") is not None else "").strip().upper()
        if not ticker:
            bad("ticker", "empty")
            continue
        if not SYMBOL.match(ticker):
            bad("ticker", f"not a ticker symbol (got {f['ticker']!r})")
            continue
        if ticker in seen_ticker and not e.old_shape:
            bad("ticker", f"{ticker} already given in {seen_ticker[ticker]}")
            continue
        seen_ticker.setdefault(ticker, e.where)
        name = " ".join(str(f.get("name") or "").split())
        if name:
            other = seen_name.get(name.lower())
            if other and other[0] != ticker:
                bad("name", f"{name!r} is already {other[0]} in {other[1]}")
                continue
            seen_name[name.lower()] = (ticker, e.where)
            known = default_names.get(name.lower())
            if known and known != ticker and not e.old_shape:
                bad("name", f"{name!r} is {known} in the default universe; drop {known} to re-key it")
                continue
        if f.get("drop"):
            if companies.pop(ticker, None) is None:
                bad("ticker", f"{ticker} is not in the universe, nothing to drop")
            continue
        sector = None
        if f.get("sector") not in (None, ""):
            sector = normalise_sector(str(f["sector"]))
            if sector is None:
                bad("sector", f"not a GICS sector (got {f['sector']!r})")
                continue
        exchange = str(f.get("exchange") or "").strip()
        if exchange:
            venue = BY_CODE.get(exchange.upper()) or BY_TEXT.get(exchange)
            if venue is None and exchange.upper() != "US":
                bad("exchange", f"unknown venue {exchange!r} (known: {', '.join(BY_CODE)})")
                continue
            exchange = venue.code if venue else "US"
        current = companies.get(ticker)
        if e.old_shape:
            new_aliases = [(name, "entities-file")] if current is not None else []
            f = {"name": name} if current is None else {}
        else:
            new_aliases = [(a.strip(), "user") for a in f.get("aliases") or []]
        if current is None:
            if not name:
                bad("name", "empty (required for a company not in the universe)")
                continue
            if sector is None and not e.old_shape:
                bad("sector", "empty (required for a company not in the universe)")
                continue
            current = Company(ticker=ticker, name=name, sector=sector or derive_sector([], name),
                              source=f"{path} {e.where}")
        else:
            current = replace(current, source=f"{current.source}; {path} {e.where}")
        changes = {k: str(f[k]).strip() for k in ("name", "country", "industry") if f.get(k)}
        changes.update({"sector": sector} if sector else {})
        changes.update({"exchange": exchange} if exchange else {})
        pairs = [(a, o) for a, o in zip(current.aliases, current.alias_origins)
                 if a not in set(f.get("drop_aliases") or [])]
        for alias, origin in new_aliases:
            if alias and alias != changes.get("name", current.name) and alias not in dict(pairs):
                pairs.append((alias, origin))
        companies[ticker] = replace(current, **changes, aliases=tuple(a for a, _ in pairs),
                                    alias_origins=tuple(o for _, o in pairs))
    return companies, problems


def load_universe(companies_file: Path | None = None, *, defaults: bool = True,
                  extra_files: tuple[Path, ...] = ()) -> Universe:
    """The universe to link against: defaults, then each user file's additions and overrides.

    Args:
        companies_file: a YAML/CSV company file; None or a missing file adds nothing.
        defaults: start from :func:`~pipeline.companies.universe.default_universe`.
        extra_files: files applied before ``companies_file`` (the deprecated entities file).

    Raises:
        ConfigError: the first problem of a file, as one line naming file, entry/row and field.
    """
    from pipeline.companies.universe import default_universe

    base = default_universe() if defaults else None
    companies = dict(base.companies) if base is not None else {}
    notes = list(base.warnings) if base is not None else []
    for path in (*extra_files, companies_file):
        if path is None or not Path(path).exists():
            continue
        entries, problems = parse_company_file(Path(path))
        if not problems:
            companies, problems = apply_entries(Path(path), companies, entries)
        if problems:
            raise ConfigError(problems[0])
    if base is not None and companies == base.companies:
        return base
    return Universe(companies.values(), [n for n in notes if not n.startswith("alias ")])


def universe_from_settings(settings) -> Universe:
    """:func:`load_universe` with ``settings.companies_file`` and ``settings.default_universe``.

    ``settings.entities_file`` (deprecated) is read first, but only when set explicitly
    (``TONEWATCH_ENTITIES_FILE``), since config/companies.yaml now holds what it held.
    """
    extra = (settings.entities_file,) if "entities_file" in settings.model_fields_set else ()
    return load_universe(settings.companies_file, defaults=settings.default_universe,
                         extra_files=extra)


def watchlist_from_settings(settings, *, warn: bool = True) -> tuple[str, ...] | None:
    """The tickers of ``settings.watchlist_file``, or None when no watchlist is configured
    (every company is watched).

    A ticker the configured universe lacks is kept and logged as a warning (it matches only
    articles linked to it, e.g. by an import's ticker column), unless ``warn`` is False (a
    check whose caller loads it again later);
    :func:`watchlist_problems` says what is an error.

    Raises:
        ConfigError: the watchlist is missing or unreadable, lists no ticker, or has a
            malformed entry (empty, duplicate, not ticker-shaped), as one line.
    """
    if settings.watchlist_file is None:
        return None
    return load_watchlist(settings.watchlist_file, universe_from_settings(settings), warn=warn)


def parse_watchlist(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Read a watchlist as ``(where, ticker)`` pairs plus shape problems (see module docstring)."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        doc = read_yaml(path)
        if isinstance(doc, dict):
            doc = doc.get("watchlist", doc.get("tickers"))
        if not isinstance(doc, list):
            return [], [f"{path}: not a list of tickers (or 'watchlist:' holding one)"]
        return [(f"entry {i}", str(t).strip().upper() if t is not None else "")
                for i, t in enumerate(doc, 1)], []
    pairs = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        ticker = line.split("#", 1)[0].strip().upper()
        if ticker:
            pairs.append((f"line {i}", ticker))
    return pairs, []


def watchlist_problems(path: Path, pairs: list[tuple[str, str]], universe: Universe
                       ) -> tuple[list[str], list[str]]:
    """Check a watchlist's ``(where, ticker)`` pairs against the universe.

    Returns:
        ``(errors, warnings)``, one line each naming file, line/entry and ticker. Errors: no
        ticker at all (ticker rules would never fire), an empty or duplicate entry, a value that
        is not ticker-shaped (:data:`SYMBOL`). Warnings: a ticker the universe lacks (with a
        suggestion when one is close); it is kept, since an import's ticker column links
        articles to tickers outside the universe, and it matches only articles linked to it.
    """
    errors, warnings, seen = [], [], {}
    if not pairs:
        errors.append(f"{path}: lists no ticker: ticker rules would never fire; unset "
                      "TONEWATCH_WATCHLIST_FILE to watch every company")
    for where, ticker in pairs:
        if not ticker:
            errors.append(f"{path}: {where}: empty ticker")
        elif not SYMBOL.match(ticker):
            errors.append(f"{path}: {where}: not a ticker symbol (got {ticker!r}); one ticker "
                          "per line, e.g. AAPL, BRK.B, VOD.L")
        elif ticker in seen:
            errors.append(f"{path}: {where}: {ticker} already listed in {seen[ticker]}")
        elif ticker not in universe:
            near = [c.ticker for c in universe.by_symbol(ticker)] or [
                c.ticker for c in universe.suggest(ticker, 3)]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            warnings.append(f"{path}: {where}: unknown ticker {ticker}{hint}: kept, it matches "
                            "only articles linked to it (e.g. by an import's ticker column)")
        seen.setdefault(ticker, where)
    return errors, warnings


def load_watchlist(path: Path, universe: Universe, *, warn: bool = True) -> tuple[str, ...]:
    """The watchlist's tickers, in file order.

    A ticker the universe lacks is kept and, with ``warn``, logged as a warning on the
    ``tonewatch`` logger (see :func:`watchlist_problems`): archive imports link articles to
    such tickers.

    Raises:
        ConfigError: missing or unreadable file, no ticker at all, or its first malformed
            entry (empty, duplicate or not ticker-shaped), as one line naming file and line.
    """
    if not Path(path).exists():
        raise ConfigError(f"watchlist file not found: {path}")
    pairs, problems = parse_watchlist(Path(path))
    errors, warnings = watchlist_problems(Path(path), pairs, universe)
    if problems or errors:
        raise ConfigError((problems + errors)[0])
    for line in warnings if warn else ():
        log.warning("%s", line)
    return tuple(t for _, t in pairs)


@dataclass(frozen=True)
class CheckReport:
    """What ``tonewatch companies check`` prints: a summary line, or one line per problem."""

    summary: str
    problems: tuple[str, ...]


def check_file(path: Path, settings) -> CheckReport:
    """Validate a company file or a watchlist, collecting every problem (not just the first).

    A ``.txt`` file, a YAML list of plain tickers, or YAML with a ``watchlist``/``tickers`` key
    is a watchlist, checked against the configured universe; anything else is a company file.

    Raises:
        ConfigError: the file is missing, unreadable, not UTF-8 or not valid YAML.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"file not found: {path}")
    doc = read_yaml(path) if path.suffix.lower() in (".yaml", ".yml") else None
    is_watchlist = path.suffix.lower() == ".txt" or (
        isinstance(doc, list) and all(not isinstance(x, dict) for x in doc)) or (
        isinstance(doc, dict) and ("watchlist" in doc or "tickers" in doc))
    if is_watchlist:
        pairs, problems = parse_watchlist(path)
        errors, warnings = ([], []) if problems else watchlist_problems(
            path, pairs, universe_from_settings(settings))
        summary = f"watchlist {path}: {len(pairs)} tickers"
        summary += "".join(f"\n  warning: {w}" for w in warnings)
        return CheckReport(summary, tuple(problems + errors))
    from pipeline.companies.universe import default_universe

    base = default_universe().companies if settings.default_universe else {}
    entries, problems = parse_company_file(path)
    if not problems:
        companies, problems = apply_entries(path, base, entries)
        added = len(set(companies) - set(base))
        dropped = len(set(base) - set(companies))
        known = set(default_universe().warnings)
        warnings = [w for w in Universe(companies.values()).warnings if w not in known]
        summary = (f"company file {path}: {len(entries)} entries; {added} added, "
                   f"{len(entries) - added - dropped} overrides, {dropped} dropped; "
                   f"{len(companies)} companies in all")
        summary += "".join(f"\n  warning: {w}" for w in warnings)
        return CheckReport(summary, tuple(problems))
    return CheckReport("", tuple(problems))
