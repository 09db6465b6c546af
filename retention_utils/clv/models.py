"""The purchase models side by side: one fitting entry point (:func:`fit_model`) for
BG/NBD, MBG/NBD and Pareto/NBD, their formulas as vectorised functions, and the
likelihood curvature behind standard errors and intervals (:func:`log_covariance`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from retention_utils.clv import bgnbd, mbgnbd, pareto_nbd
from retention_utils.clv.base import (
    MIN_REPEAT_BUYERS,
    FitInfo,
    check_repeat_buyers,
    fit_rows,
    fit_with_ladder,
    record_fit,
)

#: Mean dropout probability per purchase, a / (a + b), below which BG/NBD and MBG/NBD find
#: no dropout (SPEC section 4, "Model choice").
DROPOUT_WARNING = 1e-3
#: Pareto/NBD finds no dropout when its mean lifetime beta / s exceeds this many times the
#: longest customer age.
LIFETIME_LIMIT = 100


class Family(NamedTuple):
    """One model: its name in reports, parameter names and vectorised formulas."""

    label: str
    params: tuple[str, ...]
    fit: Callable
    log_likelihood: Callable
    p_alive: Callable | None = None
    purchases_if_alive: Callable | None = None


def _gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    """Gamma-Gamma log-likelihood of each (frequency x, mean spend m) row (Fader & Hardie
    2013, eq. 1 integrated; v is the paper's gamma)."""
    p, q, v = params
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


FAMILIES: dict[str, Family] = {
    "bgnbd": Family(
        "BG/NBD",
        ("r", "alpha", "a", "b"),
        bgnbd.fit,
        bgnbd.log_likelihood,
        bgnbd.p_alive,
        bgnbd.purchases_if_alive,
    ),
    "mbgnbd": Family(
        "MBG/NBD",
        ("r", "alpha", "a", "b"),
        mbgnbd.fit,
        mbgnbd.log_likelihood,
        mbgnbd.p_alive,
        mbgnbd.purchases_if_alive,
    ),
    "pareto_nbd": Family(
        "Pareto/NBD",
        ("r", "alpha", "s", "beta"),
        pareto_nbd.fit,
        pareto_nbd.log_likelihood,
        pareto_nbd.p_alive,
        pareto_nbd.purchases_if_alive,
    ),
    "gamma_gamma": Family("Gamma-Gamma", ("p", "q", "v"), None, _gamma_gamma_log_likelihood),
}
#: The purchase models :func:`fit_model` fits.
MODELS = ("bgnbd", "mbgnbd", "pareto_nbd")


def family_of(fitter) -> tuple[str, Family]:
    """The model name and family of a fitted lifetimes model."""
    info = getattr(fitter, "info_", None)
    if info is not None:
        return info.model, FAMILIES[info.model]
    name = type(fitter).__name__
    model = {
        "BetaGeoFitter": "bgnbd",
        "ModifiedBetaGeoFitter": "mbgnbd",
        "ParetoNBDFitter": "pareto_nbd",
        "GammaGammaFitter": "gamma_gamma",
    }.get(name)
    if model is None:
        raise TypeError(f"Not a fitted model of this package: {name}.")
    return model, FAMILIES[model]


def params_of(fitter) -> tuple[float, ...]:
    """The fitted parameters in the family's order, as floats."""
    _, family = family_of(fitter)
    return tuple(float(fitter.params_[k]) for k in family.params)


def fitted_columns(fitter) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The distinct rows a model was fitted on (its data columns) and their weights."""
    model, _ = family_of(fitter)
    data = fitter.data
    names = (
        ("frequency", "monetary_value") if model == "gamma_gamma" else ("frequency", "recency", "T")
    )
    return tuple(data[c].to_numpy(dtype=float) for c in names), data["weights"].to_numpy(
        dtype=float
    )


def fit_model(
    summary: pd.DataFrame,
    model: str = "bgnbd",
    penalizer: float | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
):
    """Fit a model of repeat purchases and dropout: BG/NBD, MBG/NBD or Pareto/NBD.

    Identical (frequency, recency, T) rows are fitted once, weighted by their number of
    customers (the same likelihood, so the same parameters as an unweighted fit). When a
    fit does not converge, the penalizer ladder of :func:`fit_bgnbd` is climbed.

    Parameters
    ----------
    summary : DataFrame
        From :func:`~retention_utils.engine.rfm_summary` (``frequency``, ``recency``,
        ``T``) or :func:`~retention_utils.engine.calibration_holdout` (``_cal`` columns),
        or the distinct rows with their number of ``customers`` from
        :func:`~retention_utils.engine.rfm_counts` (the same fit, without one row per
        customer).
    model : {"bgnbd", "mbgnbd", "pareto_nbd"}
        BG/NBD (lifetimes ``BetaGeoFitter``: dropout only right after a repeat purchase),
        MBG/NBD (``ModifiedBetaGeoFitter``: also after the first purchase) or Pareto/NBD
        (``ParetoNBDFitter``: at any moment; evaluated in log space, see
        :mod:`retention_utils.clv.pareto_nbd`).
    penalizer : float, optional
        L2 penalizer. ``None`` (default) tries 0, 0.001, 0.01, 0.1 in turn until the fit
        converges; a number is tried first, then the larger values of that ladder.
    min_repeat_buyers : int
        Refuse to fit with fewer customers with ``frequency > 0`` (default 10).

    Returns
    -------
    lifetimes fitter
        Fitted; ``params_`` (rates and ``alpha``, ``beta`` in the summary's time unit) and
        ``info_`` (:class:`~retention_utils.clv.FitInfo`: penalizer used and tried,
        tolerance, customers, repeat buyers, days per time unit, log-likelihood).

    Raises
    ------
    ModelDataError
        All customers one-time buyers, fewer than ``min_repeat_buyers`` repeat buyers, or
        no convergence with any penalizer.
    ValueError
        Unknown model or invalid summary.

    Examples
    --------
    >>> pnbd = fit_model(calibration, "pareto_nbd")  # doctest: +SKIP
    >>> pnbd.params_.round(3).tolist()  # CDNOW sample, weeks  # doctest: +SKIP
    [0.553, 10.578, 0.606, 11.669]
    """
    if model not in MODELS:
        raise ValueError(
            f"model must be one of {', '.join(repr(m) for m in MODELS)}, got {model!r}."
        )
    family = FAMILIES[model]
    rows = fit_rows(summary)
    weights = rows["weights"].to_numpy()
    n, n_repeat = int(weights.sum()), int(weights[rows["frequency"].to_numpy() > 0].sum())
    check_repeat_buyers(n_repeat, n, min_repeat_buyers, family.label)
    fitter = fit_with_ladder(
        lambda value, tol: family.fit(rows, value, tol),
        penalizer,
        family.label,
        bgnbd.predicts_finite,
    )
    columns = tuple(rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    log_lik = float(weights @ family.log_likelihood(params_of(fitter), *columns))
    info = FitInfo(
        model=model,
        penalizer=float(fitter.penalizer_coef),
        penalizer_ladder=fitter.penalizer_ladder_,
        tol=fitter.tol_,
        n_customers=n,
        n_repeat_buyers=n_repeat,
        unit_days=summary.attrs.get("unit_days"),
        log_likelihood=log_lik,
    )
    return record_fit(fitter, info)


def fit_bgnbd(
    summary: pd.DataFrame,
    penalizer: float | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
):
    """Fit the BG/NBD model of repeat purchases and customer dropout.

    Each customer buys at a Poisson rate ``lambda`` (Gamma(r, alpha) across customers) while
    alive and, after each purchase, drops out with probability ``p`` (Beta(a, b) across
    customers). :func:`fit_model` with ``model="bgnbd"``: same parameters, returns and
    refusals.

    Notes
    -----
    A larger penalizer than requested, or a dropout the data do not identify (mean dropout
    probability per purchase ``a / (a + b)`` below 0.001, or standard errors that are not
    finite: P(alive) is then about 1 for everyone), is reported by
    :func:`~retention_utils.clv.model_cautions`, not as a Python warning.

    References
    ----------
    Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284.
    """
    return fit_model(summary, "bgnbd", penalizer, min_repeat_buyers=min_repeat_buyers)


# --- curvature of the likelihood ----------------------------------------------------------

#: Step in log-parameters of the finite-difference Hessian.
HESSIAN_STEP = 1e-4
#: Distinct rows evaluated at once (bounds the memory of vectorised evaluations).
CHUNK_ROWS = 20_000


def total_log_likelihood(family: Family, params: np.ndarray, columns, weights) -> np.ndarray:
    """Weighted total log-likelihood at each row of ``params`` (shape (k, n_params))."""
    draws = tuple(params[:, [i]] for i in range(params.shape[1]))
    total = np.zeros(params.shape[0])
    n = len(weights)
    for start in range(0, n, CHUNK_ROWS):
        part = slice(start, start + CHUNK_ROWS)
        with np.errstate(all="ignore"):
            values = family.log_likelihood(draws, *(c[part] for c in columns))
        total += values @ weights[part]
    return total


def log_covariance(fitter) -> pd.DataFrame:
    """Covariance of the log-parameters: the inverse of minus the Hessian of the total
    log-likelihood (unpenalized) at the estimate, by central finite differences.

    Returns
    -------
    DataFrame
        Parameters by parameters (the family's names). NaN everywhere when the Hessian is
        not negative definite (the likelihood is flat or not at a maximum in some direction:
        standard errors are then not finite).
    """
    params = params_of(fitter)
    cached = getattr(fitter, "log_covariance_", None)
    if cached is not None and cached[0] == params:  # computed at these parameters
        return cached[1]
    _, family = family_of(fitter)
    theta = np.log(params)
    k, h = len(theta), HESSIAN_STEP
    columns, weights = fitted_columns(fitter)
    steps = [np.zeros(k)]
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    for i, j in pairs:
        for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            step = np.zeros(k)
            step[i] += si * h
            step[j] += sj * h
            steps.append(step)
    values = total_log_likelihood(family, np.exp(theta + np.array(steps)), columns, weights)
    hessian = np.zeros((k, k))
    for n, (i, j) in enumerate(pairs):
        pp, pm, mp, mm = values[1 + 4 * n : 5 + 4 * n]
        hessian[i, j] = hessian[j, i] = (pp - pm - mp + mm) / (4 * h * h)
    information = -hessian
    covariance = np.full((k, k), np.nan)
    if np.all(np.isfinite(information)):
        eigen = np.linalg.eigvalsh(information)
        if np.all(eigen > 1e-9 * max(abs(eigen).max(), 1.0)):
            covariance = np.linalg.inv(information)
    out = pd.DataFrame(covariance, index=list(family.params), columns=list(family.params))
    fitter.log_covariance_ = (params, out)
    return out


def standard_errors_finite(fitter) -> bool:
    """True when every standard error of a fitted model's parameters is finite."""
    return bool(np.all(np.isfinite(log_covariance(fitter).to_numpy())))


def dropout_measure(fitter) -> tuple[bool, str]:
    """Whether the parameters identify dropout by SPEC section 4's rule, and the figure.

    BG/NBD and MBG/NBD: mean dropout probability per purchase ``a / (a + b) >= 0.001``;
    Pareto/NBD: mean lifetime ``beta / s`` at most 100 times the longest age ``T``.
    """
    model, _ = family_of(fitter)
    if model == "pareto_nbd":
        lifetime = float(fitter.params_["beta"] / fitter.params_["s"])
        longest = float(fitter.data["T"].max())
        unit = {1: "days", 7: "weeks"}.get(getattr(fitter, "unit_days_", None), "time units")
        return (
            lifetime <= LIFETIME_LIMIT * longest,
            f"mean lifetime beta / s = {_plain(lifetime)} {unit}, "
            f"{_plain(lifetime / longest)} times the longest customer age",
        )
    a, b = float(fitter.params_["a"]), float(fitter.params_["b"])
    return a / (a + b) >= DROPOUT_WARNING, f"a / (a + b) = {_plain(a / (a + b))} per purchase"


def _plain(value: float) -> str:
    """A figure for a sentence, to 2 significant digits and never in scientific notation.

    >>> _plain(2.7e-10), _plain(0.1712), _plain(3.4e6), _plain(float("inf"))
    ('0.00000000027', '0.17', '3,400,000', 'inf')
    """
    if not np.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{float(f'{value:.2g}'):,.0f}"
    return np.format_float_positional(value, precision=2, unique=False, fractional=False, trim="-")


def dropout_identified(fitter) -> bool:
    """True when a purchase model identifies dropout (SPEC section 4, "Model choice"):
    :func:`dropout_measure` holds and every standard error is finite; otherwise P(alive)
    cannot flag churners."""
    return dropout_measure(fitter)[0] and standard_errors_finite(fitter)


def dropout_detail(fitter) -> str:
    """The figures behind :func:`dropout_identified`, as text for a sentence."""
    text = dropout_measure(fitter)[1]
    return text if standard_errors_finite(fitter) else text + ", standard errors not finite"
