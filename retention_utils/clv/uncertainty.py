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


def _purchases_if_alive(family, params, x, t_age, steps, discount):
    """Per draw and (frequency, T) pair: purchases expected over the horizon from a customer
    alive now, and the same discounted month by month (both shape (draws, pairs))."""
    draws = params[0].shape[0]
    final, rate = np.empty((draws, len(x))), np.empty((draws, len(x)))
    for start in range(0, len(x), CHUNK):
        part = slice(start, start + CHUNK)
        previous, discounted = 0.0, 0.0
        for step, factor in zip(steps, discount, strict=True):
            current = family.purchases_if_alive(params, step, x[part], t_age[part])
            discounted = discounted + (current - previous) * factor
            previous = current
        final[:, part], rate[:, part] = previous, discounted
    return final, rate


def _quantiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the draws (axis 0), ignoring failed (NaN) draws."""
    with warnings.catch_warnings():
        # every draw failed: NaN bounds, said by the cautions of clv_intervals
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        quantile = np.nanquantile if np.isnan(values).any() else np.quantile
        low, high = quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
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
    with np.errstate(all="ignore"):
        # purchases of a customer alive now depend on (frequency, T) only: fewer pairs
        (pair_x, _, pair_t), pair_of_row = distinct_rows(uf, np.zeros(len(uf)), ut)
        final, rate = _purchases_if_alive(family, params, pair_x, pair_t, steps, discount)
    # customers with the same row, spend and group have the same draws: one key each
    codes = np.zeros(len(f), dtype=np.int64)
    if groups is not None:
        labels = pd.Categorical(groups.reindex(summary.index))
        codes = labels.codes.astype(np.int64)
    keys = pd.DataFrame({"row": inverse, "m": m, "g": codes})
    key_of_customer = keys.groupby(["row", "m", "g"], sort=False).ngroup().to_numpy()
    keys = keys.drop_duplicates()  # in the order ngroup numbers them
    key_count = np.bincount(key_of_customer).astype(float)
    by_row = np.argsort(keys["row"].to_numpy(), kind="stable")
    key_row, key_m, key_g = (keys[c].to_numpy()[by_row] for c in ("row", "m", "g"))
    key_count = key_count[by_row]
    position = np.empty(len(by_row), dtype=np.int64)
    position[by_row] = np.arange(len(by_row))
    key_of_customer = position[key_of_customer]
    n_rows = len(uf)
    row_count = np.bincount(inverse, minlength=n_rows).astype(float)
    bounds = np.searchsorted(key_row, np.arange(0, n_rows + CHUNK, CHUNK))
    row_out, key_out = np.empty((n_rows, 4)), np.empty((len(key_row), 2))
    totals = np.zeros((draws, 3))
    n_groups = len(labels.categories) if groups is not None else 1
    group_sums = np.zeros((2, draws, n_groups))
    with np.errstate(all="ignore"):
        for block, start in enumerate(range(0, n_rows, CHUNK)):
            rows = slice(start, start + CHUNK)
            alive = family.p_alive(params, uf[rows], ur[rows], ut[rows])
            pairs = pair_of_row[rows]
            purchases = alive * final[:, pairs]
            value_rate = alive * rate[:, pairs]  # discounted purchases over the horizon
            row_out[rows, 0:2] = np.column_stack(_quantiles(alive, level))
            row_out[rows, 2:4] = np.column_stack(_quantiles(purchases, level))
            totals[:, 0] += alive @ row_count[rows]
            totals[:, 1] += purchases @ row_count[rows]
            block_keys = slice(bounds[block], bounds[block + 1])
            local = key_row[block_keys] - start
            cf, cm = uf[key_row[block_keys]], key_m[block_keys]
            spend = (v * p + p * cf * cm) / (p * cf + q - 1)  # Gamma-Gamma E[Z | x, m]
            clv = margin * spend * value_rate[:, local]
            key_out[block_keys] = np.column_stack(_quantiles(clv, level))
            weights = key_count[block_keys]
            totals[:, 2] += clv @ weights
            onehot = np.zeros((len(local), n_groups))
            g = key_g[block_keys]
            onehot[g >= 0, g[g >= 0]] = weights[g >= 0]
            group_sums[0] += purchases[:, local] @ onehot
            group_sums[1] += clv @ onehot
    out = np.column_stack([row_out[inverse], key_out[key_of_customer]])
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
