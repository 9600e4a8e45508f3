"""DuckDB connections and schema migrations.

DuckDB allows one read-write process *or* many read-only processes per file
(https://duckdb.org/docs/connect/concurrency). So writers open, write and close; readers use
short-lived ``read_only=True`` connections and retry briefly when a writer holds the lock. Every
connection sets ``TimeZone='UTC'`` so TIMESTAMPTZ values come back in UTC.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

from pipeline.errors import StorageError

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_HINTS = ("lock", "Could not set lock", "Conflicting lock")


def _is_lock_error(exc: Exception) -> bool:
    return any(hint in str(exc) for hint in _LOCK_HINTS)


def _open(path: Path, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            if _is_lock_error(exc) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if _is_lock_error(exc):
                raise StorageError(
                    f"database {path} is locked by another process (gave up after "
                    f"{lock_timeout_s:.0f}s)"
                ) from exc
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        except duckdb.Error as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc


@contextlib.contextmanager
def connect(
    path: Path, *, read_only: bool = False, lock_timeout_s: float = 30.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for one short unit of work, then close it.

    A writer (``read_only=False``) creates the parent folder and applies pending migrations.

    Args:
        path: the DuckDB file.
        read_only: open read-only (many readers may coexist; none while a writer holds it).
        lock_timeout_s: how long to retry while another process holds the lock, seconds.

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
    con = _open(path, read_only, lock_timeout_s)
    try:
        if not read_only:
            migrate(con)
        yield con
    except duckdb.Error as exc:
        raise StorageError(f"database {path}: {exc}") from exc
    finally:
        con.close()


def migrations() -> list[tuple[int, str, str]]:
    """Return the packaged migrations as ``(version, name, sql)`` sorted by version."""
    found = []
    for entry in resources.files("pipeline.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


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
