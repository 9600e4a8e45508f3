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


#: Floor on a sentiment-score variance: scores live in [-1, 1] and a classifier's score of one
#: story moves by about 0.1 between near-identical phrasings, so a spread below 0.1 (variance
#: 0.01) is treated as measurement noise rather than certainty. It keeps a run of identical
#: scores (e.g. copies of one template) from producing a near-zero standard error.
SCORE_VARIANCE_FLOOR = 0.01


def score_moments(total: float, total_sq: float, n: int) -> tuple[float, float]:
    """Mean and sample variance of sentiment scores from their sum and sum of squares.

    Returns:
        ``(mean, variance)``; the variance is floored at :data:`SCORE_VARIANCE_FLOOR`
        (and equals it when ``n < 2``); ``mean`` is 0.0 when ``n == 0``.
    """
    if n <= 0:
        return 0.0, SCORE_VARIANCE_FLOOR
    mean = total / n
    var = (total_sq - total * total / n) / (n - 1) if n > 1 else 0.0
    return float(mean), float(max(var, SCORE_VARIANCE_FLOOR))


def score_moments_array(total, total_sq, n) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score_moments` over arrays (broadcast), element by element the same numbers."""
    total, total_sq = np.asarray(total, dtype=float), np.asarray(total_sq, dtype=float)
    n = np.asarray(n, dtype=float)
    safe = np.maximum(n, 1.0)
    mean = np.where(n > 0, total / safe, 0.0)
    var = np.where(n > 1, (total_sq - total * total / safe) / np.maximum(n - 1, 1.0), 0.0)
    return mean, np.maximum(var, SCORE_VARIANCE_FLOOR)


def score_surge_pvalues(mean, var, n, mean0, var0, n0) -> np.ndarray:
    """:func:`score_surge_pvalue` over arrays (broadcast); 1.0 where either side has < 2 stories."""
    mean, var, n, mean0, var0, n0 = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (mean, var, n, mean0, var0, n0)))
    ok = (n >= 2) & (n0 >= 2)
    if not ok.any():
        return np.ones(mean.shape)
    result = stats.ttest_ind_from_stats(mean, np.sqrt(var), np.where(ok, n, 2.0), mean0,
                                        np.sqrt(var0), np.where(ok, n0, 2.0), equal_var=False,
                                        alternative="less")
    return np.where(ok, result.pvalue, 1.0)


def score_surge_pvalue(mean: float, var: float, n: int, mean0: float, var0: float, n0: int) -> float:
    """One-sided p-value that the window's mean sentiment score is below the baseline's.

    Welch's unequal-variance t-test (B. L. Welch, "The generalization of Student's problem
    when several different population variances are involved", Biometrika 34:28-35, 1947),
    alternative "less", via :func:`scipy.stats.ttest_ind_from_stats`. Story scores are means
    of bounded probabilities, so with the window sizes rules require the normal approximation
    behind the t-test is adequate (central limit theorem).

    Args:
        mean, var, n: window mean score, variance and number of stories.
        mean0, var0, n0: the same for the baseline.

    Returns:
        the p-value in [0, 1]; 1.0 when either side has fewer than 2 stories.
    """
    if n < 2 or n0 < 2:
        return 1.0
    result = stats.ttest_ind_from_stats(mean, np.sqrt(var), n, mean0, np.sqrt(var0), n0,
                                        equal_var=False, alternative="less")
    return float(result.pvalue)


#: Weight, in windows, of the overall mean in each slot of the seasonal profile: small, so a
#: slot seen 4 times (an hour of the week in a 28-day baseline) keeps ~98% of its own mean.
PROFILE_PSEUDO_WINDOWS = 0.1


#: Pearson residual above which a baseline window counts as a past surge and is left out of
#: the fit (Farrington et al. 1996 down-weight such windows; a hard cut is the simple form).
OUTLIER_RESIDUAL = 4.0


def seasonal_count_moments(counts: np.ndarray, volume: np.ndarray, slot: np.ndarray,
                           slot_now: int, *, prior_count: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Expected negative count of the window and its variance, with a seasonal profile.

    The news flow has a daily and weekly rhythm, so a window's expected count is the entity's
    level times the seasonal weight of the window's slot (hour of day or hour of week). The
    profile comes from the *market's* story volume per slot over the baseline (pooled across
    entities, so it is well estimated even for quiet tickers), each slot's mean shrunk towards
    the overall mean by :data:`PROFILE_PSEUDO_WINDOWS` pseudo-windows (so a slot that never
    had news still expects a little); the entity's level makes the expected counts of its
    baseline windows add up to its observed total (a Poisson log-linear model with the profile
    as offset, fitted by its closed form). Over-dispersion is the negative-binomial
    ``var = mu + mu^2 / r`` with ``1 / r`` estimated by the method of moments from the
    baseline windows' residuals. This is the quasi-Poisson / negative-binomial regression with
    seasonal terms of outbreak detection (Farrington et al. 1996; Noufaily et al. 2013,
    Stat. Med. 32:1206-1222), with the seasonal terms borrowed from the market. As there,
    the fit is done twice: baseline windows with a Pearson residual above
    :data:`OUTLIER_RESIDUAL` (earlier surges) are left out of the second fit, so one past
    surge does not blunt detection of the next for a whole baseline.

    Args:
        counts: ``(E, B)`` negative stories of E entities in each of the B baseline windows.
        volume: ``(B,)`` market stories in each baseline window.
        slot: ``(B,)`` integer season slot of each baseline window (e.g. hour of week, 0-167).
        slot_now: the evaluated window's slot.
        prior_count: pseudo negative stories added to each entity's total, so an all-zero
            history still expects a little.

    Returns:
        ``(mean, variance)``, each ``(E,)``; variance >= mean.
    """
    counts = np.asarray(counts, dtype=float)
    volume = np.asarray(volume, dtype=float)
    slot = np.asarray(slot, dtype=int)
    size = max(int(slot.max(initial=0)), int(slot_now)) + 1
    per_slot = np.bincount(slot, weights=volume, minlength=size)
    seen = np.bincount(slot, minlength=size)
    overall = volume.mean() if volume.size else 0.0
    profile = (per_slot + PROFILE_PSEUDO_WINDOWS * overall) / (seen + PROFILE_PSEUDO_WINDOWS)
    weights = profile[slot]
    level = (counts.sum(axis=1) + prior_count) / max(float(weights.sum()), 1e-12)
    mu_b = level[:, None] * weights[None, :]
    # Past surges in the baseline would inflate the level and the dispersion and mask the next
    # one: windows whose Pearson residual exceeds OUTLIER_RESIDUAL are left out of the refit.
    keep = (counts - mu_b) <= OUTLIER_RESIDUAL * np.sqrt(mu_b + 1e-12)
    kept_weight = np.where(keep, weights[None, :], 0.0).sum(axis=1)
    level = ((np.where(keep, counts, 0.0).sum(axis=1) + prior_count)
             / np.maximum(kept_weight, 1e-12))
    mu_b = level[:, None] * weights[None, :]
    mean = level * profile[int(slot_now)]
    sum_mu = np.where(keep, mu_b, 0.0).sum(axis=1)
    sum_mu2 = np.where(keep, mu_b ** 2, 0.0).sum(axis=1)
    sum_r2 = np.where(keep, (counts - mu_b) ** 2, 0.0).sum(axis=1)
    inv_r = np.maximum(0.0, (sum_r2 - sum_mu) / np.maximum(sum_mu2, 1e-12))
    return mean, np.maximum(mean + mean ** 2 * inv_r, mean)
