"""Each stage opens the database a bounded number of times (README: "Database opens").

Counted at the one place every open passes (``pipeline.storage.db._open``), on a real file.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline import run as stages
from pipeline.config import load_settings
from pipeline.storage import db as db_module
from tests.conftest import FIXTURE_FEEDS
from tests.integration.test_scoring_stage import AT, articles, store
from tests.integration.test_scoring_stage import classifier  # noqa: F401  (fixture)
from tests.unit.test_scoring import sentences


@pytest.fixture
def settings(tmp_path, monkeypatch):
    for name in ("TONEWATCH_SCORE_LANGUAGES", "TONEWATCH_SCORE_CHUNK_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(data_dir=tmp_path / "data", model_registry=tmp_path / "registry")


@pytest.fixture
def opens(monkeypatch):
    """A list that gets one entry (read_only flag) per database open."""
    seen: list[bool] = []
    real = db_module._open

    def counting(path, read_only, *args, **kwargs):
        seen.append(read_only)
        return real(path, read_only, *args, **kwargs)

    monkeypatch.setattr(db_module, "_open", counting)
    return seen


def test_ingest_opens_the_database_twice(settings, opens):
    sources = [str(FIXTURE_FEEDS / "acme_wire.xml"), str(FIXTURE_FEEDS / "central_bank.rss"),
               str(FIXTURE_FEEDS / "news_sitemap.xml")]  # two feeds and a not-a-feed
    result = stages.ingest(settings, at=AT, extra_sources=sources, use_config=False)
    assert result.status == "partial" and result.counts["articles_new"] > 0
    assert len(opens) == 2


def test_score_opens_once_plus_once_per_chunk(settings, classifier, opens):  # noqa: F811
    store(settings, articles(sentences(10)))
    opens.clear()
    result = stages.score(settings, at=AT, classifier=classifier, chunk_size=4)
    assert result.counts["scored"] == 10
    assert len(opens) == 1 + 3  # start (+ first chunk), then 3 chunks of 4, 4, 2
    opens.clear()
    assert stages.score(settings, at=AT, classifier=classifier).counts["scored"] == 0
    assert len(opens) == 1  # nothing pending: one open, start to finish


def test_detect_opens_once_and_a_backfill_twice(settings, classifier, opens):  # noqa: F811
    store(settings, articles(sentences(12)))
    stages.score(settings, at=AT, classifier=classifier)
    opens.clear()
    result = stages.detect(settings, at=AT)
    assert result.counts["evaluated"] > 0 and len(opens) == 1
    opens.clear()
    replay = stages.detect_backfill(settings, since=None, until=AT + timedelta(days=1))
    assert replay.counts["windows"] >= 1
    assert len(opens) == 2  # the window ends (days with articles), then the one pass


def test_notify_opens_twice_plus_once_per_message(settings, opens):
    from tests.integration.test_delivery import _seed_alert

    class Recorder:
        def __init__(self):
            self.messages = []

        def send(self, message):
            self.messages.append(message)

    _seed_alert(settings.db_path, ["console", "slack"])
    opens.clear()
    console, slack = Recorder(), Recorder()
    result = stages.notify(settings, at=AT, notifiers={"console": console, "slack": slack})
    assert result.counts == {"sent": 2, "failed": 0, "deferred": 0}
    assert len(console.messages) == len(slack.messages) == 1
    assert len(opens) == 2 + 2  # start and read the outbox; one per message; the result
