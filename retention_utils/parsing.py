"""Column parsers: one explicit rule per column (SPEC section 3).

Each parser takes a raw column (text cells from a CSV, or typed cells from Parquet, Excel or a
DataFrame), returns the parsed column, appends what it corrected to the quality summary and
what it refused to ``problems`` (entries of :class:`retention_utils.DataValidationError`).
Plain numeric columns take a vectorised fast path; text goes through one regular expression
per column, never a Python loop over rows.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from retention_utils.errors import EXAMPLES, problem
from retention_utils.quality import QualitySummary

__all__ = [
    "NumberFormat",
    "parse_amounts",
    "parse_dates",
    "parse_ids",
    "parse_numbers",
    "parse_scores",
]

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
#: Largest whole number a float holds exactly (2**53): larger float IDs have lost digits.
_EXACT_FLOAT = 2.0**53

# --- IDs ----------------------------------------------------------------------------------


def parse_ids(
    raw: pd.Series, column: str, summary: QualitySummary, problems: list[dict]
) -> pd.Series:
    """IDs as strings: leading zeros kept, ``12345.0`` from a float column becomes ``12345``,
    surrounding spaces trimmed (counted). A float ID of 2**53 or more (``1e20``) has lost
    digits and cannot be written exactly as text: an error naming the column."""
    if is_numeric_dtype(raw) and not is_bool_dtype(raw):
        values = raw.astype("float64")
        if raw.dtype.kind == "f":
            inexact = values.abs() >= _EXACT_FLOAT
            if inexact.any():
                problems.append(
                    problem(
                        column,
                        "IDs stored as floats too large to be written exactly as text "
                        "(digits beyond the 16th are lost)",
                        inexact,
                        raw,
                        hint=f"Export {column} as text (quote it in the CSV, or format the "
                        "spreadsheet column as Text), so that every digit is kept",
                    )
                )
                return values.astype("string").astype("str")
        present = values.dropna()
        if len(present) and (present == np.round(present)).all():
            text = values.astype("Int64").astype("string")
            if raw.dtype.kind == "f":
                summary.corrections.append(
                    f"{column}: IDs stored as floats (e.g. 17850.0) read as whole numbers (17850)"
                )
        else:
            text = values.astype("string")
        return text.astype("str")
    text = raw.astype("string")
    stripped = text.str.strip()
    trimmed = int((stripped != text).sum())
    if trimmed:
        summary.corrections.append(f"{column}: {trimmed:,} IDs trimmed of surrounding spaces")
    text = stripped.where(stripped != "")
    present = text.dropna()
    looks_float = len(present) and re.fullmatch(r"\d+\.0", str(present.iloc[0]))
    if looks_float and present.str.fullmatch(r"\d+\.0").all():  # first value first: fast
        text = text.str.replace(r"\.0$", "", regex=True)
        summary.corrections.append(
            f"{column}: IDs written as floats (e.g. '12345.0') read as '12345'"
        )
    return text.astype("str")


# --- dates --------------------------------------------------------------------------------


def _no_dates(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NaT, index=index, dtype="datetime64[us]")


def parse_dates(
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
        problems.append(problem(column, "no dates in this column", ~present, raw))
        return _no_dates(raw.index)
    first = text[present].iloc[0]
    if date_format:
        fmt = date_format
    elif _ISO_START.match(first) and not dayfirst:
        fmt = "ISO8601"
    else:
        with warnings.catch_warnings():  # pandas warns when the first value is day-first
            warnings.simplefilter("ignore", UserWarning)
            fmt = pd.core.tools.datetimes.guess_datetime_format(first, dayfirst=dayfirst)
        if fmt is None:
            problems.append(
                problem(
                    column,
                    "cannot tell the date format from the first value",
                    present & (text == first),
                    raw,
                    hint=f"Pass date_format= (e.g. date_format='%d/%m/%Y') with {parameter}",
                )
            )
            return _no_dates(raw.index)
        if not dayfirst and re.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", first):
            summary.corrections.append(
                f"{column}: dates like {first!r} read day-first ({fmt}), as its day above 12 shows"
                if fmt.startswith("%d")
                else f"{column}: dates like {first!r} read month-first ({fmt}); "
                "pass dayfirst=True if they are day-first"
            )
    has_offset = text.str.contains(_OFFSET, na=False)
    with_offsets = bool(has_offset.any())
    if with_offsets and not has_offset[present].all():
        problems.append(
            problem(
                column,
                "mixes timestamps with and without a time-zone offset",
                present & ~has_offset,
                raw,
                hint="Give every timestamp an offset (or none) so they can be put on one clock",
            )
        )
        return _no_dates(raw.index)
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
            problem(
                column, f"values that do not parse as dates in format {rule_text}", bad, raw, hint
            )
        )
    missing = ~present
    if missing.any():
        problems.append(problem(column, "missing dates", missing, raw))
    return parsed.astype("datetime64[us]")


# --- numbers and money --------------------------------------------------------------------

_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space (pl, fr exports)
_WS = r"[ \t\u00a0\u202f]*"
#: Currency marks stripped from amounts: symbols, and any ISO 4217-like three-letter code.
_CURRENCY = r"\$|€|£|¥|₽|zł|kr|Kč|Ft|[A-Z]{3}"
#: What a mark means, so that "€" and "EUR" in one column are one currency.
_CURRENCY_CODE = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₽": "RUB", "zł": "PLN"}
_CURRENCY_CODE |= {"Kč": "CZK", "Ft": "HUF"}
_KRONA = {"SEK", "NOK", "DKK", "ISK"}  # "kr" is the krona of whichever one is named
_THOUSANDS = {None, "", ",", ".", "'", *_SPACES}


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written in text cells.

    ``decimal``: ``"."`` (default) or ``","``. ``thousands``: the grouping separator; default
    ``","`` with a decimal point, and a space (also no-break or narrow no-break) or ``"."``
    with a decimal comma. ``thousands=" "`` accepts all three kinds of space.
    """

    decimal: str = "."
    thousands: str | None = None

    def __post_init__(self) -> None:
        if self.decimal not in {".", ","}:
            raise ValueError(f"decimal must be '.' or ',', not {self.decimal!r}.")
        if self.thousands not in _THOUSANDS or self.thousands == self.decimal:
            raise ValueError(
                f"thousands must be ' ', '.', ',' or \"'\" and differ from decimal "
                f"({self.decimal!r}), not {self.thousands!r}."
            )

    @property
    def separators(self) -> str:
        """Characters accepted between groups of three digits."""
        if self.thousands in (None, ""):
            return "," if self.decimal == "." else _SPACES + "."
        return _SPACES if self.thousands in _SPACES else self.thousands

    def pattern(self, *, currency: bool = True) -> str:
        """A regular expression reading one amount: sign, parentheses, currency, number."""
        seps = "".join(re.escape(c) for c in self.separators)
        dec = re.escape(self.decimal)
        number = (
            rf"(?:(?P<int>\d{{1,3}}(?:[{seps}]\d{{3}})+|\d+)(?:{dec}(?P<frac>\d*))?"
            rf"|{dec}(?P<frac2>\d+))"
        )
        cur_pre = rf"(?:(?P<pre>{_CURRENCY}){_WS})?" if currency else ""
        cur_post = rf"(?P<post>{_CURRENCY})?{_WS}" if currency else ""
        return (
            rf"^(?P<neg>[-−])?{_WS}(?P<open>\()?{_WS}(?P<neg2>[-−])?{_WS}{cur_pre}"
            rf"(?P<neg3>[-−])?{_WS}{number}{_WS}{cur_post}(?P<close>\))?$"
        )


_EUROPEAN = NumberFormat(decimal=",")


def _plain_numbers(text: pd.Series, number_format: NumberFormat) -> pd.Series:
    """Values written as plain numbers (``12.5``, or ``12,5`` with a decimal comma): the fast
    path, vectorised; NaN elsewhere."""
    if number_format.decimal == ",":
        text = text.where(~text.str.contains(".", regex=False, na=False))
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _number_cells(raw: pd.Series) -> pd.Series:
    """Cells of a Python-object column (a spreadsheet's) that hold numbers, not text: they are
    numbers whatever ``decimal=`` says. Per cell, but only for object columns."""
    if raw.dtype != object:
        return pd.Series(False, index=raw.index)
    kinds = raw.map(type)
    return kinds.isin([int, float, np.int64, np.float64]) & raw.notna()


def _text_numbers(raw: pd.Series, number_format: NumberFormat) -> tuple[pd.Series, pd.Series]:
    """Numbers of a column that is not numeric: (values, stripped text); NaN where the value
    is not a plain number."""
    given = _number_cells(raw)
    text = raw.astype("string").str.strip()
    values = _plain_numbers(text.where(~given), number_format)
    if given.any():
        values[given] = raw[given].astype("float64")
        text = text.where(~given, "0")
    return values, text


def _read_numbers(text: pd.Series, number_format: NumberFormat, *, currency: bool = True):
    """Numbers read by the full pattern: (values with NaN where it fails, currency marks)."""
    parts = text.astype(object).str.extract(number_format.pattern(currency=currency))
    seps = "[" + "".join(re.escape(c) for c in number_format.separators) + "]"
    whole = parts["int"].str.replace(seps, "", regex=True).fillna("0")
    fraction = parts["frac"].fillna(parts["frac2"]).fillna("")
    values = pd.to_numeric(whole + "." + fraction, errors="coerce").astype("float64")
    matched = (parts["int"].notna() | parts["frac2"].notna()) & (
        parts["open"].isna() == parts["close"].isna()
    )
    negative = parts[["neg", "neg2", "neg3", "open"]].notna().any(axis=1)
    values = values.where(~negative, -values).where(matched)
    marks = pd.Series(np.nan, index=text.index, dtype=object)
    if currency:
        marks = parts["pre"].fillna(parts["post"]).where(matched)
    return values, marks


def parse_amounts(
    raw: pd.Series,
    column: str,
    summary: QualitySummary,
    problems: list[dict],
    number_format: NumberFormat | None = None,
) -> pd.Series:
    """Money: numbers, or text like ``"$1,234.50"``, ``"(12.00)"`` (negative), ``"-3.5"``;
    with ``decimal=","`` also ``"1 234,50 zł"`` and ``"€1.234,50"``.

    Currency marks (``$ € £ zł PLN kr SEK ₽ RUB EUR USD GBP`` and other three-letter codes)
    before or after the number are removed and counted; a column mixing two currencies is
    an error with examples of each. Without ``decimal=","``, values that read as European
    numbers are refused with a message naming ``decimal=","``. Anything else (``"twelve"``)
    is reported with examples, never NaN.
    """
    number_format = number_format or NumberFormat()
    if is_numeric_dtype(raw) and not is_bool_dtype(raw):
        values = raw.astype("float64")
        bad = values.isna() | ~np.isfinite(values.fillna(0))
        if bad.any():
            problems.append(problem(column, "missing or infinite amounts", bad, raw))
        return values
    values, text = _text_numbers(raw, number_format)
    rest = values.isna() & text.notna()
    marks = pd.Series(np.nan, index=raw.index, dtype=object)
    if rest.any():
        parsed, found = _read_numbers(text[rest], number_format)
        values[rest] = parsed
        marks[rest] = found
    if number_format.decimal == ",":
        read = int(values.notna().sum())
        summary.corrections.append(
            f"{column}: {read:,} amounts read with a decimal comma (decimal=',')"
        )
    else:
        converted = int((rest & values.notna()).sum())
        if converted:
            summary.corrections.append(
                f"{column}: {converted:,} amounts parsed from currency text "
                "(symbols and thousands separators removed, parentheses read as negative)"
            )
    _check_currencies(marks, raw, column, summary, problems)
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    if bad.any():
        _report_bad_numbers(text, bad, raw, column, number_format, problems)
    return values


def _check_currencies(
    marks: pd.Series, raw: pd.Series, column: str, summary: QualitySummary, problems: list[dict]
) -> None:
    present = marks.notna()
    if not present.any():
        return
    written = marks[present]
    codes = written.map({m: _CURRENCY_CODE.get(m, m) for m in pd.unique(written)})
    named = set(codes) - {"kr"}
    if "kr" in set(codes) and len(named & _KRONA) == 1:
        codes = codes.replace("kr", next(iter(named & _KRONA)))
    counts = codes.value_counts(sort=False)
    if len(counts) > 1:
        # Examples of every currency: the first rows of each, in turn.
        first = pd.Series(np.arange(len(codes)), index=codes.index).groupby(codes).rank()
        order = np.lexsort((np.arange(len(codes)), first.to_numpy()))
        shown = codes.index[order[:EXAMPLES]]
        entry = problem(
            column,
            f"mixes {len(counts)} currencies: "
            + ", ".join(
                f"{code} on {n:,} row{'s' if n != 1 else ''}" for code, n in counts.items()
            ),
            raw.index.isin(shown),
            raw,
            hint="Amounts in different currencies cannot be added up: convert them to one "
            "currency before loading, or load each currency's rows separately",
        )
        problems.append({**entry, "count": int(present.sum())})
        return
    summary.corrections.append(
        f"{column}: currency marks ({', '.join(sorted(pd.unique(written)))}) removed from "
        f"{int(present.sum()):,} amounts"
    )


def _report_bad_numbers(
    text: pd.Series,
    bad: pd.Series,
    raw: pd.Series,
    column: str,
    number_format: NumberFormat,
    problems: list[dict],
) -> None:
    if number_format.decimal == ".":
        european, _ = _read_numbers(text[bad & text.notna()], _EUROPEAN)
        looks_european = european.notna().reindex(raw.index, fill_value=False)
        if looks_european.any():
            problems.append(
                problem(
                    column,
                    "values that look like European numbers (decimal comma)",
                    looks_european,
                    raw,
                    hint="Pass decimal=',' to read numbers such as 1 234,50 or 1.234,50 "
                    "(with thousands=' ' or thousands='.' for the thousands separator)",
                )
            )
            bad = bad & ~looks_european
        hint = "Use plain numbers with '.' as the decimal point (e.g. 1234.50)"
    elif (bad & text.notna()).any():
        hint = (
            "With decimal=',' amounts are written like 1 234,50; for 1,234.50 leave decimal= "
            "out (or pass decimal='.')"
        )
    else:
        hint = "Every line needs an amount (0 for a free item)"
    if bad.any():
        problems.append(problem(column, "values that are not amounts", bad, raw, hint=hint))


def parse_numbers(
    raw: pd.Series,
    column: str,
    problems: list[dict],
    number_format: NumberFormat | None = None,
    *,
    required: bool = True,
) -> pd.Series:
    """Plain quantities (no currency): numbers, or text in ``number_format``."""
    number_format = number_format or NumberFormat()
    if is_numeric_dtype(raw) and not is_bool_dtype(raw):
        values = raw.astype("float64")
    else:
        values, text = _text_numbers(raw, number_format)
        rest = values.isna() & text.notna()
        if rest.any():
            values[rest] = _read_numbers(text[rest], number_format, currency=False)[0]
    bad = raw.notna() & values.isna()
    if required:
        bad = bad | raw.isna()
    if bad.any():
        problems.append(problem(column, "values that are not numbers", bad, raw))
    return values


def parse_scores(
    raw: pd.Series,
    column: str,
    low: int,
    high: int,
    problems: list[dict],
    *,
    hint: str | None = None,
) -> pd.Series:
    """Survey scores: whole numbers within ``[low, high]``, or empty (a skipped question).

    The one validator of scores, used by the survey loader and the score functions of
    :mod:`retention_utils.satisfaction`; each broken rule is appended to ``problems`` (with
    ``hint`` when given). Returns the scores as ``Int64`` (missing where skipped or broken).
    """
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    if is_numeric_dtype(raw):
        not_number = pd.Series(False, index=raw.index)
    else:
        text = raw.astype("string").str.strip()
        not_number = text.notna() & (text != "") & values.isna()
    if not_number.any():
        problems.append(problem(column, "scores that are not numbers", not_number, raw, hint))
    fractional = values.notna() & np.isfinite(values) & (values != np.round(values))
    if fractional.any():
        problems.append(problem(column, "scores that are not whole numbers", fractional, raw, hint))
    outside = values.notna() & ~fractional & ((values < low) | (values > high))
    if outside.any():
        problems.append(
            problem(
                column,
                f"scores outside the {low}-{high} scale",
                outside,
                raw,
                hint=hint
                or "Check the scale parameter (csat_scale_max=, ces_scale_max=) or the export",
            )
        )
    return values.where(~fractional & ~outside).round().astype("Int64")
