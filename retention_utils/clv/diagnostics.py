"""How far to trust the CLV models: parameters with intervals, model checks, the fit to the
calibration data, the holdout validation and the tracking of repeat purchases over time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from retention_utils.clv.base import (
    ModelDataError,
    model_unit_days,
    penalizer_needed,
    quiet_lifetimes,
    rfm_arrays,
    summary_columns,
    unit_days_of,
)
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


#: Holdout error of total purchases (percent, either way) beyond which the model is flagged.
HOLDOUT_ERROR_CAUTION = 20.0
#: Gamma-Gamma ``q`` at or below which spend is too heavy-tailed for a stable average.
HEAVY_TAIL_Q = 2.0


def standard_errors_finite(fitter) -> bool:
    """True when every standard error of a fitted model's parameters is finite."""
    with quiet_lifetimes():
        se = fitter.summary["se(coef)"].to_numpy(dtype=float)
    return bool(np.all(np.isfinite(se)))


def dropout_identified(bgf) -> bool:
    """True when BG/NBD identifies dropout: ``a / (a + b) >= 0.001`` and finite standard
    errors (SPEC section 4, "Model choice"); otherwise P(alive) cannot flag churners."""
    return dropout_probability(bgf) >= DROPOUT_WARNING and standard_errors_finite(bgf)


def dropout_detail(bgf) -> str:
    """The figures behind :func:`dropout_identified`, as text for a sentence."""
    text = f"a / (a + b) = {dropout_probability(bgf):.1e} per purchase"
    return text if standard_errors_finite(bgf) else text + ", standard errors not finite"


class _Check(NamedTuple):
    """One model check: its name, figure (text), meaning, and caution sentence (None: ok)."""

    check: str
    value: str
    meaning: str
    caution: str | None


def _repeat_buyers_check(bgf) -> _Check:
    n_repeat, n = bgf.n_repeat_buyers_, bgf.n_customers_
    return _Check(
        "repeat buyers",
        f"{n_repeat:,} of {n:,}",
        "BG/NBD learns from repeat purchases; with fewer than "
        f"{CAUTION_REPEAT_BUYERS} repeat buyers its parameters are imprecise.",
        f"Only {n_repeat:,} of {n:,} customers are repeat buyers (fewer than "
        f"{CAUTION_REPEAT_BUYERS}), so the model parameters are imprecise (see their "
        "intervals)."
        if n_repeat < CAUTION_REPEAT_BUYERS
        else None,
    )


def _penalizer_check(model: str, fitter) -> _Check:
    return _Check(
        f"{model} penalizer",
        f"{fitter.penalizer_coef:g}",
        "0 means a plain maximum-likelihood fit; a larger penalizer than asked for was "
        "needed to converge when the status is caution, and it shrinks the parameters.",
        f"The {model} fit converged only with a penalizer of {fitter.penalizer_coef:g} "
        f"(asked: {fitter.penalizer_ladder_[0]:g}), which shrinks its parameters towards 0, "
        "so check the holdout validation before relying on its predictions."
        if penalizer_needed(fitter)
        else None,
    )


def _dropout_check(bgf) -> _Check:
    value = f"a/(a+b) = {dropout_probability(bgf):.3g}"
    return _Check(
        "dropout identified",
        value if standard_errors_finite(bgf) else value + "; standard errors not finite",
        "The chance that a customer stops after a purchase. Near 0 (or with standard "
        "errors that are not finite), the data show no dropout and P(alive) is about 1 "
        "for everyone (it cannot flag churners).",
        None
        if dropout_identified(bgf)
        else f"The BG/NBD fit does not identify customer dropout ({dropout_detail(bgf)}), "
        "so P(alive) is about 1 for everyone and cannot flag customers at risk: rank "
        "customers by CLV and expected purchases instead.",
    )


def _correlation_check(ggf) -> _Check:
    corr = getattr(ggf, "correlation_", float("nan"))
    return _Check(
        "spend independent of frequency",
        f"r = {corr:.2f}",
        "Gamma-Gamma assumes spend per purchase does not depend on how often a customer "
        f"buys; |r| >= {CORRELATION_WARNING} biases expected spend.",
        f"Frequency and spend per purchase are correlated (Pearson r = {corr:.2f} over "
        f"{ggf.n_customers_:,} repeat buyers), against the Gamma-Gamma assumption of "
        "independence, so expected spend and CLV are biased for frequent or infrequent "
        "buyers."
        if abs(corr) >= CORRELATION_WARNING
        else None,
    )


def _heavy_tail_check(ggf) -> _Check:
    q = float(ggf.params_["q"])
    return _Check(
        "spend distribution (Gamma-Gamma q)",
        f"q = {q:.2f}",
        f"q <= {HEAVY_TAIL_Q:g} means a heavy tail of big spenders: the average is unstable "
        "and a few customers drive total CLV.",
        f"Spend per purchase has a heavy tail (Gamma-Gamma q = {q:.2f}, at most "
        f"{HEAVY_TAIL_Q:g}), so a few big spenders drive total CLV and their values are "
        "uncertain."
        if q <= HEAVY_TAIL_Q
        else None,
    )


def _holdout_check(validation: HoldoutValidation) -> _Check:
    totals = validation.totals.loc["BG/NBD"]
    error = float(totals["error_pct"])
    meaning = (
        "Predicted minus actual repeat purchases in the holdout, in percent of actual; "
        f"within ±{HOLDOUT_ERROR_CAUTION:g} % the model is usable for planning totals."
    )
    if np.isnan(error):
        return _Check(
            "holdout total purchases",
            "no holdout purchase",
            meaning,
            "There is no repeat purchase in the holdout period, so the model could not be "
            "checked against it.",
        )
    return _Check(
        "holdout total purchases",
        f"{error:+.1f} % vs actual",
        meaning,
        f"The model's total of holdout purchases is {error:+.1f} % off the actual "
        f"({totals['predicted']:,.0f} predicted, {totals['actual']:,.0f} actual), beyond "
        f"±{HOLDOUT_ERROR_CAUTION:g} %, so its purchase and CLV figures are not reliable "
        "for planning."
        if abs(error) > HOLDOUT_ERROR_CAUTION
        else None,
    )


def _checks(bgf, ggf, validation) -> list[_Check]:
    checks = []
    if getattr(bgf, "n_repeat_buyers_", None) is not None:  # fitted by fit_bgnbd
        checks.append(_repeat_buyers_check(bgf))
    checks += [_penalizer_check("BG/NBD", bgf), _dropout_check(bgf)]
    if ggf is not None:
        checks += [
            _penalizer_check("Gamma-Gamma", ggf),
            _correlation_check(ggf),
            _heavy_tail_check(ggf),
        ]
    if validation is not None:
        checks.append(_holdout_check(validation))
    return checks


def model_checks(bgf, ggf=None, validation: HoldoutValidation | None = None) -> pd.DataFrame:
    """When (not) to trust the models: one row per check, with a status and its meaning.

    Checks: number of repeat buyers (caution below 100), penalizer (caution when a larger
    one than asked for was needed), dropout identified (caution when ``a / (a + b)`` <
    0.001 or a standard error is not finite), Gamma-Gamma independence (caution when
    ``|r|`` >= 0.3), Gamma-Gamma ``q`` (caution when <= 2: the spread of spend is then
    infinite and CLV is driven by a few customers), and, with a holdout validation, the
    error of total holdout purchases (caution beyond ±20 %, or no holdout purchase).

    Returns
    -------
    DataFrame
        Columns ``check``, ``value`` (text), ``status`` (``ok`` or ``caution``) and
        ``meaning``. :func:`model_cautions` gives a sentence for each ``caution``.
    """
    rows = [
        (c.check, c.value, "ok" if c.caution is None else "caution", c.meaning)
        for c in _checks(bgf, ggf, validation)
    ]
    return pd.DataFrame(rows, columns=["check", "value", "status", "meaning"])


def model_cautions(bgf, ggf=None, validation: HoldoutValidation | None = None) -> list[str]:
    """The cautions of the model checks, each one plain sentence with its figure.

    One sentence per check of :func:`model_checks` whose status is ``caution``: dropout
    not identified (``a / (a + b) < 0.001`` or a standard error not finite), fewer than 100
    repeat buyers, a penalizer needed to converge, Gamma-Gamma frequency-spend correlation
    of 0.3 or more, heavy-tailed spend (``q <= 2``), holdout error beyond ±20 %. A report
    passes each to :func:`retention_utils.record.caution`.

    Returns
    -------
    list of str
        Empty when every check is ok.

    Examples
    --------
    >>> for text in model_cautions(bgf, ggf, validation):  # doctest: +SKIP
    ...     caution(text, section="CLV")
    """
    return [c.caution for c in _checks(bgf, ggf, validation) if c.caution is not None]


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
