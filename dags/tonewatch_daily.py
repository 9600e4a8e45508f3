"""
### tonewatch_daily

Daily financial-news sentiment run: **ingest → score → detect → notify**.

Each task is a thin wrapper: it resolves the run instant `at` (UTC), calls one function of
`pipeline.run` and returns that stage's `StageResult.as_dict()` (counts only) as its XCom.
Articles, scores and alerts stay in DuckDB. Every stage is idempotent over its window, so a
retry or a re-run repairs a half-done run instead of duplicating it.

**Run instant `at`** (timezone-aware UTC), first match wins:
1. the `at` param, when non-empty (ISO-8601; a value without an offset is read as UTC),
2. the run's `data_interval_end` (scheduled runs: the 06:30 UTC trigger time),
3. the run's `run_after` (manual runs triggered without a logical date have no data interval).

**Failure policy.** A stage whose status is `failed` raises, so Airflow retries it
(`retries=2`, 5 minutes apart). `partial` (e.g. one feed down) is logged and passes.

**Before the first run** create the one-slot pool that serialises DuckDB writers
(DuckDB allows a single read-write process per file):

    airflow pools set tonewatch_duckdb 1 "DuckDB single writer"

A task in a pool that does not exist is never scheduled (it waits forever, with only a
scheduler log line saying why).

**Parse-time environment** (read with `os.environ` only; nothing else happens at parse time):

| variable | default | meaning |
|---|---|---|
| `TONEWATCH_DAILY_SCHEDULE` | `30 6 * * *` | cron in UTC; `none` or empty = manual runs only |
| `TONEWATCH_DUCKDB_POOL` | `tonewatch_duckdb` | DuckDB writers' pool; empty = `default_pool` |
| `TONEWATCH_SCORE_QUEUE` | unset | Celery queue of `score` (`gpu` on a GPU compose host) |

Runtime settings (data dir, model, receivers, secrets) are `TONEWATCH_*` variables read by
`pipeline.config.load_settings()` inside the tasks, on the worker.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

log = logging.getLogger(__name__)

# Parse-time knobs: plain env reads, no settings object, no I/O (the dag-processor re-imports
# this file periodically, every 30 s by default).
_schedule_env = os.environ.get("TONEWATCH_DAILY_SCHEDULE", "30 6 * * *").strip()
SCHEDULE: str | None = None if _schedule_env.lower() in ("", "none") else _schedule_env
DUCKDB_POOL: str | None = (
    os.environ.get("TONEWATCH_DUCKDB_POOL", "tonewatch_duckdb").strip() or None
)
SCORE_QUEUE: str | None = os.environ.get("TONEWATCH_SCORE_QUEUE", "").strip() or None

# Only pass pool/queue when set, so "unset" means Airflow's own default (default_pool, the
# configured default queue) rather than a hard-coded copy of it.
_writer: dict[str, Any] = {"pool": DUCKDB_POOL} if DUCKDB_POOL else {}
_score_queue: dict[str, Any] = {"queue": SCORE_QUEUE} if SCORE_QUEUE else {}


class StageFailedError(RuntimeError):
    """A stage returned status ``failed``; raised so that Airflow retries the task."""


def _as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def resolve_at(context: Any) -> datetime:
    """Pick the run instant for this task: ``at`` param, else data interval end, else run_after.

    Args:
        context: the Airflow task context (``get_current_context()``).

    Returns:
        A timezone-aware UTC datetime.

    Raises:
        ValueError: the ``at`` param is not an ISO-8601 datetime, or the run has no instant at all.
    """
    raw = str((context.get("params") or {}).get("at") or "").strip()
    if raw:
        try:
            # fromisoformat accepts a trailing "Z" from Python 3.11 on.
            return _as_utc(datetime.fromisoformat(raw))
        except ValueError as exc:
            raise ValueError(f"param 'at' is not an ISO-8601 datetime: {raw!r}") from exc
    # Airflow 3 sets logical_date and the data interval together, or neither (manual runs
    # triggered without a logical date); run_after is always set.
    interval_end = context.get("data_interval_end")
    if interval_end is not None:
        return _as_utc(interval_end)
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None)
    if run_after is not None:
        return _as_utc(run_after)
    raise ValueError("cannot resolve the run instant: no 'at' param, data interval or run_after")


def finish(result: Any) -> dict[str, Any]:
    """Log a stage's summary and turn it into the task's XCom; raise if the stage failed.

    Raises:
        StageFailedError: ``result.status == "failed"``.
    """
    summary = result.as_dict()
    line = f"{summary.get('stage')} {summary.get('status')}: {summary.get('counts')}"
    log.info("%s", line)
    for message in summary.get("messages") or ():
        log.warning("%s: %s", summary.get("stage"), message)
    if summary.get("status") == "failed":
        raise StageFailedError(line)
    return summary


@dag(
    dag_id="tonewatch_daily",
    schedule=SCHEDULE,
    # Fixed and in the past; its UTC tzinfo also makes the cron string a UTC schedule.
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,  # ingestion reads what feeds serve now; old intervals cannot be re-fetched
    max_active_runs=1,
    doc_md=__doc__,
    tags=["tonewatch", "ingest", "sentiment"],
    default_args={
        "owner": "tonewatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=1),
    },
    params={
        "at": Param(
            "",
            type="string",
            description=(
                "Run instant, ISO-8601 (e.g. 2025-06-02T06:30:00Z; no offset = UTC). "
                "Empty: the run's data interval end, else the trigger time."
            ),
        ),
        "extra_sources": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Extra feed URLs or local files to ingest in this run only.",
        ),
    },
)
def tonewatch_daily() -> None:
    """Graph only: four thin tasks in a line; the work happens in ``pipeline.run``."""

    @task(execution_timeout=timedelta(minutes=30), **_writer)
    def ingest() -> dict[str, Any]:
        """Fetch, parse, normalise and store articles from every configured feed."""
        from pipeline import run
        from pipeline.config import load_settings

        context = get_current_context()
        extra = tuple((context.get("params") or {}).get("extra_sources") or ())
        return finish(run.ingest(load_settings(), at=resolve_at(context), extra_sources=extra))

    @task(**_writer, **_score_queue)
    def score() -> dict[str, Any]:
        """Score unscored articles with the production model and store the probabilities."""
        from pipeline import run
        from pipeline.config import load_settings

        return finish(run.score(load_settings(), at=resolve_at(get_current_context())))

    @task(**_writer)
    def detect() -> dict[str, Any]:
        """Aggregate sentiment windows and evaluate the alert rules."""
        from pipeline import run
        from pipeline.config import load_settings

        return finish(run.detect(load_settings(), at=resolve_at(get_current_context())))

    @task(**_writer)
    def notify() -> dict[str, Any]:
        """Deliver firing and resolved alerts, recording each notification after it is sent."""
        from pipeline import run
        from pipeline.config import load_settings

        return finish(run.notify(load_settings(), at=resolve_at(get_current_context())))

    ingest() >> score() >> detect() >> notify()


daily = tonewatch_daily()

if __name__ == "__main__":
    # `python dags/tonewatch_daily.py`: one in-process run against the configured Airflow DB.
    daily.test()
