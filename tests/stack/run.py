"""`make stack-test`: the compose stack of docker/ brought up, made to do the job, torn down.

Run by hand (``python -m tests.stack.run``), never by ``make test``: it needs a Docker engine
with the compose v2 plugin, the images of ``make images``, and takes a quarter of an hour on two
cores. It prints one line per check and ends with ``stack-test: N passed, N failed`` and the
wall time; the exit status is 0 only when every check passed.

What it does, on the project ``tonewatch-stacktest`` (its own volumes; ``down -v`` first and last):

1. Puts a model into the registry volume (there is no model hub): a copy of the registry
   directory ``STACK_MODEL_REGISTRY`` names (e.g. the test model tests/conftest.py keeps in
   ``TONEWATCH_TEST_REGISTRY``), else the quick first model built by the `tonewatch` CLI
   service (``model ensure-default --quick``); adds a dashboard user with the same service.
2. ``up --wait``: Postgres, Redis, api-server, scheduler, dag-processor, triggerer, the CPU
   worker (queue ``default``), the ``gpu``-queue worker (the CPU image here), the dashboard.
3. Unpauses ``tonewatch_daily`` and triggers it through the REST API with the run instant of
   the fixture feeds (tests/fixtures/feeds, listed in a feeds file mounted at /feeds); asserts
   the run succeeded, ``score`` ran on the ``gpu``-queue worker, articles / scores / a firing
   ACME alert are in the DuckDB file on the data volume, and the dashboard answers every page.
4. Lets both workers take both queues, triggers a second run on a generated feed of
   ``STACK_BURST`` articles, kills (SIGKILL) the worker running ``score`` once it has stored a
   first chunk, and asserts the task was retried on the other worker and that every burst
   article is stored and scored exactly once.
5. ``down`` and ``up`` again (volumes kept): the rows, the users and the run history survived.

Environment: STACK_MODEL_REGISTRY, STACK_BURST (default 1500), STACK_KEEP=1 (leave the stack
up at the end), STACK_AIRFLOW_PORT (18080), STACK_DASHBOARD_PORT (18501), AIRFLOW_VERSION.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "tonewatch-stacktest"
COMPOSE_FILES = [ROOT / "docker" / "docker-compose.yaml", Path(__file__).with_name("compose.override.yaml")]
AT = "2026-03-06T00:00:00Z"  # the fixture wire has a cluster of negative Acme stories on Mar 5
DAG = "tonewatch_daily"
ADMIN = ("stackadmin", "stack-test-password-1")
DB = "/data/tonewatch.duckdb"
PAGES = {"": "Overview", "companies": "Companies", "sectors": "Sectors", "articles": "Articles",
         "alerts": "Alerts", "feeds": "Feeds", "model": "Model"}

START = time.monotonic()
RESULTS: list[tuple[bool, str]] = []


class StackTestFailure(Exception):
    """A check failed; the message says which and what was seen."""


def say(message: str) -> None:
    print(f"[{time.monotonic() - START:7.1f}s] {message}", flush=True)


def check(ok: bool, message: str, seen: object = "") -> None:
    """Record a check; a failed one stops the test (later steps build on it)."""
    RESULTS.append((bool(ok), message))
    say(f"{'PASS' if ok else 'FAIL'} {message}" + (f" ({seen})" if seen != "" else ""))
    if not ok:
        raise StackTestFailure(f"{message}: {seen}")


class Stack:
    """``docker compose`` on the test project, with the environment the override file reads."""

    def __init__(self, feeds_dir: Path) -> None:
        self.airflow_port = int(os.environ.get("STACK_AIRFLOW_PORT", "18080"))
        self.dashboard_port = int(os.environ.get("STACK_DASHBOARD_PORT", "18501"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TONEWATCH_", "COMPOSE_"))}
        self.env.update(
            COMPOSE_PROJECT_NAME=PROJECT, COMPOSE_PROFILES="gpu",
            STACK_FEEDS_DIR=str(feeds_dir),
            AIRFLOW_PORT=str(self.airflow_port), TONEWATCH_DASHBOARD_PORT=str(self.dashboard_port),
            TONEWATCH_SCORE_QUEUE="gpu", TONEWATCH_DAILY_SCHEDULE="none",
            TONEWATCH_RETRY_DELAY_SECONDS="5",
            _AIRFLOW_WWW_USER_USERNAME=ADMIN[0], _AIRFLOW_WWW_USER_PASSWORD=ADMIN[1],
        )
        self.token: str | None = None

    def compose(self, *args: str, input: str | None = None, timeout: float = 900,
                check_rc: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", PROJECT]
        for f in COMPOSE_FILES:
            cmd += ["-f", str(f)]
        proc = subprocess.run(cmd + list(args), input=input, capture_output=True, text=True,
                              timeout=timeout, env={**self.env, **(env or {})}, cwd=ROOT)
        if check_rc and proc.returncode != 0:
            raise StackTestFailure(f"docker compose {' '.join(args)} exited {proc.returncode}:\n"
                                   f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def python(self, code: str) -> object:
        """Run Python in a one-off `tonewatch` container (data volume mounted); its JSON output."""
        proc = self.compose("run", "--rm", "-T", "--no-deps", "--entrypoint", "python", "tonewatch",
                            "-c", code, timeout=300)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # -- Airflow REST API -------------------------------------------------------------------
    def api(self, method: str, path: str, body: object | None = None) -> object:
        url = f"http://127.0.0.1:{self.airflow_port}{path}"
        headers = {"Content-Type": "application/json"}
        if self.token and not path.startswith("/auth/"):
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def login(self) -> None:
        reply = self.api("POST", "/auth/token", {"username": ADMIN[0], "password": ADMIN[1]})
        self.token = reply["access_token"]

    def wait_for(self, what: str, probe, timeout: float, every: float = 3.0):
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = probe()
                if last:
                    return last
            except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
                last = exc
            time.sleep(every)
        raise StackTestFailure(f"timed out after {timeout:.0f} s waiting for {what} (last: {last})")

    def trigger(self, run_id: str, conf: dict) -> None:
        self.api("POST", f"/api/v2/dags/{DAG}/dagRuns",
                 {"dag_run_id": run_id, "logical_date": None, "conf": conf})

    def run_state(self, run_id: str) -> str:
        return self.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}")["state"]

    def wait_run(self, run_id: str, timeout: float = 1200) -> str:
        return self.wait_for(f"run {run_id} to finish",
                             lambda: (s := self.run_state(run_id)) in ("success", "failed") and s,
                             timeout, every=5)

    def task_instances(self, run_id: str) -> dict[str, dict]:
        reply = self.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in reply["task_instances"]}

    def tries(self, run_id: str, task_id: str) -> list[dict]:
        reply = self.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
        return reply["task_instances"]


def burst_feed(n: int) -> str:
    """An RSS 2.0 document of ``n`` distinct English stories dated 2026-03-05 (UTC)."""
    from email.utils import format_datetime
    from datetime import UTC, datetime, timedelta
    from xml.sax.saxutils import escape

    firms = ["Northwind Traders", "Contoso Bank", "Fabrikam Steel", "Tailspin Airlines",
             "Litware Software", "Proseware Energy", "Wingtip Retail", "Adatum Pharma"]
    events = ["reports record quarterly profit", "cuts its full-year outlook",
              "faces a regulatory probe into its accounts", "wins a large government contract",
              "announces job cuts at two plants", "raises its dividend for the fifth year",
              "misses analyst revenue estimates", "completes the sale of its logistics arm"]
    start = datetime(2026, 3, 5, tzinfo=UTC)
    items = []
    for i in range(n):
        firm, event = firms[i % len(firms)], events[(i // len(firms)) % len(events)]
        title = f"{firm} {event}, update {i}"
        body = (f"{firm} said on Thursday that it {event.split(' ', 1)[1] if ' ' in event else event}; "
                f"shares moved in early trading as investors weighed item {i} of the day's news.")
        when = format_datetime(start + timedelta(seconds=30 * i))
        items.append(f"<item><title>{escape(title)}</title><link>https://news.example.com/burst/{i}</link>"
                     f"<description>{escape(body)}</description><pubDate>{when}</pubDate></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Burst wire</title><link>https://news.example.com/</link><description>stack test</description>"
            + "".join(items) + "</channel></rss>")


COUNTS = """
import duckdb, json
con = duckdb.connect({db!r}, read_only=True)
q = lambda sql: con.execute(sql).fetchall()
burst = "a.url LIKE 'https://news.example.com/burst/%'"
print(json.dumps(dict(
    articles=q("SELECT count(*) FROM articles")[0][0],
    distinct_articles=q("SELECT count(DISTINCT article_id) FROM articles")[0][0],
    en_articles=q("SELECT count(*) FROM articles WHERE language = 'en'")[0][0],
    scores=q("SELECT count(*) FROM scores")[0][0],
    unscored_en=q("SELECT count(*) FROM articles a LEFT JOIN scores s USING (article_id)"
                  " WHERE s.article_id IS NULL AND a.language = 'en'")[0][0],
    alerts=q("SELECT count(*) FROM alerts")[0][0],
    firing=[list(r) for r in q("SELECT scope, entity FROM alerts WHERE state = 'firing'")],
    burst_articles=q(f"SELECT count(*) FROM articles a WHERE {{burst}}")[0][0],
    burst_links=q(f"SELECT count(DISTINCT a.url) FROM articles a WHERE {{burst}}")[0][0],
    burst_scores=q(f"SELECT count(*) FROM scores s JOIN articles a USING (article_id) WHERE {{burst}}")[0][0],
    burst_scored_articles=q(f"SELECT count(DISTINCT s.article_id) FROM scores s JOIN articles a"
                            f" USING (article_id) WHERE {{burst}}")[0][0],
)))
""".format(db=DB)


def dashboard_checks(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.dashboard_port}"
    health = urllib.request.urlopen(f"{base}/_stcore/health", timeout=10).read().decode()
    check(health.strip() == "ok", "dashboard /_stcore/health answers ok", health.strip())
    for path in PAGES:
        with urllib.request.urlopen(f"{base}/{path}", timeout=10) as reply:
            body = reply.read().decode()
        check(reply.status == 200 and "<noscript>" in body, f"dashboard serves /{path}", reply.status)
    browser_checks(base)


def browser_checks(base: str) -> None:
    """Every page rendered by headless Chromium shows its heading (skipped without Chromium)."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        say("SKIP browser check: playwright is not installed")
        return
    if not chromium.exists():
        say("SKIP browser check: no /usr/bin/chromium (apt-get install chromium)")
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            for path, heading in PAGES.items():
                page.goto(f"{base}/{path}")
                expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
                errors = page.locator("[data-testid='stException']").count()
                check(errors == 0, f"dashboard page {heading} renders in Chromium, no exception", errors)
            page.goto(f"{base}/alerts")
            expect(page.get_by_text("ACME").first).to_be_visible()
            check(True, "dashboard Alerts page shows the ACME alert")
        finally:
            browser.close()


def seed(stack: Stack) -> None:
    """Put a production model into the models volume and a dashboard user into the users volume.

    With ``STACK_MODEL_REGISTRY`` naming a registry directory, it is copied in; otherwise the
    `tonewatch` CLI service builds the quick first model (`model ensure-default --quick`), as a
    user of the stack would (there is no model hub).
    """
    registry = os.environ.get("STACK_MODEL_REGISTRY")
    if registry:
        if not any(Path(registry).rglob("registry.json")):
            raise StackTestFailure(f"STACK_MODEL_REGISTRY={registry} holds no model (no registry.json)")
        say(f"seeding the models volume from {registry}")
        # As root (the registry keeps model folders private to their owner), then handed to the
        # containers' uid 50000.
        stack.compose("run", "--rm", "-T", "--user", "0", "-v", f"{Path(registry).resolve()}:/seed:ro",
                      "--entrypoint", "sh", "tonewatch", "-c",
                      "cp -R /seed/. /models/ && chown -R 50000:0 /models", timeout=900)
    else:
        say("building the quick first model in the models volume (tonewatch model ensure-default --quick)")
        t0 = time.monotonic()
        stack.compose("run", "--rm", "-T", "tonewatch", "model", "ensure-default", "--quick", timeout=3600)
        say(f"quick model built in {time.monotonic() - t0:.0f} s")
    stack.compose("run", "--rm", "-T", "--no-deps", "tonewatch", "users", "add", "stackreader", "--role",
                  "viewer", "--password-stdin", input="stack-reader-password-1\n", timeout=300)


def up(stack: Stack, label: str) -> None:
    t0 = time.monotonic()
    proc = stack.compose("up", "-d", "--wait", "--wait-timeout", "900", timeout=1000, check_rc=False)
    ps = stack.compose("ps", "--all", "--format", "{{.Service}} {{.State}} {{.Health}}").stdout
    say("services:\n    " + ps.strip().replace("\n", "\n    "))
    if proc.returncode != 0:
        logs = stack.compose("logs", "--tail", "40", check_rc=False).stdout
        print(logs[-8000:])
    check(proc.returncode == 0, f"{label}: every service up and healthy", f"{time.monotonic() - t0:.0f} s")
    stack.wait_for("the Airflow API", lambda: stack.login() or True, 300)
    stack.wait_for(f"{DAG} to be parsed", lambda: stack.api("GET", f"/api/v2/dags/{DAG}"), 300)


def phase_one(stack: Stack) -> dict:
    stack.api("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})
    t0 = time.monotonic()
    stack.trigger("stack-1", {"at": AT})
    state = stack.wait_run("stack-1")
    tis = stack.task_instances("stack-1")
    check(state == "success", "run 1 (fixture feeds) succeeded",
          f"{state} in {time.monotonic() - t0:.0f} s; " + ", ".join(f"{t}={ti['state']}" for t, ti in tis.items()))
    score = tis["score"]
    check(score["queue"] == "gpu" and score["hostname"] == "worker-gpu",
          "score ran from the gpu queue on the gpu-queue worker", f"{score['queue']} on {score['hostname']}")
    check(tis["ingest"]["hostname"] == "worker-cpu", "ingest ran on the CPU worker", tis["ingest"]["hostname"])
    counts = stack.python(COUNTS)
    say(f"DuckDB: {counts}")
    check(counts["articles"] > 0 and counts["articles"] == counts["distinct_articles"],
          "articles are in the DuckDB volume, each once", counts["articles"])
    check(counts["scores"] > 0 and counts["unscored_en"] == 0, "every English article is scored",
          f"{counts['scores']} scores, {counts['unscored_en']} unscored")
    check(["ticker", "ACME"] in counts["firing"], "the ACME alert is firing", counts["firing"])
    dashboard_checks(stack)
    return counts


def phase_kill(stack: Stack, feeds_dir: Path, burst: int) -> dict:
    # Both workers take both queues, so a task of either can go on on the other.
    say("both workers now consume default,gpu")
    stack.env.update(TONEWATCH_CPU_WORKER_QUEUES="default,gpu", TONEWATCH_GPU_WORKER_QUEUES="default,gpu")
    stack.compose("up", "-d", "--wait", "--wait-timeout", "600", "airflow-worker", "airflow-worker-gpu",
                  timeout=700)
    (feeds_dir / "burst.xml").write_text(burst_feed(burst), encoding="utf-8")
    t0 = time.monotonic()
    stack.trigger("stack-2", {"at": AT, "extra_sources": ["/feeds/burst.xml"]})

    def scoring_started():
        ti = stack.task_instances("stack-2").get("score", {})
        if ti.get("state") != "running" or not ti.get("hostname"):
            return None
        scored = stack.python(COUNTS)["burst_scores"]
        return (ti["hostname"], scored) if scored > 0 else None

    victim, scored_before = stack.wait_for("score to store its first chunk", scoring_started, 900, every=1)
    service = {"worker-cpu": "airflow-worker", "worker-gpu": "airflow-worker-gpu"}[victim]
    survivor = "worker-gpu" if victim == "worker-cpu" else "worker-cpu"
    say(f"score is running on {victim} with {scored_before}/{burst} burst articles scored: SIGKILL {service}")
    stack.compose("kill", "-s", "SIGKILL", service, timeout=120)
    state = stack.wait_run("stack-2", timeout=1500)
    tis = stack.task_instances("stack-2")
    check(state == "success", "run 2 succeeded after the kill",
          f"{state} in {time.monotonic() - t0:.0f} s; " + ", ".join(f"{t}={ti['state']}" for t, ti in tis.items()))
    tries = stack.tries("stack-2", "score")
    say("score tries: " + "; ".join(f"try {t['try_number']} {t['state']} on {t['hostname']}" for t in tries))
    check(tis["score"]["try_number"] >= 2 and tis["score"]["hostname"] == survivor,
          f"score was retried on the other worker ({survivor})",
          f"try {tis['score']['try_number']} on {tis['score']['hostname']}")
    counts = stack.python(COUNTS)
    say(f"DuckDB: {counts}")
    check(counts["burst_articles"] == burst and counts["burst_links"] == burst,
          f"all {burst} burst articles stored exactly once", counts["burst_articles"])
    check(counts["burst_scores"] == burst and counts["burst_scored_articles"] == burst,
          "every burst article scored exactly once (none lost, none twice)", counts["burst_scores"])
    check(counts["unscored_en"] == 0 and counts["articles"] == counts["distinct_articles"],
          "no unscored English article, no duplicate article", counts["unscored_en"])
    stack.compose("start", service, timeout=300)
    return counts


def phase_restart(stack: Stack, before: dict) -> None:
    say("down (volumes kept), then up again")
    stack.compose("down", timeout=600)
    up(stack, "after down/up")
    after = stack.python(COUNTS)
    check(after == before, "articles, scores and alerts survived down/up", after)
    runs = stack.api("GET", f"/api/v2/dags/{DAG}/dagRuns")["dag_runs"]
    check({r["dag_run_id"]: r["state"] for r in runs} == {"stack-1": "success", "stack-2": "success"},
          "the Airflow run history survived down/up", [r["dag_run_id"] for r in runs])
    health = urllib.request.urlopen(f"http://127.0.0.1:{stack.dashboard_port}/_stcore/health",
                                    timeout=10).read().decode()
    check(health.strip() == "ok", "the dashboard answers after down/up (users kept)", health.strip())


def main() -> int:
    if shutil.which("docker") is None or subprocess.run(["docker", "compose", "version"],
                                                        capture_output=True).returncode:
        print("stack-test: needs docker with the compose v2 plugin", file=sys.stderr)
        return 2
    # A terminated test still tears the stack down (SystemExit runs the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    burst = int(os.environ.get("STACK_BURST", "1500"))
    feeds_dir = Path(tempfile.mkdtemp(prefix="tonewatch-stack-feeds-"))
    feeds_dir.chmod(0o755)
    fixtures = sorted((ROOT / "tests" / "fixtures" / "feeds").iterdir())
    (feeds_dir / "fixtures").mkdir()
    for f in fixtures:
        shutil.copy(f, feeds_dir / "fixtures" / f.name)
    (feeds_dir / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{name: {f.stem}, url: /feeds/fixtures/{f.name}}}\n" for f in fixtures), encoding="utf-8")
    for path in feeds_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    stack = Stack(feeds_dir)
    failed: str | None = None
    try:
        say(f"project {PROJECT}: removing leftovers (down -v)")
        stack.compose("down", "-v", "--remove-orphans", timeout=600)
        seed(stack)
        up(stack, "first up")
        phase_one(stack)
        counts = phase_kill(stack, feeds_dir, burst)
        phase_restart(stack, counts)
    except (StackTestFailure, subprocess.TimeoutExpired, urllib.error.URLError) as exc:
        failed = str(exc)
        say(f"stopped: {failed}")
        try:
            print(stack.compose("logs", "--tail", "60", check_rc=False).stdout[-12000:])
        except subprocess.TimeoutExpired:
            pass
    finally:
        if os.environ.get("STACK_KEEP") != "1":
            say("tearing down (down -v)")
            stack.compose("down", "-v", "--remove-orphans", timeout=600, check_rc=False)
        shutil.rmtree(feeds_dir, ignore_errors=True)
    passed = sum(ok for ok, _ in RESULTS)
    failures = len(RESULTS) - passed + (1 if failed and all(ok for ok, _ in RESULTS) else 0)
    print(f"stack-test: {passed} passed, {failures} failed")
    print(f"stack-test: wall time {time.monotonic() - START:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
