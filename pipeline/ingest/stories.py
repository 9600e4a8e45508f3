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


CHUNK = 256  # new articles compared at a time: memory is CHUNK x (candidates in their time span)


def candidate_span(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The publication span ``(start, end)`` (inclusive, UTC) in which stored articles may be
    copies of the batch's stories: the batch's own span widened by :data:`WINDOW` each side.

    Raises:
        ValueError: the frame is empty.
    """
    if frame.empty:
        raise ValueError("an empty batch has no candidate span")
    return frame["published_at"].min() - WINDOW, frame["published_at"].max() + WINDOW


def assign_story_ids(frame: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``story_id`` set by near-duplicate title matching.

    Work is done in time-ordered chunks of :data:`CHUNK` new articles, each compared only with
    the candidates published within ``WINDOW`` of the chunk, so memory and time stay bounded by
    the density of news in a few days, not by the size of the batch.

    Args:
        frame: article rows (``article_id, title, published_at, story_id`` at least); its
            ``story_id`` is each article's own story id, used when no match exists.
        stored: the stored articles published in :func:`candidate_span` of ``frame``
            (``article_id, story_id, title, published_at``; see
            :func:`pipeline.storage.articles.articles_published_between`).

    Returns:
        a copy of ``frame``; known articles keep their stored ``story_id``, new ones take the
        story of their best match within ``WINDOW`` whose similarity is >= ``SIMILARITY``.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    known = dict(zip(stored["article_id"], stored["story_id"], strict=True))
    is_new = ~out["article_id"].isin(known)
    out.loc[~is_new, "story_id"] = out.loc[~is_new, "article_id"].map(known)
    new = out[is_new].sort_values("published_at", kind="stable")
    if new.empty:
        return out

    def seconds(values) -> np.ndarray:  # aware instants → seconds since the epoch (any unit in)
        instants = pd.Series(pd.to_datetime(values, utc=True))
        return ((instants - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()

    # One pool of candidates: stored articles first, then the new ones in time order.
    pool_sets = _word_sets(list(stored["title"])) + _word_sets(list(new["title"]))
    pool_times = np.concatenate([seconds(stored["published_at"]) if len(stored) else np.zeros(0),
                                 seconds(new["published_at"])])
    pool_story = list(stored["story_id"]) + list(new["story_id"])
    pool_ok = np.array([len(w) >= MIN_WORDS for w in pool_sets], dtype=bool)
    n_stored, window = len(stored), WINDOW.total_seconds()
    order = np.argsort(pool_times, kind="stable")
    sorted_times = pool_times[order]
    for start in range(0, len(new), CHUNK):
        rows = np.arange(n_stored + start, n_stored + min(start + CHUNK, len(new)))
        lo = np.searchsorted(sorted_times, pool_times[rows].min() - window, side="left")
        hi = np.searchsorted(sorted_times, pool_times[rows].max() + window, side="right")
        cand = order[lo:hi]
        cand = cand[pool_ok[cand]]
        if len(cand) == 0:
            continue
        sims = _similarity([pool_sets[i] for i in rows], [pool_sets[j] for j in cand])
        near = np.abs(pool_times[rows][:, None] - pool_times[cand][None, :]) <= window
        sims = np.where(near, sims, 0.0)
        for r, row in enumerate(rows):
            if not pool_ok[row]:
                continue
            # Stored articles, and new ones already assigned (earlier in time order), only.
            usable = (cand < n_stored) | (cand < row)
            scores = np.where(usable, sims[r], 0.0)
            best = int(scores.argmax())
            if scores[best] >= SIMILARITY - 1e-9:
                pool_story[row] = pool_story[cand[best]]
    out.loc[new.index, "story_id"] = pool_story[n_stored:]
    return out
