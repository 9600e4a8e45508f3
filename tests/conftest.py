"""Shared fixtures: settings on temporary folders, the default model built once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_FEEDS = ROOT / "tests" / "fixtures" / "feeds"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory) -> Path:
    """A registry holding the default model, fine-tuned once per test session.

    The real recipe on the real corpus, cut to 1 linear-probe epoch and 3 epochs: the tests
    check the pipeline's behaviour, not the last point of accuracy (that is the benchmark's job).
    """
    from pipeline.registry import Registry
    from pipeline.training.arguments import TrainingArguments
    from pipeline.training.train import ensure_default_model

    # TONEWATCH_TEST_REGISTRY=DIR keeps this model between test sessions (a developer running
    # test subsets again and again); unset (CI), every session builds its own.
    kept = os.environ.get("TONEWATCH_TEST_REGISTRY")
    root = Path(kept) if kept else tmp_path_factory.mktemp("registry")
    ensure_default_model(registry=Registry(root), corpus=ROOT / "models" / "corpus", base="",
                         now=datetime(2026, 1, 1, tzinfo=UTC), progress=False,
                         args=TrainingArguments(epochs=3, linear_probe_epochs=1))
    return root


@pytest.fixture
def env(tmp_path, trained_registry) -> dict[str, str]:
    """Environment for running the CLI against a fresh data dir and the session's model."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    out.update(TONEWATCH_DATA_DIR=str(tmp_path / "data"),
               TONEWATCH_MODEL_REGISTRY=str(trained_registry),
               TONEWATCH_FEEDS_FILE=str(ROOT / "config" / "feeds.yaml"),
               TONEWATCH_ALERT_RULES_FILE=str(ROOT / "config" / "alert_rules.yaml"),
               TONEWATCH_ENTITIES_FILE=str(ROOT / "config" / "entities.yaml"),
               HF_HUB_OFFLINE="1")
    return out


def cli(env: dict[str, str], *args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``tonewatch ARGS`` in a subprocess; return the completed process (text output)."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def query(db: Path, sql: str, params=None):
    """Run one read-only query against a DuckDB file and return all rows."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def expected_outcomes() -> dict[str, tuple[str, int | None]]:
    """Parse each fixture feed's ``<!-- tonewatch-expect: status=... entries=N -->`` line."""
    import re

    out = {}
    for path in sorted(FIXTURE_FEEDS.iterdir()):
        head = path.read_text(encoding="utf-8", errors="replace")[:500]
        match = re.search(r"tonewatch-expect:\s*status=(\w+)(?:\s+entries=(\d+))?", head)
        assert match, f"{path.name} states no expected outcome"
        out[path.name] = (match.group(1), int(match.group(2)) if match.group(2) else None)
    return out


@pytest.fixture
def tonewatch_log(caplog):
    """``caplog`` capturing the ``tonewatch`` logger at WARNING and above.

    Airflow's logging set-up (run when an earlier test imports the DAGs) disables loggers that
    already exist, ``tonewatch`` among them, so warnings would reach no handler; the logger is
    re-enabled for the test and restored after.
    """
    import logging

    logger = logging.getLogger("tonewatch")
    saved = logger.disabled, logger.propagate
    logger.disabled, logger.propagate = False, True
    try:
        with caplog.at_level(logging.WARNING, logger="tonewatch"):
            yield caplog
    finally:
        logger.disabled, logger.propagate = saved


@pytest.fixture(autouse=True)
def _tonewatch_logs_reach_caplog():
    """Undo what a test that ran Airflow in-process leaves behind: Airflow's logging set-up
    (``dictConfig``) disables loggers that existed before it, ``tonewatch`` among them, so a later
    test's ``caplog`` would see none of the library's log lines."""
    import logging

    logger = logging.getLogger("tonewatch")
    kept = (logger.disabled, logger.propagate)
    logger.disabled, logger.propagate = False, True
    logging.disable(logging.NOTSET)  # nor a process-wide logging.disable() left by a library
    yield
    logger.disabled, logger.propagate = kept
