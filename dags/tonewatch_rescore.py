"""
### tonewatch_rescore

Manual run: score the stored articles of a date range with another **model version** and
compare it with the version detection uses (a shadow comparison), as `tonewatch rescore` does.

One thin task calls `pipeline.shadow.rescore` and returns counts only as its XCom: articles
scored, labels that changed, alerts each version would have raised over the daily windows of the
range. The candidate's scores are stored next to the earlier versions' (one row per article and
model version); nothing is promoted and no alert is written, so detection keeps using
production's scores until someone runs `tonewatch model promote`.

**Params**
- `model` (required): candidate registry version (`tonewatch model list`), a local checkpoint
  directory or a hub id.
- `since`: first publication date rescored, ISO-8601 UTC (e.g. `2026-03-01`); empty = every
  stored article.
- `until`: end of the range (exclusive), ISO-8601 UTC; empty = the run's data interval end, else
  its trigger time.
- `against`: baseline version; empty = the version detection uses (production's).

    airflow dags trigger tonewatch_rescore --conf '{"model": "tonewatch-minilm-20260301-093000", "since": "2026-03-01"}'

Re-running the same range scores nothing twice (articles already scored by that version for
their current content are skipped). Runs in the DuckDB writers' pool (see `tonewatch_daily`) and
on `TONEWATCH_SCORE_QUEUE` when set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

DUCKDB_POOL: str | None = os.environ.get("TONEWATCH_DUCKDB_POOL", "tonewatch_duckdb").strip() or None
SCORE_QUEUE: str | None = os.environ.get("TONEWATCH_SCORE_QUEUE", "").strip() or None
_writer: dict[str, Any] = {"pool": DUCKDB_POOL} if DUCKDB_POOL else {}
_score_queue: dict[str, Any] = {"queue": SCORE_QUEUE} if SCORE_QUEUE else {}


@dag(
    dag_id="tonewatch_rescore",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["tonewatch", "model", "rescore"],
    default_args={
        "owner": "tonewatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=4),
    },
    params={
        "model": Param(type="string", minLength=1,
                       description="Candidate: registry version, checkpoint directory or hub id."),
        "since": Param("", type="string",
                       description="First publication date rescored (ISO-8601, UTC); empty = all."),
        "until": Param("", type="string",
                       description="End of the range, exclusive (ISO-8601, UTC); empty = run instant."),
        "against": Param("", type="string",
                         description="Baseline version; empty = the one detection uses."),
    },
)
def tonewatch_rescore() -> None:
    """Graph only: one task; the work happens in ``pipeline.shadow.rescore``."""

    @task(**_writer, **_score_queue)
    def rescore() -> dict[str, Any]:
        """Score the range with the candidate and compare labels and replayed alerts."""
        from pipeline.config import load_settings
        from pipeline.orchestration import parse_param_instant, run_instant, task_summary
        from pipeline.shadow import rescore as rescore_versions

        context = get_current_context()
        params = context["params"]
        # `at` (stored as scored_at) is the run's own instant; `until` only bounds the range.
        result, report = rescore_versions(
            load_settings(), model=str(params["model"]).strip(), at=run_instant(context),
            since=parse_param_instant(params.get("since"), "since"),
            until=parse_param_instant(params.get("until"), "until"),
            against=str(params.get("against") or "").strip() or None)
        summary = task_summary(result)
        if report is None:
            summary["comparison"] = None
            return summary
        summary["comparison"] = {
            "baseline": report.baseline, "candidate": report.candidate,
            "articles_compared": report.articles_compared, "labels_changed": report.labels_changed,
            "negative_share": report.negative_share, "windows_replayed": report.windows_replayed,
            "alerts_baseline": report.alerts_baseline, "alerts_candidate": report.alerts_candidate,
            "only_baseline": len(report.only_baseline), "only_candidate": len(report.only_candidate),
        }
        return summary

    rescore()


rescore_dag = tonewatch_rescore()
