"""BG/NBD (Fader, Hardie & Lee 2005): fit, likelihood, and what the fitted model predicts
for a customer or the population.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
"""

from __future__ import annotations

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


def log_likelihood(params, x, t_x, t_age) -> np.ndarray:
    """Log-likelihood of each (frequency x, recency t_x, age T) row (FHL 2005, eq. 6)."""
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
    alive = -(r + x) * np.log(alpha + t_age)
    dropped = np.where(
        x > 0,
        np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return head + np.logaddexp(alive, dropped)


def p_alive(params, x, t_x, t_age) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, eq. 11), 0-1."""
    r, alpha, a, b = params
    log_odds = (r + x) * (np.log(alpha + t_age) - np.log(alpha + t_x)) + np.log(
        a / (b + np.maximum(x, 1) - 1)
    )
    return np.where(x == 0, 1.0, special.expit(-log_odds))


def purchases_if_alive(params, t, x, t_age) -> np.ndarray:
    """Repeat purchases expected in the next ``t`` units from a customer alive now
    (FHL 2005, eq. 10 without its P(alive) factor); depends on x and T only."""
    r, alpha, a, b = params
    z = t / (alpha + t_age + t)
    c = a + b + x - 1
    log_hyp = np.log(special.hyp2f1(r + x, b + x, c, z))
    bad = ~np.isfinite(log_hyp)
    if np.any(bad):  # Euler's transformation where the series overflows (large x)
        alt = np.log(special.hyp2f1(c - r - x, c - b - x, c, z)) + (c - r - b - 2 * x) * np.log1p(
            -z
        )
        log_hyp = np.where(bad, alt, log_hyp)
    return (a + b + x - 1) / (a - 1) * -np.expm1(log_hyp + (r + x) * np.log1p(-z))


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
