"""Cohort activity by age and horizon: the counts every retention mode is computed from."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from retention_utils.config import CUSTOMER, ORDER_DATE
from retention_utils.engine.backend import Source, as_table, to_pandas
from retention_utils.engine.daily import within_observation
from retention_utils.engine.grid import period_grid, period_index_expr
from retention_utils.engine.segments import _one_segment, _segment_days, customer_segment_expr
from retention_utils.periods import PeriodGrid, as_day, check_period_freq

#: Days per rolling period (SPEC section 4, "Retention modes"): rolling period ``k`` of a
#: customer is the days ``[first + k*L, first + (k+1)*L)`` after their first purchase day.
ROLLING_DAYS = {"W": 7, "M": 30, "Q": 91, "Y": 365}


COHORT_WINDOWS = ("calendar", "rolling")


def _age_expr(at: ir.Value, t: ir.Table, freq: str, window: str) -> ir.IntegerValue:
    """Age at ``at`` for the customer of row ``t`` (columns ``first``, ``cohort``): whole
    rolling periods since their first purchase day (``at`` a date), or calendar periods since
    their cohort (``at`` a period index of :func:`period_index_expr`)."""
    if window == "rolling":
        return at.delta(t["first"], unit="day") // ROLLING_DAYS[freq]
    return at - t.cohort


def cohort_counts_expr(
    days: ir.Table,
    grid: PeriodGrid,
    *,
    window: str = "calendar",
    segments: ir.Table | None = None,
) -> ir.Table:
    """The query of :func:`cohort_counts` over a daily purchase table (group-bys and joins
    only: no window function, no count-distinct, so Spark runs it as DuckDB does).
    ``segments``: a ``customer_id``, ``segment`` table splitting the counts.

    Calendar windows first sum the days into one row per customer and period, so the join
    and the counts see far fewer rows; rolling ages depend on each customer's first purchase
    day, so rolling windows join the days and sum them per age afterwards.
    """
    freq = grid.freq
    if window == "rolling":  # a customer's activity per day: ages come after the join
        units = days.select(
            CUSTOMER,
            at=days.day,
            purchase=days.is_purchase.cast("int64"),
            revenue_micros=days.net_micros,
        )
    else:  # per calendar period: one row per customer and age
        dated = days.mutate(at=period_index_expr(days.day, freq))
        units = dated.group_by([CUSTOMER, "at"]).aggregate(
            purchase=dated.is_purchase.cast("int64").max(),
            revenue_micros=dated.net_micros.sum(),
        )
    bought = units.filter(units.purchase == 1)
    people = bought.group_by(CUSTOMER).aggregate(first=bought.at.min(), last=bought.at.max())
    if window == "rolling":  # the last age whose days have all passed by the end
        people = people.mutate(cohort=period_index_expr(people["first"], freq))
        after_end = ibis.literal((grid.observation_end + pd.Timedelta(days=1)).date())
        horizon = _age_expr(after_end, people, freq, window) - 1
    else:  # the age of the (possibly incomplete) period holding the end
        people = people.mutate(cohort=people["first"])
        horizon = grid.last - people.cohort
    people = people.mutate(
        horizon=horizon.cast("int64"),
        last_age=_age_expr(people["last"], people, freq, window).cast("int64"),
    )
    keys = ["cohort"]
    if segments is not None:
        people = people.join(segments, CUSTOMER, how="left").mutate(
            segment=ibis._.segment.cast("string")
        )
        keys = ["segment", "cohort"]
    j = units.join(people, CUSTOMER)
    j = j.mutate(age=_age_expr(j.at, j, freq, window).cast("int64")).filter(lambda t: t.age >= 0)
    if window == "rolling":
        j = j.group_by([CUSTOMER, *keys, "age", "horizon", "last_age"]).aggregate(
            purchase=j.purchase.max(), revenue_micros=j.revenue_micros.sum()
        )
    agg = j.group_by([*keys, "age", "horizon"]).aggregate(
        customers=j.purchase.sum(),
        last=(j.age == j.last_age).cast("int64").sum(),
        revenue_micros=j.revenue_micros.sum(),
    )
    return agg.order_by([*keys, "age", "horizon"])


def cohort_counts(
    source: Source,
    *,
    freq: str = "M",
    observation_end=None,
    window: str = "calendar",
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
) -> pd.DataFrame:
    """Cohort activity by age and horizon: what every retention mode is counted from.

    A customer's cohort is the calendar period of their first purchase day ``f``; the age of
    a later day ``d`` is ``period(d) - cohort`` (``window="calendar"``) or
    ``(d - f) // L`` days (``window="rolling"``, ``L`` in :data:`ROLLING_DAYS`). A customer's
    **horizon** is the last age observed for them: ``last period - cohort`` (calendar; the
    caller caps it at the last complete period) or the last age whose days all lie on or
    before ``observation_end``, ``(observation_end - f + 1) // L - 1`` (rolling; -1 when not
    even age 0 has ended).

    Returns
    -------
    DataFrame
        One row per (``segment``,) ``cohort``, ``age`` and ``horizon`` with activity:
        ``customers`` (customers with a purchase day at that age; at age 0 every customer),
        ``last`` (of them, those whose last purchase day up to ``observation_end`` is at this
        age), ``revenue_micros`` (net revenue of that age, returns included, ages before the
        first purchase left out; integer millionths of the currency). Only these counts leave
        the engine: no count-distinct over a window, so it runs on Spark too.
        ``attrs["grid"]``: the :class:`PeriodGrid`; ``attrs["first_day"]``: the first day of
        all the data (before any segment filter).

    ``segment``: a column whose value on each customer's first purchase day splits the table
    (column ``segment``, missing values as ``"(missing)"``); ``segment_col`` /
    ``segment_value``: keep only the customers of one segment.
    """
    check_period_freq(freq)
    if window not in COHORT_WINDOWS:
        raise ValueError(f"window must be 'calendar' or 'rolling', got {window!r}.")
    table, days = _segment_days(source, observation_end, segment_col, segment_value, orders=False)
    grid = period_grid(table, freq=freq, observation_end=observation_end)
    seg = customer_segment_expr(table, segment) if segment else None
    out = to_pandas(cohort_counts_expr(days, grid, window=window, segments=seg))
    if segment:
        out["segment"] = out["segment"].astype(object).where(out["segment"].notna(), "(missing)")
        out["segment"] = out["segment"].astype(str)
    ints = ["cohort", "age", "horizon", "customers", "last", "revenue_micros"]
    out[ints] = out[ints].astype("int64")
    out = out.reset_index(drop=True)
    out.attrs["grid"] = grid
    out.attrs["first_day"] = grid.first_day
    if _one_segment(segment_col, segment_value):
        rows = within_observation(as_table(source), observation_end)
        out.attrs["first_day"] = as_day(
            to_pandas(rows.aggregate(d=rows[ORDER_DATE].min()))["d"][0], "first day"
        )
    return out
