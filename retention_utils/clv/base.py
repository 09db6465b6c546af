"""Plumbing shared by the CLV models: lifetimes without its side effects, checked inputs,
and fits that climb a penalizer ladder.

This package is the only place that imports lifetimes, and it does so lazily and without
lifetimes' global side effects (a FutureWarning filter, a pandas option, prints on failure).
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

#: Fewer repeat buyers than this and the models are not fitted (see ``fit_bgnbd``).
MIN_REPEAT_BUYERS = 10
#: Penalizers tried in turn when a fit does not converge.
PENALIZER_LADDER = (0.0, 0.001, 0.01, 0.1)
#: Optimizer tolerances tried for each penalizer (lifetimes' default first).
FIT_TOLERANCES = (1e-7, 1e-6)
#: A month is 30 days, as in lifetimes' ``customer_lifetime_value``.
DAYS_PER_MONTH = 30
#: Time units offered to analysts: ``"W"`` is exact fractional weeks, as in the CDNOW paper.
TIME_UNITS = {"D": {"freq": "D", "freq_multiplier": 1}, "W": {"freq": "D", "freq_multiplier": 7}}


class ModelDataError(ValueError):
    """The data cannot support the CLV models; the message is one plain sentence saying why
    and what would work (e.g. all purchases on one day, too few repeat buyers)."""


class PenalizerWarning(UserWarning):
    """A model fit needed a larger penalizer than requested to converge.

    No longer issued: the fit records it (``penalizer_ladder_``) and
    :func:`retention_utils.clv.model_cautions` says it in a sentence. Kept so that code
    filtering it still runs.
    """


class ModelAssumptionWarning(UserWarning):
    """The data break an assumption of a model (e.g. spend correlated with frequency).

    No longer issued: :func:`retention_utils.clv.model_cautions` says it in a sentence.
    Kept so that code filtering it still runs.
    """


@dataclass(frozen=True)
class FitInfo:
    """How a model was fitted: what :func:`fit_with_ladder` and the ``fit_*`` functions
    record, in one place (``fitter.info_``).

    Attributes
    ----------
    model : str
        ``"bgnbd"``, ``"mbgnbd"``, ``"pareto_nbd"`` or ``"gamma_gamma"``.
    penalizer : float
        Penalizer the fit converged with (lifetimes' ``penalizer_coef``).
    penalizer_ladder : tuple of float
        Penalizers tried, the first being the one asked for.
    tol : float
        Optimizer tolerance used.
    n_customers : int
        Customers fitted.
    n_repeat_buyers : int
        Of which with ``frequency > 0``.
    unit_days : float or None
        Days per time unit of the summary (None when it had no ``attrs["unit_days"]``).
    log_likelihood : float
        Total log-likelihood of the fitted data, unpenalized (NaN for Gamma-Gamma).
    """

    model: str
    penalizer: float
    penalizer_ladder: tuple[float, ...]
    tol: float
    n_customers: int
    n_repeat_buyers: int
    unit_days: float | None
    log_likelihood: float = float("nan")


def record_fit(fitter, info: FitInfo):
    """Attach ``info`` to a fitted lifetimes model as ``info_``, with the single-attribute
    names the rest of the package and earlier versions read (``unit_days_``,
    ``n_customers_``, ``n_repeat_buyers_``, ``log_likelihood_``, ``penalizer_ladder_``,
    ``tol_``)."""
    fitter.info_ = info
    fitter.penalizer_ladder_ = info.penalizer_ladder
    fitter.tol_ = info.tol
    fitter.n_customers_ = info.n_customers
    fitter.n_repeat_buyers_ = info.n_repeat_buyers
    fitter.unit_days_ = info.unit_days
    fitter.log_likelihood_ = info.log_likelihood
    return fitter


def weighted_rows(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The distinct rows of ``columns`` with their number of customers (``weights``)."""
    return data.groupby(columns).size().rename("weights").reset_index()


def fit_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The distinct (frequency, recency, T) rows a purchase model is fitted on, with their
    number of customers (``weights``).

    ``summary`` is one row per customer (:func:`~retention_utils.engine.rfm_summary`,
    :func:`~retention_utils.engine.calibration_holdout`) or already the distinct rows with
    a ``customers`` column (:func:`~retention_utils.engine.rfm_counts`, computed on the
    backend without one row per customer leaving it).
    """
    data = rfm_arrays(summary)
    if "customers" not in summary.columns:
        return weighted_rows(data, ["frequency", "recency", "T"])
    customers = pd.to_numeric(summary["customers"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(customers) & (customers >= 1) & (customers % 1 == 0)).all():
        raise ValueError(
            "The customers column of the counts must hold whole numbers >= 1 (customers "
            "per row), as returned by rfm_counts."
        )
    data["weights"] = customers.astype(np.int64)
    return data.groupby(["frequency", "recency", "T"], as_index=False)["weights"].sum()


def fit_lifetimes(name: str, rows: pd.DataFrame, penalizer: float, tol: float):
    """lifetimes' fitter ``name`` (``BetaGeoFitter``, ``ModifiedBetaGeoFitter``) on distinct
    (frequency, recency, T) rows with ``weights``."""
    fitter = lifetimes_classes()[name](penalizer_coef=penalizer)
    return fitter.fit(
        rows["frequency"].to_numpy(),
        rows["recency"].to_numpy(),
        rows["T"].to_numpy(),
        weights=rows["weights"].to_numpy(),
        tol=tol,
    )


# --- lifetimes, without its side effects --------------------------------------------------

_lifetimes_cache: dict[str, Any] = {}


def lifetimes_classes() -> dict[str, Any]:
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
                # lifetimes changes global state on import: imported here, on first use only
                from lifetimes import (
                    BetaGeoFitter,
                    GammaGammaFitter,
                    ModifiedBetaGeoFitter,
                    ParetoNBDFitter,
                )
                from lifetimes.utils import ConvergenceError
            finally:
                if option is not None:
                    pd.set_option("mode.chained_assignment", option)
        _lifetimes_cache.update(
            BetaGeoFitter=BetaGeoFitter,
            GammaGammaFitter=GammaGammaFitter,
            ModifiedBetaGeoFitter=ModifiedBetaGeoFitter,
            ParetoNBDFitter=ParetoNBDFitter,
            ConvergenceError=ConvergenceError,
        )
    return _lifetimes_cache


@contextlib.contextmanager
def quiet_lifetimes() -> Iterator[None]:
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


def summary_columns(summary: pd.DataFrame, *, monetary: bool = False) -> dict[str, str]:
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


def rfm_arrays(summary: pd.DataFrame, *, monetary: bool = False) -> pd.DataFrame:
    """frequency, recency, T (and monetary_value) as floats, checked as lifetimes needs them."""
    names = summary_columns(summary, monetary=monetary)
    if summary.empty:
        raise ModelDataError("The summary has no customers: there is nothing to fit.")
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


def unit_days_of(summary: pd.DataFrame, unit_days: float | None) -> float:
    """Days per time unit: ``unit_days`` when given, else ``summary.attrs["unit_days"]``."""
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


def model_unit_days(bgf, unit_days: float | None) -> float:
    """Days per time unit of a fitted model: ``unit_days``, else ``bgf.unit_days_``."""
    value = unit_days if unit_days is not None else getattr(bgf, "unit_days_", None)
    if value is None:
        raise ValueError(
            "The model's time unit is unknown: pass unit_days= (1 for days, 7 for weeks) or "
            "fit it with fit_bgnbd on an rfm_summary."
        )
    return float(value)


def check_repeat_buyers(n_repeat: int, n: int, minimum: int, model: str) -> None:
    """Refuse, in one sentence, data with too few repeat buyers to fit ``model``."""
    if n_repeat == 0:
        raise ModelDataError(
            f"All {n:,} customers are one-time buyers (frequency 0), and the {model} model "
            "learns from repeat purchases: use a longer observation period, a finer time "
            "unit (days instead of weeks), or check that repeat orders of the same customer "
            "share one customer ID."
        )
    if n_repeat < minimum:
        raise ModelDataError(
            f"Only {n_repeat} of {n:,} customers made a repeat purchase, and the {model} model "
            f"needs at least {minimum} to estimate its parameters: use a longer observation "
            "period or more customers (e.g. no segment filter)."
        )


def distinct_rows(
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


# --- fitting ------------------------------------------------------------------------------


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


def fit_with_ladder(
    fit: Callable[[float, float], Any],
    penalizer: float | None,
    model: str,
    usable: Callable[[Any], bool] = lambda fitter: True,
):
    """Fit with the first (penalizer, tolerance) that converges to usable parameters.

    For each penalizer of the ladder, lifetimes' default tolerance is tried, then a looser
    one: when the likelihood is flat in one direction (e.g. no detectable dropout, the
    BG/NBD ``a`` going to 0), scipy stops with "precision loss" although the gradient is
    below 1e-6, and lifetimes reports that as non-convergence. The fitter records the
    penalizers tried (``penalizer_ladder_``; the first is the one asked for) and the
    tolerance used (``tol_``).
    """
    convergence_error = lifetimes_classes()["ConvergenceError"]
    ladder = _ladder(penalizer)
    tried: list[tuple[float, float]] = []
    for value in ladder:
        for tol in FIT_TOLERANCES:
            tried.append((value, tol))
            try:
                with quiet_lifetimes():
                    fitter = fit(value, tol)
            except (convergence_error, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(fitter.params_.to_numpy())) or not usable(fitter):
                continue
            fitter.penalizer_ladder_ = tuple(dict.fromkeys(p for p, _ in tried))
            fitter.tol_ = tol
            return fitter
    penalizers = ", ".join(f"{p:g}" for p in dict.fromkeys(p for p, _ in tried))
    raise ModelDataError(
        f"The {model} model did not converge with any penalizer ({penalizers}). The data "
        "may not follow the model (e.g. almost every customer buys at a fixed interval, or "
        "a few customers dominate); check the frequency distribution, remove test or "
        "wholesale accounts, or try a larger penalizer."
    )


def penalizer_needed(fitter) -> bool:
    """True when the fit converged only with a larger penalizer than the one asked for."""
    ladder = getattr(fitter, "penalizer_ladder_", None)
    return bool(ladder) and fitter.penalizer_coef != ladder[0]
