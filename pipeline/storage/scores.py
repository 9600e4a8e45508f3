"""Writes of the ``scores`` table."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from pipeline.domain import LABELS
from pipeline.storage.db import upsert_frame


def score_rows(
    article_ids: list[str], content_hashes: list[str], probs: np.ndarray, model_version: str,
    scored_at: datetime, truncated: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build ``scores`` rows from probabilities.

    Args:
        article_ids, content_hashes: one per row of ``probs``.
        probs: array of shape ``(n, 3)`` in :data:`pipeline.domain.LABELS` order, rows sum to 1.
        model_version: the model that produced ``probs``.
        scored_at: UTC instant.
        truncated: per row, whether the model saw only the first ``max_length`` tokens.

    Returns:
        DataFrame with the ``scores`` columns; ``sentiment_score = p_positive - p_negative``.
    """
    probs = np.asarray(probs, dtype=np.float64).reshape(-1, 3)
    return pd.DataFrame(
        {
            "article_id": article_ids,
            "model_version": model_version,
            "label": [LABELS[i] for i in probs.argmax(axis=1)] if len(probs) else [],
            "p_negative": probs[:, 0],
            "p_neutral": probs[:, 1],
            "p_positive": probs[:, 2],
            "sentiment_score": probs[:, 2] - probs[:, 0],
            "content_hash": content_hashes,
            "scored_at": pd.Timestamp(scored_at),
            "truncated": (np.zeros(len(probs), dtype=bool) if truncated is None
                          else np.asarray(truncated, dtype=bool)),
        }
    )


def upsert_scores(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    """Write score rows; a re-score of changed content replaces the earlier row of that version."""
    cols = ["label", "p_negative", "p_neutral", "p_positive", "sentiment_score", "content_hash",
            "scored_at", "truncated"]
    return upsert_frame(con, "scores", frame, ["article_id", "model_version"], cols)


def current_model_version(con) -> str | None:
    """The model whose scores detection uses: production in ``model_versions``, else the latest scorer."""
    rows = con.execute(
        "SELECT model_version FROM model_versions WHERE stage = 'production'"
        " AND model_version IN (SELECT DISTINCT model_version FROM scores)"
        " ORDER BY created_at DESC LIMIT 1").fetchall()
    if not rows:
        rows = con.execute(
            "SELECT model_version FROM scores ORDER BY scored_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None
