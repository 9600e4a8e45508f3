"""Entity linking: methods, ordinary-word names, relevance, ambiguity, the labelled sample."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.companies import Link, Linker, load_universe
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "linking" / "sample.jsonl"


@pytest.fixture(scope="module")
def linker():
    return Linker(load_universe(ROOT / "config" / "companies.yaml"))


def found(linker, title, summary="", **kwargs):
    return {k.ticker: k for k in linker.link(title, summary, **kwargs)}


@pytest.mark.parametrize("title, ticker, method, mention", [
    ("Nvidia unveils new chip", "NVDA", "name", "Nvidia"),
    ("Globex rival Goldman Sachs' profit beats", "GS", "name", "Goldman Sachs"),
    ("Microsoft's gaming unit cuts jobs", "MSFT", "name", "Microsoft"),
    ("Tesla’s robotaxi slips", "TSLA", "alias", "Tesla"),
    ("Goldman cuts staff", "GS", "short_name", "Goldman"),
    ("Apple Inc. faces fine", "AAPL", "name", "Apple Inc."),
    ("Vodafone <VOD.L> agrees sale", "VOD.L", "instrument_code", "<VOD.L>"),
    ("<ACME.O> wins contract", "ACME", "instrument_code", "<ACME.O>"),
    ("<BRKb.N> reports earnings", "BRK.B", "instrument_code", "<BRKb.N>"),
    ("Watching $ACME today", "ACME", "cashtag", "$ACME"),
    ("$BRK.B below book", "BRK.B", "cashtag", "$BRK.B"),
    ("Acme Robotics (NASDAQ: ACME) reports", "ACME", "exchange_prefix", "NASDAQ: ACME"),
    ("Widget maker (NYSE:IBM) buys", "IBM", "exchange_prefix", "NYSE:IBM"),
    ("Vodafone Group (LSE: VOD) sells stake", "VOD.L", "exchange_prefix", "LSE: VOD"),
    ("SAP SE (XETRA: SAP) raises outlook", "SAP.DE", "exchange_prefix", "XETRA: SAP"),
    ("Nestle cuts sugar", "NESN.SW", "alias", "Nestle"),
])
def test_methods_and_mentions(linker, title, ticker, method, mention):
    link = found(linker, title)[ticker]
    assert (link.method, link.mention, link.relevance) == (method, mention, 1.0)


@pytest.mark.parametrize("title", [
    "Pineapple prices jump", "AppleCare plans change", "apple pie recipes", "APPLE ORCHARD TOUR",
])
def test_whole_words_case_sensitive(linker, title):
    assert "AAPL" not in found(linker, title)


@pytest.mark.parametrize("title, ticker", [
    ("Apple shares fall after ruling", "AAPL"), ("Apple to cut 100 jobs", "AAPL"),
    ("Target raises full-year outlook", "TGT"), ("Target's CEO to step down", "TGT"),
    ("Shell profit beats forecasts", "SHEL.L"), ("Shares of Apple slipped", "AAPL"),
    ("Job cuts at Ford spread", "F"), ("Block, Inc. lays off staff", "XYZ"),
    ("Shell reports; $SHEL flat", "SHEL.L"), ("Honda and Nissan end talks", "7267.T"),
    ("General Motors and Ford report", "F"),
])
def test_ordinary_word_names_with_context(linker, title, ticker):
    assert ticker in found(linker, title)


@pytest.mark.parametrize("title", [
    "Fed misses its inflation target", "Central Bank Keeps Its Target Range", "Gap between rich and poor",
    "Shell companies used to hide assets", "Visa rules tightened", "Next steps for trade talks",
    "Sage advice for investors", "General election called", "Block of flats evacuated",
])
def test_ordinary_words_without_context(linker, title):
    assert found(linker, title) == {}


def test_ordinary_word_supported_by_category_feed_or_column(linker):
    assert "TGT" in found(linker, "Target expands", categories=["TGT"])
    assert "TGT" in found(linker, "Target expands", feed_ticker="TGT")
    assert found(linker, "Target expands", tickers=["tgt"])["TGT"].mention == "Target"


def test_longest_match_wins(linker):
    links = found(linker, "Bank of America raises dividend")
    assert set(links) == {"BAC"} and links["BAC"].mention == "Bank of America"


def test_general_motors_vs_general_electric(linker):
    assert set(found(linker, "General Motors and General Electric report")) == {"GM", "GE"}
    assert set(found(linker, "General Motors recalls trucks")) == {"GM"}


def test_exchange_prefix_is_not_the_exchange_company(linker):
    assert set(found(linker, "Tesla (Nasdaq: TSLA) deliveries fall")) == {"TSLA"}


@pytest.mark.parametrize("title, ticker", [
    ("BME: SAN falls", "SAN.MC"), ("Euronext Paris: SAN falls", "SAN.PA"),
    ("$SAN moves with banks", "SAN.MC"),  # the US listing SAN is Santander's
    ("<SAN.PA> drug approved", "SAN.PA"),
])
def test_ambiguous_symbols_resolved_by_context(linker, title, ticker):
    assert set(found(linker, title)) == {ticker}


def test_categories(linker):
    links = found(linker, "Quarterly update", categories=["AAPL", "AI", "CEO", "$MSFT", "NYSE:IBM", "Siemens"])
    assert set(links) == {"AAPL", "MSFT", "IBM", "SIE.DE"}
    assert {k.method for k in links.values()} == {"category"}
    assert {k.relevance for k in links.values()} == {0.4}


def test_feed_ticker(linker):
    assert found(linker, "Company announces dividend", feed_ticker="ACME")["ACME"] == Link(
        "ACME", "feed_ticker", 0.3, None)
    assert set(found(linker, "Microsoft partners with supplier", feed_ticker="ACME")) == {"MSFT"}
    assert set(found(linker, "Acme Robotics and Microsoft sign", feed_ticker="ACME")) == {"ACME", "MSFT"}


def test_ticker_column(linker):
    links = found(linker, "Quiet day", tickers=["aapl", "ZZZQ", "not a ticker", "", "VOD"])
    assert set(links) == {"AAPL", "ZZZQ", "VOD.L"}
    assert links["ZZZQ"] == Link("ZZZQ", "ticker_column", 0.9, None)


def test_relevance_and_strongest_method(linker):
    links = found(linker, "Nvidia gains", "Intel slipped.", categories=["AMD"])
    assert (links["NVDA"].relevance, links["INTC"].relevance, links["AMD"].relevance) == (1.0, 0.6, 0.4)
    both = found(linker, "Apple Inc. (NASDAQ: AAPL) launches iPad", "Apple said.", tickers=["AAPL"])["AAPL"]
    assert (both.method, both.relevance, both.mention) == ("ticker_column", 1.0, "NASDAQ: AAPL")
    ordered = linker.link("Nvidia gains", "Intel slipped.")
    assert [k.ticker for k in ordered] == ["NVDA", "INTC"]


def test_links_are_one_per_ticker(linker):
    links = linker.link("Apple and Apple Inc. and $AAPL", "Apple again")
    assert [k.ticker for k in links] == ["AAPL"]


def test_empty_inputs(linker):
    assert linker.link("") == [] and linker.link("", "", categories=[None, ""]) == []


def test_speed(linker):
    title = "Goldman Sachs' profit beats as Apple shares fall; $TSLA and <VOD.L> slide"
    summary = ("The company said demand had weakened during the quarter while costs for energy and "
               "wages kept rising, and Siemens and Bank of America expect conditions to improve.")
    start, n = time.perf_counter(), 2000
    for _ in range(n):
        linker.link(title, summary)
    # 5,000 articles/s is the target on one core; allow slow CI machines a factor of two.
    assert n / (time.perf_counter() - start) > 2500


def test_precision_and_recall_on_the_labelled_sample(linker):
    """Floor 0.95 for both: the sample exercises every documented rule, so a rule that breaks
    drops a tag's 20-40 items and falls well under it, while a few disputed labels do not."""
    items = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]
    assert len(items) >= 300
    tp = fp = fn = 0
    for it in items:
        got = {k.ticker for k in linker.link(it["title"], it.get("summary", ""),
                                             categories=it.get("categories", ()),
                                             feed_ticker=it.get("feed_ticker"))}
        expected = set(it["expected"])
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95


@pytest.mark.parametrize("title,ticker", [
    ("Chiba Bank shares fall after a bad-loan charge", "8331.T"),
    ("Chiba lifts its dividend as loan growth picks up", "8331.T"),   # a short form + context
    ("Zurich posts record profit on lower claims", "ZURN.SW"),
    ("Delta raises fares as jet fuel climbs", "DAL"),                 # a dictionary short form
])
def test_place_and_dictionary_short_forms_with_context(linker, title, ticker):
    assert ticker in found(linker, title)


@pytest.mark.parametrize("title", [
    "Typhoon hits Chiba; trains halted",
    "Zurich hosts a climate summit this week",
    "Delta variant spreads in three states",
    "River delta farmers count flood losses",
])
def test_place_and_dictionary_short_forms_alone_do_not_link(linker, title):
    assert found(linker, title) == {}


@pytest.mark.parametrize("title,ticker,method", [
    ("KKR to buy a stake in a data centre developer", "KKR", "alias"),      # the symbol as a name
    ("ABN Amro agrees to buy a Dutch lender", "ABN.AS", "alias"),           # "ABN AMRO" in the data
    ("easyJet expects a record summer", "EZJ.L", "alias"),                  # "EasyJet" in the data
])
def test_names_as_the_press_writes_them(linker, title, ticker, method):
    assert found(linker, title)[ticker].method == method


@pytest.mark.parametrize("title", [
    "Nasdaq Composite slides 2% on valuation worries",       # an index, not Nasdaq Inc.
    "Swiss National Bank cuts rates to zero",                # not National Bank Holdings
    "MSCI World index posts its best month in a year",
    "Q2 bookings beat expectations",                         # not Q2 Holdings
])
def test_indices_institutions_and_periods_are_not_companies(linker, title):
    assert found(linker, title) == {}


def test_explicit_symbols_of_companies_outside_the_universe_are_kept(linker):
    links = found(linker, "$ZQXR jumps; LSE: ZQXL slides; <ZQXO.O> flat")
    assert {t: k.method for t, k in links.items()} == {
        "ZQXR": "cashtag", "ZQXL.L": "exchange_prefix", "ZQXO": "instrument_code"}
    assert found(linker, "Top picks", categories=["NYSE:ZQXN"])["ZQXN"].method == "category"


@pytest.mark.parametrize("title", [
    "Senators grill Jerome Powell over bank capital rules",      # a given name before a short form
    "Ms Powell joins the board of a regional utility",           # a person's title
    "Chair Powell signals patience on rate cuts",
    "Lakeview Partners closes its third property fund",          # a rare name before an alias
    "QRT Partners backs a battery recycling startup",            # an acronym
    "Bakery chain bought by Juniper Partners for $900 million",  # a capitalised dictionary word mid-sentence
    "Delta Electronics lifts spending on server power supplies",  # a name goes on after a short form
    "Powell River paper mill to close next spring",
])
def test_short_forms_and_aliases_inside_other_names_do_not_link(linker, title):
    assert found(linker, title) == {}


@pytest.mark.parametrize("title, ticker", [
    ("Analysts Upgrade Goldman After Strong Trading Quarter", "GS"),  # title case: capitals prove nothing
    ("Delta Raises Fares As Jet Fuel Costs Climb", "DAL"),
    ("Investors Dump Powell Shares After Guidance Cut", "POWL"),
    ("Former Goldman trader launches a hedge fund", "GS"),            # sentence-initial dictionary word
    ("Chinese Tesla rival cuts prices again", "TSLA"),                # a common demonym
    ("Estée Lauder Cos. to shut two factories", "EL"),                # its own name goes on
    ("Goldman Sachs Beats Estimates On Trading", "GS"),
    ("Ford Recalls Pickup Trucks Over Brake Fault", "F"),
    ("Jerome Powell and Powell Industries: $POWL jumps", "POWL"),    # found another way
])
def test_short_forms_and_aliases_still_link_where_they_name_the_company(linker, title, ticker):
    assert ticker in found(linker, title)


@pytest.mark.parametrize("title", [
    "Nasdaq ends 1% higher as chip stocks rally",
    "Battery maker jumps 40% in its Nasdaq debut",
    "Tech rally lifts S&P 500, Nasdaq to record closes",
    "Oil slips as demand outlook dims - Nasdaq",                # a publisher's name
    "Nasdaq falls as Treasury yields climb",                    # a market's move is no context
    "Investors pour money into Nasdaq stocks",
    "Nasdaq-listed drug developer doubles on trial data",
    "Startup plans a listing on the London Stock Exchange",
    "MSCI index review adds three Indian lenders",
])
def test_market_names_need_company_context(linker, title):
    assert found(linker, title) == {}


@pytest.mark.parametrize("title", [
    "Nasdaq shares climb after trading revenue beats forecasts",
    "Shares of Nasdaq rose after the results",
    "Nasdaq Inc lifts its quarterly dividend",
    "Nasdaq to buy a risk software maker",
    "$NDAQ slips as Nasdaq trading revenue disappoints",
])
def test_market_names_with_company_context_link(linker, title):
    assert "NDAQ" in found(linker, title)


def test_a_market_listed_with_a_company_is_a_market(linker):
    assert set(found(linker, "Nvidia, Nasdaq slide as rate fears return")) == {"NVDA"}


def test_market_names_are_derived_from_exchanges_and_indices():
    from pytickersymbols.indices_data import INDICES

    from pipeline.companies.exchanges import EXCHANGES, is_market_name

    assert all(is_market_name(e.name) for e in EXCHANGES)
    assert all(is_market_name(" ".join(i.replace("_", " ").split())) for i in INDICES)
    assert is_market_name("NASDAQ") and is_market_name("Euronext") and is_market_name("MSCI")
    assert not is_market_name("Apple") and not is_market_name("AMS")  # codes of 3 letters: tickers


@pytest.mark.parametrize("title", [
    "Apple cider makers report a bumper harvest",     # business word not right after the name
    "Target practice ranges see record sign-ups",
    "Shell collectors descend on a seaside fair",
    "Apple Orchard Visits Surge In Autumn",           # title case: capitals are no name
])
def test_business_word_must_follow_an_ordinary_name_directly(linker, title):
    assert found(linker, title) == {}


@pytest.mark.parametrize("title, ticker", [
    ("Next full-year profit tops forecasts", "NXT.L"),         # lead-in words
    ("Apple to cut 300 jobs in Ireland", "AAPL"),
    ("Honda Motor Co. lifts its annual sales target", "7267.T"),  # the rest of its longer name
    ("Apple supplier to build a plant in Vietnam", "AAPL"),
])
def test_business_word_after_lead_ins(linker, title, ticker):
    assert ticker in found(linker, title)


def test_own_name_beats_another_companys_user_alias(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("companies:\n  - {ticker: SHORT, name: Shortbread Bakers, aliases: [Apple, Shortbread],"
                    " sector: Consumer Staples}\n", encoding="utf-8")
    universe = load_universe(path)
    linker = Linker(universe)
    assert set(found(linker, "Apple shares fall on weak demand")) == {"AAPL"}
    assert set(found(linker, "Shortbread raises prices")) == {"SHORT"}
    warning = next(w for w in universe.warnings if "'Apple'" in w)
    assert "AAPL" in warning and "SHORT" in warning


def test_two_user_aliases_stay_ambiguous(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("companies:\n  - {ticker: ZZZQ, name: Zed One, aliases: [Zedco], sector: Energy}\n"
                    "  - {ticker: ZZZR, name: Zed Two, aliases: [Zedco], sector: Energy}\n", encoding="utf-8")
    assert found(Linker(load_universe(path)), "Zedco raises prices") == {}


def test_junk_aliases_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("companies:\n  - {ticker: SHORT, name: Shortbread Bakers, sector: Consumer Staples,"
                    " aliases: ['Inc', '$', '&', 'Ltd.', '--', 'Group']}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.yaml: entry 1: field 'aliases': 'Inc' cannot name a company"):
        load_universe(path)
