"""Detection replay benchmark (run by hand): one pass over all windows vs one window at a time.

Builds its own synthetic archive (no model, no network): ``--headlines`` (default 17,760)
random headlines over ``--days`` (default 772) days from 12 sources, about 60 tickers with a
skewed popularity, titles drawn from templates that hit the topics of ``config/topics.yaml``,
one in ten headlines syndicated (a copy of an earlier story from another source), and random
surges (an entity's negative share jumps for one to three days). Labels and probabilities are
random (the argmax is the label). Rows go straight into a temporary DuckDB through the storage
functions, scored as model version ``synthetic-1``.

Then, on two copies of that database, with the default rules (``config/alert_rules.yaml``):

- **batch**: :func:`pipeline.run.detect_backfill` (what ``tonewatch detect --backfill`` runs):
  each rule's aggregates in one query over the whole range, every window decided from memory,
  the alert life cycle applied in window order, one write;
- **serial**: :func:`pipeline.run.detect` with ``enqueue=False`` at each window end in turn
  (what ``--backfill`` did before).

Both must leave identical ``alerts`` tables (every column) and print identical lines; the
script exits 1 when they differ. ``--serial-windows N`` times the serial path on the first N
windows only (and compares both paths on those windows); the default runs all of them.

Usage: .venv/bin/python bench/backfill.py [--headlines 17760] [--days 772] [--seed 7]
       [--serial-windows N]
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import cpu_summary  # noqa: E402  (bench/ is on sys.path when run as a script)

END = datetime(2026, 1, 1, tzinfo=UTC)
MODEL_VERSION = "synthetic-1"
SOURCES = ["Example Wire", "Market Daily", "Global Business Post", "Street Journal", "Finance Times",
           "Tech Ledger", "Energy Report", "Retail Watch", "Bank Notes", "Regulatory Digest",
           "Asia Markets", "Europe Markets"]
TEMPLATES = [
    "{t} announces layoffs at two plants", "{t} to cut jobs as demand slows",
    "{t} quarterly results beat estimates", "{t} quarterly loss widens", "{t} raises guidance",
    "{t} cuts full-year outlook", "{t} agrees takeover of rival", "{t} merger talks collapse",
    "Analyst downgrades {t} to sell", "{t} upgrade lifts shares", "{t} price target raised",
    "{t} bonds downgraded to junk", "{t} faces lawsuit over accounting", "Regulator fines {t}",
    "{t} files for bankruptcy protection", "{t} hit by data breach", "{t} recalls vehicles",
    "Workers strike at {t} factory", "{t} shares steady in quiet trading",
    "{t} opens new headquarters", "{t} names new chief financial officer",
]
MARKET_TEMPLATES = [
    "Fed holds interest rates steady", "Central bank signals rate hike", "Inflation cools in May",
    "GDP growth slows", "Oil prices jump on supply fears", "Dollar weakens against euro",
    "Bitcoin slides below key level", "Stocks close mixed", "Markets rally on jobs data",
    "Bond yields climb", "Quiet session for European shares",
]



def build_archive(db_path: Path, *, headlines: int, days: int, seed: int) -> dict:
    """Write a synthetic scored archive ending at :data:`END` into ``db_path``.

    Returns:
        a small summary: articles, stories, tickers, first and last publication instants.
    """
    from pipeline.domain import FeedHealth
    from pipeline.ingest.normalize import ARTICLE_COLUMNS
    from pipeline.storage.articles import upsert_articles
    from pipeline.storage.db import connect
    from pipeline.storage.feeds import upsert_feed_health
    from pipeline.storage.scores import score_rows, upsert_scores

    rng = np.random.default_rng(seed)
    start = END - timedelta(days=days)
    tickers = [f"T{i:02d}" for i in range(60)]
    popularity = 1 / np.arange(1, len(tickers) + 1) ** 0.9
    popularity /= popularity.sum()
    # Surges: (day, kind, target) where kind is ticker, source or market.
    surges = {}
    for _ in range(max(1, days // 12)):
        day, length = int(rng.integers(40, days)), int(rng.integers(1, 4))
        kind = rng.choice(["ticker", "ticker", "source", "market"])
        target = (tickers[int(rng.choice(len(tickers), p=popularity))] if kind == "ticker"
                  else int(rng.integers(len(SOURCES))) if kind == "source" else "market")
        for d in range(day, min(day + length, days)):
            surges.setdefault(d, []).append((kind, target))
    # Publication instants: a weekday/weekend rhythm and office hours.
    day_weight = np.array([1.0 if (start + timedelta(days=d)).weekday() < 5 else 0.4
                           for d in range(days)])
    day_of = rng.choice(days, size=headlines, p=day_weight / day_weight.sum())
    seconds = np.clip(rng.normal(13 * 3600, 4 * 3600, size=headlines), 0, 86399).astype(int)
    order = np.argsort(day_of * 86400 + seconds, kind="stable")
    day_of, seconds = day_of[order], seconds[order]
    rows, probs = [], []
    for i in range(headlines):
        day = int(day_of[i])
        when = start + timedelta(days=day, seconds=int(seconds[i]))
        copy = i > 0 and rng.random() < 0.1
        if copy:  # syndication: an earlier story carried by another source
            j = int(rng.integers(max(0, i - 30), i))
            base = rows[j]
            source = int(rng.integers(len(SOURCES)))
            rows.append({**base, "article_id": f"a{i}", "feed_id": f"src{source:02d}",
                         "published_at": max(when, base["published_at"]),
                         "first_seen_at": when, "fetched_at": when, "content_hash": f"h{i}",
                         "url": f"https://example.test/{source}/{i}"})
            p = np.array(probs[j]) + rng.normal(0, 0.02, 3)
            p = np.clip(p, 0.001, None)
            probs.append(list(p / p.sum()))
            continue
        source = int(rng.integers(len(SOURCES)))
        n_tickers = rng.choice([0, 1, 2], p=[0.3, 0.6, 0.1])
        picked = sorted(set(rng.choice(tickers, size=n_tickers, p=popularity))) if n_tickers else []
        title = (rng.choice(TEMPLATES).format(t=picked[0]) if picked
                 else str(rng.choice(MARKET_TEMPLATES)))
        negative_share = 0.2
        for kind, target in surges.get(day, []):
            if (kind == "market" or (kind == "ticker" and target in picked)
                    or (kind == "source" and target == source)):
                negative_share = 0.75
        label = (0 if rng.random() < negative_share else int(rng.choice([1, 2], p=[0.6, 0.4])))
        p = rng.dirichlet([1.0, 1.0, 1.0])
        p[label] += 1.0
        probs.append(list(p / p.sum()))
        rows.append({c: None for c in ARTICLE_COLUMNS} | {
            "article_id": f"a{i}", "feed_id": f"src{source:02d}", "url": f"https://example.test/{i}",
            "title": title, "text": title, "published_at": when, "date_quality": "exact",
            "first_seen_at": when, "fetched_at": when, "language": "en", "content_hash": f"h{i}",
            "story_id": f"s{i}", "tickers": picked})
    frame = pd.DataFrame(rows, columns=ARTICLE_COLUMNS)
    feeds = [FeedHealth(feed_id=f"src{k:02d}", name=name, url=f"https://example.test/{k}.xml",
                        last_status="ok", last_attempt_at=END, last_success_at=END)
             for k, name in enumerate(SOURCES)]
    with connect(db_path) as con:
        con.execute("BEGIN TRANSACTION")
        upsert_articles(con, frame)
        upsert_scores(con, score_rows(frame["article_id"].tolist(), frame["content_hash"].tolist(),
                                      np.array(probs), MODEL_VERSION, END))
        upsert_feed_health(con, feeds)
        con.execute("COMMIT")
    return {"articles": len(frame), "stories": int(frame["story_id"].nunique()),
            "tickers": len(tickers), "first": str(frame["published_at"].min()),
            "last": str(frame["published_at"].max())}


def alert_table(db_path: Path) -> pd.DataFrame:
    """Every ``alerts`` row, all columns, in a fixed order."""
    from pipeline.storage.db import connect

    with connect(db_path, read_only=True) as con:
        return con.execute("SELECT * EXCLUDE (explanation), explanation::VARCHAR AS explanation"
                           " FROM alerts ORDER BY alert_id").df()


def main() -> int:
    # Imported before any timing (scipy.stats alone takes about a second), so neither path
    # pays the one-off import cost.
    import pipeline.alerting.stage  # noqa: F401
    from pipeline.config import load_settings
    from pipeline.detection.rules import load_rules
    from pipeline.run import backfill_instants, detect, detect_backfill

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headlines", type=int, default=17760)
    parser.add_argument("--days", type=int, default=772)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serial-windows", type=int, default=None,
                        help="time the serial path on the first N windows only")
    opts = parser.parse_args()
    print(cpu_summary())
    work = Path(tempfile.mkdtemp(prefix="tonewatch-backfill-"))
    try:
        rules = load_rules(ROOT / "config/alert_rules.yaml")
        paths = {}
        started = time.perf_counter()
        paths["batch"] = work / "batch" / "tonewatch.duckdb"
        paths["batch"].parent.mkdir()
        archive = build_archive(paths["batch"], headlines=opts.headlines, days=opts.days,
                                seed=opts.seed)
        build_s = time.perf_counter() - started
        paths["serial"] = work / "serial" / "tonewatch.duckdb"
        paths["serial"].parent.mkdir()
        shutil.copy(paths["batch"], paths["serial"])
        configs = {name: load_settings(data_dir=path.parent, topics_file=ROOT / "config/topics.yaml")
                   for name, path in paths.items()}
        ends = backfill_instants(configs["batch"], since=None, until=END)
        ends = ends[:opts.serial_windows] if opts.serial_windows else ends
        timings, lines = {}, {}

        started = time.perf_counter()
        result = detect_backfill(configs["batch"], since=None, until=END, rules=rules, ends=ends)
        timings["batch"] = time.perf_counter() - started
        lines["batch"] = result.messages
        batch_counts = result.counts

        started = time.perf_counter()
        lines["serial"] = []
        for at in ends:
            lines["serial"] += detect(configs["serial"], at=at, rules=rules, enqueue=False).messages
        timings["serial"] = time.perf_counter() - started

        tables = {name: alert_table(path) for name, path in paths.items()}
        same_rows = tables["batch"].equals(tables["serial"])
        same_lines = lines["batch"] == lines["serial"]
        n = len(ends)
        print(f"archive: {archive['articles']} headlines ({archive['stories']} stories), "
              f"{archive['first'][:10]} .. {archive['last'][:10]}, built in {build_s:.1f} s; "
              f"{len(rules)} rules ({', '.join(r.name for r in rules)}), {n} daily windows")
        print(f"{'path':<8}{'seconds':>10}{'windows/s':>11}{'alerts':>8}{'firing':>8}{'pending':>8}")
        for name in ("batch", "serial"):
            states = tables[name]["state"].value_counts()
            print(f"{name:<8}{timings[name]:>10.2f}{n / timings[name]:>11.1f}{len(tables[name]):>8}"
                  f"{int(states.get('firing', 0)):>8}{int(states.get('pending', 0)):>8}")
        ratio = timings["serial"] / timings["batch"]
        print(f"batch is {ratio:.0f}x faster; alert rows identical: {same_rows}; "
              f"output lines identical: {same_lines}")
        print(f"batch counts: {batch_counts}")
        print(json.dumps({
            "windows": n, "headlines": archive["articles"], "rules": len(rules),
            "batch_s": round(timings["batch"], 3), "serial_s": round(timings["serial"], 3),
            "batch_windows_per_s": round(n / timings["batch"], 1),
            "serial_windows_per_s": round(n / timings["serial"], 2), "speedup": round(ratio, 1),
            "alerts": len(tables["batch"]), "identical": bool(same_rows and same_lines),
            "seed": opts.seed}))
        return 0 if same_rows and same_lines else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
