"""Tables as a reader sees them in a report: written-out numbers, no index, no NaN text.

pandas switches a whole float column to scientific notation as soon as its values span a
few orders of magnitude (``3.385705e+08`` next to ``457.0``), shows its index, prints
``NaN`` and lets a wide table run off the page. :func:`readable` returns a copy with every
number written out as text; :func:`report_table` is the display object a report section
shows: numbers right-aligned on one line, periods unbroken, missing values as a dash with a
footnote, and a wide table scrolling inside its own box.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_utils.report.numbers import DASH
from retention_utils.report.style import with_style

# "2024", "2024-01", "2024-01-31", "2024-Q1", "2024-W05", "2024Q1", "2024-01-01/2024-01-07".
_PERIOD = re.compile(r"\d{4}(-?(\d{2}|Q[1-4]|W\d{2})(-\d{2})?)?(/\S+)?")


def readable(
    frame: pd.DataFrame, decimals: int | Mapping[str, int] = 2, *, missing: str = ""
) -> pd.DataFrame:
    """A copy of ``frame`` for display: numbers as text with thousands separators.

    Parameters
    ----------
    frame : DataFrame
        Any table; only numeric columns change.
    decimals : int or mapping of column to int
        Decimals of float columns (default 2); a mapping sets some columns and leaves the
        others at 2. Integer columns get none.
    missing : str
        Text shown for missing values.

    Examples
    --------
    >>> readable(pd.DataFrame({"revenue": [338570500.0, 457.123], "n": [1200, 3]}))
              revenue      n
    0  338,570,500.00  1,200
    1          457.12      3
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        if pd.api.types.is_integer_dtype(values):
            places = 0
        elif isinstance(decimals, Mapping):
            places = int(decimals.get(column, 2))
        else:
            places = int(decimals)
        out[column] = [
            _number(v, places, missing) for v in values.to_numpy(dtype=float, na_value=np.nan)
        ]
    return out


def _number(value: float, places: int, missing: str) -> str:
    if pd.isna(value):
        return missing
    return f"{value:,.{places}f}" if np.isfinite(value) else str(value)


@dataclass(frozen=True)
class ReportTable:
    """A table ready to read: cells as text, a CSS class per column, an optional footnote."""

    cells: pd.DataFrame
    kinds: Mapping[str, str]  # column -> "num", "period" or "text"
    footnote: str | None = None
    caption: str | None = None

    def to_html(self) -> str:
        """The table inside a horizontally scrolling box; every text escaped."""
        head = "".join(
            f'<th scope="col" class="ru-{self.kinds[c]}">{html.escape(str(c))}</th>'
            for c in self.cells.columns
        )
        rows = "".join(
            "<tr>"
            + "".join(
                f'<td class="ru-{self.kinds[c]}">{html.escape(str(v))}</td>'
                for c, v in zip(self.cells.columns, row, strict=True)
            )
            + "</tr>"
            for row in self.cells.itertuples(index=False, name=None)
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        note = (
            f'<p class="ru-table-footnote">{html.escape(self.footnote)}</p>'
            if self.footnote
            else ""
        )
        return (
            f'<div class="ru-table-wrap"><table class="ru-table">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{note}"
        )

    def _repr_html_(self) -> str:
        return with_style(self.to_html())

    def __repr__(self) -> str:
        text = self.cells.to_string(index=False)
        return f"{text}\n{self.footnote}" if self.footnote else text


def report_table(
    frame: pd.DataFrame,
    *,
    decimals: int | Mapping[str, int] = 2,
    index: bool = False,
    percent: Collection[str] = (),
    missing_note: str = "no value for this row",
    caption: str | None = None,
    row_decimals: Mapping[object, int] | None = None,
) -> ReportTable:
    """A DataFrame as a report shows it (SPEC section 5, "Tables are for reading").

    Parameters
    ----------
    frame : DataFrame
        The table; it is not changed.
    decimals : int or mapping of column to int
        Decimals of float columns (see :func:`readable`); integers get none.
    index : bool, default False
        Show the index as leading column(s); only when it carries meaning (e.g. a score
        name), never for a plain row number.
    percent : collection of str
        Columns holding percentages (0-100): their values get a ``" %"`` suffix.
    missing_note : str
        What a missing value means in this table, written in the footnote under it
        ("– means no value for this row") when any value is missing.
    caption : str, optional
        Title shown above the table.
    row_decimals : mapping of row label to int, optional
        Decimals of the numbers in the rows of these index labels, for a table whose rows
        hold different quantities (a count, an amount, a rate). By default
        ``frame.attrs["row_decimals"]``, set by the analysis function that knows its rows
        (e.g. :func:`retention_utils.clv.seed_formula_comparison`).

    Returns
    -------
    ReportTable
        Displayed as HTML in a notebook, as aligned text elsewhere.

    Examples
    --------
    >>> report_table(pd.DataFrame({"period": ["2024-01"], "revenue": [1234567.891]}))
     period      revenue
    2024-01 1,234,567.89
    """
    shown = frame.reset_index() if index else frame
    shown = shown.rename(columns=lambda c: "" if c == "index" and index else c)
    kinds = {c: _kind(shown[c]) for c in shown.columns}
    cells = readable(shown, decimals, missing=DASH)
    rows = frame.attrs.get("row_decimals", {}) if row_decimals is None else row_decimals
    for position, label in enumerate(frame.index):
        if label not in rows:
            continue
        for column in frame.columns:
            value = frame[column].iloc[position]
            if kinds[column] == "num" and not pd.api.types.is_bool_dtype(frame[column]):
                cells.loc[cells.index[position], column] = _number(value, rows[label], DASH)
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            cells[column] = [DASH if pd.isna(v) else _day(v) for v in shown[column]]
        elif kinds[column] != "num" or pd.api.types.is_bool_dtype(shown[column]):
            cells[column] = [DASH if _missing(v) else str(v) for v in shown[column]]
        if column in percent:
            cells[column] = [v if v == DASH else f"{v} %" for v in cells[column]]
    has_missing = any(_missing(v) for c in shown.columns for v in shown[c])
    footnote = f"{DASH} means {missing_note}." if has_missing else None
    return ReportTable(cells, kinds, footnote, caption)


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "text"
    if pd.api.types.is_numeric_dtype(values):
        return "num"
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
        return "period"
    present = [str(v) for v in values if not _missing(v)]
    return "period" if present and all(_PERIOD.fullmatch(v) for v in present) else "text"


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _day(value: pd.Timestamp) -> str:
    stamp = pd.Timestamp(value)
    return (
        stamp.strftime("%Y-%m-%d %H:%M")
        if stamp != stamp.normalize()
        else stamp.strftime("%Y-%m-%d")
    )
