"""Group copies of one story (syndication, re-posts, light rewrites) under one ``story_id``.

Detection counts *stories*, not articles, so one wire item carried by ten outlets is one piece
of news. Two articles are the same story when their normalised titles are near-duplicates:
Jaccard similarity of their word sets >= :data:`SIMILARITY` (Broder 1997, "On the resemblance
and containment of documents") and published within :data:`WINDOW` of each other. A new article
joins the story of its most similar match (stored articles first, then earlier articles of the
same batch); otherwise it starts a story with its own id. Stored articles keep their story.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest.normalize import story_key

SIMILARITY = 0.7
WINDOW = timedelta(days=2)
MIN_WORDS = 4  # shorter titles ("Markets wrap") are too generic to merge on


def _word_sets(titles: list[str]) -> list[frozenset[str]]:
    return [frozenset(story_key(t or "").split()) for t in titles]


def _similarity(a: list[frozenset[str]], b: list[frozenset[str]]) -> np.ndarray:
    """Jaccard similarity matrix ``(len(a), len(b))`` of word sets (sparse products)."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}

    def matrix(sets):
        rows, cols = [], []
        for i, words in enumerate(sets):
            for w in words:
                rows.append(i)
                cols.append(vocab.setdefault(w, len(vocab)))
        return rows, cols

    ra, ca = matrix(a)
    rb, cb = matrix(b)
    shape = len(vocab)
    ma = csr_matrix((np.ones(len(ra)), (ra, ca)), shape=(len(a), shape))
    mb = csr_matrix((np.ones(len(rb)), (rb, cb)), shape=(len(b), shape))
    inter = (ma @ mb.T).toarray()
    sa = np.array([len(s) for s in a], dtype=float)[:, None]
    sb = np.array([len(s) for s in b], dtype=float)[None, :]
    union = sa + sb - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def assign_story_ids(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``story_id`` set by near-duplicate title matching.

    Args:
        con: connection (reads stored articles around the batch's dates).
        frame: article rows (``article_id, title, published_at, story_id`` at least); its
            ``story_id`` is each article's own story id, used when no match exists.

    Returns:
        a copy of ``frame``; known articles keep their stored ``story_id``, new ones take the
        story of their best match within ``WINDOW`` whose similarity is >= ``SIMILARITY``.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    start = out["published_at"].min() - WINDOW
    end = out["published_at"].max() + WINDOW
    stored = con.execute(
        "SELECT article_id, story_id, title, published_at FROM articles"
        " WHERE published_at BETWEEN ? AND ?", [start, end]).df()
    known = dict(zip(stored["article_id"], stored["story_id"], strict=True))
    is_new = ~out["article_id"].isin(known)
    out.loc[~is_new, "story_id"] = out.loc[~is_new, "article_id"].map(known)
    new = out[is_new].sort_values("published_at", kind="stable")
    if new.empty:
        return out
    new_sets = _word_sets(list(new["title"]))
    stored_sets = _word_sets(list(stored["title"]))
    to_stored = _similarity(new_sets, stored_sets) if len(stored) else np.zeros((len(new), 0))
    to_batch = _similarity(new_sets, new_sets)
    def seconds(values) -> np.ndarray:  # aware instants → seconds since the epoch (any unit in)
        instants = pd.Series(pd.to_datetime(values, utc=True))
        return ((instants - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()

    times = seconds(new["published_at"])
    stored_times = seconds(stored["published_at"]) if len(stored) else times[:0]
    window = WINDOW.total_seconds()
    assigned: list[str] = []
    for i, (index, row) in enumerate(new.iterrows()):
        story = row["story_id"]
        if len(new_sets[i]) >= MIN_WORDS:
            best, best_sim = None, SIMILARITY - 1e-9  # ties at the threshold count as similar
            if len(stored):
                near = np.abs(stored_times - times[i]) <= window
                sims = np.where(near, to_stored[i], 0.0)
                j = int(sims.argmax())
                if sims[j] > best_sim and len(stored_sets[j]) >= MIN_WORDS:
                    best, best_sim = stored["story_id"].iloc[j], sims[j]
            for j in range(i):  # earlier articles of this batch
                if (to_batch[i, j] > best_sim and len(new_sets[j]) >= MIN_WORDS
                        and abs(times[i] - times[j]) <= window):
                    best, best_sim = assigned[j], to_batch[i, j]
            story = best or story
        assigned.append(story)
        out.at[index, "story_id"] = story
    return out
