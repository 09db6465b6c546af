"""Per-customer predictions (P(alive), expected purchases, spend, CLV), the customer table
with its value segments, the comparison with the seed formula, and the table's files."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from retention_utils.clv.base import (
    DAYS_PER_MONTH,
    distinct_rows,
    quiet_lifetimes,
    rfm_arrays,
    summary_columns,
    unit_days_of,
)
from retention_utils.clv.models import dropout_detail, dropout_identified, family_of
from retention_utils.config import CUSTOMER

#: Value segments of :func:`customer_table`, best first.
SEGMENTS = (
    "high value, active",
    "high value at risk",
    "active",
    "at risk",
    "one-time buyer",
)


def predict_clv(
    summary: pd.DataFrame,
    bgf,
    ggf,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    *,
    margin: float = 1.0,
    unit_days: float | None = None,
) -> pd.DataFrame:
    """Per-customer P(alive), expected purchases, expected order value and CLV.

    CLV is lifetimes' discounted sum over ``months`` months of 30 days: for month ``k``,
    expected purchases in the month times the Gamma-Gamma expected average value, divided
    by ``(1 + monthly_discount_rate) ** k``. On a daily summary it equals
    ``GammaGammaFitter.customer_lifetime_value(bgf, ..., time=months,
    discount_rate=monthly_discount_rate, freq="D")``; on a weekly summary it is the same
    CLV (lifetimes' ``freq="W"`` would instead use 4.345 weeks per month).

    Parameters
    ----------
    summary : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (or ``_cal`` columns).
    bgf, ggf
        Fitted purchase model (BG/NBD, MBG/NBD or Pareto/NBD: :func:`fit_model`) and
        Gamma-Gamma model (:func:`fit_gamma_gamma`), fitted in the summary's time unit.
    months : int
        Horizon in months of 30 days.
    monthly_discount_rate : float
        Discount rate per month, as a fraction (0.01 = 1 % a month).
    margin : float
        Share of revenue that is profit, a fraction in (0, 1] (default 1: CLV in revenue).
        ``expected_avg_value`` stays revenue per purchase; ``clv`` is multiplied by it.
    unit_days : float, optional
        Days per time unit of the summary; default ``summary.attrs["unit_days"]``.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``p_alive`` (probability, 0-1), ``expected_purchases``
        (repeat purchases expected over the horizon), ``expected_avg_value`` (Gamma-Gamma
        expected value per purchase, currency) and ``clv`` (discounted value of the
        horizon, currency; profit when ``margin`` < 1). ``attrs``: ``unit_days``,
        ``months``, ``monthly_discount_rate``, ``margin`` and ``cautions`` (sentences; one when some predictions are not finite).
    """
    days = unit_days_of(summary, unit_days)
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise ValueError(f"months must be a whole number >= 1, got {months!r}.")
    if not 0 <= monthly_discount_rate < 1:
        raise ValueError(
            "monthly_discount_rate is a fraction per month (0.01 = 1 %), got "
            f"{monthly_discount_rate!r}."
        )
    if not 0 < margin <= 1:
        raise ValueError(
            f"margin is the share of revenue that is profit, a fraction in (0, 1], got {margin!r}."
        )
    data = rfm_arrays(summary, monetary=True)
    # NumPy arrays, not Series: the same float operations without pandas' per-operation
    # overhead, which dominates on millions of customers.
    f, r, t_age, m = (
        data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")
    )
    units_per_month = DAYS_PER_MONTH / days
    (uf, ur, ut), inverse = distinct_rows(f, r, t_age)
    with quiet_lifetimes():
        p_alive = np.asarray(bgf.conditional_probability_alive(uf, ur, ut), dtype=float)[inverse]
        avg_value = np.asarray(ggf.conditional_expected_average_profit(f, m), dtype=float)
        # The sum of lifetimes.utils._customer_lifetime_value, with the same float operations
        # (the cumulative expectation at the start of a month is the one at the end of the
        # previous month, computed once instead of twice).
        clv = np.zeros(len(data))
        steps = np.arange(0, months + 1) * units_per_month
        previous = np.asarray(bgf.predict(steps[0], uf, ur, ut), dtype=float)[inverse]
        for step in steps[1:]:
            current = np.asarray(bgf.predict(step, uf, ur, ut), dtype=float)[inverse]
            clv += (avg_value * (current - previous)) / (1 + monthly_discount_rate) ** (
                step / units_per_month
            )
            previous = current
        expected = previous  # repeat purchases expected over the whole horizon
    out = pd.DataFrame(
        {
            "p_alive": np.asarray(p_alive, dtype=float),
            "expected_purchases": np.asarray(expected, dtype=float),
            "expected_avg_value": np.asarray(avg_value, dtype=float),
            "clv": clv * margin,
        },
        index=summary.index.copy(),
    )
    bad = int((~np.isfinite(out.to_numpy())).any(axis=1).sum())
    cautions = (
        [
            f"{bad:,} customer(s) get non-finite predictions (NaN or infinite), because the "
            "fitted parameters are degenerate for them: check the model checks and the fit."
        ]
        if bad
        else []
    )
    out.attrs.update(
        unit_days=days,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        margin=margin,
        cautions=cautions,
        dropout_identified=dropout_identified(bgf),
    )
    return out


def prediction_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """How the predictions are spread over customers, for reading.

    Returns
    -------
    DataFrame
        One row per prediction (``P(alive)``, left out when the model does not identify
        dropout: it is about 1 for everyone; ``expected purchases``, ``expected value per
        purchase``, ``CLV``), columns ``mean``, ``p10``, ``median``, ``p90``, ``max``;
        ``attrs["row_decimals"]`` gives the money rows two decimals in
        :func:`retention_utils.report.report_table`.
    """
    names = {
        "p_alive": "P(alive)",
        "expected_purchases": "expected purchases",
        "expected_avg_value": "expected value per purchase",
        "clv": "CLV",
    }
    if not predictions.attrs.get("dropout_identified", True):
        names.pop("p_alive")
    values = predictions[list(names)]
    out = pd.DataFrame(
        {
            "mean": values.mean(),
            "p10": values.quantile(0.1),
            "median": values.median(),
            "p90": values.quantile(0.9),
            "max": values.max(),
        }
    )
    out.index = pd.Index(list(names.values()), name="prediction")
    out.attrs["row_decimals"] = {"expected value per purchase": 2, "CLV": 2}  # money
    return out


def customer_table(
    history: pd.DataFrame,
    summary: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    value_quantile: float = 0.8,
    alive_threshold: float = 0.5,
) -> pd.DataFrame:
    """One row per customer: history, model predictions, CLV rank and value segment.

    Segments (:data:`SEGMENTS`): customers whose past net revenue is at or above the
    ``value_quantile`` quantile are *high value*; a repeat buyer with P(alive) below
    ``alive_threshold`` is *at risk*. One-time buyers form their own segment because
    BG/NBD gives them P(alive) = 1 by construction (they have never had a chance to drop
    out after a repeat purchase), so their P(alive) says nothing.

    Parameters
    ----------
    history : DataFrame
        :func:`retention_utils.engine.customer_history` up to the summary's observation end
        (past ``orders``, ``revenue``, ``first_purchase``, ``last_purchase``).
    summary : DataFrame
        :func:`~retention_utils.engine.rfm_summary` over the same period.
    predictions : DataFrame
        :func:`predict_clv` of that summary.
    value_quantile : float
        Quantile (fraction) of past revenue from which a customer is high value.
    alive_threshold : float
        P(alive) (fraction) below which a repeat buyer is at risk.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, sorted by ``clv`` descending: ``orders``, ``revenue``
        (past net revenue), ``first_purchase``, ``last_purchase``, ``frequency``,
        ``recency``, ``T``, ``monetary_value``, ``p_alive``, ``expected_purchases``,
        ``expected_avg_value``, ``clv``, ``clv_rank`` (1 = highest CLV) and ``segment``.
    """
    if not 0 < value_quantile < 1:
        raise ValueError(f"value_quantile is a fraction in (0, 1), got {value_quantile!r}.")
    if not 0 < alive_threshold < 1:
        raise ValueError(f"alive_threshold is a fraction in (0, 1), got {alive_threshold!r}.")
    missing = [
        c
        for c in ("p_alive", "expected_purchases", "expected_avg_value", "clv")
        if c not in predictions.columns
    ]
    if missing:
        raise ValueError(f"predictions need the columns of predict_clv; missing {missing}.")
    rfm = summary[
        [
            summary_columns(summary, monetary=True)[c]
            for c in ("frequency", "recency", "T", "monetary_value")
        ]
    ]
    rfm.columns = ["frequency", "recency", "T", "monetary_value"]
    table = history.join(rfm, how="inner").join(predictions, how="inner")
    if table.empty:
        raise ValueError(
            "No customer is in both the customer history and the summary: build both "
            "from the same transactions and observation_end."
        )
    high_value = table["revenue"] >= table["revenue"].quantile(value_quantile)
    at_risk = table["p_alive"] < alive_threshold
    segment = np.select(
        [table["frequency"] == 0, high_value & ~at_risk, high_value & at_risk, ~at_risk],
        ["one-time buyer", "high value, active", "high value at risk", "active"],
        default="at risk",
    )
    table["segment"] = pd.Categorical(segment, categories=list(SEGMENTS), ordered=True)
    table = table.sort_values(["clv", "revenue"], ascending=False, kind="mergesort")
    table.insert(
        table.columns.get_loc("clv") + 1,
        "clv_rank",
        np.arange(1, len(table) + 1, dtype="int64"),
    )
    table.index.name = CUSTOMER
    table.attrs.update(
        value_threshold=float(table["revenue"].quantile(value_quantile)),
        value_quantile=value_quantile,
        alive_threshold=alive_threshold,
        months=predictions.attrs.get("months"),
        unit_days=predictions.attrs.get("unit_days"),
        observation_end=history.attrs.get("observation_end"),
        dropout_identified=predictions.attrs.get("dropout_identified", True),
    )
    return table


def with_intervals(customers: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """The customer table with the intervals of :func:`~retention_utils.clv.clv_intervals`
    next to their estimates (``p_alive_low``, ``p_alive_high`` after ``p_alive``, ...).

    The intervals' level, method and per-group CLV bounds are kept in the table's
    ``attrs["intervals"]``, for :func:`segment_summary`.
    """
    out = customers.copy()
    for name in ("clv", "expected_purchases", "p_alive"):
        position = out.columns.get_loc(name) + 1
        for suffix in ("high", "low"):
            out.insert(
                position, f"{name}_{suffix}", intervals[f"{name}_{suffix}"].reindex(out.index)
            )
    groups = intervals.attrs.get("group_totals")
    out.attrs["intervals"] = {  # plain values: the attrs are written with the Parquet file
        "level": intervals.attrs.get("level"),
        "method": intervals.attrs.get("method"),
        "group_clv_low": {} if groups is None else groups["clv_low"].to_dict(),
        "group_clv_high": {} if groups is None else groups["clv_high"].to_dict(),
    }
    return out


def segment_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers, shares, past revenue and predicted CLV per value segment.

    Returns
    -------
    DataFrame
        One row per segment: ``customers``, ``share_pct`` (percent of customers),
        ``revenue`` (past, total), ``mean_p_alive`` (0-1), ``expected_purchases`` (total),
        ``clv`` (total) and ``clv_share_pct`` (percent of total CLV); with intervals
        (:func:`with_intervals` given ``groups=customers["segment"]``), also ``clv_low``
        and ``clv_high`` (interval of the segment's total CLV). When the model does not
        identify dropout, ``mean_p_alive`` and the two *at risk* segments (empty by
        construction) are left out.
    """
    grouped = customers.groupby("segment", observed=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "mean_p_alive": grouped["p_alive"].mean(),
            "expected_purchases": grouped["expected_purchases"].sum(),
            "clv": grouped["clv"].sum(),
        }
    )
    out.insert(1, "share_pct", 100 * out["customers"] / max(len(customers), 1))
    total_clv = out["clv"].sum()
    out["clv_share_pct"] = 100 * out["clv"] / total_clv if total_clv else np.nan
    out.index = out.index.astype(str)
    if not customers.attrs.get("dropout_identified", True):  # nobody can be at risk
        out = out.drop(columns="mean_p_alive").drop(index=["high value at risk", "at risk"])
    intervals = customers.attrs.get("intervals") or {}
    if intervals.get("group_clv_low"):
        position = out.columns.get_loc("clv") + 1
        for offset, name in enumerate(("clv_low", "clv_high")):
            out.insert(position + offset, name, out.index.map(intervals[f"group_{name}"]))
    return out


def at_risk_customers(customers: pd.DataFrame, bgf, *, n: int = 20) -> pd.DataFrame:
    """The most valuable customers at risk: segment *high value at risk*, by past revenue.

    Parameters
    ----------
    customers : DataFrame
        :func:`customer_table` output.
    bgf
        The fitted BG/NBD model behind ``customers``.
    n : int
        Number of customers shown.

    Returns
    -------
    DataFrame
        At most ``n`` rows of ``customers``, highest past revenue first. When it is empty,
        ``attrs["note"]`` says why in one sentence (the BG/NBD dropout is not identified,
        so P(alive) is about 1 for everyone; or no valuable customer has a low P(alive)).
    """
    rows = customers[customers["segment"] == "high value at risk"]
    out = rows.sort_values("revenue", ascending=False, kind="mergesort").head(n)
    if out.empty:
        threshold = customers.attrs.get("alive_threshold", 0.5)
        out.attrs["note"] = (
            "No customer is listed as at risk: P(alive) cannot be estimated from this history "
            f"(the {family_of(bgf)[1].label} fit does not identify dropout: "
            f"{dropout_detail(bgf)}), so rank customers by CLV and expected purchases instead."
            if not dropout_identified(bgf)
            else f"No high-value customer has a P(alive) below {threshold:g}, so none is at risk."
        )
    return out


def seed_formula_comparison(seed: Mapping[str, Any], customers: pd.DataFrame, bgf) -> pd.DataFrame:
    """The simple seed-formula CLV (SPEC section 4) next to the model's, on the same footing.

    The seed formula is ``AOV * purchases per year * lifespan``, from the last 365 days
    before the observation end, with lifespan ``1 / annual churn`` (capped). The model
    columns give the same quantities from the fitted models: for the customers active in
    those 365 days (the seed formula's customers), and for all customers.

    Parameters
    ----------
    seed : mapping
        :func:`retention_utils.kpis.simple_clv_inputs` at the customer table's observation
        end (``customers``, ``aov``, ``purchase_frequency``, ``lifespan_years``, ``clv``,
        ``window_start``, ``window_end``, ``annual_churn_rate``).
    customers : DataFrame
        :func:`customer_table` output.
    bgf
        The fitted BG/NBD model behind ``customers``.

    Returns
    -------
    DataFrame
        Index ``metric``; columns ``seed formula``, ``model (same customers)``,
        ``model (all customers)``. Rows: ``customers``; ``value per purchase`` (currency);
        ``purchases per customer per year``; ``lifespan (years)``; ``value per customer,
        1 year`` (undiscounted); ``value per customer over the lifespan`` (undiscounted, the
        seed lifespan for both); ``model CLV, horizon`` (discounted, the customer table's
        ``clv``). Values the seed formula has no counterpart for are NaN.
        ``attrs["row_decimals"]`` shows the customer count without decimals in
        :func:`retention_utils.report.report_table`.
    """
    needed = ["last_purchase", "frequency", "recency", "T", "expected_avg_value", "clv"]
    missing = [c for c in needed if c not in customers.columns]
    if missing:
        raise ValueError(f"customers must be the output of customer_table; missing {missing}.")
    days = float(customers.attrs.get("unit_days") or getattr(bgf, "unit_days_", None) or 0)
    if not days > 0:
        raise ValueError("The time unit of the customer table is unknown (attrs['unit_days']).")
    lifespan = float(seed["lifespan_years"])
    active = customers["last_purchase"] >= seed["window_start"]

    def model_column(rows: pd.DataFrame) -> list[float]:
        if rows.empty:
            return [0, *[np.nan] * 6]
        args, inverse = distinct_rows(
            *(rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        )
        expected = bgf.conditional_expected_number_of_purchases_up_to_time
        with quiet_lifetimes():
            year = np.asarray(expected(365 / days, *args), dtype=float)[inverse]
            life = (
                np.asarray(expected(365 * lifespan / days, *args), dtype=float)[inverse]
                if np.isfinite(lifespan)
                else np.full(len(rows), np.nan)
            )
        value = rows["expected_avg_value"].to_numpy()
        per_purchase = float((value * year).sum() / year.sum()) if year.sum() > 0 else np.nan
        return [
            len(rows),
            per_purchase,
            float(year.mean()),
            np.nan,
            float((value * year).mean()),
            float((value * life).mean()),
            float(rows["clv"].mean()),
        ]

    index = pd.Index(
        [
            "customers",
            "value per purchase",
            "purchases per customer per year",
            "lifespan (years)",
            "value per customer, 1 year",
            "value per customer over the lifespan",
            "model CLV, horizon",
        ],
        name="metric",
    )
    seed_column = [
        seed["customers"],
        seed["aov"],
        seed["purchase_frequency"],
        lifespan,
        seed["aov"] * seed["purchase_frequency"],
        seed["clv"],
        np.nan,
    ]
    out = pd.DataFrame(
        {
            "seed formula": seed_column,
            "model (same customers)": model_column(customers[active]),
            "model (all customers)": model_column(customers),
        },
        index=index,
    ).astype(float)
    out.attrs.update(
        window_start=pd.Timestamp(seed["window_start"]).date().isoformat(),
        window_end=pd.Timestamp(seed["window_end"]).date().isoformat(),
        annual_churn_rate=float(seed["annual_churn_rate"]),
        months=customers.attrs.get("months"),
        row_decimals={"customers": 0},
    )
    return out


def write_customer_table(
    customers: pd.DataFrame, output_dir, *, name: str = "clv_customers"
) -> list:
    """Write the customer table as ``<name>.csv`` and ``<name>.parquet`` in ``output_dir``.

    The CSV is written through Arrow (about 8x faster than pandas on a million customers):
    ``customer_id`` first, dates as ``YYYY-MM-DD``, numbers at full precision.

    Returns
    -------
    list of pathlib.Path
        The two files written (the folder is created if needed).
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    flat = customers.reset_index()
    for col in flat.columns:
        if isinstance(flat[col].dtype, pd.CategoricalDtype):
            flat[col] = flat[col].astype(str)
        elif pd.api.types.is_datetime64_any_dtype(flat[col]):
            flat[col] = flat[col].dt.date
    csv_path, parquet_path = folder / f"{name}.csv", folder / f"{name}.parquet"
    table = pa.Table.from_pandas(flat, preserve_index=False)
    # Arrow writes without holding the GIL: the two files are written at the same time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        csv_done = pool.submit(
            pa_csv.write_csv, table, csv_path, pa_csv.WriteOptions(quoting_style="needed")
        )
        customers.to_parquet(parquet_path)
        csv_done.result()
    return [csv_path, parquet_path]
