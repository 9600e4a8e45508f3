"""What a model build is doing now: one JSON file per model family, beside the registry.

A build that runs for tens of minutes (the full default model, trained behind the running demo)
writes its phase, step count, rate and ETA here; ``tonewatch model status`` and the dashboard's
Model page read it. The file lives in ``<registry>/.training/<name>.json`` and is replaced
atomically (write to a temporary file, then ``os.replace``), so a reader never sees half a file.
A "running" build whose process has gone (killed, machine rebooted) reads as "failed", so
nothing waits for a build that no longer exists.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: Folder of the status files, inside the registry root (dot-named: the registry skips it).
STATUS_DIR = ".training"

#: Seconds between two writes of the progress of one phase (the first and last always write).
WRITE_EVERY_S = 2.0

RUNNING, DONE, FAILED = "running", "done", "failed"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class BuildStatus:
    """The state of one model family's build.

    Attributes:
        name: registry name of the model family.
        state: ``running``, ``done`` or ``failed``.
        phase: what the build is doing (``fine-tuning``, ``rescoring stored articles``...) or,
            once done, how it ended (``promoted``, ``kept production``).
        pid: the building process.
        started_at, updated_at: ISO 8601 instants, UTC.
        step, total: steps done and planned in the current phase (0 and 0 when it has none).
        rate: steps per second so far in this phase (mean since its start), or None.
        eta_seconds: seconds left in this phase at that rate, or None.
        message: one line for people (the outcome, or the error).
        log: the build's log file, when it writes one.
        model_version: the version being built or built.
        history: ``{"phase", "at"}`` of the phases passed, oldest first.
    """

    name: str
    state: str = RUNNING
    phase: str = "starting"
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    step: int = 0
    total: int = 0
    rate: float | None = None
    eta_seconds: float | None = None
    message: str = ""
    log: str | None = None
    model_version: str | None = None
    history: list[dict] = field(default_factory=list)

    @property
    def fraction(self) -> float | None:
        """Share of the current phase done (0-1), or None when the phase counts no steps."""
        return min(1.0, self.step / self.total) if self.total else None


def status_path(registry_root: Path, name: str) -> Path:
    """Where the status of model family ``name`` is kept."""
    return Path(registry_root) / STATUS_DIR / f"{name}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_status(registry_root: Path, name: str) -> BuildStatus | None:
    """The last status of ``name``'s build, or None when none was ever written (or it is unreadable).

    A ``running`` status whose process no longer exists is returned as ``failed`` with a message
    saying so (the file is left as it is: the next build replaces it).
    """
    path = status_path(registry_root, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        status = BuildStatus(**{k: v for k, v in data.items() if k in BuildStatus.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None
    if status.state == RUNNING and not _alive(status.pid):
        status.state = FAILED
        status.message = (f"the build process (pid {status.pid}) ended during '{status.phase}' "
                          "without finishing; run it again (a model it registered before is reused)")
    return status


class StatusWriter:
    """Writes one build's :class:`BuildStatus` as it moves through its phases.

    Args:
        registry_root: the registry folder.
        name: the model family being built.
        log: the build's log file, shown to people who want the details.
        pid: the building process (default: this one; a parent that starts the build records
            its child's).
    """

    def __init__(self, registry_root: Path, name: str, *, log: str | None = None,
                 pid: int | None = None):
        self.path = status_path(registry_root, name)
        self.status = BuildStatus(name=name, log=log, pid=pid or os.getpid())
        self._phase_started = time.monotonic()
        self._last_write = 0.0
        self.write()

    def write(self) -> None:
        """Replace the status file with the current status (atomically)."""
        self.status.updated_at = _now()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self.status), indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
        self._last_write = time.monotonic()

    def phase(self, phase: str, *, total: int = 0, message: str | None = None,
              model_version: str | None = None) -> None:
        """Start a new phase of ``total`` steps (0: not counted)."""
        self.status.phase, self.status.step, self.status.total = phase, 0, total
        self.status.rate = self.status.eta_seconds = None
        if message is not None:
            self.status.message = message
        if model_version is not None:
            self.status.model_version = model_version
        self.status.history.append({"phase": phase, "at": _now()})
        self._phase_started = time.monotonic()
        self.write()

    def progress(self, step: int, total: int | None = None) -> None:
        """``step`` steps of the current phase are done; writes at most every
        :data:`WRITE_EVERY_S` seconds (and always at the last step). The rate is the phase's mean
        since it started; ETA = steps left / rate."""
        status = self.status
        status.step = step
        if total is not None:
            status.total = total
        elapsed = time.monotonic() - self._phase_started
        if step and elapsed > 0:
            status.rate = round(step / elapsed, 3)
            status.eta_seconds = round(max(0, status.total - step) / status.rate, 1)
        if step >= status.total or time.monotonic() - self._last_write >= WRITE_EVERY_S:
            self.write()

    def finish(self, phase: str, message: str, *, model_version: str | None = None) -> None:
        """The build ended well: ``phase`` says how (``promoted``, ``kept production``...)."""
        self.status.state = DONE
        self.phase(phase, message=message, model_version=model_version)

    def fail(self, message: str) -> None:
        """The build failed; ``message`` is the one line people read."""
        self.status.state = FAILED
        self.status.message = message
        self.write()

    def step_callback(self) -> Callable[[int, int], None]:
        """A ``(step, total)`` callback for :func:`pipeline.training.finetune.finetune`."""
        return lambda step, total: self.progress(step, total)
