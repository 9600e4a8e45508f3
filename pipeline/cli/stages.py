"""The pipeline's stages as commands: run, ingest, import, score, detect, notify, feeds.

Each parses its options, calls one stage of :mod:`pipeline.run` and prints the result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pipeline import __version__
from pipeline.cli.common import (
    AtOption, FeedsOption, NoConfigOption, SourcesArg, err, feed_line, instant_or_now, now, out,
    print_result, score_progress, settings,
)
from pipeline.domain import parse_instant
from pipeline.errors import ConfigError


def run(sources: SourcesArg = None, feeds: FeedsOption = None, at: AtOption = None,
        no_config: NoConfigOption = False) -> None:
    """One pass: ingest every feed, score new articles, detect surges, deliver alerts."""
    from pipeline.run import run_pipeline

    config = settings()
    instant = instant_or_now(at, "--at")
    err.print(f"tonewatch run at {instant:%Y-%m-%d %H:%M:%S} UTC, data in {config.db_path}",
              highlight=False)
    run_pipeline(config, at=instant, extra_sources=[*(feeds or []), *(sources or [])],
                 use_config=not no_config, on_stage=print_result, on_feed=feed_line,
                 progress=sys.stderr.isatty(), on_progress=score_progress())


def ingest(sources: SourcesArg = None, feeds: FeedsOption = None, at: AtOption = None,
           no_config: NoConfigOption = False) -> None:
    """Fetch and store articles from the configured feeds and any given sources."""
    from pipeline.run import ingest as ingest_stage

    print_result(ingest_stage(settings(), at=instant_or_now(at, "--at"),
                              extra_sources=[*(feeds or []), *(sources or [])],
                              use_config=not no_config, on_feed=feed_line))


def import_(
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV/JSONL archives of headlines.")],
    timezone: Annotated[Optional[str], typer.Option(
        help="IANA zone for dates without one (default UTC), e.g. America/New_York.")] = None,
) -> None:
    """Import historical headlines (backfill): columns title/headline and date/published, optional url, summary, id, source.

    Companies: a ticker, tickers, symbol or symbols column holds one or more tickers per row,
    separated by commas, semicolons or spaces (e.g. "AAPL, MSFT"); the row is linked to each,
    even to a ticker outside the company universe.

    Then `tonewatch score` and `tonewatch detect --backfill` treat them like fetched news.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from pipeline.domain import FeedSource
    from pipeline.ingest.sources import feed_id_for
    from pipeline.run import ingest as ingest_stage

    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"--timezone {timezone!r} is not an IANA time zone") from exc
    sources = [FeedSource(feed_id_for(str(f)), f"import: {f.name}", str(f.resolve()),
                          "import", timezone, kind="import") for f in files]
    print_result(ingest_stage(settings(), at=now(), extra_sources=sources, use_config=False,
                              on_feed=feed_line))


def score(at: AtOption = None, model: Annotated[Optional[str], typer.Option(
        help="Model: 'production', a registry version, a local dir or a hub id.")] = None,
          backend: Annotated[Optional[str], typer.Option(
        help="auto | torch | onnx-int8 | onnx-fp32 (default TONEWATCH_SCORING_BACKEND, else "
             "auto: the fastest that passed its check).")] = None,
          ) -> None:
    """Score every stored article that lacks a score from the model."""
    from pipeline.config import load_settings
    from pipeline.run import score as score_stage
    from pipeline.scoring.classifier import BACKEND_CHOICES

    if backend is not None and backend not in BACKEND_CHOICES:
        raise ConfigError(f"--backend {backend!r}: use one of {', '.join(BACKEND_CHOICES)}")
    config = load_settings(scoring_backend=backend)
    print_result(score_stage(config, at=instant_or_now(at, "--at"), model=model,
                             progress=sys.stderr.isatty(), on_progress=score_progress()))


def detect(
    at: AtOption = None,
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="Evaluate every daily window (UTC midnights) from --since, or from the "
                           "earliest stored article, up to --at; records alerts without "
                           "queueing notifications.")] = False,
    since: Annotated[Optional[str], typer.Option(help="Backfill start (ISO-8601).")] = None,
) -> None:
    """Evaluate the alert rules over the window(s) ending at the run instant."""
    from pipeline.run import detect as detect_stage
    from pipeline.run import detect_backfill

    config = settings()
    until = instant_or_now(at, "--at")
    start = parse_instant(since, "--since")
    if not backfill:
        if start is not None:
            raise ConfigError("--since needs --backfill (a single run evaluates the windows "
                              "ending at --at)")
        print_result(detect_stage(config, at=until))
        return
    if start is not None and start > until:
        raise ConfigError(f"--since {since!r} is after --at ({until:%Y-%m-%d %H:%M} UTC): "
                          "no window to replay")
    result = detect_backfill(config, since=start, until=until)
    if result.counts.get("windows") == 0:
        err.print("  no stored article in that range: nothing to replay", highlight=False)
    for message in result.messages:
        out.print(f"  {message}", highlight=False)
    totals = " ".join(f"{k}={v}" for k, v in result.counts.items() if isinstance(v, int))
    out.print(f"detect  backfill {totals}", highlight=False)


def notify(
    at: AtOption = None,
    test: Annotated[Optional[str], typer.Option(
        "--test", help="Send a test message to this receiver (console, email, slack) and exit.")] = None,
) -> None:
    """Deliver pending alert notifications (or a test message with --test)."""
    from pipeline.alerting.notifiers import Message, configured_notifiers
    from pipeline.run import notify as notify_stage

    config = settings()
    if test:
        notifiers = configured_notifiers(config)
        if test not in notifiers:
            raise ConfigError(f"receiver {test!r} is not configured (available: {sorted(notifiers)})")
        notifiers[test].send(Message("tonewatch test message",
                                     f"Test notification from tonewatch {__version__}."))
        out.print(f"test message sent to {test}")
        return
    print_result(notify_stage(config, at=instant_or_now(at, "--at")))


#: Columns of ``tonewatch feeds``: header and (min, max) width in characters.
_FEED_COLUMNS = (
    ("feed", 20, 36), ("source", 16, 60), ("status", 14, 14), ("http", 4, 4), ("seen", 4, 5),
    ("new", 4, 5),
    ("drop", 4, 4), ("fails", 5, 5), ("last attempt (UTC)", 16, 16),
    ("last success (UTC)", 16, 16), ("error / warnings", 20, 70),
)


def feeds() -> None:
    """Show the health of every feed seen so far."""
    from pipeline.storage.db import connect
    from pipeline.storage.feeds import feed_health

    with connect(settings().db_path, read_only=True) as con:
        frame = feed_health(con)
    table = Table(*(header for header, _, _ in _FEED_COLUMNS))
    for column, (_, low, high) in zip(table.columns, _FEED_COLUMNS, strict=True):
        column.no_wrap = True
        column.overflow = "ellipsis"
        column.min_width, column.max_width = low, high
    frame = frame.astype(object).where(frame.notna(), None)

    def when(value) -> str:
        return "" if value is None else f"{value:%Y-%m-%d %H:%M}"

    for r in frame.to_dict("records"):
        problem = (f"{r['error_class']}: {r['error_message']}" if r["error_class"]
                   else f"warning: {r['warnings']}" if r["warnings"] else "")
        table.add_row(str(r["name"])[:50], str(r["url"] or ""), str(r["last_status"] or ""),
                      "" if r["http_status"] is None else str(int(r["http_status"])),
                      str(r["entries_seen"] or 0), str(r["entries_new"] or 0),
                      str(r["entries_dropped"] or 0), str(r["consecutive_failures"] or 0),
                      when(r["last_attempt_at"]), when(r["last_success_at"]), problem[:120])
    out.print(table)
