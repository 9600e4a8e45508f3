"""Ticker and sector scopes count stories by what they say about each company."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.domain import Window
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.storage.db import connect
from pipeline.storage.entities import LINK_COLUMNS, replace_links, upsert_companies
from pipeline.storage.scores import entity_score_rows, score_rows, upsert_entity_scores, upsert_scores
from pipeline.storage.stories import interval_stats, window_details

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=1), T0 + timedelta(days=1))
NEG = [0.8, 0.1, 0.1]
MODEL = "m-1"


def _seed(db) -> None:
    """Three articles: a contrast naming ACME and GLBX, a GLBX story whose link is a category
    only, and an INIT story scored by an article-level model only (no company-level score)."""
    articles = [("a1", "Acme beats estimates while Globex slumps", NEG),
                ("a2", "Sector wrap: orders slow", NEG),
                ("a3", "Initech cuts guidance", NEG)]
    frame = pd.DataFrame([{c: None for c in ARTICLE_COLUMNS} | {
        "article_id": aid, "feed_id": "wire", "title": title, "text": title,
        "published_at": T0 + timedelta(minutes=i), "date_quality": "exact", "first_seen_at": T0,
        "fetched_at": T0, "content_hash": f"h{aid}", "story_id": f"s{aid}", "tickers": []}
        for i, (aid, title, _) in enumerate(articles)], columns=ARTICLE_COLUMNS)
    links = pd.DataFrame([("a1", "ACME", "name", 1.0, "Acme"), ("a1", "GLBX", "name", 1.0, "Globex"),
                          ("a2", "GLBX", "category", 0.4, None), ("a3", "INIT", "name", 1.0, "Initech")],
                         columns=LINK_COLUMNS)
    companies = pd.DataFrame([("ACME", "Acme Corp", None, None, "Industrials", None, [], "test"),
                              ("GLBX", "Globex", None, None, "Industrials", None, [], "test"),
                              ("INIT", "Initech", None, None, "Information Technology", None, [], "test")],
                             columns=["ticker", "name", "exchange", "country", "sector", "industry",
                                      "aliases", "source"])
    with connect(db) as con:
        from pipeline.storage.articles import upsert_articles

        upsert_articles(con, frame)
        replace_links(con, list(frame["article_id"]), links)
        upsert_companies(con, companies, T0)
        upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                      np.array([p for *_, p in articles]), MODEL, T0))
        pairs = pd.DataFrame({"article_id": ["a1", "a1", "a2"], "entity": ["ACME", "GLBX", "GLBX"],
                              "target": ["Acme", "Globex", "Globex"], "content_hash": ["ha1", "ha1", "ha2"]})
        upsert_entity_scores(con, entity_score_rows(pairs, np.array([[0.05, 0.05, 0.9], NEG, NEG]),
                                                    MODEL, T0))


def _stats(con, scope: str, **kwargs) -> dict:
    frame = interval_stats(con, scope=scope, intervals=[WINDOW], model_version=MODEL, **kwargs)
    return {r.entity: (int(r.n_stories), int(r.n_negative)) for r in frame.itertuples()}


def test_ticker_scope_uses_the_label_toward_each_company(tmp_path):
    db = tmp_path / "t.duckdb"
    _seed(db)
    with connect(db, read_only=True) as con:
        # The contrast is good news for ACME and bad for GLBX, though the article reads negative.
        assert _stats(con, "ticker", min_relevance=0.5) == {"ACME": (1, 0), "GLBX": (1, 1),
                                                            "INIT": (1, 1)}
        # A category-only link counts once the floor admits it.
        assert _stats(con, "ticker", min_relevance=0.3)["GLBX"] == (2, 2)
        assert _stats(con, "ticker", min_relevance=0.5, entities=["ACME"]) == {"ACME": (1, 0)}
        # Article-level scopes keep their meaning.
        assert _stats(con, "market") == {"market": (3, 3)}


def test_sector_scope_counts_a_story_once_with_its_companies_mean(tmp_path):
    db = tmp_path / "t.duckdb"
    _seed(db)
    with connect(db, read_only=True) as con:
        stats = _stats(con, "sector", min_relevance=0.5)
    # a1 names two Industrials companies (positive and negative: the mean is not negative).
    assert stats == {"Industrials": (1, 0), "Information Technology": (1, 1)}


def test_explanations_say_why_each_headline_counts(tmp_path):
    db = tmp_path / "t.duckdb"
    _seed(db)
    with connect(db, read_only=True) as con:
        details = window_details(con, scope="ticker", items=[("GLBX", WINDOW), ("INIT", WINDOW)],
                                 model_version=MODEL, min_relevance=0.3)
    glbx = details[("GLBX", WINDOW)]["headlines"]
    assert [(h["title"], h["method"], h["relevance"], h["mention"], h["label"], h["targeted"])
            for h in glbx] == [
        ("Acme beats estimates while Globex slumps", "name", 1.0, "Globex", "negative", True),
        ("Sector wrap: orders slow", "category", 0.4, None, "negative", True)]
    (init,) = details[("INIT", WINDOW)]["headlines"]
    assert init["targeted"] is False and init["label"] == "negative"  # the article's label
