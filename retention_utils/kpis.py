"""Retention KPI tables: per-period KPIs, MRR flows, the headline period and simple CLV.

The formulas themselves (SPEC section 4) are pure functions in
:mod:`retention_utils.formulas`, re-exported here. Rates are **percent** (0-100), money is in
the currency of the data.

Periods
-------
Calendar periods ``[start, end)``: ``"W"`` (weeks starting Monday), ``"M"`` (calendar months,
the default), ``"Q"``, ``"Y"``. ``observation_end`` is the last observed day (inclusive,
default: the last transaction day); a period is complete only when its end is on or before
``observation_end + 1 day``. Only the last period can be incomplete. Its counts describe the
part observed (end-of-period counts are measured at ``observation_end + 1 day``), and its
rates are NaN unless ``include_incomplete=True``.

Customer base
-------------
A customer is in the base at instant ``d`` when they have a purchase day in
``[d - active_days, d)``. A purchase day is a customer-day whose net amount (returns netted)
is positive. For a period ``[s, e)``: ``S`` = base at ``s``, ``E`` = base at ``e``, ``N`` =
customers whose first purchase day is in ``[s, e)``.

The aggregation over transactions runs in :mod:`retention_utils.engine` (DuckDB); this
module only does the small per-period arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_utils import engine, periods
from retention_utils.config import (
    CONFIDENCE,
    DEFAULT_ACTIVE_DAYS,
    DEFAULT_FREQ,
    DEFAULT_MAX_LIFESPAN_YEARS,
)
from retention_utils.engine.counts import MRR_FLOWS
from retention_utils.errors import whole_number
from retention_utils.formulas import (
    average_order_value,
    average_revenue_per_account,
    churn_rate,
    gross_revenue_retention,
    lifespan_years,
    net_revenue_retention,
    purchase_frequency,
    repeat_purchase_rate,
    retention_cost_per_customer,
    retention_rate,
    retention_strict,
    return_rate,
    revenue_churn,
    simple_clv,
)
from retention_utils.stats import wilson_interval

__all__ = [
    "MIN_SUBSCRIBERS",
    "HeadlinePeriod",
    "average_order_value",
    "churn_rate",
    "gross_revenue_retention",
    "headline_cautions",
    "headline_figures",
    "headline_period",
    "kpi_table",
    "lifespan_years",
    "mrr_figures",
    "mrr_table",
    "net_revenue_retention",
    "purchase_frequency",
    "repeat_purchase_rate",
    "retention_cost_per_customer",
    "retention_rate",
    "retention_strict",
    "return_rate",
    "revenue_churn",
    "simple_clv",
    "simple_clv_figures",
    "simple_clv_inputs",
]

#: Fewest subscribers at a period start for the period's MRR rates (revenue churn, GRR, NRR)
#: to be read: on a handful of subscriptions one cancellation moves them by ten points.
MIN_SUBSCRIBERS = 30
#: Why an MRR table is empty when no subscription table was given.
NO_SUBSCRIPTIONS = "No subscription table was given, so MRR is not shown."


def _blank_incomplete(out: pd.DataFrame, columns: list[str], include_incomplete: bool) -> None:
    if not include_incomplete:
        out.loc[out["incomplete"], columns] = np.nan


MRR_COLUMNS = [
    "period",
    *MRR_FLOWS,
    "revenue_churn",
    "grr",
    "nrr",
    "arpa",
    "period_start",
    "period_end",
    "incomplete",
    "subscribers_start",
    "subscribers_end",
    "new_subscribers",
    "churned_subscribers",
    "subscriber_retention_rate",
    "subscriber_churn_rate",
]


def mrr_table(
    subscriptions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Monthly-recurring-revenue flows per calendar period (SPEC section 4, "Subscriptions").

    A customer's MRR at instant ``d`` is the sum of ``mrr`` over their rows with
    ``start_date <= d < end_date`` (a null ``end_date`` is still active). For each period
    ``[s, e)``, over customers with MRR > 0 at ``s`` (values ``m_s``, ``m_e``):

    * ``churned_mrr``: sum of ``m_s`` where ``m_e = 0``;
    * ``contraction_mrr``: sum of ``m_s - m_e`` where ``0 < m_e < m_s``;
    * ``expansion_mrr``: sum of ``m_e - m_s`` where ``m_e > m_s``;
    * ``new_mrr``: sum of ``m_e`` over customers with MRR 0 at ``s`` whose first subscription
      starts in the period;
    * ``reactivation_mrr``: sum of ``m_e`` over customers with MRR 0 at ``s`` whose first
      subscription started before ``s`` (they came back);
    * ``arpa``: average revenue per account, ``MRR at e`` / customers with MRR > 0 at ``e``.

    Parameters
    ----------
    subscriptions : DataFrame, path, ibis table or None
        Columns ``customer_id``, ``start_date``, ``end_date`` (null = active), ``mrr`` (>= 0),
        as returned by :func:`retention_utils.load_subscriptions`. None (no subscription
        table): an empty table whose ``attrs["reason"]`` says so, for a report to show.
    freq : {"W", "M", "Q", "Y"}
        Calendar period.
    observation_end : date-like, optional
        Last observed day (inclusive). Default: the latest start or end date in the table.
    include_incomplete : bool, default False
        Give rates for a last period that ``observation_end`` cuts short (measured at
        ``observation_end + 1 day``) instead of NaN.

    Returns
    -------
    DataFrame
        One row per period: ``period``, ``mrr_start``, ``mrr_end``, ``new_mrr``,
        ``reactivation_mrr``, ``expansion_mrr``, ``contraction_mrr``, ``churned_mrr``
        (currency per month), ``revenue_churn``, ``grr``, ``nrr`` (percent; NaN when
        ``mrr_start`` is 0), ``arpa`` (currency per month and paying customer), then
        ``period_start``, ``period_end``, ``incomplete`` and subscriber counts:
        ``subscribers_start`` / ``subscribers_end`` (customers with an active subscription
        at ``s`` / ``e``), ``new_subscribers`` (first subscription starts in the period),
        ``churned_subscribers``, ``subscriber_retention_rate`` (``(E - N) / S * 100``) and
        ``subscriber_churn_rate`` (percent).

    Examples
    --------
    >>> import pandas as pd
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"],
    ...     "start_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
    ...     "end_date": pd.to_datetime([None, "2024-02-10"]), "mrr": [10.0, 30.0]})
    >>> mrr_table(subs, observation_end="2024-02-29")[["period", "mrr_start", "nrr"]]
        period  mrr_start    nrr
    0  2024-01       40.0  100.0
    1  2024-02       40.0   25.0
    """
    if subscriptions is None:
        out = pd.DataFrame(columns=MRR_COLUMNS)
        out.attrs = {"freq": freq, "observation_end": observation_end, "reason": NO_SUBSCRIPTIONS}
        return out
    flows = engine.subscription_flows(subscriptions, freq=freq, observation_end=observation_end)
    out = flows.drop(columns=["index"])
    out["revenue_churn"] = revenue_churn(out["churned_mrr"], out["mrr_start"])
    out["grr"] = gross_revenue_retention(
        out["mrr_start"], out["churned_mrr"], out["contraction_mrr"]
    )
    out["nrr"] = net_revenue_retention(
        out["mrr_start"], out["churned_mrr"], out["contraction_mrr"], out["expansion_mrr"]
    )
    out["subscriber_retention_rate"] = retention_rate(
        out["subscribers_start"], out["subscribers_end"], out["new_subscribers"]
    )
    out["subscriber_churn_rate"] = churn_rate(out["churned_subscribers"], out["subscribers_start"])
    out["arpa"] = average_revenue_per_account(out["mrr_end"], out["paying_end"])
    rates = ["revenue_churn", "grr", "nrr", "subscriber_retention_rate", "subscriber_churn_rate"]
    _blank_incomplete(out, rates, include_incomplete)
    out = out[MRR_COLUMNS]
    out.attrs = {"freq": freq, "observation_end": flows.attrs.get("observation_end")}
    return out


def mrr_figures(mrr: pd.DataFrame, *, min_subscribers: int = MIN_SUBSCRIBERS) -> list[dict]:
    """The headline MRR figure of a report: net revenue retention of the last complete period
    with at least ``min_subscribers`` subscribers at its start.

    Parameters
    ----------
    mrr : DataFrame
        Output of :func:`mrr_table`.
    min_subscribers : int, default :data:`MIN_SUBSCRIBERS`
        Periods starting with fewer subscribers are too small for their NRR to be read.

    Returns
    -------
    list of dict
        ``[{"name": "nrr_last", "value": percent, "label", "unit": "%", "note"}]``, or ``[]``
        when the table is empty (no subscriptions); a value of None when no period is large
        enough.
    """
    if mrr.empty:
        return []
    usable = mrr[mrr["nrr"].notna() & (mrr["subscribers_start"] >= min_subscribers)]
    if usable.empty:
        return [
            {
                "name": "nrr_last",
                "value": None,
                "label": "Net revenue retention",
                "unit": "%",
                "note": f"no complete period starts with {min_subscribers} subscribers or more",
            }
        ]
    last = usable.iloc[-1]
    return [
        {
            "name": "nrr_last",
            "value": float(last["nrr"]),
            "label": f"Net revenue retention, {last['period']}",
            "unit": "%",
            "note": f"{int(last['subscribers_start']):,} subscribers at the period start",
        }
    ]


def costs_per_period(costs: pd.DataFrame, freq: str = DEFAULT_FREQ) -> pd.DataFrame:
    """Retention costs summed per calendar period.

    Each row of ``costs`` (columns ``period_start``, ``cost`` >= 0, as returned by
    :func:`retention_utils.load_costs`) is assigned to the period holding its
    ``period_start``, so use a ``freq`` no finer than the cost table's (monthly costs with
    ``freq="W"`` would all land in the week holding the 1st).

    Returns
    -------
    DataFrame
        ``period`` (pandas Period), ``retention_cost`` (currency).
    """
    periods.check_period_freq(freq)
    missing = [c for c in ("period_start", "cost") if c not in costs.columns]
    if missing:
        raise ValueError(
            f"The retention-cost table lacks column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(map(str, costs.columns))}. Load it with load_costs(...)."
        )
    starts = pd.to_datetime(costs["period_start"])
    cost = pd.to_numeric(costs["cost"])
    if cost.lt(0).any():
        raise ValueError("Retention costs must be >= 0; found negative values.")
    cost_periods = pd.PeriodIndex(starts, freq=freq)
    grouped = cost.groupby(cost_periods.to_numpy()).sum(min_count=1)
    return pd.DataFrame(
        {
            "period": pd.PeriodIndex(grouped.index, freq=freq),
            "retention_cost": grouped.to_numpy(dtype=float),
        }
    )


KPI_COLUMNS = [
    "period",
    "period_start",
    "period_end",
    "incomplete",
    "warm_up",
    "customers_start",
    "customers_end",
    "new_customers",
    "churned",
    "retained",
    "reactivated",
    "returning",
    "active_customers",
    "repeat_customers",
    "retention_strict",
    "retention_rate",
    "churn_rate",
    "churn_rate_low",
    "churn_rate_high",
    "return_rate",
    "return_rate_low",
    "return_rate_high",
    "revenue",
    "orders",
    "aov",
    "purchase_frequency",
    "repeat_purchase_rate",
]
# Rates of the KPI table, NaN in an incomplete period unless asked for.
_KPI_RATES = [
    c for c in KPI_COLUMNS if c.startswith(("retention_", "churn_rate", "return_rate"))
] + ["purchase_frequency", "repeat_purchase_rate"]


def kpi_table(
    transactions,
    freq: str = DEFAULT_FREQ,
    active_days: int = DEFAULT_ACTIVE_DAYS,
    observation_end=None,
    *,
    include_incomplete: bool = False,
    subscriptions=None,
    costs: pd.DataFrame | None = None,
    segment_col: str | None = None,
    segment_value=None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Retention KPIs per calendar period, aggregated in the engine (DuckDB).

    Parameters
    ----------
    transactions : DataFrame, Parquet/CSV path or glob, or ibis table
        Canonical columns ``customer_id``, ``order_date``, ``amount`` (net revenue of the
        line), optional ``order_id`` (without it each distinct timestamp of a customer is one
        order) and segment columns.
    freq : {"W", "M", "Q", "Y"}, default "M"
        Calendar period; weeks start on Monday.
    active_days : int, default 365
        A customer is in the base at instant ``d`` with a purchase day in
        ``[d - active_days, d)``.
    observation_end : date-like, optional
        Last observed day, inclusive (default: the last transaction day). Later rows are
        ignored; the period holding it is the last row.
    include_incomplete : bool, default False
        By default the rates (retention, churn, return, purchase frequency, repeat purchase,
        revenue churn, GRR, NRR) of a last period that ``observation_end`` cuts short are NaN;
        True computes them over the observed part (end of period = ``observation_end + 1 day``).
    subscriptions : DataFrame, path or ibis table, optional
        Subscription table; adds the MRR columns of :func:`mrr_table` (``mrr_start``,
        ``mrr_end``, ``new_mrr``, ``expansion_mrr``, ``contraction_mrr``, ``churned_mrr``,
        ``revenue_churn``, ``grr``, ``nrr``) for the same periods and observation end.
    costs : DataFrame, optional
        Retention costs (``period_start``, ``cost``); adds ``retention_cost`` (NaN for periods
        without a cost row) and ``retention_cost_per_customer`` = cost / ``customers_end``.
    segment_col, segment_value : optional
        Keep only the customers whose segment (value of ``segment_col`` on their first purchase
        day) equals ``segment_value`` (compared as text). ``""``/None: all customers.
    confidence : float, default 0.95
        Level of the Wilson intervals of the churn and return rates.

    Returns
    -------
    DataFrame
        One row per period, from the period of the first transaction day to the period of
        ``observation_end``:

        - ``period`` (pandas Period), ``period_start``, ``period_end`` (calendar, exclusive);
        - ``incomplete``: ``observation_end`` cuts the period short (only the last can be);
        - ``warm_up``: the period starts less than ``active_days`` after the first
          transaction day, so ``customers_start`` may miss customers who bought before the
          data begins (rates are given but read them with care);
        - ``customers_start`` (S), ``customers_end`` (E), ``new_customers`` (N, first purchase
          day in the period), ``churned`` (in S, not in E), ``retained`` (in S and in E),
          ``reactivated`` (in E, not in S, not new: returned after lapsing), ``returning``
          (in S with a purchase day in the period), ``active_customers`` (a purchase day in
          the period), ``repeat_customers`` (active customers with two or more orders in the
          period);
        - ``retention_strict`` = retained / S * 100 (never above 100; the headline rate, see
          :func:`headline_period`), ``retention_rate`` = (E - N) / S * 100 (the usual CRR,
          which counts reactivated customers as retained and can exceed 100),
          ``churn_rate`` = churned / S * 100 = 100 - ``retention_strict``, ``return_rate`` =
          returning / S * 100 (percent; NaN when S = 0, e.g. the first period), with Wilson
          intervals ``churn_rate_low/high``, ``return_rate_low/high``;
        - ``revenue`` (net, all days of the period including return-only days), ``orders``
          (orders with positive net amount), ``aov`` = revenue / orders (currency),
          ``purchase_frequency`` = orders / active customers (orders per customer in the
          period), ``repeat_purchase_rate`` = repeat customers / active customers * 100
          (percent, **within the period**; see :func:`simple_clv_inputs` for a 365-day
          window).

        Identity: ``E = S - churned + reactivated + (new customers still in the base at the
        end)``; the last term equals N whenever ``active_days`` is at least a period long.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10"]),
    ...     "amount": [10.0, 20.0, 5.0]})
    >>> kpis = kpi_table(tx, observation_end="2024-02-29")
    >>> kpis[["period", "customers_start", "customers_end", "new_customers", "return_rate"]]
        period  customers_start  customers_end  new_customers  return_rate
    0  2024-01                0              2              2          NaN
    1  2024-02                2              2              0         50.0
    """
    active_days = whole_number(active_days, "active_days", unit="days")
    counts = engine.kpi_counts(
        transactions,
        freq=freq,
        active_days=active_days,
        observation_end=observation_end,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    out = counts.drop(columns=["index"])
    first_day = counts.attrs["first_day"]
    out["warm_up"] = out["period_start"] < first_day + pd.Timedelta(days=active_days)
    s = out["customers_start"]
    out["retention_strict"] = retention_strict(out["retained"], s)
    out["retention_rate"] = retention_rate(s, out["customers_end"], out["new_customers"])
    out["churn_rate"] = churn_rate(out["churned"], s)
    out["return_rate"] = return_rate(out["returning"], s)
    for name, hits in (("churn_rate", out["churned"]), ("return_rate", out["returning"])):
        low, high = wilson_interval(hits.to_numpy(), s.to_numpy(), confidence)
        out[f"{name}_low"] = np.asarray(low) * 100
        out[f"{name}_high"] = np.asarray(high) * 100
    out["aov"] = average_order_value(out["revenue"], out["orders"])
    out["purchase_frequency"] = purchase_frequency(out["orders"], out["active_customers"])
    out["repeat_purchase_rate"] = repeat_purchase_rate(
        out["repeat_customers"], out["active_customers"]
    )
    _blank_incomplete(out, _KPI_RATES, include_incomplete)
    out = out[KPI_COLUMNS]
    obs_end = counts.attrs["observation_end"]

    if subscriptions is not None:
        mrr = mrr_table(subscriptions, freq, obs_end, include_incomplete=include_incomplete)
        out = out.merge(mrr.loc[:, "period":"nrr"], on="period", how="left")
    if costs is not None:
        per_period = costs_per_period(costs, freq)
        out = out.merge(per_period, on="period", how="left")
        out["retention_cost_per_customer"] = retention_cost_per_customer(
            out["retention_cost"], out["customers_end"]
        )
        _blank_incomplete(out, ["retention_cost_per_customer"], include_incomplete)
    out.attrs = {
        "freq": freq,
        "active_days": active_days,
        "observation_end": obs_end,
        "first_day": first_day,
    }
    return out


@dataclass(frozen=True)
class HeadlinePeriod:
    """The period of a KPI table whose rates a report headlines, or why there is none.

    Attributes
    ----------
    row : Series or None
        The row of :func:`kpi_table` (None when no period qualifies).
    reason : str or None
        Why no period qualifies: a sentence for the reader (None when ``row`` is given).
    """

    row: pd.Series | None
    reason: str | None = None

    @property
    def label(self) -> str:
        """The period as text ("2024-03"), or "n/a"."""
        return "n/a" if self.row is None else str(self.row["period"])

    def value(self, column: str) -> float | None:
        """The figure of ``column`` in the headline period (None without one)."""
        return None if self.row is None else float(self.row[column])


def headline_period(kpis: pd.DataFrame) -> HeadlinePeriod:
    """The latest period whose retention can be headlined (SPEC section 4).

    A headline never comes from a *warm-up* period (its starting base is incomplete), an
    *incomplete* period (cut short by the observation end) or a period without customers at
    its start.

    Parameters
    ----------
    kpis : DataFrame
        Output of :func:`kpi_table` (columns ``period``, ``warm_up``, ``incomplete``,
        ``customers_start``; ``attrs["active_days"]`` and ``attrs["first_day"]``).

    Returns
    -------
    HeadlinePeriod
        Its ``row``, or ``row=None`` and the ``reason`` (a sentence for a report caution).

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10"]),
    ...     "amount": [10.0, 20.0, 5.0]})
    >>> headline_period(kpi_table(tx, active_days=30, observation_end="2024-03-31")).label
    '2024-03'
    >>> print(headline_period(kpi_table(tx, observation_end="2024-03-31")).reason)
    No retention headline: every period starts less than active_days (365 days) after the first day of data (2024-01-05), so its starting base misses customers who bought before the data begin (warm-up), or is cut short by the observation end. The per-period table still shows the counts; lower active_days or use a longer history for a headline.
    """
    settled = kpis[~kpis["warm_up"] & ~kpis["incomplete"]]
    usable = settled[settled["customers_start"] > 0]
    if len(usable):
        return HeadlinePeriod(usable.iloc[-1])
    if len(settled):
        return HeadlinePeriod(
            None,
            "No retention headline: no complete period after the warm-up has customers in its "
            "starting base.",
        )
    first_day = pd.Timestamp(kpis.attrs["first_day"]).date()
    return HeadlinePeriod(
        None,
        f"No retention headline: every period starts less than active_days "
        f"({kpis.attrs['active_days']} days) after the first day of data ({first_day}), so its "
        "starting base misses customers who bought before the data begin (warm-up), or is cut "
        "short by the observation end. The per-period table still shows the counts; lower "
        "active_days or use a longer history for a headline.",
    )


def headline_figures(kpis: pd.DataFrame, *, currency: str | None = None) -> list[dict]:
    """The headline figures of a KPI table, as :func:`retention_utils.record.record_all`
    takes them.

    Parameters
    ----------
    kpis : DataFrame
        Output of :func:`kpi_table`.
    currency : str, optional
        Unit of the revenue figure.

    Returns
    -------
    list of dict
        ``customers`` (customers with a purchase), ``revenue`` (net, ``currency``),
        ``retention_strict_last`` (percent, with the interval ``100 - churn`` interval; None
        when :func:`headline_period` finds no period, see :func:`headline_cautions`) and,
        with a headline period, ``churn_rate_last`` (percent, Wilson interval). Both rates
        note the customers at the period start.
    """
    figures = [
        {
            "name": "customers",
            "value": int(kpis["new_customers"].sum()),
            "label": "Customers (with a purchase)",
        },
        {"name": "revenue", "value": float(kpis["revenue"].sum()), "label": "Net revenue"}
        | ({"unit": currency} if currency else {}),
    ]
    head = headline_period(kpis)
    if head.row is None:
        note = "no complete period after the warm-up (see the caution)"
        return [
            *figures,
            {
                "name": "retention_strict_last",
                "value": None,
                "label": "Retention rate (strict)",
                "unit": "%",
                "note": note,
            },
        ]
    base = f"{int(head.row['customers_start']):,} customers at the start of {head.label}"
    churn_low, churn_high = head.value("churn_rate_low"), head.value("churn_rate_high")
    return [
        *figures,
        {
            "name": "retention_strict_last",
            "value": head.value("retention_strict"),
            "label": f"Retention rate (strict), {head.label}",
            "unit": "%",
            "low": 100 - churn_high,
            "high": 100 - churn_low,
            "note": base,
        },
        {
            "name": "churn_rate_last",
            "value": head.value("churn_rate"),
            "label": f"Churn rate, {head.label}",
            "unit": "%",
            "low": churn_low,
            "high": churn_high,
            "note": base,
        },
    ]


def headline_cautions(kpis: pd.DataFrame) -> list[str]:
    """Why a KPI table gives no retention headline (one sentence), or nothing."""
    head = headline_period(kpis)
    return [] if head.reason is None else [head.reason]


def simple_clv_figures(clv: dict, *, currency: str | None = None) -> list[dict]:
    """The headline figures of :func:`simple_clv_inputs`: the 365-day repeat purchase rate
    (percent) and the simple CLV (``currency``).

    A CLV whose churn rests on a partial base (``history_complete`` False: the data begin
    less than ``active_days`` before the 365-day window, so its starting base misses the
    customers who bought earlier) is no figure to headline: its value is None, with the
    reason as a note; the report's table still shows it.
    """
    money = {"unit": currency} if currency else {}
    value, note = clv["clv"], None
    if not clv["history_complete"]:
        value = None
        base = int(clv["customers_start"])
        note = (
            f"its churn ({clv['annual_churn_rate']:.1f} % of {base:,} customers) rests on a "
            "partial base"
            if base
            else "no customer in the base at the start of the last 365 days: no churn to base it on"
        )
    return [
        {
            "name": "repeat_purchase_rate",
            "value": clv["repeat_purchase_rate"],
            "label": "Repeat purchase rate (last 365 days)",
            "unit": "%",
            "note": f"{int(clv['customers']):,} customers with a purchase in the window",
        },
        {"name": "simple_clv", "value": value, "label": "Simple CLV", **money, "note": note},
    ]


def simple_clv_inputs(
    transactions,
    observation_end=None,
    *,
    max_lifespan_years: float = DEFAULT_MAX_LIFESPAN_YEARS,
    active_days: int = DEFAULT_ACTIVE_DAYS,
    segment_col: str | None = None,
    segment_value=None,
) -> dict:
    """Simple CLV and its inputs over the last 365 days before ``observation_end``.

    The window is the 365 days ending on ``observation_end`` (inclusive; default: the last
    transaction day), i.e. ``[observation_end - 364 days, observation_end + 1 day)``.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions (see :func:`kpi_table`).
    observation_end : date-like, optional
        Last observed day, inclusive.
    max_lifespan_years : float, default 10
        Cap of the lifespan (years), used when churn is 0 or very small.
    active_days : int, default 365
        Base definition used for the churn (see :func:`kpi_table`).
    segment_col, segment_value : optional
        Restrict to one segment (see :func:`kpi_table`).

    Returns
    -------
    dict
        ``window_start``, ``window_end`` (exclusive) Timestamps; ``customers`` (active
        customers: a purchase day in the window), ``orders`` (positive net amount),
        ``revenue`` (net, currency), ``aov`` (currency per order), ``purchase_frequency``
        (orders per active customer **per year**), ``repeat_purchase_rate`` (percent of active
        customers with two or more orders in the window), ``customers_start`` (base at the
        window start), ``churned`` (of those, not in the base at the window end),
        ``annual_churn_rate`` (percent), ``annual_churn_fraction`` (0-1), ``lifespan_years``
        (``1 / annual_churn_fraction`` capped at ``max_lifespan_years``) and ``clv``
        (``aov * purchase_frequency * lifespan_years``, currency). ``clv`` is NaN when the
        base at the window start is empty (less than a year of history).
        ``history_complete`` says whether the data reach ``active_days`` back from the window
        start; when False the base at the start, hence the churn, rests on a shorter history
        (read the CLV with care).
    """
    active_days = whole_number(active_days, "active_days", unit="days")
    table = engine.as_table(transactions)
    grid = engine.period_grid(table, freq="Y", observation_end=observation_end)
    end_day = grid.observation_end
    window_end = end_day + pd.Timedelta(days=1)
    window_start = window_end - pd.Timedelta(days=365)
    c = engine.window_counts(
        table,
        start=window_start,
        end=window_end,
        active_days=active_days,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    aov = average_order_value(c["revenue"], c["orders"])
    frequency = purchase_frequency(c["orders"], c["active_customers"])
    churn_pct = churn_rate(c["churned"], c["customers_start"])
    churn_fraction = churn_pct / 100
    lifespan = lifespan_years(churn_fraction, max_lifespan_years=max_lifespan_years)
    return {
        "window_start": window_start,
        "window_end": window_end,
        "customers": c["active_customers"],
        "orders": c["orders"],
        "revenue": c["revenue"],
        "aov": aov,
        "purchase_frequency": frequency,
        "repeat_purchase_rate": repeat_purchase_rate(c["repeat_customers"], c["active_customers"]),
        "customers_start": c["customers_start"],
        "churned": c["churned"],
        "annual_churn_rate": churn_pct,
        "annual_churn_fraction": churn_fraction,
        "lifespan_years": lifespan,
        "clv": simple_clv(aov, frequency, lifespan),
        "history_complete": bool(grid.first_day <= window_start - pd.Timedelta(days=active_days)),
    }
