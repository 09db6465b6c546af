"""Intervals and tests shared by the analyses (retention points, satisfaction scores)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats as _st

from retention_utils.config import CONFIDENCE


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval and sample size."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Difference between two estimates (second minus first) with a two-sided test.

    ``low`` and ``high`` bound the difference at ``confidence``; ``significant`` means
    ``p_value < 1 - confidence`` (the level the interval was computed at, not a global one).
    """

    difference: float
    se: float
    statistic: float
    p_value: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    @property
    def significant(self) -> bool:
        return bool(self.p_value < 1 - self.confidence)

    def scaled(self, factor: float) -> Comparison:
        """The same test with the difference, its SE and interval times ``factor`` (e.g. 100
        for fractions to percentage points)."""
        return replace(
            self,
            difference=self.difference * factor,
            se=self.se * factor,
            low=self.low * factor,
            high=self.high * factor,
        )

    def as_dict(self) -> dict:
        return asdict(self) | {"significant": self.significant}


def z_value(confidence: float = CONFIDENCE) -> float:
    """Two-sided normal quantile, 1.959964 for 95 %."""
    return float(_st.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes, n, confidence: float = CONFIDENCE):
    """Wilson score interval for a binomial proportion, as fractions in [0, 1].

    Works on scalars and arrays. Where ``n`` is 0 both bounds are NaN. The bounds are exactly
    0 for no success and exactly 1 for all successes (the formula's rounding would give
    0.9999999999999999, outside a proportion of exactly 1).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.where(x <= 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        high = np.where(n > 0, np.where(x >= n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def two_proportion_test(
    x1, n1, x2, n2, confidence: float = CONFIDENCE, *, interval: str = "wald"
) -> Comparison:
    """Two-sided z test of p2 - p1 with the pooled SE, and an interval of the difference.

    ``interval="wald"`` (default): difference +- z times the unpooled SE. ``"newcombe"``:
    Newcombe's hybrid score interval from the Wilson intervals of the two proportions
    (Newcombe 1998, method 10); it stays within -1 to 1 and does not collapse when a rate is
    0 or 1: with 4 of 4 against 2 of 4 the Wald interval (-0.99 to -0.01) excludes 0 while
    the test (p = 0.10) does not, and Newcombe's (-0.85 to +0.10) agrees with the test.
    ``se`` is the unpooled standard error. Proportions and the difference are fractions
    (multiply by 100 for points).

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890.
    """
    if min(n1, n2) <= 0:
        raise ValueError("Both groups need at least one observation to compare proportions.")
    if interval not in ("wald", "newcombe"):
        raise ValueError(f"interval must be 'wald' or 'newcombe', got {interval!r}.")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = float(np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2))
    diff = float(p2 - p1)
    stat = diff / se_pooled if se_pooled > 0 else 0.0
    p_value = float(2 * _st.norm.sf(abs(stat)))
    if interval == "wald":
        z = z_value(confidence)
        low, high = diff - z * se, diff + z * se
    else:
        low1, high1 = wilson_interval(x1, n1, confidence)
        low2, high2 = wilson_interval(x2, n2, confidence)
        low = diff - float(np.hypot(p2 - low2, high1 - p1))
        high = diff + float(np.hypot(high2 - p2, p1 - low1))
    return Comparison(diff, se, float(stat), p_value, low, high, confidence)


def normal_difference(
    est1: float, se1: float, est2: float, se2: float, confidence: float = CONFIDENCE
) -> Comparison:
    """Difference est2 - est1 of two independent normal estimates, SE = sqrt(se1^2 + se2^2)."""
    se = float(np.hypot(se1, se2))
    diff = float(est2 - est1)
    stat = diff / se if se > 0 else 0.0
    p_value = float(2 * _st.norm.sf(abs(stat)))
    z = z_value(confidence)
    return Comparison(diff, se, stat, p_value, diff - z * se, diff + z * se, confidence)


def welch_test(a, b, confidence: float = CONFIDENCE) -> Comparison:
    """Welch's t test of mean(b) - mean(a), with the Welch-Satterthwaite interval."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's t test needs at least two observations in each group.")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    diff = float(b.mean() - a.mean())
    res = _st.ttest_ind(b, a, equal_var=False)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else np.inf
    t = float(_st.t.ppf(0.5 + confidence / 2, dof))
    stat = float(res.statistic) if se > 0 else 0.0
    p_value = float(res.pvalue) if se > 0 else 1.0
    return Comparison(diff, se, stat, p_value, diff - t * se, diff + t * se, confidence)


def mean_interval(values, confidence: float = CONFIDENCE) -> Estimate:
    """Mean with a Student t interval."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, float("nan"), float("nan"), 1)
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)
