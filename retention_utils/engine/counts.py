"""Per-period counts behind the KPI tables: customer base, new, churned, revenue; MRR flows.

Periods are numbered as in :mod:`retention_utils.engine.grid`. The customer base at a
boundary instant d (midnight) holds the customers with a purchase day p such that
d - active_days <= p < d. For a customer and one of their purchasing periods j (last purchase
day m_j in it), the customer is in the base at the boundaries j + 1 ... min(next purchasing
period, last boundary <= m_j + active_days). Those ranges are disjoint per customer, so every
count below is a sum over (customer, period) rows computed with window functions: nothing is
expanded to periods x customers and nothing loops in Python.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ibis
import ibis.expr.types as ir
import pandas as pd

from retention_utils.config import CUSTOMER
from retention_utils.engine.backend import Source, as_table, cache, quiet_bridge, to_pandas
from retention_utils.engine.daily import money_expr
from retention_utils.engine.grid import period_grid, period_index_expr
from retention_utils.engine.segments import _segment_days
from retention_utils.errors import whole_number
from retention_utils.periods import PeriodGrid, as_day, check_period_freq, period_start


def _customer_periods_expr(daily: ir.Table, freq: str) -> ir.Table:
    """One row per customer and period with any activity: net ``revenue`` (all days, returns
    included), ``orders`` (orders with positive net amount), ``purchase`` (1 if the period has
    a purchase day) and ``last_day`` (last purchase day of the period)."""
    d = daily.mutate(period=period_index_expr(daily.day, freq))
    return d.group_by([CUSTOMER, "period"]).aggregate(
        revenue=d.amount.sum(),
        orders=d.orders.sum(),
        purchase=d.is_purchase.cast("int64").max(),
        last_day=d.day.max(where=d.is_purchase),
    )


def _base_ranges_expr(cp: ir.Table, grid: PeriodGrid, active_days: int) -> ir.Table:
    """Purchasing (customer, period) rows with the window columns the base counts need.

    ``prev`` / ``next``: the customer's previous / next purchasing period (null if none);
    ``hi``: last boundary at which this period's purchases keep the customer in the base
    (boundaries after ``grid.last + 1`` are capped there); ``prev_hi`` likewise for ``prev``.
    """
    purchases = cp.filter(cp.purchase == 1)
    reach = purchases.last_day + ibis.interval(days=int(active_days))
    final_end = ibis.literal(grid.final_end.date())
    hi = ibis.cases(
        (reach >= final_end, ibis.literal(grid.last + 1, type="int64")),
        else_=period_index_expr(reach, grid.freq),
    )
    w = ibis.window(group_by=CUSTOMER, order_by="period")
    ranges = purchases.mutate(
        hi=hi, prev=purchases.period.lag().over(w), next=purchases.period.lead().over(w)
    )
    return ranges.mutate(prev_hi=ranges.hi.lag().over(w))


@contextlib.contextmanager
def _materialised(expr: ir.Table) -> Iterator[ir.Table]:
    """``expr`` computed once into a temporary table of its backend, released afterwards."""
    cached = cache(expr)
    try:
        yield cached
    finally:
        cached.release()


def _period_counts_expr(r: ir.Table) -> ir.Table:
    """Per-period counts from the rows of :func:`_base_ranges_expr` (one per customer and
    purchasing period)."""
    is_new = r.prev.isnull()
    lapsed = r.prev.notnull() & (r.prev_hi < r.period)
    return r.group_by(r.period.name("index")).aggregate(
        new_customers=is_new.cast("int64").sum(),
        new_in_end_base=(is_new & (r.hi >= r.period + 1)).cast("int64").sum(),
        returning=(r.prev.notnull() & (r.prev_hi >= r.period)).cast("int64").sum(),
        reactivated=(lapsed & (r.hi >= r.period + 1)).cast("int64").sum(),
        active_customers=r.count(),
        repeat_customers=(r.orders >= 2).cast("int64").sum(),
    )


def kpi_counts(
    source: Source,
    *,
    freq: str = "M",
    active_days: int = 365,
    observation_end=None,
    segment_col: str | None = None,
    segment_value=None,
) -> pd.DataFrame:
    """Per-period customer counts, revenue and orders: the aggregation behind
    :func:`retention_utils.kpis.kpi_table`.

    One row per calendar period, from the period of the first transaction day to the period
    of ``observation_end`` (a day, inclusive; default the last transaction day). Columns:

    ``period`` (pandas Period), ``period_start``, ``period_end`` (calendar end, exclusive),
    ``incomplete`` (the observation end cuts the period short; its end-of-period counts are
    then measured at ``observation_end + 1 day``), and the counts

    * ``customers_start`` S: customers with a purchase day in ``[start - active_days, start)``;
    * ``customers_end`` E: the same at the period end;
    * ``new_customers`` N: first-ever purchase day in the period;
    * ``churned``: in the base at the start and not at the end;
    * ``retained``: in the base at both the start and the end (``S - churned``);
    * ``reactivated``: in the base at the end, not at the start, and not new;
    * ``returning``: in the base at the start and with a purchase day in the period;
    * ``active_customers``: customers with a purchase day in the period;
    * ``repeat_customers``: active customers with two or more orders in the period;
    * ``revenue``: net revenue of the period (all days, return-only days included);
    * ``orders``: orders with positive net amount.

    A purchase day is a customer-day with positive net amount (returns netted).
    """
    check_period_freq(freq)
    active_days = whole_number(active_days, "active_days", unit="days")
    table, days = _segment_days(source, observation_end, segment_col, segment_value)
    grid = period_grid(table, freq=freq, observation_end=observation_end)
    # Materialise the (customer, period) table and its window columns once: the three
    # aggregates below then scan them instead of re-reading every transaction.
    with _materialised(_customer_periods_expr(days, freq)) as cp:
        money = cp.group_by(cp.period.name("index")).aggregate(
            revenue=cp.revenue.sum(), orders=cp.orders.sum()
        )
        money = to_pandas(money)
        ranges = _base_ranges_expr(cp, grid, active_days)
        ranges = ranges.mutate(stop=ibis.least(ranges.next.fill_null(grid.last + 1), ranges.hi))
        with _materialised(ranges) as r:
            counts = to_pandas(_period_counts_expr(r))
            # In the base at boundaries period + 1 .. stop: +1 at the first, -1 after the last.
            spans = r.filter(r.stop >= r.period + 1)
            enter = spans.select(index=spans.period + 1, delta=ibis.literal(1, type="int64"))
            leave = spans.select(index=spans.stop + 1, delta=ibis.literal(-1, type="int64"))
            changes = enter.union(leave, distinct=False)
            changes = to_pandas(changes.group_by("index").aggregate(delta=changes.delta.sum()))

    out = grid.frame()
    boundaries = pd.Series(0, index=range(grid.first, grid.last + 3), dtype="int64")
    boundaries = boundaries.add(changes.set_index("index")["delta"], fill_value=0)
    base = boundaries.loc[: grid.last + 2].cumsum().astype("int64")
    out["customers_start"] = base.reindex(out["index"]).to_numpy()
    out["customers_end"] = base.reindex(out["index"] + 1).to_numpy()
    out = out.merge(counts, on="index", how="left").merge(money, on="index", how="left")
    int_cols = [
        "new_customers",
        "new_in_end_base",
        "returning",
        "reactivated",
        "active_customers",
        "repeat_customers",
        "orders",
    ]
    out[int_cols] = out[int_cols].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype(float)
    # |S \ E| = |S| - |E| + |E \ S|; E \ S = new customers still in the base + reactivated.
    out["churned"] = (
        out["customers_start"] - out["customers_end"] + out["new_in_end_base"] + out["reactivated"]
    )
    out["retained"] = out["customers_start"] - out["churned"]
    out = out.drop(columns=["new_in_end_base"])
    out.attrs.update(
        freq=freq,
        active_days=active_days,
        observation_end=grid.observation_end,
        first_day=grid.first_day,
    )
    return out


def window_counts(
    source: Source,
    *,
    start,
    end,
    active_days: int = 365,
    segment_col: str | None = None,
    segment_value=None,
) -> dict:
    """Counts over one window of days ``[start, end)`` (``end`` exclusive).

    Returns a dict: ``customers_start`` / ``customers_end`` (base at ``start`` / ``end``, as in
    :func:`kpi_counts`), ``new_customers`` (first purchase day in the window), ``churned`` (in
    the base at ``start``, not at ``end``), ``retained`` (in the base at both), ``reactivated``
    (in the base at ``end``, not at ``start``, not new), ``active_customers`` (a purchase day
    in the window), ``repeat_customers`` (active with two or more orders in the window),
    ``orders`` (positive net amount) and ``revenue`` (net). Only data before ``end`` is used.
    """
    start = as_day(start, "start")
    end = as_day(end, "end")
    span = pd.Timedelta(days=whole_number(active_days, "active_days", unit="days"))
    _, d = _segment_days(source, end - pd.Timedelta(days=1), segment_col, segment_value)

    def between(lo: pd.Timestamp, hi: pd.Timestamp):
        return (d.day >= ibis.literal(lo.date())) & (d.day < ibis.literal(hi.date()))

    in_window = between(start, end)
    per_customer = d.group_by(CUSTOMER).aggregate(
        in_start=(d.is_purchase & between(start - span, start)).cast("int64").max(),
        in_end=(d.is_purchase & between(end - span, end)).cast("int64").max(),
        active=(d.is_purchase & in_window).cast("int64").max(),
        before=(d.is_purchase & (d.day < ibis.literal(start.date()))).cast("int64").max(),
        orders=d.orders.sum(where=in_window),
        revenue=d.net_micros.sum(where=in_window),  # micro-units: exact on every backend
    )
    c = per_customer
    agg = c.aggregate(
        customers_start=c.in_start.sum(),
        customers_end=c.in_end.sum(),
        new_customers=((c.active == 1) & (c.before == 0)).cast("int64").sum(),
        churned=((c.in_start == 1) & (c.in_end == 0)).cast("int64").sum(),
        retained=((c.in_start == 1) & (c.in_end == 1)).cast("int64").sum(),
        reactivated=((c.in_start == 0) & (c.in_end == 1) & (c.before == 1)).cast("int64").sum(),
        active_customers=c.active.sum(),
        repeat_customers=((c.active == 1) & (c.orders >= 2)).cast("int64").sum(),
        orders=c.orders.sum(),
        revenue=money_expr(c.revenue.sum()),
    )
    row = to_pandas(agg).iloc[0]
    out = {k: int(0 if pd.isna(row[k]) else row[k]) for k in agg.columns if k != "revenue"}
    out["revenue"] = float(0.0 if pd.isna(row["revenue"]) else row["revenue"])
    return out


#: The money columns of :func:`subscription_flows` (MRR at the period's start and end, and
#: the flows between them), in the order the KPI tables show them.
MRR_FLOWS = [
    "mrr_start",
    "mrr_end",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
]


def subscription_flows(source: Source, *, freq: str = "M", observation_end=None) -> pd.DataFrame:
    """Per-period MRR flows and subscriber counts of a subscription table.

    A customer's MRR at instant ``d`` is the sum of ``mrr`` over their rows with
    ``start_date <= d < end_date`` (null end = still active); a customer is a subscriber at
    ``d`` when they have such a row (whatever its MRR). For each period ``[s, e)``, over the
    customers with MRR > 0 at ``s`` (values ``m_s``, ``m_e``): ``churned_mrr`` = sum of ``m_s``
    where ``m_e = 0``; ``contraction_mrr`` = sum of ``m_s - m_e`` where ``0 < m_e < m_s``;
    ``expansion_mrr`` = sum of ``m_e - m_s`` where ``m_e > m_s``; over customers with MRR 0 at
    ``s``, ``new_mrr`` = sum of ``m_e`` of those whose first subscription did not start before
    ``s``, ``reactivation_mrr`` = the same for those who subscribed before ``s`` (returning
    after MRR 0). Also ``paying_end`` (customers with MRR > 0 at ``e``), ``mrr_start``,
    ``mrr_end``, ``subscribers_start``,
    ``subscribers_end``, ``new_subscribers`` (first subscription starts in the period) and
    ``churned_subscribers`` (subscriber at ``s``, not at ``e``).

    Periods run from the one holding the first ``start_date`` to the one holding
    ``observation_end`` (default: the latest start or end date); an incomplete last period is
    measured at ``observation_end + 1 day``.
    """
    check_period_freq(freq)
    required = (CUSTOMER, "start_date", "end_date", "mrr")
    subs = as_table(source, required=required)
    subs = subs.mutate(
        _start=subs.start_date.cast("timestamp"), _end=subs.end_date.cast("timestamp")
    )
    if observation_end is None:
        last = to_pandas(subs.aggregate(a=subs._start.max(), b=subs._end.max())).iloc[0]
        observation_end = max(x for x in (last["a"], last["b"]) if not pd.isna(x))
    grid = period_grid(
        subs.mutate(order_date=subs._start), freq=freq, observation_end=observation_end
    )
    idx = list(range(grid.first, grid.last + 2))
    instants = [period_start(i, freq) for i in idx[:-1]] + [grid.final_end]
    with quiet_bridge():
        bounds = ibis.memtable(
            pd.DataFrame({"idx": idx, "instant": pd.to_datetime(instants).astype("datetime64[us]")})
        )
    hit = subs.join(
        bounds,
        [
            subs._start <= bounds.instant,
            subs._end.isnull() | (bounds.instant < subs._end),
        ],
    )
    at = hit.group_by([CUSTOMER, "idx"]).aggregate(mrr=hit.mrr.sum())
    s = at.select(c_s=at[CUSTOMER], i_s=at.idx, m_s=at.mrr)
    e = at.select(c_e=at[CUSTOMER], i_e=at.idx - 1, m_e=at.mrr)
    both = s.outer_join(e, [s.c_s == e.c_e, s.i_s == e.i_e])
    both = both.select(
        _customer=ibis.coalesce(both.c_s, both.c_e),
        index=ibis.coalesce(both.i_s, both.i_e),
        m_s=both.m_s.fill_null(0.0),
        m_e=both.m_e.fill_null(0.0),
        sub_s=both.c_s.notnull(),
        sub_e=both.c_e.notnull(),
    )
    both = both.filter((both.index >= grid.first) & (both.index <= grid.last))
    firsts = subs.group_by(CUSTOMER).aggregate(first_start=subs._start.min())
    firsts = firsts.mutate(first_index=period_index_expr(firsts.first_start.date(), freq))
    both = both.join(firsts, both._customer == firsts[CUSTOMER])
    pos = both.m_s > 0
    returning = both.first_index < both.index  # subscribed before this period began
    flows = both.group_by("index").aggregate(
        mrr_start=both.m_s.sum(),
        mrr_end=both.m_e.sum(),
        new_mrr=both.m_e.sum(where=~pos & ~returning),
        reactivation_mrr=both.m_e.sum(where=~pos & returning),
        paying_end=(both.m_e > 0).cast("int64").sum(),
        expansion_mrr=(both.m_e - both.m_s).sum(where=pos & (both.m_e > both.m_s)),
        contraction_mrr=(both.m_s - both.m_e).sum(
            where=pos & (both.m_e > 0) & (both.m_e < both.m_s)
        ),
        churned_mrr=both.m_s.sum(where=pos & (both.m_e == 0)),
        subscribers_start=both.sub_s.cast("int64").sum(),
        subscribers_end=both.sub_e.cast("int64").sum(),
        churned_subscribers=(both.sub_s & ~both.sub_e).cast("int64").sum(),
    )
    new = firsts.group_by(firsts.first_index.name("index")).aggregate(
        new_subscribers=firsts.count()
    )

    out = grid.frame()
    out = out.merge(to_pandas(flows), on="index", how="left")
    out = out.merge(to_pandas(new), on="index", how="left")
    out[MRR_FLOWS] = out[MRR_FLOWS].fillna(0.0).astype(float)
    ints = [
        "subscribers_start",
        "subscribers_end",
        "churned_subscribers",
        "new_subscribers",
        "paying_end",
    ]
    out[ints] = out[ints].fillna(0).astype("int64")
    out.attrs.update(freq=freq, observation_end=grid.observation_end)
    return out
