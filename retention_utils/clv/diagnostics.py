"""How far to trust the CLV models: parameters with intervals, model checks, the fit to the
calibration data, the holdout validation and the tracking of repeat purchases over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_utils.clv.base import model_unit_days, quiet_lifetimes, rfm_arrays
from retention_utils.clv.bgnbd import (
    DROPOUT_WARNING,
    dropout_probability,
    probability_of_purchases,
)
from retention_utils.clv.gamma_gamma import CORRELATION_WARNING
from retention_utils.stats import mean_interval

#: Fewer repeat buyers than this and the estimates are flagged as imprecise.
CAUTION_REPEAT_BUYERS = 100


def parameter_table(bgf, ggf=None) -> pd.DataFrame:
    """Fitted parameters with standard errors and 95% intervals (lifetimes' Hessian).

    Returns
    -------
    DataFrame
        One row per parameter: ``model``, ``parameter``, ``estimate``, ``se``, ``low``,
        ``high``. BG/NBD ``alpha`` is in the summary's time unit; Gamma-Gamma ``v`` is the
        paper's ``gamma``.
    """
    frames = []
    for model, fitter in (("BG/NBD", bgf), ("Gamma-Gamma", ggf)):
        if fitter is None:
            continue
        with quiet_lifetimes():
            summary = fitter.summary
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "parameter": summary.index,
                    "estimate": summary["coef"].to_numpy(),
                    "se": summary["se(coef)"].to_numpy(),
                    "low": summary["lower 95% bound"].to_numpy(),
                    "high": summary["upper 95% bound"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class HoldoutValidation:
    """Holdout checks of a BG/NBD model fitted on the calibration period.

    Attributes
    ----------
    by_frequency : DataFrame
        Per calibration-frequency bucket (0, 1, ..., ``max_frequency``+): ``customers``,
        ``actual`` mean holdout purchases with its 95% t interval (``actual_low``,
        ``actual_high``), ``predicted`` (BG/NBD) and ``naive`` (calibration rate times
        holdout length) mean holdout purchases.
    totals : DataFrame
        One row per method (``BG/NBD``, ``naive``): ``actual`` and ``predicted`` total holdout
        purchases, ``error_pct`` (predicted vs actual, percent), and per-customer ``mae``
        and ``rmse`` (purchases).
    per_customer : DataFrame
        ``actual``, ``predicted``, ``naive`` holdout purchases per customer.
    duration : float
        Holdout length in the summary's time unit.
    """

    by_frequency: pd.DataFrame
    totals: pd.DataFrame
    per_customer: pd.DataFrame
    duration: float


def model_checks(bgf, ggf=None, validation: HoldoutValidation | None = None) -> pd.DataFrame:
    """When (not) to trust the models: one row per check, with a status and its meaning.

    Checks: number of repeat buyers (caution below 100), penalizer used (caution when > 0),
    dropout identified (caution when ``a / (a + b)`` < 0.001), Gamma-Gamma independence
    (caution when ``|r|`` >= 0.3), Gamma-Gamma ``q`` (caution when <= 2: the spread of
    spend is then infinite and CLV is driven by a few customers), and, with a holdout
    validation, the error of total holdout purchases (caution beyond 10 %, poor beyond
    25 %).

    Returns
    -------
    DataFrame
        Columns ``check``, ``value`` (text), ``status`` (``ok``, ``caution`` or ``poor``)
        and ``meaning``.
    """
    rows = []
    n_repeat = getattr(bgf, "n_repeat_buyers_", None)
    if n_repeat is not None:
        rows.append(
            (
                "repeat buyers",
                f"{n_repeat:,} of {bgf.n_customers_:,}",
                "ok" if n_repeat >= CAUTION_REPEAT_BUYERS else "caution",
                "BG/NBD learns from repeat purchases; with fewer than "
                f"{CAUTION_REPEAT_BUYERS} repeat buyers its parameters are imprecise.",
            )
        )
    rows.append(
        (
            "BG/NBD penalizer",
            f"{bgf.penalizer_coef:g}",
            "ok" if bgf.penalizer_coef == 0 else "caution",
            "0 means a plain maximum-likelihood fit; a penalizer was needed to converge and "
            "shrinks the parameters.",
        )
    )
    dropout = dropout_probability(bgf)
    rows.append(
        (
            "dropout identified",
            f"a/(a+b) = {dropout:.3g}",
            "ok" if dropout >= DROPOUT_WARNING else "caution",
            "The chance that a customer stops after a purchase. Near 0, the data show no "
            "dropout and P(alive) is about 1 for everyone (it cannot flag churners).",
        )
    )
    if ggf is not None:
        corr = getattr(ggf, "correlation_", float("nan"))
        rows.append(
            (
                "spend independent of frequency",
                f"r = {corr:.2f}",
                "ok" if not abs(corr) >= CORRELATION_WARNING else "caution",
                "Gamma-Gamma assumes spend per purchase does not depend on how often a "
                f"customer buys; |r| >= {CORRELATION_WARNING} biases expected spend.",
            )
        )
        q = float(ggf.params_["q"])
        rows.append(
            (
                "spend distribution (Gamma-Gamma q)",
                f"q = {q:.2f}",
                "ok" if q > 2 else "caution",
                "q <= 2 means a heavy tail of big spenders: the average is unstable and a few "
                "customers drive total CLV.",
            )
        )
    if validation is not None:
        error = float(validation.totals.loc["BG/NBD", "error_pct"])
        status = "ok" if abs(error) <= 10 else ("caution" if abs(error) <= 25 else "poor")
        rows.append(
            (
                "holdout total purchases",
                f"{error:+.1f} % vs actual",
                status,
                "Predicted minus actual repeat purchases in the holdout, in percent of "
                "actual; within 10 % is good for planning totals.",
            )
        )
    return pd.DataFrame(rows, columns=["check", "value", "status", "meaning"])


def _bucket_labels(frequency: pd.Series, max_frequency: int) -> pd.Categorical:
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    codes = np.minimum(frequency.to_numpy(dtype=int), max_frequency)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def period_transactions(summary: pd.DataFrame, bgf, *, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases: actual vs expected under the fitted model.

    The expected count for ``x`` repeat purchases is ``sum_i P(X(T_i) = x)`` over customers
    (computed exactly, not simulated); the last bucket is ``max_frequency`` or more.

    Returns
    -------
    DataFrame
        ``frequency`` (bucket label), ``actual`` and ``expected`` (customers).
    """
    data = rfm_arrays(summary)
    buckets = _bucket_labels(data["frequency"], max_frequency)
    actual = pd.Series(buckets).value_counts(sort=False)
    ages = data["T"].value_counts()
    probs = np.column_stack(
        [probability_of_purchases(bgf, ages.index.to_numpy(), x) for x in range(max_frequency)]
    )
    expected = probs.T @ ages.to_numpy(dtype=float)
    expected = np.append(expected, len(data) - expected.sum())
    return pd.DataFrame(
        {"frequency": actual.index.astype(str), "actual": actual.to_numpy(), "expected": expected}
    )


def validate_holdout(
    calibration: pd.DataFrame, bgf, *, max_frequency: int = 7
) -> HoldoutValidation:
    """Compare holdout purchases with the BG/NBD predictions and a naive baseline.

    Parameters
    ----------
    calibration : DataFrame
        From :func:`~retention_utils.engine.calibration_holdout`.
    bgf
        BG/NBD model fitted on the calibration columns
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
    per_customer["bucket"] = _bucket_labels(data["frequency"], max_frequency)
    grouped = per_customer.groupby("bucket", observed=False)
    intervals = [mean_interval(group["actual"]) for _, group in grouped]
    by_frequency = pd.DataFrame(
        {
            "customers": grouped.size(),
            "actual": grouped["actual"].mean(),
            "actual_low": [e.low for e in intervals],
            "actual_high": [e.high for e in intervals],
            "predicted": grouped["predicted"].mean(),
            "naive": grouped["naive"].mean(),
        }
    )
    by_frequency.index = by_frequency.index.astype(str).rename("frequency_cal")
    per_customer = per_customer.drop(columns="bucket")
    rows = {}
    total_actual = float(per_customer["actual"].sum())
    for label, col in (("BG/NBD", "predicted"), ("naive", "naive")):
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
    return HoldoutValidation(by_frequency.reset_index(), totals, per_customer, duration)


def repeat_purchase_tracking(
    counts: pd.DataFrame,
    bgf,
    *,
    calibration_end=None,
    unit_days: float | None = None,
    period: str = "W",
) -> pd.DataFrame:
    """Repeat purchases over calendar time: actual vs expected under the fitted BG/NBD.

    Expected repeat purchases by day ``d`` are ``sum_c n_c E[X((d - c) / unit)]`` over the
    days ``c`` on which ``n_c`` customers made their first purchase (Fader, Hardie & Lee
    2005, figure 2), so customers acquired after the calibration period count too.

    Parameters
    ----------
    counts : DataFrame
        :func:`retention_utils.engine.purchase_tracking` output: ``day``,
        ``first_purchases`` and ``repeat_purchases`` per calendar day.
    bgf
        Fitted BG/NBD model (usually on the calibration period).
    calibration_end : date-like, optional
        Marked on the plots; recorded in ``attrs``.
    unit_days : float, optional
        Days per model time unit; default ``bgf.unit_days_`` set by ``fit_bgnbd``.
    period : {"W", "D", "M"}
        Calendar period of the rows (pandas alias; weeks end on Sunday).

    Returns
    -------
    DataFrame
        Indexed by period end (``day``; the last one is cut at the observation end):
        ``actual`` and ``expected`` repeat purchases in the period, ``actual_cumulative``
        and ``expected_cumulative`` up to the period end, and ``complete`` (False for a
        last period cut short).
    """
    days_per_unit = model_unit_days(bgf, unit_days)
    lags = np.arange(len(counts), dtype=float) / days_per_unit
    with quiet_lifetimes():
        per_customer = np.asarray(bgf.expected_number_of_purchases_up_to_time(lags), dtype=float)
    per_customer[0] = 0.0
    first = counts["first_purchases"].to_numpy(dtype=float)
    expected_cum = np.convolve(first, per_customer)[: len(counts)]
    daily = pd.DataFrame(
        {
            "actual_cumulative": counts["repeat_purchases"].cumsum().to_numpy(dtype=float),
            "expected_cumulative": expected_cum,
        },
        index=pd.DatetimeIndex(counts["day"], name="day"),
    )
    out = daily.resample(period).last() if period != "D" else daily.copy()
    last_day = daily.index[-1]
    out["complete"] = out.index <= last_day  # the last period may end after the data
    out.index = out.index.where(out.index <= last_day, last_day)
    out.index.name = "day"
    out.insert(0, "actual", out["actual_cumulative"].diff().fillna(out["actual_cumulative"]))
    out.insert(1, "expected", out["expected_cumulative"].diff().fillna(out["expected_cumulative"]))
    out.attrs.update(
        observation_end=counts.attrs.get("observation_end"),
        calibration_end=None
        if calibration_end is None
        else pd.Timestamp(calibration_end).date().isoformat(),
        period=period,
    )
    return out
