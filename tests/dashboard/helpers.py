"""Small helpers shared by the dashboard tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"

_HOLD_LOCK = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_write_lock(db: str, seconds: float) -> subprocess.Popen:
    """Start a process that opens ``db`` read-write (DuckDB's file lock) for ``seconds``;
    return once it holds the lock. The caller kills and waits for it."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, db, str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def open_page(monkeypatch, data_dir: Path, page: str | None = None) -> AppTest:
    """Run the router with ``TONEWATCH_DATA_DIR=data_dir``, then switch to ``page`` (a stem
    such as ``"alerts"``; None stays on the default Overview)."""
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(data_dir))
    # The first run imports pandas/altair/duckdb; the 3 s default is too tight on slow CI.
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    if page is not None:
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def open_with_identity(monkeypatch, data_dir, user: dict):
    """The Alerts page for a browser that Streamlit's OIDC login (st.login) identified."""
    monkeypatch.setenv("TONEWATCH_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.user = user
    at.run()
    return at.switch_page("app_pages/alerts.py").run()


def chart_frames(chart) -> list[pd.DataFrame]:
    """The datasets a rendered Altair (vega-lite) chart element carries, as DataFrames."""
    frames = []
    for dataset in chart.proto.datasets:
        with pa.ipc.open_stream(dataset.data.data) as reader:
            frames.append(reader.read_pandas())
    return frames


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe element that has ``column``."""
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert frames, f"no dataframe with a {column!r} column"
    return frames[0]


def texts(at: AppTest) -> str:
    """Every markdown, caption, text, info, warning, success and error string, joined."""
    parts = []
    for kind in ("markdown", "caption", "text", "info", "warning", "success", "error",
                 "subheader", "title"):
        parts.extend(str(e.value) for e in at.get(kind))
    return "\n".join(parts)


def move_article(db: Path, article_id: str, published_at: str) -> None:
    """Set one seeded article's publication instant (ISO 8601 with offset), e.g. to open a
    gap of days without stories."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("UPDATE articles SET published_at = CAST(? AS TIMESTAMPTZ) WHERE article_id = ?",
                    [published_at, article_id])
    finally:
        con.close()


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    """Fill the sidebar's sign-in form and submit it (the page reruns)."""
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(password)
    submit = [b for b in at.sidebar.button if b.label == "Sign in"]
    assert submit, "no sign-in form in the sidebar"
    return submit[0].click().run()
