"""The default period rule: the last days when they can be read, else the most recent data."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.period import Period, choose_period

NOW = pd.Timestamp("2026-12-07 17:53", tz="UTC")
MINIMUM = 10


def coverage(*days: tuple[str, int, int, str]) -> pd.DataFrame:
    """Rows ``(day, n_articles, n_scored, time of the day's newest article)``."""
    return pd.DataFrame({
        "day": [pd.Timestamp(d, tz="UTC") for d, *_ in days],
        "n_articles": [n for _, n, _, _ in days],
        "n_scored": [s for _, _, s, _ in days],
        "last_published": [pd.Timestamp(f"{d} {t}", tz="UTC") for d, _, _, t in days],
    })


#: The demo's shape: a January-March stretch with two readable days (February 20 and the surge
#: on March 5), a few thin days after them, and two thin days in September (a live feed's
#: leftovers).
DEMO = coverage(
    ("2026-01-05", 2, 2, "14:00"), ("2026-02-20", 12, 12, "10:00"), ("2026-02-26", 3, 3, "17:30"),
    ("2026-03-04", 6, 6, "22:30"), ("2026-03-05", 31, 30, "19:10"),
    ("2026-03-06", 4, 4, "08:00"), ("2026-03-08", 3, 3, "23:58"),
    ("2026-09-25", 8, 8, "23:30"), ("2026-09-26", 2, 2, "00:00"),
)


def test_last_days_kept_when_a_day_in_them_can_be_read():
    live = coverage(("2026-12-01", 40, 40, "23:00"), ("2026-12-07", 3, 3, "17:00"))
    period = choose_period(live, 7, NOW, MINIMUM)
    assert period == Period(pd.Timestamp("2026-11-30", tz="UTC"),
                            pd.Timestamp("2026-12-07 18:00", tz="UTC"), 7)
    assert not period.moved and period.note is None


def test_thin_recent_days_move_the_period_to_the_newest_readable_day():
    period = choose_period(DEMO, 90, NOW, MINIMUM)
    # September's two thin days hold no readable day; March 5 is the newest that does, and the
    # period ends at the hour after its newest article (the thin days after it are left out:
    # the chart's last day can be read).
    assert period.end == pd.Timestamp("2026-03-05 20:00", tz="UTC")
    assert period.start == pd.Timestamp("2025-12-05", tz="UTC")
    assert period.moved
    assert period.note == (
        "Showing 2025-12-05 – 2026-03-05 (UTC), up to the latest day with enough scored "
        "articles to read: no day in the last 90 days with the 10 scored articles needed to "
        "read a share.")


def test_a_short_window_ends_on_the_readable_day_too():
    period = choose_period(DEMO, 1, NOW, MINIMUM)
    assert period.end == pd.Timestamp("2026-03-05 20:00", tz="UTC")
    assert period.start == pd.Timestamp("2026-03-04", tz="UTC")
    assert period.note.endswith("no dated article in the last day.")


def test_nothing_readable_anywhere_keeps_the_last_days_when_they_hold_scored_articles():
    thin = coverage(("2026-03-05", 5, 5, "12:00"), ("2026-12-06", 2, 1, "09:15"))
    assert choose_period(thin, 7, NOW, MINIMUM) == Period(
        pd.Timestamp("2026-11-30", tz="UTC"), pd.Timestamp("2026-12-07 18:00", tz="UTC"), 7)


def test_nothing_readable_and_nothing_recent_ends_at_the_newest_scored_day():
    thin = coverage(("2024-03-04", 1, 1, "09:00"), ("2024-03-06", 4, 2, "11:00"),
                    ("2024-03-09", 1, 0, "10:00"))
    period = choose_period(thin, 30, NOW, MINIMUM)
    # March 9 has no scored article: the period ends after March 6's newest (unscored ones
    # that day included).
    assert period.end == pd.Timestamp("2024-03-06 12:00", tz="UTC")
    assert period.start == pd.Timestamp("2024-02-05", tz="UTC")
    assert period.note == ("Showing 2024-02-05 – 2024-03-06 (UTC), up to the latest scored "
                           "articles: no dated article in the last 30 days.")


def test_recent_articles_not_yet_scored_are_said_so():
    waiting = coverage(("2026-03-05", 30, 30, "19:10"), ("2026-12-07", 12, 0, "17:00"))
    period = choose_period(waiting, 7, NOW, MINIMUM)
    assert period.end == pd.Timestamp("2026-03-05 20:00", tz="UTC")
    assert period.note.endswith("12 articles in the last 7 days, none scored yet.")


def test_all_history_and_empty_coverage_are_never_moved():
    assert choose_period(DEMO, None, NOW, MINIMUM) == Period(
        None, pd.Timestamp("2026-12-07 18:00", tz="UTC"), None)
    assert not choose_period(coverage(), 30, NOW, MINIMUM).moved


def test_future_days_are_ignored_and_the_end_never_passes_now():
    future = coverage(("2026-03-05", 30, 30, "19:10"), ("2027-01-01", 50, 50, "12:00"))
    period = choose_period(future, 7, NOW, MINIMUM)
    assert period.end == pd.Timestamp("2026-03-05 20:00", tz="UTC")
    same_hour = coverage(("2026-12-07", 30, 30, "17:53"))
    assert choose_period(same_hour, 7, NOW, MINIMUM).end == pd.Timestamp(
        "2026-12-07 18:00", tz="UTC")


def test_a_minimum_of_one_or_less_reads_any_scored_day():
    one = coverage(("2026-03-05", 1, 1, "19:10"))
    assert choose_period(one, 7, NOW, 0).end == pd.Timestamp("2026-03-05 20:00", tz="UTC")


@pytest.mark.parametrize("days", [0, -3])
def test_a_period_must_have_a_positive_length(days):
    with pytest.raises(ValueError, match="days must be positive"):
        choose_period(DEMO, days, NOW, MINIMUM)


def test_now_must_carry_a_zone():
    with pytest.raises(ValueError, match="now must be tz-aware"):
        choose_period(DEMO, 7, pd.Timestamp("2026-12-07 17:53"), MINIMUM)


def test_the_note_names_what_the_view_counts():
    per_company = coverage(("2026-03-05", 12, 7, "19:10"), ("2026-09-25", 3, 1, "21:04"))
    period = choose_period(per_company, 7, NOW, 3, "scored articles on one company")
    assert period.end == pd.Timestamp("2026-03-05 20:00", tz="UTC")
    assert period.note == (
        "Showing 2026-02-26 – 2026-03-05 (UTC), up to the latest day with enough scored "
        "articles on one company to read: no dated article in the last 7 days.")


def _copy_article(db, article_id: str, day: str, n: int) -> None:
    """Store ``n`` copies of a seeded article (its scores and company links too) at noon UTC
    on ``day``."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for table, when in (("articles", f", TIMESTAMPTZ '{day} 12:00+00' AS published_at"),
                            ("scores", ""), ("article_entities", ""), ("entity_scores", "")):
            con.execute(f"INSERT INTO {table} SELECT x.* REPLACE ("
                        f"'{day}-' || i || '-' || x.article_id AS article_id{when})"
                        f" FROM {table} x, range({n}) t(i) WHERE x.article_id = ?", [article_id])
    finally:
        con.close()


@pytest.mark.parametrize("days", [1, 7, 30, 90, 365, None])
def test_data_period_reads_a_month_at_a_time_and_decides_as_on_all_history(seeded_db, days):
    """dashboard.ui.data_period reads the coverage in steps; its answer is choose_period's on
    the whole history (readable days: a year ago and two years ago; a thin day last week)."""
    from dashboard import queries, ui

    now = pd.Timestamp.now(tz="UTC")
    _copy_article(seeded_db, "a2", f"{now - pd.Timedelta(days=730):%Y-%m-%d}", 12)
    _copy_article(seeded_db, "a2", f"{now - pd.Timedelta(days=365):%Y-%m-%d}", 12)
    _copy_article(seeded_db, "a2", f"{now - pd.Timedelta(days=7):%Y-%m-%d}", 2)
    db = str(seeded_db)
    for coverage, minimum in ((queries.day_coverage, 10), (queries.link_coverage, 3)):
        want = choose_period(coverage(db, None), days, pd.Timestamp.now(tz="UTC"), minimum)
        got = ui.data_period(db, days, coverage=coverage, minimum=minimum)
        assert got == want, coverage.__name__
        assert got.moved == (days is not None and days < 365)
