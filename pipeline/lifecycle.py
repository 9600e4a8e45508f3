"""Replace the quick first model with the full default model, through the normal life cycle.

A new installation scores with the quick first model (built in minutes by
``tonewatch model ensure-default --quick``). :func:`upgrade_default_model` then builds the full
default model and takes it through the steps a person would: register it as a candidate, rescore
the stored articles with it and compare (a shadow rescore, :func:`pipeline.shadow.rescore`),
promote it when it is better and passes the canary, and replay detection so that alerts follow
the new scores. Each step is written to the build status file
(:mod:`pipeline.training.status`) that ``tonewatch model status`` and the dashboard read.

It is idempotent: a full model registered by an earlier, interrupted call (same corpus, same
recipe) is reused instead of trained again, and a promoted one ends the work at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pipeline.config import Settings
from pipeline.errors import ModelNotFoundError, TonewatchError
from pipeline.registry import DEFAULT_NAME, ModelRecord, Registry

log = logging.getLogger("tonewatch")


@dataclass
class UpgradeOutcome:
    """What :func:`upgrade_default_model` did.

    Attributes:
        action: ``nothing`` (production is already a full model), ``promoted`` or ``kept``
            (the candidate was not better, or failed the canary).
        production: the production version afterwards.
        candidate: the full model's version (None when nothing was built).
        message: one line for people.
        labels_changed, articles_compared: from the shadow comparison (0 when none ran).
    """

    action: str
    production: str | None
    candidate: str | None
    message: str
    labels_changed: int = 0
    articles_compared: int = 0


def is_quick(record: ModelRecord | None) -> bool:
    """Whether ``record`` is a quick first model (``info["recipe"] == "quick"``)."""
    return record is not None and record.info.get("recipe") == "quick"


def _production(registry: Registry) -> ModelRecord | None:
    try:
        return registry.get("production")
    except ModelNotFoundError:
        return None


def reusable_full_model(registry: Registry, data_hash: str | None) -> ModelRecord | None:
    """The newest registered full-recipe default model trained on data with ``data_hash``
    (None: any data), or None: what an interrupted upgrade already built."""
    found = [r for r in registry.list() if r.name == DEFAULT_NAME
             and r.info.get("recipe") == "full" and r.stage != "archived"
             and (data_hash is None or r.info.get("data_hash") == data_hash)]
    return max(found, key=lambda r: r.model_version) if found else None


def better(candidate: ModelRecord, production: ModelRecord) -> tuple[bool, str]:
    """Whether ``candidate`` should replace ``production``, and why (one line).

    Rule: a higher macro-F1 on the article-level rows of the corpus validation split (both
    models record it as ``metrics``, measured on the same rows: the corpus's own split column);
    equal or lower keeps production.
    """
    new, old = candidate.metrics.get("macro_f1"), production.metrics.get("macro_f1")
    if new is None or old is None:
        return False, "no validation macro-F1 to compare"
    if new > old:
        return True, f"validation macro-F1 {new:.3f} against {old:.3f}"
    return False, f"validation macro-F1 {new:.3f}, not above production's {old:.3f}"


def upgrade_default_model(settings: Settings, *, now, progress: bool = False,
                          log_file: str | None = None) -> UpgradeOutcome:
    """Build the full default model and put it in production if it beats the quick one.

    Steps, each recorded in the build status: fine-tuning (or reuse of an already registered
    full model), canary, rescoring stored articles with the candidate and comparing labels and
    alerts with production, promotion, alert replay. Production is left alone when it is not a
    quick model (a person's choice stays), when the candidate is not better (see
    :func:`better`) or when it fails the canary; the status says which.

    Args:
        settings: settings (registry, corpus, data dir).
        now: a callable returning the current instant (UTC); called for each step.
        progress: show progress bars on the terminal.
        log_file: the log this build writes to, shown in the status.

    Returns:
        an :class:`UpgradeOutcome`.

    Raises:
        TonewatchError (and subclasses): training, rescoring or promotion failed; the status
            file says ``failed`` with the same message, the production model is unchanged.
    """
    from pipeline.run import detect_backfill
    from pipeline.scoring.fast_backends import prepare_after_build
    from pipeline.scoring.onnx_check import ONNX_DIR, REPORT
    from pipeline.shadow import rescore
    from pipeline.training.status import StatusWriter
    from pipeline.training.datasets import data_hash, load_labelled
    from pipeline.training.train import promote_model, train_model

    registry = Registry(settings.model_registry)
    production = _production(registry)
    if production is not None and not is_quick(production):
        return UpgradeOutcome("nothing", production.model_version, None,
                              f"production is {production.model_version}, a full model: nothing to do")
    status = StatusWriter(registry.root, DEFAULT_NAME, log=log_file)
    try:
        if production is None:  # nothing to compare with: build, canary, promote
            status.phase("fine-tuning the full default model")
            record, _ = _bootstrap(registry, settings, now, progress, status.step_callback())
            status.finish("promoted", f"built and promoted {record.model_version}",
                          model_version=record.model_version)
            return UpgradeOutcome("promoted", record.model_version, record.model_version,
                                  status.status.message)
        corpus = load_labelled(settings.corpus_dir)  # read once: its hash, then its parity texts
        candidate = reusable_full_model(registry, data_hash(corpus))
        if candidate is None:
            status.phase("fine-tuning the full default model")
            candidate = train_model(data=settings.corpus_dir, base=settings.base_model,
                                    name=DEFAULT_NAME, registry=registry, now=now(),
                                    progress=progress, recipe="full",
                                    on_step=status.step_callback(), fast_backends=False)
        if not (candidate.path / ONNX_DIR / REPORT).exists():  # also after a crash right here
            status.phase("preparing the fast scoring backends (ONNX)",
                         model_version=candidate.model_version)
            prepare_after_build(candidate.path, validation_texts(corpus))
        status.phase("rescoring stored articles with the candidate",
                     model_version=candidate.model_version)
        _, report = rescore(settings, model=candidate.model_version, at=now(),
                            progress=progress, on_progress=status.step_callback())
        changed = report.labels_changed if report else 0
        compared = report.articles_compared if report else 0
        wins, why = better(candidate, production)
        if not wins:
            message = f"kept {production.model_version}: {why}"
            status.finish("kept production", message, model_version=candidate.model_version)
            return UpgradeOutcome("kept", production.model_version, candidate.model_version,
                                  message, changed, compared)
        status.phase("canary and promotion")
        try:
            promote_model(registry, candidate.model_version)
        except TonewatchError as exc:  # a failed canary keeps production
            message = f"kept {production.model_version}: {candidate.model_version} {exc}"
            status.finish("kept production", message, model_version=candidate.model_version)
            return UpgradeOutcome("kept", production.model_version, candidate.model_version,
                                  message, changed, compared)
        status.phase("replaying detection with the new scores")
        detect_backfill(settings, since=None, until=now())
        message = (f"promoted {candidate.model_version} over the quick model "
                   f"{production.model_version} ({why}); {changed} of {compared} stored "
                   "articles changed label")
        status.finish("promoted", message, model_version=candidate.model_version)
        return UpgradeOutcome("promoted", candidate.model_version, candidate.model_version,
                              message, changed, compared)
    except BaseException as exc:
        status.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise


def _bootstrap(registry, settings, now, progress, on_step):
    """Build and promote the full default model on an empty registry."""
    from pipeline.training.train import promote_model, train_model

    record = train_model(data=settings.corpus_dir, base=settings.base_model, name=DEFAULT_NAME,
                         registry=registry, now=now(), progress=progress, recipe="full",
                         on_step=on_step)
    return promote_model(registry, record.model_version)


def validation_texts(frame) -> list[str]:
    """The article-level validation sentences of a loaded corpus (its ``split`` column), the
    parity texts of :func:`pipeline.scoring.fast_backends.prepare_after_build`."""
    rows = frame["split"].eq("validation") if "split" in frame.columns else frame.index >= 0
    if "target" in frame.columns:
        rows &= frame["target"].isna()
    return frame.loc[rows, "text"].tolist()
