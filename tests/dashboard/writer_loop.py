"""A pipeline-like writer for the concurrency test: ``python writer_loop.py DB SECONDS``.

Repeatedly opens the database read-write through the library, stores a batch of new articles
and their scores and a ``runs`` row in one transaction, and closes it, for SECONDS seconds.
Prints ``ready`` once its imports are done and it is about to write, then ``batches=N`` at the end,
and exits 0; any error escapes with a traceback and exit status 1.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.ingest.normalize import ARTICLE_COLUMNS
from pipeline.storage.articles import upsert_articles
from pipeline.storage.db import connect
from pipeline.storage.runs import record_run
from pipeline.storage.scores import score_rows, upsert_scores

PRODUCTION = "minilm-2024-03-01"
BATCH = 50
PAUSE_S = 0.1


def batch(n: int, at: datetime) -> pd.DataFrame:
    ids = [f"w{n}-{i}" for i in range(BATCH)]
    return pd.DataFrame({
        "article_id": ids, "feed_id": "acme-wire", "url": [f"https://acme.example/{i}" for i in ids],
        "title": [f"Writer headline {i}" for i in ids], "summary": None, "text": "t",
        "published_at": at, "published_raw": None, "date_quality": "exact",
        "first_seen_at": at, "fetched_at": at, "language": "en",
        "content_hash": [f"h-{i}" for i in ids], "story_id": ids,
        "tickers": [["ACME"]] * BATCH,
    }, columns=ARTICLE_COLUMNS)


def main(db: Path, seconds: float) -> int:
    rng = np.random.default_rng(0)
    deadline, n, held = time.monotonic() + seconds, 0, 0.0
    start = datetime(2024, 3, 6, 11, 30, tzinfo=UTC)
    print("ready", flush=True)
    while time.monotonic() < deadline:
        at = start + timedelta(seconds=n)
        frame = batch(n, at)
        probs = rng.dirichlet([1, 1, 1], size=BATCH)
        opened = time.monotonic()
        with connect(db, lock_timeout_s=30) as con:
            con.execute("BEGIN TRANSACTION")
            upsert_articles(con, frame)
            upsert_scores(con, score_rows(list(frame["article_id"]), list(frame["content_hash"]),
                                          probs, PRODUCTION, at))
            record_run(con, run_id=f"w{n}", stage="ingest", window_start=None, window_end=None,
                       started_at=at, finished_at=at, status="ok", counts={"articles_new": BATCH})
            con.execute("COMMIT")
        held += time.monotonic() - opened
        n += 1
        # A real writer computes between transactions (fetching, scoring a chunk); the pause
        # is what lets readers in, as it does in production.
        time.sleep(PAUSE_S)
    print(f"batches={n} mean_hold_s={held / max(n, 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
