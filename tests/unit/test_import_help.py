"""``tonewatch import --help`` names the ticker columns an archive may carry."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.ingest.importer import TICKER_COLUMNS


def test_import_help_names_the_ticker_columns():
    text = typer.main.get_command(app).commands["import"].help
    assert "a ticker, tickers, symbol or symbols column" in text
    assert TICKER_COLUMNS == ("ticker", "tickers", "symbol", "symbols")
    assert "separated by commas, semicolons or spaces" in text
    result = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "symbols column" in result.output
