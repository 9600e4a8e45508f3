"""The ``tonewatch`` command line: thin wrappers over :mod:`pipeline.run` and friends.

Every command parses its options, calls one library function and prints its result. A
:class:`~pipeline.errors.TonewatchError` is printed as one line (``tonewatch: error: ...``) with
exit status 1; anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline import __version__
from pipeline.config import Settings, load_settings
from pipeline.domain import LABELS, StageResult
from pipeline.errors import ConfigError, TonewatchError

app = typer.Typer(help="tonewatch: financial-news sentiment monitor.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
model_app = typer.Typer(help="Model registry: list, show, promote, build the default, export to ONNX.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")
silence_app = typer.Typer(help="Silences: mute notifications of matching alerts for a while.",
                          no_args_is_help=True)
app.add_typer(silence_app, name="silence")
# Tables are wide; when output goes to a pipe or log, rich would otherwise wrap at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

AtOption = Annotated[Optional[str], typer.Option(
    "--at", help="Run instant, ISO-8601 (e.g. 2026-03-06 or 2026-03-06T06:30Z); default now, UTC. "
                 "Zone-less values are UTC.")]
FeedsOption = Annotated[Optional[list[str]], typer.Option(
    "--feeds", help="Extra feed URL, file or glob (repeatable; further paths may follow as arguments).")]
SourcesArg = Annotated[Optional[list[str]], typer.Argument(
    help="More feed URLs, files or globs.", show_default=False)]
NoConfigOption = Annotated[bool, typer.Option(
    "--no-config", help="Ignore the configured feeds file; ingest only the given sources.")]


def parse_instant(value: str | None, option: str = "--at") -> datetime:
    """CLI ``--at`` (or ``option``) value → aware UTC datetime (now when None).

    Raises:
        ConfigError: not an ISO-8601 date/time, or outside the years 1970-2199.
    """
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r} is not an ISO-8601 date or date-time") from exc
    if not 1970 <= parsed.year < 2200:  # baselines reach weeks back; year 1 would overflow
        raise ConfigError(f"{option} {value!r} is out of range (years 1970 to 2199)")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _settings() -> Settings:
    return load_settings()


def _print_result(result: StageResult) -> None:
    out.print(result.summary(), highlight=False)
    for message in result.messages:
        out.print(f"  {message}", highlight=False)


def _feed_line(line: str) -> None:
    err.print(f"  {line}", highlight=False, markup=False)


def _score_progress():
    """Per-chunk progress lines for logs; on a terminal the progress bar does this job."""
    if sys.stderr.isatty():
        return None
    return lambda done, total: err.print(f"  scored {done}/{total}", highlight=False)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if version:
        out.print(f"tonewatch {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()


@app.command()
def run(sources: SourcesArg = None, feeds: FeedsOption = None, at: AtOption = None,
        no_config: NoConfigOption = False) -> None:
    """One pass: ingest every feed, score new articles, detect surges, deliver alerts."""
    from pipeline.run import run_pipeline

    settings = _settings()
    instant = parse_instant(at)
    err.print(f"tonewatch run at {instant:%Y-%m-%d %H:%M:%S} UTC, data in {settings.db_path}",
              highlight=False)
    run_pipeline(settings, at=instant, extra_sources=[*(feeds or []), *(sources or [])],
                 use_config=not no_config, on_stage=_print_result, on_feed=_feed_line,
                 progress=sys.stderr.isatty(), on_progress=_score_progress())


@app.command()
def ingest(sources: SourcesArg = None, feeds: FeedsOption = None, at: AtOption = None,
           no_config: NoConfigOption = False) -> None:
    """Fetch and store articles from the configured feeds and any given sources."""
    from pipeline.run import ingest as ingest_stage

    _print_result(ingest_stage(_settings(), at=parse_instant(at),
                               extra_sources=[*(feeds or []), *(sources or [])],
                               use_config=not no_config, on_feed=_feed_line))


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV/JSONL archives of headlines.")],
    timezone: Annotated[Optional[str], typer.Option(
        help="IANA zone for dates without one (default UTC), e.g. America/New_York.")] = None,
) -> None:
    """Import historical headlines (backfill): columns title/headline and date/published, optional url, summary, id, source.

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
    _print_result(ingest_stage(_settings(), at=datetime.now(UTC), extra_sources=sources,
                               use_config=False, on_feed=_feed_line))


@app.command()
def score(at: AtOption = None, model: Annotated[Optional[str], typer.Option(
        help="Model: 'production', a registry version, a local dir or a hub id.")] = None,
          backend: Annotated[Optional[str], typer.Option(
        help="torch | onnx-int8 | onnx-fp32 (default TONEWATCH_SCORING_BACKEND, else torch).")] = None,
          ) -> None:
    """Score every stored article that lacks a score from the model."""
    from pipeline.run import score as score_stage

    from pipeline.scoring.backends import BACKENDS

    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: use one of {', '.join(BACKENDS)}")
    settings = load_settings(scoring_backend=backend)
    _print_result(score_stage(settings, at=parse_instant(at), model=model,
                              progress=sys.stderr.isatty(), on_progress=_score_progress()))


@app.command()
def rescore(
    model: Annotated[str, typer.Option(help="Candidate: a registry version, a local dir or a hub id.")],
    since: Annotated[Optional[str], typer.Option(help="Only articles published since (ISO date, UTC).")] = None,
    until: Annotated[Optional[str], typer.Option(
        help="Only articles published before, and last alert window replayed (ISO, UTC); default now.")] = None,
    against: Annotated[Optional[str], typer.Option(
        help="Version to compare with (default: the one detection uses, i.e. production's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The comparison as one JSON object on stdout.")] = False,
) -> None:
    """Score stored articles with another model version and show how labels and alerts would change.

    Earlier versions' scores are kept; detection keeps using production's until a promotion.
    """
    from pipeline.shadow import rescore as rescore_versions

    start = parse_instant(since, "--since") if since else None
    end = parse_instant(until, "--until") if until else None
    result, report = rescore_versions(_settings(), model=model, at=datetime.now(UTC), since=start,
                                      until=end, against=against, progress=sys.stderr.isatty(),
                                      on_progress=_score_progress())
    candidate = result.counts["model_version"]
    if report is None:
        _print_result(result)
        err.print("nothing to compare with: no other model version has scores", highlight=False)
        return
    against = report.baseline
    if as_json:
        sys.stdout.write(json.dumps({"rescore": result.counts, **report.to_dict()}) + "\n")
        return
    _print_result(result)
    n = report.articles_compared
    out.print(f"shadow comparison on {n} articles{f' since {since}' if since else ''}: "
              f"{report.labels_changed} labels change ({report.labels_changed / n:.1%})" if n else
              "shadow comparison: no article scored by both versions")
    table = Table(f"{against} \\ {candidate}", *LABELS)
    for label in LABELS:
        table.add_row(label, *(str(report.transitions[label][b]) for b in LABELS))
    out.print(table)
    out.print(f"negative share: {report.negative_share[against]:.1%} → "
              f"{report.negative_share[candidate]:.1%}")
    out.print(f"alerts over {report.windows_replayed} daily windows: {report.alerts_baseline} with "
              f"{against}, {report.alerts_candidate} with {candidate}")
    for title, items in (("only with " + against, report.only_baseline),
                         ("only with " + candidate, report.only_candidate)):
        for rule, scope, entity, end in items[:20]:
            out.print(f"  {title}: {rule} {scope}={entity} window ending {end[:16]}", highlight=False)
        if len(items) > 20:
            out.print(f"  {title}: ... and {len(items) - 20} more")


@app.command()
def detect(
    at: AtOption = None,
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="Evaluate every daily window (UTC midnights) from --since, or from the "
                           "earliest stored article, up to --at; records alerts without "
                           "queueing notifications.")] = False,
    since: Annotated[Optional[str], typer.Option(help="Backfill start (ISO-8601).")] = None,
) -> None:
    """Evaluate the alert rules over the window(s) ending at the run instant."""
    from pipeline.run import backfill_instants
    from pipeline.run import detect as detect_stage

    settings = _settings()
    until = parse_instant(at)
    if not backfill:
        _print_result(detect_stage(settings, at=until))
        return
    instants = backfill_instants(settings, since=parse_instant(since, "--since") if since else None, until=until)
    totals: dict[str, int] = {}
    for instant in instants:
        result = detect_stage(settings, at=instant, enqueue=False)
        for message in result.messages:
            out.print(f"  {message}", highlight=False)
        for key, value in result.counts.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    totals = {"windows": len(instants), **totals}
    out.print("detect  backfill " + " ".join(f"{k}={v}" for k, v in totals.items()), highlight=False)


@app.command()
def notify(
    at: AtOption = None,
    test: Annotated[Optional[str], typer.Option(
        "--test", help="Send a test message to this receiver (console, email, slack) and exit.")] = None,
) -> None:
    """Deliver pending alert notifications (or a test message with --test)."""
    from pipeline.alerting.notifiers import Message, configured_notifiers
    from pipeline.run import notify as notify_stage

    settings = _settings()
    if test:
        notifiers = configured_notifiers(settings)
        if test not in notifiers:
            raise ConfigError(f"receiver {test!r} is not configured (available: {sorted(notifiers)})")
        notifiers[test].send(Message("tonewatch test message",
                                     f"Test notification from tonewatch {__version__}."))
        out.print(f"test message sent to {test}")
        return
    _print_result(notify_stage(settings, at=parse_instant(at)))


@app.command()
def feeds() -> None:
    """Show the health of every feed seen so far."""
    from pipeline.storage.db import connect

    with connect(_settings().db_path, read_only=True) as con:
        frame = con.execute(
            "SELECT name, last_status, http_status, entries_seen, entries_new, entries_dropped,"
            " consecutive_failures, last_attempt_at, last_success_at, error_class, error_message,"
            " warnings FROM feeds ORDER BY name").df()
    table = Table("feed", "status", "http", "seen", "new", "drop", "fails", "last attempt (UTC)",
                  "last success (UTC)", "error / warnings")
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "ellipsis"
    widths = [(20, 36), (14, 14), (4, 4), (4, 5), (4, 5), (4, 4), (5, 5), (16, 16), (16, 16), (20, 70)]
    for column, (low, high) in zip(table.columns, widths, strict=True):
        column.min_width, column.max_width = low, high
    frame = frame.astype(object).where(frame.notna(), None)

    def when(value) -> str:
        return "" if value is None else f"{value:%Y-%m-%d %H:%M}"

    for r in frame.to_dict("records"):
        problem = (f"{r['error_class']}: {r['error_message']}" if r["error_class"]
                   else f"warning: {r['warnings']}" if r["warnings"] else "")
        table.add_row(str(r["name"])[:50], str(r["last_status"] or ""),
                      "" if r["http_status"] is None else str(int(r["http_status"])),
                      str(r["entries_seen"] or 0), str(r["entries_new"] or 0),
                      str(r["entries_dropped"] or 0), str(r["consecutive_failures"] or 0),
                      when(r["last_attempt_at"]), when(r["last_success_at"]), problem[:120])
    out.print(table)


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL file or folder.")],
    name: Annotated[str, typer.Option(help="Registry name of the model family.")] = "tonewatch-minilm",
    base: Annotated[str, typer.Option(help="Base encoder: local dir or hub id; empty = embedded MiniLM.")] = "",
    config: Annotated[Optional[Path], typer.Option(help="Training arguments as JSON.")] = None,
    text_col: Annotated[Optional[str], typer.Option(help="Text column if not text/sentence/...")] = None,
    label_map: Annotated[Optional[str], typer.Option(help="e.g. 0=negative,1=positive,2=neutral")] = None,
    peft: Annotated[Optional[str], typer.Option(
        help="'lora' trains low-rank adapters instead of all weights (overrides the config).")] = None,
    promote: Annotated[bool, typer.Option(help="Promote the new model to production (canary must pass).")] = False,
) -> None:
    """Fine-tune a model and register it as a candidate."""
    from pipeline.training.datasets import parse_label_map
    from pipeline.training.finetune import TrainingArguments
    from pipeline.training.registry import Registry
    from pipeline.training.train import train_model

    settings = _settings()
    args = TrainingArguments.from_json(config) if config else TrainingArguments()
    if peft is not None:
        args = TrainingArguments(**{**args.to_dict(), "peft": peft})
    registry = Registry(settings.model_registry)
    record = train_model(data=data, base=base or settings.base_model, name=name, registry=registry,
                         now=datetime.now(UTC), args=args, text_col=text_col,
                         label_map=parse_label_map(label_map))
    if promote:
        from pipeline.training.train import promote_model

        record, canary = promote_model(registry, record.model_version)
        out.print(canary.summary())
    m = record.metrics
    out.print(f"registered {record.model_version} ({record.stage}) at {record.path}: "
              f"validation accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, n={m['n']}")


@app.command()
def evaluate(
    model: Annotated[str, typer.Option(help="'production', a registry version, a dir or a hub id.")],
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL file or folder.")],
    label_map: Annotated[Optional[str], typer.Option(help="e.g. 0=negative,1=positive,2=neutral")] = None,
    text_col: Annotated[Optional[str], typer.Option(help="Text column name.")] = None,
    model_labels: Annotated[Optional[str], typer.Option(
        help="Model output labels when id2label says LABEL_0..: LABEL_0=negative,LABEL_1=neutral,...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Measure a model on labelled data: accuracy, macro-F1, per-class scores, confusion."""
    from pipeline.run import load_classifier
    from pipeline.scoring.canary import run_canary
    from pipeline.training.datasets import load_labelled, parse_label_map
    from pipeline.training.evaluate import evaluate_classifier

    settings = _settings()
    frame = load_labelled(data, text_col=text_col, label_map=parse_label_map(label_map))
    # Evaluation measures any model, including one that fails the canary (reported, not refused).
    classifier = load_classifier(settings, model, canary=False, model_labels=model_labels)
    metrics = evaluate_classifier(classifier, frame)
    canary = run_canary(classifier)
    metrics["canary"] = {"correct": canary.correct, "total": canary.total, "passed": canary.passed}
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
        return
    out.print(f"model {metrics['model_version']} on {data} (n={metrics['n']})")
    out.print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
              f"majority baseline {metrics['majority_baseline_accuracy']:.4f}  "
              f"{metrics['sentences_per_s']} sentences/s")
    out.print(canary.summary(), highlight=False)
    table = Table("class", "precision", "recall", "f1", "support")
    for label, v in metrics["per_class"].items():
        table.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    out.print(table)
    cm = Table("true \\ predicted", "negative", "neutral", "positive")
    for label, row in zip(("negative", "neutral", "positive"), metrics["confusion"], strict=True):
        cm.add_row(label, *map(str, row))
    out.print(cm)


@silence_app.command("add")
def silence_add(
    match: Annotated[list[str], typer.Option("--match", help="Label matcher, repeatable: "
                                             "entity=ACME, scope!=market, rule=~ticker.*")],
    author: Annotated[str, typer.Option(help="Who mutes (kept for audit).")],
    comment: Annotated[str, typer.Option(help="Why (kept for audit).")],
    duration: Annotated[str, typer.Option(help="How long: 30m, 12h, 2d, 1w.")] = "1d",
    starts: Annotated[Optional[str], typer.Option(help="Start (ISO, UTC); default now.")] = None,
) -> None:
    """Mute notifications of alerts whose labels (rule, scope, entity, severity) match."""
    from pipeline.alerting.silences import parse_matcher
    from pipeline.detection.rules import parse_duration
    from pipeline.storage.db import connect
    from pipeline.storage.silences import add_silence

    matchers = [parse_matcher(m) for m in match]
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise ConfigError(f"--duration {duration!r}: {exc}") from exc
    now = datetime.now(UTC)
    start = parse_instant(starts, "--starts") if starts else now
    with connect(_settings().db_path) as con:
        silence_id = add_silence(con, matchers, starts_at=start, ends_at=start + length,
                                 author=author, comment=comment, now=now)
    out.print(f"silence {silence_id}: {', '.join(map(str, matchers))} until "
              f"{start + length:%Y-%m-%d %H:%M} UTC", highlight=False)


@silence_app.command("list")
def silence_list(all_: Annotated[bool, typer.Option("--all", help="Include ended silences.")] = False) -> None:
    """Show active and future silences (with --all, ended ones too)."""
    from pipeline.storage.db import connect
    from pipeline.storage.silences import list_silences

    now = datetime.now(UTC)
    with connect(_settings().db_path) as con:
        frame = list_silences(con, at=now, include_ended=all_)
    table = Table("id", "matchers", "starts (UTC)", "ends (UTC)", "state", "author", "comment")
    for r in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        matchers = ", ".join(f"{m['label']}{m['op']}{m['value']}" for m in json.loads(r["matchers"]))
        ended = r["expired_at"] or (r["ends_at"] if r["ends_at"] <= now else None)
        state = ("expired" if r["expired_at"] else "ended") if ended else (
            "pending" if r["starts_at"] > now else "active")
        table.add_row(r["silence_id"], matchers, f"{r['starts_at']:%Y-%m-%d %H:%M}",
                      f"{r['ends_at']:%Y-%m-%d %H:%M}", state, r["author"], r["comment"])
    out.print(table)


@silence_app.command("expire")
def silence_expire(silence_id: Annotated[str, typer.Argument(help="Id from `tonewatch silence list`.")]) -> None:
    """End a silence now (it stays listed with --all, for audit)."""
    from pipeline.storage.db import connect
    from pipeline.storage.silences import expire_silence

    with connect(_settings().db_path) as con:
        expire_silence(con, silence_id, datetime.now(UTC))
    out.print(f"silence {silence_id} expired")


@model_app.command("list")
def model_list() -> None:
    """List registered model versions."""
    from pipeline.training.registry import Registry

    table = Table("model_version", "stage", "created (UTC)", "val accuracy", "val macro-F1")
    for r in Registry(_settings().model_registry).list():
        table.add_row(r.model_version, r.stage, r.created_at[:19],
                      f"{r.metrics.get('accuracy', float('nan')):.3f}",
                      f"{r.metrics.get('macro_f1', float('nan')):.3f}")
    out.print(table)


@model_app.command("show")
def model_show(version: Annotated[str, typer.Argument(help="Version or 'production'.")] = "production") -> None:
    """Show one model version's registry record."""
    from pipeline.training.registry import Registry

    record = Registry(_settings().model_registry).get(version)
    out.print_json(data={**record.info, "path": str(record.path)})


@model_app.command("promote")
def model_promote(version: Annotated[str, typer.Argument(help="Version to promote.")]) -> None:
    """Make a version the production model (the previous one is archived)."""
    from pipeline.training.registry import Registry

    from pipeline.training.train import promote_model

    record, canary = promote_model(Registry(_settings().model_registry), version)
    out.print(f"{canary.summary()}; {record.model_version} is now production")


@model_app.command("export-onnx")
def model_export_onnx(version: Annotated[str, typer.Argument(help="Version or 'production'.")] = "production") -> None:
    """Export a version to ONNX (float32 and int8) next to it in the registry, checked against PyTorch."""
    from pipeline.scoring.onnx_export import export_model

    report = export_model(_settings(), version, note=lambda line: err.print(line, highlight=False))
    int8 = report["checks"]["onnx-int8"]
    if not int8["passed"]:
        raise TonewatchError(f"int8 export in {report['path']} failed its check against PyTorch "
                             f"(label agreement {int8['label_agreement']:.1%}); "
                             "use TONEWATCH_SCORING_BACKEND=onnx-fp32 or torch")
    out.print(f"exported to {report['path']}: onnx-fp32 and onnx-int8 checked; score with "
              "TONEWATCH_SCORING_BACKEND=onnx-int8 (or tonewatch score --backend onnx-int8)")


@model_app.command("ensure-default")
def model_ensure_default() -> None:
    """Build the default model (embedded MiniLM fine-tuned on models/corpus) unless one exists."""
    from pipeline.training.registry import Registry
    from pipeline.training.train import ensure_default_model

    settings = _settings()
    registry = Registry(settings.model_registry)
    try:
        record = registry.get("production")
        out.print(f"production model: {record.model_version} ({record.path})")
        return
    except TonewatchError:
        pass
    err.print(f"no production model in {registry.root}: fine-tuning the default model "
              f"on {settings.corpus_dir} (about 11 minutes on 2 CPU cores with bf16 "
              f"instructions, 24 without; progress below)...", highlight=False)
    record, _ = ensure_default_model(registry=registry, corpus=settings.corpus_dir,
                                     base=settings.base_model, now=datetime.now(UTC))
    m = record.metrics
    out.print(f"built and promoted {record.model_version}: validation accuracy "
              f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} (n={m['n']})")


@app.command()
def dashboard(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)] = 8501,
              address: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1") -> None:
    """Serve the Streamlit dashboard (blocks until interrupted)."""
    app_file = Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py"
    if not app_file.exists():
        raise ConfigError(f"dashboard not found at {app_file} (run from a source checkout)")
    out.print(f"tonewatch dashboard: http://{address}:{port}/  (Ctrl-C to stop)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.headless", "true",
           "--server.address", address, "--server.port", str(port),
           "--browser.gatherUsageStats", "false"]
    sys.stdout.flush()
    # Replace this process with the server (same pid), so a supervisor's SIGTERM or Ctrl-C
    # reaches streamlit itself instead of orphaning it on the port.
    os.execv(sys.executable, cmd)


def main() -> None:
    """Console-script entry point: one line per expected error, exit status 1."""
    try:
        app()
    except TonewatchError as exc:
        err.print(f"tonewatch: error: {exc}", highlight=False, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("tonewatch: interrupted", highlight=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
