"""Ingestion benchmark (run by hand): entries per second end to end, and bulk vs row-by-row store.

1. Generates ``--feeds`` RSS documents of ``--entries`` items each (varied invented headlines,
   dates, links with tracking parameters, some cashtags), serves them from a loopback HTTP
   server, and times :func:`pipeline.run.ingest` over them: fetch + parse + normalize + story
   grouping + store, into a fresh DuckDB file.
2. Takes the article rows that run produced and stores them again into fresh databases two
   ways, side by side in one run: the bulk DataFrame/Arrow upsert the pipeline uses
   (:func:`pipeline.storage.db.upsert_frame`) and one ``INSERT`` per row.

Usage::

    .venv/bin/python bench/ingest.py [--feeds 100] [--entries 100] [--row-sample 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUBJECTS = ["Acme Robotics", "Borealis Bank", "Cobalt Mining", "Dunmore Foods", "Elstree Media",
            "Fenwick Air", "Galloway Pharma", "Harrow Steel", "Ionia Telecom", "Juniper Retail"]
EVENTS = ["beats profit estimates", "cuts full-year outlook", "names new finance chief",
          "wins regulatory approval", "faces probe over accounting", "raises dividend by 8%",
          "shares slide after downgrade", "to acquire a rival for $2 billion",
          "files annual report", "recalls 20,000 units"]


def make_feed(index: int, entries: int, now: datetime, rng: random.Random) -> bytes:
    """One RSS 2.0 document with ``entries`` invented items."""
    items = []
    for j in range(entries):
        subject, event = rng.choice(SUBJECTS), rng.choice(EVENTS)
        tag = f" ${subject.split()[0][:4].upper()}" if rng.random() < 0.3 else ""
        when = now - timedelta(minutes=rng.randint(0, 60 * 24 * 14))
        items.append(
            f"<item><title>{escape(f'{subject} {event}{tag} ({index}-{j})')}</title>"
            f"<link>https://news.example.com/{index}/{j}?utm_source=rss&amp;utm_medium=feed</link>"
            f"<guid isPermaLink='false'>feed{index}-item{j}</guid>"
            f"<description>{escape(f'<p>{subject} said on {when:%A} that it {event}.</p>')}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>")
    return (f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
            f"<title>Bench feed {index}</title>{''.join(items)}</channel></rss>").encode()


def serve(documents: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``documents`` (path → bytes) on 127.0.0.1; returns the server and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = documents.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _plain(value):
    """A DataFrame cell as a DuckDB parameter (arrays → lists, NaN/NaT → None)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return value
    return None if pd.isna(value) else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--row-sample", type=int, default=2000,
                        help="rows stored one INSERT at a time (row-by-row is slow)")
    opts = parser.parse_args()

    import duckdb

    from _common import cpu_summary

    from pipeline.config import load_settings
    from pipeline.run import ingest
    from pipeline.storage.db import connect, upsert_frame

    print(cpu_summary())

    rng = random.Random(7)
    now = datetime.now(UTC)
    documents = {f"/feed{i}.xml": make_feed(i, opts.entries, now, rng) for i in range(opts.feeds)}
    server, base = serve(documents)
    results: dict = {"feeds": opts.feeds, "entries_per_feed": opts.entries,
                     "bytes": sum(len(d) for d in documents.values())}
    with tempfile.TemporaryDirectory(prefix="tonewatch-bench-ingest-") as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data")
        started = time.perf_counter()
        result = ingest(settings, at=now, use_config=False,
                        extra_sources=[base + path for path in documents])
        seconds = time.perf_counter() - started
        server.shutdown()
        n = result.counts["entries"]
        results["end_to_end"] = {"entries": n, "seconds": round(seconds, 2),
                                 "entries_per_s": round(n / seconds, 1),
                                 "articles_new": result.counts["articles_new"]}
        with connect(settings.db_path, read_only=True) as con:
            frame = con.execute("SELECT * FROM articles").df()

        # Store the same rows again, bulk vs one INSERT per row, each into a fresh database.
        bulk_db, rows_db = Path(tmp) / "bulk.duckdb", Path(tmp) / "rows.duckdb"
        with connect(bulk_db) as con:
            started = time.perf_counter()
            upsert_frame(con, "articles", frame, ["article_id"], [])
            bulk_s = time.perf_counter() - started
        sample = frame.head(opts.row_sample)
        columns = list(sample.columns)
        sql = (f"INSERT INTO articles ({', '.join(columns)}) VALUES "
               f"({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING")
        with connect(rows_db) as con:
            started = time.perf_counter()
            for record in sample.astype(object).to_dict("records"):
                con.execute(sql, [_plain(record[c]) for c in columns])
            rows_s = time.perf_counter() - started
        bulk_rate, row_rate = len(frame) / bulk_s, len(sample) / rows_s
        results["store"] = {"bulk_rows": len(frame), "bulk_seconds": round(bulk_s, 3),
                            "bulk_rows_per_s": round(bulk_rate), "row_by_row_rows": len(sample),
                            "row_by_row_seconds": round(rows_s, 2),
                            "row_by_row_rows_per_s": round(row_rate),
                            "bulk_speedup": round(bulk_rate / row_rate, 1)}
        del duckdb
    results["cpu"] = cpu_summary()
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    e2e, store = results["end_to_end"], results["store"]
    print(f"end to end: {e2e['entries']} entries from {opts.feeds} feeds over loopback HTTP in "
          f"{e2e['seconds']} s = {e2e['entries_per_s']} entries/s")
    print(f"store: bulk {store['bulk_rows_per_s']} rows/s vs row-by-row "
          f"{store['row_by_row_rows_per_s']} rows/s ({store['bulk_speedup']}x)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
