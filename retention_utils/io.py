"""Loading and validation: raw files in, canonical tables out (SPEC sections 3 and 6).

Every loader accepts a path (CSV, Parquet, Excel) or a DataFrame plus column-mapping keywords
whose defaults are the canonical names, parses each column with one explicit rule, validates
the result against the pandera schemas of :mod:`retention_utils.schemas`, and returns the
canonical DataFrame. Problems are collected and raised together as one
:class:`DataValidationError`; corrections (dropped rows, converted IDs, netted returns) are
counted in a data-quality summary stored in ``df.attrs["quality"]`` and shown by
:func:`quality_table`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype
from pandas.errors import EmptyDataError

from retention_utils import config, schemas
from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE, RESPONSE_DATE

PathOrFrame = str | os.PathLike | pd.DataFrame

_EXAMPLES = 5

__all__ = [
    "BUILTIN_DATASETS",
    "DataValidationError",
    "QualitySummary",
    "load_cdnow",
    "load_costs",
    "load_online_retail",
    "load_subscriptions",
    "load_surveys",
    "load_transactions",
    "open_dataset",
    "quality_table",
]


class DataValidationError(ValueError):
    """Input data that breaks the data contract; the message lists every problem found.

    Attributes
    ----------
    problems : list of dict
        One entry per broken rule: ``column``, ``rule``, ``count`` (rows affected),
        ``examples`` (a few offending values), ``rows`` (their row numbers, the first data row
        being 1) and optionally ``hint`` (what to change).
    """

    def __init__(self, problems: list[dict], table: str = "data"):
        self.problems = [dict(p) for p in problems]
        self.table = table
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in the {self.table}:"]
        for p in self.problems:
            text = f"- column '{p['column']}': {p['rule']}"
            if p.get("count"):
                text += f" ({p['count']:,} row{'s' if p['count'] != 1 else ''})"
            pairs = list(zip(p.get("examples", []), p.get("rows", []), strict=False))
            if pairs:
                shown = ", ".join(f"{v!r} (row {r})" for v, r in pairs)
                text += f"; e.g. {shown}"
            if p.get("hint"):
                text += f". {p['hint']}"
            lines.append(text)
        return "\n".join(lines)


@dataclass
class QualitySummary:
    """What a loader read, dropped, corrected and flagged."""

    table: str
    source: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    corrections: list[str] = field(default_factory=list)
    returns: int = 0
    duplicates: int = 0
    customers: int = 0
    date_min: str | None = None
    date_max: str | None = None

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "corrections": list(self.corrections),
            "returns": self.returns,
            "duplicates": self.duplicates,
            "customers": self.customers,
            "date_min": self.date_min,
            "date_max": self.date_max,
        }


def quality_table(df: pd.DataFrame) -> pd.DataFrame:
    """The data-quality summary of a loaded table as a two-column frame for display."""
    q = df.attrs.get("quality")
    if not q:
        raise ValueError("This table was not produced by a retention_utils loader.")
    rows: list[tuple[str, str]] = [
        ("source", str(q["source"])),
        ("rows read", f"{q['rows_read']:,}"),
    ]
    for reason, n in q["dropped"].items():
        rows.append((f"rows dropped: {reason}", f"{n:,}"))
    rows.append(("rows kept", f"{q['rows_kept']:,}"))
    if q["table"] == "transactions":
        rows.append(("return lines (negative amount)", f"{q['returns']:,}"))
    rows.append(("duplicate rows (kept unless duplicates='drop')", f"{q['duplicates']:,}"))
    if q["table"] != "retention costs":
        rows.append(("customers", f"{q['customers']:,}"))
    if q["date_min"]:
        rows.append(("date range", f"{q['date_min']} to {q['date_max']}"))
    for text in q["corrections"]:
        rows.append(("correction", text))
    return pd.DataFrame(rows, columns=["check", "result"])


# --- reading ---------------------------------------------------------------------------


def _read(source: PathOrFrame, table: str) -> tuple[pd.DataFrame, str]:
    """Raw frame and a description of where it came from. CSV cells are read as text."""
    if isinstance(source, pd.DataFrame):
        df, name = source.copy(), "DataFrame"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        name = str(path)
        if not path.exists():
            raise FileNotFoundError(
                f"The {table} file {name!r} does not exist (working directory: {os.getcwd()})."
            )
        if path.stat().st_size == 0:
            raise DataValidationError(
                [{"column": "(file)", "rule": f"the file {name!r} is empty", "count": 0}], table
            )
        suffix = path.suffix.lower()
        try:
            if suffix in {".parquet", ".pq"}:
                df = pd.read_parquet(path)
            elif suffix in {".xlsx", ".xlsm", ".xls"}:
                df = pd.read_excel(path, dtype=object)  # keep text cells ("007") as text
            elif suffix in {".csv", ".txt", ".tsv", ".gz"}:
                sep = "\t" if suffix == ".tsv" else None
                df = pd.read_csv(
                    path,
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                    sep=sep,
                    engine="python" if sep is None else "c",
                )
            else:
                raise ValueError(
                    f"Cannot read {name!r}: use a .csv, .parquet or .xlsx file, or pass a DataFrame."
                )
        except EmptyDataError:
            raise DataValidationError(
                [{"column": "(file)", "rule": f"the file {name!r} is empty", "count": 0}], table
            ) from None
    else:
        raise TypeError(
            f"Expected a file path or a pandas DataFrame for the {table}, "
            f"got {type(source).__name__}."
        )
    if len(df) == 0:
        raise DataValidationError(
            [
                {
                    "column": "(file)",
                    "rule": f"{name!r} has a header ({', '.join(map(str, df.columns))}) "
                    "but no data rows",
                    "count": 0,
                }
            ],
            table,
        )
    df.columns = [str(c).strip() for c in df.columns]
    return df.reset_index(drop=True), name


def _missing_column(column: str, parameter: str, found: list[str]) -> dict:
    close = difflib.get_close_matches(column, found, n=1, cutoff=0.5)
    hint = f"Columns found: {', '.join(found)}. Pass {parameter}='<your column name>'"
    if close:
        hint += f" (did you mean {parameter}={close[0]!r}?)"
    return {
        "column": column,
        "rule": f"column not found (mapping parameter {parameter})",
        "count": 0,
        "hint": hint,
    }


def _problem(
    column: str, rule: str, mask: pd.Series, values: pd.Series, hint: str | None = None
) -> dict:
    idx = np.flatnonzero(mask.to_numpy())
    return {
        "column": column,
        "rule": rule,
        "count": int(len(idx)),
        "examples": [_example(values.iloc[i]) for i in idx[:_EXAMPLES]],
        "rows": [int(i) + 1 for i in idx[:_EXAMPLES]],
        **({"hint": hint} if hint else {}),
    }


def _example(value: Any) -> Any:
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str) else str(value)


# --- column parsers: one explicit rule per column --------------------------------------

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _parse_ids(raw: pd.Series, column: str, summary: QualitySummary) -> pd.Series:
    """IDs as strings: leading zeros kept, ``12345.0`` from a float column becomes ``12345``."""
    if is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64")
        present = values.dropna()
        if len(present) and (present == np.round(present)).all():
            text = values.astype("Int64").astype("string")
            if raw.dtype.kind == "f":
                summary.corrections.append(
                    f"{column}: IDs stored as floats (e.g. 17850.0) read as whole numbers (17850)"
                )
        else:
            text = values.astype("string")
    else:
        text = raw.astype("string").str.strip()
        text = text.where(text != "")
        present = text.dropna()
        looks_float = len(present) and re.fullmatch(r"\d+\.0", str(present.iloc[0]))
        if looks_float and present.str.fullmatch(r"\d+\.0").all():  # first value first: fast
            text = text.str.replace(r"\.0$", "", regex=True)
            summary.corrections.append(
                f"{column}: IDs written as floats (e.g. '12345.0') read as '12345'"
            )
    return text.astype("str")


def _parse_dates(
    raw: pd.Series,
    column: str,
    *,
    date_format: str | None,
    dayfirst: bool,
    summary: QualitySummary,
    problems: list[dict],
    parameter: str,
) -> pd.Series:
    """Parse a date column with a single format for all rows.

    The rule is, in order: ``date_format`` if given; ISO 8601 when the first value looks ISO;
    otherwise the format pandas infers from the first value (day-first only when
    ``dayfirst=True``). Values that do not fit the rule are reported, never guessed one by
    one, so day and month are never swapped silently. Timestamps with UTC offsets are
    converted to naive UTC; a column mixing offsets and naive times is an error.
    """
    if is_datetime64_any_dtype(raw):
        out = raw
        if getattr(raw.dt, "tz", None) is not None:
            out = raw.dt.tz_convert("UTC").dt.tz_localize(None)
            summary.corrections.append(f"{column}: time-zone-aware timestamps converted to UTC")
        return out.astype("datetime64[us]")
    text = raw.astype("string").str.strip()
    text = text.where(text != "")
    present = text.notna()
    if not present.any():
        problems.append(_problem(column, "no dates in this column", ~present, raw))
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    first = text[present].iloc[0]
    if date_format:
        fmt = date_format
    elif _ISO_START.match(first) and not dayfirst:
        fmt = "ISO8601"
    else:
        fmt = pd.core.tools.datetimes.guess_datetime_format(first, dayfirst=dayfirst)
        if fmt is None:
            problems.append(
                _problem(
                    column,
                    "cannot tell the date format from the first value",
                    present & (text == first),
                    raw,
                    hint=f"Pass date_format= (e.g. date_format='%d/%m/%Y') with {parameter}",
                )
            )
            return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
        if not dayfirst and re.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", first):
            summary.corrections.append(
                f"{column}: dates like {first!r} read month-first ({fmt}); "
                "pass dayfirst=True if they are day-first"
            )
    has_offset = text.str.contains(_OFFSET, na=False)
    with_offsets = bool(has_offset.any())
    if with_offsets and not has_offset[present].all():
        problems.append(
            _problem(
                column,
                "mixes timestamps with and without a time-zone offset",
                present & ~has_offset,
                raw,
                hint="Give every timestamp an offset (or none) so they can be put on one clock",
            )
        )
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=with_offsets)
    if with_offsets:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        summary.corrections.append(f"{column}: timestamps with UTC offsets converted to naive UTC")
    bad = present & parsed.isna()
    if bad.any():
        rule_text = "ISO 8601 (YYYY-MM-DD)" if fmt == "ISO8601" else repr(fmt)
        hint = "Pass date_format= with the format of this column"
        looks_dayfirst = text[bad].str.match(r"^(1[3-9]|2\d|3[01])[/.-]\d{1,2}[/.-]").any()
        if looks_dayfirst and not dayfirst:
            hint = "These look day-first (day > 12 first): pass dayfirst=True or date_format='%d/%m/%Y'"
        elif fmt == "ISO8601":
            hint = (
                "The column mixes date formats; pass date_format= with the one format it should use"
            )
        problems.append(
            _problem(
                column, f"values that do not parse as dates in format {rule_text}", bad, raw, hint
            )
        )
    missing = ~present
    if missing.any():
        problems.append(_problem(column, "missing dates", missing, raw))
    return parsed.astype("datetime64[us]")


_MONEY = re.compile(
    r"^(?P<sign>-)?\s*(?P<open>\()?\s*(?P<sign2>-)?\s*(?:[$€£¥]|[A-Z]{3}\s)?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"\s*(?:[$€£¥]|\s[A-Z]{3})?\s*(?P<close>\))?$"
)


def _parse_amounts(
    raw: pd.Series, column: str, summary: QualitySummary, problems: list[dict]
) -> pd.Series:
    """Numbers, or text like ``"$1,234.50"``, ``"(12.00)"`` (negative), ``"-3.5"``.

    Anything else (``"1.234,50"``, ``"twelve"``) is reported with examples, never NaN.
    """
    if is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64")
        bad = values.isna() | ~np.isfinite(values.fillna(0))
        if bad.any():
            problems.append(_problem(column, "missing or infinite amounts", bad, raw))
        return values
    text = raw.astype("string").str.strip()
    parts = text.str.extract(_MONEY)
    plain = pd.to_numeric(text, errors="coerce")
    paren_ok = parts["open"].isna() == parts["close"].isna()
    matched = parts["num"].notna() & paren_ok
    number = pd.to_numeric(parts["num"].str.replace(",", "", regex=False), errors="coerce")
    negative = parts["sign"].notna() | parts["sign2"].notna() | parts["open"].notna()
    values = plain.where(plain.notna(), number.where(~negative, -number).where(matched))
    values = values.astype("float64")
    converted = plain.isna() & values.notna()
    if converted.any():
        summary.corrections.append(
            f"{column}: {int(converted.sum()):,} amounts parsed from currency text "
            "(symbols and thousands separators removed, parentheses read as negative)"
        )
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    if bad.any():
        problems.append(
            _problem(
                column,
                "values that are not amounts",
                bad,
                raw,
                hint="Use plain numbers with '.' as the decimal point (e.g. 1234.50)",
            )
        )
    return values


def _parse_numbers(
    raw: pd.Series, column: str, problems: list[dict], *, required: bool = True
) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna() & values.isna()
    if required:
        bad = bad | raw.isna()
    if bad.any():
        problems.append(_problem(column, "values that are not numbers", bad, raw))
    return values


def _require(df: pd.DataFrame, mapping: dict[str, tuple[str, str]], table: str) -> None:
    """``mapping``: canonical name -> (user column, mapping parameter)."""
    found = list(df.columns)
    missing = [
        _missing_column(col, param, found) for col, param in mapping.values() if col not in df
    ]
    if missing:
        raise DataValidationError(missing, table)


def _validate(df: pd.DataFrame, schema: Any, table: str, problems: list[dict]) -> None:
    """Run a pandera schema lazily and raise every problem (with the parsing ones) at once."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            rows = [int(i) + 1 for i in group["index"].dropna().astype(int)[:_EXAMPLES]]
            problems.append(
                {
                    "column": str(column),
                    "rule": str(check),
                    "count": int(len(group)),
                    "examples": [_example(v) for v in group["failure_case"][:_EXAMPLES]],
                    "rows": rows,
                }
            )
    if problems:
        raise DataValidationError(problems, table)


def _finish(df: pd.DataFrame, summary: QualitySummary, date_col: str | None) -> pd.DataFrame:
    summary.rows_kept = len(df)
    if CUSTOMER in df:
        summary.customers = _count_distinct(df[CUSTOMER])
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


def _count_duplicates(raw: pd.DataFrame) -> int:
    """Rows identical to an earlier row in every column.

    Counted by DuckDB (a hash aggregate, under a second for ten million rows, where pandas'
    ``duplicated`` takes ten); by pandas where DuckDB cannot read the frame faithfully
    (Python-object columns from spreadsheets or hand-made frames).
    """
    from retention_utils.engine import query_frame

    columns = ", ".join('"' + str(c).replace('"', '""') + '"' for c in raw.columns)
    row = query_frame(raw, f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM frame)")
    if row is None:
        return int(raw.duplicated(keep="first").sum())
    return len(raw) - int(row[0])


def _count_distinct(values: pd.Series) -> int:
    """Distinct non-missing values; DuckDB for long columns (3x faster than pandas on text)."""
    from retention_utils.engine import query_frame

    row = None
    if len(values) >= 100_000:
        row = query_frame(values.rename("v").to_frame(), "SELECT count(DISTINCT v) FROM frame")
    return int(values.nunique()) if row is None else int(row[0])


def _handle_duplicates(
    df: pd.DataFrame, raw: pd.DataFrame, duplicates: str, summary: QualitySummary
) -> pd.DataFrame:
    """Count rows identical to an earlier row in every column of the input; drop on request."""
    if duplicates not in {"keep", "drop"}:
        raise ValueError("duplicates must be 'keep' or 'drop'.")
    summary.duplicates = _count_duplicates(raw)
    if duplicates == "drop" and summary.duplicates:
        dup = raw.duplicated(keep="first")
        summary.drop("exact duplicate row (duplicates='drop')", summary.duplicates)
        return df[~dup.reindex(df.index, fill_value=False)]
    return df


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


def _is_path_like(source: Any) -> bool:
    return isinstance(source, str | os.PathLike)


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
    observation_end: Any = None,
    returns: str = "net",
    duplicates: str = "keep",
    segment_cols: list[str] | None = None,
) -> pd.DataFrame:
    """Load a transaction log into the canonical transactions table.

    Parameters
    ----------
    source : path or DataFrame
        CSV, Parquet or Excel file, or a DataFrame; one row per order or order line.
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
        The file does not exist.
    DataValidationError
        Missing columns, unparseable dates or amounts, an empty file: every problem at once.
    """
    table = "transactions"
    if returns not in {"net", "drop"}:
        raise ValueError("returns must be 'net' (net against same-day purchases) or 'drop'.")
    raw, name = _read(source, table)
    summary = QualitySummary(table=table, source=name, rows_read=len(raw))
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
    use_order = bool(order_col) and (order_col in raw.columns or order_col != ORDER)
    if use_order:
        needed[ORDER] = (order_col, "order_col")
    _require(raw, needed, table)

    mapped = {col for col, _ in needed.values()} | {CUSTOMER, ORDER_DATE, AMOUNT, ORDER}
    if segment_cols is None:
        segments = [c for c in raw.columns if c not in mapped]
    else:
        segments = list(segment_cols)
        absent = [c for c in segments if c not in raw.columns]
        if absent:
            raise DataValidationError(
                [_missing_column(c, "segment_cols", list(raw.columns)) for c in absent], table
            )

    problems: list[dict] = []
    out = pd.DataFrame(index=raw.index)
    out[CUSTOMER] = _parse_ids(raw[customer_col], customer_col, summary)
    out[ORDER_DATE] = _parse_dates(
        raw[date_col],
        date_col,
        date_format=date_format,
        dayfirst=dayfirst,
        summary=summary,
        problems=problems,
        parameter="date_col",
    )
    if line_items:
        qty = _parse_numbers(raw[quantity_col], quantity_col, problems)
        price = _parse_amounts(raw[unit_price_col], unit_price_col, summary, problems)
        out[AMOUNT] = qty * price
    else:
        out[AMOUNT] = _parse_amounts(raw[amount_col], amount_col, summary, problems)
    for col in segments:
        out[col] = raw[col]
    if problems:
        raise DataValidationError(problems, table)

    if use_order:
        out["_order"] = raw[order_col]
    out = _handle_duplicates(out, raw, duplicates, summary)
    out = _drop_missing_ids(out, summary)
    out = _observation_cut(out, ORDER_DATE, observation_end, summary)
    if use_order:
        out[ORDER] = _parse_ids(out.pop("_order"), order_col, QualitySummary(table, name))
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
    _validate(out, schemas.Transactions, table, [])
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
    """
    table = "surveys"
    if csat_scale_max not in schemas.CSAT_SCALES:
        raise ValueError(f"csat_scale_max must be one of {sorted(schemas.CSAT_SCALES)}.")
    if ces_scale_max not in schemas.CES_SCALES:
        raise ValueError(f"ces_scale_max must be one of {sorted(schemas.CES_SCALES)}.")
    raw, name = _read(source, table)
    summary = QualitySummary(table=table, source=name, rows_read=len(raw))
    scales = {
        "csat": (csat_col, "csat_col", schemas.CSAT_SCALES[csat_scale_max]),
        "nps": (nps_col, "nps_col", schemas.NPS_SCALE),
        "ces": (ces_col, "ces_col", schemas.CES_SCALES[ces_scale_max]),
    }
    defaults = {"csat": "csat", "nps": "nps", "ces": "ces"}
    needed = {CUSTOMER: (customer_col, "customer_col"), RESPONSE_DATE: (date_col, "date_col")}
    present: dict[str, tuple[str, tuple[int, int]]] = {}
    for score, (col, param, scale) in scales.items():
        if not col or (col == defaults[score] and col not in raw.columns):
            continue
        needed[score] = (col, param)
        present[score] = (col, scale)
    _require(raw, needed, table)
    if not present:
        raise DataValidationError(
            [
                {
                    "column": "csat/nps/ces",
                    "rule": "no score column found",
                    "count": 0,
                    "hint": f"Columns found: {', '.join(raw.columns)}. Name your score columns "
                    "with csat_col=, nps_col= or ces_col=",
                }
            ],
            table,
        )
    mapped = {col for col, _ in needed.values()}
    segments = (
        [c for c in raw.columns if c not in mapped] if segment_cols is None else list(segment_cols)
    )
    problems: list[dict] = []
    out = pd.DataFrame(index=raw.index)
    out[CUSTOMER] = _parse_ids(raw[customer_col], customer_col, summary)
    out[RESPONSE_DATE] = _parse_dates(
        raw[date_col],
        date_col,
        date_format=date_format,
        dayfirst=dayfirst,
        summary=summary,
        problems=problems,
        parameter="date_col",
    )
    for score, (col, (low, high)) in present.items():
        out[score] = _parse_scores(raw[col], col, low, high, problems)
        missing = int(out[score].isna().sum())
        if missing:
            summary.corrections.append(f"{col}: {missing:,} responses without a score (skipped)")
    for col in segments:
        out[col] = raw[col]
    if problems:
        raise DataValidationError(problems, table)
    out = _handle_duplicates(out, raw, duplicates, summary)
    out = _drop_missing_ids(out, summary)
    out = _observation_cut(out, RESPONSE_DATE, observation_end, summary)
    schema = schemas.survey_schema({s: scale for s, (_, scale) in present.items()})
    _validate(out, schema, table, [])
    return _finish(out, summary, RESPONSE_DATE)


def _parse_scores(raw: pd.Series, column: str, low: int, high: int, problems: list[dict]):
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    not_number = raw.notna() & values.isna()
    if is_numeric_dtype(raw):
        not_number = pd.Series(False, index=raw.index)
    else:
        text = raw.astype("string").str.strip()
        not_number = text.notna() & (text != "") & values.isna()
    if not_number.any():
        problems.append(_problem(column, "scores that are not numbers", not_number, raw))
    fractional = values.notna() & (values != np.round(values))
    if fractional.any():
        problems.append(_problem(column, "scores that are not whole numbers", fractional, raw))
    outside = values.notna() & ~fractional & ((values < low) | (values > high))
    if outside.any():
        problems.append(
            _problem(
                column,
                f"scores outside the {low}-{high} scale",
                outside,
                raw,
                hint="Check the scale parameter (csat_scale_max=, ces_scale_max=) or the export",
            )
        )
    return values.where(~fractional).round().astype("Int64")


def load_subscriptions(
    source: PathOrFrame,
    *,
    customer_col: str = CUSTOMER,
    start_col: str = "start_date",
    end_col: str = "end_date",
    mrr_col: str = "mrr",
    date_format: str | None = None,
    dayfirst: bool = False,
    segment_cols: list[str] | None = None,
) -> pd.DataFrame:
    """Load a subscription table: ``customer_id``, ``start_date``, ``end_date`` (empty = still
    active), ``mrr`` (monthly recurring revenue, >= 0). A customer may have several rows
    (upgrades and downgrades start a new row)."""
    table = "subscriptions"
    raw, name = _read(source, table)
    summary = QualitySummary(table=table, source=name, rows_read=len(raw))
    needed = {
        CUSTOMER: (customer_col, "customer_col"),
        "start_date": (start_col, "start_col"),
        "end_date": (end_col, "end_col"),
        "mrr": (mrr_col, "mrr_col"),
    }
    _require(raw, needed, table)
    mapped = {col for col, _ in needed.values()}
    segments = (
        [c for c in raw.columns if c not in mapped] if segment_cols is None else list(segment_cols)
    )
    problems: list[dict] = []
    out = pd.DataFrame(index=raw.index)
    out[CUSTOMER] = _parse_ids(raw[customer_col], customer_col, summary)
    out["start_date"] = _parse_dates(
        raw[start_col],
        start_col,
        date_format=date_format,
        dayfirst=dayfirst,
        summary=summary,
        problems=problems,
        parameter="start_col",
    )
    end_raw = raw[end_col]
    end_present = end_raw.notna() & (end_raw.astype("string").str.strip() != "")
    end = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    if end_present.any():
        end[end_present] = _parse_dates(
            end_raw[end_present],
            end_col,
            date_format=date_format,
            dayfirst=dayfirst,
            summary=summary,
            problems=problems,
            parameter="end_col",
        )
    out["end_date"] = end
    out["mrr"] = _parse_amounts(raw[mrr_col], mrr_col, summary, problems)
    for col in segments:
        out[col] = raw[col]
    if problems:
        raise DataValidationError(problems, table)
    out = _drop_missing_ids(out, summary)
    _validate(out, schemas.Subscriptions, table, [])
    return _finish(out, summary, "start_date")


def load_costs(
    source: PathOrFrame,
    *,
    period_col: str = "period_start",
    cost_col: str = "cost",
    date_format: str | None = None,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Load retention costs: ``period_start`` (first day of the period) and ``cost`` (>= 0,
    in the currency of the transactions)."""
    table = "retention costs"
    raw, name = _read(source, table)
    summary = QualitySummary(table=table, source=name, rows_read=len(raw))
    _require(
        raw, {"period_start": (period_col, "period_col"), "cost": (cost_col, "cost_col")}, table
    )
    problems: list[dict] = []
    out = pd.DataFrame(index=raw.index)
    out["period_start"] = _parse_dates(
        raw[period_col],
        period_col,
        date_format=date_format,
        dayfirst=dayfirst,
        summary=summary,
        problems=problems,
        parameter="period_col",
    )
    out["cost"] = _parse_amounts(raw[cost_col], cost_col, summary, problems)
    if problems:
        raise DataValidationError(problems, table)
    _validate(out, schemas.RetentionCosts, table, [])
    return _finish(out, summary, "period_start")


# --- built-in data sets ----------------------------------------------------------------


def _lifetimes_dataset(name: str) -> Path:
    """Path of a file shipped in lifetimes' datasets folder, found without importing lifetimes
    (its import changes global state and its datasets module needs pkg_resources)."""
    from importlib.util import find_spec

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
    quantities) are returns; lines without a customer are dropped and counted."""
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
        "online_retail": lambda **kw: load_online_retail(**_only(kw, {"observation_end"})),
    },
    "surveys": {
        "demo": lambda **kw: load_surveys(config.SAMPLE_SURVEYS, **_only(kw, {"observation_end"}))
    },
    "subscriptions": {"demo": lambda **kw: load_subscriptions(config.SAMPLE_SUBSCRIPTIONS)},
    "costs": {"demo": lambda **kw: load_costs(config.SAMPLE_COSTS)},
}
_TX_KW = {"observation_end", "returns", "duplicates"}
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
    notebook parameters can pass ``order_col=""``. Built-in data sets carry their own column
    mapping and ignore the mapping keywords (``observation_end`` still applies).
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
    side = Path(str(source)).with_suffix(".json") if _is_path_like(source) else None
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
    return Path(text).exists() or any(sep in text for sep in ("/", "\\", "."))
