"""Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, holdout validation.

The models are lifetimes' ``BetaGeoFitter`` (BG/NBD, Fader, Hardie & Lee 2005) and
``GammaGammaFitter`` (Fader, Hardie & Lee 2005b). This is the only module that imports
lifetimes, and it does so lazily and without lifetimes' global side effects (a FutureWarning
filter, a pandas option, prints on failure). Everything lifetimes does wrong on the current
stack (holdout split, alive paths, tracking and heatmap plots) is done here or in
:mod:`retention_utils.engine` and :mod:`retention_utils.plots.clv` instead.

Inputs are the per-customer summaries of :func:`retention_utils.engine.rfm_summary`
(``frequency``, ``recency``, ``T``, ``monetary_value``) or
:func:`retention_utils.engine.calibration_holdout` (the same with ``_cal``); their time unit
is read from ``attrs["unit_days"]``.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as _st

from retention_utils import engine
from retention_utils.config import CUSTOMER
from retention_utils.stats import mean_interval

#: Fewer repeat buyers than this and the models are not fitted (see :func:`fit_bgnbd`).
MIN_REPEAT_BUYERS = 10
#: Penalizers tried in turn when a fit does not converge.
PENALIZER_LADDER = (0.0, 0.001, 0.01, 0.1)
#: Optimizer tolerances tried for each penalizer (lifetimes' default first).
FIT_TOLERANCES = (1e-7, 1e-6)
#: A month is 30 days, as in lifetimes' ``customer_lifetime_value``.
DAYS_PER_MONTH = 30
#: |correlation| between frequency and spend from which the Gamma-Gamma fit warns.
CORRELATION_WARNING = 0.3
#: Mean dropout probability per purchase, a / (a + b), below which BG/NBD finds no dropout.
DROPOUT_WARNING = 1e-3
#: Fewer repeat buyers than this and the estimates are flagged as imprecise.
CAUTION_REPEAT_BUYERS = 100
#: Time units offered to analysts: ``"W"`` is exact fractional weeks, as in the CDNOW paper.
TIME_UNITS = {"D": {"freq": "D", "freq_multiplier": 1}, "W": {"freq": "D", "freq_multiplier": 7}}
#: Value segments of :func:`customer_table`, best first.
SEGMENTS = (
    "high value, active",
    "high value at risk",
    "active",
    "at risk",
    "one-time buyer",
)


class PenalizerWarning(UserWarning):
    """A model fit needed a larger penalizer than requested to converge."""


class ModelAssumptionWarning(UserWarning):
    """The data break an assumption of a model (e.g. spend correlated with frequency)."""


# --- lifetimes, without its side effects --------------------------------------------------

_lifetimes_cache: dict[str, Any] = {}


def _lifetimes() -> dict[str, Any]:
    """lifetimes' fitters and ConvergenceError, imported once, global state restored."""
    if not _lifetimes_cache:
        with warnings.catch_warnings():
            # Reading and restoring the deprecated option warns on pandas 3 (inside this
            # block only); lifetimes' FutureWarning filter is undone when the block exits.
            warnings.simplefilter("ignore", category=pd.errors.Pandas4Warning)
            try:
                option = pd.get_option("mode.chained_assignment")
            except (KeyError, pd.errors.OptionError):  # option removed (pandas 4)
                option = None
            try:
                from lifetimes import BetaGeoFitter, GammaGammaFitter
                from lifetimes.utils import ConvergenceError
            finally:
                if option is not None:
                    pd.set_option("mode.chained_assignment", option)
        _lifetimes_cache.update(
            BetaGeoFitter=BetaGeoFitter,
            GammaGammaFitter=GammaGammaFitter,
            ConvergenceError=ConvergenceError,
        )
    return _lifetimes_cache


@contextlib.contextmanager
def _quiet_lifetimes() -> Iterator[None]:
    """Run lifetimes code: undo the warning filters it sets, hide what it prints.

    Floating-point warnings are off inside: the optimizer explores extreme parameters, and
    degenerate fits (NaN standard errors, non-finite predictions) are checked explicitly.
    """
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
    ):
        warnings.filterwarnings(
            "ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes(\.|$)"
        )
        yield


# --- inputs -------------------------------------------------------------------------------


def time_unit(name: str) -> dict[str, Any]:
    """``freq`` and ``freq_multiplier`` for a time unit: ``"D"`` days or ``"W"`` weeks.

    Weeks are exact fractional weeks (``freq="D", freq_multiplier=7``), the units of the
    CDNOW paper, so purchases keep their day and no information is lost to week boundaries.
    """
    if name not in TIME_UNITS:
        raise ValueError(f"time_unit must be 'D' (days) or 'W' (weeks), got {name!r}.")
    return dict(TIME_UNITS[name])


def _columns(summary: pd.DataFrame, *, monetary: bool = False) -> dict[str, str]:
    """Column names of an RFM summary: plain (rfm_summary) or ``_cal`` (calibration_holdout)."""
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(
            f"Expected the DataFrame returned by rfm_summary or calibration_holdout, got "
            f"{type(summary).__name__}."
        )
    wanted = ["frequency", "recency", "T"] + (["monetary_value"] if monetary else [])
    for suffix in ("", "_cal"):
        names = {col: col + suffix for col in wanted}
        if all(name in summary.columns for name in names.values()):
            return names
    raise ValueError(
        f"The summary needs the columns {', '.join(wanted)} (as returned by rfm_summary) or "
        f"{', '.join(c + '_cal' for c in wanted)} (calibration_holdout); found: "
        f"{', '.join(map(str, summary.columns)) or 'no columns'}."
    )


def _rfm_arrays(summary: pd.DataFrame, *, monetary: bool = False) -> pd.DataFrame:
    """frequency, recency, T (and monetary_value) as floats, checked as lifetimes needs them."""
    names = _columns(summary, monetary=monetary)
    if summary.empty:
        raise ValueError("The summary has no customers: there is nothing to fit.")
    data = pd.DataFrame(
        {key: pd.to_numeric(summary[col], errors="coerce") for key, col in names.items()}
    ).astype("float64")
    problems = []
    for key in data.columns:
        bad = int(data[key].isna().sum())
        if bad:
            problems.append(f"{bad} missing or non-numeric value(s) in {names[key]}")
    if not problems:
        if (data[["frequency", "recency", "T"]] < 0).to_numpy().any():
            problems.append("negative frequency, recency or T")
        if (data["frequency"] % 1 != 0).any():
            problems.append("frequency must be a whole number of repeat purchases")
        if (data["recency"] > data["T"]).any():
            n = int((data["recency"] > data["T"]).sum())
            problems.append(f"{n} customer(s) with recency > T")
        if ((data["frequency"] == 0) & (data["recency"] != 0)).any():
            problems.append("recency must be 0 when frequency is 0")
    if problems:
        raise ValueError(
            "The RFM summary is not valid for the models: "
            + "; ".join(problems)
            + ". Build it with retention_utils.rfm_summary from the transactions."
        )
    return data


def _unit_days(summary: pd.DataFrame, unit_days: float | None) -> float:
    value = unit_days if unit_days is not None else summary.attrs.get("unit_days")
    if value is None:
        raise ValueError(
            "The time unit of the summary is unknown: it has no attrs['unit_days'] (days per "
            "unit, set by rfm_summary and calibration_holdout). Pass unit_days= (1 for days, "
            "7 for weeks)."
        )
    value = float(value)
    if not value > 0:
        raise ValueError(f"unit_days must be > 0 (days per time unit), got {value}.")
    return value


def _check_repeat_buyers(n_repeat: int, n: int, minimum: int, model: str) -> None:
    if n_repeat == 0:
        raise ValueError(
            f"All {n:,} customers are one-time buyers (frequency 0): the {model} model learns "
            "from repeat purchases and cannot be fitted. Use a longer observation period, a "
            "finer time unit (days instead of weeks), or check that repeat orders of the same "
            "customer share one customer ID."
        )
    if n_repeat < minimum:
        raise ValueError(
            f"Only {n_repeat} of {n:,} customers made a repeat purchase; the {model} model "
            f"needs at least {minimum} to estimate its parameters. Use a longer observation "
            "period or more customers (e.g. no segment filter)."
        )


def _ladder(penalizer: float | None) -> tuple[float, ...]:
    if penalizer is None:
        return PENALIZER_LADDER
    try:
        value = float(penalizer)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"penalizer must be a number >= 0, got {penalizer!r}.") from exc
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"penalizer must be a number >= 0, got {penalizer!r}.")
    return (value, *[p for p in PENALIZER_LADDER if p > value])


def _fit_with_ladder(
    fit: Callable[[float, float], Any],
    penalizer: float | None,
    model: str,
    usable: Callable[[Any], bool] = lambda fitter: True,
):
    """Fit with the first (penalizer, tolerance) that converges to usable parameters.

    For each penalizer of the ladder, lifetimes' default tolerance is tried, then a looser
    one: when the likelihood is flat in one direction (e.g. no detectable dropout, the
    BG/NBD ``a`` going to 0), scipy stops with "precision loss" although the gradient is
    below 1e-6, and lifetimes reports that as non-convergence.
    """
    convergence_error = _lifetimes()["ConvergenceError"]
    ladder = _ladder(penalizer)
    tried: list[tuple[float, float]] = []
    for value in ladder:
        for tol in FIT_TOLERANCES:
            tried.append((value, tol))
            try:
                with _quiet_lifetimes():
                    fitter = fit(value, tol)
            except (convergence_error, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(fitter.params_.to_numpy())) or not usable(fitter):
                continue
            fitter.penalizer_ladder_ = tuple(dict.fromkeys(p for p, _ in tried))
            fitter.tol_ = tol
            if value != ladder[0]:
                warnings.warn(
                    f"The {model} fit did not converge with penalizer {ladder[0]}; it "
                    f"converged with penalizer_coef={value}, which shrinks the parameters "
                    "towards 0. Compare its predictions with the holdout before relying on "
                    "them.",
                    PenalizerWarning,
                    stacklevel=3,
                )
            return fitter
    penalizers = ", ".join(f"{p:g}" for p in dict.fromkeys(p for p, _ in tried))
    raise ValueError(
        f"The {model} model did not converge with any penalizer ({penalizers}). The data "
        "may not follow the model (e.g. almost every customer buys at a fixed interval, or "
        "a few customers dominate); check the frequency distribution, remove test or "
        "wholesale accounts, or try a larger penalizer."
    )


def _predicts(bgf) -> bool:
    """True when the BG/NBD predictions are finite on the fitted data (not degenerate)."""
    data = bgf.data
    with _quiet_lifetimes(), np.errstate(all="ignore"):
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(
            1.0, data["frequency"], data["recency"], data["T"]
        )
        alive = bgf.conditional_probability_alive(
            data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy()
        )
    return bool(np.all(np.isfinite(expected)) and np.all(np.isfinite(alive)))


# --- models -------------------------------------------------------------------------------


def fit_bgnbd(
    summary: pd.DataFrame,
    penalizer: float | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
):
    """Fit the BG/NBD model of repeat purchases and customer dropout.

    Each customer buys at a Poisson rate ``lambda`` (Gamma(r, alpha) across customers) while
    alive and, after each purchase, drops out with probability ``p`` (Beta(a, b) across
    customers). Identical (frequency, recency, T) rows are fitted once through lifetimes'
    ``weights`` (same likelihood, so the same parameters as an unweighted fit).

    Parameters
    ----------
    summary : DataFrame
        From :func:`~retention_utils.engine.rfm_summary` (``frequency``, ``recency``,
        ``T``) or :func:`~retention_utils.engine.calibration_holdout` (``_cal`` columns).
    penalizer : float, optional
        L2 penalizer of lifetimes. ``None`` (default) tries 0, 0.001, 0.01, 0.1 in turn until
        the fit converges; a number is tried first, then the larger values of that ladder.
    min_repeat_buyers : int
        Refuse to fit with fewer customers with ``frequency > 0`` (default 10).

    Returns
    -------
    lifetimes.BetaGeoFitter
        Fitted; ``params_`` (r, alpha, a, b; alpha in the summary's time unit),
        ``penalizer_coef`` (the penalizer used), plus ``penalizer_ladder_`` (penalizers
        tried), ``tol_`` (optimizer tolerance used), ``log_likelihood_`` (total,
        unpenalized, in the summary's units), ``n_customers_``, ``n_repeat_buyers_`` and
        ``unit_days_`` (days per time unit).

    Raises
    ------
    ValueError
        Invalid summary, all customers one-time buyers, fewer than ``min_repeat_buyers``
        repeat buyers, or no convergence with any penalizer.

    Warns
    -----
    PenalizerWarning
        When a larger penalizer than requested was needed.
    ModelAssumptionWarning
        When the fit finds no dropout (mean dropout probability per purchase
        ``a / (a + b)`` below 0.001): P(alive) is then about 1 for everyone and says
        nothing about churn.

    References
    ----------
    Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284.
    """
    data = _rfm_arrays(summary)
    n, n_repeat = len(data), int((data["frequency"] > 0).sum())
    _check_repeat_buyers(n_repeat, n, min_repeat_buyers, "BG/NBD")
    rows = data.groupby(["frequency", "recency", "T"]).size().rename("weights").reset_index()
    fitter_class = _lifetimes()["BetaGeoFitter"]

    def fit(value: float, tol: float):
        return fitter_class(penalizer_coef=value).fit(
            rows["frequency"].to_numpy(),
            rows["recency"].to_numpy(),
            rows["T"].to_numpy(),
            weights=rows["weights"].to_numpy(),
            tol=tol,
        )

    fitter = _fit_with_ladder(fit, penalizer, "BG/NBD", _predicts)
    fitter.log_likelihood_ = bgnbd_log_likelihood(fitter)
    fitter.n_customers_ = n
    fitter.n_repeat_buyers_ = n_repeat
    fitter.unit_days_ = summary.attrs.get("unit_days")
    dropout = _dropout_probability(fitter)
    if dropout < DROPOUT_WARNING:
        warnings.warn(
            f"The BG/NBD fit finds no dropout (a / (a + b) = {dropout:.1e} per purchase): "
            "customers look as if they never stop buying, so P(alive) is about 1 for "
            "everyone and cannot flag churners. Expected purchases are still usable; a "
            "longer history usually reveals dropout.",
            ModelAssumptionWarning,
            stacklevel=2,
        )
    return fitter


def _dropout_probability(bgf) -> float:
    a, b = float(bgf.params_["a"]), float(bgf.params_["b"])
    return a / (a + b)


def bgnbd_log_likelihood(bgf, summary: pd.DataFrame | None = None) -> float:
    """Total BG/NBD log-likelihood of a summary (default: the fitted data), unpenalized.

    In the summary's time unit: -9582.4 for the CDNOW sample in weeks (Fader, Hardie & Lee
    2005, with r=0.243, alpha=4.414, a=0.793, b=2.426).
    """
    if summary is None:
        data = bgf.data
        weights = data["weights"].to_numpy(dtype=float)
    else:
        data = _rfm_arrays(summary)
        weights = np.ones(len(data))
    log_params = np.log(bgf.params_[["r", "alpha", "a", "b"]].to_numpy(dtype=float))
    with _quiet_lifetimes():
        mean_nll = bgf._negative_log_likelihood(
            log_params,
            data["frequency"].to_numpy(dtype=float),
            data["recency"].to_numpy(dtype=float),
            data["T"].to_numpy(dtype=float),
            weights,
            0.0,
        )
    return float(-mean_nll * weights.sum())


def fit_gamma_gamma(
    summary: pd.DataFrame,
    penalizer: float | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
):
    """Fit the Gamma-Gamma model of average spend per repeat purchase.

    Uses the customers with ``frequency > 0`` and ``monetary_value > 0``; identical
    (frequency, monetary_value) rows are fitted once through ``weights``. The model assumes
    that a customer's spend per purchase is independent of how often they buy: the Pearson
    correlation between frequency and monetary value is reported (``correlation_``) and a
    :class:`ModelAssumptionWarning` is issued when it is 0.3 or more in absolute value.

    Parameters
    ----------
    summary : DataFrame
        With ``frequency`` and ``monetary_value`` (or the ``_cal`` columns).
    penalizer : float, optional
        As in :func:`fit_bgnbd`.
    min_repeat_buyers : int
        Refuse to fit with fewer repeat buyers with positive spend (default 10).

    Returns
    -------
    lifetimes.GammaGammaFitter
        Fitted; ``params_`` (p, q, v, where v is the paper's gamma), ``penalizer_coef``,
        ``penalizer_ladder_``, ``correlation_`` and ``correlation_p_value_`` (frequency vs
        spend), ``n_customers_`` (customers used) and ``n_excluded_`` (repeat buyers left out
        for a spend <= 0).

    Raises
    ------
    ValueError
        Too few repeat buyers with positive spend, no convergence, or a fitted ``q <= 1``
        (the model's mean spend is then infinite: spend is too heavy-tailed).

    References
    ----------
    Fader & Hardie (2013), The Gamma-Gamma model of monetary value.
    """
    data = _rfm_arrays(summary, monetary=True)
    repeat = data[data["frequency"] > 0]
    used = repeat[repeat["monetary_value"] > 0]
    _check_repeat_buyers(len(used), len(data), min_repeat_buyers, "Gamma-Gamma")
    if used["frequency"].nunique() > 1 and used["monetary_value"].nunique() > 1:
        corr, p_value = _st.pearsonr(used["frequency"], used["monetary_value"])
    else:
        corr, p_value = float("nan"), float("nan")
    rows = used.groupby(["frequency", "monetary_value"]).size().rename("weights").reset_index()
    fitter_class = _lifetimes()["GammaGammaFitter"]

    def fit(value: float, tol: float):
        return fitter_class(penalizer_coef=value).fit(
            rows["frequency"].to_numpy(),
            rows["monetary_value"].to_numpy(),
            weights=rows["weights"].to_numpy(),
            tol=tol,
        )

    fitter = _fit_with_ladder(fit, penalizer, "Gamma-Gamma")
    if fitter.params_["q"] <= 1:
        raise ValueError(
            f"The Gamma-Gamma fit gives q={fitter.params_['q']:.3f} <= 1, which means an "
            "infinite mean spend: a few very large average order values dominate. Check for "
            "wholesale or test accounts and outliers (e.g. cap monetary_value at a high "
            "percentile) before modelling spend."
        )
    fitter.correlation_ = float(corr)
    fitter.correlation_p_value_ = float(p_value)
    fitter.n_customers_ = len(used)
    fitter.n_excluded_ = len(repeat) - len(used)
    if abs(corr) >= CORRELATION_WARNING:
        warnings.warn(
            f"Frequency and average spend are correlated (Pearson r = {corr:.2f}, "
            f"{len(used):,} repeat buyers); the Gamma-Gamma model assumes they are "
            "independent, so its spend predictions (and CLV) are biased for frequent or "
            "infrequent buyers.",
            ModelAssumptionWarning,
            stacklevel=2,
        )
    return fitter


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
        with _quiet_lifetimes():
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
    dropout = _dropout_probability(bgf)
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


def _distinct_rows(
    frequency: np.ndarray, recency: np.ndarray, t_age: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The distinct (frequency, recency, T) rows, and for each input row the position of its
    distinct row. BG/NBD expectations depend on these three numbers only, so they are
    evaluated once per distinct row (about 2.3x fewer rows than customers on two years of
    daily data) and spread back with ``values[inverse]``: the same numbers, sooner."""
    rows = pd.DataFrame({"f": frequency, "r": recency, "t": t_age})
    inverse = rows.groupby(["f", "r", "t"], sort=False).ngroup().to_numpy()
    distinct = rows.drop_duplicates()  # first occurrences, in the order ngroup numbers them
    return (distinct["f"].to_numpy(), distinct["r"].to_numpy(), distinct["t"].to_numpy()), inverse


def predict_clv(
    summary: pd.DataFrame,
    bgf,
    ggf,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    *,
    unit_days: float | None = None,
) -> pd.DataFrame:
    """Per-customer P(alive), expected purchases, expected order value and CLV.

    CLV is lifetimes' discounted sum over ``months`` months of 30 days: for month ``k``,
    expected purchases in the month times the Gamma-Gamma expected average value, divided
    by ``(1 + monthly_discount_rate) ** k``. On a daily summary it equals
    ``GammaGammaFitter.customer_lifetime_value(bgf, ..., time=months,
    discount_rate=monthly_discount_rate, freq="D")``; on a weekly summary it is the same
    CLV (lifetimes' ``freq="W"`` would instead use 4.345 weeks per month).

    Parameters
    ----------
    summary : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (or ``_cal`` columns).
    bgf, ggf
        Fitted BG/NBD and Gamma-Gamma models (:func:`fit_bgnbd`, :func:`fit_gamma_gamma`),
        fitted in the summary's time unit.
    months : int
        Horizon in months of 30 days.
    monthly_discount_rate : float
        Discount rate per month, as a fraction (0.01 = 1 % a month).
    unit_days : float, optional
        Days per time unit of the summary; default ``summary.attrs["unit_days"]``.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``p_alive`` (probability, 0-1), ``expected_purchases``
        (repeat purchases expected over the horizon), ``expected_avg_value`` (Gamma-Gamma
        expected value per purchase, currency) and ``clv`` (discounted value of the
        horizon, currency). ``attrs``: ``unit_days``, ``months``, ``monthly_discount_rate``.
    """
    days = _unit_days(summary, unit_days)
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise ValueError(f"months must be a whole number >= 1, got {months!r}.")
    if not 0 <= monthly_discount_rate < 1:
        raise ValueError(
            "monthly_discount_rate is a fraction per month (0.01 = 1 %), got "
            f"{monthly_discount_rate!r}."
        )
    data = _rfm_arrays(summary, monetary=True)
    # NumPy arrays, not Series: the same float operations without pandas' per-operation
    # overhead, which dominates on millions of customers.
    f, r, t_age, m = (
        data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")
    )
    units_per_month = DAYS_PER_MONTH / days
    (uf, ur, ut), inverse = _distinct_rows(f, r, t_age)
    with _quiet_lifetimes():
        p_alive = np.asarray(bgf.conditional_probability_alive(uf, ur, ut), dtype=float)[inverse]
        avg_value = np.asarray(ggf.conditional_expected_average_profit(f, m), dtype=float)
        # The sum of lifetimes.utils._customer_lifetime_value, with the same float operations
        # (the cumulative expectation at the start of a month is the one at the end of the
        # previous month, computed once instead of twice).
        clv = np.zeros(len(data))
        steps = np.arange(0, months + 1) * units_per_month
        previous = np.asarray(bgf.predict(steps[0], uf, ur, ut), dtype=float)[inverse]
        for step in steps[1:]:
            current = np.asarray(bgf.predict(step, uf, ur, ut), dtype=float)[inverse]
            clv += (avg_value * (current - previous)) / (1 + monthly_discount_rate) ** (
                step / units_per_month
            )
            previous = current
        expected = previous  # repeat purchases expected over the whole horizon
    out = pd.DataFrame(
        {
            "p_alive": np.asarray(p_alive, dtype=float),
            "expected_purchases": np.asarray(expected, dtype=float),
            "expected_avg_value": np.asarray(avg_value, dtype=float),
            "clv": clv,
        },
        index=summary.index.copy(),
    )
    out.attrs.update(unit_days=days, months=months, monthly_discount_rate=monthly_discount_rate)
    bad = int((~np.isfinite(out.to_numpy())).any(axis=1).sum())
    if bad:
        warnings.warn(
            f"{bad:,} customer(s) get non-finite predictions (NaN or infinite): the fitted "
            "parameters are degenerate for them. Check model_checks() and the fit.",
            ModelAssumptionWarning,
            stacklevel=2,
        )
    return out


# --- validation -------------------------------------------------------------------------


def _bucket_labels(frequency: pd.Series, max_frequency: int) -> pd.Categorical:
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    codes = np.minimum(frequency.to_numpy(dtype=int), max_frequency)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def probability_of_purchases(bgf, t, n: int) -> np.ndarray:
    """P(X(t) = n): probability of ``n`` repeat purchases in ``t`` units (BG/NBD eq. 8).

    Vectorised over ``t`` (lifetimes' own version is not).
    """
    r, alpha, a, b = (float(bgf.params_[k]) for k in ("r", "alpha", "a", "b"))
    t = np.asarray(t, dtype=float)
    share = alpha / (alpha + t)  # (alpha / (alpha + t))
    rest = t / (alpha + t)
    log_first = (
        special.betaln(a, b + n)
        - special.betaln(a, b)
        + special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1)
        + r * np.log(share)
        + special.xlogy(n, rest)
    )
    result = np.exp(log_first)
    if n > 0:
        j = np.arange(n)
        coef = np.exp(special.gammaln(r + j) - special.gammaln(r) - special.gammaln(j + 1))
        finite_sum = (coef[None, :] * rest.reshape(-1, 1) ** j[None, :]).sum(axis=1)
        second = np.exp(special.betaln(a + 1, b + n - 1) - special.betaln(a, b)) * (
            1 - share.reshape(-1) ** r * finite_sum
        )
        result = result + second.reshape(t.shape)
    return result


def period_transactions(summary: pd.DataFrame, bgf, *, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases: actual vs expected under the fitted model.

    The expected count for ``x`` repeat purchases is ``sum_i P(X(T_i) = x)`` over customers
    (computed exactly, not simulated); the last bucket is ``max_frequency`` or more.

    Returns
    -------
    DataFrame
        ``frequency`` (bucket label), ``actual`` and ``expected`` (customers).
    """
    data = _rfm_arrays(summary)
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


def validate_holdout(
    calibration: pd.DataFrame, bgf, *, max_frequency: int = 7
) -> HoldoutValidation:
    """Compare holdout purchases with the BG/NBD predictions and a naive baseline.

    Parameters
    ----------
    calibration : DataFrame
        From :func:`~retention_utils.engine.calibration_holdout`.
    bgf
        BG/NBD model fitted on the calibration columns (:func:`fit_bgnbd`).
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
    data = _rfm_arrays(calibration)
    duration = float(calibration["duration_holdout"].iloc[0])
    actual = calibration["frequency_holdout"].astype(float)
    with _quiet_lifetimes():
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
    transactions: engine.Source,
    bgf,
    *,
    observation_end=None,
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
    transactions : DataFrame, path or ibis table
        Canonical transactions (the engine counts purchase days).
    bgf
        Fitted BG/NBD model (usually on the calibration period).
    observation_end : date-like, optional
        Last day; default the last transaction day.
    calibration_end : date-like, optional
        Marked on the plots; recorded in ``attrs``.
    unit_days : float, optional
        Days per model time unit; default ``bgf.unit_days_`` set by :func:`fit_bgnbd`.
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
    days_per_unit = unit_days if unit_days is not None else getattr(bgf, "unit_days_", None)
    if days_per_unit is None:
        raise ValueError(
            "The model's time unit is unknown: pass unit_days= (1 for days, 7 for weeks) or "
            "fit it with fit_bgnbd on an rfm_summary."
        )
    counts = engine.purchase_tracking(transactions, observation_end=observation_end)
    lags = np.arange(len(counts), dtype=float) / float(days_per_unit)
    with _quiet_lifetimes():
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


def alive_history(
    transactions: engine.Source,
    bgf,
    customer_ids,
    *,
    observation_end=None,
    unit_days: float | None = None,
) -> pd.DataFrame:
    """Day-by-day P(alive) of a few customers, from their first purchase to the end.

    On each day ``d`` the customer's history up to ``d`` (repeat purchases, recency and age
    ``T`` in model units) gives P(alive) under the fitted BG/NBD; it jumps up at each
    purchase and decays while the customer is silent. Replaces lifetimes'
    ``calculate_alive_path``, which fails on the current stack.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions.
    bgf
        Fitted BG/NBD model.
    customer_ids : str or list of str
        The customers to follow.
    observation_end : date-like, optional
        Last day; default the last transaction day.
    unit_days : float, optional
        Days per model unit; default ``bgf.unit_days_``.

    Returns
    -------
    DataFrame
        ``customer_id``, ``day``, ``p_alive`` (0-1) and ``purchase`` (a purchase that day).
    """
    days_per_unit = unit_days if unit_days is not None else getattr(bgf, "unit_days_", None)
    if days_per_unit is None:
        raise ValueError("The model's time unit is unknown: pass unit_days= (1 days, 7 weeks).")
    days = engine.customer_purchase_days(
        transactions, customer_ids, observation_end=observation_end
    )
    ids = [customer_ids] if isinstance(customer_ids, str) else [str(c) for c in customer_ids]
    missing = sorted(set(ids) - set(days[CUSTOMER]))
    if missing:
        raise ValueError(f"No purchase found for customer(s) {', '.join(missing[:5])}.")
    end = pd.Timestamp(days.attrs["observation_end"])
    frames = []
    for customer, bought in days.groupby(CUSTOMER, sort=False):
        first = bought["day"].min()
        grid = pd.date_range(first, end, freq="D")
        purchase = grid.isin(bought["day"])
        age = (grid - first).days.to_numpy(dtype=float)
        frequency = np.cumsum(purchase) - 1
        last = pd.Series(np.where(purchase, age, np.nan)).ffill().to_numpy()
        with _quiet_lifetimes():
            p_alive = bgf.conditional_probability_alive(
                frequency.astype(float), last / days_per_unit, age / days_per_unit
            )
        frames.append(
            pd.DataFrame(
                {CUSTOMER: customer, "day": grid, "p_alive": p_alive, "purchase": purchase}
            )
        )
    return pd.concat(frames, ignore_index=True)


def expected_repeat_purchases(
    bgf, *, days: int = 365, unit_days: float | None = None
) -> pd.DataFrame:
    """Repeat purchases expected from a newly acquired customer over their first ``days``.

    ``E[X(t)]`` of BG/NBD (eq. 9 of Fader, Hardie & Lee 2005), for a customer drawn at random
    from the population; lifetimes' ``plot_expected_repeat_purchases`` fails on the current
    stack.

    Returns
    -------
    DataFrame
        Index ``day`` (0 ... ``days``), column ``expected`` (cumulative repeat purchases).
    """
    days_per_unit = unit_days if unit_days is not None else getattr(bgf, "unit_days_", None)
    if days_per_unit is None:
        raise ValueError("The model's time unit is unknown: pass unit_days= (1 days, 7 weeks).")
    day = np.arange(days + 1)
    with _quiet_lifetimes():
        expected = np.asarray(
            bgf.expected_number_of_purchases_up_to_time(day / float(days_per_unit)), dtype=float
        )
    expected[0] = 0.0
    return pd.DataFrame({"expected": expected}, index=pd.Index(day, name="day"))


def frequency_recency_grid(
    bgf,
    *,
    metric: str = "p_alive",
    horizon: float | None = None,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    steps: int = 60,
) -> pd.DataFrame:
    """P(alive) or expected purchases over a frequency x recency grid, for heatmaps.

    As lifetimes' frequency/recency matrices: every cell is a customer of age ``T`` equal to
    the largest recency shown, with ``frequency`` repeat purchases, the last at ``recency``.

    Parameters
    ----------
    bgf
        Fitted BG/NBD model.
    metric : {"p_alive", "expected_purchases"}
        Probability of being alive (0-1), or repeat purchases expected in ``horizon``.
    horizon : float, optional
        For expected purchases, in model units; default 30 days' worth.
    max_frequency : int, optional
        Default: the 99th percentile of fitted frequencies (at least 5).
    max_recency : float, optional
        Default: the largest fitted ``T`` (model units).
    steps : int
        Number of recency values.

    Returns
    -------
    DataFrame
        Index ``recency`` (model units, ascending), columns ``frequency`` (0 ... max).
    """
    if metric not in {"p_alive", "expected_purchases"}:
        raise ValueError(f"metric must be 'p_alive' or 'expected_purchases', got {metric!r}.")
    data = bgf.data
    if max_frequency is None:
        freq = np.repeat(data["frequency"].to_numpy(), data["weights"].to_numpy().astype(int))
        max_frequency = max(5, int(np.ceil(np.percentile(freq, 99))))
    if max_recency is None:
        max_recency = float(data["T"].max())
    if horizon is None:
        unit = getattr(bgf, "unit_days_", None) or 1
        horizon = DAYS_PER_MONTH / float(unit)
    recency = np.linspace(0, max_recency, steps)
    frequency = np.arange(max_frequency + 1)
    f_grid, r_grid = np.meshgrid(frequency, recency)
    # frequency 0 means no repeat purchase, so recency is 0 for it
    r_cells = np.where(f_grid == 0, 0.0, r_grid)
    with _quiet_lifetimes():
        if metric == "p_alive":
            values = bgf.conditional_probability_alive(f_grid, r_cells, max_recency)
        else:
            values = bgf.conditional_expected_number_of_purchases_up_to_time(
                horizon, f_grid, r_cells, max_recency
            )
    out = pd.DataFrame(
        np.asarray(values, dtype=float).reshape(f_grid.shape),
        index=pd.Index(recency, name="recency"),
        columns=pd.Index(frequency, name="frequency"),
    )
    out.attrs.update(metric=metric, T=float(max_recency), horizon=float(horizon))
    return out


# --- customer table -----------------------------------------------------------------------


def customer_table(
    transactions: engine.Source,
    summary: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    observation_end=None,
    value_quantile: float = 0.8,
    alive_threshold: float = 0.5,
) -> pd.DataFrame:
    """One row per customer: history, model predictions, CLV rank and value segment.

    Segments (:data:`SEGMENTS`): customers whose past net revenue is at or above the
    ``value_quantile`` quantile are *high value*; a repeat buyer with P(alive) below
    ``alive_threshold`` is *at risk*. One-time buyers form their own segment because
    BG/NBD gives them P(alive) = 1 by construction (they have never had a chance to drop
    out after a repeat purchase), so their P(alive) says nothing.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions (past orders and revenue come from the engine).
    summary : DataFrame
        :func:`~retention_utils.engine.rfm_summary` over the same period.
    predictions : DataFrame
        :func:`predict_clv` of that summary.
    observation_end : date-like, optional
        Default ``summary.attrs["observation_end"]``, else the last transaction day.
    value_quantile : float
        Quantile (fraction) of past revenue from which a customer is high value.
    alive_threshold : float
        P(alive) (fraction) below which a repeat buyer is at risk.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, sorted by ``clv`` descending: ``orders``, ``revenue``
        (past net revenue), ``first_purchase``, ``last_purchase``, ``frequency``,
        ``recency``, ``T``, ``monetary_value``, ``p_alive``, ``expected_purchases``,
        ``expected_avg_value``, ``clv``, ``clv_rank`` (1 = highest CLV) and ``segment``.
    """
    if not 0 < value_quantile < 1:
        raise ValueError(f"value_quantile is a fraction in (0, 1), got {value_quantile!r}.")
    if not 0 < alive_threshold < 1:
        raise ValueError(f"alive_threshold is a fraction in (0, 1), got {alive_threshold!r}.")
    missing = [
        c
        for c in ("p_alive", "expected_purchases", "expected_avg_value", "clv")
        if c not in predictions.columns
    ]
    if missing:
        raise ValueError(f"predictions need the columns of predict_clv; missing {missing}.")
    end = observation_end if observation_end is not None else summary.attrs.get("observation_end")
    history = engine.customer_history(transactions, observation_end=end)
    rfm = summary[
        [
            _columns(summary, monetary=True)[c]
            for c in ("frequency", "recency", "T", "monetary_value")
        ]
    ]
    rfm.columns = ["frequency", "recency", "T", "monetary_value"]
    table = history.join(rfm, how="inner").join(predictions, how="inner")
    if table.empty:
        raise ValueError(
            "No customer is in both the transactions and the summary: build the summary "
            "from the same transactions and observation_end."
        )
    high_value = table["revenue"] >= table["revenue"].quantile(value_quantile)
    at_risk = table["p_alive"] < alive_threshold
    segment = np.select(
        [table["frequency"] == 0, high_value & ~at_risk, high_value & at_risk, ~at_risk],
        ["one-time buyer", "high value, active", "high value at risk", "active"],
        default="at risk",
    )
    table["segment"] = pd.Categorical(segment, categories=list(SEGMENTS), ordered=True)
    table = table.sort_values(["clv", "revenue"], ascending=False, kind="mergesort")
    table.insert(
        table.columns.get_loc("clv") + 1,
        "clv_rank",
        np.arange(1, len(table) + 1, dtype="int64"),
    )
    table.index.name = CUSTOMER
    table.attrs.update(
        value_threshold=float(table["revenue"].quantile(value_quantile)),
        value_quantile=value_quantile,
        alive_threshold=alive_threshold,
        months=predictions.attrs.get("months"),
        unit_days=predictions.attrs.get("unit_days"),
        observation_end=history.attrs.get("observation_end"),
    )
    return table


def segment_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers, shares, past revenue and predicted CLV per value segment.

    Returns
    -------
    DataFrame
        One row per segment: ``customers``, ``share_pct`` (percent of customers),
        ``revenue`` (past, total), ``mean_p_alive`` (0-1), ``expected_purchases`` (total),
        ``clv`` (total) and ``clv_share_pct`` (percent of total CLV).
    """
    grouped = customers.groupby("segment", observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "mean_p_alive": grouped["p_alive"].mean(),
            "expected_purchases": grouped["expected_purchases"].sum(),
            "clv": grouped["clv"].sum(),
        }
    )
    out.insert(1, "share_pct", 100 * out["customers"] / max(len(customers), 1))
    total_clv = out["clv"].sum()
    out["clv_share_pct"] = 100 * out["clv"] / total_clv if total_clv else np.nan
    out.index = out.index.astype(str)
    return out


# --- seed formula ---------------------------------------------------------------------------


def seed_formula_comparison(
    transactions: engine.Source,
    customers: pd.DataFrame,
    bgf,
    *,
    observation_end=None,
    max_lifespan_years: float | None = None,
) -> pd.DataFrame:
    """The simple seed-formula CLV (SPEC section 4) next to the model's, on the same footing.

    The seed formula (:func:`retention_utils.kpis.simple_clv_inputs`) is ``AOV * purchases
    per year * lifespan``, from the last 365 days before ``observation_end``, with lifespan
    ``1 / annual churn`` (capped). The model columns give the same quantities from the
    fitted models: for the customers active in those 365 days (the seed formula's
    customers), and for all customers.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions (as used for the customer table).
    customers : DataFrame
        :func:`customer_table` output.
    bgf
        The fitted BG/NBD model behind ``customers``.
    observation_end : date-like, optional
        Default ``customers``' observation end, else the last transaction day.
    max_lifespan_years : float, optional
        Cap of the seed lifespan in years (default
        :data:`retention_utils.config.DEFAULT_MAX_LIFESPAN_YEARS`).

    Returns
    -------
    DataFrame
        Index ``metric``; columns ``seed formula``, ``model (same customers)``,
        ``model (all customers)``. Rows: ``customers``; ``value per purchase`` (currency);
        ``purchases per customer per year``; ``lifespan (years)``; ``value per customer,
        1 year`` (undiscounted); ``value per customer over the lifespan`` (undiscounted, the
        seed lifespan for both); ``model CLV, horizon`` (discounted, the customer table's
        ``clv``). Values the seed formula has no counterpart for are NaN.
    """
    from retention_utils import kpis
    from retention_utils.config import DEFAULT_MAX_LIFESPAN_YEARS

    cap = DEFAULT_MAX_LIFESPAN_YEARS if max_lifespan_years is None else max_lifespan_years
    needed = ["last_purchase", "frequency", "recency", "T", "expected_avg_value", "clv"]
    missing = [c for c in needed if c not in customers.columns]
    if missing:
        raise ValueError(f"customers must be the output of customer_table; missing {missing}.")
    end = observation_end
    if end is None:
        end = customers.attrs.get("observation_end") or customers["last_purchase"].max()
    seed = kpis.simple_clv_inputs(transactions, end, max_lifespan_years=cap)
    days = float(customers.attrs.get("unit_days") or getattr(bgf, "unit_days_", None) or 0)
    if not days > 0:
        raise ValueError("The time unit of the customer table is unknown (attrs['unit_days']).")
    lifespan = float(seed["lifespan_years"])
    active = customers["last_purchase"] >= seed["window_start"]

    def model_column(rows: pd.DataFrame) -> list[float]:
        if rows.empty:
            return [0, *[np.nan] * 6]
        args, inverse = _distinct_rows(
            *(rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        )
        expected = bgf.conditional_expected_number_of_purchases_up_to_time
        with _quiet_lifetimes():
            year = np.asarray(expected(365 / days, *args), dtype=float)[inverse]
            life = (
                np.asarray(expected(365 * lifespan / days, *args), dtype=float)[inverse]
                if np.isfinite(lifespan)
                else np.full(len(rows), np.nan)
            )
        value = rows["expected_avg_value"].to_numpy()
        per_purchase = float((value * year).sum() / year.sum()) if year.sum() > 0 else np.nan
        return [
            len(rows),
            per_purchase,
            float(year.mean()),
            np.nan,
            float((value * year).mean()),
            float((value * life).mean()),
            float(rows["clv"].mean()),
        ]

    index = pd.Index(
        [
            "customers",
            "value per purchase",
            "purchases per customer per year",
            "lifespan (years)",
            "value per customer, 1 year",
            "value per customer over the lifespan",
            "model CLV, horizon",
        ],
        name="metric",
    )
    seed_column = [
        seed["customers"],
        seed["aov"],
        seed["purchase_frequency"],
        lifespan,
        seed["aov"] * seed["purchase_frequency"],
        seed["clv"],
        np.nan,
    ]
    out = pd.DataFrame(
        {
            "seed formula": seed_column,
            "model (same customers)": model_column(customers[active]),
            "model (all customers)": model_column(customers),
        },
        index=index,
    ).astype(float)
    out.attrs.update(
        window_start=pd.Timestamp(seed["window_start"]).date().isoformat(),
        window_end=pd.Timestamp(seed["window_end"]).date().isoformat(),
        annual_churn_rate=float(seed["annual_churn_rate"]),
        months=customers.attrs.get("months"),
    )
    return out


def write_customer_table(
    customers: pd.DataFrame, output_dir, *, name: str = "clv_customers"
) -> list:
    """Write the customer table as ``<name>.csv`` and ``<name>.parquet`` in ``output_dir``.

    The CSV is written through Arrow (about 8x faster than pandas on a million customers):
    ``customer_id`` first, dates as ``YYYY-MM-DD``, numbers at full precision.

    Returns
    -------
    list of pathlib.Path
        The two files written (the folder is created if needed).
    """
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    flat = customers.reset_index()
    for col in flat.columns:
        if isinstance(flat[col].dtype, pd.CategoricalDtype):
            flat[col] = flat[col].astype(str)
        elif pd.api.types.is_datetime64_any_dtype(flat[col]):
            flat[col] = flat[col].dt.date
    csv_path, parquet_path = folder / f"{name}.csv", folder / f"{name}.parquet"
    table = pa.Table.from_pandas(flat, preserve_index=False)
    # Arrow writes without holding the GIL: the two files are written at the same time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        csv_done = pool.submit(
            pa_csv.write_csv, table, csv_path, pa_csv.WriteOptions(quoting_style="needed")
        )
        customers.to_parquet(parquet_path)
        csv_done.result()
    return [csv_path, parquet_path]
