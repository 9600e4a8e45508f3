"""pipeline.ingest.normalize: text cleaning, URLs, dates, language, entry → article rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.companies import Company, Linker, Universe
from pipeline.ingest.normalize import (
    ARTICLE_COLUMNS,
    canonical_url,
    clean_text,
    detect_language,
    normalize_entries,
    parse_date,
    strip_source_suffix,
)

# --- clean_text ---------------------------------------------------------------------------


def test_clean_text_removes_tags_and_collapses_whitespace():
    assert clean_text("<p>Acme <b>beats</b>\n\n  estimates</p>") == "Acme beats estimates"


def test_clean_text_unescapes_double_escaped_nbsp():
    assert clean_text("Shares&amp;nbsp;fell 5%") == "Shares fell 5%"


def test_clean_text_unescapes_plain_entities():
    assert clean_text("AT&amp;T &quot;cuts&quot; guidance") == 'AT&T "cuts" guidance'


def test_clean_text_strips_escaped_markup_next_to_an_entity():
    # An "&" survives the first pass, so the second unescape+strip pass runs.
    assert clean_text("AT&amp;amp;T&lt;br&gt;falls") == "AT&T falls"


def test_clean_text_strips_escaped_markup():
    assert clean_text("Line one&lt;br&gt;Line two") == "Line one Line two"


def test_clean_text_normalises_to_nfc():
    decomposed = "Cafe\u0301 Nestle\u0301"
    out = clean_text(decomposed)
    assert out == "Caf\u00e9 Nestl\u00e9"
    assert len(out) == len("Café Nestlé")


def test_clean_text_empty_inputs():
    assert clean_text(None) == ""
    assert clean_text("") == ""
    assert clean_text("   <br/>  ") == ""


# --- strip_source_suffix ------------------------------------------------------------------


def test_strip_source_suffix_removes_named_publisher():
    title = "Acme Robotics cuts full-year outlook - Reuters"
    assert strip_source_suffix(title, ["Reuters"]) == "Acme Robotics cuts full-year outlook"


@pytest.mark.parametrize("sep", [" – ", " — ", " | "])
def test_strip_source_suffix_other_separators(sep):
    assert strip_source_suffix(f"Acme Robotics cuts outlook{sep}Reuters", ["", "Reuters"]) == (
        "Acme Robotics cuts outlook"
    )


def test_strip_source_suffix_keeps_unrelated_suffix_and_short_titles():
    assert strip_source_suffix("Acme Robotics cuts outlook - Bloomberg", ["Reuters"]) == (
        "Acme Robotics cuts outlook - Bloomberg"
    )
    # Removing the suffix would leave almost nothing: keep the title.
    assert strip_source_suffix("Stocks - Reuters", ["Reuters"]) == "Stocks - Reuters"


def test_strip_source_suffix_repeated():
    assert strip_source_suffix("Markets transcript - Reuters - Reuters", ["Reuters"]) == (
        "Markets transcript")


# --- canonical_url ------------------------------------------------------------------------


def test_canonical_url_drops_tracking_and_fragment_keeps_other_params_in_order():
    url = ("HTTPS://News.Example.COM/Markets/Story?utm_source=rss&id=42&fbclid=abc"
           "&.tsrc=rss&page=2&utm_campaign=x#comments")
    assert canonical_url(url) == "https://news.example.com/Markets/Story?id=42&page=2"


def test_canonical_url_path_case_kept_default_port_dropped_and_empty():
    assert canonical_url("http://Example.com:80/A/B") == "http://example.com/A/B"
    assert canonical_url("https://example.com:443") == "https://example.com/"
    assert canonical_url("https://example.com:8443/x") == "https://example.com:8443/x"
    assert canonical_url("") == ""
    assert canonical_url(None) == ""


def test_canonical_url_keeps_blank_valued_params():
    assert canonical_url("https://e.com/p?a=&b=1") == "https://e.com/p?a=&b=1"


# --- parse_date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 05 Mar 2024 09:30:00 -0500", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 09:30:00 EST", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 09:30:00 GMT", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("2024-03-05T09:30:00+01:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ],
)
def test_parse_date_with_zone_is_exact(raw, expected, now):
    # A feed timezone must not override a zone the string states.
    instant, quality = parse_date(raw, fetched_at=now, feed_timezone="Asia/Tokyo")
    assert (instant, quality) == (expected, "exact")
    assert instant.utcoffset() == timedelta(0)


def test_parse_date_rfc3339_zulu_is_exact(now):
    assert parse_date("2024-03-05T09:30:00Z", fetched_at=now) == (
        datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "exact")


def test_parse_date_trailing_word_is_not_a_zone(now):
    assert parse_date("05.03.2024 09:30 Uhr", fetched_at=now, feed_timezone="Europe/Berlin") == (
        datetime(2024, 3, 5, 8, 30, tzinfo=UTC), "zone_assumed")


def test_parse_date_rfc3339_zulu_value_is_utc(now):
    instant, _ = parse_date("2024-03-05T09:30:00Z", fetched_at=now, feed_timezone="Asia/Tokyo")
    assert instant == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def test_parse_date_zone_less_uses_feed_timezone(now):
    # 09:30 in New York in March (before DST starts on 10 March 2024) is 14:30 UTC.
    assert parse_date("2024-03-05 09:30:00", fetched_at=now, feed_timezone="America/New_York") == (
        datetime(2024, 3, 5, 14, 30, tzinfo=UTC), "zone_assumed")


def test_parse_date_zone_less_defaults_to_utc(now):
    assert parse_date("2024-03-05 09:30:00", fetched_at=now) == (
        datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "zone_assumed")


def test_parse_date_portuguese_rfc822(now):
    assert parse_date("Seg, 24 Set 2018 19:22:00 -0300", fetched_at=now) == (
        datetime(2018, 9, 24, 22, 22, tzinfo=UTC), "exact")


def test_parse_date_in_the_future_falls_back_to_fetch_time(now):
    future = (now + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert parse_date(future, fetched_at=now) == (now, "out_of_range")


def test_parse_date_slightly_ahead_is_tolerated(now):
    # Clock skew of a few hours is within the one-day tolerance.
    ahead = (now + timedelta(hours=3)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert parse_date(ahead, fetched_at=now) == (now + timedelta(hours=3), "exact")


def test_parse_date_older_than_horizon_is_flagged(now):
    assert parse_date("Tue, 05 Mar 2024 09:30:00 GMT", fetched_at=now,
                      horizon=timedelta(hours=1)) == (now, "out_of_range")


@pytest.mark.parametrize("raw, expected", [
    ("Tue, 05 Mar 2024 09:30:00 CET", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("Di, 05 Mär 2024 09:30:00 MEZ", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 09:30:00 EST", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
    ("mar., 05 mars 2024 09:30:00 +0100", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("martes, 5 de marzo de 2024 09:30 -0300", datetime(2024, 3, 5, 12, 30, tzinfo=UTC)),
])
def test_parse_date_named_zones_beyond_rfc822_and_other_languages(raw, expected, now):
    """CET/MEZ are not RFC 822 names; they must not be read as zone-less UTC."""
    assert parse_date(raw, fetched_at=now) == (expected, "exact")


@pytest.mark.parametrize("raw", [None, "", "   ", "not a date at all", "32/13/2024 99:99"])
def test_parse_date_missing_or_garbage_is_inferred(raw, now):
    assert parse_date(raw, fetched_at=now) == (now, "inferred")


# --- detect_language ----------------------------------------------------------------------


def test_detect_language_english_headline():
    assert detect_language("Acme Robotics shares plunge after profit warning") == "en"


def test_detect_language_portuguese_sentence():
    assert detect_language("O banco central elevou a taxa de juros para conter a inflação") == "pt"


@pytest.mark.parametrize("text", ["", "ok", "  a "])
def test_detect_language_too_short_is_none(text):
    assert detect_language(text) is None


def test_detect_language_ignores_links_and_cashtags():
    # Shortened links read as Dutch or German to an n-gram model; without them the headline is
    # English or too short to say (then the feed's language is used).
    assert detect_language("Oil drops 5% https://t.co/QxZkWp7Ab https://t.co/Lm9RtVvQz") in (None, "en")
    assert detect_language("$ACME - Acme Robotics declares $0.40 dividend https://t.co/Pq8s") in (None, "en")


# --- normalize_entries --------------------------------------------------------------------

GOOD_ITEMS = [
    # 0: meaningful guid, summary that just repeats the title, cashtag.
    "<title>Acme Robotics cuts outlook as $ACME orders slump</title>"
    "<link>https://wire.example.com/a1?utm_source=rss</link><guid>wire-1</guid>"
    "<description>Acme Robotics cuts outlook as $ACME orders slump</description>"
    "<pubDate>Tue, 05 Mar 2024 09:30:00 -0500</pubDate>",
    # 1: exchange prefix in the summary; a real summary; zone-less date.
    "<title>Globex wins large defence contract</title>"
    "<link>https://wire.example.com/a2</link><guid>wire-2</guid>"
    "<description>The company (NASDAQ: GLBX) said the deal is worth $2 billion.</description>"
    "<pubDate>2024-03-05 10:00:00</pubDate>",
    # 2: neither title nor link: dropped.
    "<description>orphan text without title or link</description>",
    # 3: repeats guid wire-1 with a newer headline: the first occurrence wins.
    "<title>Acme Robotics cuts outlook (updated)</title>"
    "<link>https://wire.example.com/a1-update</link><guid>wire-1</guid>",
    # 4, 5: more distinct entries so that wire-1's two copies are a minority of the fetch.
    "<title>Initech shares steady ahead of results</title>"
    "<link>https://wire.example.com/a4</link><guid>wire-4</guid>",
    "<title>Umbrella Corp names new chief financial officer</title>"
    "<link>https://wire.example.com/a5</link><guid>wire-5</guid>",
    "<title>Hooli lowers prices across its cloud products</title>"
    "<link>https://wire.example.com/a6</link><guid>wire-6</guid>",
]


#: The companies of GOOD_ITEMS, as a user's company file would add them.
UNIVERSE = Universe([Company("ACME", "Acme Robotics"), Company("GLBX", "Globex"),
                     Company("INTC", "Initech")])


@pytest.fixture
def good_frame(parsed_rss, source, now):
    return normalize_entries(parsed_rss(GOOD_ITEMS), source, fetched_at=now,
                             linker=Linker(UNIVERSE))


def test_normalize_entries_columns_and_counts(good_frame):
    frame, dropped = good_frame
    assert list(frame.columns) == ARTICLE_COLUMNS + ["links"]
    assert dropped == 2  # 1 without title and link, 1 repeating a guid
    assert len(frame) == 5  # 7 entries - 1 dropped - 1 repeated guid
    assert frame["article_id"].is_unique
    assert "orphan text without title or link" not in " ".join(frame["summary"])


def test_normalize_entries_repeated_guid_keeps_first(good_frame):
    frame, _ = good_frame
    acme = frame[frame["title"].str.startswith("Acme Robotics cuts outlook")]
    assert list(acme["title"]) == ["Acme Robotics cuts outlook as $ACME orders slump"]
    assert acme.iloc[0]["url"] == "https://wire.example.com/a1"  # canonical: utm_source gone


def test_normalize_entries_summary_repeating_title_not_in_text(good_frame):
    frame, _ = good_frame
    row = frame.iloc[0]
    assert row["text"] == "Acme Robotics cuts outlook as $ACME orders slump"
    other = frame[frame["title"] == "Globex wins large defence contract"].iloc[0]
    assert other["text"] == ("Globex wins large defence contract. "
                             "The company (NASDAQ: GLBX) said the deal is worth $2 billion.")


def test_normalize_entries_tickers_and_links(good_frame):
    frame, _ = good_frame
    by_title = dict(zip(frame["title"], frame["links"], strict=True))
    assert by_title["Acme Robotics cuts outlook as $ACME orders slump"] == [
        ("ACME", "cashtag", 1.0, "$ACME")]
    assert by_title["Globex wins large defence contract"] == [("GLBX", "exchange_prefix", 1.0, "Globex")]
    assert by_title["Initech shares steady ahead of results"] == [("INTC", "name", 1.0, "Initech")]
    assert by_title["Hooli lowers prices across its cloud products"] == []  # not a known company
    tickers = dict(zip(frame["title"], frame["tickers"], strict=True))
    assert tickers["Globex wins large defence contract"] == ["GLBX"]


def test_normalize_entries_default_universe(parsed_rss, source, now):
    parsed = parsed_rss(["<title>Goldman's profit falls as trading slows</title>"
                         "<link>https://wire.example.com/a4</link>"])
    frame, _ = normalize_entries(parsed, source, fetched_at=now)
    assert list(frame.iloc[0]["tickers"]) == ["GS"]


def test_normalize_entries_dates_and_language(good_frame, now):
    frame, _ = good_frame
    first = frame.iloc[0]
    assert first["published_at"] == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert first["date_quality"] == "exact"
    assert first["published_raw"] == "Tue, 05 Mar 2024 09:30:00 -0500"
    globex = frame[frame["title"] == "Globex wins large defence contract"].iloc[0]
    # Zone-less date read in the source's America/New_York zone.
    assert globex["published_at"] == datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    assert globex["date_quality"] == "zone_assumed"
    undated = frame[frame["title"] == "Hooli lowers prices across its cloud products"].iloc[0]
    assert (undated["published_at"], undated["date_quality"]) == (now, "inferred")
    assert set(frame["language"]) == {"en"}
    assert (frame["first_seen_at"] == now).all() and (frame["fetched_at"] == now).all()
    assert (frame["feed_id"] == "wire-test-0001").all()


def test_normalize_entries_guid_shared_by_all_entries_falls_back_to_link(parsed_rss, source, now):
    items = [
        f"<title>Story number {i} about markets today</title>"
        f"<link>https://wire.example.com/s{i}</link><guid>https://wire.example.com/</guid>"
        for i in range(4)
    ]
    frame, dropped = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert dropped == 0
    assert len(frame) == 4  # not collapsed into one article by the shared guid
    assert frame["url"].tolist() == [f"https://wire.example.com/s{i}" for i in range(4)]
    # The key of a link-keyed article does not depend on the feed it came from.
    other_feed = type(source)("other-feed", "Other", "https://other.example.com/rss")
    again, _ = normalize_entries(parsed_rss(items), other_feed, fetched_at=now)
    assert again["article_id"].tolist() == frame["article_id"].tolist()


def test_normalize_entries_guid_key_is_per_feed(parsed_rss, source, now):
    items = ["<title>Acme Robotics cuts outlook again today</title><guid>g-1</guid>"]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    other_feed = type(source)("other-feed", "Other", "https://other.example.com/rss")
    again, _ = normalize_entries(parsed_rss(items), other_feed, fetched_at=now)
    assert frame.iloc[0]["article_id"] != again.iloc[0]["article_id"]


def test_normalize_entries_repeated_guid_in_small_fetch_keeps_first(parsed_rss, source, now):
    items = [
        "<title>Acme Robotics cuts outlook (updated)</title>"
        "<link>https://wire.example.com/a1-v2</link><guid>wire-1</guid>",
        "<title>Acme Robotics cuts outlook</title>"
        "<link>https://wire.example.com/a1</link><guid>wire-1</guid>",
        "<title>Initech shares steady ahead of results</title><guid>wire-4</guid>",
        "<title>Umbrella Corp names new chief financial officer</title><guid>wire-5</guid>",
        "<title>Hooli lowers prices across its cloud products</title><guid>wire-6</guid>",
    ]
    parsed = parsed_rss(items)
    frame, dropped = normalize_entries(parsed, source, fetched_at=now)
    acme = frame[frame["title"].str.startswith("Acme")]
    assert acme["title"].tolist() == ["Acme Robotics cuts outlook (updated)"]
    assert dropped == 1  # the older copy is counted, not silently lost
    assert parsed.warnings == [
        "1 entry repeats an earlier entry's key (its guid, else its link without tracking "
        "parameters); kept the first (newest)",
        "entries 'Acme Robotics cuts outlook (updated)' and 'Acme Robotics cuts outlook' have "
        "one key (id wire-1); only the first is stored"]


def test_normalize_entries_links_differing_in_ref_or_src_are_two_articles(parsed_rss, source, now):
    items = [f"<title>{title}</title><link>https://news.example.com/{link}</link>" for title, link in (
        ("Mill owners expect a slower spring", "view?ref=1001"),
        ("Lumber futures slip on housing data", "view?ref=1002"),
        ("Dairy cooperative raises milk price", "show?src=alpha&amp;utm_source=rss"),
        ("Poultry exports recover after ban", "show?src=beta"))]
    frame, dropped = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert dropped == 0
    assert frame["url"].tolist() == [
        "https://news.example.com/view?ref=1001", "https://news.example.com/view?ref=1002",
        "https://news.example.com/show?src=alpha", "https://news.example.com/show?src=beta"]


def test_normalize_entries_story_id_ignores_source_suffix(parsed_rss, source, now):
    items = [
        "<title>Acme Robotics cuts full-year outlook - Reuters</title>"
        "<link>https://syndication.example.net/x1</link>"
        '<source url="https://www.reuters.com/">Reuters</source>',
        "<title>Acme Robotics cuts full-year outlook</title>"
        "<link>https://wire.example.com/y1</link>",
        "<title>Acme Robotics sees record full-year outlook</title>"
        "<link>https://wire.example.com/y2</link>",
    ]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert frame["article_id"].is_unique and len(frame) == 3
    # Display title keeps the suffix; the model text drops it.
    assert frame.iloc[0]["title"] == "Acme Robotics cuts full-year outlook - Reuters"
    assert frame.iloc[0]["text"] == "Acme Robotics cuts full-year outlook"
    assert frame.iloc[0]["story_id"] == frame.iloc[1]["story_id"]
    assert frame.iloc[2]["story_id"] != frame.iloc[0]["story_id"]


def test_normalize_entries_suffix_kept_when_source_differs(parsed_rss, source, now):
    items = [
        "<title>Acme Robotics cuts full-year outlook - Reuters</title>"
        "<link>https://syndication.example.net/x1</link>"
        '<source url="https://www.bloomberg.com/">Bloomberg</source>',
        "<title>Acme Robotics cuts full-year outlook</title>"
        "<link>https://wire.example.com/y1</link>",
    ]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert frame.iloc[0]["story_id"] != frame.iloc[1]["story_id"]


def test_normalize_entries_drops_post_appeared_trailer_for_scoring_only(parsed_rss, source, now):
    items = ["<title>Acme Robotics cuts full-year outlook</title>"
             "<link>https://wire.example.com/z</link>"
             "<description>Orders fell 20% in the quarter. The post Acme Robotics cuts "
             "full-year outlook appeared first on Example Wire.</description>"]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert frame.iloc[0]["summary"].endswith("appeared first on Example Wire.")  # displayed as is
    assert frame.iloc[0]["text"] == (
        "Acme Robotics cuts full-year outlook. Orders fell 20% in the quarter.")


def test_normalize_entries_empty_feed(parsed_rss, source, now):
    frame, dropped = normalize_entries(parsed_rss([]), source, fetched_at=now)
    assert (len(frame), dropped) == (0, 0)
    assert list(frame.columns) == ARTICLE_COLUMNS + ["links"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "mailto:a@b.example"])
def test_canonical_url_rejects_non_web_schemes(url):
    assert canonical_url(url) == ""


def test_normalize_entries_short_title_case_headline_keeps_the_feed_language(parsed_rss, source, now):
    items = [f"<title>{title}</title><link>https://wire.example.com/l{i}</link>" for i, title in enumerate([
        "Acme Robotics shares plunge after a profit warning from its chief executive",
        "Globex raises its dividend and announces a share buyback programme",
        "Initrode wins a large contract to supply the army with new radios",
        "Duravant To Acquire WECO",  # title case: Italian to the detector (0.53), English 0.22
        "Siemens steigert den Gewinn im dritten Quartal deutlich",  # German stays German
    ])]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert frame["language"].tolist() == ["en", "en", "en", "en", "de"]


# --- plain-text and HTML fields (issue 21) ------------------------------------------------


@pytest.mark.parametrize(("item", "title"), [
    # RSS titles are plain text unless they look like HTML: feedparser has decoded them.
    ("<title>Acme Robotics &lt;ACME.O&gt; shares rise</title>", "Acme Robotics <ACME.O> shares rise"),
    ("<title>Browsers drop the &lt;blink&gt; tag at last</title>", "Browsers drop the <blink> tag at last"),
    # Double-escaped entity in plain text: unescaped once more, brackets untouched.
    ("<title>AT&amp;amp;T &lt;T.N&gt; trims capex</title>", "AT&T <T.N> trims capex"),
    # Markup that feedparser recognises as HTML is still cleaned.
    ("<title>&lt;b&gt;Rates&lt;/b&gt; rise again</title>", "Rates rise again"),
])
def test_normalize_entries_cleans_html_only_when_the_title_is_html(item, title, parsed_rss, source, now):
    frame, _ = normalize_entries(parsed_rss([item + "<link>https://wire.example.com/t</link>"]),
                                 source, fetched_at=now, linker=Linker(UNIVERSE))
    assert frame.iloc[0]["title"] == title


def test_instrument_code_in_a_plain_title_links_the_company(parsed_rss, source, now):
    frame, _ = normalize_entries(
        parsed_rss(["<title>Stocks to watch: &lt;ACME.O&gt; up 4% premarket</title>"
                    "<link>https://wire.example.com/ric</link>"]),
        source, fetched_at=now, linker=Linker(UNIVERSE))
    assert frame.iloc[0]["tickers"] == ["ACME"]
    assert [link[1] for link in frame.iloc[0]["links"]] == ["instrument_code"]


def test_atom_text_and_html_titles(source, now):
    from pipeline.ingest.parse import parse_feed

    doc = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title><id>urn:desk</id>
<updated>2024-03-05T10:00:00Z</updated>
<entry><title type="text">Globex &lt;GLBX.O&gt; &lt;i&gt;edges&lt;/i&gt; up</title>
<link href="https://wire.example.com/x1"/><id>x1</id><updated>2024-03-05T10:00:00Z</updated>
<summary type="html">&lt;p&gt;Globex said &lt;em&gt;little&lt;/em&gt;.&lt;/p&gt;</summary></entry>
<entry><title type="html">Initech &lt;b&gt;falls&lt;/b&gt;</title>
<link href="https://wire.example.com/x2"/><id>x2</id><updated>2024-03-05T10:00:00Z</updated></entry>
</feed>"""
    frame, _ = normalize_entries(parse_feed(doc, source="desk.xml"), source, fetched_at=now,
                                 linker=Linker(UNIVERSE))
    assert frame["title"].tolist() == ["Globex <GLBX.O> <i>edges</i> up", "Initech falls"]
    assert "<" not in frame.iloc[0]["summary"] and "said little" in frame.iloc[0]["summary"]


# --- ambiguous zone abbreviations (issue 21) ----------------------------------------------


@pytest.mark.parametrize(("raw", "feed_timezone", "expected", "quality"), [
    # No zone configured: India Standard Time (+05:30), but only assumed, never exact.
    ("Thu, 05 Mar 2026 10:00:00 IST", None, datetime(2026, 3, 5, 4, 30, tzinfo=UTC), "zone_assumed"),
    ("2026-03-05 10:00 IST", "America/New_York", datetime(2026, 3, 5, 4, 30, tzinfo=UTC), "zone_assumed"),
    # A feed in a zone that calls its time IST: that reading, exact.
    ("Thu, 05 Mar 2026 10:00:00 IST", "Asia/Jerusalem", datetime(2026, 3, 5, 8, 0, tzinfo=UTC), "exact"),
    ("Wed, 05 Aug 2026 10:00:00 IST", "Europe/Dublin", datetime(2026, 8, 5, 9, 0, tzinfo=UTC), "exact"),
    ("Thu, 05 Mar 2026 10:00:00 IST", "Asia/Kolkata", datetime(2026, 3, 5, 4, 30, tzinfo=UTC), "exact"),
    # Dublin in winter is GMT, not IST: the feed's zone does not explain the abbreviation.
    ("Thu, 05 Mar 2026 10:00:00 IST", "Europe/Dublin", datetime(2026, 3, 5, 4, 30, tzinfo=UTC), "zone_assumed"),
])
def test_parse_date_ist_is_ambiguous(raw, feed_timezone, expected, quality):
    fetched = datetime(2026, 8, 6, tzinfo=UTC)
    assert parse_date(raw, fetched_at=fetched, feed_timezone=feed_timezone) == (expected, quality)


@pytest.mark.parametrize(("html_text", "text"), [
    ("AT&amp;T &lt;T.N&gt; cuts guidance", "AT&T <T.N> cuts guidance"),
    ("Acme &lt;ACME.O&gt; rises on &lt;b&gt;orders&lt;/b&gt;", "Acme <ACME.O> rises on orders"),
    ("<p>Initech &lt;INTC.O&gt; posts <b>record</b> profit</p>", "Initech <INTC.O> posts record profit"),
    ("Acme <ACME.O> said demand rose", "Acme <ACME.O> said demand rose"),
    ("Index &lt;.SPX&gt; and &lt;0005.HK&gt; fall", "Index <.SPX> and <0005.HK> fall"),
    ("<p>Shares<script>track()</script> rose</p>", "Shares rose"),
])
def test_clean_text_keeps_instrument_codes_after_the_markup_is_read(html_text, text):
    assert clean_text(html_text) == text


@pytest.mark.parametrize(("raw", "zone", "instant", "quality"), [
    ("Thu, 05 Mar 2026 09:00:00 CST", "Asia/Shanghai", datetime(2026, 3, 5, 1, tzinfo=UTC), "exact"),
    ("Thu, 05 Mar 2026 09:00:00 CST", "America/Chicago", datetime(2026, 3, 5, 15, tzinfo=UTC), "exact"),
    ("Thu, 02 Jul 2026 09:00:00 BST", "Europe/London", datetime(2026, 7, 2, 8, tzinfo=UTC), "exact"),
    ("Thu, 02 Jul 2026 09:00:00 BST", "Asia/Dhaka", datetime(2026, 7, 2, 3, tzinfo=UTC), "exact"),
    ("Thu, 05 Mar 2026 09:00:00 UTC-3", None, datetime(2026, 3, 5, 12, tzinfo=UTC), "exact"),
    ("Thu, 05 Mar 2026 09:00:00 GMT+5:30", "America/New_York",
     datetime(2026, 3, 5, 3, 30, tzinfo=UTC), "exact"),
    ("Mar 5, 2026 09:00 PM", "America/New_York", datetime(2026, 3, 6, 2, tzinfo=UTC), "zone_assumed"),
])
def test_parse_date_shared_abbreviations_offsets_and_twelve_hour_times(raw, zone, instant, quality):
    assert parse_date(raw, fetched_at=datetime(2026, 7, 10, tzinfo=UTC), feed_timezone=zone) == (
        instant, quality)


def test_normalize_entries_a_web_feed_cannot_link_to_local_files(parsed_rss, source, now):
    items = ["<title>Refinery restarts after maintenance</title><link>file:///etc/passwd</link>",
             "<title>Pipeline tariff review opens</title><link>//news.example.com/p/2</link>"]
    frame, _ = normalize_entries(parsed_rss(items), source, fetched_at=now)
    assert frame["url"].isna().tolist() == [True, False]
    assert frame["url"].iloc[1] == "https://news.example.com/p/2"


def test_normalize_entries_an_untitled_entry_with_an_id_is_scored_on_its_text(source, now):
    from pipeline.ingest.parse import ParsedFeed

    entry = {"id": "note-1", "summary": "<p>Initech posts record profit</p>",
             "summary_detail": {"type": "text/html"}, "title_detail": {"type": "text/plain"}}
    frame, dropped = normalize_entries(ParsedFeed("Notes", "json11", [entry]), source,
                                       fetched_at=now)
    assert dropped == 0 and frame["text"].tolist() == ["Initech posts record profit"]
    # an RSS item with neither title nor link is a placeholder, dropped
    frame, dropped = normalize_entries(ParsedFeed("Notes", "rss20", [entry]), source,
                                       fetched_at=now)
    assert dropped == 1 and frame.empty


def test_normalize_entries_a_huge_summary_is_cut_with_a_warning(parsed_rss, source, now):
    from pipeline.ingest.normalize import MAX_SUMMARY_CHARS

    words = "Harbour volumes rose again in the month. " * 20_000  # about 800,000 characters
    parsed = parsed_rss([f"<title>Harbour volumes</title><link>https://p.example.com/1</link>"
                         f"<description>{words}</description>"])
    frame, _ = normalize_entries(parsed, source, fetched_at=now)
    summary = frame["summary"].iloc[0]
    assert len(summary) <= MAX_SUMMARY_CHARS + 1 and summary.endswith("…")
    assert len(frame["text"].iloc[0]) <= MAX_SUMMARY_CHARS + 40
    assert parsed.warnings == ["1 summary longer than 20,000 characters cut to that length"]
