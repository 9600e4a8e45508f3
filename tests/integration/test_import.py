"""`tonewatch import`: historical headlines from CSV/JSONL become articles like fetched entries."""

from __future__ import annotations

import json
import os

from tests.conftest import cli, query


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEWATCH_")}
    return env | {"TONEWATCH_DATA_DIR": str(tmp_path / "data")}


def test_import_csv_and_jsonl_with_bad_files_isolated(tmp_path):
    csv = tmp_path / "archive.csv"
    csv.write_text(
        "headline,date,url,source\n"
        '"Acme Robotics cuts outlook, shares fall 9%",2024-03-04 14:05,https://example.com/a?utm_source=x,Wire\n'
        "Borealis Bank raises dividend by 10%,2024-03-04T09:00:00Z,,\n"
        ",2024-03-05,,\n"
        "Quarterly results due next week,05 mars 2024 10:00,,\n", encoding="utf-8")
    jsonl = tmp_path / "archive.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Cobalt Mining files for bankruptcy", "published": "2024-03-05T08:00:00+01:00", "id": "x1"},
        {"title": "Cobalt Mining files for bankruptcy protection", "published": "2024-03-05T09:00:00+01:00", "id": "x2"},
    ]) + "\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    env = _env(tmp_path)

    out = cli(env, "import", str(csv), str(jsonl), str(bad), "--timezone", "America/New_York")
    assert out.returncode == 0, out.stderr
    assert "articles_new=5" in out.stdout and "dropped=1" in out.stdout
    assert "bad.csv: no title or date column" in out.stderr
    db = tmp_path / "data" / "tonewatch.duckdb"
    rows = {t: (str(p), q, u) for t, p, q, u in query(
        db, "SELECT title, published_at, date_quality, url FROM articles")}
    # Zone-less dates take --timezone (EST in March 2024: UTC-5); canonical URL without utm_*.
    assert rows["Acme Robotics cuts outlook, shares fall 9%"] == (
        "2024-03-04 19:05:00+00:00", "zone_assumed", "https://example.com/a")
    assert rows["Borealis Bank raises dividend by 10%"][1] == "exact"
    stories = query(db, "SELECT count(DISTINCT story_id) FROM articles WHERE title LIKE 'Cobalt%'")
    assert stories == [(1,)]  # two wordings of one story
    status = dict(query(db, "SELECT name, last_status FROM feeds"))
    assert status == {"import: archive.csv": "ok", "import: archive.jsonl": "ok",
                      "import: bad.csv": "parse_error"}

    again = cli(env, "import", str(csv), str(jsonl))
    assert again.returncode == 0 and "articles_new=0" in again.stdout  # idempotent


def test_import_only_bad_files_exits_nonzero_and_bad_timezone_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    out = cli(_env(tmp_path), "import", str(bad))
    assert out.returncode != 0 and "bad.jsonl" in out.stderr and "Traceback" not in out.stderr
    tz = cli(_env(tmp_path), "import", str(bad), "--timezone", "Mars/Olympus")
    assert tz.returncode == 1 and "Mars/Olympus" in tz.stderr and "Traceback" not in tz.stderr


def test_import_drops_undated_rows_reads_epochs_cp1252_and_skips_bad_json_lines(tmp_path):
    csv = tmp_path / "latin.csv"
    csv.write_bytes("title,date\n"
                    "Café Lumière opens stores,2024-03-04T10:00:00Z\n"
                    "No date here,\n"
                    "Garbage date,not-a-date\n"
                    "Epoch seconds row,1709546400\n".encode("cp1252"))
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text('{"title": "Good line one", "date": "2024-03-04T09:00:00Z"}\n'
                     "{broken json\n"
                     '"just a string"\n'
                     '{"title": "Good line two", "date": 1709550000000}\n', encoding="utf-8")
    env = _env(tmp_path)
    out = cli(env, "import", str(csv), str(jsonl))
    assert out.returncode == 0, out.stderr
    assert "read as Windows-1252" in out.stderr
    assert "2 line(s) are not JSON objects" in out.stderr and "line 2, 3" in out.stderr
    assert "2 dropped (no usable date)" in out.stderr
    db = tmp_path / "data" / "tonewatch.duckdb"
    rows = dict(query(db, "SELECT title, strftime(published_at, '%Y-%m-%d %H:%M') FROM articles"))
    assert rows == {"Café Lumière opens stores": "2024-03-04 10:00",
                    "Epoch seconds row": "2024-03-04 10:00",
                    "Good line one": "2024-03-04 09:00", "Good line two": "2024-03-04 11:00"}


def test_ticker_column_copies_merge_into_one_article_carrying_every_ticker(tmp_path):
    first = tmp_path / "by_ticker.csv"
    first.write_text(
        "date,ticker,headline,url\n"
        "2011-07-01 13:00,ACME,Acme Robotics and Initrode sign a supply deal,https://x.example/1\n"
        "2011-07-01 13:00,INTR,Acme Robotics and Initrode sign a supply deal,https://x.example/1\n"
        '2011-07-01 13:00,"$GLBX, NYSE:HOOLI",Acme Robotics and Initrode sign a supply deal,https://x.example/1\n'
        "2011-07-02 09:00,N/A,Copper rallies on supply fears; zinc slips,\n"
        "2011-07-02 10:00,bad!,Quarterly filings due next week,\n", encoding="utf-8")
    env = _env(tmp_path)
    out = cli(env, "import", str(first))
    assert out.returncode == 0, out.stderr
    assert "articles_new=3" in out.stdout and "dropped=2" in out.stdout
    assert "merged into one article with the tickers of all copies" in out.stderr
    assert "column 'ticker' are not tickers and were skipped (line 6 'ticker': 'bad!')" in out.stderr
    db = tmp_path / "data" / "tonewatch.duckdb"
    tickers = dict(query(db, "SELECT url, tickers FROM articles WHERE url IS NOT NULL"))
    assert tickers == {"https://x.example/1": ["ACME", "GLBX", "HOOLI", "INTR"]}
    links = {e: (m, r) for e, m, r in query(
        db, "SELECT entity, method, relevance FROM article_entities JOIN articles USING (article_id)"
            " WHERE url IS NOT NULL")}
    assert links["ACME"][1] == 1.0  # named in the headline and declared
    assert links["GLBX"] == ("ticker_column", 0.9)  # declared only

    # The same story later filed under another ticker, in another file: it keeps all of them.
    second = tmp_path / "more.csv"
    second.write_text("date,symbols,headline,url\n"
                      "2011-07-01 13:00,UMBR,Acme Robotics and Initrode sign a supply deal,"
                      "https://x.example/1\n", encoding="utf-8")
    assert cli(env, "import", str(second)).returncode == 0
    tickers = dict(query(db, "SELECT url, tickers FROM articles WHERE url IS NOT NULL"))
    assert tickers == {"https://x.example/1": ["ACME", "GLBX", "HOOLI", "INTR", "UMBR"]}
