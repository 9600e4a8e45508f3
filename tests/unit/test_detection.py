"""pipeline.detection.spikes and rules: the statistics, the rule file and the pure evaluation."""

from __future__ import annotations

import math
import numpy as np
import pandas as pd
import pytest

from pipeline.detection.decide import evaluate_rule
from pipeline.detection.rules import AlertRule
from pipeline.detection.spikes import (
    PRIOR_STRENGTH,
    baseline_share,
    benjamini_hochberg,
    binomial_surge_pvalue,
)

# --- spikes -------------------------------------------------------------------------------


def test_binomial_all_negative_is_p0_to_the_n():
    assert binomial_surge_pvalue(5, 5, 0.2) == pytest.approx(0.2**5, rel=1e-12)


def test_binomial_hand_computed_tail():
    # P(X >= 2), X ~ Bin(3, 0.5) = (3 + 1) / 8.
    assert binomial_surge_pvalue(2, 3, 0.5) == pytest.approx(0.5)
    # P(X >= 2), X ~ Bin(4, 0.1) = 1 - 0.9^4 - 4*0.1*0.9^3.
    assert binomial_surge_pvalue(2, 4, 0.1) == pytest.approx(1 - 0.9**4 - 4 * 0.1 * 0.9**3)


def test_binomial_edges():
    assert binomial_surge_pvalue(0, 10, 0.3) == pytest.approx(1.0)
    assert binomial_surge_pvalue(0, 0, 0.3) == 1.0


def test_baseline_share_shrinks_thin_history_towards_reference():
    # Three calm stories do not make the expected share zero.
    thin = baseline_share(0, 3, reference=0.2)
    assert thin == pytest.approx((0 + PRIOR_STRENGTH * 0.2) / (3 + PRIOR_STRENGTH))
    assert 0 < thin < 0.2
    # A long history dominates the prior.
    assert baseline_share(300, 1000, reference=0.1) == pytest.approx(301 / 1010)
    # No history at all: the reference itself.
    assert baseline_share(0, 0, reference=0.25) == pytest.approx(0.25)


def test_baseline_share_clips_reference():
    assert baseline_share(0, 0, reference=0.0) == pytest.approx(0.01)
    assert baseline_share(0, 0, reference=1.0) == pytest.approx(0.99)


def test_benjamini_hochberg_hand_computed():
    # sorted 0.01, 0.03, 0.04, 0.20 (m=4): raw p*m/rank = 0.04, 0.06, 0.0533, 0.20;
    # cumulative minimum from the largest rank down gives 0.04, 0.0533, 0.0533, 0.20.
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.20])


def test_benjamini_hochberg_empty_and_single():
    assert benjamini_hochberg([]).size == 0
    np.testing.assert_allclose(benjamini_hochberg([0.03]), [0.03])


# --- evaluate_rule ------------------------------------------------------------------------


def counts(rows):
    return pd.DataFrame(rows, columns=["entity", "n_stories", "n_negative"])


def rule(**kw) -> AlertRule:
    base = {"name": "ticker_negative_surge", "scope": "ticker", "min_articles": 5,
            "min_negative": 3, "min_lift": 1.5, "significance": 0.01}
    return AlertRule(**(base | kw))


def by_entity(decisions):
    return {d.entity: d for d in decisions}


def test_clear_surge_fires():
    decisions = evaluate_rule(rule(), counts([("ACME", 10, 8)]), counts([("ACME", 100, 10)]),
                              market_share=0.1)
    (d,) = decisions
    assert d.status == "firing"
    assert d.expected == pytest.approx((10 + PRIOR_STRENGTH * 0.1) / (100 + PRIOR_STRENGTH))
    assert d.observed == pytest.approx(0.8)
    assert d.p_value == pytest.approx(binomial_surge_pvalue(8, 10, d.expected))
    assert d.q_value == pytest.approx(d.p_value)  # a family of one
    assert (d.n_stories, d.n_negative, d.baseline_stories, d.baseline_negative) == (10, 8, 100, 10)
    assert (d.rule, d.scope) == ("ticker_negative_surge", "ticker")


def test_too_few_stories_is_insufficient_not_calm():
    (d,) = evaluate_rule(rule(), counts([("ACME", 4, 4)]), counts([("ACME", 100, 10)]),
                         market_share=0.1)
    assert d.status == "insufficient"
    assert d.p_value is None and d.q_value is None
    assert d.observed == pytest.approx(1.0)


def test_calm_window_is_calm():
    (d,) = evaluate_rule(rule(), counts([("ACME", 20, 2)]), counts([("ACME", 100, 10)]),
                         market_share=0.1)
    assert d.status == "calm"
    assert d.p_value > 0.1


def test_min_negative_gates_firing():
    window, baseline = counts([("ACME", 6, 5)]), counts([("ACME", 1000, 10)])
    fired = evaluate_rule(rule(min_negative=5), window, baseline, market_share=0.01)
    held = evaluate_rule(rule(min_negative=6), window, baseline, market_share=0.01)
    assert fired[0].status == "firing"
    assert held[0].status == "calm"
    assert held[0].q_value <= 0.01  # significant, yet held back by the count


def test_min_lift_gates_firing():
    # 25% negative against a 20% baseline over many stories: significant, but a lift of 1.25.
    window, baseline = counts([("MKT", 4000, 1000)]), counts([("MKT", 100000, 20000)])
    (d,) = evaluate_rule(rule(scope="market"), window, baseline, market_share=0.2)
    assert d.q_value < 1e-6
    assert d.observed / d.expected == pytest.approx(1.25, rel=1e-3)
    assert d.status == "calm"
    (d2,) = evaluate_rule(rule(scope="market", min_lift=1.2), window, baseline, market_share=0.2)
    assert d2.status == "firing"


def test_benjamini_hochberg_across_entities():
    # Alone, 5 negatives of 10 against a 10% baseline fires (p ~ 0.0016) ...
    baseline_rows = [(f"T{i:02d}", 100, 10) for i in range(20)]
    alone = evaluate_rule(rule(), counts([("T00", 10, 5)]), counts(baseline_rows),
                          market_share=0.1)
    assert alone[0].status == "firing"
    p = alone[0].p_value
    assert 0.001 < p < 0.01
    # ... but tested together with 19 calm entities its q-value is p * 20 > 0.01.
    window_rows = [("T00", 10, 5)] + [(f"T{i:02d}", 10, 1) for i in range(1, 20)]
    decisions = by_entity(evaluate_rule(rule(), counts(window_rows), counts(baseline_rows),
                                        market_share=0.1))
    assert decisions["T00"].p_value == pytest.approx(p)
    assert decisions["T00"].q_value == pytest.approx(p * 20)
    assert all(d.status == "calm" for d in decisions.values())


def test_many_moderate_pvalues_do_not_all_fire():
    # Ten entities each with p ~ 0.013 at a 5% level plus ten calm ones: the family's
    # q-values are 0.013 * 20 / 10 = 0.026 for the surges, so they fire at 5% but
    # none would at 2%.
    baseline_rows = [(f"T{i:02d}", 100, 10) for i in range(20)]
    window_rows = ([(f"T{i:02d}", 10, 4) for i in range(10)]
                   + [(f"T{i:02d}", 10, 0) for i in range(10, 20)])
    strict = evaluate_rule(rule(significance=0.02), counts(window_rows), counts(baseline_rows),
                           market_share=0.1)
    assert all(d.p_value < 0.02 for d in strict[:10])  # each alone would pass 2%
    assert not any(d.status == "firing" for d in strict)
    loose = evaluate_rule(rule(significance=0.05), counts(window_rows), counts(baseline_rows),
                          market_share=0.1)
    assert [d.status for d in loose[:10]] == ["firing"] * 10
    assert all(d.status == "calm" for d in loose[10:])


def test_insufficient_entities_are_not_in_the_bh_family():
    baseline_rows = [("A", 100, 10), ("B", 100, 10)]
    window_rows = [("A", 10, 5)] + [(f"thin{i}", 2, 2) for i in range(30)]
    decisions = by_entity(evaluate_rule(rule(), counts(window_rows), counts(baseline_rows),
                                        market_share=0.1))
    assert decisions["A"].q_value == pytest.approx(decisions["A"].p_value)
    assert decisions["A"].status == "firing"
    assert sum(d.status == "insufficient" for d in decisions.values()) == 30


def test_entity_without_baseline_uses_market_share():
    (d,) = evaluate_rule(rule(), counts([("NEW", 10, 1)]), counts([]), market_share=0.15)
    assert (d.baseline_stories, d.baseline_negative) == (0, 0)
    assert d.expected == pytest.approx(0.15)


def test_empty_window_gives_no_decisions():
    assert evaluate_rule(rule(), counts([]), counts([("A", 10, 1)]), market_share=0.1) == []


def test_pvalues_are_probabilities():
    decisions = evaluate_rule(rule(), counts([("A", 50, 0), ("B", 50, 50)]),
                              counts([]), market_share=0.3)
    for d in decisions:
        assert 0.0 <= d.p_value <= 1.0 and 0.0 <= d.q_value <= 1.0
    assert math.isclose(by_entity(decisions)["A"].p_value, 1.0)


def test_count_test_poisson_and_negative_binomial_by_hand():
    from scipy import stats

    from pipeline.detection.spikes import count_baseline, count_surge_pvalue

    # Poisson when the baseline is not over-dispersed: P(X >= 8 | mean 4).
    assert count_surge_pvalue(8, 4.0, 4.0) == pytest.approx(1 - stats.poisson.cdf(7, 4.0))
    # Over-dispersed: mean 4, variance 12 → r = 16 / 8 = 2, p = 2 / 6.
    assert count_surge_pvalue(8, 4.0, 12.0) == pytest.approx(1 - stats.nbinom.cdf(7, 2, 1 / 3))
    assert count_surge_pvalue(8, 4.0, 12.0) > count_surge_pvalue(8, 4.0, 4.0)  # wider → less surprising
    assert count_surge_pvalue(0, 1.0, 1.0) == 1.0
    mean, var = count_baseline([0, 0, 1, 0, 3])
    assert mean == pytest.approx((4 + 0.5) / 6) and var == pytest.approx(1.7)
    assert count_baseline([0, 0, 0])[0] > 0  # the prior keeps an all-zero history positive


def test_negative_count_rule_fires_on_a_volume_surge_the_share_test_misses():
    from pipeline.detection.decide import evaluate_rule
    from pipeline.detection.rules import AlertRule

    window = pd.DataFrame({"entity": ["ACME", "BRLX"], "n_stories": [40, 10], "n_negative": [10, 3]})
    baseline = pd.DataFrame({"entity": ["ACME", "BRLX"], "n_stories": [280, 280], "n_negative": [70, 84]})
    history = {"ACME": [2, 3, 1, 2, 3, 2, 2] * 4, "BRLX": [3, 2, 4, 3, 2, 3, 4] * 4}
    count_rule = AlertRule(name="c", scope="ticker", metric="negative_count", min_articles=5)
    share_rule = AlertRule(name="s", scope="ticker", min_articles=5)
    by_count = {d.entity: d for d in evaluate_rule(count_rule, window, baseline,
                                                   market_share=0.25, history=history)}
    by_share = {d.entity: d for d in evaluate_rule(share_rule, window, baseline, market_share=0.25)}
    # ACME: ten negative stories against about two a day is a surge in volume, while its share
    # (10/40 = 25 %) is its usual one.
    assert by_count["ACME"].status == "firing" and by_share["ACME"].status == "calm"
    assert by_count["ACME"].observed == 10 and by_count["ACME"].expected == pytest.approx(60.5 / 29)
    assert by_count["BRLX"].status == "calm"


def test_seasonal_count_moments_profile_dispersion_and_past_surges():
    from pipeline.detection.spikes import seasonal_count_moments

    rng = np.random.default_rng(3)
    slot = np.arange(672) % 168
    volume = np.where(slot % 24 < 12, 20.0, 4.0)            # busy half-days, quiet nights
    calm = rng.poisson(np.tile(0.1 * volume, (2, 1)))
    mean, var = seasonal_count_moments(calm, volume, slot, 5)  # a busy slot: 0.1 * 20
    assert mean == pytest.approx([2.0, 2.0], rel=0.15) and np.all(var >= mean)
    night, _ = seasonal_count_moments(calm, volume, slot, 15)
    assert night == pytest.approx([0.4, 0.4], rel=0.2)
    # A past surge (30 negatives in one window) barely moves the expectation once left out.
    surged = calm.copy()
    surged[:, 100] = 30
    after, after_var = seasonal_count_moments(surged, volume, slot, 5)
    assert after == pytest.approx(mean, rel=0.05) and after_var == pytest.approx(var, rel=0.25)


# --- many windows at once -------------------------------------------------------------------


def test_rule_window_and_plan_share_intervals_between_windows():
    from datetime import UTC, datetime, timedelta

    from pipeline.detection.windows import baseline_intervals, plan_rule
    from pipeline.domain import Window

    at = datetime(2026, 3, 6, tzinfo=UTC)
    daily = AlertRule(name="d", scope="market", baseline="3d")
    assert daily.window_at(at) == Window(at - timedelta(days=1), at)
    plan = plan_rule(daily, [at, at + timedelta(days=1)])
    assert len(plan.intervals) == 5  # two windows and their 3-day baselines overlap
    assert [plan.intervals[i] for i in plan.baseline[1]] == baseline_intervals(
        daily, plan.windows[1])
    assert plan.baseline[1][0] == plan.current[0]  # yesterday's window: today's newest bucket
    with pytest.raises(ValueError):
        plan_rule(daily, [at, at])


@pytest.mark.parametrize("metric", ["negative_share", "negative_count", "mean_score"])
def test_decide_windows_matches_one_window_evaluation(metric):
    """The many-window path and evaluate_rule decide the same from the same numbers."""
    from datetime import UTC, datetime, timedelta

    from pipeline.detection.windows import decide_windows, plan_rule

    rng = np.random.default_rng(5)
    at = datetime(2026, 3, 6, tzinfo=UTC)
    r = AlertRule(name="r", scope="ticker", baseline="6d", metric=metric, min_articles=3,
                  min_negative=2, significance=0.2, min_drop=0.05)
    ends = [at + timedelta(days=d) for d in range(4)]
    plan = plan_rule(r, ends)
    rows = []
    for interval in range(len(plan.intervals)):
        for entity in ("A", "B", "C"):
            n = int(rng.integers(0, 12))
            k = int(rng.integers(0, n + 1))
            scores = rng.uniform(-1, 1, n)
            if entity == "A" and interval == plan.current[2]:  # a planted surge
                n = k = 12
                scores = np.full(n, -0.9)
            if n:
                rows.append((entity, interval, n, k, scores.sum(), (scores ** 2).sum()))
    stats = pd.DataFrame(rows, columns=["entity", "interval", "n_stories", "n_negative",
                                        "score_sum", "score_sumsq"])
    market = stats.groupby("interval", as_index=False)[
        ["n_stories", "n_negative", "score_sum", "score_sumsq"]].sum().assign(entity="market")
    decided = decide_windows(r, plan, stats, market)
    for t in range(len(ends)):
        window = stats[stats["interval"] == plan.current[t]].sort_values("entity")
        base = stats[stats["interval"].isin(plan.baseline[t])]
        totals = base.groupby("entity", as_index=False)[
            ["n_stories", "n_negative", "score_sum", "score_sumsq"]].sum()
        m = market[market["interval"].isin(plan.baseline[t])]
        history = {e: [int(base[(base["entity"] == e) & (base["interval"] == i)]["n_negative"].sum())
                       for i in plan.baseline[t]] for e in window["entity"]}
        expected = evaluate_rule(
            r, window, totals,
            market_share=baseline_share(int(m["n_negative"].sum()), int(m["n_stories"].sum()),
                                        reference=1 / 3),
            history=history, market_scores=(float(m["score_sum"].sum()),
                                            float(m["score_sumsq"].sum()),
                                            int(m["n_stories"].sum())))
        got = decided[t]
        assert [(d.entity, d.status, d.n_stories, d.n_negative, d.baseline_stories)
                for d in got] == [(d.entity, d.status, d.n_stories, d.n_negative,
                                   d.baseline_stories) for d in expected]
        for a, b in zip(got, expected, strict=True):
            assert a.expected == pytest.approx(b.expected, rel=1e-12)
            assert (a.q_value is None) == (b.q_value is None)
            if a.q_value is not None:
                assert a.q_value == pytest.approx(b.q_value, rel=1e-9)
    assert any(d.status == "firing" for d in decided[2])
