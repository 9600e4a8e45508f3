"""docker/: the compose stack has what a scaled-out deployment needs; files pass their validators.

No Docker engine is needed. The structure checks read the compose file with PyYAML (merge keys
resolved as Compose resolves them). The validator checks run the tools when they are installed
and skip otherwise: the Compose Specification's JSON schema (check-jsonschema's vendored copy),
hadolint on the Dockerfiles, and ``docker compose config`` where the compose plugin exists.
Building and running the stack is ``make stack-test`` (tests/stack/run.py), by hand.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILES = [DOCKER / "Dockerfile", *sorted((DOCKER / "standins").glob("*.Dockerfile"))]
STACK_OVERRIDE = ROOT / "tests" / "stack" / "compose.override.yaml"
SECRETS = ("TONEWATCH_SMTP_PASSWORD", "TONEWATCH_SLACK_WEBHOOK_URL", "AIRFLOW__API_AUTH__JWT_SECRET",
           "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY", "POSTGRES_PASSWORD")


def tool(name: str) -> str | None:
    """Path of a command-line tool: next to this interpreter (the venv) first, then on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_airflow_components_broker_and_metadata_db(compose):
    services = compose["services"]
    commands = {name: _command(s) for name, s in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker"):
        assert any(c.startswith(component) for c in commands.values()), component
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")


def test_gpu_worker_consumes_the_gpu_queue_and_reserves_a_gpu(compose):
    gpu = compose["services"]["airflow-worker-gpu"]
    assert re.search(r"--queues\s+\$\{TONEWATCH_GPU_WORKER_QUEUES:-gpu\}", _command(gpu))
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d.get("count", 0) >= 1 for d in devices)
    # The Airflow image's Dockerfile and target, with the CUDA build of torch from PyPI.
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile" and gpu["build"]["target"] == "airflow"
    assert gpu["build"]["args"]["TORCH_INDEX_URL"] == "https://pypi.org/simple"
    assert "gpu" in gpu["profiles"], "the GPU worker must be opt-in (hosts without a GPU)"


def test_workers_and_dashboard_share_the_duckdb_and_registry_volumes(compose):
    services = compose["services"]
    assert {"tonewatch-data", "tonewatch-models"} <= set(compose["volumes"])
    for name in ("airflow-worker", "airflow-worker-gpu"):
        mounts = services[name]["volumes"]
        assert "tonewatch-data:/data" in mounts and "tonewatch-models:/models" in mounts, name
        assert services[name]["environment"]["TONEWATCH_DATA_DIR"] == "/data"
    assert "tonewatch-data:/data" in services["dashboard"]["volumes"]
    # Through `tonewatch dashboard`, which refuses 0.0.0.0 until sign-in is configured.
    assert services["dashboard"]["entrypoint"] == ["tonewatch", "dashboard"]
    assert services["dashboard"]["environment"]["TONEWATCH_USERS_FILE"].startswith("${")


def test_only_the_cli_service_can_write_the_user_file(compose):
    """Issue 24, tester finding 16: the user file is on a volume of its own, read-only in the
    dashboard, writable by the `tonewatch` CLI service, and in no Airflow container (workers
    run DAG code)."""
    services = compose["services"]
    assert "tonewatch-users" in compose["volumes"]
    users_mounts = {name: [m for m in service.get("volumes", []) if m.startswith("tonewatch-users:")]
                    for name, service in services.items()}
    assert users_mounts["dashboard"] == ["tonewatch-users:/users:ro"]
    assert users_mounts["tonewatch"] == ["tonewatch-users:/users"]
    assert {n for n, m in users_mounts.items() if m} == {"dashboard", "tonewatch", "airflow-init"}
    for name in ("dashboard", "tonewatch"):
        assert services[name]["environment"]["TONEWATCH_USERS_FILE"] == \
            "${TONEWATCH_USERS_FILE:-/users/users.yaml}"
    for name, service in services.items():
        env = service.get("environment") or {}
        if name not in ("dashboard", "tonewatch"):
            assert "TONEWATCH_USERS_FILE" not in env, name


def test_secrets_come_from_the_environment_only(compose):
    seen = set()
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for key in SECRETS:
            if key in env:
                seen.add(key)
                assert str(env[key]).startswith("${"), f"{name}: {key} is a literal, not ${{...}}"
    assert seen == set(SECRETS)
    # Only services that run pipeline stages get the tonewatch receivers' secrets.
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "dashboard"):
        assert "TONEWATCH_SMTP_PASSWORD" not in (compose["services"][name].get("environment") or {})


def test_compose_file_matches_the_compose_specification():
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed")
    proc = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_docker_compose_config_accepts_the_file(tmp_path):
    docker = tool("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose plugin is not installed")
    proc = subprocess.run([docker, "compose", "-f", str(COMPOSE), "--profile", "gpu", "config", "-q"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The stack test's override merges: no GPU reserved, the gpu-queue worker on the CPU image.
    proc = subprocess.run([docker, "compose", "-f", str(COMPOSE), "-f", str(STACK_OVERRIDE), "--profile",
                           "gpu", "config", "--format", "json"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "STACK_FEEDS_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    gpu = json.loads(proc.stdout)["services"]["airflow-worker-gpu"]
    assert "deploy" not in gpu and gpu["image"].startswith("tonewatch-airflow:")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_dockerfiles_pass_hadolint(dockerfile):
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    proc = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_torch_pin_is_the_same_everywhere():
    pin = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")).group(1)
    assert f"torch=={pin}+cpu" in (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    gpu_args = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["airflow-worker-gpu"]["build"]["args"]
    assert gpu_args["TORCH_SPEC"] == f"torch=={pin}"
