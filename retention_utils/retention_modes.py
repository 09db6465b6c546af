"""Retention modes ("on" and "on or after" period ``k``, calendar or rolling windows) and the
long cohort table that counts them.

Definitions (SPEC section 4, "Retention modes"; the terms of Amplitude and Mixpanel)
-------------------------------------------------------------------------------------
* ``mode="on"`` ("return on period N"): a customer of cohort ``c`` counts in cell ``(c, k)``
  when they have a purchase day in their period ``k``.
* ``mode="on_or_after"`` ("unbounded" retention): when they have a purchase day in period
  ``k`` or any later one up to ``observation_end``. It never rises with ``k``.
* ``window="calendar"``: period ``k`` is the calendar period ``c + k``; a cell is observable
  when that period is complete, and its denominator is the cohort size.
* ``window="rolling"``: period ``k`` is the days ``[first + k*L, first + (k+1)*L)`` after the
  customer's first purchase day (``L`` = 7, 30, 91, 365 days for W, M, Q, Y). A customer is
  **eligible** for cell ``(c, k)`` only when their period ``k`` has ended by
  ``observation_end`` (``first + (k+1)*L - 1 <= observation_end``); the cell's denominator is
  the number of eligible customers, and a cell without any is not observable.

The engine (:func:`retention_utils.engine.cohort_counts`) returns counts per cohort, age and
horizon (the last observed age of a customer); this module turns them into one dense row per
cohort and age by summing over spans of ages, so no customer-level data leave the engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils import engine, periods
from retention_utils.config import CONFIDENCE, DEFAULT_FREQ
from retention_utils.stats import wilson_interval

__all__ = ["MODES", "WINDOWS", "check_mode", "cohort_cells", "cohort_table"]

MODES = ("on", "on_or_after")
WINDOWS = engine.COHORT_WINDOWS


def check_mode(mode: str, window: str) -> None:
    """Raise a ValueError naming the choices when ``mode`` or ``window`` is unknown."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'on' or 'on_or_after', got {mode!r}.")
    if window not in WINDOWS:
        raise ValueError(f"window must be 'calendar' or 'rolling', got {window!r}.")


def cohort_cells(
    counts: pd.DataFrame, *, mode: str = "on", window: str = "calendar", last_observed: int
) -> pd.DataFrame:
    """One row per cohort and age, from age 0 to the oldest age observable in any cohort.

    Parameters
    ----------
    counts : DataFrame
        :func:`retention_utils.engine.cohort_counts` computed with the same ``window``.
    mode, window : str
        See the module docstring.
    last_observed : int
        Index of the last calendar period counted as observed (calendar window only).

    Returns
    -------
    DataFrame
        (``segment``,) ``cohort`` (period index), ``age``, ``cohort_size`` (customers
        acquired), ``eligible`` (customers whose period ``age`` is observed: the denominator;
        0 where none is), ``customers`` (retained in the sense of ``mode``), ``revenue`` and
        ``cumulative_revenue`` (ages ``0 .. age``, both over the eligible customers;
        currency). Cohorts with no eligible customer at age 0 are left out.
    """
    check_mode(mode, window)
    keys = ["segment", "cohort"] if "segment" in counts.columns else ["cohort"]
    rows = counts.copy()
    if window == "calendar":
        rows["horizon"] = last_observed - rows["cohort"]
    first = rows[rows["age"] == 0]
    sizes = first.groupby(keys)["customers"].sum().rename("cohort_size")
    # A customer's ages past their horizon (a rolling period not ended yet) count only for
    # "on or after", as a purchase after an earlier period.
    seen = rows[rows["age"] <= rows["horizon"]]
    spans = {
        "eligible": first.assign(start=0, stop=first["horizon"], weight=first["customers"]),
        "customers": (
            rows.assign(start=0, stop=rows[["age", "horizon"]].min(axis=1), weight=rows["last"])
            if mode == "on_or_after"
            else seen.assign(start=seen["age"], stop=seen["age"], weight=seen["customers"])
        ),
        "revenue": seen.assign(start=seen["age"], stop=seen["age"], weight=seen["revenue_micros"]),
        "cumulative_revenue": seen.assign(
            start=seen["age"], stop=seen["horizon"], weight=seen["revenue_micros"]
        ),
    }
    horizons = first.groupby(keys)["horizon"].max()
    horizons = horizons[horizons >= 0]
    if horizons.empty:
        return pd.DataFrame(columns=[*keys, "age", "cohort_size", *spans])
    ages = int(horizons.max()) + 1
    dense = horizons.index.to_frame(index=False).merge(
        pd.DataFrame({"age": range(ages)}), how="cross"
    )
    for name, frame in spans.items():
        dense[name] = _span_sums(frame, keys, horizons.index, ages).ravel()
    dense = dense.merge(sizes.reset_index(), on=keys, how="left")
    dense["eligible"] = dense["eligible"].round().astype("int64")
    dense["customers"] = dense["customers"].round().astype("int64")
    # Integer micro-units until here, so a span that ends leaves exactly 0 behind.
    for name in ("revenue", "cumulative_revenue"):
        dense[name] = dense[name] / engine.MICROS
    return dense[[*keys, "age", "cohort_size", *spans]]


def _span_sums(spans: pd.DataFrame, keys: list[str], index: pd.Index, ages: int) -> np.ndarray:
    """Array ``(len(index), ages)``: for each key of ``index`` and age ``0 .. ages - 1``, the
    sum of ``weight`` over the ``spans`` rows of that key whose ages ``start .. stop`` hold
    the age (a difference array: +weight at ``start``, -weight after ``stop``)."""
    spans = spans[spans["stop"] >= spans["start"]]
    rows = index.get_indexer(
        pd.MultiIndex.from_frame(spans[keys]) if len(keys) > 1 else spans[keys[0]]
    )
    known = rows >= 0
    rows = rows[known]
    start = spans["start"].to_numpy()[known]
    stop = np.minimum(spans["stop"].to_numpy()[known], ages - 1)
    weight = spans["weight"].to_numpy(dtype="float64")[known]
    steps = np.zeros((len(index), ages + 1))
    np.add.at(steps, (rows, start), weight)
    np.add.at(steps, (rows, stop + 1), -weight)
    return steps.cumsum(axis=1)[:, :ages]


def _last_censored_cohort(first_day: pd.Timestamp, data_start, freq: str) -> int | None:
    """Index of the last left-censored cohort (they run from the first), None for none: the
    cohorts holding a day of data before ``data_start``; by default the first cohort only."""
    if data_start is None:
        return periods.period_index(first_day, freq)
    before = periods.as_day(data_start, "data_start") - pd.Timedelta(days=1)
    return periods.period_index(before, freq) if before >= first_day else None


def cohort_table(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
    mode: str = "on",
    window: str = "calendar",
    include_incomplete: bool = False,
    data_start=None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Every (cohort, age) cell in long form, with retention and revenue measures.

    Parameters
    ----------
    transactions : DataFrame, Parquet/CSV path or glob, or ibis table
        Canonical columns ``customer_id``, ``order_date``, ``amount``, optional ``order_id``
        and segment columns.
    freq : {"W", "M", "Q", "Y"}, default "M"
        Calendar period of cohorts and ages.
    observation_end : date-like, optional
        Last observed day, inclusive (default: the last transaction day).
    segment : str, optional
        Column to split by (customer's value on their first purchase day).
    segment_col, segment_value : optional
        Keep only the customers of one segment (``""``/None: all).
    mode : {"on", "on_or_after"}, default "on"
        Retained at age ``k``: a purchase day in period ``k`` ("on"), or in period ``k`` or
        any later one up to ``observation_end`` ("on_or_after", unbounded retention).
    window : {"calendar", "rolling"}, default "calendar"
        Period ``k``: the calendar period ``cohort + k``, or the days
        ``[first + k*L, first + (k+1)*L)`` after the customer's first purchase day (L = 7,
        30, 91, 365 days for W, M, Q, Y), counted only for the customers whose period ``k``
        has ended (see :mod:`retention_utils.retention_modes`).
    include_incomplete : bool, default False
        Treat a last period cut short by ``observation_end`` as observed (calendar window).
    data_start : date-like, optional
        The day from which the history is complete (no customer bought before it without
        appearing in the data). Default: unknown, so the cohort of the first period of data
        is left-censored. On or before the first day of data: no cohort is.
    confidence : float, default 0.95
        Level of the Wilson intervals of the retention points.

    Returns
    -------
    DataFrame
        One row per (``segment``,) ``cohort`` and ``age``, from age 0 to the oldest age
        observable for any cohort (cohorts acquired after the last observable period are
        left out):
        ``cohort`` (pandas Period), ``age`` (int, periods), ``period`` (Period ``cohort +
        age``; calendar), ``observable`` (bool: ``eligible > 0``), ``left_censored`` (bool:
        the cohort may hold customers acquired before the data begin), ``cohort_size``
        (customers acquired), ``eligible`` (customers whose period ``age`` is observed, the
        denominator: the cohort size in calendar windows, fewer in rolling ones),
        ``customers`` (retained in the sense of ``mode``), ``retention`` (customers /
        eligible, fraction), ``retention_low``, ``retention_high`` (Wilson interval,
        fraction), ``revenue``, ``revenue_per_customer`` (revenue / eligible),
        ``cumulative_revenue`` and ``cumulative_revenue_per_customer`` (sums over ages
        ``0 .. age``; currency). Unobservable cells hold NaN in every measure.
    """
    check_mode(mode, window)
    counts = engine.cohort_counts(
        transactions,
        freq=freq,
        observation_end=observation_end,
        window=window,
        segment=segment,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    grid: periods.PeriodGrid = counts.attrs["grid"]
    last_observed = grid.last if include_incomplete or not grid.incomplete_last else grid.last - 1
    keys = ["segment", "cohort"] if segment else ["cohort"]
    attrs = {
        "freq": freq,
        "observation_end": grid.observation_end,
        "incomplete_last": grid.incomplete_last,
        "mode": mode,
        "window": window,
    }
    cells = cohort_cells(counts, mode=mode, window=window, last_observed=last_observed)
    if cells.empty:
        empty = pd.DataFrame(columns=[*keys, *_TABLE_COLUMNS])
        empty.attrs = attrs
        return empty
    cells["observable"] = cells["eligible"] > 0
    last_censored = _last_censored_cohort(counts.attrs["first_day"], data_start, freq)
    cells["left_censored"] = last_censored is not None and cells["cohort"] <= last_censored
    obs = cells["observable"]
    for col in ("customers", "revenue", "cumulative_revenue"):
        cells[col] = cells[col].astype(float).where(obs)
    n = cells["eligible"].astype(float).where(obs)
    cells["retention"] = cells["customers"] / n
    low, high = wilson_interval(
        cells["customers"].fillna(0).to_numpy(), n.fillna(0).to_numpy(), confidence
    )
    cells["retention_low"] = np.where(obs, low, np.nan)
    cells["retention_high"] = np.where(obs, high, np.nan)
    cells["revenue_per_customer"] = cells["revenue"] / n
    cells["cumulative_revenue_per_customer"] = cells["cumulative_revenue"] / n
    cells["period"] = pd.PeriodIndex(
        [periods.period_label(i, freq) for i in cells["cohort"] + cells["age"]], freq=freq
    )
    cells["cohort"] = pd.PeriodIndex([periods.period_label(i, freq) for i in cells["cohort"]])
    out = cells.sort_values([*keys, "age"]).reset_index(drop=True)[[*keys, *_TABLE_COLUMNS]]
    out.attrs = attrs
    return out


_TABLE_COLUMNS = [
    "age",
    "period",
    "observable",
    "left_censored",
    "cohort_size",
    "eligible",
    "customers",
    "retention",
    "retention_low",
    "retention_high",
    "revenue",
    "revenue_per_customer",
    "cumulative_revenue",
    "cumulative_revenue_per_customer",
]
