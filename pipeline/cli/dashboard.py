"""``tonewatch dashboard``: serve the installed Streamlit dashboard."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import err, out, settings
from pipeline.errors import ConfigError


def dashboard_app_file() -> Path:
    """The dashboard's entry script, ``streamlit_app.py`` of the installed ``dashboard`` package.

    Found through the import system without importing the package (it is a layer above the
    library), so it works from a wheel, an editable install and a source checkout alike.

    Raises:
        ConfigError: no ``dashboard`` package with a ``streamlit_app.py`` is importable.
    """
    spec = importlib.util.find_spec("dashboard")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        app_file = Path(folder) / "streamlit_app.py"
        if app_file.is_file():
            return app_file
    raise ConfigError("the tonewatch dashboard is not installed (no importable package "
                      "'dashboard' with streamlit_app.py); reinstall tonewatch")


def dashboard(port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
              address: Annotated[str, typer.Option(
                  help="Address to bind. Anything but loopback needs sign-in configured "
                       "(TONEWATCH_USERS_FILE or OIDC); put TLS in front with a reverse proxy."
              )] = "127.0.0.1") -> None:
    """Serve the Streamlit dashboard (blocks until interrupted)."""
    from pipeline.access.serving import check_serving
    from pipeline.access.users import file_mode_warning

    config = settings()
    check_serving(address, config.users_file, config.dashboard_secrets_file)
    warning = file_mode_warning(config.users_file)
    if warning:
        err.print(warning, highlight=False, markup=False)
    app_file = dashboard_app_file()
    out.print(f"tonewatch dashboard: http://{address}:{port}/  (Ctrl-C to stop)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.headless", "true",
           "--server.address", address, "--server.port", str(port),
           "--browser.gatherUsageStats", "false"]
    if config.dashboard_secrets_file is not None:
        # OIDC settings (st.login) live outside the repository; only the path is passed.
        cmd += ["--secrets.files", str(config.dashboard_secrets_file.resolve())]
    sys.stdout.flush()
    # Replace this process with the server (same pid), so a supervisor's SIGTERM or Ctrl-C
    # reaches streamlit itself instead of orphaning it on the port.
    os.execv(sys.executable, cmd)
