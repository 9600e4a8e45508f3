"""The alerting stage's pure pieces: life cycle book, policy chain steps, message lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from pipeline.alerting.lifecycle import AlertBook, AlertRecord
from pipeline.alerting.messages import explanation, surge_line
from pipeline.alerting.policy import identify, inhibit, life_cycle, notifications, silence
from pipeline.alerting.silences import Matcher, from_stored, in_force
from pipeline.detection.decide import Decision
from pipeline.detection.rules import AlertRule
from pipeline.domain import Window
from pipeline.storage.alerts import alert_id_for, fingerprint

AT = datetime(2026, 3, 6, tzinfo=UTC)
DAY = timedelta(days=1)
MARKET = AlertRule(name="market", scope="market", severity="critical")
TICKER = AlertRule(name="ticker", scope="ticker", for_windows=2, cooldown="6h")


def decision(rule, entity, status="firing", **kw):
    values = dict(n_stories=10, n_negative=8, baseline_stories=100, baseline_negative=10,
                  observed=0.8, expected=0.1, p_value=0.001, q_value=0.002)
    return Decision(rule.name, rule.scope, entity, status, **(values | kw))


def fp(rule, entity):
    return fingerprint({"rule": rule.name, "scope": rule.scope, "entity": entity})


# --- life cycle ------------------------------------------------------------------------------


def test_book_streaks_resolutions_and_kept_resolution():
    acme = fp(TICKER, "ACME")
    old = AlertRecord("old", acme, AT - DAY, "firing", 2)
    gone = AlertRecord("gone", acme, AT, "resolved", 1, AT + DAY)
    book = AlertBook([old, gone])
    assert book.streak_before(acme, AT - DAY) == 2 and book.streak_before(acme, AT) == 0
    # Re-evaluating an alert that a later window resolved keeps the resolution.
    row = book.record({"alert_id": "gone", "fingerprint": acme, "window_end": AT,
                       "state": "firing", "resolved_at": None}, streak=3)
    assert (row["state"], row["resolved_at"]) == ("resolved", AT + DAY)
    # A new surge, then a calm window: both open alerts ending by then resolve.
    book.record({"alert_id": "new", "fingerprint": acme, "window_end": AT + DAY,
                 "state": "firing", "resolved_at": None}, streak=1)
    assert book.streak_before(acme, AT + DAY) == 1
    assert sorted(book.resolve([acme], AT + 2 * DAY)) == ["new", "old"]
    assert book.written["new"]["state"] == "resolved"  # a row of this pass: written resolved
    assert book.resolved == {"old": AT + 2 * DAY}  # an earlier row: updated in place
    assert book.resolve([acme], AT + 3 * DAY) == []


def test_book_from_storage_frame():
    frame = pd.DataFrame({"alert_id": ["a"], "fingerprint": ["f"],
                          "window_end": [pd.Timestamp(AT)], "state": ["pending"], "streak": [1],
                          "resolved_at": [pd.NaT]})
    book = AlertBook.from_frame(frame)
    assert book.streak_before("f", AT) == 1


# --- policy chain ----------------------------------------------------------------------------


def chain(book=None, silences=()):
    window = MARKET.window_at(AT)
    surges, calm = identify(MARKET, window, [decision(MARKET, "market")], {})
    found, quiet = identify(TICKER, TICKER.window_at(AT), [
        decision(TICKER, "ACME"), decision(TICKER, "BRLX", "calm"),
        decision(TICKER, "CRWN", "insufficient")], {})
    surges += found
    life_cycle(surges, book or AlertBook())
    silence(surges, list(silences))
    inhibit(surges)
    return surges, calm + quiet


def test_identify_fingerprints_once_and_sorts_calm_from_surges():
    surges, calm = chain()
    assert [s.decision.entity for s in surges] == ["market", "ACME"]
    assert calm == [fp(TICKER, "BRLX")]
    acme = surges[1]
    assert acme.fingerprint == fp(TICKER, "ACME")
    assert acme.alert_id == alert_id_for(acme.fingerprint, AT - DAY)


def test_source_entities_show_their_feed_name():
    rule = AlertRule(name="src", scope="source")
    (surge,), _ = identify(rule, rule.window_at(AT), [decision(rule, "wire-1")],
                           {"wire-1": "Example Wire"})
    assert surge.entity_name == "Example Wire" and surge.labels["entity"] == "wire-1"


def test_pending_until_it_holds_and_only_firing_market_inhibits():
    surges, _ = chain()
    market, acme = surges
    assert (market.state, acme.state, acme.streak) == ("firing", "pending", 1)
    assert acme.inhibited_by == "market" and market.inhibited_by is None
    book = AlertBook([AlertRecord("x", fp(TICKER, "ACME"), AT - DAY, "pending", 1)])
    assert chain(book)[0][1].state == "firing"
    # A market surge that is itself pending mutes nothing.
    pending_market = MARKET.model_copy(update={"for_windows": 2})
    surges, _ = identify(pending_market, pending_market.window_at(AT),
                         [decision(pending_market, "market")], {})
    surges += identify(TICKER, TICKER.window_at(AT), [decision(TICKER, "ACME")], {})[0]
    life_cycle(surges, AlertBook())
    inhibit(surges)
    assert [s.inhibited_by for s in surges] == [None, None]


def test_silence_takes_the_first_matching_active_silence():
    stored = [{"silence_id": "s1", "starts_at": AT - DAY, "ends_at": AT + DAY, "expired_at": None,
               "matchers": [{"label": "scope", "op": "=", "value": "market"}]},
              {"silence_id": "s2", "starts_at": AT - DAY, "ends_at": AT + DAY,
               "expired_at": AT - timedelta(hours=1),
               "matchers": [{"label": "entity", "op": "=", "value": "ACME"}]}]
    silences = from_stored(stored)
    assert silences[0]["matchers"] == [Matcher("scope", "=", "market")]
    active = in_force(silences, AT)
    assert [s["silence_id"] for s in active] == ["s1"]
    market, acme = chain(silences=active)[0]
    assert market.silenced_by == "s1" and acme.silenced_by is None
    assert in_force(silences, AT - 2 * DAY) == [] and in_force(silences, AT + DAY) == []


def test_notifications_skip_pending_muted_and_cooling_down():
    surges, _ = chain()
    market = surges[0]
    queue = notifications(surges, receivers=["console", "email"], at=AT, last_notified={})
    assert [(r["alert_id"], r["receiver"]) for r in queue] == [
        (market.alert_id, "console"), (market.alert_id, "email")]  # ACME: pending and muted
    recent = {(market.fingerprint, "console"): AT - timedelta(hours=23)}
    queue = notifications(surges, receivers=["console", "email"], at=AT, last_notified=recent)
    assert [r["receiver"] for r in queue] == ["email"]  # console heard it within the 1d cooldown
    market.silenced_by = "s1"
    assert notifications(surges, receivers=["console"], at=AT, last_notified={}) == []


# --- messages --------------------------------------------------------------------------------


def test_surge_line_per_metric_and_suffix():
    window = Window(AT - DAY, AT)
    line = surge_line(MARKET, decision(MARKET, "market"), window, state="firing",
                      entity_name="market", streak=1, silenced_by=None, inhibited_by=None)
    assert line == ("FIRING market market=market window 2026-03-05 00:00..2026-03-06 00:00 UTC: "
                    "8/10 negative stories (80% vs 10% expected, q=0.002)")
    count = MARKET.model_copy(update={"metric": "negative_count"})
    assert "(8 vs 0.1 expected per window, q=0.002)" in surge_line(
        count, decision(count, "market"), window, state="firing", entity_name="market",
        streak=1, silenced_by=None, inhibited_by="market")
    tone = TICKER.model_copy(update={"metric": "mean_score"})
    pending = surge_line(tone, decision(tone, "ACME", observed=-0.4, expected=0.3), window,
                         state="pending", entity_name="ACME", streak=1, silenced_by="s1",
                         inhibited_by=None)
    assert "(mean score -0.40 vs +0.30 expected, q=0.002) [pending: 1 of 2 windows]" in pending
    muted = surge_line(MARKET, decision(MARKET, "market"), window, state="firing",
                       entity_name="market", streak=1, silenced_by="s1", inhibited_by="market")
    assert muted.endswith("[silenced by s1]")


def test_explanation_keys_in_stored_order():
    keys = list(explanation(TICKER, entity_name="ACME", model_version="v1", streak=2,
                            silenced_by=None, inhibited_by=None, alert_id="abc",
                            dashboard_url="http://x/"))
    assert keys == ["entity_name", "baseline_days", "model_version", "metric", "seasonality",
                    "group_by", "streak", "for_windows", "silenced_by", "inhibited_by",
                    "n_sources", "dashboard_url", "headlines"]
