"""How uncertain the fitted models and their predictions are: parameter intervals
(:func:`parameter_table`) and percentile intervals of P(alive), expected purchases and CLV
for every customer and for the totals (:func:`clv_intervals`).

Two ways to draw parameters: ``"laplace"`` draws the log-parameters of both models from the
normal approximation of the likelihood at the estimate (covariance: the inverse of minus the
Hessian, :func:`~retention_utils.clv.models.log_covariance`); ``"bootstrap"`` resamples
customers with replacement and refits (as CLVTools' ``uncertainty="boots"``): since
identical rows are fitted once, a resample is a multinomial draw of their weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from retention_utils.clv.base import DAYS_PER_MONTH, distinct_rows, rfm_arrays, unit_days_of
from retention_utils.clv.models import (
    family_of,
    fitted_columns,
    log_covariance,
    params_of,
    total_log_likelihood,
)

#: Customers (or distinct rows) whose draws are held in memory at once.
CHUNK = 20_000
#: Interval methods of :func:`clv_intervals`.
METHODS = ("laplace", "bootstrap")


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level is a fraction in (0, 1) (0.9 for 90 %), got {level!r}.")
    return float(level)


def parameter_table(bgf, ggf=None, *, level: float = 0.95) -> pd.DataFrame:
    """Fitted parameters with standard errors and intervals at ``level``.

    Intervals are symmetric in log-parameters (the normal approximation of the likelihood
    at the estimate, as the Laplace draws of :func:`clv_intervals`), so they never include
    0 or negative values; ``se`` is the delta-method standard error of the parameter.

    Parameters
    ----------
    bgf
        Fitted purchase model (:func:`~retention_utils.clv.fit_model`).
    ggf
        Fitted Gamma-Gamma model, optional.
    level : float
        Coverage of the intervals, a fraction (default 0.95).

    Returns
    -------
    DataFrame
        One row per parameter: ``model`` (e.g. ``BG/NBD``), ``parameter``, ``estimate``,
        ``se``, ``low``, ``high``; ``attrs["level"]``. Rates and ``alpha``, ``beta`` are in
        the summary's time unit; Gamma-Gamma ``v`` is the paper's ``gamma``. Standard errors
        and bounds are NaN when the likelihood does not identify the parameters.
    """
    z = stats.norm.ppf(0.5 + _check_level(level) / 2)
    frames = []
    for fitter in (bgf, ggf):
        if fitter is None:
            continue
        _, family = family_of(fitter)
        estimate = np.array(params_of(fitter))
        se_log = np.sqrt(np.diag(log_covariance(fitter).to_numpy()))
        frames.append(
            pd.DataFrame(
                {
                    "model": family.label,
                    "parameter": list(family.params),
                    "estimate": estimate,
                    "se": estimate * se_log,
                    "low": estimate * np.exp(-z * se_log),
                    "high": estimate * np.exp(z * se_log),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs["level"] = level
    return out


# --- parameter draws ----------------------------------------------------------------------


def _laplace_draws(fitter, draws: int, rng: np.random.Generator) -> np.ndarray:
    theta = np.log(params_of(fitter))
    covariance = log_covariance(fitter).to_numpy()
    if not np.all(np.isfinite(covariance)):
        return np.full((draws, len(theta)), np.nan)
    return np.exp(rng.multivariate_normal(theta, covariance, size=draws, method="cholesky"))


def _refit(fitter, weights: np.ndarray) -> np.ndarray:
    """Maximum-likelihood parameters with new ``weights`` of the fitted rows, from the
    estimate (unpenalized, as the curvature of :func:`parameter_table`)."""
    _, family = family_of(fitter)
    columns, _ = fitted_columns(fitter)
    keep = weights > 0
    columns = tuple(c[keep] for c in columns)
    w = weights[keep]

    def objective(theta):
        value = -total_log_likelihood(family, np.exp(theta)[None, :], columns, w)[0] / w.sum()
        return value if np.isfinite(value) else np.inf

    start = np.log(params_of(fitter))
    with np.errstate(all="ignore"):
        result = optimize.minimize(objective, start, method="BFGS")
    return np.exp(result.x) if np.all(np.isfinite(result.x)) else np.full(len(start), np.nan)


def _bootstrap_draws(fitter, draws: int, rng: np.random.Generator) -> np.ndarray:
    _, weights = fitted_columns(fitter)
    n = int(weights.sum())
    resampled = rng.multinomial(n, weights / weights.sum(), size=draws)
    return np.array([_refit(fitter, w.astype(float)) for w in resampled])


def parameter_draws(fitter, *, method: str = "laplace", draws: int = 200, seed: int = 0):
    """Draws of a fitted model's parameters, shape (draws, parameters), natural scale."""
    if method not in METHODS:
        raise ValueError(f"method must be 'laplace' or 'bootstrap', got {method!r}.")
    rng = np.random.default_rng(seed)
    if method == "laplace":
        return _laplace_draws(fitter, draws, rng)
    return _bootstrap_draws(fitter, draws, rng)


# --- intervals of the predictions ---------------------------------------------------------


def _quantiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the draws (axis 0), ignoring failed (NaN) draws."""
    with warnings.catch_warnings():
        # every draw failed: NaN bounds, said by the cautions of clv_intervals
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


def clv_intervals(
    summary: pd.DataFrame,
    model_fitter,
    ggf,
    months: int = 12,
    level: float = 0.9,
    method: str = "laplace",
    draws: int = 200,
    seed: int = 0,
    *,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    unit_days: float | None = None,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Percentile intervals of P(alive), expected purchases and CLV, per customer and in total.

    Each draw takes parameters of both models (``method``), and computes the predictions
    of :func:`~retention_utils.clv.predict_clv` with them; the interval of a figure is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of its draws. Computed once per
    distinct (frequency, recency, T) row and vectorised over draws.

    Parameters
    ----------
    summary : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (as for ``predict_clv``).
    model_fitter
        Fitted purchase model (:func:`~retention_utils.clv.fit_model`).
    ggf
        Fitted Gamma-Gamma model.
    months : int
        Horizon in months of 30 days.
    level : float
        Coverage of the intervals, a fraction (default 0.9).
    method : {"laplace", "bootstrap"}
        Parameter draws: normal approximation in log-parameters, or refits on customers
        resampled with replacement.
    draws : int
        Number of draws.
    seed : int
        Seed of the draws (the same seed gives the same intervals).
    monthly_discount_rate, margin, unit_days
        As in :func:`~retention_utils.clv.predict_clv`.
    groups : Series, optional
        A label per customer (e.g. the ``segment`` of
        :func:`~retention_utils.clv.customer_table`), indexed like ``summary``: the
        intervals of each group's sums are in ``attrs["group_totals"]``.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``p_alive_low``, ``p_alive_high`` (0-1),
        ``expected_purchases_low``, ``expected_purchases_high`` (repeat purchases over the
        horizon), ``clv_low``, ``clv_high`` (currency). ``attrs["totals"]``: a DataFrame
        indexed ``p_alive`` (sum: expected customers alive), ``expected_purchases``,
        ``clv`` with columns ``low``, ``high``; ``attrs`` also ``level``, ``method``,
        ``draws``, ``cautions`` (one sentence when the parameters could not be drawn) and,
        with ``groups``, ``group_totals``: per group, ``expected_purchases_low/high`` and
        ``clv_low/high`` of its sums.
    """
    level = _check_level(level)
    days = unit_days_of(summary, unit_days)
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 2:
        raise ValueError(f"draws must be a whole number >= 2, got {draws!r}.")
    _, family = family_of(model_fitter)
    data = rfm_arrays(summary, monetary=True)
    f, r, t_age, m = (
        data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")
    )
    purchase_params = parameter_draws(model_fitter, method=method, draws=draws, seed=seed)
    spend_params = parameter_draws(ggf, method=method, draws=draws, seed=seed + 1)
    (uf, ur, ut), inverse = distinct_rows(f, r, t_age)
    steps = np.arange(1, months + 1) * (DAYS_PER_MONTH / days)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1)
    params = tuple(purchase_params[:, [i]] for i in range(purchase_params.shape[1]))
    p, q, v = (spend_params[:, [i]] for i in range(3))
    n_rows, n = len(uf), len(f)
    # customers ordered by their distinct row, so a block of rows is a block of customers
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(0, n_rows + CHUNK, CHUNK))
    out = np.empty((n, 6))
    totals = np.zeros((draws, 3))
    if groups is not None:
        labels = pd.Categorical(groups.reindex(summary.index))
        group_codes = labels.codes
        group_sums = np.zeros((2, draws, len(labels.categories)))
    with np.errstate(all="ignore"):
        for block, start in enumerate(range(0, n_rows, CHUNK)):
            rows = slice(start, start + CHUNK)
            x, t_x, age = uf[rows], ur[rows], ut[rows]
            alive = family.p_alive(params, x, t_x, age)
            previous, discounted = 0.0, 0.0
            for step, factor in zip(steps, discount, strict=True):
                current = family.purchases_if_alive(params, step, x, age)
                discounted = discounted + (current - previous) * factor
                previous = current
            purchases = alive * previous
            value_rate = alive * discounted  # discounted purchases over the horizon
            customers = order[bounds[block] : bounds[block + 1]]
            local = inverse[customers] - start
            cf, cm = f[customers], m[customers]
            spend = (v * p + p * cf * cm) / (p * cf + q - 1)  # Gamma-Gamma E[Z | x, m]
            clv = margin * spend * value_rate[:, local]
            out[customers, 0:2] = np.column_stack(_quantiles(alive[:, local], level))
            out[customers, 2:4] = np.column_stack(_quantiles(purchases[:, local], level))
            out[customers, 4:6] = np.column_stack(_quantiles(clv, level))
            totals[:, 0] += alive[:, local].sum(axis=1)
            totals[:, 1] += purchases[:, local].sum(axis=1)
            totals[:, 2] += clv.sum(axis=1)
            if groups is not None:
                codes = group_codes[customers]
                onehot = np.zeros((len(codes), group_sums.shape[2]))
                onehot[codes >= 0, codes[codes >= 0]] = 1.0
                group_sums[0] += purchases[:, local] @ onehot
                group_sums[1] += clv @ onehot
    result = pd.DataFrame(
        out,
        index=summary.index.copy(),
        columns=[
            "p_alive_low",
            "p_alive_high",
            "expected_purchases_low",
            "expected_purchases_high",
            "clv_low",
            "clv_high",
        ],
    )
    low, high = _quantiles(totals, level)
    failed = int(
        np.isnan(purchase_params).any(axis=1).sum() + np.isnan(spend_params).any(axis=1).sum()
    )
    result.attrs.update(
        totals=pd.DataFrame(
            {"low": low, "high": high}, index=["p_alive", "expected_purchases", "clv"]
        ),
        level=level,
        method=method,
        draws=draws,
        cautions=[
            f"{failed} of {2 * draws} parameter draws failed (standard errors not finite or "
            "a refit that did not converge), so the intervals are missing or rest on fewer "
            "draws."
        ]
        if failed
        else [],
    )
    if groups is not None:
        purchases_low, purchases_high = _quantiles(group_sums[0], level)
        clv_low, clv_high = _quantiles(group_sums[1], level)
        result.attrs["group_totals"] = pd.DataFrame(
            {
                "expected_purchases_low": purchases_low,
                "expected_purchases_high": purchases_high,
                "clv_low": clv_low,
                "clv_high": clv_high,
            },
            index=pd.Index(labels.categories.astype(str), name=groups.name),
        )
    return result


def interval_totals(predictions: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Totals over customers with their intervals, for reading.

    Returns
    -------
    DataFrame
        Index ``customers alive (expected)``, ``expected purchases``, ``CLV``; columns
        ``estimate`` (sum of :func:`~retention_utils.clv.predict_clv`), ``low``, ``high``
        (``attrs["totals"]`` of :func:`clv_intervals`); ``attrs["level"]``.
    """
    totals = intervals.attrs["totals"]
    out = pd.DataFrame(
        {
            "estimate": [predictions[c].sum() for c in ("p_alive", "expected_purchases", "clv")],
            "low": totals["low"].to_numpy(),
            "high": totals["high"].to_numpy(),
        },
        index=pd.Index(["customers alive (expected)", "expected purchases", "CLV"], name="total"),
    )
    out.attrs["level"] = intervals.attrs["level"]
    return out
