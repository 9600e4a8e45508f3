"""The score stage on a real DuckDB file: chunked streaming, skip unchanged, rescore changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_settings
from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.run import score
from pipeline.scoring.classifier import SentimentClassifier
from pipeline.storage.articles import upsert_articles
from pipeline.storage.db import connect
from tests.unit.test_scoring import sentences
from tests.unit.tiny_bert import save_tiny_bert

AT = datetime(2026, 3, 6, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = save_tiny_bert(tmp_path_factory.mktemp("tiny") / "m",
                          {0: "negative", 1: "neutral", 2: "positive"}, seed=2)
    return SentimentClassifier(path, model_version="tiny-v1", max_length=32)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    for name in ("TONEWATCH_SCORE_LANGUAGES", "TONEWATCH_SCORE_CHUNK_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(data_dir=tmp_path / "data", model_registry=tmp_path / "registry")


def articles(texts: list[str], *, language: str = "en", salt: str = "") -> pd.DataFrame:
    """Rows for ``articles``; only three distinct publication instants, so pages split ties."""
    n = len(texts)
    published = [AT - timedelta(hours=i % 3) for i in range(n)]
    return pd.DataFrame({
        "article_id": [f"a{i:04d}" for i in range(n)], "feed_id": "wire",
        "url": [f"https://example.com/{i}" for i in range(n)], "title": texts, "summary": None,
        "text": texts, "published_at": published, "published_raw": None, "date_quality": "exact",
        "first_seen_at": AT, "fetched_at": AT, "language": language,
        "content_hash": [f"h{i}{salt}" for i in range(n)], "story_id": [f"s{i}" for i in range(n)],
        "tickers": [[] for _ in range(n)],
    }, columns=ARTICLE_COLUMNS)


def store(settings, frame: pd.DataFrame) -> None:
    with connect(settings.db_path) as con:
        upsert_articles(con, frame)


def stored_scores(settings) -> pd.DataFrame:
    with connect(settings.db_path, read_only=True) as con:
        return con.execute("SELECT article_id, content_hash, p_negative, p_neutral, p_positive,"
                           " label, truncated FROM scores ORDER BY article_id").df()


def test_chunks_score_everything_once_and_skip_what_is_unchanged(settings, classifier):
    texts = sentences(47, seed=4, longest=50)
    store(settings, articles(texts))
    seen = []
    first = score(settings, at=AT, classifier=classifier, chunk_size=5,
                  on_progress=lambda done, total: seen.append((done, total)))
    assert first.counts["pending"] == first.counts["scored"] == 47
    assert first.counts["backend"] == "torch"
    assert seen[-1] == (47, 47) and len(seen) == 10  # 9 chunks of 5 and one of 2
    rows = stored_scores(settings)
    assert rows["article_id"].tolist() == [f"a{i:04d}" for i in range(47)]
    expected, truncated = classifier.predict(texts)
    np.testing.assert_allclose(rows[["p_negative", "p_neutral", "p_positive"]].to_numpy(),
                               expected, atol=1e-6)
    assert rows["truncated"].tolist() == truncated.tolist()
    assert first.counts["truncated"] == int(truncated.sum()) > 0

    again = score(settings, at=AT + timedelta(hours=1), classifier=classifier, chunk_size=5)
    assert again.counts["pending"] == again.counts["scored"] == 0


def test_changed_content_is_rescored_and_other_languages_skipped(settings, classifier):
    texts = sentences(12, seed=5)
    store(settings, articles(texts))
    score(settings, at=AT, classifier=classifier, chunk_size=4)
    changed = articles(texts, salt="-edited")
    changed.loc[3, "text"] = "shares plunge after profit warning"
    store(settings, changed.iloc[[3]])
    foreign = articles(["Ações caem após resultado"]).assign(article_id="pt1", language="pt")
    store(settings, foreign)
    result = score(settings, at=AT + timedelta(hours=1), classifier=classifier, chunk_size=4)
    assert (result.counts["pending"], result.counts["scored"]) == (1, 1)
    assert result.counts["skipped_language"] == 1
    row = stored_scores(settings).set_index("article_id").loc["a0003"]
    assert row["content_hash"] == "h3-edited"
    np.testing.assert_allclose(row[["p_negative", "p_neutral", "p_positive"]].to_numpy(float),
                               classifier.predict_probs(["shares plunge after profit warning"])[0],
                               atol=1e-6)


def test_another_model_version_scores_alongside(settings, classifier):
    store(settings, articles(sentences(6, seed=6)))
    score(settings, at=AT, classifier=classifier)
    other = SentimentClassifier(classifier.model_path, model_version="tiny-v2", max_length=32)
    result = score(settings, at=AT, classifier=other)
    assert result.counts["scored"] == 6
    with connect(settings.db_path, read_only=True) as con:
        versions = con.execute("SELECT model_version, count(*) FROM scores GROUP BY 1 ORDER BY 1"
                               ).fetchall()
    assert versions == [("tiny-v1", 6), ("tiny-v2", 6)]


@pytest.fixture(scope="module")
def targeted(tmp_path_factory):
    """A tiny model that says it was trained on company-targeted pairs (random weights: the
    stage's bookkeeping is under test, not the labels)."""
    import json

    path = save_tiny_bert(tmp_path_factory.mktemp("tiny") / "t",
                          {0: "negative", 1: "neutral", 2: "positive"}, seed=3)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "tonewatch_targets": True}))
    return SentimentClassifier(path, model_version="tiny-targeted", max_length=32)


def test_company_pass_scores_each_link_once_and_rescores_what_changed(settings, targeted):
    from tests.seeding import store_articles

    frame = articles(["Acme beats estimates while Globex slumps", "Acme beats estimates while "
                      "Globex slumps", "Markets drift", "Globex to hold its annual meeting"])
    frame["tickers"] = [["ACME", "GLBX"], ["ACME", "GLBX"], [], ["GLBX"]]
    with connect(settings.db_path) as con:
        store_articles(con, frame)
    # Default (entity_scoring "multi"): only articles naming two or more companies get
    # company-level scores; a0003 names one and keeps its article-level score.
    assert settings.entity_scoring == "multi"
    first = score(settings, at=AT, classifier=targeted, chunk_size=2)
    assert first.counts["scored"] == 4
    assert first.counts["entity_pending"] == first.counts["entity_scored"] == 4
    with connect(settings.db_path, read_only=True) as con:
        rows = con.execute("SELECT article_id, entity, target, p_negative + p_neutral + p_positive"
                           " FROM entity_scores ORDER BY 1, 2").fetchall()
    assert [(a, e) for a, e, _, _ in rows] == [("a0000", "ACME"), ("a0000", "GLBX"), ("a0001", "ACME"),
                                               ("a0001", "GLBX")]
    assert all(abs(total - 1) < 1e-5 for *_, total in rows)
    assert {t for _, _, t, _ in rows} == {"ACME", "GLBX"}  # no mention stored: the ticker stands in
    again = score(settings, at=AT, classifier=targeted)
    assert (again.counts["scored"], again.counts["entity_pending"], again.counts["entity_scored"]) == (0, 0, 0)
    # A link that now names the company another way is judged again, with the new target.
    with connect(settings.db_path) as con:
        con.execute("UPDATE article_entities SET mention = 'Globex' WHERE article_id = 'a0000'"
                    " AND entity = 'GLBX'")
    third = score(settings, at=AT, classifier=targeted)
    assert (third.counts["scored"], third.counts["entity_scored"]) == (0, 1)
    # "all": the single-company article's link is scored too, and only it.
    every = score(settings.model_copy(update={"entity_scoring": "all"}), at=AT, classifier=targeted)
    assert (every.counts["entity_pending"], every.counts["entity_scored"]) == (1, 1)
    with connect(settings.db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM entity_scores WHERE article_id = 'a0003'"
                           ).fetchone()[0] == 1
    # An article-level model has no company pass.
    plain = score(settings, at=AT, classifier=SentimentClassifier(
        save_tiny_bert(settings.db_path.parent / "plain", {0: "negative", 1: "neutral", 2: "positive"}),
        model_version="tiny-plain", max_length=32))
    assert plain.counts["scored"] == 4 and plain.counts["entity_pending"] == 0
