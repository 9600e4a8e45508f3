"""Historical headlines from a file (backfill): CSV or JSONL rows → feed-like entries.

An archive export becomes articles exactly as a feed's entries do (same cleaning, identity,
dates, language, tickers and story grouping), under a pseudo-feed named after the file, so
``tonewatch score`` and ``tonewatch detect --backfill`` then treat history like live news.

Columns (case-insensitive; per row, the first non-empty one wins, so JSONL lines may name
their fields differently):

- title: ``title``, ``headline``, ``text``, ``sentence`` (required)
- date: ``published``, ``published_at``, ``date``, ``datetime``, ``time``, ``timestamp`` (required;
  Unix epoch seconds or milliseconds are accepted; a row whose date cannot be read is dropped
  and counted, since an archive row dated "now" would land in today's detection window)
- optional: ``url``/``link``, ``summary``/``description``, ``id``/``guid``, ``source``.
- companies: ``ticker``, ``tickers``, ``symbol`` and ``symbols`` (all of them are read; several
  tickers separated by commas, semicolons, ``|`` or spaces, or a JSON list; a ``$`` or exchange
  prefix such as ``NYSE:`` is dropped). The row is *about* these companies (link method ``ticker_column``), whether or not
  its headline names them. Copies of one story filed under several tickers (same id, link, or
  title and date) become one article carrying all of them. A cell that is not ticker-shaped is
  reported (file, line, column, value) and skipped; the row itself is kept.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.companies.userfile import SYMBOL
from pipeline.errors import FeedParseError
from pipeline.ingest.parse import ParsedFeed

TITLE_COLUMNS = ("title", "headline", "text", "sentence")
DATE_COLUMNS = ("published", "published_at", "date", "datetime", "time", "timestamp")
OPTIONAL = {"link": ("url", "link"), "summary": ("summary", "description"),
            "id": ("id", "guid"), "source": ("source",)}
TICKER_COLUMNS = ("ticker", "tickers", "symbol", "symbols")

_LIST_SPLIT = re.compile(r"[,;|]")
_EXCHANGE_PREFIX = re.compile(r"^[A-Z]{2,10}:")
#: Cells that say "no ticker" the way spreadsheets and exports write it.
_NO_TICKER = frozenset({"N/A", "NA", "NONE", "NULL", "NAN", "-", "--", "?"})


def _present(columns: dict[str, str], names: tuple[str, ...]) -> list[str]:
    """The file's columns among ``names`` (lower-cased), in the order of ``names``."""
    return [columns[n] for n in names if n in columns]


def _first(record: dict, candidates: list[str]) -> str:
    """The first non-blank text among a row's ``candidates`` columns ('' when none)."""
    for column in candidates:
        value = _text(record.get(column))
        if value.strip():
            return value
    return ""


def read_import_file(path: Path) -> ParsedFeed:
    """Read a CSV or JSONL archive of headlines as a parsed feed.

    Args:
        path: ``.csv``, ``.tsv`` or ``.jsonl`` file.

    Returns:
        a :class:`ParsedFeed` whose entries are dicts with ``title``, ``published`` and the
        optional fields; rows with an empty title are kept (and dropped by normalisation if
        they also lack a link, which is counted).

    Raises:
        FeedParseError: unreadable file, unknown format, or no title/date column; the message
            names the file and what is missing.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    warnings: list[str] = []
    if suffix not in (".jsonl", ".csv", ".tsv"):
        raise FeedParseError(f"{path}: unknown import format {suffix!r}; use .csv, .tsv or .jsonl",
                             source=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedParseError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Archives exported from spreadsheets are often Windows-1252; every byte maps in it
        # except five, which become U+FFFD rather than stopping the import.
        text = raw.decode("cp1252", errors="replace")
        warnings.append(f"{path}: not UTF-8 (first bad byte at offset {exc.start}); read as Windows-1252")
    try:
        if suffix == ".jsonl":
            frame, bad = _read_jsonl(text)
            if bad:
                shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
                warnings.append(f"{path}: {len(bad)} line(s) are not JSON objects and were skipped: "
                                f"line {shown}")
        else:
            import io

            frame = pd.read_csv(io.StringIO(text), sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise FeedParseError(f"cannot read {path}: {' '.join(str(exc).split())}", source=str(path)) from exc
    columns = {str(c).strip().lower(): c for c in frame.columns}
    titles, dates = _present(columns, TITLE_COLUMNS), _present(columns, DATE_COLUMNS)
    if not titles or not dates:
        missing = [what for what, cols in (("title", titles), ("date", dates)) if not cols]
        raise FeedParseError(
            f"{path}: no {' or '.join(missing)} column (title: one of {TITLE_COLUMNS}; "
            f"date: one of {DATE_COLUMNS})", source=str(path))
    picked = {key: _present(columns, names) for key, names in OPTIONAL.items()}
    ticker_columns = _present(columns, TICKER_COLUMNS)
    entries, bad_tickers = [], []
    first = 1 if suffix == ".jsonl" else 2  # the line of the first data row (CSV has a header)
    for number, record in enumerate(frame.to_dict("records"), first):
        # Per row, the first non-empty of the candidate columns: a JSONL file whose lines
        # name their fields differently (title here, headline there) loses no row.
        entry = {"title": _first(record, titles), "published": _date_text(_first(record, dates))}
        for key, candidates in picked.items():
            value = _first(record, candidates)
            if value.strip():
                entry[key] = {"title": value} if key == "source" else value
        tickers = []
        for column in ticker_columns:  # every ticker column of the row: nothing is dropped
            found, bad = parse_tickers(record[column])
            tickers += [t for t in found if t not in tickers]
            bad_tickers.extend((number, column, value) for value in bad)
        if tickers:
            entry["tickers"] = tickers
        entries.append(entry)
    if bad_tickers:
        shown = ", ".join(f"line {n} {c!r}: {v!r}" for n, c, v in bad_tickers[:5])
        names = " or ".join(repr(c) for c in dict.fromkeys(c for _, c, _ in bad_tickers))
        warnings.append(f"{path}: {len(bad_tickers)} value(s) in column {names} are not "
                        f"tickers and were skipped ({shown}{' ...' if len(bad_tickers) > 5 else ''})")
    return ParsedFeed(title=path.stem, version="import", entries=entries, warnings=warnings)


def parse_tickers(cell) -> tuple[list[str], list[str]]:
    """Split a ticker cell into tickers.

    Args:
        cell: text such as ``"ACME, GLBX"``, ``"$ACME GLBX"``, ``"NYSE:ACME"``, or a JSON list.

    Returns:
        ``(tickers, rejected)``: upper-cased tickers in order of first appearance, without
        ``$`` and exchange prefixes; and the parts that are not tickers (a comma-, semicolon-
        or ``|``-separated part is split at spaces only when every word is ticker-shaped;
        a JSON object is rejected whole).
    """
    if isinstance(cell, dict):
        return [], [json.dumps(cell, ensure_ascii=False)]
    if isinstance(cell, list):
        parts = [p if isinstance(p, str) else json.dumps(p) for p in cell]
    else:
        parts = _LIST_SPLIT.split(_text(cell))
    tickers, rejected = [], []
    for part in parts:
        raw = part.strip()
        # Space-separated tickers ("$ACME GLBX") only when every word is ticker-shaped: a
        # part such as "not a ticker!!" is free text, not the tickers NOT and A.
        tokens = [_EXCHANGE_PREFIX.sub("", word.upper().lstrip("$")) for word in raw.split()]
        tokens = [t for t in tokens if t and t not in _NO_TICKER]
        if not tokens:
            continue
        # SYMBOL is the linker's own rule, so every ticker kept here is linked.
        if not all(SYMBOL.match(t) for t in tokens):
            rejected.append(raw)
            continue
        tickers += [t for t in tokens if t not in tickers]
    return tickers, rejected


def _text(value) -> str:
    """A cell as text: missing → '', nested JSON values → '' (not their repr)."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value)


def _date_text(value) -> str:
    """A date cell as text; Unix epoch seconds or milliseconds become ISO 8601 UTC."""
    text = _text(value).strip()
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC).isoformat()
    if re.fullmatch(r"\d{12,13}", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC).isoformat()
    return text


def _read_jsonl(text: str) -> tuple[pd.DataFrame, list[int]]:
    """Rows of a JSON Lines text, and the 1-based numbers of lines that are not JSON objects."""
    rows, bad = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append(number)
    if not rows and bad:
        raise ValueError(f"no line is a JSON object (line {bad[0]} is not)")
    return pd.DataFrame(rows), bad
