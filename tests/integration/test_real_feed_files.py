"""Each real publisher feed in ../shared/real_feeds: its entries, its state and its quirks.

Ingest only (no model); skipped when ../shared is absent. The expectations come from reading
each file: how many entries it has and what a robust ingester must do with its oddities.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.config import load_settings
from pipeline.run import AllFeedsFailedError, ingest
from tests.conftest import SHARED, query

REAL = SHARED / "real_feeds"
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_feeds is absent")]

# file → (state, entries, language)
EXPECTED = {
    "01_sec_press-releases.xml": ("ok", 25, "en"),
    "02_sec_testimony.xml": ("ok", 25, "en"),
    "04_sec_edgar-company-atom-iso8859.xml": ("ok", 5, "en"),
    "07_marketwatch_topstories-media.xml": ("ok", 10, "en"),
    "10_cnbc_international-top-news.xml": ("ok", 30, "en"),
    "12_nytimes_business-media.xml": ("ok", 50, "en"),
    "13_google-news_reuters-markets-search.xml": ("ok", 100, "en"),
    "14_bloomberg_news-sitemap-NOT-A-FEED.xml": ("not_a_feed", 0, None),
    "17_uol-noticias_latin1-no-xml-decl-localized-dates.xml": ("ok", 15, "pt"),
}


def _ingest(tmp_path, name):
    settings = load_settings(data_dir=tmp_path / "data")
    try:
        ingest(settings, at=datetime(2026, 3, 6, tzinfo=UTC), use_config=False,
               extra_sources=[str(REAL / name)])
    except AllFeedsFailedError:
        pass
    return settings.db_path


def test_every_real_file_is_covered():
    assert {p.name for p in REAL.glob("*.xml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_feed_state_entries_and_clean_text(tmp_path, name):
    state, entries, language = EXPECTED[name]
    db = _ingest(tmp_path, name)
    assert query(db, "SELECT last_status FROM feeds") == [(state,)]
    rows = query(db, "SELECT title, summary, text, url, language, date_quality FROM articles")
    assert len(rows) == entries
    for title, summary, text, url, lang, quality in rows:
        assert title == title.strip() and "\n" not in title
        for field in (title, summary or "", text):
            assert "&nbsp;" not in field and "&#x" not in field and "<br" not in field.lower()
            assert "<b>" not in field and "<font" not in field
        assert url is None or (url == url.strip() and " " not in url)
        assert lang == language
        assert quality in ("exact", "zone_assumed"), (title, quality)  # every date parsed


def test_google_news_reuters_suffix_is_off_the_model_text(tmp_path):
    db = _ingest(tmp_path, "13_google-news_reuters-markets-search.xml")
    rows = query(db, "SELECT title, text FROM articles")
    assert sum(t.endswith(" - Reuters") for t, _ in rows) >= 90  # kept for display
    # Only titles that would keep 10 characters or fewer ("Deja vu?", "Transcript") stay whole.
    assert sum(x.endswith(" - Reuters") for _, x in rows) <= 2


def test_portuguese_feed_is_stored_not_scored_language(tmp_path):
    db = _ingest(tmp_path, "17_uol-noticias_latin1-no-xml-decl-localized-dates.xml")
    titles = [t for (t,) in query(db, "SELECT title FROM articles")]
    assert any(any(c in t for c in "ãçéõá") for t in titles)  # Latin-1 decoded, not mojibake
    assert not any("Ã" in t for t in titles)
