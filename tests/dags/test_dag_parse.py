"""Every DAG file parses cleanly and cheaply and follows the project's DAG hygiene rules.

Needs apache-airflow; the whole module is skipped where it is not installed. Parse cost is
measured in a fresh interpreter per DAG file, so modules that other tests imported cannot hide a
heavy import at DAG-file level.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.dags.conftest import DAGS_DIR

pytest.importorskip("airflow")

DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
HEAVY_MODULES = ("torch", "transformers", "duckdb", "feedparser", "httpx", "pandas")
PARSE_BUDGET_S = 1.0
DUCKDB_WRITERS = {  # task ids that write DuckDB and so must share the one-slot pool
    "tonewatch_daily": {"ingest", "score", "detect", "notify"},
    "tonewatch_rescore": {"rescore"},
    "tonewatch_train": set(),
}
INGESTION_DAGS = {"tonewatch_daily"}

# Runs in a fresh interpreter: import airflow.sdk first (its cost is not the DAG file's), then
# time only the execution of the DAG file, then report what it imported (beyond airflow.sdk's own
# imports: the Task SDK itself uses httpx) and touched. Sockets and
# the settings loader are replaced by tripwires, so any network or settings use at parse time
# is recorded.
_PROBE = """
import importlib.util, json, os, socket, sys, time
import airflow.sdk  # noqa: F401
path, heavy = sys.argv[1], sys.argv[2].split(",")
touched = []
class _NoSocket(socket.socket):
    def __init__(self, *a, **k):
        touched.append("socket")
        super().__init__(*a, **k)
socket.socket = _NoSocket
before = set(os.listdir("."))
loaded = set(sys.modules)
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_probe", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
from airflow.sdk import DAG
dags = [v for v in vars(module).values() if isinstance(v, DAG)]
print(json.dumps({
    "elapsed_s": elapsed,
    "heavy": sorted(m for m in heavy if m in sys.modules and m not in loaded),
    "pipeline": sorted(m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")),
    "touched": touched,
    "new_files": sorted(set(os.listdir(".")) - before),
    "dags": {d.dag_id: {
        "has_schedule": getattr(d.timetable, "can_be_scheduled", True),
        "pools": {t.task_id: t.pool for t in d.tasks},
        "queues": {t.task_id: t.queue for t in d.tasks},
    } for d in dags},
}))
"""


def probe(path: Path, tmp_path: Path, **env: str) -> dict:
    """Import one DAG file in a fresh interpreter with extra env vars; return its JSON report."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}  # defaults
    run_env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   # opening the database at parse time would create this folder
                   TONEWATCH_DATA_DIR=str(tmp_path / "must-not-be-created"), **env)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), ",".join(HEAVY_MODULES)],
        capture_output=True, text=True, env=run_env,
        cwd=tmp_path,  # so a stray relative path or .env in the repo cannot leak in
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dagbag():
    """A DagBag over dags/ with the parse-time knobs at their defaults.

    Airflow 3.3 moved DagBag to airflow.dag_processing.dagbag.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 - 3.2
        from airflow.models.dagbag import DagBag
    with pytest.MonkeyPatch.context() as mp:
        for knob in ("TONEWATCH_DAILY_SCHEDULE", "TONEWATCH_DUCKDB_POOL", "TONEWATCH_SCORE_QUEUE",
                     "TONEWATCH_TRAIN_QUEUE"):
            mp.delenv(knob, raising=False)
        return DagBag(dag_folder=str(DAGS_DIR))


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_parse_is_light_and_fast(path, tmp_path):
    report = probe(path, tmp_path)
    assert report["heavy"] == [], f"{path.name} imports heavy modules at parse time: {report['heavy']}"
    assert report["pipeline"] == [], "pipeline.* must be imported inside task bodies only"
    assert report["touched"] == [], f"{path.name} opened a socket at parse time"
    assert not (tmp_path / "must-not-be-created").exists(), "settings/DB touched at parse time"
    assert report["new_files"] == [], f"{path.name} wrote files at parse time: {report['new_files']}"
    assert report["elapsed_s"] < PARSE_BUDGET_S, f"{path.name} parse took {report['elapsed_s']:.3f} s"
    assert list(report["dags"]) == [path.stem], "one DAG per file, dag_id == file stem"


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_files_never_read_the_clock(path):
    """Windows come from the run (data interval, params), never from the wall clock."""
    calls = {
        node.func.attr for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & {"now", "utcnow", "today"}, f"{path.name} reads the wall clock"


def test_parse_time_env_knobs(tmp_path):
    daily = probe(DAGS_DIR / "tonewatch_daily.py", tmp_path, TONEWATCH_DAILY_SCHEDULE="none",
                  TONEWATCH_DUCKDB_POOL="", TONEWATCH_SCORE_QUEUE="gpu")["dags"]["tonewatch_daily"]
    assert daily["has_schedule"] is False
    assert set(daily["pools"].values()) == {"default_pool"}
    assert daily["queues"]["score"] == "gpu"
    assert daily["queues"]["ingest"] != "gpu"
    train = probe(DAGS_DIR / "tonewatch_train.py", tmp_path,
                  TONEWATCH_SCORE_QUEUE="gpu")["dags"]["tonewatch_train"]
    assert set(train["queues"].values()) == {"gpu"}


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {p.stem for p in DAG_FILES} == set(DUCKDB_WRITERS)


@pytest.mark.parametrize("dag_id", sorted(DUCKDB_WRITERS))
def test_dag_hygiene(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert Path(dag.fileloc).stem == dag.dag_id
    assert "tonewatch" in dag.tags and dag.doc_md and dag.doc_md.strip().startswith(f"### {dag_id}")
    assert str(dag.timezone) == "UTC"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay >= timedelta(minutes=1), task.task_id
        assert task.execution_timeout is not None, task.task_id
        in_pool = task.pool == "tonewatch_duckdb"
        assert in_pool == (task.task_id in DUCKDB_WRITERS[dag_id]), task.task_id


def test_daily_dag_shape(dagbag):
    dag = dagbag.dags["tonewatch_daily"]
    assert [t.task_id for t in dag.topological_sort()] == ["ingest", "score", "detect", "notify"]
    assert dag.get_task("score").upstream_task_ids == {"ingest"}
    assert dag.get_task("detect").upstream_task_ids == {"score"}
    assert dag.get_task("notify").upstream_task_ids == {"detect"}
    # CronTriggerTimetable: `expression` from 3.3 on (Task SDK class), `_expression` before.
    timetable = dag.timetable
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    assert expression == "30 6 * * *"
    assert dag.get_task("ingest").execution_timeout == timedelta(minutes=30)
    assert set(dag.params) == {"at", "extra_sources", "notify_on_backfill"}


def test_manual_dags_shape(dagbag):
    rescore = dagbag.dags["tonewatch_rescore"]
    assert rescore.timetable.can_be_scheduled is False
    assert [t.task_id for t in rescore.tasks] == ["rescore"]
    assert {"model", "since", "until", "against"} <= set(rescore.params)

    train = dagbag.dags["tonewatch_train"]
    assert train.timetable.can_be_scheduled is False
    assert [t.task_id for t in train.topological_sort()] == ["train", "evaluate"]
    assert train.get_task("evaluate").upstream_task_ids == {"train"}
    assert "promote" not in train.params
    assert train.get_task("train").execution_timeout >= timedelta(hours=1)


def test_rescore_requires_a_model(dagbag):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dagbag.dags["tonewatch_rescore"].params)
    with pytest.raises(ParamValidationError):
        params.validate()
    params["model"] = "tonewatch-minilm-20260301-093000"
    assert params.validate()["model"] == "tonewatch-minilm-20260301-093000"
