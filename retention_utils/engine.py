"""The aggregation engine: all per-transaction work, written with ibis, run by DuckDB or Spark.

Every function here accepts a transaction source with the canonical columns
(``customer_id``, ``order_date``, ``amount``, optional ``order_id`` and segment columns):

* a pandas DataFrame (as returned by :func:`retention_utils.load_transactions`),
* a path or glob to Parquet or CSV files (read by DuckDB without going through pandas, so
  files larger than memory work), or
* an ibis table (any backend ibis supports; DuckDB in process is the default; Spark tables
  from :func:`open_transactions`),

and returns small pandas frames. Expressions are plain ibis (no backend-specific SQL and no
per-row Python) in the subset Spark accepts (no ``nunique`` over a window, no ``sample(seed=)``,
no temporary tables), so a query runs where its table lives: connections, sessions and the
cache are in :mod:`retention_utils.backend`.

Netting of returns (SPEC section 3): amounts are summed exactly (integer micro-units) per
order and per customer and calendar day. A day (an order) is a purchase when its net amount
is > 0 or when it has no return line: a $0.00 order is a purchase, a purchase returned in full
is not (see :func:`is_purchase_expr`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from retention_utils.backend import (  # noqa: F401  (the engine's public backend layer)
    Source,
    as_table,
    cache,
    clear_cache,
    connection,
    frame_of,
    is_spark,
    keep_daily,
    kept_daily,
    open_transactions,
    quiet_bridge,
    scalar,
    spark_backend,
    spark_session,
    to_pandas,
)
from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE
from retention_utils.errors import whole_number
from retention_utils.periods import (
    WEEK_ORIGIN,
    PeriodGrid,
    as_day,
    check_period_freq,
    day_end,
    lifetimes_period_start,
    observation_end_or_last,
    period_index,
    period_start,
)

_quiet_pandas_bridge = quiet_bridge


def _kept_daily(table: ir.Table, *, now: bool = False) -> ir.Table | None:
    """The kept daily purchase table of ``table`` (see :func:`retention_utils.backend.kept_daily`)."""
    return kept_daily(table, purchase_days_expr, now=now)


def keep(transactions: pd.DataFrame | ir.Table) -> None:
    """Build the daily purchase table now, for the engine calls that follow.

    A large DataFrame (``backend.CACHE_MIN_ROWS`` rows or more; smaller ones are left alone, they
    are fast anyway) has its table built on the second call otherwise: a report that makes
    several calls on the same frame saves the first call's pass over every transaction. An
    ibis table (on Spark for example) is kept only when given here; on Spark the daily table
    is cached by Spark and never collected. Later calls must pass the same table object.
    """
    keep_daily(transactions, purchase_days_expr)


def days_up_to(table: ir.Table, observation_end=None, *, orders: bool = True) -> ir.Table:
    """The daily purchase table (:func:`purchase_days_expr`) of the rows dated on or before
    ``observation_end``; reused from the cache when ``table`` is a kept DataFrame's.
    ``orders=False``: the caller does not need the ``orders`` column (see
    :func:`purchase_days_expr`)."""
    kept = _kept_daily(table)
    if kept is None:
        return purchase_days_expr(within_observation(table, observation_end), orders=orders)
    return _kept_days_up_to(kept, observation_end)


def _kept_days_up_to(kept: ir.Table, observation_end) -> ir.Table:
    end = day_end(observation_end)
    return kept if end is None else kept.filter(kept.day < ibis.literal(end.date()))


def within_observation(table: ir.Table, observation_end=None) -> ir.Table:
    """Rows dated on or before ``observation_end`` (a day, inclusive)."""
    end = day_end(observation_end)
    if end is None:
        return table
    return table.filter(table[ORDER_DATE] < ibis.literal(end))


#: Money is summed in integer micro-units (millionths of the currency unit), so a purchase
#: returned in full nets to exactly 0 and no sum depends on row order or thread count.
MICROS = 1_000_000


def micros_expr(amount: ir.NumericValue) -> ir.IntegerValue:
    """An amount column in integer micro-units (rounded to the nearest millionth)."""
    return (amount * MICROS).round().cast("int64")


def money_expr(micros: ir.IntegerValue) -> ir.FloatingValue:
    """Micro-units back to the currency unit (the float nearest the exact decimal sum)."""
    return micros.cast("float64") / MICROS


def is_purchase_expr(net_micros: ir.IntegerValue, return_lines: ir.IntegerValue):
    """The purchase rule of SPEC section 3, for a customer-day or an order: net amount > 0, or
    no return line at all (a $0.00 order of a free item is a purchase; a purchase cancelled by
    its returns is not)."""
    return (net_micros > 0) | (return_lines == 0)


def purchase_days_expr(
    table: ir.Table, *, by: list[str] | tuple[str, ...] = (), orders: bool = True
) -> ir.Table:
    """Expression of the daily purchase table: one row per customer and calendar day.

    Columns: ``customer_id``, ``day`` (date), the ``by`` columns, ``amount`` (net revenue of
    the day, returns netted), ``net_micros`` (the same in integer micro-units, for exact
    sums), ``orders`` (orders of the day that count: net amount > 0 or no return line),
    ``return_lines`` and ``is_purchase`` (net amount > 0, or no return line: see
    :func:`is_purchase_expr`). Days that are not purchases are kept (their revenue counts).
    ``orders=False`` leaves the ``orders`` column out and groups the rows by day directly,
    skipping the group-by per order (about half the work on a million rows).
    """
    day = table[ORDER_DATE].date()
    keys = [table[CUSTOMER].name(CUSTOMER), day.name("day"), *[table[c] for c in by]]
    if orders:
        order_key = table[ORDER] if ORDER in table.columns else table[ORDER_DATE].cast("string")
        per_order = table.group_by([*keys, order_key.name("_order")]).aggregate(
            _net=micros_expr(table[AMOUNT]).sum(),
            _returns=(table[AMOUNT] < 0).cast("int64").sum(),
        )
        daily = per_order.group_by([CUSTOMER, "day", *by]).aggregate(
            net_micros=per_order._net.sum(),
            orders=is_purchase_expr(per_order._net, per_order._returns).cast("int64").sum(),
            return_lines=per_order._returns.sum(),
        )
    else:
        daily = table.group_by(keys).aggregate(
            net_micros=micros_expr(table[AMOUNT]).sum(),
            return_lines=(table[AMOUNT] < 0).cast("int64").sum(),
        )
    return daily.mutate(
        amount=money_expr(daily.net_micros),
        is_purchase=is_purchase_expr(daily.net_micros, daily.return_lines),
    )


def daily_purchases(
    source: Source, *, observation_end=None, by: list[str] | tuple[str, ...] = ()
) -> pd.DataFrame:
    """The daily purchase table as pandas (see :func:`purchase_days_expr`), sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...                    "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"]),
    ...                    "amount": [10.0, -4.0, -1.0], "order_id": ["o1", "o2", "o3"]})
    >>> daily_purchases(tx)[["day", "amount", "orders", "is_purchase"]].values.tolist()
    [[Timestamp('2024-01-01 00:00:00'), 6.0, 1, True], [Timestamp('2024-01-02 00:00:00'), -1.0, 0, False]]
    """
    table = within_observation(as_table(source), observation_end)
    expr = purchase_days_expr(table, by=list(by)).order_by([CUSTOMER, "day"])
    out = to_pandas(expr)
    out["day"] = pd.to_datetime(out["day"])
    return out.reset_index(drop=True)


# --- RFM summary and calibration/holdout (CLV) -------------------------------------------
#
# Definitions are those of lifetimes 0.11.3 (``lifetimes.utils``), reproduced here so that
# they run in DuckDB and scale: a purchase period is a calendar period (day, or Monday-Sunday
# week as in pandas' ``to_period("W")``) holding at least one purchase day of the customer;
# its value is the net revenue of those purchase days. Day counts are computed by the engine
# and divided in pandas in the same order as lifetimes, so results are bit-for-bit equal on
# data without returns (monetary means may differ in the last few bits of the sum).

#: Days per unit of the ``freq`` values accepted by :func:`rfm_summary` (lifetimes' meaning).
RFM_FREQ_DAYS: dict[str, int] = {"D": 1, "W": 7}


def _rfm_attrs(unit_days: int, freq: str, freq_multiplier: int, end: pd.Timestamp) -> dict:
    """The ``attrs`` every RFM table carries: its time unit and observation end (ISO day)."""
    return {
        "unit_days": unit_days,
        "freq": freq,
        "freq_multiplier": freq_multiplier,
        "observation_end": end.date().isoformat(),
    }


def _rfm_unit_days(freq: str, freq_multiplier: int) -> int:
    """Days per time unit of a summary, after checking ``freq`` and ``freq_multiplier``."""
    if freq not in RFM_FREQ_DAYS:
        raise ValueError(
            f"freq must be 'D' (days) or 'W' (calendar weeks), got {freq!r}. For exact "
            "fractional weeks, as in the CDNOW paper, use freq='D' with freq_multiplier=7."
        )
    if isinstance(freq_multiplier, bool) or not isinstance(freq_multiplier, int):
        raise ValueError(f"freq_multiplier must be a whole number >= 1, got {freq_multiplier!r}.")
    if freq_multiplier < 1:
        raise ValueError(f"freq_multiplier must be a whole number >= 1, got {freq_multiplier}.")
    return RFM_FREQ_DAYS[freq] * freq_multiplier


def _observation_end(table: ir.Table, observation_end) -> pd.Timestamp:
    """``observation_end`` as a day, or the table's last order day when it is not given."""
    return observation_end_or_last(observation_end, lambda: _last_day(table))


def _last_day(table: ir.Table) -> pd.Timestamp:
    dates = _naive_dates(table)
    # a DataFrame's last date is read from the frame: a query costs more on small data
    value = scalar(table[ORDER_DATE].max()) if dates is None else dates.max()
    if value is None or pd.isna(value):
        raise ValueError(
            "There are no transactions: the data is empty, every row is after observation_end, "
            "or a segment filter kept no customer."
        )
    return pd.Timestamp(value).normalize()


def _naive_dates(table: ir.Table) -> pd.Series | None:
    """The order dates of the DataFrame behind ``table`` when they are timestamps without a
    time zone (the engine reads zoned ones in UTC), else None."""
    frame = frame_of(table)
    if frame is None or not pd.api.types.is_datetime64_dtype(frame[ORDER_DATE]):
        return None
    return frame[ORDER_DATE]


def _purchase_periods_expr(table: ir.Table, freq: str, observation_end=None) -> ir.Table:
    """``customer_id``, ``period`` (date), ``net_micros``, ``amount``: one row per customer
    purchase period,
    from the rows dated on or before ``observation_end``.

    A purchase day follows :func:`is_purchase_expr` (returns netted, SPEC section 3);
    ``amount`` is the net revenue of the period's purchase days, summed exactly.
    """
    kept = _kept_daily(table)
    if kept is not None:
        days = _kept_days_up_to(kept, observation_end)
        daily = days.select(CUSTOMER, "net_micros", "is_purchase", period=days.day)
    else:
        # One aggregation straight from the rows (no per-order step: orders are not needed).
        table = within_observation(table, observation_end)
        daily = table.group_by(
            [table[CUSTOMER].name(CUSTOMER), table[ORDER_DATE].date().name("period")]
        ).aggregate(
            net_micros=micros_expr(table[AMOUNT]).sum(),
            _returns=(table[AMOUNT] < 0).cast("int64").sum(),
        )
        daily = daily.mutate(is_purchase=is_purchase_expr(daily.net_micros, daily._returns))
    daily = daily.filter(daily.is_purchase)
    if freq != "D":
        daily = daily.mutate(period=daily.period.truncate("W").cast("date"))
        daily = daily.group_by([CUSTOMER, "period"]).aggregate(net_micros=daily.net_micros.sum())
    return daily.select(CUSTOMER, "period", "net_micros", amount=money_expr(daily.net_micros))


def _customer_rfm_expr(periods: ir.Table, period_end: pd.Timestamp) -> ir.Table:
    """Per customer: purchase periods, day spans and the revenue of repeat periods."""
    # One aggregation: repeat revenue = total minus the first period's amount (arg_min). On
    # 10M rows this is ~1.5x faster in DuckDB than a join with the first periods or a window;
    # in micro-units the difference is exact.
    per_customer = periods.group_by(CUSTOMER).aggregate(
        periods=periods.count(),
        first=periods.period.min(),
        last=periods.period.max(),
        repeat_micros=periods.net_micros.sum() - periods.net_micros.argmin(periods.period),
    )
    end = ibis.literal(period_end.date())
    return per_customer.select(
        CUSTOMER,
        "periods",
        repeat_amount=money_expr(per_customer.repeat_micros),
        recency_days=per_customer["last"].delta(per_customer["first"], unit="day"),
        T_days=end.delta(per_customer["first"], unit="day"),
    ).order_by(CUSTOMER)


def _in_units(days: pd.Series, freq: str, freq_multiplier: int) -> pd.Series:
    """Day counts in summary units, with lifetimes' order of float operations."""
    values = days.astype("float64")
    if freq == "W":
        values = values / 7
    return values / freq_multiplier


def _rfm_frame(
    table: ir.Table, period_end: pd.Timestamp, freq: str, freq_multiplier: int
) -> pd.DataFrame:
    """The RFM summary of the rows of ``table`` dated on or before ``period_end``."""
    periods = _purchase_periods_expr(table, freq, period_end)
    raw = to_pandas(_customer_rfm_expr(periods, lifetimes_period_start(period_end, freq)))
    frequency = raw["periods"].astype("float64") - 1
    repeat_amount = raw["repeat_amount"].astype("float64")
    monetary = (repeat_amount / frequency).where(frequency > 0, 0.0)
    out = pd.DataFrame(
        {
            "frequency": frequency.to_numpy(),
            "recency": _in_units(raw["recency_days"], freq, freq_multiplier).to_numpy(),
            "T": _in_units(raw["T_days"], freq, freq_multiplier).to_numpy(),
            "monetary_value": monetary.to_numpy(),
        },
        index=pd.Index(raw[CUSTOMER], name=CUSTOMER),
    )
    return out


def rfm_summary(
    transactions: Source,
    *,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end=None,
) -> pd.DataFrame:
    """Per-customer RFM summary, as ``lifetimes.utils.summary_data_from_transaction_data``.

    Computed by the engine (DuckDB by default), without lifetimes and without loading the
    transactions into pandas.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions (``customer_id``, ``order_date``, ``amount``).
    freq : {"D", "W"}
        Period of the summary, as lifetimes' ``freq``: calendar days, or calendar weeks
        (Monday to Sunday, pandas' ``"W"``).
    freq_multiplier : int
        Divides recency and T, as in lifetimes: ``freq="D", freq_multiplier=7`` gives exact
        fractional weeks (the units of the CDNOW paper).
    observation_end : date-like, optional
        Last observed day (inclusive); rows after it are left out. Default: the last
        transaction day.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), float columns:

        * ``frequency``: purchase periods minus one (repeat purchases),
        * ``recency``: first to last purchase period, in units,
        * ``T``: first purchase period to the period of ``observation_end``, in units,
        * ``monetary_value``: mean net revenue of the repeat purchase periods (0 when
          ``frequency`` is 0).

        ``attrs`` holds ``unit_days`` (days per unit: 1 for ``"D"``, 7 for ``"W"``, times
        ``freq_multiplier``), ``freq``, ``freq_multiplier`` and ``observation_end`` (ISO
        date text, so that ``attrs`` stay JSON-serialisable, as ``to_parquet`` needs).

    Notes
    -----
    A purchase period is a period holding a purchase day (net amount > 0 after netting the
    customer's returns of that day); customers without one are not in the summary. On data
    without returns the result equals lifetimes'. One difference by design: with
    ``freq="W"`` and an explicit ``observation_end`` in mid-week, lifetimes keeps the rows of
    the rest of that week; here rows after ``observation_end`` are always left out.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "order_date": pd.to_datetime(["2024-01-01", "2024-01-01",
    ...                                                  "2024-01-08", "2024-01-05"]),
    ...                    "amount": [10.0, 5.0, 20.0, 7.0]})
    >>> rfm_summary(tx, observation_end="2024-01-10").values.tolist()
    [[1.0, 7.0, 9.0, 20.0], [0.0, 0.0, 5.0, 0.0]]
    """
    unit_days = _rfm_unit_days(freq, freq_multiplier)
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    out = _rfm_frame(table, end, freq, freq_multiplier)
    out.attrs.update(_rfm_attrs(unit_days, freq, freq_multiplier, end))
    return out


def rfm_counts(
    transactions: Source,
    *,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end=None,
) -> pd.DataFrame:
    """The distinct (frequency, recency, T) rows of :func:`rfm_summary` with their number of
    customers, counted on the table's backend: what a BG/NBD or Pareto/NBD fit needs (as
    lifetimes' ``weights``), without one row per customer leaving the backend.

    Returns
    -------
    DataFrame
        Float columns ``frequency``, ``recency``, ``T`` (units as in :func:`rfm_summary`) and
        ``customers`` (int64), sorted; ``attrs`` as in :func:`rfm_summary`.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...                    "order_date": pd.to_datetime(["2024-01-01", "2024-01-08",
    ...                                                  "2024-01-05", "2024-01-05"]),
    ...                    "amount": [10.0, 20.0, 7.0, 3.0]})
    >>> rfm_counts(tx, observation_end="2024-01-10").values.tolist()
    [[0.0, 0.0, 5.0, 2.0], [1.0, 7.0, 9.0, 1.0]]
    """
    unit_days = _rfm_unit_days(freq, freq_multiplier)
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    periods = _purchase_periods_expr(table, freq, end)
    rfm = _customer_rfm_expr(periods, lifetimes_period_start(end, freq))
    counts = rfm.group_by(["periods", "recency_days", "T_days"]).aggregate(customers=rfm.count())
    raw = to_pandas(counts.order_by(["periods", "recency_days", "T_days"]))
    out = pd.DataFrame(
        {
            "frequency": raw["periods"].astype("float64").to_numpy() - 1,
            "recency": _in_units(raw["recency_days"], freq, freq_multiplier).to_numpy(),
            "T": _in_units(raw["T_days"], freq, freq_multiplier).to_numpy(),
            "customers": raw["customers"].astype("int64").to_numpy(),
        }
    )
    out.attrs.update(_rfm_attrs(unit_days, freq, freq_multiplier, end))
    return out


def calibration_holdout(
    transactions: Source,
    *,
    calibration_end=None,
    observation_end=None,
    freq: str = "D",
    freq_multiplier: int = 1,
    holdout_days: int | None = None,
) -> pd.DataFrame:
    """Calibration/holdout summary, as ``lifetimes.utils.calibration_and_holdout_data``.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    calibration_end : date-like
        Last day of the calibration period (inclusive). Give it or ``holdout_days``.
    observation_end : date-like, optional
        Last day of the holdout period (inclusive). Default: the last transaction day.
    freq, freq_multiplier
        As in :func:`rfm_summary`.
    holdout_days : int, optional
        Instead of ``calibration_end``: the holdout is the last ``holdout_days`` days up to
        ``observation_end`` (``calibration_end = observation_end - holdout_days``).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (customers with a purchase by ``calibration_end``), float
        columns with lifetimes' names: ``frequency_cal``, ``recency_cal``, ``T_cal``,
        ``monetary_value_cal`` (the :func:`rfm_summary` of the calibration period),
        ``frequency_holdout`` (purchase periods in the holdout period),
        ``monetary_value_holdout`` (mean net value of the customer's holdout orders, 0 when
        none; lifetimes averages the holdout transaction rows, which is the same when a row
        is an order) and ``duration_holdout`` (holdout length in units, counted between the
        periods of the two end dates as lifetimes does). ``attrs`` as in
        :func:`rfm_summary`, plus ``calibration_end``.

    Raises
    ------
    ValueError
        When ``calibration_end`` is not before ``observation_end``, no purchase day falls
        in the calibration period (a history shorter than the holdout: the message gives
        the history's length and a ``holdout_days`` or ``calibration_end`` that works), or
        no transaction falls in the holdout period.
    """
    unit_days = _rfm_unit_days(freq, freq_multiplier)
    if (calibration_end is None) == (holdout_days is None):
        raise ValueError(
            "Give exactly one of calibration_end (a date) and holdout_days (a number of days)."
        )
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    if holdout_days is not None:
        if isinstance(holdout_days, bool) or not isinstance(holdout_days, int) or holdout_days < 1:
            raise ValueError(
                f"holdout_days must be a whole number of days >= 1, got {holdout_days!r}."
            )
        cal_end = end - pd.Timedelta(days=holdout_days)
    else:
        cal_end = as_day(calibration_end, "calibration_end")
    if cal_end >= end:
        raise ValueError(
            f"calibration_end ({cal_end.date()}) must be before observation_end ({end.date()}): "
            "the holdout period is the time after calibration_end."
        )
    calibration = _rfm_frame(table, cal_end, freq, freq_multiplier)
    if calibration.empty:
        raise ValueError(_empty_calibration_message(table, cal_end, end, holdout_days))
    calibration.columns = [f"{col}_cal" for col in calibration.columns]

    holdout_rows = within_observation(table, end).filter(
        table[ORDER_DATE] >= ibis.literal(day_end(cal_end))
    )
    with _quiet_pandas_bridge():
        holdout_count = holdout_rows.count().execute()  # a plain scan, cheaper than the days
    if holdout_count == 0:
        first_holdout_day = (cal_end + pd.Timedelta(days=1)).date()
        raise ValueError(
            f"There is no transaction in the holdout period {first_holdout_day} to "
            f"{end.date()}: choose an earlier calibration_end or a later observation_end."
        )
    days = days_up_to(table, end)
    days = days.filter((days.day > ibis.literal(cal_end.date())) & days.is_purchase)
    period = days.day if freq == "D" else days.day.truncate("W").cast("date")
    days = days.mutate(period=period)
    holdout = to_pandas(
        days.group_by(CUSTOMER).aggregate(
            frequency_holdout=days.period.nunique(),
            _amount=days.amount.sum(),
            _orders=days.orders.sum(),
        )
    ).set_index(CUSTOMER)
    holdout["monetary_value_holdout"] = holdout.pop("_amount") / holdout.pop("_orders")
    out = calibration.join(holdout, how="left")
    out["frequency_holdout"] = out["frequency_holdout"].astype("float64").fillna(0.0)
    out["monetary_value_holdout"] = out["monetary_value_holdout"].astype("float64").fillna(0.0)
    # lifetimes: (end period - calibration period).n / freq_multiplier, periods in freq
    periods = (
        lifetimes_period_start(end, freq) - lifetimes_period_start(cal_end, freq)
    ).days // RFM_FREQ_DAYS[freq]
    out["duration_holdout"] = periods / freq_multiplier
    out.attrs.update(
        _rfm_attrs(unit_days, freq, freq_multiplier, end),
        calibration_end=cal_end.date().isoformat(),
    )
    return out


def _first_purchase_day(table: ir.Table, observation_end: pd.Timestamp) -> pd.Timestamp | None:
    """The first purchase day up to ``observation_end``, or None when there is none."""
    days = days_up_to(table, observation_end)
    with _quiet_pandas_bridge():
        value = days.filter(days.is_purchase).day.min().execute()
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def _empty_calibration_message(
    table: ir.Table, cal_end: pd.Timestamp, end: pd.Timestamp, holdout_days: int | None
) -> str:
    """Why the calibration period holds no purchase, and what would work, in one sentence."""
    first = _first_purchase_day(table, end)
    if first is None:
        return (
            f"There is no purchase day up to {end.date()} (every customer-day is a return or "
            "is cancelled by its returns), so there is no customer to split into a "
            "calibration and a holdout period."
        )
    length = (end - first).days + 1  # days from the first purchase to the end, inclusive
    asked = (
        f"holdout_days={holdout_days} puts calibration_end at {cal_end.date()}, before the "
        "first purchase"
        if holdout_days is not None
        else f"calibration_end={cal_end.date()} is before the first purchase"
    )
    if length < 3:
        return (
            f"The history is {length} day{'s' if length > 1 else ''} long ({first.date()} to "
            f"{end.date()}), too short to split into a calibration and a holdout period: "
            f"{asked}."
        )
    third = length // 3
    return (
        f"The history is {length} days long ({first.date()} to {end.date()}), shorter than "
        f"the holdout: {asked}, so the calibration period is empty; use holdout_days={third} (a third of the history) or a calibration_end "
        f"from {first.date()} to {(end - pd.Timedelta(days=1)).date()}."
    )


def customer_history(transactions: Source, *, observation_end=None) -> pd.DataFrame:
    """Per-customer purchase history: orders, net revenue, first and last purchase day.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    observation_end : date-like, optional
        Last day (inclusive); default the last transaction day.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted): ``orders`` (orders with positive net amount),
        ``revenue`` (net revenue, returns included, in the data's currency),
        ``first_purchase`` and ``last_purchase`` (first and last purchase day). Customers
        without a purchase day are left out, as in :func:`rfm_summary`.
    """
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    days = days_up_to(table, end)
    history = days.group_by(CUSTOMER).aggregate(
        orders=days.orders.sum(),
        revenue=money_expr(days.net_micros.sum()),
        first_purchase=days.day.min(where=days.is_purchase),
        last_purchase=days.day.max(where=days.is_purchase),
    )
    history = history.filter(history.first_purchase.notnull()).order_by(CUSTOMER)
    out = to_pandas(history).set_index(CUSTOMER)
    for col in ("first_purchase", "last_purchase"):
        out[col] = pd.to_datetime(out[col])
    out["orders"] = out["orders"].astype("int64")
    out["revenue"] = out["revenue"].astype("float64")
    out.attrs["observation_end"] = end.date().isoformat()
    return out


def customer_purchase_days(
    transactions: Source, customer_ids, *, observation_end=None
) -> pd.DataFrame:
    """Purchase days of a few customers: ``customer_id``, ``day``, ``amount`` (net), sorted.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    customer_ids : str or list of str
        The customers.
    observation_end : date-like, optional
        Last day (inclusive); default the last transaction day of all customers.

    Returns
    -------
    DataFrame
        One row per purchase day (net amount > 0); ``attrs["observation_end"]`` (ISO date).
    """
    ids = [customer_ids] if isinstance(customer_ids, str) else [str(c) for c in customer_ids]
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    rows = within_observation(table, end)
    days = _purchase_periods_expr(rows.filter(rows[CUSTOMER].isin(ids)), "D")
    out = to_pandas(days.rename(day="period").order_by([CUSTOMER, "day"]))
    out["day"] = pd.to_datetime(out["day"])
    out.attrs["observation_end"] = end.date().isoformat()
    return out.reset_index(drop=True)


def purchase_tracking(transactions: Source, *, observation_end=None) -> pd.DataFrame:
    """Daily counts for tracking plots: first purchases and repeat purchase days.

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    observation_end : date-like, optional
        Last day (inclusive); default the last transaction day.

    Returns
    -------
    DataFrame
        One row per calendar day from the first purchase to ``observation_end``: ``day``,
        ``first_purchases`` (customers whose first purchase day it is) and
        ``repeat_purchases`` (purchase days that are not a customer's first, i.e. the repeat
        transactions counted by a daily :func:`rfm_summary`).
    """
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    days = _purchase_periods_expr(table, "D", end)
    marked = days.mutate(first=days.period.min().over(group_by=days[CUSTOMER]))
    counts = marked.group_by(marked.period.name("day")).aggregate(
        first_purchases=(marked.period == marked.first).cast("int64").sum(),
        repeat_purchases=(marked.period > marked.first).cast("int64").sum(),
    )
    raw = to_pandas(counts)
    if raw.empty:
        raise ValueError("There are no purchase days (net amount > 0) to track.")
    raw["day"] = pd.to_datetime(raw["day"])
    grid = pd.date_range(raw["day"].min(), end, freq="D", name="day")
    out = raw.set_index("day").reindex(grid, fill_value=0).astype("int64").reset_index()
    out.attrs["observation_end"] = end.date().isoformat()
    return out


# --- Survey links ------------------------------------------------------------------------


def response_followups(
    transactions: Source,
    customers: pd.Series,
    response_days: pd.Series,
    *,
    followup_days: int,
    observation_end=None,
) -> pd.DataFrame:
    """For each survey response: is its customer known, and did they buy again in time?

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    customers : Series
        Customer ID of each response (text).
    response_days : Series
        Day of each response (``d0``), same length.
    followup_days : int
        Length of the follow-up window, in days.
    observation_end : date-like, optional
        Last day of data (inclusive); default the last transaction day.

    Returns
    -------
    DataFrame
        One row per response, in order: ``known`` (the customer has a transaction up to
        ``observation_end``) and ``repurchased`` (a purchase day ``d`` with
        ``d0 < d <= d0 + followup_days``). ``attrs["observation_end"]`` (Timestamp).
    """
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    table = within_observation(table, end)
    d0 = pd.to_datetime(pd.Series(response_days).to_numpy()).normalize()
    responses = pd.DataFrame(
        {
            "_response": np.arange(len(d0)),
            CUSTOMER: pd.Series(customers).astype("string").fillna("").to_numpy(dtype=str),
            "d0": d0,
            "d1": d0 + pd.Timedelta(days=int(followup_days)),
        }
    )
    with _quiet_pandas_bridge():
        resp = ibis.memtable(responses)
    resp = resp.mutate(d0=resp.d0.date(), d1=resp.d1.date())
    surveyed = resp.select(CUSTOMER).distinct()
    # Only the surveyed customers' transactions matter: filter first, aggregate after.
    tx = table.semi_join(surveyed, table[CUSTOMER].cast("string") == surveyed[CUSTOMER])
    known = to_pandas(tx.select(tx[CUSTOMER].cast("string").name(CUSTOMER)).distinct())
    days = purchase_days_expr(tx)
    days = days.filter(days.is_purchase).select(
        days[CUSTOMER].cast("string").name("_customer"), "day"
    )
    hits = (
        resp.join(days, [resp[CUSTOMER] == days._customer, days.day > resp.d0, days.day <= resp.d1])
        .select("_response")
        .distinct()
    )
    repurchased = to_pandas(hits)["_response"].to_numpy()
    out = pd.DataFrame(
        {
            "known": np.isin(responses[CUSTOMER].to_numpy(), known[CUSTOMER].to_numpy()),
            "repurchased": np.isin(responses["_response"].to_numpy(), repurchased),
        }
    )
    out.attrs["observation_end"] = end
    return out


# --- Survival (time in the customer base) -----------------------------------------------


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
        with _quiet_pandas_bridge():
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


# --- KPI and cohort aggregations ---------------------------------------------------------
#
# Periods are calendar periods [start, end) numbered by an integer index (months since year 0
# for "M", quarters for "Q", years for "Y", Monday-to-Sunday weeks since 1900-01-01 for "W"),
# so "the next period" is index + 1 and "periods since acquisition" is a difference of two
# indexes. Boundary ``i`` is the start of period ``i``.
#
# The customer base at a boundary instant d (midnight) holds the customers with a purchase
# day p such that d - active_days <= p < d. For a customer and one of their purchasing
# periods j (last purchase day m_j in it), the customer is in the base at the boundaries
# j + 1 ... min(next purchasing period, last boundary <= m_j + active_days). Those ranges
# are disjoint per customer, so every count below is a sum over (customer, period) rows
# computed with window functions: nothing is expanded to periods x customers and nothing
# loops in Python.


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
    dates = _naive_dates(table) if date_col == ORDER_DATE else None
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


def customer_segment_expr(table: ir.Table, segment_col: str) -> ir.Table:
    """Each customer's segment: the value of ``segment_col`` on their first purchase day
    (the smallest value when that day holds several). Columns ``customer_id``, ``segment``."""
    if segment_col not in table.columns:
        raise ValueError(
            f"Segment column {segment_col!r} not found; columns are: {', '.join(table.columns)}."
        )
    daily = purchase_days_expr(table)
    bought = daily.filter(daily.is_purchase)
    first = bought.group_by(CUSTOMER).aggregate(first_day=bought.day.min())
    rows = table.mutate(_day=table[ORDER_DATE].date())
    joined = rows.join(first, [rows[CUSTOMER] == first[CUSTOMER], rows._day == first.first_day])
    return joined.group_by(CUSTOMER).aggregate(segment=joined[segment_col].min())


def _one_segment(segment_col: str | None, segment_value) -> bool:
    """True when a segment filter is given (column and value, neither empty)."""
    return bool(segment_col) and segment_value is not None and segment_value != ""


def filter_segment(table: ir.Table, segment_col: str | None, segment_value) -> ir.Table:
    """Rows of the customers whose segment (value on their first purchase day, see
    :func:`customer_segment_expr`) equals ``segment_value`` (compared as text).

    ``segment_col`` or ``segment_value`` None or ``""``: the table unchanged.
    """
    if not _one_segment(segment_col, segment_value):
        return table
    seg = customer_segment_expr(table, segment_col)
    keep = seg.filter(seg.segment.cast("string") == str(segment_value)).select(CUSTOMER)
    return table.semi_join(keep, CUSTOMER)


def _segment_days(
    source: Source, observation_end, segment_col: str | None, segment_value, *, orders: bool = True
) -> tuple[ir.Table, ir.Table]:
    """Rows dated on or before ``observation_end`` of the customers of one segment (all
    customers when no segment is given), and their daily purchase table (``orders``: see
    :func:`purchase_days_expr`)."""
    base = as_table(source)
    table = filter_segment(within_observation(base, observation_end), segment_col, segment_value)
    if _one_segment(segment_col, segment_value):
        return table, purchase_days_expr(table, orders=orders)
    return table, days_up_to(base, observation_end, orders=orders)


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
    with _quiet_pandas_bridge():
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
    money = [
        "mrr_start",
        "mrr_end",
        "new_mrr",
        "reactivation_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
    ]
    out[money] = out[money].fillna(0.0).astype(float)
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


# --- Split by segment (the batch runner's fan-out) ---------------------------------------
#
# ``--segment-by`` runs each report once per segment. Reading the whole data set in every
# report made a 38-country fan-out take twelve minutes; instead the data are read once and
# written as one Parquet file per segment, so each report reads only its own rows.

#: Segment values that mean "no value" (compared without case and surrounding spaces).
NO_SEGMENT_VALUES = frozenset({"", "unspecified", "unknown", "n/a"})
#: Default smallest segment (customers) that gets a report of its own.
MIN_SEGMENT_CUSTOMERS = 30
#: ``kind`` of a row of :func:`segment_sizes`.
SEGMENT, NO_VALUE, NO_PURCHASE = "segment", "no value", "no purchase"
_KEY = "_segment_key"


def _segment_keys(table: ir.Table, column: str) -> ir.Table:
    """Each customer's segment key (``customer_id``, ``_segment_key``, ``kind``): the segment
    as text, or a marker for customers without a value or without a purchase day."""
    seg = customer_segment_expr(table, column)
    text = seg.segment.cast("string")
    blank = text.isnull() | text.strip().lower().isin(list(NO_SEGMENT_VALUES))
    customers = table.select(CUSTOMER).distinct()
    joined = customers.left_join(seg.mutate(_text=text, _blank=blank), CUSTOMER)
    kind = ibis.cases(
        (joined._text.isnull() & joined._blank.isnull(), NO_PURCHASE),
        (joined._blank, NO_VALUE),
        else_=SEGMENT,
    )
    key = ibis.cases((kind == SEGMENT, joined._text), else_="\x00" + kind)
    return joined.select(joined[CUSTOMER], kind=kind, **{_KEY: key})


def segment_sizes(
    transactions: Source, column: str, *, min_customers: int = MIN_SEGMENT_CUSTOMERS
) -> pd.DataFrame:
    """Customers and rows per segment, and which segments are too small or unnamed.

    A customer's segment is the value of ``column`` on their first purchase day (as in
    :func:`filter_segment`), so every row of a customer lands in one segment.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions with the segment column.
    column : str
        Segment column.
    min_customers : int, default 30
        Segments with fewer customers are marked skipped.

    Returns
    -------
    DataFrame
        One row per segment, largest first (rows without a segment last): ``segment`` (text; None for the rows of
        ``kind`` "no value" or "no purchase"), ``kind`` (``"segment"``, ``"no value"``:
        missing, blank or a placeholder such as "Unspecified"; ``"no purchase"``: customers
        whose days are all returns), ``customers``, ``rows`` and ``skipped`` (the reason in
        one sentence, None for segments that get a report).

    Raises
    ------
    ValueError
        When the column is missing (the message lists the columns).
    """
    table = as_table(transactions)
    keys = _segment_keys(table, column)
    rows = table.select(CUSTOMER).join(keys, CUSTOMER)
    sizes = rows.group_by([_KEY, "kind"]).aggregate(
        customers=rows[CUSTOMER].nunique(), rows=rows.count()
    )
    frame = to_pandas(sizes)
    # Named segments first, largest first; the customers without one at the end.
    frame["_unnamed"] = frame["kind"] != SEGMENT
    frame = frame.sort_values(["_unnamed", "customers", _KEY], ascending=[True, False, True])
    frame["segment"] = pd.Series(
        [
            k if kind == SEGMENT else None
            for k, kind in zip(frame[_KEY], frame["kind"], strict=True)
        ],
        index=frame.index,
        dtype=object,
    )
    frame["customers"] = frame["customers"].astype("int64")
    frame["rows"] = frame["rows"].astype("int64")
    frame["skipped"] = pd.Series(
        [
            _skip_reason(kind, customers, column, min_customers)
            for kind, customers in zip(frame["kind"], frame["customers"], strict=True)
        ],
        index=frame.index,
        dtype=object,
    )
    out = frame[["segment", "kind", "customers", "rows", "skipped"]].reset_index(drop=True)
    out.attrs.update(column=column, min_customers=min_customers)
    return out


def _skip_reason(kind: str, customers: int, column: str, min_customers: int) -> str | None:
    who = f"{customers:,} customer{'s' if customers != 1 else ''}"
    if kind == NO_VALUE:
        return (
            f"{who} without a {column} value (missing, blank or a placeholder such as "
            "'Unspecified'); they count in the all-customers report only."
        )
    if kind == NO_PURCHASE:
        return (
            f"{who} whose days are all returns, so they have no first purchase to take a "
            f"{column} from; they count in the all-customers report only."
        )
    if customers < min_customers:
        return f"{who}, fewer than the minimum of {min_customers:,} for a report of its own."
    return None


def split_by_segment(
    transactions: Source,
    column: str,
    out_dir: str | os.PathLike,
    *,
    min_customers: int = MIN_SEGMENT_CUSTOMERS,
) -> pd.DataFrame:
    """Write one Parquet file per segment, in one pass over the data.

    Files are ``out_dir/segment_001.parquet``, ... (largest segment first), each with every
    column of ``transactions`` and every row of the segment's customers (see
    :func:`segment_sizes`). Beside each, ``segment_001.json`` records the segment and, for a
    DataFrame from a loader, the data-quality summary of the whole data set, which
    :func:`retention_utils.io.open_dataset` adds to the segment's own.

    Parameters
    ----------
    transactions : DataFrame, path or ibis table
        Canonical transactions with the segment column.
    column : str
        Segment column.
    out_dir : path
        Folder for the files (created; files of an earlier split there are replaced).
    min_customers : int, default 30
        Segments with fewer customers get no file.

    Returns
    -------
    DataFrame
        :func:`segment_sizes` plus ``path`` (str, None for skipped segments).
    """
    sizes = segment_sizes(transactions, column, min_customers=min_customers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("segment_*.parquet"), *out.glob("segment_*.json")]:
        old.unlink()
    kept = sizes[sizes["skipped"].isna()].reset_index(drop=True)
    sizes["path"] = pd.Series([None] * len(sizes), index=sizes.index, dtype=object)
    if kept.empty:
        return sizes
    table = as_table(transactions)
    keys = _segment_keys(table, column)
    with _quiet_pandas_bridge():
        numbers = ibis.memtable(
            pd.DataFrame({_KEY: kept["segment"].astype(str), "_part": range(1, len(kept) + 1)})
        )
    rows = table.join(keys.select(CUSTOMER, _KEY), CUSTOMER).join(numbers, _KEY)
    rows = rows.drop(_KEY)
    parts = out / "_parts"
    shutil.rmtree(parts, ignore_errors=True)
    with _quiet_pandas_bridge():
        connection().to_parquet(rows, parts, partition_by="_part")
    quality = transactions.attrs.get("quality") if isinstance(transactions, pd.DataFrame) else None
    for number, value in enumerate(kept["segment"], start=1):
        written = sorted((parts / f"_part={number}").glob("*.parquet"))
        path = out / f"segment_{number:03d}.parquet"
        if len(written) == 1:
            written[0].replace(path)
        else:  # a large segment written in several files: one file per segment
            connection().to_parquet(connection().read_parquet(written), path)
        side = {"segment_col": column, "segment_value": value, "whole_data_quality": quality}
        path.with_suffix(".json").write_text(json.dumps(side, default=str), encoding="utf-8")
        sizes.loc[sizes["segment"] == value, "path"] = str(path)
    shutil.rmtree(parts, ignore_errors=True)
    return sizes
