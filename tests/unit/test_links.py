"""pipeline.ingest.links: stored links keep the feed's bytes minus tracking; identity compares."""

from __future__ import annotations

import pytest

from pipeline.ingest.links import (
    canonical_url,
    is_tracking_param,
    is_web_url,
    resolve_link,
    strip_tracking,
)


@pytest.mark.parametrize("link", [
    "https://markets.example.net/news.php?12345",           # a bare key, no '='
    "https://markets.example.net/search?q=copper%20prices",  # %20, not '+'
    "https://markets.example.net/go?path=desk%2Fmetals",     # an encoded '/'
    "https://markets.example.net/p?a=&b=1",                  # a blank value
    "https://Markets.Example.NET:443/A/B?x=1#part-2",        # case, port, fragment as given
    "file:///srv/feeds/news/1",
])
def test_strip_tracking_keeps_a_link_without_tracking_byte_for_byte(link):
    assert strip_tracking(link) == link


@pytest.mark.parametrize(("link", "stored"), [
    ("https://m.example.net/news.php?12345&utm_source=rss", "https://m.example.net/news.php?12345"),
    ("https://m.example.net/s?q=a%20b&utm_medium=feed&fbclid=x", "https://m.example.net/s?q=a%20b"),
    ("https://m.example.net/s?utm_campaign=x&p=desk%2Fmetals#top", "https://m.example.net/s?p=desk%2Fmetals#top"),
    ("https://m.example.net/s?utm_source=rss", "https://m.example.net/s"),
    ("https://m.example.net/s?UTM_Source=rss&id=7", "https://m.example.net/s?id=7"),
])
def test_strip_tracking_removes_tracking_parameters_only(link, stored):
    assert strip_tracking(link) == stored


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "mailto:a@b.example",
                                  "news/1", "", None])
def test_strip_tracking_drops_what_is_not_an_absolute_link(link):
    assert strip_tracking(link) == ""


@pytest.mark.parametrize(("link", "stored"), [
    ("https://news.example.com/view?ref=1001", "https://news.example.com/view?ref=1001"),
    ("https://news.example.com/show?src=alpha&utm_source=x", "https://news.example.com/show?src=alpha"),
    ("https://news.example.com/p?mod=2&cmpid=7", "https://news.example.com/p?mod=2&cmpid=7"),
    ("https://www.marketwatch.com/story/a-1?mod=mw_rss_topstories", "https://www.marketwatch.com/story/a-1"),
    ("https://WSJ.com/articles/b?id=3&mod=rss", "https://WSJ.com/articles/b?id=3"),
    ("https://notmarketwatch.com/story?mod=2", "https://notmarketwatch.com/story?mod=2"),
])
def test_ambiguous_parameters_are_tracking_only_on_the_sites_listed(link, stored):
    assert strip_tracking(link) == stored
    assert canonical_url(link) == canonical_url(stored)
    assert is_tracking_param("ref", "news.example.com") is False


def test_links_differing_only_in_tracking_have_one_identity():
    plain = "https://m.example.net/news.php?12345"
    tracked = "https://m.example.net/news.php?utm_source=rss&12345&fbclid=abc"
    assert canonical_url(strip_tracking(plain)) == canonical_url(strip_tracking(tracked))
    assert canonical_url(plain) != canonical_url("https://m.example.net/news.php?12346")


def test_resolve_link_against_a_base():
    assert resolve_link("/news/1", "file:///srv/a/feed.xml") == "file:///news/1"
    assert resolve_link("news/1", "file:///srv/a/feed.xml") == "file:///srv/a/news/1"
    assert resolve_link("/news/1", "https://wire.example.org/rss") == "https://wire.example.org/news/1"
    assert resolve_link("https://x.example/1", "file:///srv/a.xml") == "https://x.example/1"
    assert resolve_link("news/1", None) == "news/1"


def test_is_web_url():
    assert is_web_url("https://x.example/1") and is_web_url("HTTP://x.example")
    assert not any(is_web_url(u) for u in ("file:///x", "/news/1", "", None, "https:///nohost"))


def test_protocol_relative_links_take_the_webs_scheme_outside_the_web():
    assert resolve_link("//news.example.com/p/1", "file:///srv/a/feed.xml") == "https://news.example.com/p/1"
    assert resolve_link("//news.example.com/p/1", None) == "https://news.example.com/p/1"
    assert resolve_link("//news.example.com/p/1", "http://wire.example.org/rss") == "http://news.example.com/p/1"


def test_identity_reads_an_internationalised_host_and_escape_case_as_one():
    assert canonical_url("https://bücher.example/neu?x=1") == canonical_url(
        "https://xn--bcher-kva.example/neu?x=1")
    assert canonical_url("https://Bücher.example:443/a%2fb") == "https://xn--bcher-kva.example/a%2Fb"
    assert canonical_url("https://m.example.net/go/desk%2fmetals") == canonical_url(
        "https://m.example.net/go/desk%2Fmetals")
    assert strip_tracking("https://bücher.example/a%2fb") == "https://bücher.example/a%2fb"  # stored as written
