"""Historical headlines from a file (backfill): CSV or JSONL rows → feed-like entries.

An archive export becomes articles exactly as a feed's entries do (same cleaning, identity,
dates, language, tickers and story grouping), under a pseudo-feed named after the file, so
``tonewatch score`` and ``tonewatch detect --backfill`` then treat history like live news.

Columns (case-insensitive; the first present wins):

- title: ``title``, ``headline``, ``text``, ``sentence`` (required)
- date: ``published``, ``published_at``, ``date``, ``datetime``, ``time``, ``timestamp`` (required)
- optional: ``url``/``link``, ``summary``/``description``, ``id``/``guid``, ``source``.
"""

from __future__ import annotations

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
    try:
        if suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False)
        else:
            raise FeedParseError(f"{path}: unknown import format {suffix!r}; use .csv, .tsv or .jsonl",
                                 source=str(path))
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise FeedParseError(f"cannot read {path}: {exc}", source=str(path)) from exc
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
        entry = {"title": "" if pd.isna(record[title]) else str(record[title]),
                 "published": "" if pd.isna(record[date]) else str(record[date])}
        for key, column in picked.items():
            if column is not None and not pd.isna(record[column]) and str(record[column]).strip():
                value = str(record[column])
                entry[key] = {"title": value} if key == "source" else value
        entries.append(entry)
    return ParsedFeed(title=path.stem, version="import", entries=entries)
