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

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, stats

from retention_utils.clv.base import DAYS_PER_MONTH, rfm_arrays, unit_days_of
from retention_utils.clv.models import (
    family_of,
    fitted_columns,
    log_covariance,
    params_of,
    total_log_likelihood,
)

#: Distinct rows whose draws are held in memory at once.
CHUNK = 20_000
#: Threads evaluating blocks of draws at once.
THREADS = min(2, os.cpu_count() or 1)
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


def _groups_of(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the number of its distinct tuple of ``columns`` (numbered in order
    of first appearance, by hashing), and the position of each tuple's first appearance."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        column_codes, uniques = pd.factorize(column)
        codes, _ = pd.factorize(codes * len(uniques) + column_codes)
    # codes appear in increasing order: a tuple is new where its code exceeds all before it
    seen = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    first = np.flatnonzero(codes > seen)
    return codes, first


def _interpolation(n: int, level: float) -> tuple[list[int], list[int], list[float]]:
    """Neighbouring order statistics and weights of the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of ``n`` values, as ``np.quantile``'s default ("linear")
    method computes them."""
    lows, highs, gammas = [], [], []
    for q in ((1 - level) / 2, (1 + level) / 2):
        virtual = (n - 1) * q  # numpy's virtual index of the linear method
        previous = float(np.floor(virtual))
        if virtual >= n - 1:
            lows.append(n - 1), highs.append(n - 1)
        else:
            lows.append(int(previous)), highs.append(int(previous) + 1)
        gammas.append(virtual - previous)
    return lows, highs, gammas


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """numpy's own linear interpolation of quantiles (the same float operations)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _quantiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each row over its draws (axis 1), ignoring failed (NaN) draws.

    Equal to ``np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2], axis=1)``; rows
    without NaN are sorted along the contiguous draws axis, several times faster than
    numpy's selection over 200 draws.
    """
    n_rows, n_draws = values.shape
    if n_draws == 0:
        return np.full(n_rows, np.nan), np.full(n_rows, np.nan)
    if np.isnan(values).any():
        with warnings.catch_warnings():
            # every draw failed: NaN bounds, said by the cautions of clv_intervals
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2], axis=1)
        return low, high
    ordered = np.sort(values, axis=1)
    lows, highs, gammas = _interpolation(n_draws, level)
    low, high = (
        _lerp(ordered[:, i], ordered[:, j], g) for i, j, g in zip(lows, highs, gammas, strict=True)
    )
    return low, high


def _purchases_if_alive(family, params, x, t_age, steps, discount):
    """Per (frequency, T) pair and draw: purchases expected over the horizon from a customer
    alive now, and the same discounted month by month (both shape (pairs, draws))."""
    final = np.empty((len(x), params[0].shape[1]))
    rate = np.empty_like(final)
    for start in range(0, len(x), CHUNK):
        part = slice(start, start + CHUNK)
        xs, ts = x[part, None], t_age[part, None]
        previous, discounted = 0.0, 0.0
        for step, factor in zip(steps, discount, strict=True):
            current = family.purchases_if_alive(params, step, xs, ts)
            discounted = discounted + (current - previous) * factor
            previous = current
        final[part], rate[part] = previous, discounted
    return final, rate


class _Layout(NamedTuple):
    """Customers by what their predictions depend on: distinct (frequency, recency, T) rows,
    their (frequency, T) pairs and frequencies, and distinct (row, mean spend) keys sorted by
    row, with the customers and spend each row holds (in total and per group)."""

    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    row_of_customer: np.ndarray
    pair_first: np.ndarray
    pair_of_row: np.ndarray
    frequency_first: np.ndarray
    frequency_of_row: np.ndarray
    key_of_customer: np.ndarray
    key_row: np.ndarray
    key_spend: np.ndarray
    row_customers: np.ndarray
    row_spend: np.ndarray
    n_groups: int
    group_names: list[str]
    group_customers: np.ndarray
    group_spend: np.ndarray


def _layout(f, r, t_age, m, groups: pd.Series | None, index: pd.Index) -> _Layout:
    row_of_customer, first = _groups_of(f, r, t_age)
    uf, ur, ut = f[first], r[first], t_age[first]
    n_rows = len(uf)
    pair_of_row, pair_first = _groups_of(uf, ut)
    frequency_of_row, frequency_first = _groups_of(uf)
    key_of_customer, key_first = _groups_of(row_of_customer, m)
    by_row = np.argsort(row_of_customer[key_first], kind="stable")
    position = np.empty(len(by_row), dtype=np.int64)
    position[by_row] = np.arange(len(by_row))
    key_first = key_first[by_row]
    names: list[str] = []
    in_groups, group_spend = np.zeros((n_rows, 0)), np.zeros((n_rows, 0))
    if groups is not None:
        labels = pd.Categorical(groups.reindex(index))
        names = list(labels.categories.astype(str))
        known = labels.codes >= 0
        cell = row_of_customer[known] * len(names) + labels.codes[known]
        size = n_rows * len(names)
        in_groups = np.bincount(cell, minlength=size).astype(float).reshape(n_rows, -1)
        group_spend = np.bincount(cell, weights=m[known], minlength=size).reshape(n_rows, -1)
    return _Layout(
        frequency=uf,
        recency=ur,
        age=ut,
        row_of_customer=row_of_customer,
        pair_first=pair_first,
        pair_of_row=pair_of_row,
        frequency_first=frequency_first,
        frequency_of_row=frequency_of_row,
        key_of_customer=position[key_of_customer],
        key_row=row_of_customer[key_first],
        key_spend=m[key_first],
        row_customers=np.bincount(row_of_customer, minlength=n_rows).astype(float),
        row_spend=np.bincount(row_of_customer, weights=m, minlength=n_rows),
        n_groups=len(names),
        group_names=names,
        group_customers=in_groups,
        group_spend=group_spend,
    )


def _parallel(work: Callable[[slice], Any], n: int) -> list[Any]:
    """``work`` on each block of ``CHUNK`` of ``range(n)``, on ``THREADS`` threads (NumPy and
    SciPy release the GIL in their loops), results in block order. Floating-point warnings
    are off in each block (``np.errstate`` does not reach other threads): degenerate draws
    are NaN, and said by the cautions."""

    def quiet(part: slice) -> Any:
        with np.errstate(all="ignore"):
            return work(part)

    blocks = [slice(start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]
    if THREADS == 1 or len(blocks) < 2:
        return [quiet(part) for part in blocks]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(quiet, blocks))


def _spend_terms(spend_params: np.ndarray, frequency: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gamma-Gamma's expected spend ``E[Z | x, m] = (v p + p x m) / (p x + q - 1)`` as
    ``A + B m``: ``A`` and ``B`` per distinct frequency and draw (shape (frequencies,
    draws)); customers differ only by their mean spend ``m`` beyond their row."""
    p, q, v = (spend_params[None, :, i] for i in range(3))
    px = p * frequency[:, None]
    denominator = px + q - 1
    return v * p / denominator, px / denominator


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
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of its draws (``np.quantile``'s
    linear interpolation).

    The predictions depend on a customer only through their (frequency, recency, T) row and,
    for CLV, linearly on their mean spend: the draws are evaluated once per distinct row
    (the horizon's expected purchases once per distinct (frequency, T) pair), totals are
    sums over rows weighted by their customers and spend, and only the CLV quantiles are
    taken per distinct (row, spend), a chunk at a time.

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
    # A failed draw is NaN in every prediction it touches: leave it out (as nanquantile).
    purchase_ok = ~np.isnan(purchase_params).any(axis=1)
    spend_ok = ~np.isnan(spend_params).any(axis=1)
    params = tuple(purchase_params[None, purchase_ok, i] for i in range(purchase_params.shape[1]))
    spend_columns = spend_ok[purchase_ok]  # CLV draws among the purchase draws

    layout = _layout(f, r, t_age, m, groups, summary.index)
    steps = np.arange(1, months + 1) * (DAYS_PER_MONTH / days)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1)
    uf, ut = layout.frequency, layout.age
    with np.errstate(all="ignore"):
        pairs = _parallel(
            lambda part: _purchases_if_alive(
                family,
                params,
                uf[layout.pair_first][part],
                ut[layout.pair_first][part],
                steps,
                discount,
            ),
            len(layout.pair_first),
        )
        final, rate = (np.concatenate([p[i] for p in pairs]) for i in (0, 1))
        spend_base, spend_slope = (
            margin * term
            for term in _spend_terms(
                spend_params[purchase_ok & spend_ok], uf[layout.frequency_first]
            )
        )
        row_out, key_out = np.empty((len(uf), 4)), np.empty((len(layout.key_row), 2))
        n_draws = int(purchase_ok.sum())
        sums = [
            np.zeros((3, n_draws)),
            np.zeros((n_draws, layout.n_groups)),
            np.zeros((n_draws, layout.n_groups)),
        ]

        def block(rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """The draws of a block of rows: their quantiles into row_out and key_out, their
            sums returned."""
            alive = family.p_alive(
                params, uf[rows, None], layout.recency[rows, None], ut[rows, None]
            )
            pairs = layout.pair_of_row[rows]
            purchases = alive * final[pairs]
            value_rate = (alive * rate[pairs])[:, spend_columns]  # discounted purchases
            row_out[rows, 0:2] = np.column_stack(_quantiles(alive, level))
            row_out[rows, 2:4] = np.column_stack(_quantiles(purchases, level))
            # CLV of a customer with mean spend m: base + slope * m, per draw
            base = spend_base[layout.frequency_of_row[rows]] * value_rate
            slope = spend_slope[layout.frequency_of_row[rows]] * value_rate
            keys = slice(*np.searchsorted(layout.key_row, [rows.start, rows.stop]))
            local = layout.key_row[keys] - rows.start
            clv = base[local] + slope[local] * layout.key_spend[keys, None]
            key_out[keys] = np.column_stack(_quantiles(clv, level))
            customers, spend = layout.row_customers[rows], layout.row_spend[rows]
            in_groups, group_spend = layout.group_customers[rows], layout.group_spend[rows]
            totals = np.zeros((3, n_draws))
            totals[0], totals[1] = customers @ alive, customers @ purchases
            totals[2, spend_columns] = customers @ base + spend @ slope
            totals[2, ~spend_columns] = np.nan
            group_clv = np.full((n_draws, layout.n_groups), np.nan)
            group_clv[spend_columns] = base.T @ in_groups + slope.T @ group_spend
            return totals, purchases.T @ in_groups, group_clv

        for part in _parallel(block, len(uf)):
            for total, value in zip(sums, part, strict=True):
                total += value
    totals, group_purchases, group_clv = sums
    row_out, key_out = row_out[layout.row_of_customer], key_out[layout.key_of_customer]
    out = np.column_stack([row_out, key_out])
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
    failed = int((~purchase_ok).sum() + (~spend_ok).sum())
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
        purchases_low, purchases_high = _quantiles(group_purchases.T, level)
        clv_low, clv_high = _quantiles(group_clv.T, level)
        result.attrs["group_totals"] = pd.DataFrame(
            {
                "expected_purchases_low": purchases_low,
                "expected_purchases_high": purchases_high,
                "clv_low": clv_low,
                "clv_high": clv_high,
            },
            index=pd.Index(layout.group_names, name=groups.name),
        )
    return result


def interval_totals(predictions: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Totals over customers with their intervals, for reading.

    Returns
    -------
    DataFrame
        Index ``customers alive (expected)`` (left out when the model does not identify
        dropout: every customer would count), ``expected purchases``, ``CLV``; columns
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
    if not predictions.attrs.get("dropout_identified", True):
        out = out.drop(index="customers alive (expected)")
    out.attrs["level"] = intervals.attrs["level"]
    return out
