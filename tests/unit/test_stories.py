"""pipeline.ingest.stories: near-duplicate titles become one story; others stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.ingest.stories import assign_story_ids as _assign_story_ids
from pipeline.ingest.stories import candidate_span
from pipeline.storage.articles import articles_published_between, upsert_articles
from pipeline.storage.db import connect

T0 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def _rows(items):
    rows = []
    for article_id, title, hours in items:
        when = T0 + timedelta(hours=hours)
        rows.append({c: None for c in ARTICLE_COLUMNS} | {
            "article_id": article_id, "feed_id": "f", "title": title, "text": title,
            "published_at": when, "date_quality": "exact", "first_seen_at": when,
            "fetched_at": when, "content_hash": article_id, "story_id": f"own-{article_id}",
            "tickers": []})
    return pd.DataFrame(rows, columns=ARTICLE_COLUMNS)


def assign_story_ids(con, frame):
    """What the ingest stage does: read the stored candidates, then match (pure)."""
    stored = (articles_published_between(con, *candidate_span(frame)) if len(frame)
              else pd.DataFrame(columns=["article_id", "story_id", "title", "published_at"]))
    return _assign_story_ids(frame, stored)


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "t.duckdb") as c:
        yield c


def test_rewrites_within_the_window_join_the_stored_story(con):
    upsert_articles(con, _rows([("a", "Acme Robotics shares slump 12% after guidance cut", 0)]))
    out = assign_story_ids(con, _rows([
        ("b", "Acme Robotics Shares Slump 12% After Guidance Cut", 3),       # same words
        ("c", "Acme shares slump after guidance cut", 5),                     # shorter rewrite
        ("d", "Acme Robotics shares slump 12% after guidance cut", 24 * 4),   # too late
        ("e", "Stocks rise after Fed decision on rates", 1),                  # other story
    ]))
    story = dict(zip(out["article_id"], out["story_id"], strict=True))
    assert story["b"] == story["c"] == "own-a"
    assert story["d"] == "own-d" and story["e"] == "own-e"


def test_batch_copies_share_the_first_ones_story_and_known_rows_keep_theirs(con):
    upsert_articles(con, _rows([("k", "Central bank holds rates steady as expected", 0)]))
    batch = _rows([("x", "Regulator fines Borealis Bank over reporting failures", 1),
                   ("y", "Regulator fines Borealis Bank over reporting failures - Wire", 2),
                   ("k", "Central bank holds rates steady as expected, minutes due", 0)])
    out = assign_story_ids(con, batch)
    story = dict(zip(out["article_id"], out["story_id"], strict=True))
    assert story["y"] == story["x"] == "own-x"
    assert story["k"] == "own-k"  # stored article: story unchanged


def test_similar_but_opposite_headlines_stay_apart(con):
    out = assign_story_ids(con, _rows([("p", "Stocks rise after Fed decision", 0),
                                       ("q", "Stocks fall after Fed decision", 1),
                                       ("r", "Markets wrap", 2), ("s", "Markets wrap", 3)]))
    story = dict(zip(out["article_id"], out["story_id"], strict=True))
    assert story["p"] != story["q"]
    assert story["r"] == "own-r" and story["s"] == "own-s"  # too short to merge on


def test_large_batch_memory_is_bounded_by_chunks(con):
    """4,000 new titles in one day: the old all-pairs matrices needed several 128 MB arrays."""
    import random
    import tracemalloc

    rng = random.Random(3)
    words = "acme borealis shares profit outlook cuts raises bank dividend probe recall merger".split()
    frame = _rows([(f"n{i}", " ".join(rng.choice(words) for _ in range(7)), i / 400)
                   for i in range(4000)])
    tracemalloc.start()
    try:
        out = assign_story_ids(con, frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000
    assert out["story_id"].nunique() < len(out)  # repeated word sets did merge
