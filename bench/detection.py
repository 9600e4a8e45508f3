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

- **tonewatch**: the two rules a user would set, share and count, evaluated with the library's
  own functions (:mod:`pipeline.detection.spikes`): the exact binomial test of the window's
  negative share against the baseline share shrunk towards the market's, and the Poisson /
  negative-binomial test of the window's negative count against the baseline's per-window mean
  and variance; each Benjamini-Hochberg-adjusted across entities at 0.01, with the rules'
  ``min_articles`` 5, ``min_negative`` 3 and ``min_lift`` 1.5; an alarm when either fires.
- **zscore**: negative count above the trailing mean + 3 standard deviations.

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
ALPHA, MIN_ARTICLES, MIN_NEGATIVE, MIN_LIFT, SIGMA = 0.01, 5, 3, 1.5, 3.0


def simulate(entities: int, hours: int, surges: int, rng: np.random.Generator):
    """Volumes ``n``, negatives ``k`` (both ``(entities, warmup + hours)``) and surge starts."""
    total = BASELINE + hours
    t = np.arange(total)
    daily = np.clip(1 + 0.8 * np.sin(2 * np.pi * ((t % 24) - 6) / 24), 0.1, None)
    weekly = np.where((t // 24) % 7 >= 5, 0.4, 1.0)
    base = np.exp(rng.uniform(np.log(0.5), np.log(8.0), entities))[:, None]
    rate = base * daily[None, :] * weekly[None, :]
    dispersed = np.arange(entities) % 2 == 1
    rate = np.where(dispersed[:, None], rate * rng.gamma(2.0, 0.5, rate.shape), rate)
    n = rng.poisson(rate)
    share = rng.uniform(0.10, 0.35, entities)
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
    return n, k, starts, in_surge


def trailing(x: np.ndarray) -> np.ndarray:
    """Sum over the previous ``BASELINE`` windows (excluding the current one), per entity."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=float)], axis=1)
    out = np.full(x.shape, np.nan)
    out[:, BASELINE:] = c[:, BASELINE:-1] - c[:, :-BASELINE - 1]
    return out


def tonewatch_alarms(n: np.ndarray, k: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
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
    mean, var = count_moments(k0, kk0, BASELINE)
    enough = valid & (n >= MIN_ARTICLES)
    alarms = np.zeros(n.shape, dtype=bool)
    for pvalues, observed, expected in (
        (binomial_surge_pvalues(k, n, p0), k / np.maximum(n, 1), p0),
        (count_surge_pvalues(k, mean, var), k.astype(float), mean),
    ):
        pvalues = np.where(enough, pvalues, 1.0)
        qvalues = stats.false_discovery_control(pvalues, axis=0, method="bh")
        alarms |= (enough & (qvalues <= alpha) & (k >= MIN_NEGATIVE)
                   & (observed >= MIN_LIFT * expected))
    return alarms


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
    n, k, starts, in_surge = simulate(opts.entities, opts.hours, opts.surges, rng)
    ours = score(tonewatch_alarms(n, k, opts.alpha), starts, in_surge, opts.hours)
    naive = score(zscore_alarms(k), starts, in_surge, opts.hours)
    print(f"{'detector':10s} {'false alarms / series-year':>27s} {'detected <= 2 windows':>22s} "
          f"{'median delay':>13s}")
    for name, r in (("tonewatch", ours), ("zscore", naive)):
        print(f"{name:10s} {r['false_alarms_per_series_year']:27.3f} {r['detection_rate']:22.1%} "
              f"{r['median_delay_windows']!s:>13s}")
    print(f"({opts.entities} series x {opts.hours} hourly windows, {starts.size} injected surges, "
          f"{time.perf_counter() - started:.1f} s)", file=sys.stderr)
    print(json.dumps({**ours, "zscore": naive, "alpha": opts.alpha, "entities": opts.entities,
                      "hours": opts.hours,
                      "surges": int(starts.size), "seed": opts.seed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
