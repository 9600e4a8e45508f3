"""The installed distribution carries the dashboard, and ``tonewatch dashboard`` finds it by import."""

from __future__ import annotations

import tomllib
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[2]


def test_every_dashboard_package_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(setuptools.find_packages(where=str(ROOT), include=include))
    folders = {str(p.parent.relative_to(ROOT)).replace("/", ".")
               for p in (ROOT / "dashboard").rglob("__init__.py")}
    assert folders and folders <= found, sorted(folders - found)
    # The dashboard holds only Python files, so it needs no package data.
    assert not [p for p in (ROOT / "dashboard").rglob("*")
                if p.is_file() and p.suffix not in (".py", ".pyc")]


def test_dashboard_command_finds_the_app_through_the_import_system():
    import dashboard

    from pipeline.cli.dashboard import dashboard_app_file

    assert dashboard_app_file().resolve() == Path(dashboard.__file__).resolve().parent / "streamlit_app.py"
