"""Small typed records passed between stages, and the one reading of an instant.

Large data (articles, scores) travels as pandas DataFrames whose columns are the storage
columns; these records carry what is small: a feed source, a time window, a stage's summary.

Instants: every instant inside tonewatch is an aware ``datetime`` in UTC. Input from people
and schedulers (CLI options, DAG params, library callers) goes through :func:`parse_instant` /
:func:`as_utc`, with one set of rules: ISO-8601, a zone-less value is UTC, years 1970 to 2199.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, LabelMappingError

#: Canonical label order of every probability array in tonewatch: ``probs[:, i]`` is LABELS[i].
LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")

#: Spellings of the three labels found in data sets and checkpoints (lower case) → the label.
SYNONYMS: dict[str, str] = {
    "negative": "negative", "neg": "negative", "bearish": "negative", "bear": "negative",
    "neutral": "neutral", "neu": "neutral", "none": "neutral",
    "positive": "positive", "pos": "positive", "bullish": "positive", "bull": "positive",
}


def canonical_label(name: str) -> str | None:
    """``'Bearish'`` → ``'negative'``; None when the spelling is unknown (:data:`SYNONYMS`)."""
    return SYNONYMS.get(str(name).strip().lower())


def parse_label_spec(spec: str | None) -> dict[str, str]:
    """``"0=negative,1=positive,2=neutral"`` → ``{"0": "negative", "1": "positive", "2": "neutral"}``.

    Used for data labels (``--label-map``), model output labels (``--model-labels``) and the
    ``model_labels`` setting's validation.

    Raises:
        LabelMappingError: a pair without ``=`` or a target that is not a known label.
    """
    if not spec or not spec.strip():
        return {}
    mapping = {}
    for pair in spec.split(","):
        key, sep, value = pair.partition("=")
        label = canonical_label(value)
        if not sep or not key.strip() or label is None:
            raise LabelMappingError(
                f"bad label map entry {pair.strip()!r}: expected RAW=negative|neutral|positive")
        mapping[key.strip()] = label
    return mapping


#: Years an instant may fall in: baselines reach weeks back from a window, so year 1 would
#: overflow ``datetime``; 2200 is far beyond any news archive or schedule.
YEAR_RANGE: tuple[int, int] = (1970, 2199)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC ``datetime``; a zone-less (naive) value is taken to be UTC.

    Subclasses (pendulum's ``DateTime``, which Airflow hands to tasks) come back as plain
    ``datetime``, so arithmetic with ``timedelta`` behaves the same everywhere.

    Raises:
        ConfigError: the year is outside :data:`YEAR_RANGE`.
    """
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if type(value) is not datetime:  # a subclass (pendulum's, from Airflow): a plain datetime
        value = datetime(value.year, value.month, value.day, value.hour, value.minute,
                         value.second, value.microsecond, tzinfo=UTC)
    if not YEAR_RANGE[0] <= value.year <= YEAR_RANGE[1]:
        raise ConfigError(f"instant {value.isoformat()} is out of range "
                          f"(years {YEAR_RANGE[0]} to {YEAR_RANGE[1]})")
    return value


def parse_instant(raw: Any, name: str = "--at") -> datetime | None:
    """A date or date-time from a person or a scheduler → aware UTC datetime; empty → None.

    The one parser of run instants, used by the CLI (``--at``, ``--since`` ...), the DAGs'
    params (:mod:`pipeline.orchestration`) and the library.

    Args:
        raw: ``''``/None, an ISO-8601 string (``2026-03-06``, ``2026-03-06T06:30:00Z``,
            ``...+02:00``; zone-less = UTC) or a datetime (naive = UTC).
        name: what the value was given as, for the error message (``--at``, ``param 'at'``).

    Returns:
        the instant in UTC, or None when ``raw`` is empty.

    Raises:
        ConfigError: not ISO-8601, or outside the years 1970 to 2199 (:data:`YEAR_RANGE`);
            the message names ``name`` and the value.
    """
    if isinstance(raw, datetime):
        parsed = raw
        text = raw.isoformat()
    else:
        text = str(raw or "").strip()
        if not text:
            return None
        try:
            # fromisoformat accepts a bare date and (3.11+) most ISO-8601 forms; "Z" is spelled
            # out for older forms of the same string.
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"{name} {text!r} is not an ISO-8601 date or date-time") from exc
    out_of_range = ConfigError(f"{name} {text!r} is out of range "
                               f"(years {YEAR_RANGE[0]} to {YEAR_RANGE[1]})")
    if not YEAR_RANGE[0] <= parsed.year <= YEAR_RANGE[1]:
        raise out_of_range
    try:
        return as_utc(parsed)
    except ConfigError:  # in range as written, out of range in UTC (1970-01-01T00:00+05:00)
        raise out_of_range from None


@dataclass(frozen=True, order=True)
class Window:
    """A half-open span of time ``[start, end)`` in UTC: what a stage or a rule covers.

    Attributes:
        start: first instant inside the window, aware UTC.
        end: first instant after the window, aware UTC (a rule's window ends at the run instant).

    Raises:
        ConfigError: (on construction) ``end`` is before ``start``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end < self.start:
            raise ConfigError(f"window ends ({self.end.isoformat()}) before it starts "
                              f"({self.start.isoformat()})")

    @classmethod
    def ending_at(cls, end: datetime, length: timedelta) -> "Window":
        """The window of ``length`` that ends at ``end``: ``[end - length, end)``."""
        end = as_utc(end)
        return cls(end - length, end)

    @property
    def length(self) -> timedelta:
        """``end - start``."""
        return self.end - self.start

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= as_utc(instant) < self.end

    def shifted(self, delta: timedelta) -> "Window":
        """The same window moved by ``delta`` (negative: earlier)."""
        return Window(self.start + delta, self.end + delta)

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class FeedSource:
    """One feed to ingest: a URL or a local file.

    Attributes:
        feed_id: stable slug, the ``feeds.feed_id`` key.
        name: display name.
        url: ``http(s)://`` URL, or a local path.
        category: free text (regulator, central_bank, wire, markets, company).
        timezone: IANA zone applied to zone-less dates (None = UTC).
        kind: ``feed`` (RSS/Atom document), ``import`` (a CSV/JSONL archive of headlines,
            see :mod:`pipeline.ingest.importer`) or ``json_api`` (a paged JSON news API, see
            :mod:`pipeline.ingest.newsapi`; its settings are in ``api``).
        horizon_days: dates older than this many days before the fetch are out of range
            (None = 30 years).
        ticker: the company a per-company feed is about; stamped on its items unless an item
            names other companies and not this one.
        named: the name was given (feeds.yaml, an import); False for a bare URL or path from
            the command line, which its channel title names once read (file or URL alike).
    """

    feed_id: str
    name: str
    url: str
    category: str | None = None
    timezone: str | None = None
    kind: str = "feed"
    horizon_days: int | None = None
    ticker: str | None = None
    api: Any = field(default=None, compare=False, hash=False)
    named: bool = True

    @property
    def is_remote(self) -> bool:
        """True for http(s) URLs, False for local files."""
        return self.url.startswith(("http://", "https://"))


@dataclass
class FeedHealth:
    """One feed's health after an ingest attempt: a row of the ``feeds`` table.

    Attributes:
        feed_id, name, url, category: the feed.
        etag, last_modified: HTTP validators to send next time (None: none known).
        last_attempt_at: when this attempt started (UTC).
        last_success_at: when the feed last answered usefully (UTC), None if never.
        last_status: ``ok``, ``not_modified``, ``no_new_entries``, ``fetch_failed``,
            ``parse_error`` or ``not_a_feed``.
        http_status: the HTTP status of the last answer, None for files or no answer.
        error_class, error_message: the failure, when the attempt failed.
        entries_seen, entries_new, entries_dropped: entries read, new articles stored,
            entries dropped (no title and no link, a repeated id, no usable date).
        consecutive_failures: failed attempts in a row (0 after a success).
        warnings: the parser's warnings, ``; ``-joined, at most 1,000 characters.
    """

    feed_id: str
    name: str
    url: str
    category: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: str | None = None
    http_status: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    entries_seen: int = 0
    entries_new: int = 0
    entries_dropped: int = 0
    consecutive_failures: int = 0
    warnings: str | None = None

    def as_row(self) -> dict[str, Any]:
        """The ``feeds`` row (a plain dict of the fields)."""
        return dataclasses.asdict(self)


#: Life-cycle stages of a model version in the registry.
MODEL_STAGES: tuple[str, str, str] = ("candidate", "production", "archived")


@dataclass
class ModelRecord:
    """One registered model version (a folder of :class:`pipeline.registry.Registry`).

    Attributes:
        model_version: ``<name>-<YYYYmmdd-HHMMSS>`` of its registration (UTC).
        name: the model family.
        path: the version folder (``save_pretrained`` output).
        stage: one of :data:`MODEL_STAGES`.
        created_at: ISO-8601 registration instant ('' when unknown).
        metrics: held-out evaluation metrics (``{}`` when none).
        info: the whole ``registry.json`` object.
    """

    model_version: str
    name: str
    path: Path
    stage: str
    created_at: str
    metrics: dict[str, Any]
    info: dict[str, Any]

    @classmethod
    def from_info(cls, info: dict[str, Any], path: Path) -> ModelRecord:
        """The record of a version folder ``path`` whose ``registry.json`` holds ``info``."""
        return cls(info["model_version"], info["name"], Path(path), info.get("stage", "candidate"),
                   info.get("created_at", ""), info.get("metrics", {}), info)


@dataclass
class StageResult:
    """Summary of one stage run: what it did, as counts, plus a status.

    Attributes:
        stage: ``ingest``, ``score``, ``detect`` or ``notify``.
        status: ``ok``, ``partial`` (some inputs failed, the rest was done) or ``failed``.
        counts: small integer/float counters (articles_new, scored, firing, sent ...).
        window_start: start of the window the stage covered (UTC), if any.
        window_end: end of that window (UTC), usually the run instant.
        messages: one-line notes (a failing feed, an unconfigured receiver).
    """

    stage: str
    status: str = "ok"
    counts: dict[str, Any] = field(default_factory=dict)
    window_start: datetime | None = None
    window_end: datetime | None = None
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for humans: ``ingest ok: feeds=9 articles_new=260 ...``."""
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"{self.stage:<7} {self.status:<7} {counts}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (small: suitable as an Airflow XCom); window bounds as ISO-8601
        with an explicit UTC offset (a naive value is taken to be UTC, as stored)."""
        out = dataclasses.asdict(self)
        for key in ("window_start", "window_end"):
            value = out[key]
            if value is not None:
                value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
                out[key] = value.isoformat()
        return out
