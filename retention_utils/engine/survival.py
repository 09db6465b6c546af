"""Time in the customer base: customers (or subscribers) by time and outcome, for Kaplan-Meier.

Only these counts leave the engine, never one row per customer.
"""

from __future__ import annotations

import ibis
import pandas as pd

from retention_utils.config import CUSTOMER
from retention_utils.engine.backend import Source, as_table, quiet_bridge, to_pandas
from retention_utils.engine.daily import _observation_end
from retention_utils.engine.segments import _segment_days, customer_segment_expr
from retention_utils.periods import as_day, day_end, observation_end_or_last


def survival_counts(
    transactions: Source,
    *,
    active_days: int = 365,
    observation_end=None,
    by: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
) -> pd.DataFrame:
    """Customers by time in the base and outcome, for a Kaplan-Meier estimate.

    A customer with first purchase day ``f`` and last purchase day ``l`` left the base at
    ``l + active_days`` when ``observation_end - l >= active_days`` (an event, time
    ``l + active_days - f`` days); otherwise they are still in it (censored, time
    ``observation_end + 1 day - f``). Only these counts leave the engine, never one row per
    customer. ``segment_col`` / ``segment_value``: keep only the customers of one segment.

    Returns
    -------
    DataFrame
        ``group`` (the ``by`` segment of each customer, its value on the first purchase day;
        ``"all"`` without ``by``), ``time`` (days), ``events``, ``censored``; sorted.
        ``attrs["observation_end"]`` (Timestamp).
    """
    source = as_table(transactions)
    end = _observation_end(source, observation_end)
    table, days = _segment_days(source, end, segment_col, segment_value)
    bought = days.filter(days.is_purchase)
    spans = bought.group_by(CUSTOMER).aggregate(first=bought.day.min(), last=bought.day.max())
    end_day = ibis.literal(end.date())
    silent = end_day.delta(spans["last"], unit="day")
    event = silent >= int(active_days)
    time = ibis.cases(
        (event, spans["last"].delta(spans["first"], unit="day") + int(active_days)),
        else_=end_day.delta(spans["first"], unit="day") + 1,
    )
    spans = spans.mutate(_event=event.cast("int64"), time=time.cast("int64"))
    if by:
        seg = customer_segment_expr(table, by)
        spans = spans.join(seg, CUSTOMER).mutate(group=ibis._.segment.cast("string"))
    else:
        spans = spans.mutate(group=ibis.literal("all"))
    counts = spans.group_by(["group", "time"]).aggregate(
        events=spans._event.sum(), censored=(1 - spans._event).sum()
    )
    out = to_pandas(counts.order_by(["group", "time"]))
    out = out.astype({"time": "int64", "events": "int64", "censored": "int64"})
    out.attrs["observation_end"] = end
    return out


def subscription_survival_counts(
    source: Source, *, observation_end=None, by: str | None = None
) -> pd.DataFrame:
    """Subscribers by time subscribed and outcome: from the first ``start_date`` to the last
    ``end_date`` (an event), or to ``observation_end + 1 day`` while a subscription is still
    open or ends later (censored). Same columns as :func:`survival_counts`."""
    table = as_table(source, required=(CUSTOMER, "start_date", "end_date"))
    if observation_end is None:
        with quiet_bridge():
            bounds = table.aggregate(s=table.start_date.max(), e=table.end_date.max()).to_pandas()
        latest = bounds.max(axis=1).iloc[0]
        end = observation_end_or_last(None, latest)
    else:
        end = as_day(observation_end, "observation_end")
    cut = ibis.literal(day_end(end))
    rows = table.filter(table.start_date < cut)
    still_open = rows.end_date.isnull() | (rows.end_date >= cut)
    per = rows.group_by(CUSTOMER).aggregate(
        first=rows.start_date.min(),
        last=rows.end_date.max(),
        open=still_open.cast("int64").max(),
        **({"group": rows[by].cast("string").min()} if by else {}),
    )
    event = per.open == 0
    stop = ibis.cases((event, per["last"].date()), else_=ibis.literal(day_end(end).date()))
    per = per.mutate(
        _event=event.cast("int64"),
        time=stop.delta(per["first"].date(), unit="day").cast("int64"),
    )
    if not by:
        per = per.mutate(group=ibis.literal("all"))
    counts = per.group_by(["group", "time"]).aggregate(
        events=per._event.sum(), censored=(1 - per._event).sum()
    )
    out = to_pandas(counts.order_by(["group", "time"]))
    out = out.astype({"time": "int64", "events": "int64", "censored": "int64"})
    out.attrs["observation_end"] = end
    return out
