"""Model commands: train, evaluate, rescore (shadow comparison) and the ``model`` registry group."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pipeline.cli.common import err, now, out, print_result, score_progress, settings
from pipeline.domain import LABELS, parse_instant
from pipeline.errors import ConfigError, TonewatchError

model_app = typer.Typer(help="Model registry: list, show, promote, build the default, export to ONNX.",
                        no_args_is_help=True)


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
    from pipeline.registry import Registry
    from pipeline.training.arguments import TrainingArguments
    from pipeline.training.datasets import parse_label_map
    from pipeline.training.train import train_model

    current = settings()
    args = TrainingArguments.from_json(config) if config else TrainingArguments()
    if peft is not None:
        args = TrainingArguments(**{**args.to_dict(), "peft": peft})
    registry = Registry(current.model_registry)
    record = train_model(data=data, base=base or current.base_model, name=name, registry=registry,
                         now=now(), args=args, text_col=text_col,
                         label_map=parse_label_map(label_map))
    if promote:
        from pipeline.training.train import promote_model

        record, canary = promote_model(registry, record.model_version)
        out.print(canary.summary())
    m = record.metrics
    out.print(f"registered {record.model_version} ({record.stage}) at {record.path}: "
              f"validation accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, n={m['n']}")


def evaluate(
    model: Annotated[str, typer.Option(help="'production', a registry version, a dir or a hub id.")],
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL file or folder.")],
    label_map: Annotated[Optional[str], typer.Option(help="e.g. 0=negative,1=positive,2=neutral")] = None,
    text_col: Annotated[Optional[str], typer.Option(help="Text column name.")] = None,
    entity_col: Annotated[Optional[str], typer.Option(
        help="Company column: evaluate labels toward each row's company (company-level), "
             "next to the article-level label applied to every company.")] = None,
    split: Annotated[Optional[str], typer.Option(
        help="Only rows of this split (train or validation) when the data has a split column.")] = None,
    model_labels: Annotated[Optional[str], typer.Option(
        help="Model output labels when id2label says LABEL_0..: LABEL_0=negative,LABEL_1=neutral,...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Measure a model on labelled data: accuracy, macro-F1, per-class scores, confusion."""
    from pipeline.run import load_classifier
    from pipeline.scoring.canary import run_canary
    from pipeline.training.datasets import load_labelled, parse_label_map
    from pipeline.training.evaluate import evaluate_classifier

    frame = load_labelled(data, text_col=text_col, label_map=parse_label_map(label_map),
                          target_col=entity_col)
    if split is not None:
        if "split" not in frame.columns:
            raise ConfigError(f"--split {split}: {data} has no split column")
        present = sorted(frame["split"].dropna().astype(str).unique())
        frame = frame[frame["split"] == split]
        if frame.empty:
            raise ConfigError(f"--split {split}: no rows of that split in {data} (splits there: "
                              f"{', '.join(present) or 'none'})")
    # Evaluation measures any model, including one that fails the canary (reported, not refused).
    classifier = load_classifier(settings(), model, canary=False, model_labels=model_labels)
    if entity_col is not None:
        _evaluate_entities(classifier, frame, data, as_json)
        return
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
    if metrics.get("calibration"):
        cal = metrics["calibration"]
        out.print(f"expected calibration error {cal['ece']:.4f} (top label, {cal['n_bins']} "
                  "equal-width confidence bins; 0 = probabilities mean what they say); "
                  f"temperature {cal['temperature']:.3f}, "
                  f"{cal['ece_uncalibrated']:.4f} without it", highlight=False)
    out.print(canary.summary(), highlight=False)
    table = Table("class", "precision", "recall", "f1", "support")
    for label, v in metrics["per_class"].items():
        table.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    out.print(table)
    cm = Table("true \\ predicted", *LABELS)
    for label, row in zip(LABELS, metrics["confusion"], strict=True):
        cm.add_row(label, *map(str, row))
    out.print(cm)


def _evaluate_entities(classifier, frame, data: Path, as_json: bool) -> None:
    """``evaluate --entity-col``: company-level figures next to the article-level baseline."""
    from pipeline.training.evaluate import evaluate_entities

    blank = int(frame["target"].isna().sum())
    frame = frame[frame["target"].notna()]
    if frame.empty:
        raise ConfigError(f"{data}: no row names a company in the entity column")
    if blank:
        # Said, not silent: an empty entity cell is an article-level row, not a company one.
        err.print(f"{blank} of {blank + len(frame)} rows left out: their entity cell is empty",
                  highlight=False)
    from pipeline.scoring.canary import run_target_canary

    report = evaluate_entities(classifier, frame)
    chosen = report["entity"] or report["article_baseline"]
    canary = run_target_canary(classifier) if report["entity"] is not None else None
    if as_json:
        line = {"accuracy": chosen["accuracy"], "macro_f1": chosen["macro_f1"],
                "rows_without_entity": blank,
                "conflicting": {k: v for k, v in (chosen["conflicting"] or {}).items() if k != "n"},
                "targeted": report["entity"] is not None, **report}
        if canary is not None:
            line["company_canary"] = {"correct": canary.correct, "total": canary.total,
                                      "passed": canary.passed}
        sys.stdout.write(json.dumps(line) + "\n")
        return
    out.print(f"model {report['model_version']} on {data}: {report['n']} (text, company) rows, "
              f"{report['n_conflicting']} on headlines judging their companies differently")
    if canary is not None:
        out.print(f"company-level {canary.summary()}", highlight=False)
    if report["entity"] is None:
        out.print("this model has no company-level output: only the article-level baseline is shown")
    table = Table("prediction", "accuracy", "macro-F1", "conflicting accuracy", "conflicting macro-F1")
    for name, m in (("company-level (text, company)", report["entity"]),
                    ("article-level label for every company", report["article_baseline"])):
        if m is None:
            continue
        c = m["conflicting"] or {}
        table.add_row(name, f"{m['accuracy']:.4f}", f"{m['macro_f1']:.4f}",
                      f"{c['accuracy']:.4f}" if c else "-", f"{c['macro_f1']:.4f}" if c else "-")
    out.print(table)
    cm = Table("true \\ predicted (company-level)" if report["entity"] else "true \\ predicted", *LABELS)
    for label, row in zip(LABELS, chosen["confusion"], strict=True):
        cm.add_row(label, *map(str, row))
    out.print(cm)


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

    # An absent --until is the run instant (now): pipeline.shadow.rescore's own default.
    result, report = rescore_versions(
        settings(), model=model, at=now(), since=parse_instant(since, "--since"),
        until=parse_instant(until, "--until"), against=against, progress=sys.stderr.isatty(),
        on_progress=score_progress())
    candidate = result.counts["model_version"]
    if report is None:
        print_result(result)
        err.print("nothing to compare with: no other model version has scores", highlight=False)
        return
    baseline = report.baseline
    if as_json:
        sys.stdout.write(json.dumps({"rescore": result.counts, **report.to_dict()}) + "\n")
        return
    print_result(result)
    n = report.articles_compared
    out.print(f"shadow comparison on {n} articles{f' since {since}' if since else ''}: "
              f"{report.labels_changed} labels change ({report.labels_changed / n:.1%})" if n else
              "shadow comparison: no article scored by both versions")
    table = Table(f"{baseline} \\ {candidate}", *LABELS)
    for label in LABELS:
        table.add_row(label, *(str(report.transitions[label][b]) for b in LABELS))
    out.print(table)
    out.print(f"negative share: {report.negative_share[baseline]:.1%} → "
              f"{report.negative_share[candidate]:.1%}")
    out.print(f"alerts over {report.windows_replayed} daily windows: {report.alerts_baseline} with "
              f"{baseline}, {report.alerts_candidate} with {candidate}")
    for title, items in (("only with " + baseline, report.only_baseline),
                         ("only with " + candidate, report.only_candidate)):
        for rule, scope, entity, end in items[:20]:
            out.print(f"  {title}: {rule} {scope}={entity} window ending {end[:16]}", highlight=False)
        if len(items) > 20:
            out.print(f"  {title}: ... and {len(items) - 20} more")


@model_app.command("list")
def model_list() -> None:
    """List registered model versions."""
    from pipeline.registry import Registry

    table = Table("model_version", "stage", "created (UTC)", "val accuracy", "val macro-F1")
    for r in Registry(settings().model_registry).list():
        table.add_row(r.model_version, r.stage, r.created_at[:19],
                      f"{r.metrics.get('accuracy', float('nan')):.3f}",
                      f"{r.metrics.get('macro_f1', float('nan')):.3f}")
    out.print(table)


@model_app.command("show")
def model_show(version: Annotated[str, typer.Argument(help="Version or 'production'.")] = "production") -> None:
    """Show one model version's registry record."""
    from pipeline.registry import Registry

    record = Registry(settings().model_registry).get(version)
    out.print_json(data={**record.info, "path": str(record.path)})


@model_app.command("promote")
def model_promote(version: Annotated[str, typer.Argument(help="Version to promote.")]) -> None:
    """Make a version the production model (the previous one is archived)."""
    from pipeline.registry import Registry
    from pipeline.training.train import promote_model

    record, canary = promote_model(Registry(settings().model_registry), version)
    out.print(f"{canary.summary()}; {record.model_version} is now production")


@model_app.command("export-onnx")
def model_export_onnx(version: Annotated[str, typer.Argument(help="Version or 'production'.")] = "production") -> None:
    """Export a version to ONNX (float32 and int8), check both against PyTorch and time them (model builds do this themselves)."""
    from pipeline.scoring.fast_backends import export_model

    report = export_model(settings(), version, note=lambda line: err.print(line, highlight=False))
    failed = [name for name, check in report["checks"].items() if not check["passed"]]
    out.print(f"exported to {report['path']}: "
              + (f"{', '.join(failed)} failed its check against PyTorch; " if failed else "")
              + f"the auto backend scores this version with {report['auto']}")


@model_app.command("ensure-default")
def model_ensure_default(
    quick: Annotated[bool, typer.Option(
        "--quick", help="Build the quick first model (a few minutes on any CPU) rather than the "
                        "full one; then `tonewatch model upgrade` builds the full model and "
                        "promotes it if it is better.")] = False,
) -> None:
    """Build the default model (embedded MiniLM fine-tuned on models/corpus) unless one exists."""
    from pipeline.registry import Registry
    from pipeline.training.train import ensure_default_model

    config = settings()
    registry = Registry(config.model_registry)
    try:
        record = registry.get("production")
        recipe = record.info.get("recipe")
        out.print(f"production model: {record.model_version}"
                  f"{' (quick first model)' if recipe == 'quick' else ''} ({record.path})")
        return
    except TonewatchError:
        pass
    what = ("the quick first model (about 3 minutes on 2 CPU cores)" if quick else
            "the default model (about 22 minutes on 2 idle CPU cores with bf16 instructions, "
            "about 50 without)")
    err.print(f"no production model in {registry.root}: fine-tuning {what} on "
              f"{config.corpus_dir}; progress below...", highlight=False)
    record, _ = ensure_default_model(registry=registry, corpus=config.corpus_dir,
                                     base=config.base_model, now=now(), quick=quick)
    m = record.metrics
    out.print(f"built and promoted {record.model_version}: validation accuracy "
              f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} (n={m['n']})")
