"""Writes of the ``model_versions`` table: the database's mirror of the model registry."""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb
import pandas as pd

from pipeline.domain import ModelRecord
from pipeline.storage.db import upsert_frame

_COLUMNS = ["model_version", "name", "path", "stage", "metrics", "created_at"]


def sync_model_versions(con: duckdb.DuckDBPyConnection, records: Iterable[ModelRecord]) -> int:
    """Mirror registry records into the ``model_versions`` table.

    A version already in the table gets its ``path``, ``stage`` and ``metrics`` updated (a
    promotion, a moved registry); ``name`` and ``created_at`` never change.

    Args:
        con: open read-write connection.
        records: the registry's versions (:meth:`pipeline.registry.Registry.list`);
            ``created_at`` is ISO-8601 text, ``metrics`` is stored as JSON text.

    Returns:
        rows written.
    """
    frame = pd.DataFrame(
        [{"model_version": r.model_version, "name": r.name, "path": str(r.path), "stage": r.stage,
          "metrics": json.dumps(r.metrics, default=str), "created_at": pd.Timestamp(r.created_at)}
         for r in records],
        columns=_COLUMNS,
    )
    return upsert_frame(con, "model_versions", frame, ["model_version"], ["path", "stage", "metrics"])
