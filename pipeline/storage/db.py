"""DuckDB connections and schema migrations.

DuckDB allows one read-write process *or* many read-only processes per file
(https://duckdb.org/docs/connect/concurrency). So writers open, write and close; readers use
short-lived ``read_only=True`` connections and retry briefly when a writer holds the lock. Every
connection sets ``TimeZone='UTC'`` so TIMESTAMPTZ values come back in UTC.
"""

from __future__ import annotations

import contextlib
import functools
import random
import re
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TypeVar

import duckdb

from pipeline.errors import StorageError

T = TypeVar("T")

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_HINTS = ("lock", "Could not set lock", "Conflicting lock")


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` (a DuckDB error, or a StorageError caused by one) is another process's
    file lock rather than a real failure."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    return isinstance(cause, duckdb.Error) and any(hint in str(cause) for hint in _LOCK_HINTS)


def retry_on_lock(open_once: Callable[[], T], *, what: str, timeout_s: float,
                  poll_s: float | None = None, locked_message: str | None = None) -> T:
    """Call ``open_once`` until it stops failing on another process's file lock.

    The one retry-on-lock loop of tonewatch: writers back off exponentially (50 ms doubling to
    1 s), while readers such as the dashboard poll at a short fixed interval with jitter
    (``poll_s``), because a pipeline writes in short transactions separated by work and a
    reader that waits a second between tries can keep missing those gaps.

    Args:
        open_once: makes one attempt; raises ``duckdb.Error`` (or StorageError caused by one).
        what: the database, for the error message.
        timeout_s: how long to keep trying, seconds (0: one attempt).
        poll_s: fixed pause between tries plus up to as much again of jitter, seconds; None
            for exponential back-off.
        locked_message: the StorageError's text when the lock outlasts ``timeout_s``
            (default: "database WHAT is locked by another process (gave up after N s)").

    Returns:
        what ``open_once`` returned.

    Raises:
        StorageError: still locked after ``timeout_s``; or the first error that is not a lock.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return open_once()
        except (duckdb.Error, StorageError) as exc:
            if not is_lock_error(exc):
                if isinstance(exc, StorageError):
                    raise
                raise StorageError(f"cannot open database {what}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StorageError(locked_message or (
                    f"database {what} is locked by another process (gave up after "
                    f"{timeout_s:.0f}s)")) from (exc.__cause__ if isinstance(exc, StorageError) else exc)
            if poll_s is None:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            else:
                time.sleep(poll_s * (1 + random.random()))


def _open(path: Path, read_only: bool, lock_timeout_s: float, poll_s: float | None = None,
          locked_message: str | None = None) -> duckdb.DuckDBPyConnection:
    def once() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute("SET TimeZone = 'UTC'")
        return con

    return retry_on_lock(once, what=str(path), timeout_s=lock_timeout_s, poll_s=poll_s,
                         locked_message=locked_message)


@contextlib.contextmanager
def connect(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = 30.0,
    poll_s: float | None = None, locked_message: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for one short unit of work, then close it.

    A writer (``read_only=False``) creates the parent folder and brings the schema up to date
    (:func:`ensure_schema`: one version check per open, migrations only when behind).

    Args:
        path: the DuckDB file.
        read_only: open read-only (many readers may coexist; none while a writer holds it).
        lock_timeout_s: how long to retry while another process holds the lock, seconds.
        poll_s: retry at this fixed interval (plus jitter) instead of backing off; see
            :func:`retry_on_lock`.
        locked_message: error text when the lock outlasts ``lock_timeout_s``.

    Raises:
        StorageError: the folder is unwritable, the file is not a DuckDB database, the lock
            could not be taken in time, or (read-only) the file does not exist.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise StorageError(f"database {path} does not exist yet; run `tonewatch run` first")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data directory {path.parent}: {exc.strerror}") from exc
    con = _open(path, read_only, lock_timeout_s, poll_s, locked_message)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    except duckdb.Error as exc:
        raise StorageError(f"database {path}: {exc}") from exc
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: committed when it ends, rolled back if it raises.

    Stages write a run's rows together (articles with their feeds' health, a window's alerts
    with their outbox rows) so that a crash leaves all of them or none.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@functools.cache
def migrations() -> tuple[tuple[int, str, str], ...]:
    """Return the packaged migrations as ``(version, name, sql)`` sorted by version.

    Read from the package once per process (they cannot change while it runs)."""
    found = []
    for entry in resources.files("pipeline.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The newest migration applied to this database, or None for a database without any."""
    try:
        return con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
    except duckdb.CatalogException:
        return None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Bring the schema up to date: one query when it is current, :func:`migrate` when not.

    Every read-write open calls this, so a database made by an older tonewatch is migrated by
    the first writer that opens it, while an up-to-date one costs a single ``max(version)``.

    Returns:
        the versions applied (empty when the schema was current).
    """
    if schema_version(con) == migrations()[-1][0]:
        return []
    return migrate(con)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet recorded in ``schema_migrations``.

    Each migration runs in its own transaction together with its bookkeeping row, so a crash
    leaves either the old or the new version, never half of one.

    Returns:
        the versions applied by this call (empty when the schema was current).
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)", [version, name]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def upsert_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame, key: list[str], update: list[str] | None
) -> int:
    """Insert a DataFrame into ``table``; on key conflict update ``update`` columns (or skip).

    The frame is de-duplicated on ``key`` first (keeping the last row) because DuckDB rejects or
    keeps only one of two rows with the same key in a single statement.

    Args:
        con: open read-write connection.
        table: target table; the frame's columns must be a subset of its columns.
        frame: pandas DataFrame.
        key: primary-key columns.
        update: columns to overwrite on conflict; ``None`` or empty means DO NOTHING.

    Returns:
        number of rows in the de-duplicated frame.
    """
    if frame is None or len(frame) == 0:
        return 0
    frame = frame.drop_duplicates(subset=key, keep="last")
    cols = ", ".join(frame.columns)
    conflict = ", ".join(key)
    if update:
        action = "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
    else:
        action = "DO NOTHING"
    con.register("_upsert_frame", frame)
    try:
        con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _upsert_frame "
            f"ON CONFLICT ({conflict}) {action}"
        )
    finally:
        con.unregister("_upsert_frame")
    return len(frame)
