"""Archive-import benchmark (run by hand): a per-company news archive with a ticker column.

Generates a CSV shaped like the per-company archives analysts import (one row per (story,
ticker): a story about several companies is filed once under each), imports it with
``tonewatch import`` into a fresh database, and reports what the database holds: rows read,
articles stored, copies merged, distinct tickers linked, how the links were made, the share of
articles linked to a company in the universe, the run time and peak memory.

The archive: ``--stories`` invented headlines over ``--days`` days, each filed under one to
three tickers drawn from ``--tickers`` symbols (half of them companies of the default universe,
half unknown to it, as an old archive's delisted names are), about a quarter of them also named
in the headline. The headlines are built from invented templates here (bench input, not data).

Usage::

    .venv/bin/python bench/import_archive.py [--stories 25000] [--tickers 1640] [--days 184]

The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import cpu_summary  # noqa: E402  (bench/ is on sys.path when run as a script)

EVENTS = ["beats profit estimates", "cuts its full-year outlook", "names a new finance chief",
          "wins regulatory approval for a new plant", "faces a probe over accounting",
          "raises its dividend by 8%", "shares slide after a downgrade",
          "agrees to buy a rival for $2 billion", "files its annual report",
          "recalls 20,000 units", "signs a supply deal", "settles a patent dispute"]



def make_archive(path: Path, *, stories: int, tickers: int, days: int, seed: int) -> dict:
    """Write the archive CSV; returns what it holds (rows, stories, ticker symbols)."""
    from pipeline.companies import default_universe

    rng = random.Random(seed)
    known = [c for c in default_universe()]
    rng.shuffle(known)
    companies = [(c.ticker, c.name) for c in known[: tickers // 2]]
    companies += [(f"ZQ{i:03d}", f"Quillon {i} Holdings") for i in range(tickers - len(companies))]
    start = datetime(2011, 7, 1, tzinfo=UTC)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["date", "ticker", "headline", "url"])
        for i in range(stories):
            filed = rng.sample(companies, rng.choice((1, 1, 1, 2, 2, 3)))
            lead = filed[0][1] if rng.random() < 0.25 else f"Company {i % 997}"
            when = start + timedelta(minutes=rng.randint(0, days * 24 * 60))
            title = f"{lead} {rng.choice(EVENTS)} ({i})"
            for ticker, _ in filed:
                out.writerow([when.strftime("%Y-%m-%d %H:%M"), ticker, title,
                              f"https://archive.example.com/{i}"])
                rows += 1
    return {"rows": rows, "stories": stories, "tickers": len(companies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=25_000, help="Distinct stories.")
    parser.add_argument("--tickers", type=int, default=1_640, help="Ticker symbols filed under.")
    parser.add_argument("--days", type=int, default=184, help="Days the archive spans.")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "per_company_archive.csv"
        made = make_archive(archive, stories=args.stories, tickers=args.tickers, days=args.days,
                            seed=args.seed)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
        env["TONEWATCH_DATA_DIR"] = str(Path(tmp) / "data")
        started = time.perf_counter()
        run = subprocess.run(["/usr/bin/time", "-f", "%M", str(ROOT / ".venv" / "bin" / "tonewatch"),
                              "import", str(archive)], env=env, cwd=tmp, capture_output=True,
                             text=True, check=False)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            sys.exit(f"import failed: {run.stderr.strip().splitlines()[-1:]}")
        peak_mb = int(run.stderr.strip().splitlines()[-1]) / 1024
        con = duckdb.connect(str(Path(tmp) / "data" / "tonewatch.duckdb"), read_only=True)
        articles, linked = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE len(tickers) > 0) FROM articles").fetchone()
        distinct, in_universe = con.execute(
            "SELECT count(DISTINCT entity), count(DISTINCT entity) FILTER (WHERE entity IN"
            " (SELECT ticker FROM companies)) FROM article_entities").fetchone()
        methods = dict(con.execute("SELECT method, count(*) FROM article_entities GROUP BY 1"
                                   " ORDER BY 2 DESC").fetchall())
        links = sum(methods.values())
        con.close()
    merged = made["rows"] - articles
    print(cpu_summary())
    print(f"archive: {made['rows']:,} rows, {made['stories']:,} stories filed under "
          f"{made['tickers']:,} tickers")
    print(f"\n{'stored':<34}{'value':>12}")
    for name, value in (("articles", articles), ("copies merged into them", merged),
                        ("articles linked to a company", linked),
                        ("(article, company) links", links), ("distinct tickers linked", distinct),
                        ("... of them in the universe", in_universe)):
        print(f"{name:<34}{value:>12,}")
    for method, count in methods.items():
        print(f"  links by {method:<24}{count:>12,}")
    print(f"{'import time, s':<34}{seconds:>12.1f}")
    print(f"{'rows/s':<34}{made['rows'] / seconds:>12,.0f}")
    print(f"{'peak RSS, MB':<34}{peak_mb:>12,.0f}")
    print(json.dumps({"rows": made["rows"], "stories": made["stories"], "articles": articles,
                      "merged": merged, "linked_share": round(linked / max(articles, 1), 4),
                      "tickers_filed": made["tickers"], "tickers_linked": distinct,
                      "links": links, "seconds": round(seconds, 1),
                      "rows_per_s": round(made["rows"] / seconds), "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
