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

import math
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, stats

from retention_utils.clv import bgnbd
from retention_utils.clv.base import DAYS_PER_MONTH, rfm_arrays, unit_days_of
from retention_utils.clv.models import (
    family_of,
    fitted_columns,
    log_covariance,
    params_of,
    total_log_likelihood,
)

#: Distinct rows whose draws are evaluated together (a few MB per array: the arrays of a
#: block stay in the processor's cache).
CHUNK = 2_000
#: Threads evaluating blocks of draws at once.
THREADS = min(2, os.cpu_count() or 1)
#: Interval methods of :func:`clv_intervals`.
METHODS = ("laplace", "bootstrap")
#: Models whose expected purchases over the horizon are BG/NBD's hypergeometric series
#: (:func:`~retention_utils.clv.bgnbd.purchases_over_horizon`), with ``b`` shifted by this.
SERIES_B_SHIFT = {"bgnbd": 0.0, "mbgnbd": 1.0}


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


def _codes(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each position's rank among the distinct values of ``column``, and those values
    (ascending)."""
    codes, uniques = pd.factorize(column, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _ranks(codes: list[np.ndarray], sizes: list[int]) -> list[np.ndarray]:
    """For the first column of ``codes``, the first two, ...: each position's rank among the
    distinct tuples of those columns (0, 1, ... in lexicographic order). ``codes`` are
    whole numbers from 0 to ``sizes - 1``; one sort of their combination gives every rank."""
    if math.prod(sizes) >= 2**62:  # the combined codes would overflow: the first ones first
        head = _ranks(codes[:-1], sizes[:-1])
        last = _ranks([head[-1], codes[-1]], [int(head[-1].max()) + 1, sizes[-1]])[-1]
        return [*head, last]
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column, size in zip(codes, sizes, strict=True):
        combined = combined * size + column
    order = np.argsort(combined)
    ordered = combined[order]
    ranks = []
    for k in range(1, len(codes) + 1):
        prefix = ordered // math.prod(sizes[k:])  # the combined code of the first k columns
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.concatenate([[0], np.cumsum(prefix[1:] != prefix[:-1])])
        ranks.append(rank)
    return ranks


def _a_position_of(codes: np.ndarray) -> np.ndarray:
    """For each code 0 ... max, one position that holds it."""
    positions = np.empty(codes.max() + 1, dtype=np.int64)
    positions[codes] = np.arange(len(codes))
    return positions


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


def _order_statistics(values: np.ndarray, low: int, high: int) -> tuple[np.ndarray, ...]:
    """The ``low``-th and ``high``-th smallest values of each row (``high`` is ``low`` or
    ``low + 1``), by one selection per row around the end nearer to them, and the position
    ``split`` of that selection: ``values`` is partitioned in place, its columns after
    ``split`` holding the largest values."""
    if low < values.shape[1] - 1 - high:
        values.partition(high, axis=1)
        at_high = values[:, high]
        return (values[:, :high].max(axis=1) if low < high else at_high), at_high, high
    values.partition(low, axis=1)
    at_low = values[:, low]
    return at_low, (values[:, low + 1 :].min(axis=1) if high > low else at_low), low


def _quantiles(
    values: np.ndarray, level: float, *, overwrite_input: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each row over its draws (axis 1), ignoring failed (NaN) draws.

    Equal to ``np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2], axis=1)``; rows
    without NaN select the neighbouring order statistics of each bound (a partial selection
    per bound, the upper one among the values above the lower one's, instead of numpy's
    sort or multi-point selection). With ``overwrite_input``, ``values`` is reordered along
    its rows instead of copied.
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
    lows, highs, gammas = _interpolation(n_draws, level)
    values = values if overwrite_input else values.copy()
    *pair, split = _order_statistics(values, lows[0], highs[0])
    low = _lerp(*pair, gammas[0])
    skip = split + 1 if lows[1] > split else 0
    *pair, _ = _order_statistics(values[:, skip:], lows[1] - skip, highs[1] - skip)
    return low, _lerp(*pair, gammas[1])


def _purchases_if_alive(family, params, x, t_age, steps, weights):
    """Per (frequency, T) pair and draw: purchases expected over the horizon from a customer
    alive now, and the ``weights``-weighted sum of those expected by each step (both shape
    (pairs, draws)), one step at a time."""
    xs, ts = x[:, None], t_age[:, None]
    weighted = 0.0
    for step, weight in zip(steps, weights, strict=True):
        current = family.purchases_if_alive(params, step, xs, ts)
        weighted = weighted + weight * current
    return current, weighted


def _horizon(name: str, family, params, x, t_age, steps, weights):
    """:func:`_purchases_if_alive`, by BG/NBD's series where the model has it: MBG/NBD's
    expectation while alive is BG/NBD's with ``b + 1``."""
    if name in SERIES_B_SHIFT:
        r, alpha, a, b = params
        return bgnbd.purchases_over_horizon(
            (r, alpha, a, b + SERIES_B_SHIFT[name]), x, t_age, steps, weights
        )
    parts = _parallel(
        lambda part: _purchases_if_alive(family, params, x[part], t_age[part], steps, weights),
        len(x),
    )
    return tuple(np.concatenate([p[i] for p in parts]) for i in (0, 1))


class _Layout(NamedTuple):
    """Customers by what their predictions depend on: distinct (frequency, recency, T) rows
    in lexicographic order of (frequency, T, recency), their (frequency, T) pairs, their
    positions among the distinct frequencies and ages (T and recency), and distinct
    (row, mean spend) keys sorted by row, with the customers and spend each row holds (in
    total and per group)."""

    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    row_of_customer: np.ndarray
    pair_of_row: np.ndarray
    pair_frequency: np.ndarray
    pair_age: np.ndarray
    frequencies: np.ndarray
    frequency_of_row: np.ndarray
    ages: np.ndarray
    age_of_row: np.ndarray
    recency_of_row: np.ndarray
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
    (f_codes, frequencies), (t_codes, t_values), (r_codes, r_values) = (
        _codes(c) for c in (f, t_age, r)
    )
    sizes = [len(frequencies), len(t_values), len(r_values)]
    frequency_rank, pair_rank, row_of_customer = _ranks([f_codes, t_codes, r_codes], sizes)
    first = _a_position_of(row_of_customer)
    uf, ur, ut = f[first], r[first], t_age[first]
    n_rows = len(first)
    pair_of_row = pair_rank[first]
    pair_first = first[_a_position_of(pair_of_row)]
    ages = np.union1d(t_values, r_values)
    m_codes, m_values = _codes(m)
    key_of_customer = _ranks([row_of_customer, m_codes], [n_rows, len(m_values)])[-1]
    key_first = _a_position_of(key_of_customer)  # keys sorted by row
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
        pair_of_row=pair_of_row,
        pair_frequency=f[pair_first],
        pair_age=t_age[pair_first],
        frequencies=frequencies,
        frequency_of_row=frequency_rank[first],
        ages=ages,
        age_of_row=np.searchsorted(ages, ut),
        recency_of_row=np.searchsorted(ages, ur),
        key_of_customer=key_of_customer,
        key_row=row_of_customer[key_first],
        key_spend=m[key_first],
        row_customers=np.bincount(row_of_customer, minlength=n_rows).astype(float),
        row_spend=np.bincount(row_of_customer, weights=m, minlength=n_rows),
        n_groups=len(names),
        group_names=names,
        group_customers=in_groups,
        group_spend=group_spend,
    )


def _alive(name: str, family, params, layout: _Layout) -> Callable[[slice], np.ndarray]:
    """P(alive) of a block of rows, shape (rows, draws). For BG/NBD from logarithms taken
    once per distinct frequency, age and draw (:func:`~retention_utils.clv.bgnbd.alive_table`),
    and from exponentials taken once per (frequency, T) and (frequency, recency) pair and
    draw where their product is exact."""
    if name != "bgnbd":
        return lambda rows: family.p_alive(
            params, layout.frequency[rows, None], layout.recency[rows, None], layout.age[rows, None]
        )
    table = bgnbd.alive_table(params, layout.frequencies, layout.ages)
    exact = table.exact_products()[layout.frequency_of_row]
    pair_row = _a_position_of(layout.pair_of_row)
    n_ages = len(layout.ages)
    recency_pairs, recency_pair_of_row = np.unique(
        layout.frequency_of_row * n_ages + layout.recency_of_row, return_inverse=True
    )
    of_age = table.odds_factors(
        layout.frequency_of_row[pair_row], layout.age_of_row[pair_row], recency=False
    )
    of_recency = table.odds_factors(recency_pairs // n_ages, recency_pairs % n_ages, recency=True)

    def alive(rows: slice) -> np.ndarray:
        if not exact[rows].all():
            return table.p_alive(
                layout.frequency_of_row[rows], layout.age_of_row[rows], layout.recency_of_row[rows]
            )
        odds = of_age[layout.pair_of_row[rows]]
        odds *= of_recency[recency_pair_of_row[rows]]
        return bgnbd.from_odds(odds)

    return alive


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
    taken per distinct (row, spend), a chunk at a time. For BG/NBD and MBG/NBD the
    horizon's expected purchases are a hypergeometric series summed for all months and
    draws at once (:func:`~retention_utils.clv.bgnbd.purchases_over_horizon`), and BG/NBD's
    P(alive) takes its logarithms once per distinct age and draw.

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
    name, family = family_of(model_fitter)
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
    # sum over months of (E_k - E_(k-1)) discount_k = sum of E_k (discount_k - discount_(k+1))
    weights = discount - np.append(discount[1:], 0.0)
    with np.errstate(all="ignore"):
        final, rate = _horizon(
            name, family, params, layout.pair_frequency, layout.pair_age, steps, weights
        )
        alive_of = _alive(name, family, params, layout)
        spend_base, spend_slope = (
            margin * term
            for term in _spend_terms(spend_params[purchase_ok & spend_ok], layout.frequencies)
        )
        if not spend_columns.all():
            rate = rate[:, spend_columns]  # CLV draws only
        row_out = np.empty((len(layout.frequency), 4))
        key_out = np.empty((len(layout.key_row), 2))
        n_draws = int(purchase_ok.sum())
        sums = [
            np.zeros((3, n_draws)),
            np.zeros((n_draws, layout.n_groups)),
            np.zeros((n_draws, layout.n_groups)),
        ]

        def block(rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """The draws of a block of rows: their sums returned, their quantiles into
            row_out and key_out (taken last: they reorder the draws in place)."""
            alive = alive_of(rows)
            pairs = layout.pair_of_row[rows]
            purchases = alive * final[pairs]
            # discounted purchases of the CLV draws
            value_rate = (alive if spend_columns.all() else alive[:, spend_columns]) * rate[pairs]
            # CLV of a customer with mean spend m: base + slope * m, per draw
            frequency = layout.frequency_of_row[rows]
            base = spend_base[frequency] * value_rate
            slope = np.multiply(spend_slope[frequency], value_rate, out=value_rate)
            customers, spend = layout.row_customers[rows], layout.row_spend[rows]
            in_groups, group_spend = layout.group_customers[rows], layout.group_spend[rows]
            totals = np.zeros((3, n_draws))
            totals[0], totals[1] = customers @ alive, customers @ purchases
            totals[2, spend_columns] = customers @ base + spend @ slope
            totals[2, ~spend_columns] = np.nan
            group_clv = np.full((n_draws, layout.n_groups), np.nan)
            group_clv[spend_columns] = base.T @ in_groups + slope.T @ group_spend
            group_purchases = purchases.T @ in_groups
            keys = slice(*np.searchsorted(layout.key_row, [rows.start, rows.stop]))
            local = layout.key_row[keys] - rows.start
            clv = slope[local]
            clv *= layout.key_spend[keys, None]
            clv += base[local]
            row_out[rows, 0:2] = np.column_stack(_quantiles(alive, level, overwrite_input=True))
            row_out[rows, 2:4] = np.column_stack(_quantiles(purchases, level, overwrite_input=True))
            key_out[keys] = np.column_stack(_quantiles(clv, level, overwrite_input=True))
            return totals, group_purchases, group_clv

        for part in _parallel(block, len(layout.frequency)):
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
    result.attrs.update(
        totals=pd.DataFrame(
            {"low": low, "high": high}, index=["p_alive", "expected_purchases", "clv"]
        ),
        level=level,
        method=method,
        draws=draws,
        cautions=_draw_cautions(
            (family.label, purchase_ok, "P(alive), expected purchases and CLV"),
            ("Gamma-Gamma", spend_ok, "CLV"),
        ),
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


def _draw_cautions(*models: tuple[str, np.ndarray, str]) -> list[str]:
    """One caution per model (name, which of its draws worked, what its draws feed) some of
    whose parameter draws failed."""
    cautions = []
    for name, ok, feeds in models:
        failed, draws = int((~ok).sum()), len(ok)
        if failed == draws:
            cautions.append(
                f"No intervals of {feeds}: the {name} model's parameters cannot be drawn "
                "(its standard errors are not finite: the fit sits at the edge of its "
                "parameter space, see the parameter table)."
            )
        elif failed:
            cautions.append(
                f"{failed} of {draws} parameter draws of the {name} model failed (a refit "
                f"that did not converge), so the intervals of {feeds} rest on "
                f"{draws - failed} draws."
            )
    return cautions


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
