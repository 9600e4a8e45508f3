"""Significance tests for a surge of negative stories.

The test asks: given the share of negative stories in the baseline, how surprising is the
window's count? Under "nothing changed", the window's negative count ``k`` out of ``n`` stories
is Binomial(n, p0) with ``p0`` the baseline share, and the one-sided p-value is
``P(X >= k) = binom.sf(k - 1, n, p0)`` (exact binomial test; see e.g. Agresti, *Categorical Data
Analysis*, 3rd ed., section 1.4). Testing the *share* rather than the volume makes the test
immune to a feed simply publishing more that day.

``p0`` is estimated with a Beta prior centred on a reference share (the market's baseline share
when available), i.e. ``p0 = (k0 + a) / (n0 + a + b)``: an entity with a thin history borrows
strength from the market instead of getting ``p0 = 0`` from three calm stories (empirical-Bayes
shrinkage; Gelman et al., *Bayesian Data Analysis*, 3rd ed., section 2.4).

Many entities are tested per window, so p-values are adjusted with Benjamini-Hochberg
(J. R. Stat. Soc. B 57:289-300, 1995), controlling the false discovery rate at the rule's level.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

PRIOR_STRENGTH = 10.0  # pseudo-stories of the reference share in the baseline estimate


def baseline_share(k0: int, n0: int, *, reference: float, strength: float = PRIOR_STRENGTH) -> float:
    """Shrunk baseline negative share ``(k0 + s*ref) / (n0 + s)``, in (0, 1).

    Args:
        k0, n0: negative and total stories in the baseline period (scalars or arrays).
        reference: prior share (the market-wide baseline share), clipped to [0.01, 0.99].
        strength: prior weight, in stories.

    Returns:
        a float for scalar input, else an array of the broadcast shape.
    """
    reference = np.clip(reference, 0.01, 0.99)
    share = (np.asarray(k0) + strength * reference) / (np.asarray(n0) + strength)
    return float(share) if np.ndim(share) == 0 else share


def binomial_surge_pvalue(k: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value ``P(X >= k)`` for ``X ~ Binomial(n, p0)``."""
    return float(binomial_surge_pvalues(np.array([k]), np.array([n]), np.array([p0]))[0])


def binomial_surge_pvalues(k: np.ndarray, n: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """:func:`binomial_surge_pvalue` over arrays (broadcast); 1.0 where ``n <= 0``."""
    k, n = np.asarray(k), np.asarray(n)
    return np.where(n > 0, stats.binom.sf(k - 1, np.maximum(n, 1), p0), 1.0)


def benjamini_hochberg(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as the input."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    return stats.false_discovery_control(p, method="bh")


def count_baseline(counts: np.ndarray | list[int], *, prior_count: float = 0.5,
                   prior_buckets: float = 1.0) -> tuple[float, float]:
    """Mean and variance of an entity's negative count per window, from its baseline buckets.

    Args:
        counts: negative stories in each window-sized bucket of the baseline (zeros included).
        prior_count, prior_buckets: a weak prior (half a negative story in one pseudo-bucket),
            so an entity with an all-zero history still has a positive expected count.

    Returns:
        ``(mean, variance)``; variance is the sample variance, at least the mean (Poisson).
    """
    values = np.asarray(counts, dtype=float)
    mean, var = count_moments(values.sum(), (values ** 2).sum(), len(values),
                              prior_count=prior_count, prior_buckets=prior_buckets)
    return float(mean), float(var)


def count_moments(total, total_sq, buckets: int, *, prior_count: float = 0.5,
                  prior_buckets: float = 1.0):
    """:func:`count_baseline` from running sums (scalars or arrays, e.g. rolling windows).

    Args:
        total, total_sq: sum of the bucket counts and of their squares.
        buckets: number of buckets summed.

    Returns:
        ``(mean, variance)`` with the prior on the mean and the sample variance floored at it.
    """
    total, total_sq = np.asarray(total, dtype=float), np.asarray(total_sq, dtype=float)
    mean = (total + prior_count) / (buckets + prior_buckets)
    var = (total_sq - total ** 2 / buckets) / (buckets - 1) if buckets > 1 else mean
    return mean, np.maximum(var, mean)


def count_surge_pvalue(k: int, mean: float, var: float) -> float:
    """One-sided p-value ``P(X >= k)`` for a window's negative count.

    ``X`` is Poisson(mean) when the baseline shows no over-dispersion (``var <= mean``), else
    negative binomial with the same mean and variance (method of moments: size
    ``r = mean^2 / (var - mean)``, success probability ``r / (r + mean)``), the over-dispersed
    count model used by outbreak-detection systems (Noufaily et al. 2013, "An improved algorithm
    for outbreak detection in multiple surveillance systems", Stat. Med. 32:1206-1222).
    """
    return float(count_surge_pvalues(np.array([k]), np.array([mean]), np.array([var]))[0])


def count_surge_pvalues(k: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """:func:`count_surge_pvalue` over arrays (broadcast)."""
    k, mean, var = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(mean, dtype=float),
                                       np.asarray(var, dtype=float))
    dispersed = var > mean * (1 + 1e-9)
    r = np.where(dispersed, mean * mean / np.where(dispersed, var - mean, 1.0), 1.0)
    poisson = stats.poisson.sf(k - 1, mean)
    negbin = stats.nbinom.sf(k - 1, r, r / (r + mean))
    return np.where(k <= 0, 1.0, np.where(dispersed, negbin, poisson))
