"""tonewatch_daily end to end: a full ``dag.test()`` run, re-runs and backfill runs.

The ``dag.test()`` run happens in a fresh interpreter with its own ``AIRFLOW_HOME`` (SQLite
metadata DB created there), so Airflow's settings, read once at import, cannot leak between
tests. The backfill tests call the DAG's own task functions with a backfill run's context in
this process (a real ``airflow backfill create`` needs a running scheduler; see the README's
Airflow section for that check by hand).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, query
from tests.dags.conftest import DAGS_DIR, SURGE_AT, SURGE_TICKER, surge_entries, table_snapshot, tonewatch_env

pytest.importorskip("airflow")
pytestmark = pytest.mark.slow

TASKS = ("ingest", "score", "detect", "notify")

# Fresh interpreter: create the metadata DB, import the DAG file, run dag.test() N times for
# one logical date with the feed as a run param; print the run and task states as JSON. It runs
# in the repository root, as `tonewatch` does, so relative default settings resolve.
_RUNNER = """
import importlib.util, json, sys
from datetime import datetime
from airflow.utils.db import initdb
path, at, feed, runs = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3], int(sys.argv[4])
initdb()
spec = importlib.util.spec_from_file_location("tonewatch_daily", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for task in module.daily.tasks:  # fail fast: dag.test() would wait out the 5-minute retry delay
    task.retries = 0
out = []
for _ in range(runs):
    dr = module.daily.test(logical_date=at, run_conf={"extra_sources": [feed]})
    out.append({"state": str(dr.state), "run_type": str(dr.run_type),
                "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}})
print("DAG-TEST-RESULT " + json.dumps(out))
"""


def test_dag_test_stores_articles_scores_and_an_alert_and_reruns_change_nothing(
        tmp_path, surge_feed, trained_registry):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TONEWATCH_", "AIRFLOW"))}
    env.update(tonewatch_env(tmp_path, trained_registry),
               AIRFLOW_HOME=str(tmp_path / "airflow"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}")
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(DAGS_DIR / "tonewatch_daily.py"), SURGE_AT.isoformat(),
         str(surge_feed), "2"],
        env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    marker = [line for line in proc.stdout.splitlines() if line.startswith("DAG-TEST-RESULT ")]
    assert marker, proc.stdout[-4000:] + proc.stderr[-4000:]
    runs = json.loads(marker[-1].split(" ", 1)[1])
    for run in runs:
        assert run["state"] == "success", run
        assert run["tasks"] == {task: "success" for task in TASKS}, run
    assert (tmp_path / "airflow" / "airflow.db").exists()

    db = tmp_path / "data" / "tonewatch.duckdb"
    n_entries = len(surge_entries())
    assert query(db, "SELECT count(*) FROM articles")[0][0] == n_entries
    assert query(db, "SELECT count(DISTINCT article_id) FROM scores")[0][0] == n_entries
    firing = query(db, "SELECT scope, entity, window_end FROM alerts WHERE state = 'firing'")
    assert ("ticker", SURGE_TICKER, SURGE_AT) in firing
    # Two runs of one logical date: every stage ran twice, yet each alert was sent once.
    sent = query(db, "SELECT count(*) FROM notifications WHERE status = 'sent'")[0][0]
    assert sent == len(firing) > 0
    assert query(db, "SELECT count(*) FROM notifications")[0][0] == sent
    assert proc.stdout.count("ALERT [") == sent, "the console receiver printed an alert twice"
    stages = query(db, "SELECT stage, count(*) FROM runs GROUP BY stage ORDER BY stage")
    assert stages == [(task, 2) for task in sorted(TASKS)]


# ------------------------------------------------------------------------------------ backfill

@pytest.fixture
def daily_module():
    """The DAG file imported as a module (its tasks' callables are the real task bodies)."""
    spec = importlib.util.spec_from_file_location("tonewatch_daily_under_test",
                                                  DAGS_DIR / "tonewatch_daily.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_day(daily_module, monkeypatch, tmp_path, surge_feed, trained_registry):
    """Run the four task bodies in order as one DAG run: ``run_day(at, run_type, **params)``.

    The surge feed is the one configured feed.
    """
    monkeypatch.chdir(ROOT)  # relative default settings resolve as for `tonewatch`
    for name in list(os.environ):
        if name.startswith("TONEWATCH_"):
            monkeypatch.delenv(name)
    for key, value in tonewatch_env(tmp_path, trained_registry, feeds=(surge_feed,)).items():
        monkeypatch.setenv(key, value)

    def run(at: datetime, run_type: str, **params) -> dict[str, dict]:
        context = {"params": {"at": "", "extra_sources": [], "notify_on_backfill": False, **params},
                   "data_interval_start": at, "data_interval_end": at,
                   "dag_run": SimpleNamespace(run_type=run_type, run_after=at)}
        monkeypatch.setattr(daily_module, "get_current_context", lambda: context)
        return {task: daily_module.daily.get_task(task).python_callable() for task in TASKS}

    return run


def backfill_dates(first: datetime, last: datetime) -> list[datetime]:
    """The daily run instants of ``airflow backfill create --from-date first --to-date last``."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# The scheduled run after an outage (ten days after the surge) stores the feed's entries; its
# own windows are empty, so it raises nothing. The backfill then covers the outage.
AFTER_OUTAGE = SURGE_AT + timedelta(days=10)


def test_backfill_recomputes_detection_idempotently_and_sends_nothing(run_day, tmp_path, capsys):
    db = tmp_path / "data" / "tonewatch.duckdb"
    scheduled = run_day(AFTER_OUTAGE, "scheduled")
    assert scheduled["ingest"]["counts"]["articles_new"] == len(surge_entries())
    assert scheduled["detect"]["counts"]["firing"] == 0
    fetched = query(db, "SELECT last_attempt_at FROM feeds")

    for at in backfill_dates(SURGE_AT - timedelta(days=1), SURGE_AT + timedelta(days=1)):
        summaries = run_day(at, "backfill")
        assert summaries["ingest"]["counts"] == {"feeds": 0, "articles_new": 0}
        assert summaries["notify"]["counts"]["sent"] == 0
    assert query(db, "SELECT last_attempt_at FROM feeds") == fetched, "a backfill run fetched"
    after_first = table_snapshot(db)
    # The surge fired in the window ending at SURGE_AT; the calm day after resolved it.
    states = dict(query(db, "SELECT rule, state FROM alerts WHERE entity = ? AND window_end = ?",
                        [SURGE_TICKER, SURGE_AT]))
    assert states == {"ticker_negative_surge": "resolved"}
    assert after_first["notifications"] == [], "a backfill queued notifications"

    # An overlapping second backfill over the same stored data changes nothing.
    for at in backfill_dates(SURGE_AT, SURGE_AT + timedelta(days=2)):
        run_day(at, "backfill")
    assert table_snapshot(db) == after_first
    # Nor does backfilling the surge's date alone: a later window's resolution is not undone.
    run_day(SURGE_AT, "backfill")
    assert table_snapshot(db) == after_first
    assert "ALERT [" not in capsys.readouterr().out


def test_backfill_can_queue_for_the_next_scheduled_run_which_sends_once(run_day, tmp_path, capsys):
    db = tmp_path / "data" / "tonewatch.duckdb"
    run_day(AFTER_OUTAGE, "scheduled")
    opt_in = {"notify_on_backfill": True}
    summaries = run_day(SURGE_AT, "backfill", **opt_in)
    queued = summaries["detect"]["counts"]["queued"]
    assert queued > 0 and summaries["notify"]["counts"]["sent"] == 0
    assert query(db, "SELECT DISTINCT status FROM notifications") == [("pending",)]

    scheduled = run_day(AFTER_OUTAGE + timedelta(days=1), "scheduled")
    assert scheduled["notify"]["counts"]["sent"] == queued
    assert capsys.readouterr().out.count("ALERT [") == queued

    # Re-running the backfill date queues nothing new; the next run has nothing to send.
    before = table_snapshot(db)
    assert run_day(SURGE_AT, "backfill", **opt_in)["detect"]["counts"]["queued"] == 0
    assert run_day(AFTER_OUTAGE + timedelta(days=2), "scheduled")["notify"]["counts"]["sent"] == 0
    assert table_snapshot(db)["notifications"] == before["notifications"]
    assert "ALERT [" not in capsys.readouterr().out

