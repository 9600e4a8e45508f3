"""Decisions: whether each entity of a window surged, from its numbers (pure).

A rule's test runs on arrays with one element per (window, entity) row, so one window
(:func:`evaluate_rule`, DataFrames in) and a whole replay
(:func:`pipeline.detection.windows.decide_windows`) share the same arithmetic: the metric's
evidence (observed, expected, one-sided p-value), then :func:`judge` (minimum stories,
Benjamini-Hochberg within each window, minimum negatives and effect size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.detection.spikes import (
    baseline_share,
    benjamini_hochberg,
    binomial_surge_pvalues,
    count_baseline,
    count_surge_pvalues,
    score_moments_array,
    score_surge_pvalues,
)


@dataclass
class Decision:
    """The outcome of one rule for one entity in one window.

    ``status`` is ``firing`` (significant surge), ``calm`` (enough data, no surge) or
    ``insufficient`` (too few stories to tell: never reported as calm).
    """

    rule: str
    scope: str
    entity: str
    status: str
    n_stories: int
    n_negative: int
    baseline_stories: int
    baseline_negative: int
    observed: float | None
    expected: float
    p_value: float | None
    q_value: float | None


#: Fewest baseline stories an entity needs for its own mean-score baseline; below it the
#: market's baseline scores stand in (the same borrowing of strength as ``baseline_share``).
MIN_SCORE_BASELINE = 10


def share_evidence(k, n, k0, n0, market_share) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``negative_share``: observed share, shrunk baseline share, exact binomial p-value.

    Args:
        k, n: negative and total stories in the window, per row.
        k0, n0: the same over the entity's baseline.
        market_share: the market's baseline share (the prior of thin histories), per row.

    Returns:
        ``(observed, expected, p)``; ``observed`` is NaN where ``n == 0``.
    """
    k, n = np.asarray(k), np.asarray(n)
    expected = np.asarray(baseline_share(k0, n0, reference=market_share), dtype=float)
    observed = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    return observed, expected, binomial_surge_pvalues(k, n, expected)


def count_evidence(k, mean, var) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``negative_count``: the window's negative count against its expected mean and variance."""
    k = np.asarray(k)
    return k.astype(float), np.asarray(mean, dtype=float), count_surge_pvalues(k, mean, var)


def score_evidence(s, ss, n, s0, ss0, n0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean_score``: window mean score against the baseline's (Welch's t-test).

    Args:
        s, ss, n: sum and sum of squares of the window's story scores, and their number.
        s0, ss0, n0: the same for the baseline (the market's where the entity's is thin).
    """
    expected, var0 = score_moments_array(s0, ss0, n0)
    observed, var = score_moments_array(s, ss, n)
    return observed, expected, score_surge_pvalues(observed, var, n, expected, var0, n0)


def judge(
    rule, *, group: np.ndarray, entity, n, k, n0, k0, observed, expected, pvalue,
) -> list[Decision]:
    """Turn evidence rows into decisions.

    Rows with fewer than ``rule.min_articles`` stories are ``insufficient`` (no p-value). The
    p-values of the others are Benjamini-Hochberg-adjusted within their ``group`` (one window:
    the rule's entities form one family); a row fires when ``q <= rule.significance``, it has
    at least ``rule.min_negative`` negative stories and the effect is large enough
    (``observed >= min_lift * expected``, or for ``mean_score`` ``observed <= expected -
    min_drop``).

    Args:
        rule: the :class:`~pipeline.detection.rules.AlertRule`.
        group: ``(R,)`` window index of each row, non-decreasing.
        entity, n, k, n0, k0, observed, expected, pvalue: ``(R,)`` each.

    Returns:
        one :class:`Decision` per row, in row order.
    """
    n, k = np.asarray(n), np.asarray(k)
    observed, expected = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    pvalue = np.asarray(pvalue, dtype=float)
    group = np.asarray(group)
    tested = n >= rule.min_articles
    qvalue = np.full(len(n), np.nan)
    bounds = np.flatnonzero(np.diff(group)) + 1
    for rows in np.split(np.arange(len(n)), bounds):
        rows = rows[tested[rows]]
        if rows.size:
            qvalue[rows] = benjamini_hochberg(pvalue[rows])
    with np.errstate(invalid="ignore"):
        large = (observed <= expected - rule.min_drop if rule.metric == "mean_score"
                 else observed >= rule.min_lift * expected)
    firing = tested & (qvalue <= rule.significance) & (k >= rule.min_negative) & large
    decisions = []
    for i in range(len(n)):
        status = "firing" if firing[i] else "calm" if tested[i] else "insufficient"
        decisions.append(Decision(
            rule.name, rule.scope, entity[i], status, int(n[i]), int(k[i]), int(n0[i]),
            int(k0[i]), None if np.isnan(observed[i]) else float(observed[i]),
            float(expected[i]), float(pvalue[i]) if tested[i] else None,
            float(qvalue[i]) if tested[i] else None))
    return decisions


def evaluate_rule(
    rule, window: pd.DataFrame, baseline: pd.DataFrame, *, market_share: float,
    history: dict[str, list[int]] | None = None,
    market_scores: tuple[float, float, int] | None = None,
    expected_counts: dict[str, tuple[float, float]] | None = None,
) -> list[Decision]:
    """Decide, for every entity seen in one window, whether its negative news surged.

    Pure function: counts in, decisions out.

    Args:
        rule: the :class:`~pipeline.detection.rules.AlertRule`.
        window: ``(entity, n_stories, n_negative)`` for the window.
        baseline: the same for the baseline period.
        market_share: the market-wide baseline negative share, the prior for thin histories.
        history: for ``metric: negative_count``, each entity's negative count in every
            window-sized bucket of the baseline (zeros included); the window's count is tested
            against it with :func:`~pipeline.detection.spikes.count_surge_pvalue` and
            ``observed`` / ``expected`` are counts, not shares.
        expected_counts: for ``metric: negative_count``, each entity's ``(mean, variance)``
            of the window's negative count computed by the caller (seasonal baselines, see
            :func:`~pipeline.detection.spikes.seasonal_count_moments`); overrides ``history``.
        market_scores: for ``metric: mean_score``, the market baseline's ``(sum, sum of
            squares, n)`` of story sentiment scores: the reference of an entity whose own
            baseline has fewer than :data:`MIN_SCORE_BASELINE` stories. ``window`` and
            ``baseline`` then need ``score_sum`` and ``score_sumsq`` columns; ``observed`` /
            ``expected`` are mean scores in [-1, 1], tested with
            :func:`~pipeline.detection.spikes.score_surge_pvalue`.

    Returns:
        one :class:`Decision` per entity in ``window``, in its order (see :func:`judge`).
    """
    entity = window["entity"].tolist()
    n = window["n_stories"].to_numpy(dtype=np.int64)
    k = window["n_negative"].to_numpy(dtype=np.int64)
    base = baseline.set_index("entity").reindex(entity) if len(baseline) else None

    def column(name: str, dtype) -> np.ndarray:
        if base is None:
            return np.zeros(len(entity), dtype=dtype)
        return base[name].fillna(0).to_numpy(dtype=dtype)

    n0, k0 = column("n_stories", np.int64), column("n_negative", np.int64)
    if rule.metric == "negative_count":
        moments = [expected_counts[e] if expected_counts is not None and e in expected_counts
                   else count_baseline((history or {}).get(e, [])) for e in entity]
        mean = np.array([m for m, _ in moments], dtype=float)
        var = np.array([v for _, v in moments], dtype=float)
        observed, expected, pvalue = count_evidence(k, mean, var)
    elif rule.metric == "mean_score":
        s0, ss0, m0 = column("score_sum", float), column("score_sumsq", float), n0.copy()
        if market_scores is not None:
            thin = m0 < MIN_SCORE_BASELINE
            s0 = np.where(thin, market_scores[0], s0)
            ss0 = np.where(thin, market_scores[1], ss0)
            m0 = np.where(thin, market_scores[2], m0)
        observed, expected, pvalue = score_evidence(
            window["score_sum"].to_numpy(dtype=float), window["score_sumsq"].to_numpy(dtype=float),
            n, s0, ss0, m0)
    else:
        observed, expected, pvalue = share_evidence(k, n, k0, n0, market_share)
    return judge(rule, group=np.zeros(len(entity), dtype=np.int64), entity=entity, n=n, k=k,
                 n0=n0, k0=k0, observed=observed, expected=expected, pvalue=pvalue)
