"""Fixtures for the DAG tests: a scratch AIRFLOW_HOME, a feed with a negative surge, settings.

Importing airflow creates ``$AIRFLOW_HOME/logs`` (default ``~/airflow``) and reads its config
once, so a scratch home is chosen here, before any test module imports airflow, unless the
caller chose one. Example DAGs stay out of every DagBag. All only when airflow is installed, so
the skip path changes nothing.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.conftest import ROOT

if importlib.util.find_spec("airflow") is not None:
    if "AIRFLOW_HOME" not in os.environ:
        _scratch_home = tempfile.mkdtemp(prefix="tonewatch-airflow-home-")
        atexit.register(shutil.rmtree, _scratch_home, ignore_errors=True)
        os.environ["AIRFLOW_HOME"] = _scratch_home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

DAGS_DIR = ROOT / "dags"

# The surge: eight clearly negative stories about one company on 2026-03-05 (UTC), after
# three weeks of ordinary news about it. A run at SURGE_AT evaluates the day before it.
SURGE_AT = datetime(2026, 3, 6, 6, 30, tzinfo=UTC)
SURGE_TICKER = "ZEPH"
BASELINE = [
    "Zephyr Motors opens new assembly plant in Ohio",
    "Zephyr Motors reports record quarterly deliveries",
    "$ZEPH raises full-year revenue guidance",
    "Zephyr Motors names new chief financial officer",
    "Zephyr Motors wins fleet contract with national courier",
    "Analysts upgrade Zephyr Motors to buy on strong margins",
    "Zephyr Motors to present at industry conference next month",
    "Zephyr Motors board declares quarterly dividend",
    "Zephyr Motors expands charging network partnership",
    "Zephyr Motors schedules annual shareholder meeting",
    "Harbor Bank posts steady loan growth in fourth quarter",
    "Crestline Foods to release annual report on March 20",
    "Pinecrest Energy completes acquisition of regional utility",
    "Lumen Retail same-store sales rise 4% in February",
    "Northwind Airlines adds three new routes for summer season",
    "Atlas Insurance appoints chief risk officer",
    "Solara Pharma receives approval for new diabetes drug",
    "Granite Mining output in line with forecast",
    "Vista Software beats earnings estimates and lifts outlook",
    "Beacon Telecom announces board meeting date",
]
SURGE = [
    "Zephyr Motors recalls 200,000 vehicles over brake failures",
    "$ZEPH shares plunge after profit warning",
    "Zephyr Motors CEO resigns amid accounting probe",
    "Regulators fine Zephyr Motors for safety violations",
    "Zephyr Motors misses revenue estimates and cuts guidance",
    "Zephyr Motors suspends dividend as losses widen",
    "Lenders downgrade Zephyr Motors credit rating to junk",
    "Zephyr Motors faces class action lawsuit from investors",
]
# The day after: ordinary news again, so the surge's alert resolves at SURGE_AT + 1 day.
RECOVERY = [
    "Zephyr Motors secures new credit line from banks",
    "Zephyr Motors appoints interim chief executive",
    "Zephyr Motors delivers first vehicles to European customers",
    "Zephyr Motors shares rise as investors welcome new chief",
    "Zephyr Motors signs battery supply agreement",
]


def surge_entries() -> list[tuple[str, datetime]]:
    """``(title, published UTC)`` of every entry: baseline from Feb 12, surge on Mar 5, calm Mar 6."""
    start = datetime(2026, 2, 12, 14, 0, tzinfo=UTC)
    entries = [(title, start + timedelta(days=i)) for i, title in enumerate(BASELINE)]
    surge_start = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    entries += [(title, surge_start + timedelta(hours=1.5 * i)) for i, title in enumerate(SURGE)]
    calm_start = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    entries += [(title, calm_start + timedelta(hours=2 * i)) for i, title in enumerate(RECOVERY)]
    return entries


def write_surge_feed(folder: Path) -> Path:
    """Write an RSS 2.0 file with :func:`surge_entries` (fictional companies); return its path."""
    items = "\n".join(
        f"<item><title>{escape(title)}</title>"
        f"<link>https://wire.example.org/{published:%Y%m%d}/{i}</link>"
        f'<guid isPermaLink="false">tw-dag-{i}</guid>'
        f"<pubDate>{format_datetime(published)}</pubDate></item>"
        for i, (title, published) in enumerate(surge_entries())
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zephyr_wire.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Zephyr Test Wire</title><link>https://wire.example.org/</link>"
        f"<description>Fictional test feed</description>\n{items}\n</channel></rss>\n",
        encoding="utf-8",
    )
    return path


def tonewatch_env(tmp_path: Path, registry: Path, feeds: tuple[Path, ...] = ()) -> dict[str, str]:
    """``TONEWATCH_*`` settings on ``tmp_path``: ``feeds`` configured, a test gazetteer."""
    listed = "".join(f"  - {{name: {f.stem}, url: {json.dumps(str(f))}}}\n" for f in feeds)
    (tmp_path / "feeds.yaml").write_text("feeds:\n" + listed if feeds else "feeds: []\n",
                                         encoding="utf-8")
    (tmp_path / "entities.yaml").write_text("companies:\n  Zephyr Motors: ZEPH\n", encoding="utf-8")
    return {
        "TONEWATCH_DATA_DIR": str(tmp_path / "data"),
        "TONEWATCH_MODEL_REGISTRY": str(registry),
        "TONEWATCH_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "TONEWATCH_ENTITIES_FILE": str(tmp_path / "entities.yaml"),
        "TONEWATCH_ALERT_RULES_FILE": str(ROOT / "config" / "alert_rules.yaml"),
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture
def surge_feed(tmp_path) -> Path:
    """The surge feed written to ``tmp_path/feeds``."""
    return write_surge_feed(tmp_path / "feeds")


def table_snapshot(db: Path) -> dict[str, object]:
    """Row counts and alert/notification identities of a tonewatch database (read-only)."""
    from tests.conftest import query

    return {
        "articles": query(db, "SELECT count(*) FROM articles")[0][0],
        "scores": query(db, "SELECT count(*) FROM scores")[0][0],
        "alerts": query(db, "SELECT alert_id, state, window_end FROM alerts ORDER BY alert_id"),
        "notifications": query(db, "SELECT idempotency_key, status, attempts FROM notifications"
                                   " ORDER BY idempotency_key"),
    }
