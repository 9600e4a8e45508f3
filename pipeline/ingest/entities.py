"""Find the companies an article is about, as ticker symbols.

Three signals, in order of reliability:

* cashtags: ``$ACME`` (1-5 capital letters, optional ``.X`` class suffix);
* exchange prefixes: ``(NASDAQ: ACME)``, ``NYSE:ACME``, ``(LSE: VOD)``;
* company names listed in ``config/entities.yaml`` (``Acme Robotics: ACME``), matched as whole
  words, case-sensitively (so "apple pie" is not Apple Inc.).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import read_yaml
from pipeline.errors import ConfigError

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,5}(?:\.[A-Z])?)\b")
_EXCHANGE = re.compile(
    r"\b(?:NYSE|NASDAQ|Nasdaq|NYSE American|NYSE Arca|AMEX|LSE|TSX|ASX|OTC|OTCQX|OTCQB|Euronext)"
    r"\s*:\s*([A-Z]{1,5}(?:\.[A-Z])?)\b"
)


@dataclass(frozen=True)
class EntityIndex:
    """Company name → ticker lookup.

    Attributes:
        names: mapping of exact company name to ticker symbol.
    """

    names: dict[str, str]

    @classmethod
    def empty(cls) -> "EntityIndex":
        """An index with no company names (cashtags and exchange prefixes still work)."""
        return cls({})

    @classmethod
    def load(cls, path: Path) -> "EntityIndex":
        """Read ``entities.yaml`` (``companies: {Name: TICKER, ...}``); a missing file is empty.

        Raises:
            ConfigError: the file exists but is not a mapping of names to ticker strings.
        """
        if not Path(path).exists():
            return cls.empty()
        doc = read_yaml(path) or {}
        companies = doc.get("companies", {}) if isinstance(doc, dict) else None
        if not isinstance(companies, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in companies.items()
        ):
            raise ConfigError(f"{path}: 'companies' must map company names to ticker strings")
        return cls({k.strip(): v.strip().upper() for k, v in companies.items()})

    @functools.cached_property
    def _pattern(self) -> re.Pattern | None:
        if not self.names:
            return None
        alternatives = sorted(self.names, key=len, reverse=True)
        return re.compile(r"\b(" + "|".join(re.escape(a) for a in alternatives) + r")\b")

    def tickers_in(self, text: str) -> list[str]:
        """Sorted, de-duplicated ticker symbols mentioned in ``text``."""
        found = set(_CASHTAG.findall(text)) | set(_EXCHANGE.findall(text))
        pattern = self._pattern
        if pattern is not None:
            found |= {self.names[m] for m in pattern.findall(text)}
        return sorted(found)

    def tickers_in_categories(self, terms: list[str]) -> list[str]:
        """Tickers among a feed entry's category terms: ``$ACME``, ``NYSE:ACME``, or a bare
        symbol that the gazetteer knows (a bare ``AI`` or ``CEO`` tag is not a ticker)."""
        known = set(self.names.values())
        found: set[str] = set()
        for term in terms:
            term = (term or "").strip()
            found |= set(self.tickers_in(term))
            if term.isupper() and term.isalpha() and term in known:
                found.add(term)
        return sorted(found)

    def tickers_for_feed_item(self, text: str, categories: list[str], feed_ticker: str | None) -> list[str]:
        """Tickers of one item: from its text and categories, plus the feed's own ticker for a
        per-company feed unless the item names other companies and not that one.

        Args:
            text: title and summary.
            categories: the entry's category terms.
            feed_ticker: the ticker configured for the feed, or None.
        """
        found = set(self.tickers_in(text)) | set(self.tickers_in_categories(categories))
        if feed_ticker and (not found or feed_ticker in found):
            found.add(feed_ticker)
        return sorted(found)
