"""
### tonewatch_train

Manual run: **fine-tune → evaluate** a sentiment model and register it as a *candidate*, as
`tonewatch train` and `tonewatch evaluate` do. Promotion stays a human step
(`tonewatch model promote VERSION`, which runs the canary again); this DAG never promotes.

- `train` calls `pipeline.training.train.train_model`: fine-tunes the base encoder on the
  labelled data, measures the held-out validation split and registers the result in
  `TONEWATCH_MODEL_REGISTRY`. XCom: the new version and its validation accuracy / macro-F1.
- `evaluate` calls `pipeline.training.train.evaluate_candidate`: runs the canary set and, when
  `eval_data` is given, measures that labelled file; both are stored in the version's
  `registry.json`. XCom: counts and scores only.

**Params**: `data` (labelled CSV/TSV/JSONL file or folder on the worker; empty = the project
corpus, `TONEWATCH_CORPUS_DIR`), `base` (encoder directory or hub id; empty = the configured base),
`name` (registry family), `config` (a `TrainingArguments` JSON file; empty = defaults), `peft`
(`lora` or empty), `eval_data` (labelled file for the evaluation step; empty = canary only),
`label_map` (e.g. `0=negative,1=neutral,2=positive`, for both files).

    airflow dags trigger tonewatch_train --conf '{"data": "/data/labelled/2026-q1.csv", "eval_data": "/data/labelled/holdout.csv"}'

The registration instant (part of the version id) is the run's data interval end, else its
trigger time. Neither task writes DuckDB, so neither takes the DuckDB pool; both run on
`TONEWATCH_TRAIN_QUEUE` (default: `TONEWATCH_SCORE_QUEUE`, e.g. `gpu`) when set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

TRAIN_QUEUE: str | None = (
    os.environ.get("TONEWATCH_TRAIN_QUEUE", "").strip()
    or os.environ.get("TONEWATCH_SCORE_QUEUE", "").strip()
    or None
)
_train_queue: dict[str, Any] = {"queue": TRAIN_QUEUE} if TRAIN_QUEUE else {}


@dag(
    dag_id="tonewatch_train",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["tonewatch", "model", "training"],
    default_args={
        "owner": "tonewatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=1),
    },
    params={
        "data": Param("", type="string", description="Labelled file or folder; empty = project corpus."),
        "base": Param("", type="string", description="Base encoder dir or hub id; empty = configured base."),
        "name": Param("tonewatch-minilm", type="string", minLength=1, description="Registry family name."),
        "config": Param("", type="string", description="TrainingArguments JSON file; empty = defaults."),
        "peft": Param("", type="string", enum=["", "lora"], description="'lora' = low-rank adapters."),
        "eval_data": Param("", type="string", description="Labelled file to evaluate on; empty = canary only."),
        "label_map": Param("", type="string", description="Integer labels, e.g. 0=negative,1=neutral,2=positive."),
    },
)
def tonewatch_train() -> None:
    """Graph only: train, then evaluate the candidate it registered."""

    @task(execution_timeout=timedelta(hours=6), **_train_queue)
    def train() -> dict[str, Any]:
        """Fine-tune and register a candidate; return its version and validation scores."""
        from pipeline.config import load_settings
        from pipeline.orchestration import run_instant
        from pipeline.registry import Registry
        from pipeline.training.arguments import TrainingArguments
        from pipeline.training.datasets import parse_label_map
        from pipeline.training.train import train_model

        context = get_current_context()
        params, settings = context["params"], load_settings()
        args = TrainingArguments.from_json(params["config"]) if params.get("config") else TrainingArguments()
        if params.get("peft"):
            args = TrainingArguments(**{**args.to_dict(), "peft": params["peft"]})
        record = train_model(
            data=params.get("data") or settings.corpus_dir, base=params.get("base") or settings.base_model,
            name=params["name"], registry=Registry(settings.model_registry), now=run_instant(context),
            args=args, label_map=parse_label_map(params.get("label_map") or None), progress=False)
        m = record.metrics
        return {"model_version": record.model_version, "stage": record.stage, "n_validation": m["n"],
                "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4)}

    @task(**_train_queue)
    def evaluate(trained: dict[str, Any]) -> dict[str, Any]:
        """Canary and optional evaluation set for the new candidate; recorded, not promoted."""
        from pipeline.config import load_settings
        from pipeline.registry import Registry
        from pipeline.training.datasets import parse_label_map
        from pipeline.training.train import evaluate_candidate

        params = get_current_context()["params"]
        return evaluate_candidate(
            Registry(load_settings().model_registry), trained["model_version"],
            data=params.get("eval_data") or None,
            label_map=parse_label_map(params.get("label_map") or None))

    evaluate(train())


train_dag = tonewatch_train()
