"""Historical headlines from a file (backfill): CSV or JSONL rows → feed-like entries.

An archive export becomes articles exactly as a feed's entries do (same cleaning, identity,
dates, language, tickers and story grouping), under a pseudo-feed named after the file, so
``tonewatch score`` and ``tonewatch detect --backfill`` then treat history like live news.

Columns (case-insensitive; the first present wins):

- title: ``title``, ``headline``, ``text``, ``sentence`` (required)
- date: ``published``, ``published_at``, ``date``, ``datetime``, ``time``, ``timestamp`` (required;
  Unix epoch seconds or milliseconds are accepted; a row whose date cannot be read is dropped
  and counted, since an archive row dated "now" would land in today's detection window)
- optional: ``url``/``link``, ``summary``/``description``, ``id``/``guid``, ``source``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.errors import FeedParseError
from pipeline.ingest.parse import ParsedFeed

TITLE_COLUMNS = ("title", "headline", "text", "sentence")
DATE_COLUMNS = ("published", "published_at", "date", "datetime", "time", "timestamp")
OPTIONAL = {"link": ("url", "link"), "summary": ("summary", "description"),
            "id": ("id", "guid"), "source": ("source",)}


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


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
    title, date = _pick(columns, TITLE_COLUMNS), _pick(columns, DATE_COLUMNS)
    if title is None or date is None:
        missing = [what for what, col in (("title", title), ("date", date)) if col is None]
        raise FeedParseError(
            f"{path}: no {' or '.join(missing)} column (title: one of {TITLE_COLUMNS}; "
            f"date: one of {DATE_COLUMNS})", source=str(path))
    picked = {key: _pick(columns, names) for key, names in OPTIONAL.items()}
    entries = []
    for record in frame.to_dict("records"):
        entry = {"title": _text(record[title]), "published": _date_text(record[date])}
        for key, column in picked.items():
            value = _text(record[column]) if column is not None else ""
            if value.strip():
                entry[key] = {"title": value} if key == "source" else value
        entries.append(entry)
    return ParsedFeed(title=path.stem, version="import", entries=entries, warnings=warnings)


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
