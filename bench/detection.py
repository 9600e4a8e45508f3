"""Detection benchmark (run by hand): tonewatch's tests against a rolling 3-sigma z-score.

Generated data, one run, both detectors on the same series:

- ``--entities`` series (default 500) of hourly windows for a year, after a 28-day warm-up;
- article volume per hour: a base rate per entity (log-uniform 0.5-8), a daily cycle and
  quieter weekends; half the entities Poisson, half over-dispersed negative binomial (a
  Gamma-Poisson mixture with shape 2);
- each article negative with the entity's own share (uniform 0.10-0.35);
- injected surges (``--surges`` per entity, 3 windows long): the negative share doubles and the
  window holds at least 20 articles.

Detectors, each evaluated at every hour with the trailing 28 days (672 windows) as baseline:

- **tonewatch**: the four rules a user would set for hourly windows (the intraday set in
  ``config/alert_rules.yaml``), evaluated with the library's own functions
  (:mod:`pipeline.detection.spikes`): the exact binomial test of the negative share against
  the baseline share shrunk towards the market's, and the count test with
  ``seasonality: hour_of_week`` (expected negatives = the entity's level times the market's
  hour-of-week volume profile, negative-binomial dispersion estimated from the baseline's
  residuals with past surges left out, :func:`~pipeline.detection.spikes.seasonal_count_moments`),
  each on 1-hour and on 2-hour windows evaluated every hour (the 2-hour rules accumulate the
  evidence of a surge's first two hours, as a CUSUM would); each rule Benjamini-Hochberg-
  adjusted across entities at ``--alpha`` (default 0.005: four rules tested 8,760 times a
  year), with ``min_articles`` 5, ``min_negative`` 3 and ``min_lift`` 1.5; an alarm when any
  rule fires.
- **trailing**: the share rule and a 1-hour count rule without seasonality (count test against
  the plain mean and variance of the 672 trailing hourly counts).
- **zscore**: negative count above the trailing mean + 3 standard deviations.
- **oracle**: Page's CUSUM on the likelihood ratio computed with the simulation's TRUE
  parameters, its threshold set for 0.5 false alarms per series-year: an upper bound on what
  any detector can detect at that rate on these data.

Scores: false alarms per series-year (alarm windows outside a surge and the two windows after
it), detection rate (surges with an alarm in their first two windows) and the median delay of
detection in windows (0 = the surge's first window).

Usage::

    .venv/bin/python bench/detection.py [--entities 500] [--hours 8760] [--surges 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE = 672      # windows (28 days of hours)
SURGE_LENGTH = 3    # windows
GRACE = 2           # windows after a surge where an alarm is not counted as false
ALPHA, MIN_ARTICLES, MIN_NEGATIVE, MIN_LIFT, SIGMA = 0.005, 5, 3, 1.5, 3.0
GOAL_FALSE_ALARMS = 0.5  # per series-year, the goal; the oracle is tuned to it


def simulate(entities: int, hours: int, surges: int, rng: np.random.Generator):
    """Volumes ``n``, negatives ``k`` (both ``(entities, warmup + hours)``), surge starts, the
    surge mask and the true parameters (``rate``: expected volume per window before the
    over-dispersion mixing, ``dispersed`` per entity, ``share``: baseline negative share)."""
    total = BASELINE + hours
    t = np.arange(total)
    daily = np.clip(1 + 0.8 * np.sin(2 * np.pi * ((t % 24) - 6) / 24), 0.1, None)
    weekly = np.where((t // 24) % 7 >= 5, 0.4, 1.0)
    base = np.exp(rng.uniform(np.log(0.5), np.log(8.0), entities))[:, None]
    rate = base * daily[None, :] * weekly[None, :]
    truth = {"rate": rate.copy(), "dispersed": np.arange(entities) % 2 == 1}
    dispersed = truth["dispersed"]
    rate = np.where(dispersed[:, None], rate * rng.gamma(2.0, 0.5, rate.shape), rate)
    n = rng.poisson(rate)
    share = rng.uniform(0.10, 0.35, entities)
    truth["share"] = share
    p = np.repeat(share[:, None], total, axis=1)
    starts = np.zeros((entities, surges), dtype=int)
    in_surge = np.zeros_like(n, dtype=bool)
    for e in range(entities):
        chosen = np.sort(rng.choice(np.arange(BASELINE, total - SURGE_LENGTH - GRACE, 24 * 7),
                                    surges, replace=False))
        chosen += rng.integers(0, 24 * 7, surges)  # anywhere in the chosen weeks
        chosen = np.minimum(chosen, total - SURGE_LENGTH - GRACE - 1)
        starts[e] = chosen
        for s in chosen:
            span = slice(s, s + SURGE_LENGTH)
            in_surge[e, span] = True
            n[e, span] = np.maximum(n[e, span], 20 + rng.poisson(3, SURGE_LENGTH))
            p[e, span] = np.minimum(2 * share[e], 0.95)
    k = rng.binomial(n, p)
    return n, k, starts, in_surge, truth


def trailing(x: np.ndarray) -> np.ndarray:
    """Sum over the previous ``BASELINE`` windows (excluding the current one), per entity."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=float)], axis=1)
    out = np.full(x.shape, np.nan)
    out[:, BASELINE:] = c[:, BASELINE:-1] - c[:, :-BASELINE - 1]
    return out


def windowed(x: np.ndarray, width: int) -> np.ndarray:
    """Sum of each window and the ``width - 1`` windows before it (``width``-hour windows
    ending at every hour); the first ``width - 1`` columns are partial."""
    c = np.cumsum(x, axis=1, dtype=float)
    out = c.copy()
    out[:, width:] = c[:, width:] - c[:, :-width]
    return out


def seasonal_moments(n: np.ndarray, k: np.ndarray, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Expected negative count and variance of every ``width``-hour window with the library's
    seasonal model, as a rule with ``window: {width}h``, ``seasonality: hour_of_week`` and
    ``metric: negative_count`` evaluated every hour computes it: the trailing 28 days cut into
    ``width``-hour buckets aligned with the window, the entity's level times the market's
    hour-of-week volume profile, negative-binomial dispersion from the residuals."""
    from pipeline.detection.spikes import seasonal_count_moments

    nw, kw = windowed(n, width), windowed(k, width)
    market = nw.sum(axis=0)
    mean, var = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    slots = (np.arange(k.shape[1]) % 168) // width
    for t in range(BASELINE + width, k.shape[1]):
        buckets = np.arange(t - width, t - BASELINE - 1, -width)  # ends of earlier buckets
        mean[:, t], var[:, t] = seasonal_count_moments(kw[:, buckets], market[buckets],
                                                       slots[buckets], slots[t])
    return np.nan_to_num(mean, nan=1.0), np.nan_to_num(var, nan=1.0)


def tonewatch_alarms(n: np.ndarray, k: np.ndarray, alpha: float = ALPHA,
                     seasonal: bool = True) -> np.ndarray:
    """Alarms of the share rule OR the count rule, with the library's tests and BH."""
    from scipy import stats

    from pipeline.detection.spikes import (
        baseline_share,
        binomial_surge_pvalues,
        count_moments,
        count_surge_pvalues,
    )

    n0, k0, kk0 = trailing(n), trailing(k), trailing(k.astype(float) ** 2)
    valid = ~np.isnan(n0)
    n0, k0, kk0 = np.nan_to_num(n0), np.nan_to_num(k0), np.nan_to_num(kk0)
    market = k0.sum(axis=0) / np.maximum(n0.sum(axis=0), 1)
    p0 = baseline_share(k0, n0, reference=market[None, :])
    tests = [(binomial_surge_pvalues(k, n, p0), n, k, k / np.maximum(n, 1), p0)]
    if seasonal:
        for width in (1, 2):
            mean, var = seasonal_moments(n, k, width)
            nw, kw = windowed(n, width), windowed(k, width)
            tests.append((count_surge_pvalues(kw, mean, var), nw, kw, kw, mean))
        n2, k2 = windowed(n, 2), windowed(k, 2)
        tests.append((binomial_surge_pvalues(k2, n2, p0), n2, k2, k2 / np.maximum(n2, 1), p0))
    else:
        mean, var = count_moments(k0, kk0, BASELINE)
        tests.append((count_surge_pvalues(k, mean, var), n, k, k.astype(float), mean))
    alarms = np.zeros(n.shape, dtype=bool)
    for pvalues, volume, negatives, observed, expected in tests:
        enough = valid & (volume >= MIN_ARTICLES)
        enough[:, :BASELINE + 2] = False
        pvalues = np.where(enough, pvalues, 1.0)
        qvalues = stats.false_discovery_control(pvalues, axis=0, method="bh")
        alarms |= (enough & (qvalues <= alpha) & (negatives >= MIN_NEGATIVE)
                   & (observed >= MIN_LIFT * expected))
    return alarms


SURGE_FLOOR, SURGE_EXTRA = 20, 3  # a surge window holds max(n, 20 + Poisson(3)) articles


def oracle_llr(n: np.ndarray, k: np.ndarray, truth: dict) -> np.ndarray:
    """Log-likelihood ratio, surge vs no surge, of each window, with the TRUE parameters.

    Under no surge, ``n`` is Poisson(rate) (negative binomial with shape 2 for dispersed
    entities) and ``k ~ Binomial(n, share)``; under a surge ``n = max(N, 20 + Poisson(3))``
    and ``k ~ Binomial(n, min(2 share, 0.95))``, exactly as :func:`simulate` injects them.
    No detector that estimates these parameters from data can beat a test built on this ratio
    (Neyman-Pearson lemma), so it bounds what any detector can reach on this data.
    """
    from scipy import stats

    rate, share = truth["rate"], truth["share"][:, None]
    dispersed = truth["dispersed"][:, None]
    shape = 2.0
    null_pmf = np.where(dispersed, stats.nbinom.pmf(n, shape, shape / (shape + rate)),
                        stats.poisson.pmf(n, rate))
    null_cdf_below = np.where(dispersed, stats.nbinom.cdf(n - 1, shape, shape / (shape + rate)),
                              stats.poisson.cdf(n - 1, rate))
    extra = n - SURGE_FLOOR
    surge_pmf = (null_pmf * stats.poisson.cdf(extra, SURGE_EXTRA)
                 + null_cdf_below * stats.poisson.pmf(extra, SURGE_EXTRA))
    p1 = np.minimum(2 * share, 0.95)
    tiny = 1e-300
    return (np.log(np.maximum(surge_pmf, tiny)) - np.log(np.maximum(null_pmf, tiny))
            + k * np.log(p1 / share) + (n - k) * np.log((1 - p1) / (1 - share)))


def cusum_alarms(llr: np.ndarray, threshold: float) -> np.ndarray:
    """Page's CUSUM on per-window log-likelihood ratios, reset after each alarm.

    ``C_t = max(0, C_{t-1} + llr_t)``, alarm when ``C_t > threshold`` (E. S. Page,
    "Continuous inspection schemes", Biometrika 41:100-115, 1954); for a change between two
    known distributions it minimises the worst-case detection delay at a given false-alarm
    rate (Moustakides, Ann. Statist. 14:1379-1387, 1986).
    """
    alarms = np.zeros(llr.shape, dtype=bool)
    c = np.zeros(llr.shape[0])
    for t in range(BASELINE, llr.shape[1]):
        c = np.maximum(0.0, c + llr[:, t])
        alarms[:, t] = c > threshold
        c[alarms[:, t]] = 0.0
    return alarms


def oracle_alarms(n: np.ndarray, k: np.ndarray, truth: dict, starts, in_surge, hours: int,
                  target: float) -> tuple[np.ndarray, float]:
    """CUSUM alarms of the oracle ratio with the threshold giving ``target`` false alarms per
    series-year (bisection on the threshold); returns the alarms and the threshold."""
    llr = oracle_llr(n, k, truth)
    lo, hi = 0.0, 60.0
    for _ in range(30):
        mid = (lo + hi) / 2
        rate = score(cusum_alarms(llr, mid), starts, in_surge, hours)["false_alarms_per_series_year"]
        lo, hi = (mid, hi) if rate > target else (lo, mid)
    return cusum_alarms(llr, hi), hi


def zscore_alarms(k: np.ndarray) -> np.ndarray:
    """Negative count above the trailing mean + 3 sigma (the naive rule)."""
    s1, s2 = trailing(k.astype(float)), trailing(k.astype(float) ** 2)
    mean = s1 / BASELINE
    std = np.sqrt(np.maximum(s2 / BASELINE - mean ** 2, 0))
    return ~np.isnan(s1) & (std > 0) & (k > mean + SIGMA * std)


def score(alarms: np.ndarray, starts: np.ndarray, in_surge: np.ndarray, hours: int) -> dict:
    """False alarms per series-year, detection rate within two windows, median delay."""
    excused = in_surge.copy()
    for g in range(1, GRACE + 1):
        excused[:, g:] |= in_surge[:, :-g]
    false = (alarms & ~excused)[:, BASELINE:].sum()
    years = hours / 8760
    delays = []
    for e in range(starts.shape[0]):
        for s in starts[e]:
            hit = np.flatnonzero(alarms[e, s:s + SURGE_LENGTH])
            delays.append(int(hit[0]) if hit.size else None)
    detected = [d for d in delays if d is not None and d < 2]
    found = [d for d in delays if d is not None]
    return {"false_alarms_per_series_year": round(false / starts.shape[0] / years, 3),
            "detection_rate": round(len(detected) / len(delays), 4),
            "median_delay_windows": float(np.median(found)) if found else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--surges", type=int, default=2, help="injected surges per entity")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--alpha", type=float, default=ALPHA,
                        help="false discovery rate of the tonewatch rules (the rules' significance)")
    opts = parser.parse_args()
    rng = np.random.default_rng(opts.seed)
    started = time.perf_counter()
    n, k, starts, in_surge, truth = simulate(opts.entities, opts.hours, opts.surges, rng)
    ours = score(tonewatch_alarms(n, k, opts.alpha), starts, in_surge, opts.hours)
    plain = score(tonewatch_alarms(n, k, opts.alpha, seasonal=False), starts, in_surge, opts.hours)
    naive = score(zscore_alarms(k), starts, in_surge, opts.hours)
    bound_alarms, threshold = oracle_alarms(n, k, truth, starts, in_surge, opts.hours,
                                            target=GOAL_FALSE_ALARMS)
    bound = score(bound_alarms, starts, in_surge, opts.hours)
    print(f"{'detector':10s} {'false alarms / series-year':>27s} {'detected <= 2 windows':>22s} "
          f"{'median delay':>13s}")
    for name, r in (("tonewatch", ours), ("trailing", plain), ("zscore", naive), ("oracle", bound)):
        print(f"{name:10s} {r['false_alarms_per_series_year']:27.3f} {r['detection_rate']:22.1%} "
              f"{r['median_delay_windows']!s:>13s}")
    print(f"({opts.entities} series x {opts.hours} hourly windows, {starts.size} injected surges, "
          f"{time.perf_counter() - started:.1f} s)", file=sys.stderr)
    print(f"oracle = CUSUM of the true likelihood ratio (threshold {threshold:.2f} nats), tuned "
          f"to {GOAL_FALSE_ALARMS} false alarms per series-year: the most any detector can "
          "detect at that false-alarm rate on these data", file=sys.stderr)
    print(json.dumps({**ours, "trailing": plain, "zscore": naive, "oracle": bound, "alpha": opts.alpha,
                      "entities": opts.entities,
                      "hours": opts.hours,
                      "surges": int(starts.size), "seed": opts.seed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
