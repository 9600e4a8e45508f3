"""Small helpers shared by the dashboard tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "dashboard" / "streamlit_app.py"
CHROMIUM = Path("/usr/bin/chromium")

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


def ensure_chromium() -> None:
    """Install Debian's chromium when missing; skip the test with the reason if that fails."""
    import pytest

    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("no /usr/bin/chromium and cannot apt-get install it (needs root and apt)")
    result = subprocess.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
        shell=True, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.skip(f"installing chromium failed: {result.stderr.strip()[-300:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_dashboard(env: dict[str, str]) -> Iterator[str]:
    """Run ``streamlit run dashboard/streamlit_app.py`` on a free loopback port with ``env``;
    yield its base URL once ``/_stcore/health`` answers (fail the test after 30 s), stop it
    after."""
    import pytest

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"streamlit did not start: {server.stdout.read()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
