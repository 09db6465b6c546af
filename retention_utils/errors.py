"""The one exception for data that breaks the data contract, and the helper that builds its
entries (SPEC sections 3 and 6). Every module that checks data raises through here, so an
analyst sees every problem of a table at once, each with its column, rows and a hint."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: How many example values (and their row numbers) a problem entry shows.
EXAMPLES = 5

__all__ = ["EXAMPLES", "DataValidationError", "example_value", "problem", "whole_number"]


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


def problem(
    column: str, rule: str, mask: pd.Series, values: pd.Series, hint: str | None = None
) -> dict:
    """One broken rule as an entry of :class:`DataValidationError`.

    ``mask`` marks the offending rows of ``values`` (same length, positional); row numbers
    count from 1 in the order of ``values``, each shown with its value.
    """
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return {
        "column": column,
        "rule": rule,
        "count": int(len(idx)),
        "examples": [example_value(values.iloc[i]) for i in idx[:EXAMPLES]],
        "rows": [int(i) + 1 for i in idx[:EXAMPLES]],
        **({"hint": hint} if hint else {}),
    }


def example_value(value: Any) -> Any:
    """A value as it reads in a message: plain Python, NaN as None."""
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str) else str(value)


def whole_number(value: Any, name: str, *, minimum: int = 1, unit: str = "") -> int:
    """``value`` as an int when it is a whole number >= ``minimum`` (bools refused), else a
    ``ValueError`` naming the parameter, e.g. "active_days must be a whole number of days >= 1,
    got 0." (``unit="days"``)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        shown = int(value) if isinstance(value, np.integer) else value
        of = f" of {unit}" if unit else ""
        raise ValueError(f"{name} must be a whole number{of} >= {minimum}, got {shown!r}.")
    return int(value)
