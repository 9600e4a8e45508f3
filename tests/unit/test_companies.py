"""The company universe: defaults from pytickersymbols, user files, watchlists, the CLI."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.companies import load_universe, load_watchlist
from pipeline.companies.names import derived_aliases, is_ordinary_word, strip_legal
from pipeline.companies.sectors import GICS_SECTORS, derive_sector
from pipeline.companies.universe import default_universe
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def universe():
    return default_universe()


def test_default_universe_is_large_unique_and_classified(universe):
    assert len(universe) >= 1000
    tickers = [c.ticker for c in universe]
    assert len(tickers) == len(set(tickers))
    assert all(c.sector in GICS_SECTORS for c in universe)
    assert all(c.name and c.exchange and c.country for c in universe)


def test_default_universe_touches_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    companies, _ = __import__("pipeline.companies.universe", fromlist=["x"]).build_default_companies()
    assert len(companies) >= 1000


def test_cached_universe_loads_fast(universe):
    start = time.perf_counter()
    assert default_universe() is universe
    assert time.perf_counter() - start < 0.05


def test_ticker_qualification_and_exchanges(universe):
    assert universe.get("SAN.MC").name == "Banco Santander"
    assert universe.get("SAN.PA").name == "Sanofi"
    assert universe.get("VOD.L").exchange == "LSE"
    assert universe.get("SAP.DE").exchange == "XETRA"
    assert universe.get("AAPL").exchange == "NASDAQ" and universe.get("AAPL").country == "United States"
    assert universe.get("APAM").name == "Artisan Partners"  # the clash on APAM: Aperam qualified
    assert universe.get("APAM.AS").name == "Aperam"
    assert universe.get("GOOGL").listings == ("GOOG",)


def test_aliases_and_short_forms(universe):
    assert universe.get("AAPL").aliases == ("Apple", "AAPL")  # legal suffix off; the symbol as a name
    assert universe.get("AAPL").alias_origin("AAPL") == "ticker"
    gs = universe.get("GS")
    assert gs.alias_origin("Goldman") == "short-form"
    assert "Morgan" not in universe.get("MS").aliases  # a common given name
    assert universe.surfaces.get("Merck") is None  # shared by MRK and MRK.DE: dropped
    assert any("Merck" in w for w in universe.warnings)


@pytest.mark.parametrize("name, base", [
    ("Block, Inc.", "Block"), ("KSB SE & Co. KGaA", "KSB"), ("The Home Depot", "Home Depot"),
    ("Shell plc", "Shell"), ("Banco Santander S.A.", "Banco Santander"), ("ASML Holding N.V.", "ASML"),
    ("Volkswagen Group", "Volkswagen"), ("Hornbach (retailer)", "Hornbach"), ("Acme Ltd", "Acme"),
])
def test_strip_legal(name, base):
    assert strip_legal(name) == base


def test_ascii_alias():
    assert ("Nestle", "ascii") in derived_aliases("Nestlé")


@pytest.mark.parametrize("word", ["Apple", "Target", "Shell", "Visa", "Block", "Next", "Sage", "General"])
def test_ordinary_words(word):
    assert is_ordinary_word(word)


@pytest.mark.parametrize("word", ["Nvidia", "Amazon", "Tesla", "Boeing", "Goldman", "General Motors"])
def test_not_ordinary_words(word):
    assert not is_ordinary_word(word)


def test_derive_sector():
    assert derive_sector(["Banking", "Financials"]) == "Financials"
    assert derive_sector(["Oil & Gas"]) == "Energy"
    assert derive_sector(["Immobilien"]) == "Real Estate"
    assert derive_sector([], "First Bancorp") == "Financials"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_user_file_adds_overrides_and_drops(tmp_path):
    path = write(tmp_path, "c.yaml", """companies:
  - {ticker: ACME, name: Acme Robotics, aliases: [Acme], sector: Industrials, exchange: NASDAQ}
  - {ticker: GOOGL, aliases: [Google], country: USA}
  - {ticker: AAPL, drop_aliases: [Apple]}
  - {ticker: APLE, drop: true}
""")
    u = load_universe(path)
    assert u.get("ACME").aliases == ("Acme",) and u.get("ACME").exchange == "NASDAQ"
    assert u.get("GOOGL").aliases == ("Alphabet", "GOOGL", "Google") and u.get("GOOGL").country == "USA"
    assert u.get("GOOGL").alias_origin("Google") == "user"
    assert "Apple" not in u.get("AAPL").aliases
    assert "APLE" not in u


def test_csv_user_file(tmp_path):
    path = write(tmp_path, "c.csv", "ticker,name,aliases,sector,country\n"
                 "acme,Acme Robotics,Acme;Acme Bots,Industrials,United States\n"
                 "MSFT,,MS Corp,,\n")
    u = load_universe(path)
    assert u.get("ACME").aliases == ("Acme", "Acme Bots")
    assert "MS Corp" in u.get("MSFT").aliases


@pytest.mark.parametrize("name, text, message", [
    ("c.yaml", "companies:\n  - {ticker: ACME, name: A, sector: Industrials}\n  - {ticker: '', name: B}\n",
     "c.yaml: entry 2: field 'ticker': empty"),
    ("c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed}\n", "entry 1: field 'sector': empty"),
    ("c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed, sector: Gadgets}\n",
     "entry 1: field 'sector': not a GICS sector"),
    ("c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed, sector: Energy}\n  - {ticker: zzzq, name: Zed}\n",
     "entry 2: field 'ticker': ZZZQ already given in entry 1"),
    ("c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed, sector: Energy}\n  - {ticker: ZZZR, name: Zed, sector: Energy}\n",
     "entry 2: field 'name': 'Zed' is already ZZZQ in entry 1"),
    ("c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed, sector: Energy, colour: red}\n",
     "entry 1: unknown field 'colour'"),
    ("c.yaml", "companies:\n  - {ticker: 'not a ticker', name: Zed, sector: Energy}\n",
     "entry 1: field 'ticker': not a ticker symbol"),
    ("c.csv", "ticker,name,sector\nZZZQ,Zed,Energy\nZZZR,,Energy\n",
     "c.csv: row 2: field 'name': empty"),
    ("c.csv", "ticker,name,sector,exchange\nZZZQ,Zed,Energy,MOON\n", "row 1: field 'exchange': unknown venue"),
])
def test_bad_rows_are_one_line_naming_file_row_and_field(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_universe(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("ticker,name,sector\nZZZQ,Caf\xe9,Energy\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="line 2: not UTF-8"):
        load_universe(path)


def test_missing_user_file_means_defaults(tmp_path, universe):
    assert load_universe(tmp_path / "absent.yaml") is universe


def test_shared_alias_warns_and_is_not_linked(tmp_path):
    path = write(tmp_path, "c.yaml", "companies:\n  - {ticker: ZZZQ, name: Zed One, aliases: [Zed], sector: Energy}\n"
                 "  - {ticker: ZZZR, name: Zed Two, aliases: [Zed], sector: Energy}\n")
    u = load_universe(path)
    assert "Zed" not in u.surfaces and any("'Zed'" in w for w in u.warnings)


def test_old_entities_shape(tmp_path):
    path = write(tmp_path, "entities.yaml", "companies:\n  Acme Robotics: ACME\n  Apple: AAPL\n"
                 "  Exxon: XOM\n  BYD: BYDDY\n")
    u = load_universe(path)
    assert u.get("ACME").name == "Acme Robotics"
    assert "Exxon" in u.get("XOM").aliases and u.get("XOM").alias_origin("Exxon") == "entities-file"
    assert u.get("BYDDY").name == "BYD"


def test_shipped_companies_file(universe):
    u = load_universe(ROOT / "config" / "companies.yaml")
    assert u.get("ACME").name == "Acme Robotics" and u.get("ACME").sector == "Industrials"
    assert "Google" in u.get("GOOGL").aliases
    assert len(u) == len(universe) + 2


def test_watchlist_yaml_and_text(tmp_path, universe, tonewatch_log):
    assert load_watchlist(write(tmp_path, "w.yaml", "- aapl\n- VOD.L\n"), universe) == ("AAPL", "VOD.L")
    assert load_watchlist(write(tmp_path, "w.txt", "# desk\nMSFT\n\nSAP.DE  # Germany\n"), universe) == (
        "MSFT", "SAP.DE")
    # An unknown ticker is a warning, not an error (more in test_watchlist.py).
    assert load_watchlist(write(tmp_path, "w2.txt", "AAPL\nVOD\n"), universe) == ("AAPL", "VOD")
    assert "w2.txt: line 2: unknown ticker VOD (did you mean VOD.L?)" in tonewatch_log.text
    with pytest.raises(ConfigError, match="not found"):
        load_watchlist(tmp_path / "none.txt", universe)


def test_settings_fields(monkeypatch):
    from pipeline.config import load_settings

    monkeypatch.setenv("TONEWATCH_WATCHLIST_FILE", "config/watch.txt")
    s = load_settings()
    assert s.companies_file == Path("config/companies.yaml") and s.default_universe is True
    assert s.watchlist_file == Path("config/watch.txt")


@pytest.fixture
def cli(monkeypatch):
    from pipeline.cli import app

    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["companies", *args])


def test_cli_list_show_sectors(cli):
    result = cli("list", "--sector", "Energy", "--country", "United Kingdom", "--limit", "5")
    assert result.exit_code == 0 and "SHEL.L" in result.output
    result = cli("show", "Goldman")
    assert result.exit_code == 0 and "short-form" in result.output and "GS" in result.output
    result = cli("sectors")
    assert result.exit_code == 0 and "Financials" in result.output


def test_cli_show_suggests(cli):
    result = cli("show", "Goldmann Sachs")
    assert result.exit_code != 0 and "Goldman Sachs" in str(result.exception)


def test_cli_check(cli, tmp_path):
    result = cli("check", "config/companies.yaml")
    assert result.exit_code == 0 and result.output.startswith("OK")
    bad = write(tmp_path, "bad.yaml", "companies:\n  - {ticker: '', name: A}\n  - {ticker: ZZZQ, name: Zed}\n")
    result = cli("check", str(bad))
    assert result.exit_code == 1
    assert "entry 1: field 'ticker': empty" in result.output and "entry 2: field 'sector'" in result.output
    result = cli("check", str(write(tmp_path, "w.txt", "AAPL\nNOPEX\n")))  # a warning, kept
    assert result.exit_code == 0 and "warning: " in result.output and "line 2: unknown ticker NOPEX" in result.output
    result = cli("check", str(write(tmp_path, "w2.txt", "AAPL\nNO PEX\n")))
    assert result.exit_code == 1 and "line 2: not a ticker symbol" in result.output


def test_cli_link(cli):
    result = cli("link", "Shell's profit beats forecasts", "--summary", "Shares of $AAPL rose.")
    assert result.exit_code == 0
    assert "SHEL.L" in result.output and "AAPL" in result.output and "cashtag" in result.output


def test_cli_list_unknown_filter_names_the_valid_values(cli):
    result = cli("list", "--sector", "Tech")
    assert result.exit_code == 1 and "no sector 'Tech'" in str(result.exception)
    assert "Information Technology" in str(result.exception) and "\n" not in str(result.exception)
    result = cli("list", "--country", "DE")
    assert result.exit_code == 1 and "no country 'DE'" in str(result.exception)
    assert "Germany" in str(result.exception) and "United States" in str(result.exception)
    result = cli("list", "--sector", "energy", "--country", "Luxembourg", "--search", "zzzq")
    assert result.exit_code == 0 and "no company matches these filters" in result.output


def test_cli_check_refuses_junk_aliases_and_warns_about_colliding_ones(cli, tmp_path):
    junk = write(tmp_path, "j.yaml", "companies:\n  - {ticker: SHORT, name: Shortbread Bakers,"
                 " sector: Consumer Staples, aliases: [Inc, '$', Shortbread]}\n")
    result = cli("check", str(junk))
    assert result.exit_code == 1
    assert "entry 1: field 'aliases': 'Inc' cannot name a company" in result.output
    assert "entry 1: field 'aliases': '$' cannot name a company (no letter or digit)" in result.output
    path = write(tmp_path, "c.yaml", "companies:\n  - {ticker: SHORT, name: Shortbread Bakers,"
                 " sector: Consumer Staples, aliases: [Apple]}\n")
    result = cli("check", str(path))
    assert result.exit_code == 0 and result.output.startswith("OK")
    assert "'Apple' is shared by AAPL, SHORT: kept for AAPL" in result.output


@pytest.mark.parametrize("alias, junk", [
    ("Inc", True), ("Ltd.", True), ("S.A.", True), ("Group", True), ("&", True), ("$", True),
    ("--", True), ("The", True), ("Apple", False), ("3M", False), ("A&B", False), ("Inc Research", False),
])
def test_junk_alias(alias, junk):
    from pipeline.companies.names import junk_alias

    assert bool(junk_alias(alias)) is junk


def test_dictionary_words_include_plurals():
    from pipeline.companies.names import is_dictionary_word

    assert is_dictionary_word("Partners") and is_dictionary_word("industries")
    assert is_dictionary_word("River") and not is_dictionary_word("Jerome")
