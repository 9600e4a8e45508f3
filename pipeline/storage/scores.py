"""Writes of the ``scores`` and ``entity_scores`` tables, and which model's scores count."""

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


# ------------------------------------------------------------------- company-level (entity) scores

#: What the model is told the company is: the text that names it in the article, else its
#: name in the universe, else its ticker (a link from a category or an archive's ticker column).
_TARGET_SQL = "coalesce(ae.mention, c.name, ae.entity)"

_UNSCORED_PAIRS = (
    " FROM article_entities ae JOIN articles a USING (article_id)"
    " LEFT JOIN companies c ON c.ticker = ae.entity"
    " WHERE NOT EXISTS (SELECT 1 FROM entity_scores s WHERE s.article_id = ae.article_id"
    "   AND s.entity = ae.entity AND s.model_version = ? AND s.content_hash = a.content_hash"
    f"  AND s.target = {_TARGET_SQL})"
    "   AND (a.language IS NULL OR list_contains(?, a.language))"
    "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at >= ?::TIMESTAMPTZ)"
    "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at < ?::TIMESTAMPTZ)"
    "   AND (? <= 1 OR (SELECT count(DISTINCT x.entity) FROM article_entities x"
    "                   WHERE x.article_id = ae.article_id) >= ?)"
)


def unscored_entity_count(
    con: duckdb.DuckDBPyConnection, model_version: str, languages: list[str],
    since: datetime | None = None, until: datetime | None = None, min_companies: int = 1,
) -> int:
    """How many (article, company) links :func:`unscored_entity_chunk` would return in all."""
    return int(con.execute("SELECT count(*)" + _UNSCORED_PAIRS,
                           [model_version, languages, since, since, until, until, min_companies,
                            min_companies]).fetchall()[0][0])


def unscored_entity_chunk(
    con: duckdb.DuckDBPyConnection, model_version: str, languages: list[str], *,
    since: datetime | None = None, until: datetime | None = None,
    after: tuple[datetime, str, str] | None = None, limit: int = 2048, min_companies: int = 1,
) -> pd.DataFrame:
    """The next ``limit`` (article, company) links needing a company-level score.

    A link needs one when ``model_version`` has no score for it, or scored other content
    (the article's text changed) or another target (the link now names the company another
    way). Paged by key ``(published_at, article_id, entity)`` like
    :func:`pipeline.storage.articles.unscored_chunk`.

    Args:
        con: any connection.
        model_version: the scoring model's version id.
        languages: ISO 639-1 codes to score; articles of unknown language are included.
        since, until: publication bounds ``[since, until)``, aware UTC; None = open.
        after: the ``(published_at, article_id, entity)`` of the previous page's last row.
        limit: most rows returned.
        min_companies: only links of articles linked to at least this many distinct companies
            (2: the ``entity_scoring = "multi"`` setting; 1: every link).

    Returns:
        DataFrame ``(article_id, entity, text, target, content_hash, published_at)`` ordered
        by the paging key; empty when nothing is left.
    """
    last_at, last_id, last_entity = after if after is not None else (None, None, None)
    return con.execute(
        f"SELECT ae.article_id, ae.entity, a.text, {_TARGET_SQL} AS target, a.content_hash,"
        " a.published_at" + _UNSCORED_PAIRS
        + "   AND (?::TIMESTAMPTZ IS NULL OR a.published_at > ?::TIMESTAMPTZ"
          "        OR (a.published_at = ?::TIMESTAMPTZ AND (ae.article_id > ?"
          "            OR (ae.article_id = ? AND ae.entity > ?))))"
          " ORDER BY a.published_at, ae.article_id, ae.entity LIMIT ?",
        [model_version, languages, since, since, until, until, min_companies, min_companies,
         last_at, last_at, last_at, last_id, last_id, last_entity, limit],
    ).df()


def entity_score_rows(chunk: pd.DataFrame, probs: np.ndarray, model_version: str,
                      scored_at: datetime) -> pd.DataFrame:
    """Build ``entity_scores`` rows for a chunk of :func:`unscored_entity_chunk`.

    Args:
        chunk: ``(article_id, entity, target, content_hash, ...)`` rows.
        probs: ``(len(chunk), 3)`` probabilities toward each row's company, in
            :data:`pipeline.domain.LABELS` order.
        model_version: the model that produced ``probs``.
        scored_at: UTC instant.
    """
    rows = score_rows(chunk["article_id"].tolist(), chunk["content_hash"].tolist(), probs,
                      model_version, scored_at).drop(columns="truncated")
    rows.insert(1, "entity", chunk["entity"].to_numpy())
    rows["target"] = chunk["target"].to_numpy()
    return rows


def upsert_entity_scores(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    """Write company-level score rows; a re-score replaces that version's earlier row."""
    cols = ["label", "p_negative", "p_neutral", "p_positive", "sentiment_score", "target",
            "content_hash", "scored_at"]
    return upsert_frame(con, "entity_scores", frame, ["article_id", "entity", "model_version"], cols)
