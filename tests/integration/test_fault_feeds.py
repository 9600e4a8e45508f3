"""Feed files written for the project, one per fault kind: each gives its stated outcome.

Every file in tests/fixtures/faults/ states ``tonewatch-expect: status=... [entries=N]`` in its
first bytes; this test ingests each one alone and checks the feed's recorded state, the article
count, and the specific behaviour the file exists for.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import load_settings

from pipeline.run import AllFeedsFailedError, ingest
from tests.conftest import query

FAULTS = Path(__file__).resolve().parents[1] / "fixtures" / "faults"
ROOT = Path(__file__).resolve().parents[2]
# Ingest one file in a fresh interpreter and print that process's peak RSS (KiB), read from
# VmHWM in /proc/self/status (Linux, proc(5)): the peak of this process's own address space.
# Neither the test process's peak nor getrusage's ru_maxrss will do: both carry the memory of the
# session's model fine-tuning (ru_maxrss keeps the pre-exec high-water mark across fork + exec).
PEAK_RSS_OF_INGEST = """
import re, sys
from datetime import UTC, datetime
from pathlib import Path
from pipeline.config import load_settings
from pipeline.run import AllFeedsFailedError, ingest
settings = load_settings(data_dir=Path(sys.argv[2]))
try:
    ingest(settings, at=datetime(2026, 3, 6, tzinfo=UTC), use_config=False, extra_sources=[sys.argv[1]])
except AllFeedsFailedError:
    pass
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
"""
AT = datetime(2026, 3, 6, tzinfo=UTC)


def _expected(path: Path) -> tuple[str, int | None]:
    head = path.read_bytes()[:600].decode("utf-8", errors="replace")
    match = re.search(r"tonewatch-expect:\s*status=(\w+)(?:\s+entries=(\d+))?", head)
    assert match, f"{path.name} states no expected outcome"
    return match.group(1), int(match.group(2)) if match.group(2) else None


def _ingest(tmp_path, *paths: Path):
    settings = load_settings(data_dir=tmp_path / "data")
    try:
        result = ingest(settings, at=AT, use_config=False, extra_sources=[str(p) for p in paths])
    except AllFeedsFailedError as exc:
        result = exc.result
    return settings.db_path, result


@pytest.mark.parametrize("path", sorted(FAULTS.iterdir()), ids=lambda p: p.name)
def test_each_fault_file_gives_its_stated_outcome_within_bounds(path, tmp_path):
    status, entries = _expected(path)
    started = time.monotonic()
    # One ingest, in a fresh interpreter, so that its peak memory is its own.
    child = subprocess.run([sys.executable, "-c", PEAK_RSS_OF_INGEST, str(path), str(tmp_path / "data")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 30
    assert child.returncode == 0, child.stderr[-2000:]
    db = load_settings(data_dir=tmp_path / "data").db_path
    (state,) = query(db, "SELECT last_status FROM feeds")[0]
    assert state == status, (path.name, query(db, "SELECT error_message, warnings FROM feeds"))
    n = query(db, "SELECT count(*) FROM articles")[0][0]
    assert n == (entries or 0), path.name
    assert int(child.stdout.split()[-1]) < 1_000_000  # KiB: no blow-up (interpreter + parse)


def test_entity_attacks_are_refused_before_parsing(tmp_path):
    db, _ = _ingest(tmp_path, FAULTS / "entity_expansion.xml")
    (message,) = query(db, "SELECT error_message FROM feeds")[0]
    assert "declares XML entities" in message


def test_external_entity_url_is_never_fetched(tmp_path):
    """A document pointing an entity at a loopback server: the server sees no request."""
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"leaked")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        doc = (FAULTS / "external_entity.xml").read_text(encoding="utf-8").replace(
            "http://127.0.0.1:9/", f"http://127.0.0.1:{server.server_port}/")
        feed = tmp_path / "xxe.xml"
        feed.write_text(doc, encoding="utf-8")
        db, _ = _ingest(tmp_path, feed)
    finally:
        server.shutdown()
    assert hits == []
    assert query(db, "SELECT last_status FROM feeds") == [("parse_error",)]


def test_recoverable_problems_are_stored_warnings(tmp_path):
    db, _ = _ingest(tmp_path, FAULTS / "invalid_utf8.xml", FAULTS / "undefined_entity.xml")
    warnings = dict(query(db, "SELECT name, warnings FROM feeds"))
    assert "CharacterEncodingOverride" in warnings["Bad bytes"]
    assert "undefined entity" in warnings["Undefined entity"]
    titles = {t for (t,) in query(db, "SELECT title FROM articles")}
    assert "Café chain Brasserie Lumière opens 40 stores" in titles
    assert "Ferrous Dynamics wins rail contract" in titles


def test_dates_in_languages_zones_and_out_of_range(tmp_path):
    db, _ = _ingest(tmp_path, FAULTS / "dates_everywhere.xml")
    rows = {t: (p.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), q) for t, p, q in query(
        db, "SELECT title, published_at, date_quality FROM articles")}
    assert rows["Ações da Vetrania sobem após balanço"] == ("2026-03-02 22:22", "exact")
    assert rows["Las acciones de Ondarra caen tras resultados"] == ("2026-03-02 09:00", "exact")
    assert rows["Rheinfeld AG hebt Prognose an"] == ("2026-03-02 08:30", "exact")
    assert rows["Lumenique publie ses résultats annuels"] == ("2026-03-02 07:00", "exact")
    assert rows["Quillon Foods sets date for investor day"] == ("2026-03-02 12:00", "zone_assumed")
    assert rows["Westmere Cement output rises in February"] == ("2026-03-02 17:00", "exact")
    assert rows["Orvelle Telecom schedule notice"][1] == "out_of_range"
    raw = dict(query(db, "SELECT title, published_raw FROM articles"))
    assert raw["Orvelle Telecom schedule notice"] == "Fri, 01 Jan 2100 00:00:00 GMT"


def test_text_identity_language_and_category_tickers(tmp_path):
    db, _ = _ingest(tmp_path, FAULTS / "text_and_identity.xml")
    rows = {r[0]: r[1:] for r in query(
        db, "SELECT title, text, summary, url, language, tickers FROM articles")}
    text, _, url, _, tickers = rows["Tarnwell Energy cuts dividend - Example Wire"]
    assert text == "Tarnwell Energy cuts dividend"          # suffix off for the model only
    assert url == "https://example.com/t1?id=7#top"         # utm_* removed, the rest as given
    assert tickers == ["TWE"]                                # from the NYSE:TWE category
    text, summary, *_ = rows["Glenrock Labs wins approval"]
    assert "appeared first on" not in text and "appeared first on" in summary
    assert rows["Halcyon Retail expands online"][0] == "Halcyon Retail expands online"
    assert rows["Pelham & Drew merger talks end"][4] == ["PLDW"]  # triple-escaped &amp; undone
    french = [r for t, r in rows.items() if t.startswith("Le groupe Maravelle")]
    assert french and french[0][3] == "fr"                   # stored, and not English
    assert len(rows) == 5                                    # the shared guid merged nothing


def test_per_company_feed_ticker_and_horizon_from_feeds_yaml(tmp_path):
    feed = tmp_path / "acme.xml"
    feed.write_text("""<?xml version="1.0"?><rss version="2.0"><channel><title>Acme news</title>
<item><title>Quarterly dividend declared</title><link>https://e.com/1</link><pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate></item>
<item><title>$BRLX Borealis Bank cuts jobs</title><link>https://e.com/2</link><pubDate>Wed, 04 Mar 2026 11:00:00 GMT</pubDate></item>
<item><title>Old note</title><link>https://e.com/3</link><pubDate>Wed, 04 Mar 2020 11:00:00 GMT</pubDate></item>
</channel></rss>""", encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - name: Acme IR\n    url: {feed}\n    ticker: acme\n    horizon_days: 365\n")
    settings = load_settings(data_dir=tmp_path / "data", feeds_file=config)
    ingest(settings, at=AT)
    rows = {t: (k, q) for t, k, q in query(settings.db_path,
                                           "SELECT title, tickers, date_quality FROM articles")}
    assert rows["Quarterly dividend declared"][0] == ["ACME"]
    assert rows["$BRLX Borealis Bank cuts jobs"][0] == ["BRLX"]  # about another company
    assert rows["Old note"][1] == "out_of_range"


def test_bad_feed_settings_name_the_field(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.ingest.sources import load_feeds

    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: X\n    url: x.xml\n    horizon_days: -3\n")
    with pytest.raises(ConfigError, match="horizon_days"):
        load_feeds(config)


def test_binary_garbage_is_a_parse_error(tmp_path):
    """Random bytes (generated here rather than kept as a binary file in the repository)."""
    import random

    garbage = bytes(b for b in random.Random(0).randbytes(3000) if b not in b"<>")
    path = tmp_path / "binary_garbage.bin"
    path.write_bytes(garbage)
    db, _ = _ingest(tmp_path, path)
    assert query(db, "SELECT last_status FROM feeds") == [("parse_error",)]
    assert query(db, "SELECT count(*) FROM articles") == [(0,)]
