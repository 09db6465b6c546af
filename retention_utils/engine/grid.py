"""Calendar periods of a table: the integer period index of a day, and a table's period grid.

Periods are calendar periods [start, end) numbered by an integer index (months since year 0
for "M", quarters for "Q", years for "Y", Monday-to-Sunday weeks since 1900-01-01 for "W"),
so "the next period" is index + 1 and "periods since acquisition" is a difference of two
indexes. Boundary ``i`` is the start of period ``i``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from retention_utils.config import ORDER_DATE
from retention_utils.engine.backend import to_pandas
from retention_utils.engine.daily import naive_order_dates
from retention_utils.periods import (
    WEEK_ORIGIN,
    PeriodGrid,
    as_day,
    check_period_freq,
    observation_end_or_last,
    period_index,
)


def period_index_expr(day: ir.DateValue, freq: str) -> ir.IntegerValue:
    """Integer index of the calendar period holding ``day`` (an ibis date expression)."""
    check_period_freq(freq)
    if freq == "M":
        return (day.year() * 12 + day.month() - 1).cast("int64")
    if freq == "Q":
        return (day.year() * 4 + day.quarter() - 1).cast("int64")
    if freq == "Y":
        return day.year().cast("int64")
    return (day.delta(ibis.literal(WEEK_ORIGIN), unit="day") // 7).cast("int64")


def period_grid(
    table: ir.Table, *, freq: str, observation_end=None, date_col: str = ORDER_DATE
) -> PeriodGrid:
    """The :class:`PeriodGrid` of a table: first period = the one holding the earliest date,
    last = the one holding ``observation_end`` (default: the latest date in the table)."""
    check_period_freq(freq)
    dates = naive_order_dates(table) if date_col == ORDER_DATE else None
    if dates is None:
        col = table[date_col]
        bounds = to_pandas(table.aggregate(first=col.min(), last=col.max()))
        first, last = bounds["first"].iloc[0], bounds["last"].iloc[0]
    else:  # a DataFrame's: read from the frame, a query costs more on small data
        first, last = dates.min(), dates.max()
    if pd.isna(first):
        raise ValueError(
            "There are no transactions to aggregate (after dropping rows dated after the "
            "observation end)."
        )
    first = as_day(first, "first date")
    end = observation_end_or_last(observation_end, last)
    if end < first:
        raise ValueError(
            f"observation_end={end.date()} is before the first transaction day ({first.date()})."
        )
    return PeriodGrid(freq, period_index(first, freq), period_index(end, freq), first, end)
