"""The company universe and entity linking: which listed companies an article is about.

* :mod:`~pipeline.companies.universe`: the default universe (~1,800 companies from the
  ``pytickersymbols`` package, built at load time, cached);
* :mod:`~pipeline.companies.userfile`: user company files (additions, overrides, drops) and
  watchlists;
* :mod:`~pipeline.companies.linking`: :class:`Linker`, text → :class:`Link` per company;
* :mod:`~pipeline.companies.model`, :mod:`~pipeline.companies.names`,
  :mod:`~pipeline.companies.sectors`, :mod:`~pipeline.companies.exchanges`: value types and
  the rules they are built by.

Typical use::

    universe = universe_from_settings(load_settings())
    linker = Linker(universe)
    links = linker.link(title, summary, categories=terms, feed_ticker=None)
"""

from pipeline.companies.linking import Linker
from pipeline.companies.model import METHODS, Company, Link, Universe
from pipeline.companies.universe import default_universe
from pipeline.companies.userfile import (
    load_universe, load_watchlist, universe_from_settings, watchlist_from_settings,
)

__all__ = ["METHODS", "Company", "Link", "Linker", "Universe", "default_universe",
           "load_universe", "load_watchlist", "universe_from_settings",
           "watchlist_from_settings"]
