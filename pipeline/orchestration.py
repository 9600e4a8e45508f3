"""What a scheduler's task needs around one library call: its run instant and its summary.

The Airflow DAGs in ``dags/`` are thin: each task reads its run's context, calls one function of
:mod:`pipeline.run`, :mod:`pipeline.shadow` or :mod:`pipeline.training.train`, and returns a
small summary (counts) as its XCom. The pieces they share live here, as plain functions of plain
values, so they are tested without a scheduler and the library still never imports airflow.

A run's instant, first match wins (:func:`run_instant`):

1. an explicit parameter (ISO-8601; without an offset it is read as UTC),
2. the run's data interval end (scheduled and backfill runs),
3. the run's ``run_after`` (manual runs triggered without a logical date have no data interval).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.domain import as_utc, parse_instant
from pipeline.errors import ConfigError, StageFailedError

log = logging.getLogger("tonewatch")

# Airflow's DagRunType values (airflow.utils.types.DagRunType), compared as strings so that
# nothing here imports airflow.
BACKFILL_RUN_TYPE = "backfill"


def parse_param_instant(raw: Any, name: str) -> datetime | None:
    """A DAG's date or date-time parameter → aware UTC datetime; empty → None.

    :func:`pipeline.domain.parse_instant` with the parameter named in its errors
    (``param 'at' 'yesterday' is not an ISO-8601 date or date-time``).

    Raises:
        ConfigError: not ISO-8601, or outside the years 1970 to 2199.
    """
    return parse_instant(raw, f"param {name!r}")


def run_instant(context: Mapping[str, Any], param: str = "at") -> datetime:
    """The instant a task works for: ``params[param]``, else data interval end, else run_after.

    Args:
        context: the task's context (Airflow's ``get_current_context()`` or any mapping with
            ``params``, ``data_interval_end`` and ``dag_run`` keys).
        param: name of the parameter that overrides the run's own instant.

    Returns:
        An aware UTC datetime.

    Raises:
        ConfigError: the parameter is not ISO-8601, or the run has no instant at all.
    """
    explicit = parse_param_instant((context.get("params") or {}).get(param), param)
    if explicit is not None:
        return explicit
    # Airflow 3 sets logical_date and the data interval together, or neither (a manual run
    # triggered without a logical date); run_after is always set.
    interval_end = context.get("data_interval_end")
    if interval_end is not None:
        return as_utc(interval_end)
    run_after = getattr(context.get("dag_run"), "run_after", None)
    if run_after is not None:
        return as_utc(run_after)
    raise ConfigError(f"cannot resolve the run instant: no {param!r} param, data interval or run_after")


def is_backfill(context: Mapping[str, Any]) -> bool:
    """True when the task belongs to a backfill run (``airflow backfill create``)."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    # DagRunType is a str enum; its value is what the metadata DB stores.
    return str(getattr(run_type, "value", run_type) or "") == BACKFILL_RUN_TYPE


def task_summary(result: Any) -> dict[str, Any]:
    """Log a :class:`~pipeline.domain.StageResult` and return it as a small dict for XCom.

    Returns:
        ``result.as_dict()``: stage, status, counts, window and messages; no data rows.

    Raises:
        StageFailedError: ``result.status == "failed"`` (the scheduler should retry).
    """
    summary = result.as_dict()
    line = f"{summary.get('stage')} {summary.get('status')}: {summary.get('counts')}"
    log.info("%s", line)
    for message in summary.get("messages") or ():
        log.warning("%s: %s", summary.get("stage"), message)
    if summary.get("status") == "failed":
        raise StageFailedError(line)
    return summary
