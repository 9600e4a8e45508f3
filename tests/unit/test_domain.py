"""pipeline.domain: the stage summary that becomes an Airflow XCom."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from pipeline.domain import StageResult


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
