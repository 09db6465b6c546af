"""Numbers as a reader sees them: thousands separators, fixed decimals, never 3.1e-14."""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

#: Shown instead of a missing figure, in tiles and tables.
DASH = "–"

#: Decimals of a headline figure by unit, as in its recorded text
#: (:func:`retention_utils.record.format_value`): percentages and years to a tenth, day and
#: week counts whole.
_UNIT_DECIMALS = {"%": 1, "pp": 1, "points": 1, "% of max": 1, "years": 1, "days": 0, "weeks": 0}
#: A currency code ("EUR", "GBP"): money has two decimals.
_CURRENCY = re.compile(r"[A-Z]{3}")


def format_number(value: Any, *, decimals: int | None = None) -> str:
    """Text of a number with thousands separators and no scientific notation.

    Parameters
    ----------
    value : int, float or None
        The number; None, NaN and numpy missing values give :data:`DASH`.
    decimals : int, optional
        Decimals of a float. By default 2, or 3 significant digits below 1 (``0.000123``).
        Integers never get decimals.

    Examples
    --------
    >>> format_number(1234567.891)
    '1,234,567.89'
    >>> format_number(0.0001234)
    '0.000123'
    """
    if value is None or isinstance(value, bool) or not isinstance(value, Real):
        return DASH if value is None else str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return DASH
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if decimals is None:
        magnitude = abs(value)
        decimals = 2 if magnitude >= 1 or magnitude == 0 else 2 - math.floor(math.log10(magnitude))
    text = f"{value:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def format_figure(value: Any, unit: str | None = None, *, signed: bool = False) -> str:
    """Text of a headline figure with its unit: ``"4,334"``, ``"23.4 %"``, ``"12.30 GBP"``.

    The precision follows the unit, as in the figure's recorded text: percent-like units
    (``%``, ``pp``, ``points``) and years one decimal, days and weeks none, money (a
    three-letter currency code) two; a whole number without a unit is a count and gets none
    (``5763.0`` is ``"5,763"``); other floats as :func:`format_number`. ``signed`` writes a
    ``+`` before positive numbers.

    Examples
    --------
    >>> format_figure(1.5979, "years"), format_figure(5763.0), format_figure(0.5, "EUR")
    ('1.6 years', '5,763', '0.50 EUR')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    text = format_number(value, decimals=_figure_decimals(value, unit))
    if signed and isinstance(value, Real) and value > 0:
        text = "+" + text
    return f"{text} {unit}" if unit else text


def _figure_decimals(value: Any, unit: str | None) -> int | None:
    """Decimals of a float figure in ``unit`` (None: :func:`format_number`'s default)."""
    if not isinstance(value, Real) or isinstance(value, Integral) or not math.isfinite(value):
        return None
    if unit in _UNIT_DECIMALS:
        return _UNIT_DECIMALS[unit]
    if unit and _CURRENCY.fullmatch(unit):
        return 2
    return 0 if not unit and float(value).is_integer() else None


def format_interval(low: Any, high: Any, unit: str | None = None) -> str | None:
    """``"18.1 to 24.0 %"``: an interval in the figure's unit, or None when a bound is
    missing."""
    if low is None or high is None:
        return None
    low_text = format_figure(low, unit).removesuffix(f" {unit}" if unit else "")
    return f"{low_text} to {format_figure(high, unit)}"


def format_p_value(p: float) -> str:
    """``"p < 0.001"``, ``"p = 0.003"``, ``"p = 0.03"`` or ``"p = 0.41"``: as read in a report.

    Examples
    --------
    >>> format_p_value(3.1e-14)
    'p < 0.001'
    """
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
