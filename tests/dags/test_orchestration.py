"""pipeline.orchestration: how a DAG task finds its run instant and reports its stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from pipeline.domain import StageResult
from pipeline.errors import ConfigError, StageFailedError
from pipeline.orchestration import (
    is_backfill,
    parse_param_instant,
    run_instant,
    task_summary,
)

INTERVAL_END = datetime(2025, 6, 2, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param({"params": {"at": ""}, "data_interval_end": INTERVAL_END}, INTERVAL_END,
                     id="scheduled-run-uses-interval-end"),
        pytest.param({"params": {"at": "2025-05-01T12:00:00+02:00"}, "data_interval_end": INTERVAL_END},
                     datetime(2025, 5, 1, 10, 0, tzinfo=UTC), id="explicit-param-wins-converted-to-utc"),
        pytest.param({"params": {"at": "2025-05-01T12:00:00"}}, datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
                     id="naive-param-is-utc"),
        pytest.param({"params": {"at": "2025-05-01T12:00:00Z"}}, datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
                     id="zulu-suffix"),
        pytest.param({"params": {"at": "2025-05-01"}}, datetime(2025, 5, 1, tzinfo=UTC), id="bare-date"),
        pytest.param({"params": {}, "data_interval_end": datetime(2025, 6, 2, 8, 30)},
                     datetime(2025, 6, 2, 8, 30, tzinfo=UTC), id="naive-interval-end-is-utc"),
        pytest.param({"params": {"at": ""}, "data_interval_end": None,
                      "dag_run": SimpleNamespace(run_after=INTERVAL_END)},
                     INTERVAL_END, id="no-data-interval-falls-back-to-run-after"),
    ],
)
def test_run_instant(context, expected):
    at = run_instant(context)
    assert at == expected
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)


def test_run_instant_reads_the_named_param():
    context = {"params": {"until": "2026-03-01"}, "data_interval_end": INTERVAL_END}
    assert run_instant(context, "until") == datetime(2026, 3, 1, tzinfo=UTC)
    assert run_instant(context) == INTERVAL_END


def test_bad_or_missing_instants_are_one_clear_error():
    with pytest.raises(ConfigError, match="param 'at' 'yesterday' is not an ISO-8601"):
        run_instant({"params": {"at": "yesterday"}})
    with pytest.raises(ConfigError, match="cannot resolve the run instant"):
        run_instant({"params": {}, "dag_run": SimpleNamespace(run_after=None)})
    assert parse_param_instant("", "since") is None
    assert parse_param_instant(None, "since") is None


@pytest.mark.parametrize(("run_type", "expected"), [
    ("backfill", True), ("scheduled", False), ("manual", False), (None, False)])
def test_is_backfill(run_type, expected):
    assert is_backfill({"dag_run": SimpleNamespace(run_type=run_type)}) is expected


def test_is_backfill_accepts_airflows_enum():
    types = pytest.importorskip("airflow.utils.types")
    assert is_backfill({"dag_run": SimpleNamespace(run_type=types.DagRunType.BACKFILL_JOB)})
    assert not is_backfill({"dag_run": SimpleNamespace(run_type=types.DagRunType.SCHEDULED)})


def test_task_summary_returns_counts_and_raises_on_failure():
    summary = task_summary(StageResult("score", "partial", {"scored": 3}, window_end=INTERVAL_END))
    assert summary["counts"] == {"scored": 3}
    assert summary["window_end"] == INTERVAL_END.isoformat()
    with pytest.raises(StageFailedError, match="score failed"):
        task_summary(StageResult("score", "failed", {"scored": 0}))
