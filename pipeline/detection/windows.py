"""A rule's windows and baselines, and its decisions over many windows at once (pure).

For each evaluated window ``[at - rule.window, at)`` (:meth:`AlertRule.window_at
<pipeline.detection.rules.AlertRule.window_at>`) a rule compares the window's story statistics
with those of its baseline intervals (:func:`baseline_intervals`). :func:`plan_rule` lists the
distinct intervals a run over many windows needs, so that storage aggregates each of them once
(:func:`pipeline.storage.stories.interval_stats`, one query per rule), and
:func:`decide_windows` then evaluates every window from those numbers in memory. One window is
the same computation with a list of one, so a replay and window-by-window runs decide alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.detection.decide import (
    MIN_SCORE_BASELINE,
    Decision,
    count_evidence,
    judge,
    score_evidence,
    share_evidence,
)
from pipeline.detection.spikes import baseline_share, count_moments, seasonal_count_moments
from pipeline.domain import Window

#: Period of each ``seasonality`` setting of a rule.
SEASON_PERIODS = {"hour_of_day": timedelta(days=1), "hour_of_week": timedelta(days=7)}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(delta: timedelta) -> int:
    """Whole microseconds of ``delta``, in exact integer arithmetic (numpy offsets)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def baseline_intervals(rule, window: Window) -> list[Window]:
    """The baseline of ``rule`` for ``window`` (the rule's window ending at some instant).

    ``seasonality: none`` (and every ``negative_count`` rule, whose seasonality is a profile
    over these buckets, see :func:`season_slots`): the ``floor(baseline / window)``
    window-sized buckets right before the window. ``hour_of_day`` / ``hour_of_week``: the same
    clock span one, two, ... periods (1 day / 7 days) earlier, as many as fit in
    ``rule.baseline``; so an hourly Monday 09:00 window is compared with earlier Mondays at
    09:00 only (the seasonal-baseline idea of Farrington et al. 1996, J. R. Stat. Soc. A
    159:547-563, which uses the same weeks of earlier years).

    Returns:
        non-overlapping windows, newest first, all before ``window``.
    """
    period = SEASON_PERIODS.get(getattr(rule, "seasonality", "none"))
    if period is None or rule.metric == "negative_count":
        n = max(1, int(rule.baseline / rule.window))
        return [window.shifted(-(i + 1) * rule.window) for i in range(n)]
    cycles = max(1, int(rule.baseline / period))
    return [window.shifted(-j * period) for j in range(1, cycles + 1)]


def season_slots(starts: Sequence[datetime], *, window: timedelta, period: timedelta) -> list[int]:
    """Season slot of windows starting at ``starts``: which ``window``-sized span of the
    ``period`` (1 day: hour of day; 7 days: hour of week) each falls in, counted from the
    Unix epoch, so equal slots are equal clock spans (UTC) of different days or weeks."""
    return [int((s.timestamp() % period.total_seconds()) // window.total_seconds())
            for s in starts]


@dataclass(frozen=True)
class RulePlan:
    """The intervals one rule needs over a list of windows, and which ones each window uses.

    Attributes:
        windows: the evaluated windows, ``T`` of them, in the order given.
        intervals: the distinct intervals to aggregate (``I``): windows and baselines.
        current: ``(T,)`` index in ``intervals`` of each window itself.
        baseline: ``(T, B)`` indices of each window's baseline intervals, in
            :func:`baseline_intervals` order.
    """

    windows: tuple[Window, ...]
    intervals: tuple[Window, ...]
    current: np.ndarray
    baseline: np.ndarray


def plan_rule(rule, ends: Sequence[datetime]) -> RulePlan:
    """Windows of ``rule`` ending at each of ``ends`` (distinct instants, UTC) and their intervals.

    Every interval of a rule (its window and each baseline interval) has the window's length
    and sits at a fixed offset from the window (:func:`baseline_intervals`), so intervals are
    keyed by their start and found by array arithmetic: a year of hourly windows with 672
    baseline buckets each stays a few arrays, not six million objects.

    Raises:
        ValueError: two equal instants in ``ends``.
    """
    windows = [rule.window_at(at) for at in ends]
    if len(set(windows)) != len(windows):
        raise ValueError("window ends must be distinct")
    if not windows:
        return RulePlan((), (), np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64))
    first = windows[0]
    offsets = np.array([_micros(b.start - first.start) for b in baseline_intervals(rule, first)],
                       dtype=np.int64)
    starts = np.array([_micros(w.start - _EPOCH) for w in windows], dtype=np.int64)
    wanted = np.concatenate([starts, (starts[:, None] + offsets[None, :]).ravel()])
    unique, inverse = np.unique(wanted, return_inverse=True)
    intervals = tuple(Window(start, start + rule.window)
                      for start in (_EPOCH + timedelta(microseconds=int(u)) for u in unique))
    return RulePlan(windows=tuple(windows), intervals=intervals,
                    current=inverse[:len(windows)].astype(np.int64),
                    baseline=inverse[len(windows):].astype(np.int64).reshape(len(windows), -1))


def _dense(frame: pd.DataFrame, size: int, column: str, dtype) -> np.ndarray:
    """Market statistics per interval (one entity): a ``(size,)`` array, zeros where absent."""
    out = np.zeros(size, dtype=dtype)
    if len(frame):
        out[frame["interval"].to_numpy(dtype=np.int64)] = frame[column].to_numpy(dtype=dtype)
    return out


def decide_windows(rule, plan: RulePlan, stats: pd.DataFrame, market: pd.DataFrame
                   ) -> list[list[Decision]]:
    """Evaluate ``rule`` in every window of ``plan`` from per-interval story statistics.

    The market's statistics over each window's baseline give the prior of thin histories (its
    negative share, shrunk towards 1/3, see :func:`pipeline.detection.spikes.baseline_share`),
    the stand-in baseline of thin mean-score histories and the seasonal volume profile.

    Args:
        rule: the :class:`~pipeline.detection.rules.AlertRule`.
        plan: from :func:`plan_rule`.
        stats: ``(entity, interval, n_stories, n_negative, score_sum, score_sumsq)`` of the
            rule's scope, ``interval`` indexing ``plan.intervals`` (only pairs with a story).
        market: the same for the market scope (``stats`` itself for a market rule).

    Returns:
        per window of ``plan``, one :class:`Decision` per entity with a story in the window,
        sorted by entity.
    """
    n_windows, size = len(plan.windows), len(plan.intervals)
    out: list[list[Decision]] = [[] for _ in range(n_windows)]
    if n_windows == 0 or stats.empty:
        return out
    codes, entities = pd.factorize(stats["entity"], sort=True, use_na_sentinel=False)
    key = codes.astype(np.int64) * size + stats["interval"].to_numpy(dtype=np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    n_all = stats["n_stories"].to_numpy(dtype=np.int64)[order]
    k_all = stats["n_negative"].to_numpy(dtype=np.int64)[order]
    s_all = stats["score_sum"].to_numpy(dtype=float)[order]
    ss_all = stats["score_sumsq"].to_numpy(dtype=float)[order]
    code_all = codes.astype(np.int64)[order]

    # Rows: the (window, entity) pairs with a story in the window, by window then entity.
    window_of = np.full(size, -1, dtype=np.int64)
    window_of[plan.current] = np.arange(n_windows)
    t = window_of[key % size]
    keep = t >= 0
    if not keep.any():
        return out
    rows = np.flatnonzero(keep)[np.lexsort((code_all[keep], t[keep]))]
    t, e = t[rows], code_all[rows]
    n, k, s, ss = n_all[rows], k_all[rows], s_all[rows], ss_all[rows]

    # Baseline sums of each row's entity, interval by interval in baseline order (a fixed
    # order of float additions: the same numbers whatever else was aggregated).
    n_base = plan.baseline.shape[1]
    def find(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of keys ``wanted`` in ``key`` and whether each is there."""
        pos = np.minimum(np.searchsorted(key, wanted), len(key) - 1)
        return pos, key[pos] == wanted

    n0, k0, kk0 = (np.zeros(len(rows), dtype=np.int64) for _ in range(3))
    s0, ss0 = np.zeros(len(rows)), np.zeros(len(rows))
    for j in range(n_base):
        pos, hit = find(e * size + plan.baseline[t, j])
        k_j = np.where(hit, k_all[pos], 0)
        n0 += np.where(hit, n_all[pos], 0)
        k0 += k_j
        kk0 += k_j * k_j
        s0 = s0 + np.where(hit, s_all[pos], 0.0)
        ss0 = ss0 + np.where(hit, ss_all[pos], 0.0)

    m_n = _dense(market, size, "n_stories", np.int64)
    m_k = _dense(market, size, "n_negative", np.int64)
    m_s, m_ss = _dense(market, size, "score_sum", float), _dense(market, size, "score_sumsq", float)
    base_n, base_k = np.zeros(n_windows, dtype=np.int64), np.zeros(n_windows, dtype=np.int64)
    base_s, base_ss = np.zeros(n_windows), np.zeros(n_windows)
    for j in range(n_base):
        column = plan.baseline[:, j]
        base_n += m_n[column]
        base_k += m_k[column]
        base_s = base_s + m_s[column]
        base_ss = base_ss + m_ss[column]

    if rule.metric == "negative_count" and rule.seasonality in SEASON_PERIODS:
        period = SEASON_PERIODS[rule.seasonality]
        slots = np.array(season_slots([i.start for i in plan.intervals], window=rule.window,
                                      period=period))
        mean, var = np.zeros(len(rows)), np.zeros(len(rows))
        bounds = np.flatnonzero(np.diff(t)) + 1
        for members in np.split(np.arange(len(rows)), bounds):
            w = int(t[members[0]])
            pos, hit = find(e[members, None] * size + plan.baseline[w][None, :])
            mean[members], var[members] = seasonal_count_moments(
                np.where(hit, k_all[pos], 0), m_n[plan.baseline[w]], slots[plan.baseline[w]],
                int(slots[plan.current[w]]))
        observed, expected, pvalue = count_evidence(k, mean, var)
    elif rule.metric == "negative_count":
        mean, var = count_moments(k0, kk0, n_base)
        observed, expected, pvalue = count_evidence(k, mean, var)
    elif rule.metric == "mean_score":
        thin = n0 < MIN_SCORE_BASELINE
        observed, expected, pvalue = score_evidence(
            s, ss, n, np.where(thin, base_s[t], s0), np.where(thin, base_ss[t], ss0),
            np.where(thin, base_n[t], n0))
    else:
        market_share = baseline_share(base_k, base_n, reference=1 / 3)
        observed, expected, pvalue = share_evidence(k, n, k0, n0, np.asarray(market_share)[t])
    decisions = judge(rule, group=t, entity=list(entities[e]), n=n, k=k, n0=n0, k0=k0,
                      observed=observed, expected=expected, pvalue=pvalue)
    for w, decision in zip(t, decisions, strict=True):
        out[int(w)].append(decision)
    return out
