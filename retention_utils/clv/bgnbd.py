"""BG/NBD (Fader, Hardie & Lee 2005): fit, likelihood, and what the fitted model predicts
for a customer or the population.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from retention_utils.clv.base import (
    DAYS_PER_MONTH,
    fit_lifetimes,
    model_unit_days,
    quiet_lifetimes,
    rfm_arrays,
)
from retention_utils.config import CUSTOMER

#: Mean dropout probability per purchase, a / (a + b), below which BG/NBD finds no dropout
#: (SPEC section 4, "Model choice").
DROPOUT_WARNING = 1e-3


def predicts_finite(fitter) -> bool:
    """True when a fitted purchase model's predictions are finite on its fitted data."""
    data = fitter.data
    f, r, t_age = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    with quiet_lifetimes(), np.errstate(all="ignore"):
        expected = fitter.conditional_expected_number_of_purchases_up_to_time(1.0, f, r, t_age)
        alive = fitter.conditional_probability_alive(f, r, t_age)
    return bool(np.all(np.isfinite(expected)) and np.all(np.isfinite(alive)))


def fit(rows: pd.DataFrame, penalizer: float, tol: float):
    """lifetimes' BetaGeoFitter on distinct (frequency, recency, T) rows with ``weights``."""
    return fit_lifetimes("BetaGeoFitter", rows, penalizer, tol)


# --- the model's formulas, vectorised over parameter draws and customers -------------------
# ``params`` is a tuple (r, alpha, a, b) of floats or of arrays of shape (draws, 1), which
# broadcast against customer arrays of shape (customers,).


def _frequency_terms(params, x) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood's terms of the frequency x and parameters alone (FHL 2005, eq. 6):
    the constant, and the log-odds of having dropped out at the last purchase."""
    r, alpha, a, b = params
    head = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    return head, np.log(a) - np.log(b + np.maximum(x, 1) - 1)


def log_likelihood(params, x, t_x, t_age) -> np.ndarray:
    """Log-likelihood of each (frequency x, recency t_x, age T) row (FHL 2005, eq. 6).

    For rows given as 1-D arrays, the terms of x alone are evaluated once per distinct
    frequency and the logarithms of the ages once per distinct age (the same values, bit
    for bit): a likelihood over many parameter points, as the Hessian behind the standard
    errors, then costs one exponential and one logarithm per row and point.
    """
    r, alpha, a, b = params
    if not all(np.ndim(v) == 1 for v in (x, t_x, t_age)):
        head, dropout = _frequency_terms(params, x)
        log_recency, log_age = np.log(alpha + t_x), np.log(alpha + t_age)
    else:
        frequencies, of_row = np.unique(x, return_inverse=True)
        ages, of_age = np.unique(np.concatenate([t_x, t_age]), return_inverse=True)
        head, dropout = (np.take(t, of_row, axis=-1) for t in _frequency_terms(params, frequencies))
        logs = np.log(alpha + ages)
        log_recency, log_age = (np.take(logs, i, axis=-1) for i in np.split(of_age, [len(x)]))
    alive = -(r + x) * log_age
    dropped = np.where(x > 0, dropout - (r + x) * log_recency, -np.inf)
    return head + np.logaddexp(alive, dropped)


def p_alive(params, x, t_x, t_age) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, eq. 11), 0-1."""
    r, alpha, a, b = params
    log_odds = (r + x) * (np.log(alpha + t_age) - np.log(alpha + t_x)) + np.log(
        a / (b + np.maximum(x, 1) - 1)
    )
    return np.where(x == 0, 1.0, special.expit(-log_odds))


def _one_minus(f: np.ndarray, log_factor: np.ndarray) -> np.ndarray:
    """``1 - f * exp(log_factor)``, without cancellation (by ``expm1``) where ``f > 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, -np.expm1(np.log(f) + log_factor), 1 - f * np.exp(log_factor))


def purchases_if_alive(params, t, x, t_age) -> np.ndarray:
    """Repeat purchases expected in the next ``t`` units from a customer alive now
    (FHL 2005, eq. 10 without its P(alive) factor); depends on x and T only.

    The hypergeometric term is negative when ``c = a + b + x - 1 < 0`` (one-time buyers
    when ``a + b < 1``): the formula holds as printed, without logarithms.
    """
    r, alpha, a, b = params
    z = t / (alpha + t_age + t)
    c = a + b + x - 1
    gone = _one_minus(special.hyp2f1(r + x, b + x, c, z), (r + x) * np.log1p(-z))
    bad = ~np.isfinite(gone)
    if np.any(bad):  # Euler's transformation where the series overflows (large x)
        euler = special.hyp2f1(c - r - x, c - b - x, c, z)  # times (1 - z)^(c - r - b - 2x)
        gone = np.where(bad, _one_minus(euler, (c - b - x) * np.log1p(-z)), gone)
    return c / (a - 1) * gone


# --- the same predictions for many rows and parameter draws at once (clv_intervals) -------

#: Most terms of the hypergeometric series that :func:`purchases_over_horizon` sums; a
#: (frequency, T) pair whose series needs more (customers a few weeks old, for a horizon
#: long compared with their age) is left to SciPy's ``hyp2f1``.
SERIES_TERMS = 128
#: Largest truncation error of the series, relative to its sum.
SERIES_TOLERANCE = 2.0**-53
#: Distinct ages T evaluated together by :func:`purchases_over_horizon`.
AGE_BLOCK = 32


class AliveTable(NamedTuple):
    """P(alive) (FHL 2005, eq. 11) of many rows and parameter draws from logarithms taken
    once per distinct frequency, distinct age and draw: the log-odds of having dropped out
    are ``shape[x] * (log_age[T] - log_age[t_x]) + base[x]`` (``base`` is -inf at x = 0,
    where P(alive) is 1). Rows are given by their positions in ``frequencies`` and ``ages``
    (ascending) of :func:`alive_table`."""

    shape: np.ndarray
    base: np.ndarray
    log_age: np.ndarray

    def p_alive(self, x: np.ndarray, t_age: np.ndarray, t_x: np.ndarray) -> np.ndarray:
        """P(alive) (0-1), shape (rows, draws), of rows at positions ``x``, ``t_age``,
        ``t_x``."""
        log_odds = self.log_age[t_age]
        log_odds -= self.log_age[t_x]
        log_odds *= self.shape[x]
        log_odds += self.base[x]
        with np.errstate(over="ignore"):  # odds beyond 1e308: P(alive) is 0
            return from_odds(np.exp(log_odds, out=log_odds))

    def odds_factors(self, x: np.ndarray, age: np.ndarray, *, recency: bool) -> np.ndarray:
        """The odds of having dropped out as a product of a factor of (x, T) and one of
        (x, t_x), so that a row costs no exponential: ``exp(shape * (log_age[T] -
        log_age[0]) + base)`` and ``exp(-shape * (log_age[t_x] - log_age[0]))`` (with
        ``recency``), shape (pairs, draws). Exact where :meth:`exact_products`."""
        log = self.shape[x] * (self.log_age[age] - self.log_age[0])
        with np.errstate(over="ignore"):
            return np.exp(-log) if recency else np.exp(log + self.base[x])

    def exact_products(self) -> np.ndarray:
        """Per frequency: True where :meth:`odds_factors` stay far from overflow and
        underflow at every age and draw (the factor of T below e^700, that of t_x above
        e^-700), so that their product is the odds to a few units in the last place of
        the exponent."""
        span = self.shape * (self.log_age[-1] - self.log_age[0])
        base = np.where(np.isfinite(self.base), self.base, 0.0)
        return ((span + np.maximum(base, 0) < 700) & (base > -700)).all(axis=1)


def from_odds(odds: np.ndarray) -> np.ndarray:
    """P(alive) ``1 / (1 + odds)`` from the odds of having dropped out, in place (as SciPy's
    ``expit(-log_odds)`` computes it)."""
    odds += 1.0
    return np.reciprocal(odds, out=odds)


def alive_table(params, frequencies: np.ndarray, ages: np.ndarray) -> AliveTable:
    """:class:`AliveTable` of parameter draws ``params`` (r, alpha, a, b; each of shape
    (draws,) or (1, draws)) for the distinct ``frequencies`` and ``ages`` (T and recency,
    model units)."""
    r, alpha, a, b = (np.reshape(p, (1, -1)) for p in params)
    x = frequencies[:, None]
    with np.errstate(divide="ignore"):
        base = np.where(x == 0, -np.inf, np.log(a / (b + np.maximum(x, 1) - 1)))
    return AliveTable(r + x, base, np.log(alpha + ages[:, None]))


def purchases_over_horizon(
    params, x: np.ndarray, t_age: np.ndarray, steps: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Purchases expected from customers alive now, for many (x, T) pairs and parameter
    draws: over the next ``steps[-1]`` units, and the ``weights``-weighted sum of those
    expected within each of ``steps``.

    :func:`purchases_if_alive` at every step costs one SciPy ``hyp2f1`` per pair, step and
    draw. Euler's transformation turns FHL 2005's eq. 10 into

        E(t) = (c / (a - 1)) * (1 - (1 - z)^(a - 1) * 2F1(a + b - 1 - r, a - 1; c; z)),

    with ``c = a + b + x - 1`` and ``z = t / (alpha + T + t)``, whose Gauss series
    ``1 + sum_n k_n z^n`` has coefficients ``k_n`` that depend on the draw and x only, and
    the same sign for every n >= 1 when ``a + b - 1 - r > -1`` and ``c > 0`` (no
    cancellation). The series at the last step and the weighted sum over steps
    ``sum_n k_n sum_s weights_s (1 - z_s)^(a - 1) z_s^n`` are then one matrix product per
    block of ages. A pair whose series does not reach ``SERIES_TOLERANCE`` within
    ``SERIES_TERMS`` terms by a geometric bound of the rest, or whose coefficients change
    sign, is computed with :func:`purchases_if_alive` instead.

    Parameters
    ----------
    params
        r, alpha, a, b: arrays of shape (draws,) or (1, draws).
    x, t_age : ndarray
        Frequency and age T (model units) of each pair, shape (pairs,).
    steps : ndarray
        Horizons (model units), increasing, shape (steps,).
    weights : ndarray
        Weight of each horizon's expected purchases, shape (steps,).

    Returns
    -------
    tuple of ndarray
        Purchases expected within ``steps[-1]``, and the weighted sum; shape (pairs, draws).
    """
    r, alpha, a, b = (np.reshape(p, -1).astype(float) for p in params)
    if len(r) == 0 or len(x) == 0:
        return np.empty((len(x), len(r))), np.empty((len(x), len(r)))
    top, low = a + b - 1 - r, a - 1  # the series' numerator parameters, per draw
    xs, x_of = np.unique(x, return_inverse=True)
    ages, t_of = np.unique(t_age, return_inverse=True)
    c = (a + b - 1)[:, None] + xs  # (draws, frequencies)
    without_sign_change = (top[:, None] > -1) & (c > 0)
    z = steps / (alpha[:, None, None] + ages[:, None] + steps)  # (draws, ages, steps)
    log_rest = low[:, None, None] * np.log1p(-z)
    rest = np.exp(log_rest)  # (1 - z)^(a - 1)
    gone = -np.expm1(log_rest)  # 1 - (1 - z)^(a - 1)
    gone_weighted = gone @ weights  # (draws, ages)
    weighted_rest = rest * weights
    final = np.empty((len(r), len(x)))
    total = np.empty((len(r), len(x)))
    converged = np.ones(len(x), dtype=bool)
    by_age = np.argsort(t_of, kind="stable")
    edges = np.searchsorted(t_of[by_age], np.arange(0, len(ages) + AGE_BLOCK, AGE_BLOCK))
    for block, start in enumerate(range(0, len(ages), AGE_BLOCK)):
        pairs = by_age[edges[block] : edges[block + 1]]
        if len(pairs) == 0:
            continue
        ages_block = slice(start, start + AGE_BLOCK)
        zb, wb = z[:, ages_block], weighted_rest[:, ages_block]
        n_ages = zb.shape[1]
        # geometric decay at the largest z: terms until z^n is below the tolerance
        largest = min(float(zb[..., -1].max()), 1 - SERIES_TOLERANCE)
        terms = int(np.clip(np.log(SERIES_TOLERANCE) / np.log(largest), 4, SERIES_TERMS))
        # z^n at the last step, and sum_s weights_s (1 - z_s)^(a - 1) z_s^n, n = 1 ... terms
        sums = np.empty((len(r), 2 * n_ages, terms))
        power = np.ones_like(zb)
        for n in range(terms):
            power *= zb
            sums[:, :n_ages, n] = power[..., -1]
            sums[:, n_ages:, n] = np.einsum("dts,dts->dt", power, wb)
        present, x_local = np.unique(x_of[pairs], return_inverse=True)
        cb = c[:, present, None]  # (draws, frequencies, 1)
        n = np.arange(terms)
        ratio = (top[:, None, None] + n) * (low[:, None, None] + n) / ((cb + n) * (n + 1))
        coefficients = np.cumprod(ratio, axis=2).transpose(0, 2, 1)  # k_1 ... k_terms
        series = np.matmul(sums, coefficients)  # (draws, 2 ages, frequencies)
        t_local = t_of[pairs] - start
        at_end = series[:, t_local, x_local]
        over_steps = series[:, n_ages + t_local, x_local]
        tg, xg = t_of[pairs], x_of[pairs]
        scale = c[:, xg] / low[:, None]
        final[:, pairs] = scale * (gone[:, tg, -1] - rest[:, tg, -1] * at_end)
        total[:, pairs] = scale * (gone_weighted[:, tg] - over_steps)
        # rest of the series: each next ratio k_(n+1) z / k_n for n >= terms is at most q
        cn = cb[:, :, 0] + terms
        linear = (top + low - 1)[:, None] - c[:, present]  # k-ratio - 1 = (linear n + rest)
        constant = (top * low)[:, None] - c[:, present]  # / ((c + n) (n + 1))
        excess = np.maximum(linear, 0) / cn + np.maximum(constant, 0) / (cn * (terms + 1))
        q = zb[:, t_local, -1] * (1 + excess[:, x_local])
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.abs(coefficients[:, -1, x_local]) * sums[:, t_local, -1] * q / (1 - q)
        converged[pairs] = (
            (q < 1)
            & (tail <= SERIES_TOLERANCE * np.abs(at_end))
            & (tail * np.abs(wb).sum(axis=-1)[:, t_local] <= SERIES_TOLERANCE * np.abs(over_steps))
            & without_sign_change[:, xg]
            & np.isfinite(final[:, pairs])
            & np.isfinite(total[:, pairs])
        ).all(axis=0)
    final, total = np.ascontiguousarray(final.T), np.ascontiguousarray(total.T)
    slow = np.flatnonzero(~converged)
    if len(slow):
        draws = tuple(p[None, :] for p in (r, alpha, a, b))
        xl, tl = x[slow, None], t_age[slow, None]
        total[slow] = 0.0
        for step, weight in zip(steps, weights, strict=True):
            expected = purchases_if_alive(draws, step, xl, tl)
            total[slow] += weight * expected
        final[slow] = expected
    return final, total


def dropout_probability(bgf) -> float:
    """Mean dropout probability per purchase of a fitted BG/NBD, ``a / (a + b)`` (0-1)."""
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
        data = rfm_arrays(summary)
        weights = np.ones(len(data))
    log_params = np.log(bgf.params_[["r", "alpha", "a", "b"]].to_numpy(dtype=float))
    with quiet_lifetimes():
        mean_nll = bgf._negative_log_likelihood(
            log_params,
            data["frequency"].to_numpy(dtype=float),
            data["recency"].to_numpy(dtype=float),
            data["T"].to_numpy(dtype=float),
            weights,
            0.0,
        )
    return float(-mean_nll * weights.sum())


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
    days_per_unit = model_unit_days(bgf, unit_days)
    day = np.arange(days + 1)
    with quiet_lifetimes():
        expected = np.asarray(
            bgf.expected_number_of_purchases_up_to_time(day / days_per_unit), dtype=float
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
    with quiet_lifetimes():
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


def alive_history(
    purchase_days: pd.DataFrame, bgf, *, unit_days: float | None = None
) -> pd.DataFrame:
    """Day-by-day P(alive) of a few customers, from their first purchase to the end.

    On each day ``d`` the customer's history up to ``d`` (repeat purchases, recency and age
    ``T`` in model units) gives P(alive) under the fitted BG/NBD; it jumps up at each
    purchase and decays while the customer is silent. Replaces lifetimes'
    ``calculate_alive_path``, which fails on the current stack.

    Parameters
    ----------
    purchase_days : DataFrame
        :func:`retention_utils.engine.customer_purchase_days` of the customers to follow
        (``customer_id``, ``day``; ``attrs["observation_end"]``).
    bgf
        Fitted BG/NBD model.
    unit_days : float, optional
        Days per model unit; default ``bgf.unit_days_``.

    Returns
    -------
    DataFrame
        ``customer_id``, ``day``, ``p_alive`` (0-1) and ``purchase`` (a purchase that day).
    """
    days_per_unit = model_unit_days(bgf, unit_days)
    if purchase_days.empty:
        raise ValueError("No purchase day of the customers to follow: there is nothing to show.")
    end = pd.Timestamp(purchase_days.attrs["observation_end"])
    frames = []
    for customer, bought in purchase_days.groupby(CUSTOMER, sort=False):
        first = bought["day"].min()
        grid = pd.date_range(first, end, freq="D")
        purchase = grid.isin(bought["day"])
        age = (grid - first).days.to_numpy(dtype=float)
        frequency = np.cumsum(purchase) - 1
        last = pd.Series(np.where(purchase, age, np.nan)).ffill().to_numpy()
        with quiet_lifetimes():
            p_alive = bgf.conditional_probability_alive(
                frequency.astype(float), last / days_per_unit, age / days_per_unit
            )
        frames.append(
            pd.DataFrame(
                {CUSTOMER: customer, "day": grid, "p_alive": p_alive, "purchase": purchase}
            )
        )
    return pd.concat(frames, ignore_index=True)
