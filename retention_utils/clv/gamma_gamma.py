"""Gamma-Gamma model of the average spend per repeat purchase (Fader & Hardie 2013).

References
----------
Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from scipy import stats as _st

from retention_utils.clv.base import (
    MIN_REPEAT_BUYERS,
    ModelDataError,
    check_repeat_buyers,
    fit_with_ladder,
    lifetimes_classes,
    rfm_arrays,
)

#: |correlation| between frequency and spend from which the Gamma-Gamma fit is flagged.
CORRELATION_WARNING = 0.3


class SpendCap(NamedTuple):
    """The cap on average spends of a Gamma-Gamma fit: ``quantile`` (1: none), its ``value``
    (currency) and the repeat buyers whose average was above it (``customers``)."""

    quantile: float
    value: float
    customers: int


def fit_gamma_gamma(
    summary: pd.DataFrame,
    penalizer: float | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
    spend_cap: float = 1.0,
):
    """Fit the Gamma-Gamma model of average spend per repeat purchase.

    Uses the customers with ``frequency > 0`` and ``monetary_value > 0``; identical
    (frequency, monetary_value) rows are fitted once through ``weights``. The model assumes
    that a customer's spend per purchase is independent of how often they buy: the Pearson
    correlation between frequency and monetary value is reported (``correlation_``);
    :func:`~retention_utils.clv.model_cautions` flags it from 0.3 in absolute value.

    Parameters
    ----------
    summary : DataFrame
        With ``frequency`` and ``monetary_value`` (or the ``_cal`` columns).
    penalizer : float, optional
        As in :func:`~retention_utils.clv.fit_bgnbd`.
    min_repeat_buyers : int
        Refuse to fit with fewer repeat buyers with positive spend (default 10).
    spend_cap : float, default 1.0
        Fit on average spends capped at this quantile (0-1] of the repeat buyers' average
        spends: 1 fits them as they are; e.g. 0.99 keeps a few very large averages
        (wholesale or test accounts) from making the fit's mean spend infinite. The cap, its
        value and the customers capped are in ``spend_cap_`` (a caution of
        :func:`~retention_utils.clv.model_cautions`); predictions still use each customer's
        own average.

    Returns
    -------
    lifetimes.GammaGammaFitter
        Fitted; ``params_`` (p, q, v, where v is the paper's gamma), ``penalizer_coef``,
        ``penalizer_ladder_``, ``correlation_`` and ``correlation_p_value_`` (frequency vs
        spend), ``n_customers_`` (customers used), ``n_excluded_`` (repeat buyers left out
        for a spend <= 0) and ``spend_cap_`` (:class:`SpendCap`).

    Raises
    ------
    ModelDataError
        Too few repeat buyers with positive spend, no convergence, or a fitted ``q <= 1``
        (the model's mean spend is then infinite: spend is too heavy-tailed).

    References
    ----------
    Fader & Hardie (2013), The Gamma-Gamma model of monetary value.
    """
    if not 0 < spend_cap <= 1:
        raise ValueError(f"spend_cap must be a quantile in (0, 1], got {spend_cap!r}.")
    data = rfm_arrays(summary, monetary=True)
    repeat = data[data["frequency"] > 0]
    used = repeat[repeat["monetary_value"] > 0]
    check_repeat_buyers(len(used), len(data), min_repeat_buyers, "Gamma-Gamma")
    cap = SpendCap(spend_cap, float(used["monetary_value"].quantile(spend_cap)), 0)
    if spend_cap < 1:
        cap = cap._replace(customers=int((used["monetary_value"] > cap.value).sum()))
        used = used.assign(monetary_value=used["monetary_value"].clip(upper=cap.value))
    if used["frequency"].nunique() > 1 and used["monetary_value"].nunique() > 1:
        corr, p_value = _st.pearsonr(used["frequency"], used["monetary_value"])
    else:
        corr, p_value = float("nan"), float("nan")
    rows = used.groupby(["frequency", "monetary_value"]).size().rename("weights").reset_index()
    fitter_class = lifetimes_classes()["GammaGammaFitter"]

    def fit(value: float, tol: float):
        return fitter_class(penalizer_coef=value).fit(
            rows["frequency"].to_numpy(),
            rows["monetary_value"].to_numpy(),
            weights=rows["weights"].to_numpy(),
            tol=tol,
        )

    fitter = fit_with_ladder(fit, penalizer, "Gamma-Gamma")
    if fitter.params_["q"] <= 1:
        raise ModelDataError(
            f"The Gamma-Gamma fit gives q={fitter.params_['q']:.3f} <= 1, which means an "
            "infinite mean spend: a few very large average order values dominate. Check for "
            "wholesale or test accounts and outliers, or fit on average spends capped at a "
            "quantile that leaves them out: spend_cap=0.99, lower when they are more than "
            "1 % of the repeat buyers (in the CLV report: -p spend_cap=0.99)."
        )
    fitter.correlation_ = float(corr)
    fitter.correlation_p_value_ = float(p_value)
    fitter.n_customers_ = len(used)
    fitter.n_excluded_ = len(repeat) - len(used)
    fitter.spend_cap_ = cap
    return fitter
