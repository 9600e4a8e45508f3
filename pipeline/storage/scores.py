"""Writes of the ``scores`` table."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ModelInForce:
    """The model whose scores count now, and why it was chosen.

    Attributes:
        model_version: the version whose ``scores`` rows detection, rescoring and the
            dashboard use.
        chosen_by: ``production`` (the production model, which has scores),
            ``previous`` (production has not scored yet, e.g. just after a promotion: the
            newest non-candidate version that has scores stands in until it has), or
            ``latest_scored`` (no model is marked production: the most recently scored one).
        production: the version marked production in ``model_versions``, if any.
    """

    model_version: str
    chosen_by: str
    production: str | None = None


def model_in_force(con: duckdb.DuckDBPyConnection) -> ModelInForce | None:
    """Answer "which model's scores count now": the one rule detection, rescoring/shadow and
    the dashboard share.

    In order: the production version of ``model_versions`` (newest ``created_at`` if several)
    when it has at least one score; else, when a production version exists but has not scored
    yet, the most recently scored version that is not a ``candidate`` (a promotion therefore
    never lets a shadow candidate's scores count, and the old production keeps counting until
    the new one has scored); else the most recently scored version of any kind (a model run
    from a folder or hub id has no ``model_versions`` row). ``model_versions`` mirrors the
    registry and is refreshed by every scoring run.

    Args:
        con: any connection (read-only is enough).

    Returns:
        the model in force, or None when nothing has been scored.
    """
    rows = con.execute("""
        WITH production AS (
            SELECT model_version FROM model_versions WHERE stage = 'production'
            ORDER BY created_at DESC, model_version LIMIT 1
        ), scored AS (
            SELECT s.model_version, max(s.scored_at) AS last_scored_at,
                   any_value(mv.stage) AS stage
            FROM scores s LEFT JOIN model_versions mv USING (model_version)
            GROUP BY s.model_version
        )
        SELECT model_version, (SELECT model_version FROM production) AS production
        FROM scored
        ORDER BY CASE WHEN model_version = (SELECT model_version FROM production) THEN 0
                      WHEN NOT EXISTS (SELECT 1 FROM production) THEN 1
                      WHEN coalesce(stage, '') <> 'candidate' THEN 1 ELSE 2 END,
                 last_scored_at DESC, model_version
        LIMIT 1
    """).fetchall()
    if not rows:
        return None
    version, production = rows[0]
    chosen_by = ("production" if version == production else
                 "previous" if production is not None else "latest_scored")
    return ModelInForce(version, chosen_by, production)


def has_scores(con: duckdb.DuckDBPyConnection, model_version: str) -> bool:
    """Whether ``model_version`` has scored at least one stored article."""
    return bool(con.execute("SELECT 1 FROM scores WHERE model_version = ? LIMIT 1",
                            [model_version]).fetchall())


def label_pairs(con: duckdb.DuckDBPyConnection, *, baseline: str, candidate: str,
                since: datetime | None, until: datetime | None = None
                ) -> list[tuple[str, str, int]]:
    """``(baseline label, candidate label, articles)`` over articles scored by both versions.

    Only scores of the article's current content count (``content_hash`` matches), and only
    articles published in ``[since, until)`` (UTC; None: no bound).
    """
    return con.execute(
        """
        SELECT a_s.label, b_s.label, count(*)
        FROM articles art
        JOIN scores a_s ON a_s.article_id = art.article_id AND a_s.model_version = ?
                       AND a_s.content_hash = art.content_hash
        JOIN scores b_s ON b_s.article_id = art.article_id AND b_s.model_version = ?
                       AND b_s.content_hash = art.content_hash
        WHERE (?::TIMESTAMPTZ IS NULL OR art.published_at >= ?::TIMESTAMPTZ)
          AND (?::TIMESTAMPTZ IS NULL OR art.published_at < ?::TIMESTAMPTZ)
        GROUP BY 1, 2
        """, [baseline, candidate, since, since, until, until]).fetchall()
