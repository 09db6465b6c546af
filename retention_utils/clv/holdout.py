"""The holdout period of a CLV report: how long it can be on this history
(:func:`holdout_plan`), and how the model fitted before it predicts it
(:func:`validate_holdout`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_utils.clv.base import (
    ModelDataError,
    quiet_lifetimes,
    rfm_arrays,
    summary_columns,
    unit_days_of,
)
from retention_utils.clv.models import family_of
from retention_utils.stats import mean_interval


@dataclass(frozen=True)
class HoldoutPlan:
    """The holdout a CLV report uses, chosen by :func:`holdout_plan`.

    Attributes
    ----------
    days : int
        Holdout length to use, in days (``holdout_days`` of
        :func:`~retention_utils.engine.calibration_holdout`).
    history_days : int
        Days from the first purchase to the observation end, both included.
    cautions : tuple of str
        One sentence when the holdout was shortened, else empty.
    """

    days: int
    history_days: int
    cautions: tuple[str, ...] = ()


def holdout_plan(summary: pd.DataFrame, holdout_days: int) -> HoldoutPlan:
    """The holdout length a report can use on this history, or a one-sentence refusal.

    A history (first purchase to observation end) no longer than ``holdout_days`` leaves no
    calibration period: the holdout is then shortened to a third of the history, with a
    caution saying so (SPEC section 6).

    Parameters
    ----------
    summary : DataFrame
        :func:`~retention_utils.engine.rfm_summary` of the whole history (``T`` and
        ``frequency``; ``attrs["unit_days"]`` and ``attrs["observation_end"]``). With
        calendar weeks (``freq="W"``) the history is counted from the first purchase week.
    holdout_days : int
        Holdout length asked for, in days.

    Returns
    -------
    HoldoutPlan
        ``days`` to pass as ``holdout_days`` to ``calibration_holdout``, the history length
        and the cautions.

    Raises
    ------
    ModelDataError
        No purchase day at all (every amount a return), all purchases on one day, or a
        history too short to hold out a third of it.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"frequency": [1.0, 0.0], "recency": [30.0, 0.0],
    ...                         "T": [59.0, 10.0]})
    >>> summary.attrs.update(unit_days=1, observation_end="2024-02-29")
    >>> holdout_plan(summary, 180).days
    20
    """
    if isinstance(holdout_days, bool) or not isinstance(holdout_days, int) or holdout_days < 1:
        raise ValueError(f"holdout_days must be a whole number of days >= 1, got {holdout_days!r}.")
    names = summary_columns(summary)
    if summary.empty:
        raise ModelDataError(
            "No customer has a purchase day (every customer-day is a return or is cancelled "
            "by its returns), so there is nothing to model."
        )
    end = pd.Timestamp(summary.attrs["observation_end"])
    unit_days = unit_days_of(summary, None)
    ages = summary[names["T"]].to_numpy(dtype=float)
    history = int(round(float(ages.max()) * unit_days)) + 1
    first = end - pd.Timedelta(days=history - 1)
    if (summary[names["frequency"]] == 0).all() and np.ptp(ages) == 0:
        raise ModelDataError(
            f"All purchases are on one day ({first.date()}), so no customer has a repeat "
            "purchase and the models have nothing to learn from."
        )
    if history > holdout_days:
        return HoldoutPlan(days=holdout_days, history_days=history)
    days = history // 3
    if days < 1:
        raise ModelDataError(
            f"The history is only {history} days long ({first.date()} to {end.date()}), too "
            "short to hold out a third of it to validate the model."
        )
    return HoldoutPlan(
        days=days,
        history_days=history,
        cautions=(
            f"The history is {history} days long ({first.date()} to {end.date()}), not "
            f"longer than the {holdout_days}-day holdout asked for, so the holdout was "
            f"shortened to {days} days (a third of the history) and the validation rests on "
            "a short period.",
        ),
    )


@dataclass(frozen=True)
class HoldoutValidation:
    """Holdout checks of a purchase model (BG/NBD, MBG/NBD, Pareto/NBD) fitted on the calibration period.

    Attributes
    ----------
    by_frequency : DataFrame
        Per calibration-frequency bucket (0, 1, ..., ``max_frequency``+): ``customers``,
        ``actual`` mean holdout purchases with its 95 % t interval (``actual_low``,
        ``actual_high``), ``predicted`` (the model) and ``naive`` (calibration rate times
        holdout length) mean holdout purchases.
    totals : DataFrame
        One row per method (the model's label, e.g. ``BG/NBD``, then ``naive``): ``actual`` and ``predicted`` total holdout
        purchases, ``error_pct`` (predicted vs actual, percent), and per-customer ``mae``
        and ``rmse`` (purchases).
    per_customer : DataFrame
        ``actual``, ``predicted``, ``naive`` holdout purchases per customer.
    duration : float
        Holdout length in the summary's time unit.
    model : str
        Name of the model validated (``BG/NBD``, ``MBG/NBD`` or ``Pareto/NBD``).
    """

    by_frequency: pd.DataFrame
    totals: pd.DataFrame
    per_customer: pd.DataFrame
    duration: float
    model: str = "BG/NBD"


def frequency_buckets(frequency: pd.Series, max_frequency: int) -> pd.Categorical:
    """Calibration-frequency buckets 0, 1, ..., ``max_frequency``+ (ordered labels)."""
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    codes = np.minimum(frequency.to_numpy(dtype=int), max_frequency)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def validate_holdout(
    calibration: pd.DataFrame, bgf, *, max_frequency: int = 7
) -> HoldoutValidation:
    """Compare holdout purchases with a purchase model's predictions and a naive baseline.

    Parameters
    ----------
    calibration : DataFrame
        From :func:`~retention_utils.engine.calibration_holdout`.
    bgf
        Purchase model fitted on the calibration columns
        (:func:`~retention_utils.clv.fit_bgnbd`).
    max_frequency : int
        Last frequency bucket (``max_frequency`` or more repeat purchases).

    Returns
    -------
    HoldoutValidation
        The naive baseline predicts ``frequency_cal / T_cal * duration_holdout`` (the
        customer's calibration purchase rate, 0 when ``T_cal`` is 0).
    """
    needed = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    missing = [c for c in needed if c not in calibration.columns]
    if missing:
        raise ValueError(
            f"validate_holdout needs the output of calibration_holdout; missing columns: "
            f"{', '.join(missing)}."
        )
    data = rfm_arrays(calibration)
    duration = float(calibration["duration_holdout"].iloc[0])
    actual = calibration["frequency_holdout"].astype(float)
    with quiet_lifetimes():
        predicted = bgf.conditional_expected_number_of_purchases_up_to_time(
            duration, data["frequency"], data["recency"], data["T"]
        )
    rate = (data["frequency"] / data["T"]).where(data["T"] > 0, 0.0)
    per_customer = pd.DataFrame(
        {
            "actual": actual.to_numpy(),
            "predicted": np.asarray(predicted, dtype=float),
            "naive": (rate * duration).to_numpy(),
        },
        index=calibration.index,
    )
    per_customer["bucket"] = frequency_buckets(data["frequency"], max_frequency)
    grouped = per_customer.groupby("bucket", observed=False)
    intervals = [mean_interval(group["actual"]) for _, group in grouped]
    by_frequency = pd.DataFrame(
        {
            "customers": grouped.size(),
            "actual": grouped["actual"].mean(),
            # A mean of purchase counts is never negative; a t interval on a few customers
            # would reach below 0 (0, 0, 0, 3: -1.6 to 3.1).
            "actual_low": np.maximum([e.low for e in intervals], 0.0),
            "actual_high": [e.high for e in intervals],
            "predicted": grouped["predicted"].mean(),
            "naive": grouped["naive"].mean(),
        }
    )
    by_frequency.index = by_frequency.index.astype(str).rename("frequency_cal")
    per_customer = per_customer.drop(columns="bucket")
    rows = {}
    total_actual = float(per_customer["actual"].sum())
    for label, col in ((family_of(bgf)[1].label, "predicted"), ("naive", "naive")):
        error = per_customer[col] - per_customer["actual"]
        total = float(per_customer[col].sum())
        rows[label] = {
            "actual": total_actual,
            "predicted": total,
            "error_pct": 100 * (total - total_actual) / total_actual if total_actual else np.nan,
            "mae": float(error.abs().mean()),
            "rmse": float(np.sqrt((error**2).mean())),
        }
    totals = pd.DataFrame.from_dict(rows, orient="index")
    totals.index.name = "method"
    return HoldoutValidation(
        by_frequency.reset_index(), totals, per_customer, duration, family_of(bgf)[1].label
    )


def calibration_overview(calibration: pd.DataFrame) -> pd.DataFrame:
    """The calibration/holdout split in a few lines, for reading.

    Returns
    -------
    DataFrame
        Columns ``what`` and ``value`` (text): where each period ends, the holdout length in
        the summary's time unit, customers and repeat buyers of the calibration period and
        repeat purchases in the holdout.
    """
    unit = {1: "days", 7: "weeks"}.get(calibration.attrs.get("unit_days"), "time units")
    rows = {
        "calibration period ends": calibration.attrs.get("calibration_end"),
        "holdout period ends": calibration.attrs.get("observation_end"),
        f"holdout length ({unit})": f"{float(calibration['duration_holdout'].iloc[0]):,.1f}",
        "customers in the calibration period": f"{len(calibration):,}",
        "of which repeat buyers": f"{int((calibration['frequency_cal'] > 0).sum()):,}",
        "repeat purchases in the holdout": f"{int(calibration['frequency_holdout'].sum()):,}",
    }
    return pd.DataFrame({"what": list(rows), "value": [str(v) for v in rows.values()]})
