"""A report's transactions on the chosen engine, with the data-quality table that goes with them.

With ``engine="duckdb"`` (the default) the pandas loaders read and check the data
(:func:`retention_utils.io.open_dataset`) and the engine runs on the embedded DuckDB. With
``engine="spark"`` a Parquet/CSV path, a folder, an address (``s3://...``) or a catalog
table name is read by Spark and stays there: the column mapping is applied on Spark, rows
without a readable customer, date or amount are dropped there, and the quality table gives
the counts Spark computed (one pass over the data). A built-in data set or another file
type (Excel) is loaded and checked by pandas, then sent to Spark once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import ibis
import ibis.expr.types as ir
import pandas as pd

from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE
from retention_utils.engine.backend import (
    Source,
    as_table,
    check_engine,
    spark_backend,
    spark_reads,
    spark_source,
    spark_table,
    to_pandas,
)
from retention_utils.errors import DataValidationError
from retention_utils.io import BUILTIN_DATASETS, open_dataset, quality_table
from retention_utils.periods import day_end

#: Loader options that only the pandas loaders apply (their "not set" value).
PANDAS_ONLY = {
    "date_format": "",
    "dayfirst": False,
    "encoding": "",
    "decimal": "",
    "thousands": "",
    "sheet": "",
    "duplicates": "keep",
}

#: The column mapping, which Spark applies as the pandas loaders do.
COLUMN_MAPPING = (
    "customer_col",
    "date_col",
    "amount_col",
    "order_col",
    "quantity_col",
    "unit_price_col",
)

#: What the quality table says about data read by Spark.
NOT_CHECKED = (
    "exact duplicate rows and the pandas loader's per-row checks: the data were read by "
    "Spark; a date or amount Spark cannot read counts as missing above"
)


class ReportTransactions(NamedTuple):
    """The transactions for the engine, and the data-quality table to show."""

    table: pd.DataFrame | ir.Table
    quality: pd.DataFrame


def open_report_transactions(
    source: Source,
    *,
    engine: str = "duckdb",
    spark_master: str = "",
    spark_remote: str = "",
    observation_end=None,
    **options: Any,
) -> ReportTransactions:
    """Open a report's transactions on ``engine`` and say what was read.

    Parameters
    ----------
    source : str, path or DataFrame
        A built-in data set name (``demo``, ``cdnow_sample``, ...), a file path or glob, or
        (Spark) a folder, an address or a catalog table name (``db.orders``).
    engine : {"duckdb", "spark"}
    spark_master, spark_remote : str
        Where Spark runs (``local[2]`` by default, ``sc://host:15002`` for Spark Connect).
    observation_end : str, optional
        Last day of data used (YYYY-MM-DD); later rows are dropped and counted.
    **options
        The loader's options, as for :func:`retention_utils.io.open_dataset` (``""``: not
        given): the column mapping (``customer_col``, ``date_col``, ``amount_col``,
        ``order_col``, ``quantity_col``, ``unit_price_col``), which Spark applies too, and
        reading options (``date_format``, ``decimal``...), which Spark refuses (see
        :data:`PANDAS_ONLY`) when it reads the files itself.

    Returns
    -------
    ReportTransactions
        ``table``: a pandas frame (DuckDB) or a Spark ibis table with the canonical columns;
        ``quality``: the two-column data-quality table (``check``, ``result``).

    Raises
    ------
    ValueError
        For an unknown engine, or a pandas-only option given with Spark reading the files.
    """
    check_engine(engine)
    if engine == "duckdb" or source in BUILTIN_DATASETS["transactions"] or not spark_reads(source):
        frame = open_dataset(source, observation_end=observation_end, **options)
        quality = quality_table(frame)
        if engine == "duckdb":
            return ReportTransactions(frame, quality)
        con = spark_backend(master=spark_master or None, remote=spark_remote or None)
        sent = pd.DataFrame([("engine", "checked by the pandas loader, then sent to Spark")])
        return ReportTransactions(
            spark_table(frame, con),
            pd.concat([quality, sent.set_axis(quality.columns, axis=1)], ignore_index=True),
        )
    refused = [k for k, unset in PANDAS_ONLY.items() if options.get(k, unset) not in (unset, None)]
    if refused:
        raise ValueError(
            f"With engine='spark' the files are read by Spark, which does not apply "
            f"{', '.join(refused)}: store dates as timestamps (or ISO text) and amounts as "
            "numbers, or leave these options empty."
        )
    columns = {k: options[k] for k in COLUMN_MAPPING if k in options and options[k] != ""}
    if options.get("order_col") == "":
        columns["order_col"] = None  # "": one order per customer and time, as the loaders
    con = spark_backend(master=spark_master or None, remote=spark_remote or None)
    mapped = canonical_columns(spark_source(str(source), con), **columns)
    return spark_transactions(mapped, source=str(source), observation_end=observation_end)


def canonical_columns(
    raw: ir.Table,
    *,
    customer_col: str = CUSTOMER,
    date_col: str = ORDER_DATE,
    amount_col: str | None = AMOUNT,
    order_col: str | None = ORDER,
    quantity_col: str | None = None,
    unit_price_col: str | None = None,
) -> ir.Table:
    """The mapped columns under their canonical names (customer text, date a timestamp,
    amount a float: values that cannot be read become missing), other columns kept.

    ``amount_col`` is ignored when ``quantity_col`` and ``unit_price_col`` are given (the
    amount is their product); ``order_col`` is used when the table has it.

    Raises
    ------
    DataValidationError
        When a mapped column is not in the table (the message lists the columns found).
    """
    line_items = bool(quantity_col and unit_price_col)
    needed = {CUSTOMER: customer_col, ORDER_DATE: date_col}
    needed |= {"quantity": quantity_col, "unit price": unit_price_col} if line_items else {}
    needed |= {} if line_items else {AMOUNT: amount_col}
    missing = [(role, col) for role, col in needed.items() if not col or col not in raw.columns]
    if missing:
        raise DataValidationError(
            [
                {
                    "column": col or role,
                    "rule": f"{role} column is missing",
                    "count": 0,
                    "hint": f"columns found: {', '.join(raw.columns)}; set {role.replace(' ', '_')}"
                    "_col to the column that holds it",
                }
                for role, col in missing
            ],
            "Spark table",
        )
    date = raw[date_col]
    amount = raw[quantity_col] * raw[unit_price_col] if line_items else raw[amount_col]
    columns = {
        CUSTOMER: raw[customer_col].cast("string"),
        ORDER_DATE: date if date.type().is_timestamp() else date.try_cast("timestamp"),
        AMOUNT: amount.try_cast("float64"),
    }
    if order_col and order_col in raw.columns:
        columns[ORDER] = raw[order_col].cast("string")
    used = {customer_col, date_col, amount_col, order_col, *columns}
    rest = [c for c in raw.columns if c not in used]
    return raw.select(**columns, **{c: raw[c] for c in rest})


def spark_transactions(
    mapped: ir.Table, *, source: str, observation_end=None
) -> ReportTransactions:
    """Drop rows without a customer, date or amount (and after ``observation_end``), and
    count on Spark what the quality table shows (one pass over the data)."""
    valid = mapped[CUSTOMER].notnull() & mapped[ORDER_DATE].notnull() & mapped[AMOUNT].notnull()
    end = day_end(observation_end)
    late = mapped[ORDER_DATE] >= ibis.literal(end) if end is not None else ibis.literal(False)
    kept = valid & ~late
    counts = to_pandas(
        mapped.aggregate(
            rows_read=mapped.count(),
            missing=(~valid).cast("int64").sum(),
            late=(valid & late).cast("int64").sum(),
            returns=(kept & (mapped[AMOUNT] < 0)).cast("int64").sum(),
            customers=mapped[CUSTOMER].nunique(where=kept),
            date_min=mapped[ORDER_DATE].min(where=kept),
            date_max=mapped[ORDER_DATE].max(where=kept),
        )
    ).iloc[0]
    dropped = int(counts["missing"]) + int(counts["late"])
    rows = [("source", f"{source} (read by Spark)"), ("rows read", f"{counts['rows_read']:,}")]
    for reason, n in (
        ("missing customer ID, date or amount", counts["missing"]),
        ("after the observation end", counts["late"]),
    ):
        rows += [(f"rows dropped: {reason}", f"{int(n):,}")] if n else []
    rows += [
        ("rows kept", f"{int(counts['rows_read']) - dropped:,}"),
        ("return lines (negative amount)", f"{int(counts['returns'] or 0):,}"),
        ("customers", f"{int(counts['customers']):,}"),
    ]
    if pd.notna(counts["date_min"]):
        rows.append(
            ("date range", f"{counts['date_min']:%Y-%m-%d} to {counts['date_max']:%Y-%m-%d}")
        )
    rows.append(("not checked", NOT_CHECKED))
    table = mapped.filter(kept) if dropped else mapped
    return ReportTransactions(as_table(table), pd.DataFrame(rows, columns=["check", "result"]))
