"""Small typed records passed between stages.

Large data (articles, scores) travels as pandas DataFrames whose columns are the storage
columns; these records carry what is small: a feed source, a stage's summary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Canonical label order of every probability array in tonewatch: ``probs[:, i]`` is LABELS[i].
LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


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

    @property
    def is_remote(self) -> bool:
        """True for http(s) URLs, False for local files."""
        return self.url.startswith(("http://", "https://"))


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
