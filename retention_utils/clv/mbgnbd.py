"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD in which a customer may also drop
out right after their first purchase, so one-time buyers are not certainly alive.

References
----------
Batislam, E. P., Denizel, M., & Filiztekin, A. (2007). Empirical validation and comparison
of models for customer base analysis. International Journal of Research in Marketing,
24(3), 201-209.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from retention_utils.clv.base import fit_lifetimes

# ``params`` is a tuple (r, alpha, a, b) of floats or of arrays of shape (draws, 1), which
# broadcast against customer arrays of shape (customers,).


def fit(rows: pd.DataFrame, penalizer: float, tol: float):
    """lifetimes' ModifiedBetaGeoFitter on distinct (frequency, recency, T) rows with ``weights``."""
    return fit_lifetimes("ModifiedBetaGeoFitter", rows, penalizer, tol)


def log_likelihood(params, x, t_x, t_age) -> np.ndarray:
    """Log-likelihood of each (frequency x, recency t_x, age T) row (as lifetimes)."""
    r, alpha, a, b = params
    head = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x + 1)
        - special.gammaln(b)
        - special.gammaln(a + b + x + 1)
        - (r + x) * np.log(alpha + t_age)
    )
    dropped = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t_age) - np.log(alpha + t_x))
    return head + np.logaddexp(dropped, 0.0)


def p_alive(params, x, t_x, t_age) -> np.ndarray:
    """P(alive | x, t_x, T) (Batislam et al. 2007, appendix A, eq. 5), 0-1."""
    r, alpha, a, b = params
    log_odds = np.log(a / (b + x)) + (r + x) * (np.log(alpha + t_age) - np.log(alpha + t_x))
    return special.expit(-log_odds)


def purchases_if_alive(params, t, x, t_age) -> np.ndarray:
    """Repeat purchases expected in the next ``t`` units from a customer alive now
    (lifetimes' conditional expectation without its P(alive) factor)."""
    r, alpha, a, b = params
    z = t / (alpha + t_age + t)
    hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, z)
    return (a + b + x) / (a - 1) * (1 - hyp * np.exp((r + x) * np.log1p(-z)))


def probability_of_purchases(params, t, n: int) -> np.ndarray:
    """P(X(t) = n): probability of ``n`` repeat purchases in ``t`` units (vectorised over
    ``t``; lifetimes' ``probability_of_n_purchases_up_to_time`` in log space)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    log_share, log_rest = np.log(alpha / (alpha + t)), special.xlogy(1, t / (alpha + t))
    first = np.exp(
        special.betaln(a, b + n + 1)
        - special.betaln(a, b)
        + special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1)
        + r * log_share
        + n * log_rest
    )
    j = np.arange(n)[:, None]
    finite_sum = np.exp(
        special.gammaln(r + j) - special.gammaln(r) - special.gammaln(j + 1) + j * log_rest
    ).sum(axis=0)
    second = np.exp(special.betaln(a + 1, b + n) - special.betaln(a, b)) * (
        1 - np.exp(r * log_share) * finite_sum
    )
    return first + second
