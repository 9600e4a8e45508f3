"""DAG files parse cleanly and cheaply, and declare the graph tonewatch expects.

Needs apache-airflow; the whole module is skipped where it is not installed (the project venv).
Parse cost is measured in a fresh interpreter, so modules that other tests imported cannot hide
a heavy import at DAG-file level.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

# Importing airflow creates $AIRFLOW_HOME/logs (default ~/airflow): point it at a scratch dir
# unless the caller chose one, and keep example DAGs out of the DagBag (Airflow < 3.3 adds them).
# Only when airflow is installed, so the skip path changes nothing.
if importlib.util.find_spec("airflow") is not None:
    if "AIRFLOW_HOME" not in os.environ:
        _scratch_home = tempfile.mkdtemp(prefix="tonewatch-airflow-home-")
        atexit.register(shutil.rmtree, _scratch_home, ignore_errors=True)
        os.environ["AIRFLOW_HOME"] = _scratch_home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

pytest.importorskip("airflow")

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILE = DAGS_DIR / "tonewatch_daily.py"
DAG_ID = "tonewatch_daily"
HEAVY_MODULES = ("torch", "transformers", "duckdb", "feedparser")
PARSE_BUDGET_S = 1.0

# Runs in a fresh interpreter: import airflow.sdk first (its cost is not the DAG file's),
# then time only the execution of the DAG file, then report what got imported.
_PROBE = """
import importlib.util, json, sys, time
import airflow.sdk  # noqa: F401
path, heavy = sys.argv[1], sys.argv[2].split(",")
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("tonewatch_daily", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
dag = module.daily
print(json.dumps({
    "elapsed_s": elapsed,
    "heavy": sorted(m for m in heavy if m in sys.modules),
    "pipeline": sorted(m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")),
    "has_schedule": getattr(dag.timetable, "can_be_scheduled", True),
    "pools": {t.task_id: t.pool for t in dag.tasks},
    "queues": {t.task_id: t.queue for t in dag.tasks},
}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    """Import the DAG file in a fresh interpreter with extra env vars; return its JSON report."""
    run_env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DAG_FILE), ",".join(HEAVY_MODULES)],
        capture_output=True,
        text=True,
        env=run_env,
        cwd=tmp_path,  # so a stray relative path or .env in the repo cannot leak in
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dagbag():
    """A DagBag over dags/ (Airflow 3.3 moved DagBag to airflow.dag_processing.dagbag)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 - 3.2
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def dag_module():
    """The DAG file imported as a module, for its small helpers."""
    spec = importlib.util.spec_from_file_location("tonewatch_daily_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_is_light_and_fast(tmp_path):
    report = probe(tmp_path)
    assert report["heavy"] == [], f"DAG file imports heavy modules at parse time: {report['heavy']}"
    assert report["pipeline"] == [], "pipeline.* must be imported inside task bodies only"
    assert report["elapsed_s"] < PARSE_BUDGET_S, f"parse took {report['elapsed_s']:.3f} s"


def test_parse_time_env_knobs(tmp_path):
    report = probe(
        tmp_path,
        TONEWATCH_DAILY_SCHEDULE="none",
        TONEWATCH_DUCKDB_POOL="",
        TONEWATCH_SCORE_QUEUE="gpu",
    )
    assert report["has_schedule"] is False
    assert set(report["pools"].values()) == {"default_pool"}
    assert report["queues"]["score"] == "gpu"
    assert report["queues"]["ingest"] != "gpu"


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dags


def test_daily_dag_shape(dagbag):
    dag = dagbag.dags[DAG_ID]

    assert [t.task_id for t in dag.topological_sort()] == ["ingest", "score", "detect", "notify"]
    assert dag.get_task("score").upstream_task_ids == {"ingest"}
    assert dag.get_task("detect").upstream_task_ids == {"score"}
    assert dag.get_task("notify").upstream_task_ids == {"detect"}

    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.tags and dag.doc_md
    assert Path(dag.fileloc).stem == dag.dag_id
    # CronTriggerTimetable: `expression` from 3.3 on (Task SDK class), `_expression` before.
    timetable = dag.timetable
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    assert expression == "30 6 * * *"
    assert str(dag.timezone) == "UTC"

    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay >= timedelta(minutes=1), task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.pool == "tonewatch_duckdb", task.task_id
    assert dag.get_task("ingest").execution_timeout == timedelta(minutes=30)


INTERVAL_END = datetime(2025, 6, 2, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param(
            {"params": {"at": ""}, "data_interval_end": INTERVAL_END},
            INTERVAL_END,
            id="scheduled-run-uses-interval-end",
        ),
        pytest.param(
            {"params": {"at": "2025-05-01T12:00:00+02:00"}, "data_interval_end": INTERVAL_END},
            datetime(2025, 5, 1, 10, 0, tzinfo=UTC),
            id="explicit-param-wins-and-is-converted-to-utc",
        ),
        pytest.param(
            {"params": {"at": "2025-05-01T12:00:00"}},
            datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
            id="naive-param-is-utc",
        ),
        pytest.param(
            {"params": {"at": "2025-05-01T12:00:00Z"}},
            datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
            id="zulu-suffix",
        ),
        pytest.param(
            {"params": {"at": ""}, "dag_run": SimpleNamespace(run_after=INTERVAL_END)},
            INTERVAL_END,
            id="no-data-interval-falls-back-to-run-after",
        ),
    ],
)
def test_resolve_at(dag_module, context, expected):
    at = dag_module.resolve_at(context)
    assert at == expected
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)


def test_resolve_at_rejects_a_bad_param(dag_module):
    with pytest.raises(ValueError, match="ISO-8601"):
        dag_module.resolve_at({"params": {"at": "yesterday"}})


class _Result:
    def __init__(self, status: str):
        self.status = status

    def as_dict(self) -> dict:
        return {"stage": "score", "status": self.status, "counts": {"scored": 3}, "messages": []}


def test_finish_returns_the_summary_and_raises_on_failure(dag_module):
    assert dag_module.finish(_Result("partial"))["counts"] == {"scored": 3}
    with pytest.raises(dag_module.StageFailedError):
        dag_module.finish(_Result("failed"))
