"""The pipeline's stages and one full pass over them.

Each stage is a function ``stage(settings, *, at, ...) -> StageResult`` that takes the clock as
an argument (never ``now()`` inside), opens the database only for short transactions, and is
idempotent: running it twice for the same instant adds nothing and repairs what a crash left
half done (articles are upserted, scores are computed for whatever lacks one, alerts are keyed
by fingerprint and window, notifications by an idempotency key). The CLI, the Airflow DAGs and
tests call these same functions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import NamedTuple
from datetime import datetime

import httpx
import pandas as pd

from pipeline.companies import watchlist_from_settings
from pipeline.config import Settings
from pipeline.domain import StageResult, as_utc
from pipeline.errors import AllFeedsFailedError, TonewatchError
from pipeline.ingest.stage import ingest
from pipeline.storage.db import connect, transaction
from pipeline.scoring.classifier import load_classifier
from pipeline.storage.runs import StageRun
from pipeline.storage.scores import model_in_force

log = logging.getLogger("tonewatch")

__all__ = ["AllFeedsFailedError", "backfill_instants", "model_in_force", "detect",
           "detect_backfill", "ingest",
           "load_classifier", "notify", "run_pipeline", "score", "watchlist_from_settings"]


def _recorded(stage: str, settings: Settings, at: datetime, run_id: str | None,
              window_start: datetime | None = None, *, defer_start: bool = False) -> StageRun:
    return StageRun(settings.db_path, stage=stage, run_id=run_id or uuid.uuid4().hex[:12],
                    window_start=window_start, window_end=at, defer_start=defer_start)


# ---------------------------------------------------------------------------------------- score

class _Pass(NamedTuple):
    """One pass of the score stage: read a page after a key, score it, write it, count it."""

    read: Callable  # (con, after) -> DataFrame page, empty when done
    key: tuple[str, ...]  # the paging key's columns
    score: Callable  # page -> rows to write
    write: Callable  # (con, rows) -> rows written
    counter: str  # the count it adds to


def score(
    settings: Settings, *, at: datetime, model: str | None = None, classifier=None,
    run_id: str | None = None, chunk_size: int | None = None, progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None, since: datetime | None = None,
    until: datetime | None = None,
) -> StageResult:
    """Score every stored article, and every (article, company) link, that has no score from
    the model for its current content.

    Two passes over one loaded model. The article pass writes ``scores``: an article already
    scored by this model version for its current ``content_hash`` is skipped, one whose
    content changed since is rescored. The company pass (only for a model trained on
    company-targeted pairs, see :attr:`SentimentClassifier.targeted`) writes
    ``entity_scores``: each link's text judged toward its company, the model being told the
    company as the article names it. Rows are read, scored and written one chunk at a time
    (key-set paging), so memory stays flat however many are pending and a killed run loses at
    most one chunk. Scores of other model versions are left alone (one row per article, link
    and version), which is what a rescore with a candidate model relies on.

    Args:
        settings: settings (model, backend, batch size, languages).
        at: run instant (UTC), stored as ``scored_at``.
        model: override of ``settings.model``.
        classifier: an already loaded classifier (tests, long-lived workers).
        chunk_size: rows scored and written per transaction (bounds memory); default
            ``settings.score_chunk_size``.
        progress: show a progress bar.
        on_progress: called with ``(scored_so_far, total)`` after each chunk is stored, over
            articles and links together.
        since: only articles published at or after this UTC instant.
        until: only articles published before this UTC instant.

    Returns:
        counts ``{model_version, backend, pending, scored, truncated, skipped_language,
        entity_pending, entity_scored}``: ``truncated`` texts were longer than the model's
        ``max_length`` (only their start was scored); ``skipped_language`` stored articles
        are in a language outside ``score_languages``; ``entity_*`` count (article, company)
        links (0 for a model without company-level output); with ``entity_scoring = "multi"``
        (the default) only links of articles naming two or more companies get a company-level
        score, the others keep the article's (``targeted`` false where read).
    """
    from pipeline.registry import Registry
    from pipeline.storage.articles import skipped_language_count, unscored_chunk, unscored_count
    from pipeline.storage.models import sync_model_versions
    from pipeline.storage.scores import (
        entity_score_rows, score_rows, unscored_entity_chunk, unscored_entity_count, upsert_entity_scores,
        upsert_scores,
    )

    at = as_utc(at)
    run = _recorded("score", settings, at, run_id, defer_start=True)
    with run:
        # One Registry for the stage: it reads each registry.json once, for both the model
        # lookup and the model_versions mirror.
        registry = Registry(settings.model_registry)
        classifier = classifier or load_classifier(settings, model, registry=registry)
        version, languages = classifier.model_version, settings.score_languages
        chunk_size = chunk_size or settings.score_chunk_size
        counts = dict(pending=0, scored=0, truncated=0, skipped_language=0, entity_pending=0,
                      entity_scored=0)

        def result() -> StageResult:
            return StageResult("score", "ok", {
                "model_version": version,
                "backend": getattr(getattr(classifier, "backend", None), "name", "torch"), **counts})

        def score_articles(chunk):
            probs, cut = classifier.predict(chunk["text"].tolist(), progress=progress)
            counts["truncated"] += int(cut.sum())
            return score_rows(chunk["article_id"].tolist(), chunk["content_hash"].tolist(), probs,
                              version, at, truncated=cut)

        def score_links(chunk):
            # Syndicated copies repeat (text, company) pairs: each distinct pair is run once.
            keys = pd.MultiIndex.from_arrays([chunk["text"], chunk["target"]])
            codes, distinct = pd.factorize(keys)
            probs = classifier.predict_probs([t for t, _ in distinct], targets=[g for _, g in distinct],
                                             progress=progress)
            return entity_score_rows(chunk, probs[codes], version, at)

        bounds = dict(since=since, until=until, limit=chunk_size)
        min_companies = 2 if settings.entity_scoring == "multi" else 1
        passes = [_Pass(lambda con, after: unscored_chunk(con, version, languages, after=after, **bounds),
                        ("published_at", "article_id"), score_articles, upsert_scores, "scored")]
        if getattr(classifier, "targeted", False):
            passes.append(_Pass(
                lambda con, after: unscored_entity_chunk(con, version, languages, after=after,
                                                        min_companies=min_companies, **bounds),
                ("published_at", "article_id", "entity"), score_links, upsert_entity_scores,
                "entity_scored"))

        def first_chunk(con, start: int):
            """The first chunk of the first pass from ``start`` on that has work."""
            for index in range(start, len(passes)):
                chunk = passes[index][0](con, None)
                if not chunk.empty:
                    return index, chunk
            return len(passes), None

        # Opens: one to start (with the first chunk), then one per chunk scored (its write
        # and the next chunk's read); nothing is held while the model works.
        with connect(settings.db_path) as con:
            run.start(con)
            sync_model_versions(con, registry.list())
            counts["pending"] = unscored_count(con, version, languages, since=since, until=until)
            counts["skipped_language"] = skipped_language_count(con, languages, since=since, until=until)
            if len(passes) > 1:
                counts["entity_pending"] = unscored_entity_count(con, version, languages,
                                                                 since=since, until=until,
                                                                 min_companies=min_companies)
            index, chunk = first_chunk(con, 0)
            if chunk is None:
                return run.finish(result(), con)
        total = counts["pending"] + counts["entity_pending"]
        while True:
            step = passes[index]
            after = tuple(chunk[column].iloc[-1] for column in step.key)
            rows = step.score(chunk)
            with connect(settings.db_path) as con:
                counts[step.counter] += step.write(con, rows)
                if on_progress:
                    on_progress(counts["scored"] + counts["entity_scored"], total)
                chunk = step.read(con, after)
                if chunk.empty:
                    index, chunk = first_chunk(con, index + 1)
                    if chunk is None:
                        return run.finish(result(), con)


# --------------------------------------------------------------------------------------- detect

def detect(
    settings: Settings, *, at: datetime, rules=None, enqueue: bool = True,
    run_id: str | None = None,
) -> StageResult:
    """Evaluate every alert rule over the window ending at ``at``; record alerts; queue notifications.

    For each rule the window is ``[at - window, at)`` and the baseline the ``baseline`` period
    before it. Firing decisions become ``alerts`` rows (state ``firing``); calm decisions resolve
    earlier firing alerts of the same fingerprint; insufficient windows are only counted
    (:func:`pipeline.alerting.stage.detect_windows` with one window end).

    Args:
        settings: settings (rules file, data dir).
        at: the window end, UTC.
        rules: rules to use instead of the rules file.
        enqueue: queue notifications for new firing alerts (False for silent backfills).

    Firing alerts matching an active silence, or inhibited by a market-wide surge in the same
    window, are recorded (with ``silenced_by`` / ``inhibited_by`` in their explanation) but not
    queued (:mod:`pipeline.alerting.silences`).

    Returns:
        counts ``{rules, evaluated, insufficient, pending, firing, resolved, queued, silenced,
        inhibited}`` and ``messages`` with one line per pending or firing alert. A surge
        becomes ``firing`` (and notifies) once it has held for the rule's ``for_windows``
        consecutive windows; before that it is recorded as ``pending``.
    """
    from pipeline.alerting.notifiers import configured_notifiers
    from pipeline.alerting.stage import COUNT_KEYS
    from pipeline.detection.rules import load_rules

    at = as_utc(at)
    rules = rules if rules is not None else load_rules(settings.alert_rules_file)
    counts = dict(rules=len(rules), **dict.fromkeys(COUNT_KEYS, 0))
    return _detection_pass(settings, [at], rules=rules, counts=counts, run_id=run_id,
                           record_end=at, enqueue=enqueue,
                           receivers=list(configured_notifiers(settings)))


def _detection_pass(settings: Settings, ends: list[datetime], *, rules, counts: dict,
                    run_id: str | None, record_end: datetime, enqueue: bool = False,
                    receivers: Sequence[str] = ()) -> StageResult:
    """Evaluate ``rules`` at every window end in ``ends`` (sorted, UTC) in one transaction.

    One open of the database: the run's start, the model in force, the decisions and alerts
    (:func:`pipeline.alerting.stage.detect_windows`) and the run's result. ``counts`` holds
    the caller's zeroed counters; each window's counts are added to it.
    """
    from pipeline.alerting.stage import detect_windows
    from pipeline.detection.topics import topics_for

    topics = topics_for(rules, settings.topics_file)
    watchlist = watchlist_from_settings(settings) if any(r.scope == "ticker" for r in rules) else None
    messages: list[str] = []
    window_start = min((r.window_at(e).start for r in rules for e in ends[:1]),
                       default=record_end)
    run = _recorded("detect", settings, record_end, run_id, window_start, defer_start=True)
    with run, connect(settings.db_path) as con:
        run.start(con)
        in_force = model_in_force(con)
        if in_force is None or not ends:
            messages += ["no scores yet: nothing to evaluate"] * len(ends)
            return run.finish(StageResult("detect", "ok", counts, messages=messages), con)
        with transaction(con):
            outcomes = detect_windows(con, rules, ends, model_version=in_force.model_version,
                                      topics=topics, receivers=list(receivers), enqueue=enqueue,
                                      dashboard_url=settings.dashboard_url, watchlist=watchlist)
            for outcome in outcomes:
                messages += outcome.messages
                for key, value in outcome.counts.items():
                    counts[key] += value
            counts["model_version"] = in_force.model_version
            result = run.finish(StageResult("detect", "ok", counts, messages=messages), con)
        return result


def detect_backfill(
    settings: Settings, *, since: datetime | None, until: datetime, rules=None,
    ends: Sequence[datetime] | None = None, run_id: str | None = None,
) -> StageResult:
    """Replay detection over many window ends in one pass; record alerts, queue nothing.

    Records the same alert rows as calling :func:`detect` with ``enqueue=False`` at each end
    in turn, at the speed of the data: each rule's aggregates come from one query over the
    whole range, every window is decided from memory, and the alert life cycle runs through
    the windows in order before one write (:func:`pipeline.alerting.stage.detect_windows`).
    Notifications are never queued (a replay must not send stale news). One ``runs`` row
    covers the pass.

    Args:
        settings: settings (rules file, data dir).
        since: earliest window end (UTC); None = from the earliest stored article.
        until: latest window end (UTC).
        rules: rules to use instead of the rules file.
        ends: window ends to evaluate instead of :func:`backfill_instants` (``since`` and
            ``until`` then unused).

    Returns:
        counts ``{windows, rules, evaluated, insufficient, pending, firing, resolved, queued,
        silenced, inhibited}`` summed over the windows (``rules`` counts rule evaluations, as
        ``windows x rules``), plus ``model_version`` when there are scores; ``messages`` holds
        each window's lines in window order.
    """
    from pipeline.alerting.stage import COUNT_KEYS
    from pipeline.detection.rules import load_rules

    until = as_utc(until)
    ends = sorted({as_utc(e) for e in ends}) if ends is not None else backfill_instants(
        settings, since=as_utc(since) if since is not None else None, until=until)
    rules = rules if rules is not None else load_rules(settings.alert_rules_file)
    counts: dict = {"windows": len(ends)}
    if ends:
        counts.update(rules=len(rules) * len(ends), **dict.fromkeys(COUNT_KEYS, 0))
    return _detection_pass(settings, ends, rules=rules, counts=counts, run_id=run_id,
                           record_end=ends[-1] if ends else until)


def backfill_instants(settings: Settings, *, since: datetime | None, until: datetime) -> list[datetime]:
    """Window ends for a detection backfill: each UTC midnight after a day that has articles.

    Days without a stored article give windows with nothing to evaluate, so they are skipped
    (a feed with one item from years ago would otherwise add thousands of empty windows).

    Args:
        since: earliest window end to include (default: no lower bound).
        until: latest window end to include.

    Returns:
        sorted aware UTC datetimes.
    """
    from pipeline.storage.stories import daily_window_ends

    with connect(settings.db_path) as con:
        days = daily_window_ends(con)
    return [end for end in days if (since is None or end >= since) and end <= until]


# --------------------------------------------------------------------------------------- notify

def notify(settings: Settings, *, at: datetime, notifiers=None, run_id: str | None = None,
           sleep=None) -> StageResult:
    """Deliver every pending notification; see :mod:`pipeline.alerting.dispatch`.

    Returns:
        counts ``{sent, failed, deferred}``; status ``partial`` when something failed or waits.
    """
    from pipeline.alerting.dispatch import deliver_pending
    from pipeline.alerting.notifiers import configured_notifiers
    from pipeline.storage.alerts import pending_notifications

    at = as_utc(at)
    run = _recorded("notify", settings, at, run_id, defer_start=True)
    with run:
        with connect(settings.db_path) as con:  # opens: this one, one per message, one to finish
            run.start(con)
            pending = pending_notifications(con)
        counts, problems = deliver_pending(
            settings.db_path, notifiers or configured_notifiers(settings), at=at, sleep=sleep,
            pending=pending)
        status = "ok" if counts["failed"] == 0 and counts["deferred"] == 0 else "partial"
        return run.finish(StageResult("notify", status, counts, messages=problems))


# ------------------------------------------------------------------------------------ full pass

def run_pipeline(
    settings: Settings, *, at: datetime, extra_sources: Sequence[str] = (), use_config: bool = True,
    client: httpx.Client | None = None, classifier=None, notifiers=None,
    on_stage: Callable[[StageResult], None] | None = None,
    on_feed: Callable[[str], None] | None = None, progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[StageResult]:
    """One pass: ingest → score → detect → notify, all for the instant ``at``.

    A failure of every feed does not stop the later stages (stored articles still get scored and
    evaluated); it is re-raised at the end so the caller exits non-zero.

    Raises:
        ConfigError: before any stage runs, when the configured watchlist is unusable (see
            :func:`watchlist_from_settings`).

    Returns:
        the four stage results, in order.
    """
    # A broken watchlist would otherwise surface only at detect, after ingest and scoring,
    # and cost every scope's alerts: stop before anything is fetched (one ConfigError line).
    # Its warnings (unknown tickers) are logged once, when detect loads it.
    watchlist_from_settings(settings, warn=False)
    run_id = uuid.uuid4().hex[:12]
    results: list[StageResult] = []
    deferred: TonewatchError | None = None

    def done(result: StageResult) -> None:
        results.append(result)
        if on_stage:
            on_stage(result)

    try:
        done(ingest(settings, at=at, extra_sources=extra_sources, use_config=use_config,
                    client=client, run_id=run_id, on_feed=on_feed))
    except AllFeedsFailedError as exc:
        deferred = exc
        done(exc.result or StageResult("ingest", "failed", messages=[str(exc)]))
    done(score(settings, at=at, classifier=classifier, run_id=run_id, progress=progress,
               on_progress=on_progress))
    done(detect(settings, at=at, run_id=run_id))
    done(notify(settings, at=at, notifiers=notifiers, run_id=run_id))
    if deferred is not None:
        raise deferred
    return results
