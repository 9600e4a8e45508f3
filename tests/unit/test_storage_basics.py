"""Storage basics shared by every stage: the model in force, the schema check, the lock retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import StorageError
from pipeline.storage import db as db_module
from pipeline.storage.db import connect, ensure_schema, migrations, retry_on_lock, schema_version
from pipeline.storage.scores import model_in_force, score_rows, upsert_scores

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _version(con, version: str, stage: str, created: datetime) -> None:
    con.execute("INSERT INTO model_versions VALUES (?, 'm', '/x', ?, NULL, ?)",
                [version, stage, created])


def _scores(con, version: str, at: datetime, n: int = 2) -> None:
    probs = np.tile([0.2, 0.5, 0.3], (n, 1))
    upsert_scores(con, score_rows([f"a{i}" for i in range(n)], ["h"] * n, probs, version, at))


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "t.duckdb") as c:
        yield c


def test_nothing_scored_means_no_model_in_force(con):
    _version(con, "prod", "production", T0)
    assert model_in_force(con) is None


def test_production_with_scores_counts(con):
    _version(con, "old", "archived", T0)
    _version(con, "prod", "production", T0 + timedelta(days=1))
    _scores(con, "old", T0 + timedelta(days=5))   # scored later, but archived
    _scores(con, "prod", T0 + timedelta(days=2))
    got = model_in_force(con)
    assert (got.model_version, got.chosen_by, got.production) == ("prod", "production", "prod")


def test_after_a_promotion_the_old_model_counts_until_the_new_one_has_scored(con):
    # The shadow candidate scored most recently; it must never stand in for production.
    _version(con, "old", "archived", T0)
    _version(con, "new", "production", T0 + timedelta(days=3))
    _version(con, "cand", "candidate", T0 + timedelta(days=4))
    _scores(con, "old", T0 + timedelta(days=1))
    _scores(con, "cand", T0 + timedelta(days=5))
    got = model_in_force(con)
    assert (got.model_version, got.chosen_by, got.production) == ("old", "previous", "new")
    _scores(con, "new", T0 + timedelta(days=6))
    assert model_in_force(con).model_version == "new"


def test_without_production_the_latest_scorer_counts(con):
    _version(con, "a", "archived", T0)
    _scores(con, "a", T0 + timedelta(days=1))
    _scores(con, "hub-model", T0 + timedelta(days=2))  # run from a folder: no registry row
    got = model_in_force(con)
    assert (got.model_version, got.chosen_by, got.production) == ("hub-model", "latest_scored", None)


def test_schema_is_checked_with_one_query_and_migrated_only_when_behind(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    with connect(path) as con:
        assert schema_version(con) == migrations()[-1][0]
    calls = []
    monkeypatch.setattr(db_module, "migrate", lambda con: calls.append(1) or [])
    with connect(path) as con:
        pass
    assert calls == []  # current: no migration run
    raw = duckdb.connect(str(path))
    raw.execute("DELETE FROM schema_migrations WHERE version = ?", [migrations()[-1][0]])
    raw.close()
    with connect(path) as con:
        pass
    assert calls == [1]  # behind: migrated
    monkeypatch.undo()
    with connect(path) as con:
        assert ensure_schema(con) == []  # migrations are idempotent


def test_retry_on_lock_waits_out_a_lock_and_names_the_database():
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise duckdb.IOException('IO Error: Could not set lock on file "x.duckdb"')
        return "open"

    assert retry_on_lock(flaky, what="x.duckdb", timeout_s=5, poll_s=0.001) == "open"
    assert len(attempts) == 3

    def locked():
        raise duckdb.IOException('IO Error: Could not set lock on file "x.duckdb": Conflicting lock')

    with pytest.raises(StorageError, match=r"database x.duckdb is locked by another process"):
        retry_on_lock(locked, what="x.duckdb", timeout_s=0.05)
    with pytest.raises(StorageError, match=r"^stayed locked$"):
        retry_on_lock(locked, what="x.duckdb", timeout_s=0, poll_s=0.01,
                      locked_message="stayed locked")

    def broken():
        raise duckdb.IOException("IO Error: not a DuckDB file")

    with pytest.raises(StorageError, match="cannot open database x.duckdb: IO Error: not a"):
        retry_on_lock(broken, what="x.duckdb", timeout_s=5)


def test_an_undated_article_keeps_its_first_inferred_date(con):
    from pipeline.ingest.normalize import ARTICLE_COLUMNS
    from pipeline.storage.articles import upsert_articles

    def row(article_id, published, quality, title="Statement on operations"):
        return pd.DataFrame([{c: None for c in ARTICLE_COLUMNS} | {
            "article_id": article_id, "feed_id": "f", "title": title, "text": title,
            "published_at": published, "date_quality": quality, "first_seen_at": published,
            "fetched_at": published, "content_hash": "h", "story_id": article_id,
            "tickers": []}], columns=ARTICLE_COLUMNS)

    assert upsert_articles(con, row("u", T0, "inferred")) == (1, 0)
    assert upsert_articles(con, row("u", T0 + timedelta(hours=5), "inferred")) == (0, 0)
    assert upsert_articles(con, row("d", T0, "exact")) == (1, 0)
    upsert_articles(con, row("d", T0 + timedelta(hours=1), "exact"))  # a dated correction
    got = dict(con.execute("SELECT article_id, published_at FROM articles").fetchall())
    assert got == {"u": T0, "d": T0 + timedelta(hours=1)}
