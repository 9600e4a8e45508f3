"""Which stretch of time a page shows by default: the last N days, or where the data is.

A dashboard period is ``[start, end)`` in UTC: ``end`` a whole hour, ``start`` the midnight UTC
``days`` days before it (None: all history). By default it is the last ``days`` days up to now.
When no UTC day in them holds ``minimum`` scored articles (the fewest the market alert rule
reads a share from, so a chart of them would be all *insufficient data*), the period moves back
to end just after the newest article of the newest day that does: the most recent data that can
be read. A demo database replayed from March, a feed that went quiet, a backfill of last year
all open on their data, and a note says so in one line. When no day anywhere holds ``minimum``
scored articles, the period stays at now if it holds any scored article, else ends just after
the newest scored day.

Articles whose date was inferred (their fetch time) or is out of range are not counted: an
undated item fetched today says nothing about today. Future dates are ignored.

This module is pure (no Streamlit, no database): :func:`choose_period` takes the per-day
coverage (:func:`dashboard.queries.day_coverage`) and the clock; :mod:`dashboard.ui` feeds it
for the pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: Columns :func:`choose_period` reads from its ``coverage`` frame.
COVERAGE_COLUMNS = ["day", "n_articles", "n_scored", "last_published"]


@dataclass(frozen=True)
class Period:
    """A period ``[start, end)`` a page shows, and why.

    Attributes:
        start: first instant (midnight UTC, tz-aware), or None for all history.
        end: instant after the last one shown (a whole UTC hour, tz-aware).
        days: the length asked for, days (None: all history).
        moved: True when the period is not the last ``days`` days up to now but was moved back
            to the most recent data.
        note: one line for the page saying what is shown and why, when ``moved``; else None.
    """

    start: pd.Timestamp | None
    end: pd.Timestamp
    days: int | None
    moved: bool = False
    note: str | None = None

    @property
    def last_instant(self) -> pd.Timestamp:
        """The last instant in the period (``end`` is exclusive), to the microsecond."""
        return self.end - pd.Timedelta(microseconds=1)

    @property
    def last_day(self) -> pd.Timestamp:
        """Midnight UTC of the last day the period touches."""
        return self.last_instant.floor("D")


def period_start(end: pd.Timestamp, days: int | None) -> pd.Timestamp | None:
    """Midnight UTC ``days`` days before ``end`` (None for all history)."""
    return None if days is None else (end - pd.Timedelta(days=days)).floor("D")


def choose_period(coverage: pd.DataFrame, days: int | None, now: pd.Timestamp,
                  minimum: int, noun: str = "scored articles") -> Period:
    """Pick the period a page shows by default: the last ``days`` days, or the most recent data.

    Args:
        coverage: one row per UTC day holding dated articles (inferred and out-of-range dates
            left out), any order: ``day`` (midnight UTC, tz-aware), ``n_articles``,
            ``n_scored`` (articles scored by the model in force) and ``last_published`` (the
            day's newest ``published_at``, tz-aware UTC). Rows after ``now`` are ignored.
        days: length of the period in days (> 0), or None for all history.
        now: the current instant, tz-aware.
        minimum: fewest scored articles a day needs for its negative share to be read (the
            market rule's ``min_articles``); 1 or less: any scored article will do.
        noun: what ``n_scored`` counts, plural, for the note (e.g. "scored articles on one
            company" when ``n_scored`` is the most any one company has that day).

    Returns:
        The last ``days`` days up to ``now`` (``end`` = ``now`` rounded up to the hour) when a
        day in them holds ``minimum`` scored articles, or when no day anywhere does and they
        hold a scored article. Otherwise, with ``moved`` set and a note, the ``days`` days up
        to the hour after the newest article of the newest day holding ``minimum`` scored
        articles (or, when none does, of the newest day with a scored article).
        ``days=None`` (all history) always ends at now and is never moved.

    Raises:
        ValueError: ``days`` is not positive, or ``now`` is naive.
    """
    if days is not None and days <= 0:
        raise ValueError(f"days must be positive or None, not {days!r}")
    if now.tzinfo is None:
        raise ValueError(f"now must be tz-aware, not {now!r}")
    end = now.tz_convert("UTC").ceil("h")
    nominal = Period(period_start(end, days), end, days)
    if days is None or coverage.empty:
        return nominal
    cov = coverage[pd.to_datetime(coverage["day"], utc=True) <= now]
    cov = cov.assign(day=pd.to_datetime(cov["day"], utc=True),
                     last_published=pd.to_datetime(cov["last_published"], utc=True))
    scored = cov[cov["n_scored"] > 0].sort_values("day", ascending=False)
    if scored.empty:
        return nominal
    readable = scored[scored["n_scored"] >= max(int(minimum), 1)]
    if not readable.empty:
        if readable["day"].iloc[0] >= nominal.start:
            return nominal
        # Up to the newest day that can be read: the chart's last day is not a thin one.
        return _moved(cov, nominal, _end_after(readable["last_published"].iloc[0], end),
                      minimum, noun, readable=True)
    if scored["day"].iloc[0] >= nominal.start:
        return nominal  # nothing is readable anywhere: the last days are as good as any
    return _moved(cov, nominal, _end_after(scored["last_published"].iloc[0], end), minimum,
                  noun, readable=False)


def _end_after(last_published: pd.Timestamp, ceiling: pd.Timestamp) -> pd.Timestamp:
    """The whole hour after ``last_published`` (so it is shown), at most ``ceiling``."""
    return min(last_published.floor("h") + pd.Timedelta(hours=1), ceiling)


def _moved(coverage: pd.DataFrame, nominal: Period, end: pd.Timestamp, minimum: int,
           noun: str, *, readable: bool) -> Period:
    """The period ending at ``end``, with the note saying why it is not the last days."""
    start = period_start(end, nominal.days)
    recent = coverage[coverage["day"] >= nominal.start]
    n_articles, n_scored = int(recent["n_articles"].sum()), int(recent["n_scored"].sum())
    last_n = f"the last {_days_text(nominal.days)}"
    if n_articles == 0:
        why = f"no dated article in {last_n}"
    elif n_scored == 0:
        why = f"{_count(n_articles, 'article')} in {last_n}, none scored yet"
    else:
        why = f"no day in {last_n} with the {minimum} {noun} needed to read a share"
    upto = (f"up to the latest day with enough {noun} to read" if readable
            else f"up to the latest {noun}")
    shown = Period(start, end, nominal.days, moved=True)
    note = f"Showing {start:%Y-%m-%d} – {shown.last_day:%Y-%m-%d} (UTC), {upto}: {why}."
    return Period(start, end, nominal.days, moved=True, note=note)


def _days_text(days: int | None) -> str:
    return "day" if days == 1 else f"{days} days"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
