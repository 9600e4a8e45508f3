"""The ``companies`` group: browse the company universe, check user files, explain links."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pipeline.cli.common import out, settings
from pipeline.errors import ConfigError

companies_app = typer.Typer(help="The company universe: list, show, check files, explain links.",
                            no_args_is_help=True)


def _universe():
    from pipeline.companies import universe_from_settings

    return universe_from_settings(settings())


@companies_app.command("list")
def companies_list(
    sector: Annotated[Optional[str], typer.Option(help="Only this GICS sector, e.g. Financials.")] = None,
    country: Annotated[Optional[str], typer.Option(help="Only this country, e.g. Germany.")] = None,
    search: Annotated[Optional[str], typer.Option(help="Substring of ticker, name or alias.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many rows.")] = 50,
) -> None:
    """List companies of the universe (defaults plus the companies file), sorted by ticker.

    A sector or country no company has is an error (exit 1) naming the values there are.
    """
    universe = _universe()
    problem = universe.filter_problem(sector=sector, country=country)
    if problem:
        raise ConfigError(problem)
    found = universe.select(sector=sector, country=country, search=search)
    if not found:
        out.print("no company matches these filters", highlight=False)
        return
    table = Table("ticker", "name", "exchange", "country", "sector", "aliases")
    for c in found[:limit]:
        table.add_row(c.ticker, c.name, c.exchange, c.country, c.sector, ", ".join(c.aliases))
    out.print(table)
    out.print(f"{min(len(found), limit)} of {len(found)} companies shown", highlight=False)


@companies_app.command("show")
def companies_show(
    query: Annotated[str, typer.Argument(help="Ticker (AAPL, VOD.L), name or alias.")],
) -> None:
    """Show one company: every field, each alias with how it was derived, and its source."""
    from pipeline.companies.names import is_ordinary_word

    universe = _universe()
    company = universe.find(query)
    if company is None:
        near = universe.suggest(query)
        hint = ("; did you mean " + ", ".join(f"{c.ticker} ({c.name})" for c in near) + "?"
                if near else "")
        raise ConfigError(f"no company {query!r} in the universe{hint}")
    for label, value in (("ticker", company.ticker), ("name", company.name),
                         ("exchange", company.exchange), ("country", company.country),
                         ("sector", company.sector), ("industry", company.industry),
                         ("other listings", ", ".join(company.listings) or "-"),
                         ("source", company.source)):
        out.print(f"{label:>15}: {value}", highlight=False)
    table = Table("alias", "derived by", "linking")
    for surface in (company.name, *company.aliases):
        origin = company.alias_origin(surface) or "name"
        linked = universe.surfaces.get(surface)
        status = ("ambiguous: not used" if linked is None or linked.ticker != company.ticker
                  else "needs context (ordinary word)" if is_ordinary_word(surface) else "yes")
        table.add_row(surface, origin, status)
    out.print(table)


@companies_app.command("check")
def companies_check(
    file: Annotated[Path, typer.Argument(help="Company file (YAML/CSV) or watchlist (YAML list, .txt).")],
) -> None:
    """Validate a company file or a watchlist: OK with counts, or one line per problem (exit 1)."""
    from pipeline.companies.userfile import check_file

    report = check_file(file, settings())
    for line in report.problems:
        out.print(line, highlight=False, markup=False)
    if report.problems:
        raise typer.Exit(1)
    out.print(f"OK: {report.summary}", highlight=False)


@companies_app.command("link")
def companies_link(
    text: Annotated[str, typer.Argument(help="Headline (or any text) to link.")],
    summary: Annotated[str, typer.Option(help="Summary text, linked at summary relevance.")] = "",
    category: Annotated[Optional[list[str]], typer.Option(help="Feed category term (repeatable).")] = None,
    feed_ticker: Annotated[Optional[str], typer.Option(help="Ticker of a per-company feed.")] = None,
) -> None:
    """Show which companies TEXT is linked to, how (method), how strongly, and by which words."""
    from pipeline.companies import Linker

    universe = _universe()
    links = Linker(universe).link(text, summary, categories=category or (), feed_ticker=feed_ticker)
    if not links:
        out.print("no company linked", highlight=False)
        return
    table = Table("ticker", "name", "method", "relevance", "mention")
    for k in links:
        company = universe.get(k.ticker)
        table.add_row(k.ticker, company.name if company else "-", k.method, f"{k.relevance:.1f}",
                      k.mention or "-")
    out.print(table)


@companies_app.command("sectors")
def companies_sectors() -> None:
    """Number of companies per GICS sector."""
    counts = _universe().sector_counts()
    table = Table("sector", "companies")
    for sector, n in counts.items():
        table.add_row(sector, str(n))
    table.add_row("total", str(sum(counts.values())))
    out.print(table)
