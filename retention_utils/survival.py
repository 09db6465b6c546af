"""How long customers stay: Kaplan-Meier survival curves and the log-rank test (SPEC section 4,
"Survival").

The engine reduces the transactions (or subscriptions) to counts by time and outcome
(:func:`retention_utils.engine.survival_counts`); this module turns them into the estimate.
Customers still in the base at the observation end are *censored*: we know they stayed at
least that long, not when they will leave. Estimates equal lifelines' ``KaplanMeierFitter``
(Greenwood variance, log(-log) intervals) and ``multivariate_logrank_test``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from retention_utils import engine

__all__ = [
    "compare_survival",
    "kaplan_meier",
    "subscription_survival",
    "survival_curve",
    "survival_lifespan_years",
]

#: Columns of a survival curve.
CURVE_COLUMNS = ["time", "at_risk", "events", "censored", "survival", "low", "high"]


def kaplan_meier(counts: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate from counts by time (one group).

    Parameters
    ----------
    counts : DataFrame
        ``time``, ``events``, ``censored`` (several rows per time are summed).
    level : float
        Confidence level of the pointwise interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per distinct time: ``time``, ``at_risk`` (customers whose time is at least
        this one), ``events``, ``censored``, ``survival`` (share still in the base just after
        ``time``, 0-1) and its interval ``low``, ``high`` (Greenwood variance with the
        log(-log) transform, as lifelines). ``attrs["median_days"]``: the first time the
        survival falls to 0.5 or below, NaN when it never does; ``attrs["customers"]``.

    Examples
    --------
    >>> counts = pd.DataFrame({"time": [5, 8, 8, 12], "events": [1, 1, 0, 0],
    ...                        "censored": [0, 0, 1, 1]})
    >>> kaplan_meier(counts)["survival"].round(4).tolist()
    [0.75, 0.5, 0.5]
    >>> float(kaplan_meier(counts).attrs["median_days"])
    8.0
    """
    grouped = counts.groupby("time", sort=True)[["events", "censored"]].sum()
    time = grouped.index.to_numpy(dtype="int64")
    events = grouped["events"].to_numpy(dtype="int64")
    censored = grouped["censored"].to_numpy(dtype="int64")
    leaving = events + censored
    at_risk = leaving[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - events / at_risk)
        # Greenwood: sum of d / (n (n - d)); a step that empties the base adds nothing
        step = np.where(at_risk > events, events / (at_risk * (at_risk - events)), 0.0)
        greenwood = np.cumsum(step)
        z = stats.norm.ppf(0.5 + level / 2)
        log_s = np.log(survival)
        spread = z * np.sqrt(greenwood) / log_s
        low = np.exp(-np.exp(np.log(-log_s) - spread))
        high = np.exp(-np.exp(np.log(-log_s) + spread))
    # Where the survival is 1 (no event yet) or 0 the interval is the point itself.
    flat = (survival >= 1.0) | (survival <= 0.0)
    low = np.where(flat, survival, low)
    high = np.where(flat, survival, high)
    out = pd.DataFrame(
        {
            "time": time,
            "at_risk": at_risk,
            "events": events,
            "censored": censored,
            "survival": survival,
            "low": low,
            "high": high,
        }
    )
    below = np.flatnonzero(survival <= 0.5)
    out.attrs["median_days"] = float(time[below[0]]) if len(below) else float("nan")
    out.attrs["customers"] = int(leaving.sum())
    return out


def _curves(counts: pd.DataFrame, by: str | None, level: float) -> pd.DataFrame:
    if not by:
        curve = kaplan_meier(counts, level=level)
        curve.attrs["observation_end"] = counts.attrs.get("observation_end")
        return curve
    parts, medians, sizes = [], {}, {}
    for group, part in counts.groupby("group", sort=True):
        curve = kaplan_meier(part, level=level)
        medians[group], sizes[group] = curve.attrs["median_days"], curve.attrs["customers"]
        parts.append(curve.assign(**{by: group})[[by, *CURVE_COLUMNS]])
    out = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[by, *CURVE_COLUMNS])
    )
    out.attrs.update(
        median_days=medians, customers=sizes, observation_end=counts.attrs.get("observation_end")
    )
    return out


def survival_curve(
    transactions: engine.Source,
    active_days: int = 365,
    observation_end=None,
    by: str | None = None,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan-Meier curve of the time a customer stays in the base (SPEC section 4).

    A customer is in the base while their last purchase is less than ``active_days`` days
    old (the definition of the KPI table). Time counts from the first purchase day.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    active_days : int
        Days without a purchase after which a customer has left the base (default 365).
    observation_end : date-like, optional
        Last day of data (inclusive); default the last transaction day.
    by : str, optional
        Segment column: one curve per segment (a customer's value on their first purchase
        day).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        :func:`kaplan_meier` columns (times in days), with the ``by`` column first when
        given. ``attrs["median_days"]``: a number, or a dict per segment with ``by``.
    """
    counts = engine.survival_counts(
        transactions, active_days=active_days, observation_end=observation_end, by=by
    )
    return _curves(counts, by, level)


def subscription_survival(
    subscriptions: engine.Source,
    observation_end=None,
    by: str | None = None,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan-Meier curve of the time from a customer's first subscription start to their
    last subscription end (censored while a subscription is active). Columns as
    :func:`survival_curve`; default ``observation_end``: the latest start or end date."""
    counts = engine.subscription_survival_counts(
        subscriptions, observation_end=observation_end, by=by
    )
    return _curves(counts, by, level)


def logrank_test(counts: pd.DataFrame) -> pd.DataFrame:
    """The (multivariate) log-rank test that the groups of ``counts`` (``group``, ``time``,
    ``events``, ``censored``) share one survival curve.

    Returns
    -------
    DataFrame
        One row: ``chi2``, ``df`` (groups - 1), ``p_value``, ``groups``.
    """
    table = counts.pivot_table(
        index="time", columns="group", values=["events", "censored"], aggfunc="sum", fill_value=0
    ).sort_index()
    events = table["events"].to_numpy(dtype=float)
    leaving = events + table["censored"].to_numpy(dtype=float)
    groups = list(table["events"].columns)
    if len(groups) < 2:
        raise ValueError(
            f"The log-rank test compares at least two groups; found {len(groups)} "
            f"({', '.join(map(str, groups)) or 'none'})."
        )
    at_risk = leaving[::-1].cumsum(axis=0)[::-1]
    n = at_risk.sum(axis=1)
    d = events.sum(axis=1)
    keep = d > 0
    n, d, at_risk, events = n[keep], d[keep], at_risk[keep], events[keep]
    share = at_risk / n[:, None]
    observed_minus_expected = (events - d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = np.einsum("t,tg,th->gh", factor, share, -share)
    variance[np.diag_indices(len(groups))] += (factor[:, None] * share).sum(axis=0)
    u, v = observed_minus_expected[:-1], variance[:-1, :-1]
    chi2 = float(u @ np.linalg.solve(v, u))
    dof = len(groups) - 1
    return pd.DataFrame(
        {
            "chi2": [chi2],
            "df": [dof],
            "p_value": [float(stats.chi2.sf(chi2, dof))],
            "groups": [len(groups)],
        }
    )


def compare_survival(
    transactions: engine.Source, by: str, active_days: int = 365, observation_end=None
) -> pd.DataFrame:
    """Log-rank test that the segments of ``by`` stay in the base equally long (SPEC
    section 4): one row ``chi2``, ``df``, ``p_value`` (multivariate for more than two
    segments), ``groups``."""
    counts = engine.survival_counts(
        transactions, active_days=active_days, observation_end=observation_end, by=by
    )
    return logrank_test(counts)


def survival_lifespan_years(curve: pd.DataFrame, *, max_years: float = 10.0) -> float:
    """Expected time in the base, in years: the area under the survival curve (restricted
    to ``max_years``), the survival-based alternative to ``1 / annual churn`` for the simple
    CLV. The curve is flat after its last time (an upper estimate when it ends high)."""
    time = np.r_[0.0, curve["time"].to_numpy(dtype=float)]
    survival = np.r_[1.0, curve["survival"].to_numpy(dtype=float)]
    horizon = max_years * 365.25
    time = np.minimum(time, horizon)
    area = float(np.sum(np.diff(time) * survival[:-1]))
    area += (horizon - time[-1]) * survival[-1]
    return area / 365.25
