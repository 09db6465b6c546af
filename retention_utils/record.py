"""Headline figures: notebooks record them, the batch runner reads them for the index.

A notebook calls :func:`record` once per headline figure. In a kernel the figure is published
as a display output carrying a JSON payload under :data:`MIME_TYPE` (for the runner) and a
plain-text line (for the reader). The runner reads the payloads back from the executed
notebook with :func:`read_headlines`; no side files and no extra dependency are involved.

Every payload is also kept in a per-kernel registry (:func:`recorded_headlines`,
:func:`recorded_cautions`, :func:`reset`), from which the report's summary block is built.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from numbers import Integral, Real
from typing import Any

MIME_TYPE = "application/vnd.retention-utils.headline+json"
#: Display payload of a caution: ``{"text": sentence, "section": name or None}``.
CAUTION_MIME_TYPE = "application/vnd.retention-utils.caution+json"

#: Payloads recorded in this kernel, in order: headlines (``name`` key) and cautions.
_RECORDED: list[dict] = []


def _plain(value: Any) -> Any:
    """JSON-safe Python value (numpy scalars to int/float, NaN to None)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    return str(value)


#: Decimals of a float headline in these units: rates to a tenth of a percent, day counts
#: whole, years to a tenth.
_UNIT_DECIMALS = {"%": 1, "pp": 1, "points": 1, "days": 0, "weeks": 0, "years": 1}


def format_value(value: Any, unit: str | None = None) -> str:
    """Human-readable text of a headline value at its precision.

    Integers and whole floats get no decimals ("4,372", "633 days"), day counts none,
    percentages and years one ("70.0 %", "2.3 years"), money (a three-letter currency code)
    two ("12.30 GBP"), other numbers two, or three significant digits below 1.

    Examples
    --------
    >>> format_value(633.0, "days"), format_value(12.3, "GBP"), format_value(0.01234)
    ('633 days', '12.30 GBP', '0.0123')
    """
    if value is None:
        text = "n/a"
    elif isinstance(value, bool):
        text = str(value)
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        text = f"{value:,.{_decimals(value, unit)}f}"
    else:
        text = str(value)
    if unit and value is not None:
        text = f"{text} {unit}"
    return text


def _decimals(value: float, unit: str | None) -> int:
    """Decimals of a float headline (see :func:`format_value`)."""
    if unit in _UNIT_DECIMALS:
        return _UNIT_DECIMALS[unit]
    if unit and len(unit) == 3 and unit.isalpha() and unit.isupper():
        return 2
    if not math.isfinite(value) or value.is_integer():
        return 0
    magnitude = abs(value)
    return 2 if magnitude >= 1 else 2 - math.floor(math.log10(magnitude))


def record(
    name: str,
    value: Any,
    *,
    label: str | None = None,
    unit: str | None = None,
    low: Any = None,
    high: Any = None,
    note: str | None = None,
) -> dict:
    """Record one headline figure of a report.

    Parameters
    ----------
    name : str
        Stable key, e.g. ``"customers"`` or ``"retention_rate_last"``.
    value : int, float, str, bool or None
        The figure; numpy scalars are converted, NaN becomes None.
    label : str, optional
        Text shown in the report index (defaults to ``name``).
    unit : str, optional
        Unit shown after the value, e.g. ``"%"`` or a currency code.
    low, high : int or float, optional
        Bounds of the figure's interval (e.g. a 95 % confidence interval), in ``unit``.
    note : str, optional
        A short qualifier shown under the figure, e.g. ``"n=4,334; last complete month
        2011-11"``.

    Returns
    -------
    dict
        The recorded payload (``name``, ``label``, ``value``, ``unit``, ``text``, ``low``,
        ``high``, ``note``).
    """
    payload = {
        "name": str(name),
        "label": str(label or name),
        "value": _plain(value),
        "unit": unit,
    }
    payload["text"] = format_value(payload["value"], unit)
    payload.update(low=_plain(low), high=_plain(high), note=note)
    line = f"{payload['label']}: {payload['text']}"
    if payload["low"] is not None and payload["high"] is not None:
        line += f" ({format_value(payload['low'])} to {format_value(payload['high'])})"
    _RECORDED.append(payload)
    _publish({MIME_TYPE: payload, "text/plain": line + (f"; {note}" if note else "")})
    return payload


def caution(text: str, *, section: str | None = None) -> dict:
    """Record a caution of a report: a sentence the reader must see before trusting a figure.

    A report with at least one caution ends with the status ``caution`` instead of ``ok``; the
    batch runner lists the sentences in ``summary.json`` and the index.

    Parameters
    ----------
    text : str
        One or two plain sentences: what is wrong and what it means for the figures.
    section : str, optional
        The report section the caution belongs to, e.g. ``"CLV"``.

    Returns
    -------
    dict
        The recorded payload (``text``, ``section``).
    """
    payload = {"text": str(text), "section": section}
    _RECORDED.append(payload)
    _publish({CAUTION_MIME_TYPE: payload, "text/markdown": f"**Caution.** {payload['text']}"})
    return payload


def record_all(figures: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Record several headline figures, each a mapping of :func:`record`'s arguments.

    Analysis modules build their headline figures as data (``{"name": ..., "value": ...,
    "label": ..., "unit": ..., "low": ..., "high": ..., "note": ...}``), so a notebook
    records a whole section's figures with one call.

    Returns
    -------
    list of dict
        The recorded payloads, in order.
    """
    return [record(**figure) for figure in figures]


def caution_all(texts: Iterable[str], *, section: str | None = None) -> list[dict]:
    """Record several cautions of one report section (see :func:`caution`)."""
    return [caution(text, section=section) for text in texts]


def _publish(bundle: dict) -> None:
    """Display a MIME bundle when running in a kernel; nothing outside one."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is not None:
        display(bundle, raw=True)


def reset() -> None:
    """Forget every payload recorded in this kernel (for tests and re-run notebooks)."""
    _RECORDED.clear()


def recorded_headlines() -> list[dict]:
    """Headline payloads recorded in this kernel, in order; a name recorded twice keeps its
    last value (as :func:`read_headlines`)."""
    return _last_per_name(p for p in _RECORDED if "name" in p)


def recorded_cautions() -> list[dict]:
    """Caution payloads (``text``, ``section``) recorded in this kernel, in order, each text
    once (as :func:`read_cautions`)."""
    return _first_per_text(p for p in _RECORDED if "name" not in p)


def _outputs(notebook: Any, mime_type: str) -> Iterator[dict]:
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(mime_type)
            if payload:
                yield dict(payload)


def _last_per_name(payloads: Iterable[dict]) -> list[dict]:
    found: dict[str, dict] = {}
    for payload in payloads:
        found.pop(payload.get("name"), None)
        found[payload.get("name")] = dict(payload)
    return list(found.values())


def _first_per_text(payloads: Iterable[dict]) -> list[dict]:
    found: dict[str, dict] = {}
    for payload in payloads:
        found.setdefault(payload.get("text"), dict(payload))
    return list(found.values())


def read_cautions(notebook: Any) -> list[str]:
    """Caution sentences recorded in an executed notebook, in order, each once."""
    return [p["text"] for p in _first_per_text(_outputs(notebook, CAUTION_MIME_TYPE))]


def read_headlines(notebook: Any) -> list[dict]:
    """Headline payloads recorded in an executed notebook (an ``nbformat`` node), in order.

    A name recorded twice keeps its last value.
    """
    return _last_per_name(_outputs(notebook, MIME_TYPE))
