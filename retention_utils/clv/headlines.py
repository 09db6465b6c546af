"""What the CLV report states, built as data: its headline figures, the tables it shows, and
the sentence that replaces the P(alive) views when no model identifies dropout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retention_utils.clv.holdout import HoldoutValidation
from retention_utils.clv.models import dropout_detail, dropout_identified, family_of

#: Where the report explains that P(alive) cannot be estimated (a section title).
ALIVE_SECTION = "Who is still active?"
#: Columns of the customer lists the report shows (P(alive) only when it is estimated).
LIST_COLUMNS = (
    "revenue",
    "orders",
    "last_purchase",
    "p_alive",
    "expected_purchases",
    "clv",
    "clv_low",
    "clv_high",
    "clv_rank",
    "segment",
)


def alive_statement(fitter) -> str:
    """What the P(alive) views of the report mean for this fit, in one sentence.

    When the purchase model identifies dropout (:func:`~retention_utils.clv.dropout_identified`),
    how to read the heatmaps; otherwise why P(alive) cannot be estimated from this history and
    what the figures still mean.
    """
    if dropout_identified(fitter):
        return (
            "Customers who used to buy often but have been silent for long (bottom right of "
            "each heatmap) are the ones the model believes have left; customers with no repeat "
            "purchase (left column) say little about it."
        )
    label = family_of(fitter)[1].label
    return (
        "P(alive) cannot be estimated from this history: the "
        f"{label} fit finds no sign of customers leaving ({dropout_detail(fitter)}), so it "
        "would show every customer as certainly active; expected purchases and CLV still "
        "hold, because a customer silent for long compared with their own buying rhythm gets "
        "a low expected purchase rate and a low CLV, so rank customers by those."
    )


def alive_pointer(fitter) -> str | None:
    """A short sentence for the P(alive) history and the at-risk list when P(alive) cannot
    be estimated (None when it can)."""
    if dropout_identified(fitter):
        return None
    return (
        "Not shown: P(alive) cannot be estimated from this history "
        f"(see “{ALIVE_SECTION}”); rank customers by CLV and expected purchases."
    )


def listed_columns(customers: pd.DataFrame) -> list[str]:
    """The columns of :data:`LIST_COLUMNS` in ``customers``, without ``p_alive`` when the
    model behind them does not identify dropout (``attrs["dropout_identified"]``)."""
    hidden = set() if customers.attrs.get("dropout_identified", True) else {"p_alive"}
    return [c for c in LIST_COLUMNS if c in customers.columns and c not in hidden]


def headline_figures(
    customers: pd.DataFrame,
    fitter,
    validation: HoldoutValidation,
    intervals: pd.DataFrame,
    *,
    currency: str | None = None,
) -> list[dict[str, Any]]:
    """The CLV report's headline figures, as :func:`retention_utils.record.record_all` takes
    them.

    Parameters
    ----------
    customers : DataFrame
        :func:`~retention_utils.clv.customer_table` (with its intervals).
    fitter
        The purchase model behind ``customers``.
    validation : HoldoutValidation
        :func:`~retention_utils.clv.validate_holdout` of the calibration fit.
    intervals : DataFrame
        :func:`~retention_utils.clv.clv_intervals` of the same customers.
    currency : str, optional
        Unit of the money figures.

    Returns
    -------
    list of dict
        ``customers``, ``repeat_buyers``, ``model``, ``holdout_actual``,
        ``holdout_predicted``, ``holdout_error_pct`` (percent), ``mean_clv``, ``total_clv``
        (with its interval as ``low``, ``high``) and, only when the model identifies
        dropout, ``high_value_at_risk_pct`` (percent of customers).
    """
    months = customers.attrs.get("months")
    horizon = f"{months}-month " if months else ""
    holdout = validation.totals.iloc[0]
    totals = intervals.attrs["totals"]
    level = intervals.attrs.get("level")
    figures: list[dict[str, Any]] = [
        {"name": "customers", "value": len(customers), "label": "Customers modelled"},
        {
            "name": "repeat_buyers",
            "value": int((customers["frequency"] > 0).sum()),
            "label": "Repeat buyers",
        },
        {"name": "model", "value": validation.model, "label": "Purchase model"},
        {
            "name": "holdout_actual",
            "value": float(holdout["actual"]),
            "label": "Holdout purchases, actual",
        },
        {
            "name": "holdout_predicted",
            "value": float(holdout["predicted"]),
            "label": "Holdout purchases, predicted",
        },
        {
            "name": "holdout_error_pct",
            "value": float(holdout["error_pct"]),
            "label": "Holdout total error",
            "unit": "%",
        },
        {
            "name": "mean_clv",
            "value": float(customers["clv"].mean()),
            "label": f"Mean {horizon}CLV",
            "unit": currency,
        },
        {
            "name": "total_clv",
            "value": float(customers["clv"].sum()),
            "label": f"Total {horizon}CLV",
            "unit": currency,
            "low": float(totals.loc["clv", "low"]),
            "high": float(totals.loc["clv", "high"]),
            "note": None
            if level is None or np.isnan(totals.loc["clv", "low"])
            else f"{level * 100:.0f} % interval: the uncertainty of the parameters only",
        },
    ]
    if dropout_identified(fitter):
        figures.append(
            {
                "name": "high_value_at_risk_pct",
                "value": 100 * float((customers["segment"] == "high value at risk").mean()),
                "label": "High value at risk (share of customers)",
                "unit": "%",
            }
        )
    return figures


def written_files(paths: list[Path], customers: pd.DataFrame) -> pd.DataFrame:
    """What :func:`~retention_utils.clv.write_customer_table` wrote, for reading: one row per
    file with its ``file`` name, ``format`` and ``contents``."""
    formats = {".csv": "CSV (text, for spreadsheets and CRM imports)", ".parquet": "Parquet"}
    contents = (
        f"one row per customer ({len(customers):,} customers, {customers.shape[1] + 1} "
        "columns with customer_id)"
    )
    return pd.DataFrame(
        {
            "file": [p.name for p in paths],
            "format": [formats.get(p.suffix, p.suffix.lstrip(".")) for p in paths],
            "contents": contents,
        }
    )
