"""pipeline.storage.db: connections, migrations, bulk upserts and error translation."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from pipeline.errors import StorageError
from pipeline.storage.db import connect, migrate, migrations, upsert_frame

# STYLE.md section 3: the columns other tools rely on.
CONTRACT = {
    "feeds": {"feed_id", "name", "url", "last_attempt_at", "last_success_at", "last_status",
              "consecutive_failures"},
    "articles": {"article_id", "feed_id", "url", "title", "summary", "published_at",
                 "date_quality", "first_seen_at", "fetched_at", "language", "content_hash",
                 "story_id", "tickers"},
    "scores": {"article_id", "model_version", "label", "p_negative", "p_neutral", "p_positive",
               "sentiment_score", "scored_at"},
    "model_versions": {"model_version", "name", "path", "stage", "metrics", "created_at"},
    "alerts": {"alert_id", "fingerprint", "rule", "scope", "entity", "window_start",
               "window_end", "state", "observed", "expected", "p_value", "severity",
               "created_at", "resolved_at"},
    "notifications": {"alert_id", "receiver", "status", "attempts", "sent_at", "error"},
    "runs": {"run_id", "stage", "window_start", "window_end", "started_at", "finished_at",
             "status", "counts"},
}
INSTANT_COLUMNS = {
    ("articles", "published_at"), ("articles", "first_seen_at"), ("articles", "fetched_at"),
    ("scores", "scored_at"), ("alerts", "window_start"), ("alerts", "created_at"),
    ("runs", "started_at"), ("feeds", "last_success_at"), ("notifications", "sent_at"),
}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "nested" / "data" / "tonewatch.duckdb"


@pytest.fixture
def fresh_db(db_path):
    with connect(db_path):
        pass
    return db_path


def columns(con, table):
    return {name: dtype for name, dtype in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table]).fetchall()}


def test_connect_creates_folder_and_applies_migrations(db_path):
    assert not db_path.parent.exists()
    with connect(db_path) as con:
        assert con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall() == [
            (v,) for v, _, _ in migrations()]
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        for table, required in CONTRACT.items():
            cols = columns(con, table)
            assert required <= set(cols), f"{table} lacks {required - set(cols)}"
        for table, column in INSTANT_COLUMNS:
            assert columns(con, table)[column] == "TIMESTAMP WITH TIME ZONE", (table, column)
    assert db_path.is_file()


def test_packaged_migrations_are_numbered_from_one():
    found = migrations()
    assert [v for v, _, _ in found] == list(range(1, len(found) + 1))
    assert found[0][1] == "001_initial.sql"


def test_migrate_twice_is_a_no_op(fresh_db):
    with connect(fresh_db) as con:  # connect already migrated: nothing left to do
        assert migrate(con) == []
        assert migrate(con) == []
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migrations())


def test_read_only_on_missing_file(tmp_path):
    missing = tmp_path / "absent.duckdb"
    with pytest.raises(StorageError, match="does not exist"), connect(missing, read_only=True):
        pass
    assert not missing.exists()  # a reader never creates the database


def test_read_only_reads_and_refuses_writes(fresh_db):
    with connect(fresh_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    with pytest.raises(StorageError), connect(fresh_db, read_only=True) as con:
        con.execute("INSERT INTO runs (run_id, stage, started_at, status) "
                    "VALUES ('r', 'ingest', now(), 'ok')")


def score_rows(*rows):
    at = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
    return pd.DataFrame([
        {"article_id": a, "model_version": m, "label": label, "p_negative": pn,
         "p_neutral": 1 - pn - pp, "p_positive": pp, "sentiment_score": pp - pn,
         "content_hash": "h", "scored_at": at}
        for a, m, label, pn, pp in rows
    ])


def test_upsert_frame_dedupes_within_the_frame(fresh_db):
    frame = score_rows(("a1", "v1", "negative", 0.8, 0.1),
                       ("a1", "v1", "positive", 0.1, 0.8),
                       ("a2", "v1", "neutral", 0.2, 0.2))
    with connect(fresh_db) as con:
        n = upsert_frame(con, "scores", frame, ["article_id", "model_version"],
                         ["label", "p_negative", "p_neutral", "p_positive", "sentiment_score"])
        assert n == 2
        rows = con.execute("SELECT article_id, label FROM scores ORDER BY article_id").fetchall()
    assert rows == [("a1", "positive"), ("a2", "neutral")]  # the last duplicate is kept


def test_upsert_frame_updates_on_conflict(fresh_db):
    key = ["article_id", "model_version"]
    with connect(fresh_db) as con:
        upsert_frame(con, "scores", score_rows(("a1", "v1", "negative", 0.8, 0.1),
                                               ("a1", "v2", "negative", 0.7, 0.1)), key, None)
        upsert_frame(con, "scores", score_rows(("a1", "v1", "positive", 0.1, 0.8)), key,
                     ["label", "p_negative", "p_positive", "sentiment_score"])
        rows = con.execute("SELECT model_version, label, p_negative, sentiment_score FROM scores "
                           "ORDER BY model_version").fetchall()
    assert rows[0] == ("v1", "positive", pytest.approx(0.1), pytest.approx(0.7))
    assert rows[1] == ("v2", "negative", pytest.approx(0.7), pytest.approx(-0.6))


def test_upsert_frame_without_update_keeps_existing(fresh_db):
    key = ["article_id", "model_version"]
    with connect(fresh_db) as con:
        upsert_frame(con, "scores", score_rows(("a1", "v1", "negative", 0.8, 0.1)), key, None)
        upsert_frame(con, "scores", score_rows(("a1", "v1", "positive", 0.1, 0.8)), key, [])
        assert con.execute("SELECT label FROM scores").fetchall() == [("negative",)]
        assert upsert_frame(con, "scores", score_rows(), key, None) == 0


def test_upsert_persists_after_close(fresh_db):
    with connect(fresh_db) as con:
        upsert_frame(con, "scores", score_rows(("a1", "v1", "negative", 0.8, 0.1)),
                     ["article_id", "model_version"], None)
    with connect(fresh_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 1


def test_garbage_file_is_storage_error(tmp_path):
    path = tmp_path / "tonewatch.duckdb"
    path.write_bytes(b"this is not a duckdb database\x00\x01\x02" * 200)
    with pytest.raises(StorageError, match=re.escape(str(path))), connect(path):
        pass
    with pytest.raises(StorageError), connect(path, read_only=True):
        pass


def test_data_dir_under_a_regular_file_is_storage_error(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create data directory"), \
            connect(blocker / "data" / "tonewatch.duckdb"):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_is_storage_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StorageError), connect(locked / "tonewatch.duckdb"):
            pass
    finally:
        locked.chmod(0o700)


def test_errors_inside_the_block_become_storage_errors(fresh_db):
    with pytest.raises(StorageError, match="no_such_table"), connect(fresh_db) as con:
        con.execute("SELECT * FROM no_such_table")
