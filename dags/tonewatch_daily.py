"""
### tonewatch_daily

Scheduled financial-news sentiment run: **ingest → score → detect → notify**.

Each task is a thin wrapper: it resolves the run instant `at` (UTC), calls one function of
`pipeline.run` (the same ones `tonewatch run` calls) and returns that stage's summary (counts
only) as its XCom. Articles, scores and alerts stay in DuckDB. Every stage is idempotent over its
window, so a retry or a re-run repairs a half-done run instead of duplicating it.

**Run instant `at`** (`pipeline.orchestration.run_instant`), first match wins:
1. the `at` param, when non-empty (ISO-8601; a value without an offset is read as UTC),
2. the run's `data_interval_end` (scheduled and backfill runs: the cron instant, 06:30 UTC),
3. the run's `run_after` (manual runs triggered without a logical date have no data interval).

Detection evaluates each alert rule over its window `[at - window, at)`; scoring scores every
stored article that lacks a score from the production model; notify delivers what is queued.

**Backfill** (`airflow backfill create --dag-id tonewatch_daily --from-date ... --to-date ...
--max-active-runs 1`) recomputes detection and alerts over stored data for each past run instant.
Keep backfills to one run at a time (a backfill does not apply the DAG's `max_active_runs`):
an alert is resolved by the next window's calm decision, so windows are best evaluated in order.
- `ingest` fetches nothing (feeds serve only their current entries; fetching them once per past
  date would only repeat today's fetch). Archives go in with `tonewatch import`, or pass them
  as `extra_sources` in `--dag-run-conf`: a backfill run ingests only those.
- `score` scores whatever is still unscored; `detect` re-evaluates the windows ending at the
  run's instant. Alerts are keyed by fingerprint and window start, notifications by an
  idempotency key, so re-running a date adds no rows.
- Backfill runs queue no notifications and `notify` sends nothing: a backfill never re-sends
  or sends stale messages. With `--dag-run-conf '{"notify_on_backfill": true}'` the alerts a
  backfill finds are queued (never twice, and within each rule's cooldown) and go out with the
  next scheduled run.

**Failure policy.** A stage whose status is `failed` raises, so Airflow retries it (`retries=2`,
5 minutes apart); so does an ingest where every feed failed. `partial` (e.g. one feed down) is
logged and passes.

**Before the first run** create the one-slot pool that serialises DuckDB writers (DuckDB allows
a single read-write process per file); `make airflow` and the compose stack do this:

    airflow pools set tonewatch_duckdb 1 "DuckDB single writer"

A task in a pool that does not exist is never scheduled (it waits, with only a scheduler log line
saying why).

**Parse-time environment** (read with `os.environ` only; nothing else happens at parse time):

| variable | default | meaning |
|---|---|---|
| `TONEWATCH_DAILY_SCHEDULE` | `30 6 * * *` | cron in UTC (intraday: e.g. `30 */4 * * *`); `none` or empty = manual runs only |
| `TONEWATCH_DUCKDB_POOL` | `tonewatch_duckdb` | DuckDB writers' pool; empty = `default_pool` |
| `TONEWATCH_SCORE_QUEUE` | unset | Celery queue of `score` (`gpu` on a GPU compose host) |
| `TONEWATCH_RETRY_DELAY_SECONDS` | `300` | wait before a failed task's retry (the stack test uses a few seconds) |

Runtime settings (data dir, model, receivers, secrets) are `TONEWATCH_*` variables read by
`pipeline.config.load_settings()` inside the tasks, on the worker.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

# Parse-time knobs: plain env reads, no settings object, no I/O (the dag-processor re-imports
# this file periodically, every 30 s by default).
_schedule_env = os.environ.get("TONEWATCH_DAILY_SCHEDULE", "30 6 * * *").strip()
SCHEDULE: str | None = None if _schedule_env.lower() in ("", "none") else _schedule_env
DUCKDB_POOL: str | None = os.environ.get("TONEWATCH_DUCKDB_POOL", "tonewatch_duckdb").strip() or None
SCORE_QUEUE: str | None = os.environ.get("TONEWATCH_SCORE_QUEUE", "").strip() or None
RETRY_DELAY = timedelta(seconds=int(os.environ.get("TONEWATCH_RETRY_DELAY_SECONDS", "").strip() or 300))

# Only pass pool/queue when set, so "unset" means Airflow's own default (default_pool, the
# configured default queue) rather than a hard-coded copy of it.
_writer: dict[str, Any] = {"pool": DUCKDB_POOL} if DUCKDB_POOL else {}
_score_queue: dict[str, Any] = {"queue": SCORE_QUEUE} if SCORE_QUEUE else {}


@dag(
    dag_id="tonewatch_daily",
    schedule=SCHEDULE,
    # Fixed and in the past; its UTC tzinfo also makes the cron string a UTC schedule.
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,  # ingestion reads what feeds serve now; past dates go through backfills
    max_active_runs=1,
    doc_md=__doc__,
    tags=["tonewatch", "ingest", "sentiment"],
    default_args={
        "owner": "tonewatch",
        "retries": 2,
        "retry_delay": RETRY_DELAY,
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
        "notify_on_backfill": Param(
            False,
            type="boolean",
            description="Backfill runs queue the alerts they find (sent by the next scheduled run).",
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
        from pipeline.domain import StageResult
        from pipeline.orchestration import is_backfill, run_instant, task_summary

        context = get_current_context()
        extra = tuple((context.get("params") or {}).get("extra_sources") or ())
        at = run_instant(context)
        if is_backfill(context):
            if not extra:
                return task_summary(StageResult(
                    "ingest", "ok", {"feeds": 0, "articles_new": 0}, window_end=at,
                    messages=["backfill run: feeds serve only current entries, nothing fetched"]))
            return task_summary(run.ingest(load_settings(), at=at, extra_sources=extra,
                                           use_config=False))
        return task_summary(run.ingest(load_settings(), at=at, extra_sources=extra))

    @task(**_writer, **_score_queue)
    def score() -> dict[str, Any]:
        """Score unscored articles with the production model and store the probabilities."""
        from pipeline import run
        from pipeline.config import load_settings
        from pipeline.orchestration import run_instant, task_summary

        return task_summary(run.score(load_settings(), at=run_instant(get_current_context())))

    @task(**_writer)
    def detect() -> dict[str, Any]:
        """Evaluate the alert rules over the windows ending at the run instant."""
        from pipeline import run
        from pipeline.config import load_settings
        from pipeline.orchestration import is_backfill, run_instant, task_summary

        context = get_current_context()
        enqueue = not is_backfill(context) or bool(context["params"].get("notify_on_backfill"))
        return task_summary(run.detect(load_settings(), at=run_instant(context), enqueue=enqueue))

    @task(**_writer)
    def notify() -> dict[str, Any]:
        """Deliver queued alert notifications, recording each one after it was sent."""
        from pipeline import run
        from pipeline.config import load_settings
        from pipeline.domain import StageResult
        from pipeline.orchestration import is_backfill, run_instant, task_summary

        context = get_current_context()
        at = run_instant(context)
        if is_backfill(context):
            # Delivery stamps sent_at with `at`; a past instant would distort cooldowns.
            return task_summary(StageResult(
                "notify", "ok", {"sent": 0, "failed": 0, "deferred": 0}, window_end=at,
                messages=["backfill run: nothing sent; queued notifications go out with the next scheduled run"]))
        return task_summary(run.notify(load_settings(), at=at))

    ingest() >> score() >> detect() >> notify()


daily = tonewatch_daily()

if __name__ == "__main__":
    # `python dags/tonewatch_daily.py`: one in-process run against the configured Airflow DB.
    daily.test()
