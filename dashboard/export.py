"""CSV export of articles, safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

from dashboard.ui import safe_url, tickers_text

#: Leading characters a spreadsheet treats as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

EXPORT_COLUMNS = ["published_at_utc", "source", "title", "url", "tickers", "label",
                  "p_negative", "p_neutral", "p_positive", "sentiment_score", "article_id"]


def _defuse(text: object) -> object:
    """Prefix a cell that a spreadsheet would run as a formula with ``'`` (OWASP advice)."""
    if isinstance(text, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def articles_csv(frame: pd.DataFrame) -> bytes:
    """Render articles (columns of :data:`dashboard.queries.articles.ARTICLE_COLUMNS`) as CSV.

    Times stay in UTC (ISO 8601 with offset) whatever the display zone, so an export means the
    same thing to everyone; URLs that are not http(s) are left empty; text cells that start
    like a formula get a leading ``'`` (https://owasp.org/www-community/attacks/CSV_Injection).

    Returns:
        UTF-8 bytes with a header row and one row per article, columns :data:`EXPORT_COLUMNS`.
    """
    out = pd.DataFrame({
        "published_at_utc": pd.to_datetime(frame["published_at"], utc=True).map(
            lambda t: t.isoformat()),
        "source": frame["source"].map(_defuse),
        "title": frame["title"].map(_defuse),
        "url": frame["url"].map(safe_url),
        "tickers": frame["tickers"].map(tickers_text),
        "label": frame["label"],
        "p_negative": frame["p_negative"], "p_neutral": frame["p_neutral"],
        "p_positive": frame["p_positive"], "sentiment_score": frame["sentiment_score"],
        "article_id": frame["article_id"],
    }, columns=EXPORT_COLUMNS)
    return out.to_csv(index=False).encode("utf-8")
