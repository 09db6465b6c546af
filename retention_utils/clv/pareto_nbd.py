"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases at a Poisson rate while
alive, and an exponential lifetime that may end at any moment (not only after a purchase).

lifetimes' ``ParetoNBDFitter`` evaluates the likelihood through Gauss hypergeometric
functions whose series overflow for very frequent buyers when ``alpha < beta``
(``log(inf) - log(inf)``: P(alive) and expected purchases are NaN, e.g. for 5,000 repeat
purchases with r=0.3, alpha=5, s=2, beta=300), and fits from a random start (numpy's global
random state). The fitter returned here is a ``ParetoNBDFitter`` whose likelihood, P(alive) and
conditional expectation are evaluated in log space after Euler's transformation (finite for
any frequency and age), fitted by a deterministic optimizer.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: Using iso-value curves for
customer base analysis. Journal of Marketing Research, 42(4), 415-430.
Fader, P. S., & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and
related expressions. http://brucehardie.com/notes/009/
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from retention_utils.clv.base import lifetimes_classes

# ``params`` is a tuple (r, alpha, s, beta) of floats or of arrays of shape (draws, 1), which
# broadcast against customer arrays of shape (customers,).


def _log_hyp(rsx, b, log_one_minus_z, z):
    """log 2F1(r+s+x, b; r+s+x+1; z), through Euler's transformation
    (1-z)^(1-b) 2F1(1, r+s+x+1-b; r+s+x+1; z), whose series stays of order 1."""
    return (1 - b) * log_one_minus_z + np.log(special.hyp2f1(1.0, rsx + 1 - b, rsx + 1, z))


def _log_integral(params, x, age) -> np.ndarray:
    """log of one term of A0 (note 009, eq. 19-20) at one age (recency or T):
    log 2F1(r+s+x, b; r+s+x+1; z) - (r+s+x) log(max(alpha, beta) + age)."""
    r, alpha, s, beta = params
    rsx = r + s + x
    alpha_larger = alpha >= beta
    high = np.where(alpha_larger, alpha, beta)
    low = np.where(alpha_larger, beta, alpha)
    b = np.where(alpha_larger, s + 1, r + x)
    log_one_minus_z = np.log(low + age) - np.log(high + age)
    z = -np.expm1(log_one_minus_z)
    return _log_hyp(rsx, b, log_one_minus_z, z) - rsx * np.log(high + age)


def _log_integral_per_pair(params, x, age) -> np.ndarray:
    """:func:`_log_integral` evaluated once per distinct (x, age) pair and spread back.

    A term depends on the frequency and one age only, and customers share far fewer (x,
    recency) or (x, T) pairs than (x, recency, T) rows (about 20 times fewer on two years
    of daily data), while the hypergeometric function costs microseconds per evaluation:
    the same numbers, sooner.
    """
    x, age = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(age, dtype=float))
    if x.ndim != 1:
        return _log_integral(params, x, age)
    codes, pairs = pd.factorize(x + 1j * age)
    return _log_integral(params, pairs.real, pairs.imag)[..., codes]


def log_a0(params, x, t_x, t_age) -> np.ndarray:
    """log A0 of Fader & Hardie's note 009 (eq. 19-20), in log space (-inf when t_x = T)."""
    first = _log_integral_per_pair(params, x, t_x)
    second = _log_integral_per_pair(params, x, t_age)
    # first >= second: the recency term dominates
    with np.errstate(divide="ignore"):
        return first + np.log(-np.expm1(np.minimum(second - first, 0.0)))


def log_likelihood(params, x, t_x, t_age) -> np.ndarray:
    """Log-likelihood of each (frequency x, recency t_x, age T) row (note 009, eq. 18)."""
    r, alpha, s, beta = params
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + t_age) - s * np.log(beta + t_age)
    dropped = np.log(s) - np.log(r + s + x) + log_a0(params, x, t_x, t_age)
    return head + np.logaddexp(alive, dropped)


def p_alive(params, x, t_x, t_age) -> np.ndarray:
    """P(alive | x, t_x, T) (note 009, eq. 36-37), 0-1."""
    r, alpha, s, beta = params
    log_odds = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + t_age)
        + s * np.log(beta + t_age)
        + log_a0(params, x, t_x, t_age)
    )
    return special.expit(-log_odds)


def purchases_if_alive(params, t, x, t_age) -> np.ndarray:
    """Repeat purchases expected in the next ``t`` units from a customer alive now
    (note 009, eq. 41 without its P(alive) factor); depends on x and T only."""
    r, alpha, s, beta = params
    log_ratio = np.log(beta + t_age) - np.log(beta + t_age + t)  # < 0
    s1 = s - 1
    # (1 - ratio^(s-1)) / (s-1), with its limit -log(ratio) at s = 1
    factor = np.where(
        np.abs(s1) > 1e-12, -np.expm1(s1 * log_ratio) / np.where(s1 == 0, 1, s1), -log_ratio
    )
    return (r + x) * (beta + t_age) / (alpha + t_age) * factor


# --- the fitter ---------------------------------------------------------------------------

_classes: dict[str, Any] = {}


def _conditional_probability_alive(self, frequency, recency, T):
    return p_alive(self._unload_params("r", "alpha", "s", "beta"), *_floats(frequency, recency, T))


def _conditional_expected(self, t, frequency, recency, T):
    params = self._unload_params("r", "alpha", "s", "beta")
    x, t_x, t_age = _floats(frequency, recency, T)
    return p_alive(params, x, t_x, t_age) * purchases_if_alive(params, t, x, t_age)


def _conditional_log_likelihood(params, freq, rec, T):
    return log_likelihood(params, *_floats(freq, rec, T))


def _floats(*arrays):
    return tuple(np.asarray(a, dtype=float) for a in arrays)


def fitter_class():
    """A subclass of lifetimes' ``ParetoNBDFitter`` with the stable formulas of this module."""
    if not _classes:
        base = lifetimes_classes()["ParetoNBDFitter"]
        _classes["ParetoNBDFitter"] = type(
            "ParetoNBDFitter",
            (base,),
            {
                "__doc__": "lifetimes' ParetoNBDFitter, evaluated in log space "
                "(retention_utils.clv.pareto_nbd).",
                "__module__": __name__,
                "conditional_probability_alive": _conditional_probability_alive,
                "conditional_expected_number_of_purchases_up_to_time": _conditional_expected,
                "_conditional_log_likelihood": staticmethod(_conditional_log_likelihood),
            },
        )
    return _classes["ParetoNBDFitter"]


def fit(rows: pd.DataFrame, penalizer: float, tol: float):
    """Pareto/NBD by maximum likelihood on distinct (frequency, recency, T) rows with
    ``weights``: the mean log-likelihood over customers, minus lifetimes' penalty
    ``penalizer * sum(params ** 2)`` on times scaled to a longest age of 10 (as lifetimes),
    maximised over log-parameters by BFGS from (1, 1, 1, 1).

    Raises lifetimes' ``ConvergenceError`` when the optimizer does not converge to ``tol``.
    """
    x, t_x, t_age, weights = (
        rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "weights")
    )
    scale = 10.0 / t_age.max()
    total = weights.sum()

    def objective(log_params):
        params = np.exp(log_params)
        ll = log_likelihood(tuple(params), x, t_x * scale, t_age * scale)
        value = -(weights * ll).sum() / total + penalizer * (params**2).sum()
        return value if np.isfinite(value) else np.inf

    with np.errstate(all="ignore"):
        result = optimize.minimize(
            objective, np.zeros(4), method="BFGS", options={"gtol": tol * 10}
        )
    if not result.success and not (np.all(np.isfinite(result.x)) and result.status == 2):
        raise lifetimes_classes()["ConvergenceError"](result.message)
    params = np.exp(result.x)
    fitter = fitter_class()(penalizer_coef=penalizer)
    fitter._scale = scale
    fitter.params_ = pd.Series(
        [params[0], params[1] / scale, params[2], params[3] / scale],
        index=["r", "alpha", "s", "beta"],
    )
    fitter._negative_log_likelihood_ = float(result.fun)
    fitter._hessian_ = None
    fitter.data = pd.DataFrame({"frequency": x, "recency": t_x, "T": t_age, "weights": weights})
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


#: Gauss-Legendre nodes of :func:`probability_of_purchases` (integral over the lifetime).
QUADRATURE_NODES = 200


def probability_of_purchases(params, t, n: int) -> np.ndarray:
    """P(X(t) = n): probability of ``n`` repeat purchases in ``t`` units (vectorised over
    ``t``).

    A customer alive for ``u`` units buys a negative binomial number of times (Poisson
    with a gamma rate); the lifetime is Pareto (Lomax: ``P(tau > u) = (beta / (beta +
    u)) ** s``). So ``P(X(t) = n) = (beta / (beta + t)) ** s NB(n; t) + integral_0^t
    NB(n; u) f(u) du``, the integral by Gauss-Legendre quadrature.
    """
    r, alpha, s, beta = params
    t = np.asarray(t, dtype=float).reshape(-1)

    def log_nb(u):
        return (
            special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1)
            + r * (np.log(alpha) - np.log(alpha + u))
            + special.xlogy(n, u)
            - n * np.log(alpha + u)
        )

    nodes, node_weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    u = (nodes[None, :] + 1) / 2 * t[:, None]  # nodes on [0, t]
    density = np.exp(np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + u))
    integral = (node_weights[None, :] * np.exp(log_nb(u)) * density).sum(axis=1) * t / 2
    survived = np.exp(s * (np.log(beta) - np.log(beta + t)) + log_nb(t))
    return survived + integral
