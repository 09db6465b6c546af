"""How long customers stay: Kaplan-Meier survival curves and the log-rank test (SPEC section 4,
"Survival").

The engine reduces the transactions (or subscriptions) to counts by time and outcome
(:func:`retention_utils.engine.survival_counts`); this module turns them into the estimate.
Customers still in the base at the observation end are *censored*: we know they stayed at
least that long, not when they will leave. Estimates equal lifelines' ``KaplanMeierFitter``
(Greenwood variance, log(-log) intervals) and ``multivariate_logrank_test``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from retention_utils import engine
from retention_utils.formulas import simple_clv

__all__ = [
    "SurvivalComparison",
    "compare_survival",
    "kaplan_meier",
    "lifespan_comparison",
    "lifespan_figures",
    "median_figures",
    "subscription_survival",
    "survival_by_segment",
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
    segment_col: str | None = None,
    segment_value=None,
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
    segment_col, segment_value : optional
        Keep only the customers of one segment (``""``/None: all).

    Returns
    -------
    DataFrame
        :func:`kaplan_meier` columns (times in days), with the ``by`` column first when
        given. ``attrs["median_days"]``: a number, or a dict per segment with ``by``;
        without ``by``, ``attrs["cautions"]``: sentences for a report when the curve is too
        short for a median (nobody seen leaving, or more than half still in the base).
    """
    counts = engine.survival_counts(
        transactions,
        active_days=active_days,
        observation_end=observation_end,
        by=by,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    curve = _curves(counts, by, level)
    if not by:
        curve.attrs["cautions"] = _short_curve_cautions(curve, active_days)
    return curve


def _short_curve_cautions(curve: pd.DataFrame, active_days: int) -> list[str]:
    """Sentences for a report when the curve cannot give a median: nobody seen leaving, or
    more than half still in the base at its end."""
    if curve.empty:
        return []
    if int(curve["events"].sum()) == 0:
        return [
            "No customer has been seen leaving the base yet: a customer leaves "
            f"{active_days:,} days after their last purchase, and the longest follow-up is "
            f"{int(curve['time'].max()):,} days. The survival curve, its median and the "
            "survival-based lifespan need a longer history (or a shorter active_days)."
        ]
    if np.isnan(curve.attrs["median_days"]):
        return [
            "More than half the customers are still in the base at the end of the survival "
            f"curve ({curve['survival'].iloc[-1] * 100:.0f} % after {int(curve['time'].max()):,} "
            "days): the median lifetime is longer than the data show."
        ]
    return []


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
        One row: ``chi2``, ``df`` (groups - 1, less the groups with nobody at risk at any
        event time), ``p_value``, ``groups``.
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
    # A group nobody of which is at risk when an event happens (a few customers who all left
    # the data early) adds nothing and makes ``v`` singular: the pseudo-inverse leaves it
    # out, as lifelines does, and the degrees of freedom are those of the informative groups.
    u, v = observed_minus_expected[:-1], variance[:-1, :-1]
    chi2 = float(u @ np.linalg.pinv(v) @ u)
    dof = int(np.linalg.matrix_rank(v))
    return pd.DataFrame(
        {
            "chi2": [chi2],
            "df": [dof],
            "p_value": [float(stats.chi2.sf(chi2, dof))],
            "groups": [len(groups)],
        }
    )


def compare_survival(
    transactions: engine.Source,
    by: str,
    active_days: int = 365,
    observation_end=None,
    *,
    segment_col: str | None = None,
    segment_value=None,
) -> pd.DataFrame:
    """Log-rank test that the segments of ``by`` stay in the base equally long (SPEC
    section 4): one row ``chi2``, ``df``, ``p_value`` (multivariate for more than two
    segments), ``groups``."""
    counts = engine.survival_counts(
        transactions,
        active_days=active_days,
        observation_end=observation_end,
        by=by,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    return logrank_test(counts)


@dataclass(frozen=True)
class SurvivalComparison:
    """Survival by segment for a report: the curves, the log-rank test and one sentence."""

    #: One Kaplan-Meier curve per segment (:func:`survival_curve` with ``by``), or None.
    curves: pd.DataFrame | None
    #: The log-rank test (:func:`logrank_test`), or None when there is nothing to compare.
    test: pd.DataFrame | None
    #: What the test says, or why there is no comparison.
    sentence: str


def survival_by_segment(
    transactions: engine.Source,
    by: str | None,
    active_days: int = 365,
    observation_end=None,
    *,
    level: float = 0.95,
    segment_col: str | None = None,
    segment_value=None,
) -> SurvivalComparison:
    """Kaplan-Meier curves per segment of ``by`` and their log-rank test, or the reason
    there are none (no column given, the column missing, a single segment).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "b"], "amount": [5.0, 7.0],
    ...     "order_date": pd.to_datetime(["2024-01-01", "2024-02-01"]), "channel": "web"})
    >>> survival_by_segment(tx, "channel").sentence
    "No survival comparison: every customer has the same 'channel' (web)."
    """
    if not by:
        return SurvivalComparison(None, None, "No survival comparison: no segment column given.")
    if by not in engine.as_table(transactions).columns:
        return SurvivalComparison(
            None, None, f"No survival comparison: column {by!r} is not in the data."
        )
    curves = survival_curve(
        transactions,
        active_days,
        observation_end,
        by=by,
        level=level,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    groups = list(curves.attrs["customers"])
    if len(groups) < 2:
        return SurvivalComparison(
            curves,
            None,
            f"No survival comparison: every customer has the same {by!r} ({groups[0]}).",
        )
    counts = pd.concat(
        [part.assign(group=g) for g, part in curves.groupby(by, sort=True)], ignore_index=True
    )
    test = logrank_test(counts)
    chi2, dof, p = test.loc[0, "chi2"], int(test.loc[0, "df"]), test.loc[0, "p_value"]
    if dof == 0:
        return SurvivalComparison(
            curves,
            None,
            f"No survival comparison: only one {by} segment has customers in the base when "
            "customers leave.",
        )
    silent = len(groups) - 1 - dof
    left_out = (
        f" {silent} of them had nobody in the base when a customer left and add nothing."
        if silent
        else ""
    )
    verdict = (
        "stay in the base for different lengths of time"
        if p < 1 - level
        else "show no clear difference in how long they stay in the base"
    )
    return SurvivalComparison(
        curves,
        test,
        f"Log-rank test over {len(groups)} {by} segments: they {verdict} "
        f"(chi2 = {chi2:.1f}, {dof} df, {_p_text(p)}).{left_out}",
    )


def _p_text(p: float) -> str:
    """A p-value as a report writes it: "p < 0.001", "p = 0.003", "p = 0.41"."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def median_figures(curve: pd.DataFrame) -> list[dict]:
    """The headline figure of a :func:`survival_curve`: the median time in the base, in
    whole days (a Kaplan-Meier median is an event time), None when the curve stays above
    50 %, with the customers followed as a note."""
    median = curve.attrs.get("median_days")
    known = median is not None and np.isfinite(median)
    customers = int(curve["at_risk"].iloc[0]) if len(curve) else 0
    return [
        {
            "name": "median_lifetime_days",
            "value": int(round(median)) if known else None,
            "label": "Median time in the base (Kaplan-Meier)",
            "unit": "days",
            "note": f"{customers:,} customers followed"
            + ("" if known else "; more than half still in the base"),
        }
    ]


def lifespan_figures(lifespans: pd.DataFrame) -> list[dict]:
    """The headline figure of a :func:`lifespan_comparison`: the survival-based lifespan over
    the observed part of the curve (a lower bound), in years, with the held-flat upper
    bound as ``high``."""
    years = lifespans.set_index("lifespan")["lifespan_years"]
    return [
        {
            "name": "survival_lifespan_observed_years",
            "value": float(years["survival curve, observed part"]),
            "label": "Lifespan from the survival curve, observed part (lower bound)",
            "unit": "years",
            "note": f"held flat to 10 years: {years['survival curve, held flat']:.1f} years",
        }
    ]


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


def lifespan_comparison(
    clv_inputs: dict, curve: pd.DataFrame, *, max_years: float = 10.0
) -> pd.DataFrame:
    """The simple CLV with its lifespans side by side: ``1 / annual churn`` (from
    :func:`retention_utils.kpis.simple_clv_inputs`) and two readings of the survival curve,
    which bracket the expected time in the base: the area under the curve up to its last
    observed time (a lower bound: nobody is counted past the data) and the area with the
    curve held flat from there to ``max_years`` (an upper bound: nobody leaves after the
    data end).

    Returns
    -------
    DataFrame
        Three rows, ``lifespan`` (``"1 / annual churn"``, ``"survival curve, observed part"``,
        ``"survival curve, held flat"``), with ``lifespan_years``, ``aov`` (currency per
        order), ``purchase_frequency`` (orders per customer per year), ``clv`` (currency) and
        ``basis`` (how the lifespan was read, in words). Survival rows are NaN for an empty
        curve.
    """
    seen = float(curve["time"].max()) / 365.25 if len(curve) else 0.0
    end = float(curve["survival"].iloc[-1]) if len(curve) else np.nan
    observed = survival_lifespan_years(curve, max_years=seen) if len(curve) else np.nan
    held = survival_lifespan_years(curve, max_years=max_years) if len(curve) else np.nan
    lifespans = {
        "1 / annual churn": (
            clv_inputs["lifespan_years"],
            f"churn of the base over the last 365 days, capped at {max_years:g} years",
        ),
        "survival curve, observed part": (
            observed,
            f"area under the curve over the {seen:.1f} years observed (lower bound)",
        ),
        "survival curve, held flat": (
            held,
            f"the curve held at {end * 100:.0f} % from {seen:.1f} to {max_years:g} years (upper bound)",
        ),
    }
    aov, frequency = clv_inputs["aov"], clv_inputs["purchase_frequency"]
    return pd.DataFrame(
        [
            {
                "lifespan": name,
                "lifespan_years": years,
                "aov": aov,
                "purchase_frequency": frequency,
                "clv": simple_clv(aov, frequency, years),
                "basis": basis,
            }
            for name, (years, basis) in lifespans.items()
        ]
    )
