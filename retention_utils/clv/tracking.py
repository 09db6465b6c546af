"""Repeat purchases over calendar time, actual against what the fitted BG/NBD expects
(Fader, Hardie & Lee 2005, figure 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils.clv.base import model_unit_days, quiet_lifetimes
from retention_utils.clv.models import family_of


def repeat_purchase_tracking(
    counts: pd.DataFrame,
    bgf,
    *,
    calibration_end=None,
    unit_days: float | None = None,
    period: str = "W",
) -> pd.DataFrame:
    """Repeat purchases over calendar time: actual vs expected under the fitted BG/NBD.

    Expected repeat purchases by day ``d`` are ``sum_c n_c E[X((d - c) / unit)]`` over the
    days ``c`` on which ``n_c`` customers made their first purchase (Fader, Hardie & Lee
    2005, figure 2), so customers acquired after the calibration period count too.

    Parameters
    ----------
    counts : DataFrame
        :func:`retention_utils.engine.purchase_tracking` output: ``day``,
        ``first_purchases`` and ``repeat_purchases`` per calendar day.
    bgf
        Fitted BG/NBD model (usually on the calibration period).
    calibration_end : date-like, optional
        Marked on the plots; recorded in ``attrs``.
    unit_days : float, optional
        Days per model time unit; default ``bgf.unit_days_`` set by ``fit_bgnbd``.
    period : {"W", "D", "M"}
        Calendar period of the rows (pandas alias; weeks end on Sunday).

    Returns
    -------
    DataFrame
        Indexed by period end (``day``; the last one is cut at the observation end):
        ``actual`` and ``expected`` repeat purchases in the period, ``actual_cumulative``
        and ``expected_cumulative`` up to the period end, and ``complete`` (False for a
        last period cut short).
    """
    days_per_unit = model_unit_days(bgf, unit_days)
    lags = np.arange(len(counts), dtype=float) / days_per_unit
    with quiet_lifetimes():
        per_customer = np.asarray(bgf.expected_number_of_purchases_up_to_time(lags), dtype=float)
    per_customer[0] = 0.0
    first = counts["first_purchases"].to_numpy(dtype=float)
    expected_cum = np.convolve(first, per_customer)[: len(counts)]
    daily = pd.DataFrame(
        {
            "actual_cumulative": counts["repeat_purchases"].cumsum().to_numpy(dtype=float),
            "expected_cumulative": expected_cum,
        },
        index=pd.DatetimeIndex(counts["day"], name="day"),
    )
    out = daily.resample(period).last() if period != "D" else daily.copy()
    last_day = daily.index[-1]
    out["complete"] = out.index <= last_day  # the last period may end after the data
    out.index = out.index.where(out.index <= last_day, last_day)
    out.index.name = "day"
    out.insert(0, "actual", out["actual_cumulative"].diff().fillna(out["actual_cumulative"]))
    out.insert(1, "expected", out["expected_cumulative"].diff().fillna(out["expected_cumulative"]))
    out.attrs.update(
        observation_end=counts.attrs.get("observation_end"),
        calibration_end=None
        if calibration_end is None
        else pd.Timestamp(calibration_end).date().isoformat(),
        period=period,
        model=family_of(bgf)[1].label,
    )
    return out
