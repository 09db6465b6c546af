"""Loading: raw files in, canonical tables out (SPEC sections 3 and 6).

Every loader accepts a path (CSV, TSV, Parquet, Excel, or a glob of them) or a DataFrame,
plus column-mapping keywords whose defaults are the canonical names and the reading options
``encoding=``, ``decimal=``, ``thousands=`` and ``sheet=``. It reads the raw cells
(:mod:`retention_utils.reading`), parses each column with one explicit rule
(:mod:`retention_utils.parsing`), validates the result against the pandera schemas of
:mod:`retention_utils.schemas`, and returns the canonical DataFrame. Problems are collected
and raised together as one :class:`DataValidationError` naming the file; corrections
(dropped rows, converted IDs, removed currency marks, netted returns) are counted in a
data-quality summary stored in ``df.attrs["quality"]`` and shown by :func:`quality_table`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from retention_utils import config, periods, schemas
from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE, RESPONSE_DATE
from retention_utils.errors import EXAMPLES, DataValidationError, example_value, problem
from retention_utils.parsing import (
    NumberFormat,
    parse_amounts,
    parse_dates,
    parse_ids,
    parse_numbers,
    parse_scores,
)
from retention_utils.quality import QualitySummary, count_distinct, count_duplicates
from retention_utils.quality import progress_bar_off as progress_bar_off
from retention_utils.quality import quality_table as quality_table
from retention_utils.quality import query_frame as query_frame
from retention_utils.reading import PathOrFrame, RawTable, missing_column, read_raw

__all__ = [
    "BUILTIN_DATASETS",
    "DatasetDefaults",
    "DataValidationError",
    "QualitySummary",
    "load_cdnow",
    "load_costs",
    "load_online_retail",
    "load_subscriptions",
    "load_surveys",
    "load_transactions",
    "companion_table",
    "dataset_defaults",
    "open_dataset",
    "quality_table",
]

#: Kept under its old name for callers of the counting helper.
_count_duplicates = count_duplicates


def _open(
    source: PathOrFrame,
    table: str,
    *,
    encoding: str | None,
    decimal: str,
    thousands: str | None,
    sheet: str | int | None,
) -> tuple[RawTable, QualitySummary, NumberFormat]:
    """Read ``source`` and start its quality summary; the number format is checked first."""
    numbers = NumberFormat(decimal=decimal, thousands=thousands)
    raw = read_raw(source, table, encoding=encoding or None, sheet=sheet)
    summary = QualitySummary(
        table=table,
        source=raw.source,
        rows_read=len(raw.frame),
        files=max(1, len(raw.files)),
        reading=list(raw.reading),
    )
    return raw, summary, numbers


def _validate(df: pd.DataFrame, schema: Any, raw: RawTable) -> None:
    """Run a pandera schema lazily and raise every problem it finds at once."""
    problems: list[dict] = []
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            rows = [int(i) + 1 for i in group["index"].dropna().astype(int)[:EXAMPLES]]
            problems.append(
                {
                    "column": str(column),
                    "rule": str(check),
                    "count": int(len(group)),
                    "examples": [example_value(v) for v in group["failure_case"][:EXAMPLES]],
                    "rows": rows,
                }
            )
    if problems:
        raise raw.error(problems)


def _finish(df: pd.DataFrame, summary: QualitySummary, date_col: str | None) -> pd.DataFrame:
    summary.rows_kept = len(df)
    if CUSTOMER in df:
        summary.customers = count_distinct(df[CUSTOMER])
    if date_col and len(df):
        summary.date_min = str(df[date_col].min().date())
        summary.date_max = str(df[date_col].max().date())
    df = df.reset_index(drop=True)
    df.attrs["quality"] = summary.as_dict()
    return df


def _drop_missing_ids(df: pd.DataFrame, summary: QualitySummary) -> pd.DataFrame:
    missing = df[CUSTOMER].isna()
    summary.drop("missing customer ID", int(missing.sum()))
    return df[~missing]


def _handle_duplicates(
    df: pd.DataFrame, raw: pd.DataFrame, duplicates: str, summary: QualitySummary
) -> pd.DataFrame:
    """Count rows identical to an earlier row in every column of the input; drop on request."""
    if duplicates not in {"keep", "drop"}:
        raise ValueError("duplicates must be 'keep' or 'drop'.")
    summary.duplicates = count_duplicates(raw)
    if duplicates == "drop" and summary.duplicates:
        dup = raw.duplicated(keep="first")
        summary.drop("exact duplicate row (duplicates='drop')", summary.duplicates)
        return df[~dup.reindex(df.index, fill_value=False)]
    return df


def _segment_columns(
    raw: RawTable,
    needed: dict[str, tuple[str, str]],
    segment_cols: list[str] | None,
    *,
    reserved: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """The extra columns a loader keeps: ``segment_cols``, or every column of the file not
    mapped to a standard one (the columns of ``needed`` and the ``reserved`` names). A named
    column the file lacks is a :class:`DataValidationError`."""
    frame = raw.frame
    mapped = {col for col, _ in needed.values()} | set(reserved)
    if segment_cols is None:
        return [c for c in frame.columns if c not in mapped]
    absent = [c for c in segment_cols if c not in frame.columns]
    if absent:
        raise raw.error([missing_column(c, "segment_cols", list(frame.columns)) for c in absent])
    return list(segment_cols)


def _checked(
    out: pd.DataFrame, raw: RawTable, segments: list[str], problems: list[dict]
) -> pd.DataFrame:
    """``out`` with the ``segments`` columns of the file; every problem found is raised
    together (:class:`DataValidationError`)."""
    for col in segments:
        out[col] = raw.frame[col]
    if problems:
        raise raw.error(problems)
    return out


def _check_future(
    dates: pd.Series, raw: pd.Series, column: str, observation_end: Any, problems: list[dict]
) -> None:
    """Rows dated after the moment of loading are an error unless ``observation_end`` is
    given (SPEC section 3): the default observation end is the last date, never the future."""
    if observation_end not in (None, ""):
        return
    cutoff = periods.future_cutoff()
    future = (dates > cutoff).fillna(False)
    if future.any():
        problems.append(
            problem(
                column,
                f"dates in the future (after {cutoff.date()}, the day after loading)",
                future,
                raw,
                "Correct these dates, or pass observation_end='YYYY-MM-DD' to analyse the "
                "data up to that day (later rows are then dropped and counted)",
            )
        )


def _observation_cut(
    df: pd.DataFrame, column: str, observation_end: Any, summary: QualitySummary
) -> pd.DataFrame:
    if observation_end in (None, ""):
        return df
    end = pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)
    late = df[column] >= end
    summary.drop(
        f"dated after observation_end {pd.Timestamp(observation_end).date()}", int(late.sum())
    )
    return df[~late]


# --- public loaders --------------------------------------------------------------------


def load_transactions(
    source: PathOrFrame,
    *,
    customer_col: str = CUSTOMER,
    date_col: str = ORDER_DATE,
    amount_col: str | None = AMOUNT,
    order_col: str | None = ORDER,
    quantity_col: str | None = None,
    unit_price_col: str | None = None,
    date_format: str | None = None,
    dayfirst: bool = False,
    encoding: str | None = None,
    decimal: str = ".",
    thousands: str | None = None,
    sheet: str | int | None = None,
    observation_end: Any = None,
    returns: str = "net",
    duplicates: str = "keep",
    segment_cols: list[str] | None = None,
) -> pd.DataFrame:
    """Load a transaction log into the canonical transactions table.

    Parameters
    ----------
    source : path, glob or DataFrame
        CSV/TSV, Parquet or Excel file, a glob of such files (``orders_2024_*.csv``, read and
        stacked), or a DataFrame; one row per order or order line. Currency marks in amounts
        (``$``, ``zł``, ``EUR``, ...) are removed and counted; two currencies in one column
        are an error.
    customer_col, date_col, amount_col, order_col : str
        Your column names for the customer ID, the order timestamp, the net line amount and
        the order ID. ``order_col`` may be None (or absent when left at its default): then
        each distinct (customer, timestamp) is one order.
    quantity_col, unit_price_col : str, optional
        For line-item exports: amount = quantity * unit price (instead of ``amount_col``).
    date_format : str, optional
        strftime format of the date column (e.g. ``"%d/%m/%Y %H:%M"``); default ISO 8601 or
        the format of the first value.
    dayfirst : bool, default False
        Read ambiguous dates such as ``03/04/2024`` as 3 April.
    encoding : str, optional
        Encoding of a text file; default: detected among UTF-8 (with or without a byte-order
        mark), cp1250 and cp1252.
    decimal : {".", ","}, default "."
        Decimal mark of numbers written as text; ``","`` reads ``1 234,50`` and ``1.234,50``.
    thousands : str, optional
        Thousands separator of numbers written as text (``" "``, ``"."``, ``","`` or ``"'"``);
        default ``","`` with ``decimal="."`` and a space (any kind) or ``"."`` with
        ``decimal=","``.
    sheet : str or int, optional
        Excel sheet name or position (from 0); default the first sheet.
    observation_end : date-like, optional
        Last day of data used (inclusive); later rows are dropped and counted.
    returns : {"net", "drop"}, default "net"
        Negative amounts are returns. ``"net"`` keeps them, so the engine nets them against
        the same customer's purchases of the same day (a day whose net amount is <= 0 is not a
        purchase); ``"drop"`` removes them (counted).
    duplicates : {"keep", "drop"}, default "keep"
        Exact duplicate rows are counted; ``"drop"`` removes all but the first.
    segment_cols : list of str, optional
        Extra columns to keep as segments; default: every column that is not mapped.

    Returns
    -------
    DataFrame
        ``customer_id`` (str), ``order_date`` (datetime64, naive; UTC if the input had
        offsets), ``amount`` (float), ``order_id`` (str), then the segment columns. The
        data-quality summary is in ``attrs["quality"]``.

    Raises
    ------
    FileNotFoundError
        The file does not exist, or no file matches the glob.
    DataValidationError
        Missing or duplicated columns, unparseable dates or amounts, two currencies, a
        float ID too large to be exact, an empty file: every problem at once, naming the
        file, the column, the rows and the parameter to use.
    """
    table = "transactions"
    if returns not in {"net", "drop"}:
        raise ValueError("returns must be 'net' (net against same-day purchases) or 'drop'.")
    raw, summary, numbers = _open(
        source, table, encoding=encoding, decimal=decimal, thousands=thousands, sheet=sheet
    )
    frame = raw.frame
    line_items = quantity_col is not None or unit_price_col is not None
    needed = {CUSTOMER: (customer_col, "customer_col"), ORDER_DATE: (date_col, "date_col")}
    if line_items:
        if not (quantity_col and unit_price_col):
            raise ValueError("Line-item exports need both quantity_col= and unit_price_col=.")
        needed["quantity"] = (quantity_col, "quantity_col")
        needed["unit_price"] = (unit_price_col, "unit_price_col")
    elif amount_col:
        needed[AMOUNT] = (amount_col, "amount_col")
    else:
        raise ValueError("Give amount_col=, or quantity_col= and unit_price_col=.")
    use_order = bool(order_col) and (order_col in frame.columns or order_col != ORDER)
    if use_order:
        needed[ORDER] = (order_col, "order_col")
    raw.require(needed)

    reserved = {CUSTOMER, ORDER_DATE, AMOUNT, ORDER}
    segments = _segment_columns(raw, needed, segment_cols, reserved=reserved)

    problems: list[dict] = []
    dates = partial(
        parse_dates, date_format=date_format, dayfirst=dayfirst, summary=summary, problems=problems
    )
    out = pd.DataFrame(index=frame.index)
    out[CUSTOMER] = parse_ids(frame[customer_col], customer_col, summary, problems)
    out[ORDER_DATE] = dates(frame[date_col], date_col, parameter="date_col")
    _check_future(out[ORDER_DATE], frame[date_col], date_col, observation_end, problems)
    if line_items:
        qty = parse_numbers(frame[quantity_col], quantity_col, problems, numbers)
        price = parse_amounts(frame[unit_price_col], unit_price_col, summary, problems, numbers)
        out[AMOUNT] = qty * price
    else:
        out[AMOUNT] = parse_amounts(frame[amount_col], amount_col, summary, problems, numbers)
    out = _checked(out, raw, segments, problems)

    if use_order:
        out["_order"] = frame[order_col]
    out = _handle_duplicates(out, frame, duplicates, summary)
    out = _drop_missing_ids(out, summary)
    out = _observation_cut(out, ORDER_DATE, observation_end, summary)
    if use_order:
        out[ORDER] = parse_ids(out.pop("_order"), order_col, summary, problems)
        if problems:
            raise raw.error(problems)
        missing_order = out[ORDER].isna()
        if missing_order.any():
            out.loc[missing_order, ORDER] = _synthetic_order_ids(out[missing_order])
            summary.corrections.append(
                f"{order_col}: {int(missing_order.sum()):,} rows without an order ID "
                "treated as one order per customer and timestamp"
            )
    else:
        out[ORDER] = _synthetic_order_ids(out)
        summary.corrections.append(
            "no order ID column: each distinct (customer, timestamp) counted as one order"
        )
    negative = out[AMOUNT] < 0
    summary.returns = int(negative.sum())
    if returns == "drop":
        summary.drop("return (negative amount), returns='drop'", summary.returns)
        out = out[~negative]
    elif summary.returns:
        summary.corrections.append(
            f"{summary.returns:,} return lines (negative amounts) kept and netted against the "
            "same customer's purchases of the same day"
        )
    out = out[[CUSTOMER, ORDER_DATE, AMOUNT, ORDER, *segments]]
    _validate(out, schemas.Transactions, raw)
    return _finish(out, summary, ORDER_DATE)


def _synthetic_order_ids(df: pd.DataFrame) -> pd.Series:
    stamp = df[ORDER_DATE].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return (df[CUSTOMER].astype(str) + "@" + stamp).astype("str")


def load_surveys(
    source: PathOrFrame,
    *,
    customer_col: str = CUSTOMER,
    date_col: str = RESPONSE_DATE,
    csat_col: str | None = "csat",
    nps_col: str | None = "nps",
    ces_col: str | None = "ces",
    csat_scale_max: int = 5,
    ces_scale_max: int = 7,
    date_format: str | None = None,
    dayfirst: bool = False,
    encoding: str | None = None,
    decimal: str = ".",
    thousands: str | None = None,
    sheet: str | int | None = None,
    observation_end: Any = None,
    duplicates: str = "keep",
    segment_cols: list[str] | None = None,
) -> pd.DataFrame:
    """Load a survey export: ``customer_id``, ``response_date`` and any of ``csat`` (1-5, or
    1-7 / 1-10 with ``csat_scale_max``), ``nps`` (0-10), ``ces`` (1-7, or 1-5).

    A score column left at its default name and absent from the file is skipped (surveys
    often carry only some scores); a column named explicitly must exist. Scores are whole
    numbers within their scale, or empty (a skipped question, counted). Scores out of scale or
    not whole numbers raise :class:`DataValidationError` listing the rows.

    Paths, globs and the reading options ``encoding``, ``decimal``, ``thousands`` and
    ``sheet`` work as in :func:`load_transactions`.
    """
    table = "surveys"
    if csat_scale_max not in schemas.CSAT_SCALES:
        raise ValueError(f"csat_scale_max must be one of {sorted(schemas.CSAT_SCALES)}.")
    if ces_scale_max not in schemas.CES_SCALES:
        raise ValueError(f"ces_scale_max must be one of {sorted(schemas.CES_SCALES)}.")
    raw, summary, numbers = _open(
        source, table, encoding=encoding, decimal=decimal, thousands=thousands, sheet=sheet
    )
    frame = raw.frame
    scales = {
        "csat": (csat_col, "csat_col", schemas.CSAT_SCALES[csat_scale_max]),
        "nps": (nps_col, "nps_col", schemas.NPS_SCALE),
        "ces": (ces_col, "ces_col", schemas.CES_SCALES[ces_scale_max]),
    }
    defaults = {"csat": "csat", "nps": "nps", "ces": "ces"}
    needed = {CUSTOMER: (customer_col, "customer_col"), RESPONSE_DATE: (date_col, "date_col")}
    present: dict[str, tuple[str, tuple[int, int]]] = {}
    for score, (col, param, scale) in scales.items():
        if not col or (col == defaults[score] and col not in frame.columns):
            continue
        needed[score] = (col, param)
        present[score] = (col, scale)
    raw.require(needed)
    if not present:
        raise raw.error(
            [
                {
                    "column": "csat/nps/ces",
                    "rule": "no score column found",
                    "count": 0,
                    "hint": f"Columns found: {', '.join(frame.columns)}. Name your score columns "
                    "with csat_col=, nps_col= or ces_col=",
                }
            ]
        )
    segments = _segment_columns(raw, needed, segment_cols)
    problems: list[dict] = []
    dates = partial(
        parse_dates, date_format=date_format, dayfirst=dayfirst, summary=summary, problems=problems
    )
    out = pd.DataFrame(index=frame.index)
    out[CUSTOMER] = parse_ids(frame[customer_col], customer_col, summary, problems)
    out[RESPONSE_DATE] = dates(frame[date_col], date_col, parameter="date_col")
    _check_future(out[RESPONSE_DATE], frame[date_col], date_col, observation_end, problems)
    for score, (col, (low, high)) in present.items():
        out[score] = parse_scores(frame[col], col, low, high, problems)
        missing = int(out[score].isna().sum())
        if missing:
            summary.corrections.append(f"{col}: {missing:,} responses without a score (skipped)")
    out = _checked(out, raw, segments, problems)
    out = _handle_duplicates(out, frame, duplicates, summary)
    out = _drop_missing_ids(out, summary)
    out = _observation_cut(out, RESPONSE_DATE, observation_end, summary)
    schema = schemas.survey_schema({s: scale for s, (_, scale) in present.items()})
    _validate(out, schema, raw)
    return _finish(out, summary, RESPONSE_DATE)


def load_subscriptions(
    source: PathOrFrame,
    *,
    customer_col: str = CUSTOMER,
    start_col: str = "start_date",
    end_col: str = "end_date",
    mrr_col: str = "mrr",
    date_format: str | None = None,
    dayfirst: bool = False,
    encoding: str | None = None,
    decimal: str = ".",
    thousands: str | None = None,
    sheet: str | int | None = None,
    segment_cols: list[str] | None = None,
) -> pd.DataFrame:
    """Load a subscription table: ``customer_id``, ``start_date``, ``end_date`` (empty = still
    active), ``mrr`` (monthly recurring revenue, >= 0). A customer may have several rows
    (upgrades and downgrades start a new row).

    Paths, globs and the reading options ``encoding``, ``decimal``, ``thousands`` and
    ``sheet`` work as in :func:`load_transactions`.
    """
    table = "subscriptions"
    raw, summary, numbers = _open(
        source, table, encoding=encoding, decimal=decimal, thousands=thousands, sheet=sheet
    )
    frame = raw.frame
    needed = {
        CUSTOMER: (customer_col, "customer_col"),
        "start_date": (start_col, "start_col"),
        "end_date": (end_col, "end_col"),
        "mrr": (mrr_col, "mrr_col"),
    }
    raw.require(needed)
    segments = _segment_columns(raw, needed, segment_cols)
    problems: list[dict] = []
    dates = partial(
        parse_dates, date_format=date_format, dayfirst=dayfirst, summary=summary, problems=problems
    )
    out = pd.DataFrame(index=frame.index)
    out[CUSTOMER] = parse_ids(frame[customer_col], customer_col, summary, problems)
    out["start_date"] = dates(frame[start_col], start_col, parameter="start_col")
    end_raw = frame[end_col]
    end_present = end_raw.notna() & (end_raw.astype("string").str.strip() != "")
    end = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    if end_present.any():
        end[end_present] = dates(end_raw[end_present], end_col, parameter="end_col")
    out["end_date"] = end
    out["mrr"] = parse_amounts(frame[mrr_col], mrr_col, summary, problems, numbers)
    out = _checked(out, raw, segments, problems)
    out = _drop_missing_ids(out, summary)
    _validate(out, schemas.Subscriptions, raw)
    return _finish(out, summary, "start_date")


def load_costs(
    source: PathOrFrame,
    *,
    period_col: str = "period_start",
    cost_col: str = "cost",
    date_format: str | None = None,
    dayfirst: bool = False,
    encoding: str | None = None,
    decimal: str = ".",
    thousands: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Load retention costs: ``period_start`` (first day of the period) and ``cost`` (>= 0,
    in the currency of the transactions).

    Paths, globs and the reading options ``encoding``, ``decimal``, ``thousands`` and
    ``sheet`` work as in :func:`load_transactions`.
    """
    table = "retention costs"
    raw, summary, numbers = _open(
        source, table, encoding=encoding, decimal=decimal, thousands=thousands, sheet=sheet
    )
    frame = raw.frame
    raw.require({"period_start": (period_col, "period_col"), "cost": (cost_col, "cost_col")})
    problems: list[dict] = []
    dates = partial(
        parse_dates, date_format=date_format, dayfirst=dayfirst, summary=summary, problems=problems
    )
    out = pd.DataFrame(index=frame.index)
    out["period_start"] = dates(frame[period_col], period_col, parameter="period_col")
    out["cost"] = parse_amounts(frame[cost_col], cost_col, summary, problems, numbers)
    if problems:
        raise raw.error(problems)
    _validate(out, schemas.RetentionCosts, raw)
    return _finish(out, summary, "period_start")


# --- built-in data sets ----------------------------------------------------------------


def _lifetimes_dataset(name: str) -> Path:
    """Path of a file shipped in lifetimes' datasets folder, found without importing lifetimes
    (its import changes global state and its datasets module needs pkg_resources)."""
    spec = find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("The lifetimes package is not installed (pip install lifetimes).")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


def load_cdnow(sample: bool = False) -> pd.DataFrame:
    """The CDNOW transactions that ship with lifetimes (Fader, Hardie & Lee 2005).

    ``sample=False``: ``CDNOW_master.txt``, 23,570 customers, 69,659 rows (Jan 1997 - Jun 1998).
    ``sample=True``: ``CDNOW_sample.txt``, the 2,357-customer sample of the BG/NBD paper.
    Returns the canonical transactions table with ``order_date`` at day precision and a
    ``cds`` column (number of CDs bought); amounts in US dollars.
    """
    if sample:
        path = _lifetimes_dataset("CDNOW_sample.txt")
        names = ["customer_id", "sample_index", "date", "cds", "amount"]
        raw = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype=str)
    else:
        path = _lifetimes_dataset("CDNOW_master.txt")
        raw = pd.read_csv(path, sep=r"\s+", dtype=str)
        raw.columns = ["customer_id", "date", "cds", "amount"]
    raw["cds"] = raw["cds"].astype(int)
    df = load_transactions(
        raw[["customer_id", "date", "amount", "cds"]],
        date_col="date",
        date_format="%Y%m%d",
        order_col=None,
    )
    df.attrs["quality"]["source"] = str(path)
    return df


def load_online_retail(path: PathOrFrame | None = None, **kwargs: Any) -> pd.DataFrame:
    """UCI Online Retail (Chen 2015, CC BY 4.0): invoice lines of a UK gift retailer,
    2010-12-01 to 2011-12-09. Amount = Quantity * UnitPrice (GBP); cancellations (negative
    quantities) are returns; lines without a customer are dropped and counted; its 5,268
    exact duplicate lines are kept unless ``duplicates="drop"``."""
    if path is None:
        candidates = [config.ONLINE_RETAIL, config.SHARED_ONLINE_RETAIL]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(
                "Online Retail data not found in " + " or ".join(map(str, candidates))
            )
    options = {
        "customer_col": "CustomerID",
        "date_col": "InvoiceDate",
        "quantity_col": "Quantity",
        "unit_price_col": "UnitPrice",
        "order_col": "InvoiceNo",
        "amount_col": None,
        "segment_cols": ["Country"],
    } | kwargs
    return load_transactions(path, **options)


BUILTIN_DATASETS = {
    "transactions": {
        "demo": lambda **kw: load_transactions(config.SAMPLE_TRANSACTIONS, **_only(kw, _TX_KW)),
        "cdnow": lambda **kw: load_cdnow(sample=False),
        "cdnow_sample": lambda **kw: load_cdnow(sample=True),
        "online_retail": lambda **kw: load_online_retail(**_only(kw, _TX_KW)),
    },
    "surveys": {
        "demo": lambda **kw: load_surveys(
            config.SAMPLE_SURVEYS, **_only(kw, {"observation_end", "duplicates"})
        )
    },
    "subscriptions": {"demo": lambda **kw: load_subscriptions(config.SAMPLE_SUBSCRIPTIONS)},
    "costs": {"demo": lambda **kw: load_costs(config.SAMPLE_COSTS)},
}
_TX_KW = {"observation_end", "returns", "duplicates"}


@dataclass(frozen=True)
class DatasetDefaults:
    """What a report assumes about a data set when its parameters leave it open.

    Attributes
    ----------
    currency : str or None
        ISO code of the money amounts (None: not known, amounts shown without a unit).
    compare_by : str or None
        Column whose segments the reports compare (None: no comparison).
    data_start : str or None
        Day (YYYY-MM-DD) from which the purchase history is complete, when the data set
        is known to hold every customer from their first purchase (None: unknown, so the
        first cohort is treated as left-censored).
    """

    currency: str | None = None
    compare_by: str | None = None
    data_start: str | None = None


#: Built-in data sets know their currency and their natural comparison column. CDNOW is a
#: cohort of first-time buyers of January to March 1997, followed from their first purchase,
#: so its history is complete from its first day.
_DATASET_DEFAULTS = {
    "demo": DatasetDefaults(currency="EUR", compare_by="channel"),
    "cdnow": DatasetDefaults(currency="USD", data_start="1997-01-01"),
    "cdnow_sample": DatasetDefaults(currency="USD", data_start="1997-01-01"),
    "online_retail": DatasetDefaults(currency="GBP"),
}


def dataset_defaults(source: object) -> DatasetDefaults:
    """Currency and comparison column of a built-in data set; nothing assumed for a file.

    Parameters
    ----------
    source : object
        What a notebook's ``transactions`` (or ``surveys``) parameter holds: a built-in
        name such as ``"online_retail"``, a path, or a DataFrame.

    Returns
    -------
    DatasetDefaults
        The built-in data set's defaults, or an empty :class:`DatasetDefaults` for anything
        else (a user's file has no currency we could know).

    Examples
    --------
    >>> dataset_defaults("online_retail").currency
    'GBP'
    >>> dataset_defaults("orders.csv")
    DatasetDefaults(currency=None, compare_by=None, data_start=None)
    """
    if isinstance(source, str):
        return _DATASET_DEFAULTS.get(source.strip(), DatasetDefaults())
    return DatasetDefaults()


def companion_table(transactions: object, kind: str) -> str:
    """The built-in table of ``kind`` that goes with ``transactions`` when a report's
    parameter leaves it open (``""``): ``"demo"`` for the demo shop's subscriptions and
    retention costs, ``""`` (no table: the section says so) for anything else.

    Examples
    --------
    >>> companion_table("demo", "subscriptions"), companion_table("online_retail", "costs")
    ('demo', '')
    """
    builtin = isinstance(transactions, str) and transactions.strip() == "demo"
    return "demo" if builtin and "demo" in BUILTIN_DATASETS.get(kind, {}) else ""


_LOADERS = {
    "transactions": load_transactions,
    "surveys": load_surveys,
    "subscriptions": load_subscriptions,
    "costs": load_costs,
}


def _only(kwargs: dict, keep: set[str]) -> dict:
    return {k: v for k, v in kwargs.items() if k in keep}


def open_dataset(
    name_or_path: PathOrFrame | None, kind: str = "transactions", **mapping: Any
) -> pd.DataFrame | None:
    """Load a built-in data set by name, or a file with the matching loader.

    Names: ``"demo"`` (the embedded demo shop, all kinds), ``"cdnow"``, ``"cdnow_sample"``,
    ``"online_retail"`` (transactions). ``""`` or None returns None (the notebooks use it for
    "not given"). Mapping keywords with empty-string values are treated as not given, so
    notebook parameters can pass ``order_col=""``, ``sheet=""`` or ``decimal=""``. A path may
    be a glob (``orders_2024_*.csv``). Built-in data sets carry their own column mapping and
    reading options and ignore those keywords (``observation_end``, and for the demo data
    and Online Retail ``returns`` and ``duplicates``, still apply).
    """
    if kind not in _LOADERS:
        raise ValueError(f"kind must be one of {sorted(_LOADERS)}.")
    if name_or_path is None or (isinstance(name_or_path, str) and not name_or_path.strip()):
        return None
    options = {k: v for k, v in mapping.items() if not (isinstance(v, str) and v == "")}
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_DATASETS[kind]:
        df = BUILTIN_DATASETS[kind][name_or_path](**options)
        end = options.get("observation_end")
        if end and kind == "transactions" and name_or_path.startswith("cdnow"):
            summary = QualitySummary(**df.attrs["quality"])
            df = _finish(_observation_cut(df, ORDER_DATE, end, summary), summary, ORDER_DATE)
        return df
    if isinstance(name_or_path, str) and not _is_path_like_file(name_or_path):
        known = sorted(BUILTIN_DATASETS[kind])
        raise FileNotFoundError(
            f"{name_or_path!r} is neither an existing file nor a built-in {kind} data set "
            f"({', '.join(known)})."
        )
    if kind == "transactions":
        if "order_col" not in mapping:
            options.setdefault("order_col", ORDER)
        elif mapping.get("order_col") == "":
            options["order_col"] = None
        if options.get("quantity_col"):
            options["amount_col"] = None
    return _with_split_quality(_LOADERS[kind](name_or_path, **options), name_or_path)


def _with_split_quality(df: pd.DataFrame, source: PathOrFrame) -> pd.DataFrame:
    """Name the segment in the quality summary of a file written by the runner's split.

    ``engine.split_by_segment`` writes ``segment_001.json`` beside ``segment_001.parquet``;
    the segment's own counts come from loading its file, and what was dropped or corrected
    in the whole data set before the split is added as a note.
    """
    side = Path(source).with_suffix(".json") if isinstance(source, str | os.PathLike) else None
    if side is None or not side.is_file() or "quality" not in df.attrs:
        return df
    split = json.loads(side.read_text(encoding="utf-8"))
    quality = df.attrs["quality"]
    whole = split.get("whole_data_quality") or {}
    segment = f"{split['segment_col']} = {split['segment_value']}"
    quality["source"] = f"{whole.get('source', source)}, segment {segment} (split by the runner)"
    dropped = "; ".join(f"{n:,} {reason}" for reason, n in whole.get("dropped", {}).items())
    if whole:
        quality["corrections"] = [
            f"before the split, in the whole data set ({whole['rows_read']:,} rows read): "
            + (f"rows dropped: {dropped}" if dropped else "no rows dropped"),
            *quality["corrections"],
        ]
    return df


def _is_path_like_file(text: str) -> bool:
    return Path(text).exists() or any(sep in text for sep in ("/", "\\", ".", "*", "?"))
