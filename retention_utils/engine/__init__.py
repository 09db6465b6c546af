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
no temporary tables), so a query runs where its table lives.

Netting of returns (SPEC section 3): amounts are summed exactly (integer micro-units) per
order and per customer and calendar day. A day (an order) is a purchase when its net amount
is > 0 or when it has no return line: a $0.00 order is a purchase, a purchase returned in full
is not (see :func:`is_purchase_expr`).

Where things are (each module imports only those above it in this list):

* :mod:`~retention_utils.engine.backend`: connections (the embedded DuckDB,
  :func:`configure_duckdb <retention_utils.engine.backend.configure_duckdb>`), Spark sessions,
  sources as tables (:func:`as_table`, :func:`open_transactions`), results as pandas
  (:func:`to_pandas`), the frame cache (:func:`clear_cache`);
* :mod:`~retention_utils.engine.sources`: a report's transactions and their data-quality
  table on either engine (``open_report_transactions``, imported on first use: it needs the
  pandas loaders of :mod:`retention_utils.io`, which the queries do not);
* :mod:`~retention_utils.engine.daily`: money in micro-units, the purchase rule, the daily
  purchase table (:func:`daily_purchases`, :func:`keep`), the observation end of a table;
* :mod:`~retention_utils.engine.grid`: calendar period indexes and a table's period grid;
* :mod:`~retention_utils.engine.segments`: each customer's segment, one segment's rows,
  segment sizes and the split into one file per segment;
* :mod:`~retention_utils.engine.rfm`: :func:`rfm_summary`, :func:`rfm_counts`,
  :func:`calibration_holdout`, customer histories and purchase tracking (CLV);
* :mod:`~retention_utils.engine.counts`: :func:`kpi_counts`, :func:`window_counts`,
  :func:`subscription_flows` (KPI tables);
* :mod:`~retention_utils.engine.cohorts`: :func:`cohort_counts` (retention modes);
* :mod:`~retention_utils.engine.survival`: :func:`survival_counts`,
  :func:`subscription_survival_counts` (Kaplan-Meier);
* :mod:`~retention_utils.engine.surveys`: :func:`response_followups` (survey links).
"""

from __future__ import annotations

import importlib
from typing import Any

from retention_utils.engine.backend import (
    Source,
    as_table,
    cache,
    clear_cache,
    configure_duckdb,
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
from retention_utils.engine.cohorts import (
    COHORT_WINDOWS,
    ROLLING_DAYS,
    cohort_counts,
    cohort_counts_expr,
)
from retention_utils.engine.counts import kpi_counts, subscription_flows, window_counts
from retention_utils.engine.daily import (
    MICROS,
    daily_purchases,
    days_up_to,
    is_purchase_expr,
    keep,
    micros_expr,
    money_expr,
    purchase_days_expr,
    within_observation,
)
from retention_utils.engine.grid import period_grid, period_index_expr
from retention_utils.engine.rfm import (
    RFM_FREQ_DAYS,
    calibration_holdout,
    customer_history,
    customer_purchase_days,
    purchase_tracking,
    rfm_counts,
    rfm_summary,
)
from retention_utils.engine.segments import (
    MIN_SEGMENT_CUSTOMERS,
    NO_PURCHASE,
    NO_SEGMENT_VALUES,
    NO_VALUE,
    SEGMENT,
    customer_segment_expr,
    filter_segment,
    segment_sizes,
    split_by_segment,
)
from retention_utils.engine.surveys import response_followups
from retention_utils.engine.survival import subscription_survival_counts, survival_counts

#: Names loaded on first use (name -> module of the engine): their modules import the pandas
#: loaders and pandera, a cost the engine's first query does not pay otherwise.
_ON_FIRST_USE = {"open_report_transactions": "sources", "ReportTransactions": "sources"}


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "COHORT_WINDOWS",
    "MICROS",
    "MIN_SEGMENT_CUSTOMERS",
    "NO_PURCHASE",
    "NO_SEGMENT_VALUES",
    "NO_VALUE",
    "RFM_FREQ_DAYS",
    "ROLLING_DAYS",
    "ReportTransactions",
    "SEGMENT",
    "Source",
    "as_table",
    "cache",
    "calibration_holdout",
    "clear_cache",
    "cohort_counts",
    "cohort_counts_expr",
    "configure_duckdb",
    "connection",
    "customer_history",
    "customer_purchase_days",
    "customer_segment_expr",
    "daily_purchases",
    "days_up_to",
    "filter_segment",
    "frame_of",
    "is_purchase_expr",
    "is_spark",
    "keep",
    "keep_daily",
    "kept_daily",
    "kpi_counts",
    "micros_expr",
    "money_expr",
    "open_report_transactions",
    "open_transactions",
    "period_grid",
    "period_index_expr",
    "purchase_days_expr",
    "purchase_tracking",
    "quiet_bridge",
    "response_followups",
    "rfm_counts",
    "rfm_summary",
    "scalar",
    "segment_sizes",
    "spark_backend",
    "spark_session",
    "split_by_segment",
    "subscription_flows",
    "subscription_survival_counts",
    "survival_counts",
    "to_pandas",
    "window_counts",
    "within_observation",
]
