"""The aggregation engine: all per-transaction work, written with ibis, run by DuckDB.

Every function here accepts a transaction source with the canonical columns
(``customer_id``, ``order_date``, ``amount``, optional ``order_id`` and segment columns):

* a pandas DataFrame (as returned by :func:`retention_utils.load_transactions`),
* a path or glob to Parquet or CSV files (read by DuckDB without going through pandas, so
  files larger than memory work), or
* an ibis table (any backend ibis supports; DuckDB in process is the default).

and returns small pandas frames. Expressions are plain ibis (no backend-specific SQL and no
per-row Python), so the same code can run on another ibis backend such as Spark.

Netting of returns (SPEC section 3): amounts are summed per customer and calendar day; a day
whose net amount is <= 0 is not a purchase day. An order counts when its net amount is > 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob as _glob
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE

Source = pd.DataFrame | str | os.PathLike | ir.Table

_connection: Any = None


def connection():
    """The in-process DuckDB connection used when a source is a DataFrame or a path."""
    global _connection
    if _connection is None:
        _connection = ibis.duckdb.connect()
    return _connection


@contextlib.contextmanager
def _quiet_pandas_bridge() -> Iterator[None]:
    """Hide the Pandas4Warning that ibis's pandas bridge emits on pandas 3 (and only that)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=pd.errors.Pandas4Warning, module=r"ibis\.formats\.pandas"
        )
        yield


def as_table(source: Source, *, required: tuple[str, ...] = (CUSTOMER, ORDER_DATE, AMOUNT)):
    """An ibis table for a DataFrame, a Parquet/CSV path or glob, or an ibis table.

    Raises
    ------
    FileNotFoundError
        When a path or glob matches no file.
    retention_utils.DataValidationError
        When a required canonical column is missing.
    """
    if isinstance(source, ir.Table):
        table = source
    elif isinstance(source, pd.DataFrame):
        with _quiet_pandas_bridge():
            table = ibis.memtable(source)
    elif isinstance(source, str | os.PathLike):
        table = _read_path(Path(source))
    else:
        raise TypeError(
            f"Expected a DataFrame, a Parquet/CSV path or an ibis table, got {type(source).__name__}."
        )
    missing = [c for c in required if c not in table.columns]
    if missing:
        from retention_utils.io import DataValidationError

        raise DataValidationError(
            [
                {
                    "column": col,
                    "rule": "required column is missing",
                    "count": 0,
                    "examples": [],
                    "rows": [],
                    "hint": f"columns found: {', '.join(table.columns)}; load the file with "
                    "load_transactions(..., customer_col=, date_col=, amount_col=) to map "
                    "your column names",
                }
                for col in missing
            ]
        )
    return table


def _read_path(path: Path) -> ir.Table:
    text = str(path)
    matches = _glob.glob(text) if any(ch in text for ch in "*?[") else ([text] if path.exists() else [])
    if not matches:
        raise FileNotFoundError(f"No file found at {text!r}.")
    suffix = Path(matches[0]).suffix.lower()
    con = connection()
    if suffix in {".parquet", ".pq"}:
        return con.read_parquet(text)
    if suffix in {".csv", ".txt", ".gz"}:
        return con.read_csv(text)
    raise ValueError(
        f"The engine reads Parquet or CSV files, not {suffix!r}; load other formats with "
        "retention_utils.load_transactions first."
    )


def to_pandas(expr: ir.Table) -> pd.DataFrame:
    """Execute an expression and return a pandas DataFrame."""
    with _quiet_pandas_bridge():
        return expr.to_pandas()


def _day_end(observation_end) -> dt.datetime | None:
    """Exclusive upper bound: the instant after the last observed day."""
    if observation_end is None:
        return None
    day = pd.Timestamp(observation_end).normalize()
    return (day + pd.Timedelta(days=1)).to_pydatetime()


def within_observation(table: ir.Table, observation_end=None) -> ir.Table:
    """Rows dated on or before ``observation_end`` (a day, inclusive)."""
    end = _day_end(observation_end)
    if end is None:
        return table
    return table.filter(table[ORDER_DATE] < ibis.literal(end))


def purchase_days_expr(table: ir.Table, *, by: list[str] | tuple[str, ...] = ()) -> ir.Table:
    """Expression of the daily purchase table: one row per customer and calendar day.

    Columns: ``customer_id``, ``day`` (date), the ``by`` columns, ``amount`` (net revenue of
    the day, returns netted), ``orders`` (orders of the day with positive net amount) and
    ``is_purchase`` (net amount > 0). Days whose net amount is <= 0 are kept (their revenue
    counts) but are not purchase days.
    """
    order_key = table[ORDER] if ORDER in table.columns else table[ORDER_DATE].cast("string")
    day = table[ORDER_DATE].date()
    keys = [table[CUSTOMER].name(CUSTOMER), day.name("day"), *[table[c] for c in by]]
    per_order = table.group_by([*keys, order_key.name("_order")]).aggregate(
        _order_amount=table[AMOUNT].sum()
    )
    daily = per_order.group_by([CUSTOMER, "day", *by]).aggregate(
        amount=per_order._order_amount.sum(),
        orders=(per_order._order_amount > 0).cast("int64").sum(),
    )
    return daily.mutate(is_purchase=daily.amount > 0)


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


# --- KPI and cohort aggregations ---------------------------------------------------------
