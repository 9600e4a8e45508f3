"""The ingest stage: every source fetched, parsed and normalised, then stored in one transaction.

Steps, each a function:

1. :func:`read_one` — one source: fetch (conditional GET) → parse → normalise; returns the
   feed's :class:`~pipeline.domain.FeedHealth`, its article rows and progress lines. A failing
   source becomes a failure record; it never stops the others.
2. :func:`store_batches` — in one transaction: story ids (near-duplicate titles, against the
   stored articles around each batch's dates), article upsert, feed health, the stage's run row.
3. :func:`ingest` — the stage: resolves the sources, runs 1 for each without holding the
   database, runs 2, and decides the status.

The database is opened twice per run (see :func:`ingest`); nothing is held while feeds are
fetched, so readers (the dashboard) never wait on the network.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pandas as pd

from pipeline.config import Settings
from pipeline.domain import FeedHealth, FeedSource, StageResult, as_utc
from pipeline.errors import AllFeedsFailedError, ConfigError, FeedError

log = logging.getLogger("tonewatch")

#: Date qualities of archive rows that have no real date of their own: an archive row dated
#: "now" would fake news today, so such rows are dropped rather than stored.
_UNDATED = ("inferred", "out_of_range")


@dataclass
class SourceOutcome:
    """What reading one source gave.

    Attributes:
        source: the source.
        health: its health record for this attempt (``entries_new`` is filled when stored).
        frame: normalised article rows to store (None when it failed or was not modified).
        notes: diagnostic lines (failure, warnings), in order; a source read whole also has a
            read line (:meth:`read_line`) and, once stored, a progress line
            (:meth:`progress_line`).
        counted: what was read, for the progress line ("12 entries, 1 dropped (...)").
    """

    source: FeedSource
    health: FeedHealth
    frame: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    counted: str = ""

    def read_line(self) -> str:
        """The line printed as soon as a source has been read, before anything is stored,
        e.g. ``read: URL: 12 entries``."""
        return f"read: {self.source.url}: {self.counted}"

    def progress_line(self) -> str:
        """The source's one progress line, in the state the ``feeds`` table records (``ok``
        or ``no_new_entries`` once stored), e.g. ``no_new_entries: URL: 12 entries, 0 new``."""
        return (f"{self.health.last_status}: {self.source.url}: {self.counted}, "
                f"{self.health.entries_new} new")

    @property
    def ok(self) -> bool:
        """The source answered usefully (entries, or "not modified")."""
        return self.health.last_status in ("ok", "not_modified")


def first_attempt(source: FeedSource, state: FeedHealth | None, at: datetime) -> FeedHealth:
    """The health record of an attempt starting at ``at``, carrying the feed's stored state
    (validators, last success, failure streak, and for an unnamed source its channel title)
    forward."""
    state = state or FeedHealth(feed_id=source.feed_id, name=source.name, url=source.url)
    # A given name (feeds.yaml) wins; an unnamed source keeps the channel title read last time.
    return FeedHealth(
        feed_id=source.feed_id, name=source.name if source.named else state.name or source.name,
        url=source.url,
        category=source.category, etag=state.etag, last_modified=state.last_modified,
        last_attempt_at=at, last_success_at=state.last_success_at,
        consecutive_failures=int(state.consecutive_failures or 0))


def read_one(source: FeedSource, state: FeedHealth | None, *, client: httpx.Client,
             settings: Settings, linker, fetched_at: datetime) -> SourceOutcome:
    """Fetch, parse and normalise one source; never raises for the source's own faults.

    Args:
        source: the source.
        state: its stored health (None for a new feed).
        client: httpx client for remote sources.
        settings: HTTP limits.
        linker: the :class:`~pipeline.companies.linking.Linker` that finds each article's
            companies.
        fetched_at: the wall-clock instant of this fetch (UTC), stored as ``fetched_at`` and
            ``first_seen_at`` of new articles.

    Returns:
        the outcome; a :class:`~pipeline.errors.FeedError` or an unexpected exception is
        recorded in ``health`` (``last_status`` = the phase that failed) and a note.
    """
    from pipeline.ingest.acquire import UNITS, fetch_source, parse_source
    from pipeline.ingest.normalize import normalize_entries

    health = first_attempt(source, state, fetched_at)
    out = SourceOutcome(source, health)
    phase = "fetch_failed"
    try:
        fetched = fetch_source(source, client, settings, etag=health.etag,
                               last_modified=health.last_modified)
        if fetched.result is not None:
            health.http_status = fetched.result.status_code
            health.etag = fetched.result.etag or health.etag
            health.last_modified = fetched.result.last_modified or health.last_modified
        if fetched.not_modified:
            health.last_status, health.last_success_at = "not_modified", fetched_at
            health.consecutive_failures = 0
            out.notes.append(f"not_modified: {source.url}")
            return out
        phase = "parse_error"  # the bytes are in hand: what fails now is their content
        parsed = parse_source(source, fetched)
        frame, dropped = normalize_entries(parsed, source, fetched_at=fetched_at, linker=linker)
        undated = 0
        if source.kind == "import":
            unusable = frame["date_quality"].isin(_UNDATED)
            undated, frame = int(unusable.sum()), frame[~unusable]
            dropped += undated
        if parsed.title and not source.named and source.kind == "feed":
            health.name = parsed.title  # a bare file or URL: its channel title names it
        out.frame = frame
        health.last_status, health.last_success_at = "ok", fetched_at
        health.consecutive_failures = 0
        health.entries_seen, health.entries_dropped = len(frame), dropped
        repeated = ("a copy merged into an earlier row" if source.kind == "import"
                    else "a repeated id")
        why = (f"no title and no link, or {repeated}" if not undated else
               "no title and no link, or no usable date" if dropped > undated else
               "no usable date")
        out.counted = (f"{len(frame)} {UNITS[source.kind][len(frame) != 1]}"
                       + (f", {dropped} dropped ({why})" if dropped else ""))
        out.notes.extend(f"warning: {warning}" for warning in parsed.warnings)
        health.warnings = "; ".join(parsed.warnings)[:1000] or None
    except FeedError as exc:
        health.last_status, health.error_class = exc.status, type(exc).__name__
        health.error_message = str(exc)
        health.http_status = exc.http_status or health.http_status
        health.consecutive_failures += 1
        out.notes.append(f"{exc.status}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one feed's surprise must not cost the others
        log.exception("unexpected error on feed %s", source.url)
        health.last_status, health.error_class = phase, type(exc).__name__
        health.error_message = f"unexpected {type(exc).__name__}: {exc}"[:500]
        health.consecutive_failures += 1
        out.notes.append(f"{phase}: {source.url}: unexpected {type(exc).__name__}: {exc}")
    return out


def store_batches(con, outcomes: Sequence[SourceOutcome]) -> tuple[int, int]:
    """Store every outcome's articles (with story ids) and every feed's health.

    Runs in the caller's transaction: either all of a run's articles and health rows land or
    none do. An article another feed stored first (one web link in two feeds) is left as that
    feed stored it (archives excepted: their copies of a story merge their tickers). Each batch's story ids are matched against the stored articles around its dates,
    which include the batches stored before it in this transaction.

    Args:
        con: read-write connection inside a transaction.
        outcomes: the run's outcomes; ``health.entries_new`` is set on each, and a valid feed
            with nothing new becomes ``no_new_entries`` ("no news", not a failure).

    Returns:
        ``(articles_new, articles_changed)`` over all outcomes.
    """
    from pipeline.ingest.stories import assign_story_ids, candidate_span
    from pipeline.storage.articles import (
        articles_published_between,
        owned_by_other_feeds,
        upsert_articles,
    )
    from pipeline.storage.entities import replace_links
    from pipeline.storage.feeds import upsert_feed_health

    total_new = total_changed = 0
    for outcome in outcomes:
        if outcome.frame is None:
            continue
        frame = outcome.frame
        if outcome.source.kind != "import":  # archives merge their copies' tickers instead
            frame = frame[~owned_by_other_feeds(con, frame)]  # the first feed to store it keeps it
        if not frame.empty:
            frame = assign_story_ids(frame, articles_published_between(con, *candidate_span(frame)))
        new, changed = upsert_articles(con, frame.drop(columns="links", errors="ignore"))
        if "links" in frame.columns:
            replace_links(con, frame["article_id"].tolist(), link_rows(frame))
        total_new, total_changed = total_new + new, total_changed + changed
        outcome.health.entries_new = new
        if new == 0:
            outcome.health.last_status = "no_new_entries"
    upsert_feed_health(con, [o.health for o in outcomes])
    return total_new, total_changed


def link_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``article_entities`` rows of normalised articles (their ``links`` column)."""
    from pipeline.storage.entities import LINK_COLUMNS

    rows = [(article_id, *link) for article_id, links in zip(frame["article_id"], frame["links"],
                                                              strict=True) for link in links]
    return pd.DataFrame(rows, columns=LINK_COLUMNS)


def company_rows(universe) -> pd.DataFrame:
    """``companies`` rows of a :class:`~pipeline.companies.model.Universe`."""
    from pipeline.storage.entities import COMPANY_COLUMNS

    return pd.DataFrame([(c.ticker, c.name, c.exchange or None, c.country or None, c.sector,
                          c.industry or None, list(c.aliases), c.source) for c in universe],
                        columns=COMPANY_COLUMNS)


def ingest(
    settings: Settings, *, at: datetime, extra_sources: Sequence[str | FeedSource] = (),
    use_config: bool = True, client: httpx.Client | None = None, run_id: str | None = None,
    on_feed: Callable[[str], None] | None = None,
) -> StageResult:
    """Fetch, parse and store every feed; record each feed's health.

    Feeds are fetched without holding the database; all rows are then written in one
    transaction. One failing feed is recorded and skipped. The database is opened twice:
    once to record the run's start and read the feeds' stored state, once to write the
    articles, the feeds' health and the run's result in one transaction.

    Args:
        settings: settings (feeds file, data dir, HTTP limits).
        at: the run instant (UTC; zone-less = UTC); fetch and first-seen times use the wall
            clock of each fetch.
        extra_sources: URLs, files or globs ingested in addition to the configured feeds, or
            ready :class:`FeedSource` objects (e.g. ``kind="import"`` archives).
        use_config: include ``settings.feeds_file`` (False: only ``extra_sources``).
        client: httpx client to use (tests inject a transport); one is made if None.
        run_id: the pass's id in ``runs`` (a new one if None).
        on_feed: called with progress and diagnostic lines, in the order sources are read: a
            source that failed or was not modified gets its line at once; one that was read
            gets ``read: URL: N entries`` (and its warnings) at once, and after the store a
            line naming the state the feeds table records, ``ok`` or ``no_new_entries``.

    Returns:
        counts ``feeds, feeds_ok, feeds_failed, not_a_feed, entries, articles_new,
        articles_changed, dropped``; status ``partial`` when some feeds failed.

    Raises:
        AllFeedsFailedError: there were feeds and every one failed (after recording health).
        ConfigError: the feeds file is invalid, or there are no feeds.
        StorageError: the database is unusable.
    """
    from pipeline.companies import Linker, universe_from_settings
    from pipeline.ingest.fetch import make_client
    from pipeline.ingest.sources import resolve_sources
    from pipeline.storage.db import connect, transaction
    from pipeline.storage.entities import upsert_companies
    from pipeline.storage.feeds import feed_states
    from pipeline.storage.runs import StageRun

    at = as_utc(at)
    sources, problems = resolve_sources(settings.feeds_file, extra_sources, use_config=use_config)
    universe = universe_from_settings(settings)
    linker = Linker(universe)
    note = on_feed or (lambda line: log.info(line))
    for problem in problems:
        note(problem)
    if not sources:
        reasons = ([f"{settings.feeds_file} lists none"] if use_config else []) + problems
        raise ConfigError("no feeds to ingest" + (f": {'; '.join(reasons)}" if reasons else ""))
    run = StageRun(settings.db_path, stage="ingest", run_id=run_id or uuid.uuid4().hex[:12],
                   window_start=None, window_end=at, defer_start=True)
    with run:
        with connect(settings.db_path) as con:
            run.start(con)
            states = feed_states(con)
        own_client = client is None
        client = client or make_client(timeout_s=settings.http_timeout_s,
                                       user_agent=settings.user_agent)
        outcomes: list[SourceOutcome] = []
        try:
            for source in sources:
                outcome = read_one(source, states.get(source.feed_id), client=client,
                                   settings=settings, linker=linker,
                                   fetched_at=datetime.now(UTC))
                # A failed or not-modified source's line is final now; a source read whole
                # says what it read at once (a long run shows progress), its state once stored.
                head = [] if outcome.frame is None else [outcome.read_line()]
                for line in [*head, *outcome.notes]:
                    note(line)
                outcomes.append(outcome)
        finally:
            if own_client:
                client.close()

        counts = dict(feeds=len(sources), feeds_ok=sum(o.ok for o in outcomes),
                      feeds_failed=sum(not o.ok for o in outcomes),
                      not_a_feed=sum(o.health.last_status == "not_a_feed" for o in outcomes),
                      entries=sum(o.health.entries_seen for o in outcomes),
                      articles_new=0, articles_changed=0,
                      dropped=sum(o.health.entries_dropped for o in outcomes))
        status = ("failed" if counts["feeds_ok"] == 0 else
                  "ok" if counts["feeds_failed"] == 0 else "partial")
        with connect(settings.db_path) as con:
            with transaction(con):
                upsert_companies(con, company_rows(universe), at)
                counts["articles_new"], counts["articles_changed"] = store_batches(con, outcomes)
                result = run.finish(StageResult("ingest", status, counts), con)
        # A source read whole reports again once stored: only then is "ok" or
        # "no_new_entries" known.
        for outcome in outcomes:
            if outcome.frame is not None:
                note(outcome.progress_line())
    if status == "failed":
        noun = "source" if len(sources) == 1 else "sources"
        error = AllFeedsFailedError(f"all {len(sources)} {noun} failed; see `tonewatch feeds`")
        error.result = result
        raise error
    return result


__all__ = ["SourceOutcome", "first_attempt", "ingest", "read_one", "store_batches"]
