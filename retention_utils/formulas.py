"""The KPI formulas of SPEC section 4 as pure functions of counts and sums.

Rates (retention, churn, return, repeat purchase, revenue churn, GRR, NRR) are **percent**
(0-100). Churn used for a lifespan is a **fraction** (0-1) and says so in its name. Money is
in the currency of the data; lifespans are in years. Each function takes scalars, arrays or
Series (a Series in gives a Series out, on its index) and gives NaN where the denominator is
0. The per-period tables that feed them live in :mod:`retention_utils.kpis`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retention_utils.config import DEFAULT_MAX_LIFESPAN_YEARS

__all__ = [
    "average_order_value",
    "churn_rate",
    "gross_revenue_retention",
    "lifespan_years",
    "net_revenue_retention",
    "purchase_frequency",
    "repeat_purchase_rate",
    "retention_cost_per_customer",
    "retention_rate",
    "retention_strict",
    "return_rate",
    "revenue_churn",
    "simple_clv",
]


def _ratio(numerator: Any, denominator: Any, *, scale: float = 1.0, name: str = "denominator"):
    """``numerator / denominator * scale``; NaN where the denominator is 0 or missing.

    Scalars give a float; a Series (either argument) gives a Series; arrays give an array.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    if np.any(den < 0):
        raise ValueError(f"{name} must be >= 0, got a negative value.")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0) * scale, np.nan)
    for arg in (numerator, denominator):
        if isinstance(arg, pd.Series):
            return pd.Series(out, index=arg.index)
    if out.ndim == 0:
        return float(out)
    return out


def retention_rate(customers_start, customers_end, new_customers):
    """Customer retention rate (CRR), in percent: ``(E - N) / S * 100``.

    Parameters
    ----------
    customers_start : int or array-like
        ``S``, customers in the base at the period start.
    customers_end : int or array-like
        ``E``, customers in the base at the period end.
    new_customers : int or array-like
        ``N``, customers acquired during the period.

    Returns
    -------
    float, numpy array or Series
        Percent (0-100 in usual cases); NaN where ``S`` is 0 (e.g. the first period).

    Examples
    --------
    >>> retention_rate(1000, 900, 200)
    70.0
    """
    num = np.asarray(customers_end, dtype=float) - np.asarray(new_customers, dtype=float)
    return _ratio(num, customers_start, scale=100.0, name="customers_start")


def retention_strict(retained, customers_start):
    """Strict retention rate, in percent: ``retained / S * 100``, where ``retained`` counts the
    customers in the base at both the period start and its end.

    Unlike :func:`retention_rate`, customers who lapsed and came back during the period
    (reactivated) do not count, so it never exceeds 100; it equals ``100 - churn rate``.
    NaN where ``S`` is 0.

    Examples
    --------
    >>> retention_strict(850, 1000)
    85.0
    """
    return _ratio(retained, customers_start, scale=100.0, name="customers_start")


def churn_rate(churned, customers_start):
    """Churn rate, in percent: ``churned / S * 100``.

    ``churned`` counts the customers in the base at the period start and not at its end.
    NaN where ``S`` is 0.

    Examples
    --------
    >>> churn_rate(150, 1000)
    15.0
    """
    return _ratio(churned, customers_start, scale=100.0, name="customers_start")


def return_rate(returning, customers_start):
    """Return rate, in percent: customers of the starting base who purchased during the
    period, divided by ``S``, times 100. NaN where ``S`` is 0.

    Examples
    --------
    >>> return_rate(250, 1000)
    25.0
    """
    return _ratio(returning, customers_start, scale=100.0, name="customers_start")


def average_order_value(revenue, orders):
    """Average order value (AOV), in currency per order: net revenue / orders with a
    positive net amount. NaN without orders.

    Examples
    --------
    >>> average_order_value(500.0, 20)
    25.0
    """
    return _ratio(revenue, orders, name="orders")


def purchase_frequency(orders, customers):
    """Purchase frequency, in orders per customer over the window: orders / distinct
    purchasing customers. NaN without customers.

    Examples
    --------
    >>> purchase_frequency(30, 12)
    2.5
    """
    return _ratio(orders, customers, name="customers")


def repeat_purchase_rate(repeat_customers, customers):
    """Repeat purchase rate (RPR), in percent: customers with more than one order /
    customers * 100, over the same window. NaN without customers.

    Examples
    --------
    >>> repeat_purchase_rate(30, 120)
    25.0
    """
    return _ratio(repeat_customers, customers, scale=100.0, name="customers")


def lifespan_years(
    annual_churn_fraction, *, max_lifespan_years: float = DEFAULT_MAX_LIFESPAN_YEARS
) -> float:
    """Expected customer lifespan, in years: ``1 / annual churn`` (churn as a **fraction**,
    0-1), capped at ``max_lifespan_years`` (a churn of 0 gives the cap). NaN stays NaN.

    Examples
    --------
    >>> lifespan_years(0.25)
    4.0
    >>> lifespan_years(0.0)
    10.0
    """
    churn = float(annual_churn_fraction)
    if math.isnan(churn):
        return float("nan")
    if not 0 <= churn <= 1:
        raise ValueError(
            f"The annual churn must be a fraction between 0 and 1, got {churn}; divide a "
            "percentage by 100."
        )
    if max_lifespan_years <= 0:
        raise ValueError(f"max_lifespan_years must be > 0, got {max_lifespan_years}.")
    if churn == 0:
        return float(max_lifespan_years)
    return float(min(1.0 / churn, max_lifespan_years))


def simple_clv(aov, frequency, lifespan):
    """Simple customer lifetime value, in currency: ``AOV * frequency * lifespan``.

    Parameters
    ----------
    aov : float
        Average order value (currency per order).
    frequency : float
        Purchase frequency, in orders per customer **per year**.
    lifespan : float
        Expected lifespan in **years** (see :func:`lifespan_years`).

    Examples
    --------
    >>> simple_clv(50.0, 3.0, 4.0)
    600.0
    """
    value = np.asarray(aov, dtype=float) * np.asarray(frequency, dtype=float)
    value = value * np.asarray(lifespan, dtype=float)
    return float(value) if value.ndim == 0 else value


def retention_cost_per_customer(cost, customers_end):
    """Retention cost per customer (CRC), in currency per customer: retention cost of the
    period / ``E`` (customers in the base at the period end). NaN where ``E`` is 0.

    Examples
    --------
    >>> retention_cost_per_customer(4500.0, 900)
    5.0
    """
    return _ratio(cost, customers_end, name="customers_end")


def revenue_churn(churned_mrr, mrr_start):
    """Revenue churn, in percent: MRR lost from customers whose MRR fell to 0, divided by
    the MRR at the period start, times 100. NaN where the starting MRR is 0.

    Examples
    --------
    >>> revenue_churn(50.0, 1000.0)
    5.0
    """
    return _ratio(churned_mrr, mrr_start, scale=100.0, name="mrr_start")


def average_revenue_per_account(mrr, paying_customers):
    """ARPA, in currency per month and paying customer: ``MRR / customers with MRR > 0``;
    NaN when nobody pays."""
    return _ratio(mrr, paying_customers, name="paying customers")


def gross_revenue_retention(mrr_start, churned_mrr, contraction_mrr):
    """Gross revenue retention (GRR), in percent: ``(MRR_s - churned - contraction) / MRR_s
    * 100`` over customers with MRR > 0 at the start. At most 100.

    Examples
    --------
    >>> gross_revenue_retention(1000.0, 50.0, 30.0)
    92.0
    """
    kept = np.asarray(mrr_start, dtype=float) - np.asarray(churned_mrr, dtype=float)
    kept = kept - np.asarray(contraction_mrr, dtype=float)
    return _ratio(kept, mrr_start, scale=100.0, name="mrr_start")


def net_revenue_retention(mrr_start, churned_mrr, contraction_mrr, expansion_mrr):
    """Net revenue retention (NRR), in percent: ``(MRR_s - churned - contraction +
    expansion) / MRR_s * 100`` over customers with MRR > 0 at the start (new customers'
    MRR is not included). Above 100 when expansion outweighs losses.

    Examples
    --------
    >>> net_revenue_retention(1000.0, 50.0, 30.0, 120.0)
    104.0
    """
    kept = np.asarray(mrr_start, dtype=float) - np.asarray(churned_mrr, dtype=float)
    kept = kept - np.asarray(contraction_mrr, dtype=float) + np.asarray(expansion_mrr, dtype=float)
    return _ratio(kept, mrr_start, scale=100.0, name="mrr_start")
