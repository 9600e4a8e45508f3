"""pipeline.domain: the stage summary that becomes an Airflow XCom."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.domain import StageResult, Window, as_utc, parse_instant
from pipeline.errors import ConfigError


def test_as_dict_window_bounds_are_utc_with_offset_and_json_ready():
    cet = timezone(timedelta(hours=1))
    result = StageResult("detect", counts={"firing": 2},
                         window_start=datetime(2026, 3, 5, 6, 30),            # naive: stored UTC
                         window_end=datetime(2026, 3, 6, 7, 30, tzinfo=cet))  # converted
    out = json.loads(json.dumps(result.as_dict()))
    assert out["window_start"] == "2026-03-05T06:30:00+00:00"
    assert out["window_end"] == "2026-03-06T06:30:00+00:00"
    assert out["counts"] == {"firing": 2} and out["status"] == "ok"
    assert StageResult("score").as_dict()["window_start"] is None
    assert datetime.fromisoformat(out["window_end"]).tzinfo == UTC


# --- the one reading of an instant, and Window -------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-03-06", datetime(2026, 3, 6, tzinfo=UTC)),
    ("2026-03-06T06:30", datetime(2026, 3, 6, 6, 30, tzinfo=UTC)),          # zone-less = UTC
    ("2026-03-06T06:30Z", datetime(2026, 3, 6, 6, 30, tzinfo=UTC)),
    (" 2026-03-06T08:30:00+02:00 ", datetime(2026, 3, 6, 6, 30, tzinfo=UTC)),
    (datetime(2026, 3, 6, 6, 30), datetime(2026, 3, 6, 6, 30, tzinfo=UTC)),  # naive = UTC
    ("", None), (None, None),
])
def test_parse_instant_reads_iso_8601_as_utc(raw, expected):
    got = parse_instant(raw, "--at")
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("raw", "message"), [
    ("yesterday-ish", "--since 'yesterday-ish' is not an ISO-8601 date or date-time"),
    ("0001-01-01", "--since '0001-01-01' is out of range (years 1970 to 2199)"),
    ("2200-01-01", "--since '2200-01-01' is out of range (years 1970 to 2199)"),
])
def test_parse_instant_names_the_option_and_value(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_instant(raw, "--since")
    assert str(info.value) == message


def test_window_is_half_open_utc_and_built_from_its_end():
    end = datetime(2026, 3, 6, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    window = Window.ending_at(end, timedelta(days=1))
    assert window.start == datetime(2026, 3, 5, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 6, tzinfo=UTC) and window.end.tzinfo == UTC
    assert window.length == timedelta(days=1)
    assert window.start in window and window.end not in window
    assert window.shifted(-timedelta(days=1)) == Window(datetime(2026, 3, 4, tzinfo=UTC),
                                                        datetime(2026, 3, 5, tzinfo=UTC))
    assert str(window) == "2026-03-05 00:00..2026-03-06 00:00 UTC"
    with pytest.raises(ConfigError, match="ends .* before it starts"):
        Window(window.end, window.start)


def test_as_utc_gives_plain_datetimes_for_subclasses():
    class Stamp(datetime):  # as pendulum.DateTime, which Airflow passes to tasks
        pass

    got = as_utc(Stamp(2026, 3, 6, 8, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))))
    assert type(got) is datetime and got == datetime(2026, 3, 6, 6, 30, 0, 5, tzinfo=UTC)


def test_an_instant_out_of_range_once_in_utc_names_the_option():
    with pytest.raises(ConfigError) as info:
        parse_instant("1970-01-01T00:00+05:00", "--at")
    assert str(info.value) == "--at '1970-01-01T00:00+05:00' is out of range (years 1970 to 2199)"
