"""Retention modes ("on", "on or after") and windows (calendar, rolling): a hand-computed log
and an independent per-customer computation, with unobservable cells and the eligible
denominators."""

from __future__ import annotations

import ibis
import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from test_cohorts import censored_log, random_log

from retention_utils import engine
from retention_utils.cohorts import (
    cohort_matrix,
    eligible_matrix,
    retention_curve,
    retention_curves_by_mode,
)
from retention_utils.periods import PeriodGrid, period_index
from retention_utils.plots.cohorts import plot_retention_modes

matplotlib.use("Agg")

# Cohort 2024-01: a, b. Cohort 2024-02: c. Cohort 2024-03: d. Observation end 31 March.
# Rolling months of 30 days from each first purchase day:
#   a (1 Jan): days 0-29, 30-59, 60-89 all ended by 31 Mar (day 90) -> eligible at 0, 1, 2;
#              buys on days 19 (age 0), 45 (age 1), 79 (age 2).
#   b (25 Jan): 66 days to 31 Mar -> eligible at 0, 1; buys on day 65 (age 2, not ended).
#   c (10 Feb): eligible at 0 only. d (15 Mar): age 0 not ended, not eligible at all.
LOG = [
    ("a", "2024-01-01", 10.0),
    ("a", "2024-01-20", 10.0),
    ("b", "2024-01-25", 20.0),
    ("a", "2024-02-15", 5.0),
    ("c", "2024-02-10", 30.0),
    ("d", "2024-03-15", 40.0),
    ("a", "2024-03-20", 4.0),
    ("b", "2024-03-30", 6.0),
]
END = "2024-03-31"
NAN = np.nan


def _matrix(mode, window, end=END, **kw):
    return cohort_matrix(
        tx_frame(LOG), "M", normalize=True, observation_end=end, mode=mode, window=window, **kw
    )


@pytest.mark.parametrize(
    ("mode", "window", "end", "expected", "eligible"),
    [
        # Calendar, March complete: a buys in Jan, Feb, Mar; b in Jan, Mar; c in Feb only.
        ("on", "calendar", END, [[1, 0.5, 1], [1, 0, NAN], [1, NAN, NAN]], None),
        ("on_or_after", "calendar", END, [[1, 1, 1], [1, 0, NAN], [1, NAN, NAN]], None),
        # Calendar, 20 March (incomplete): March is unobservable, but a's purchase on
        # 20 March still counts "after" February; b's on 30 March is past the end.
        ("on", "calendar", "2024-03-20", [[1, 0.5], [1, NAN]], None),
        ("on_or_after", "calendar", "2024-03-20", [[1, 0.5], [1, NAN]], None),
        # Rolling: denominators 2, 2, 1 for January; d's cohort has nobody eligible.
        ("on", "rolling", END, [[1, 0.5, 1], [1, NAN, NAN]], [[2, 2, 1], [1, 0, 0]]),
        # b's purchase in their unfinished age 2 counts "on or after" age 1.
        ("on_or_after", "rolling", END, [[1, 1, 1], [1, NAN, NAN]], [[2, 2, 1], [1, 0, 0]]),
    ],
)
def test_hand_computed_modes_and_windows(mode, window, end, expected, eligible):
    got = _matrix(mode, window, end)
    np.testing.assert_allclose(got.to_numpy(), np.array(expected, dtype=float))
    sizes = {"2024-01": 2, "2024-02": 1, "2024-03": 1}
    if eligible is None:  # calendar: the cohort size wherever a cell is observable
        eligible = [[sizes[str(c)] if v == v else 0 for v in row] for c, row in got.iterrows()]
    assert eligible_matrix(got).to_numpy().tolist() == eligible
    assert got.attrs["eligible"] == dict(zip(map(str, got.index), eligible, strict=True))
    assert (got.attrs["mode"], got.attrs["window"]) == (mode, window)


def test_rolling_counts_are_customers_not_fractions_of_cohort_size():
    counts = cohort_matrix(tx_frame(LOG), "M", observation_end=END, window="rolling")
    assert counts.fillna(-1).to_numpy().tolist() == [[2, 1, 1], [1, -1, -1]]
    assert counts.attrs["cohort_size"] == {"2024-01": 2, "2024-02": 1}


def test_rolling_revenue_per_eligible_customer():
    got = cohort_matrix(
        tx_frame(LOG), "M", "revenue", normalize="size", observation_end=END, window="rolling"
    )
    # January, age 0: a 20 + b 20 over 2 eligible; age 1: a 5 / 2; age 2: a 4 / 1 (b's 6 is
    # in an unfinished period). Cumulative, age 2: a's 20 + 5 + 4 over a alone.
    assert got.iloc[0].tolist() == [20.0, 2.5, 4.0]
    cumulative = cohort_matrix(
        tx_frame(LOG),
        "M",
        "revenue",
        normalize="size",
        cumulative=True,
        observation_end=END,
        window="rolling",
    )
    assert cumulative.iloc[0].tolist() == [20.0, 22.5, 29.0]


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_average_curve_uses_eligible_denominators(mode):
    curve = retention_curve(
        tx_frame(LOG),
        "M",
        END,
        mode=mode,
        window="rolling",
        data_start="2024-01-01",
        min_cohorts=1,
    )
    assert curve["customers"].tolist() == [3, 2, 1]  # a, b, c; a, b; a
    retained = [3, 1, 1] if mode == "on" else [3, 2, 1]
    assert curve["retained"].tolist() == retained
    assert curve.attrs["eligible"] == {0: 3, 1: 2, 2: 1}
    assert curve["retention"].tolist() == pytest.approx(np.divide(retained, [3, 2, 1]).tolist())


def test_unknown_mode_or_window_is_refused():
    with pytest.raises(ValueError, match=r"^mode must be 'on' or 'on_or_after', got 'after'\.$"):
        _matrix("after", "calendar")
    with pytest.raises(ValueError, match=r"^window must be 'calendar' or 'rolling', got 'x'\.$"):
        retention_curve(tx_frame(LOG), window="x")


# --- Against an independent per-customer computation ---------------------------------------

ROLLING_DAYS = {"W": 7, "M": 30, "Q": 91, "Y": 365}


def reference(tx: pd.DataFrame, freq: str, end: str, mode: str, window: str):
    """Retention and eligible customers per cohort and age, one customer at a time."""
    end = pd.Timestamp(end)
    tx = tx[tx["order_date"] < end + pd.Timedelta(days=1)]
    daily = tx.groupby(["customer_id", tx["order_date"].dt.normalize()])["amount"].sum()
    buys = daily[daily > 0].reset_index()
    last_period = end.to_period(freq)
    complete = (last_period + 1).start_time <= end + pd.Timedelta(days=1)
    last_complete = last_period if complete else last_period - 1
    eligible, retained = {}, {}
    for _, days in buys.groupby("customer_id"):
        days = days["order_date"].sort_values()
        first = days.iloc[0]
        cohort = first.to_period(freq)
        if window == "calendar":
            ages = [(d.to_period(freq) - cohort).n for d in days]
            horizon = (last_complete - cohort).n
        else:
            size = ROLLING_DAYS[freq]
            ages = [(d - first).days // size for d in days]
            horizon = ((end - first).days + 1) // size - 1
        for k in range(horizon + 1):
            eligible[cohort, k] = eligible.get((cohort, k), 0) + 1
            hit = k in ages if mode == "on" else max(ages) >= k
            retained[cohort, k] = retained.get((cohort, k), 0) + hit
    cohorts_ = sorted({c for c, k in eligible if k == 0})
    width = max(k for _, k in eligible) + 1
    share = pd.DataFrame(np.nan, index=pd.PeriodIndex(cohorts_, freq=freq), columns=range(width))
    counts = pd.DataFrame(0, index=share.index, columns=share.columns)
    for (c, k), n in eligible.items():
        share.loc[c, k] = retained[c, k] / n
        counts.loc[c, k] = n
    return share, counts


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
@pytest.mark.parametrize(
    ("freq", "window", "end"),
    [
        ("M", "calendar", "2024-02-14"),
        ("W", "calendar", "2023-06-30"),
        ("M", "rolling", "2024-02-14"),
        ("W", "rolling", "2023-06-30"),
        ("Q", "rolling", "2023-12-31"),
        ("Y", "rolling", "2024-05-31"),
    ],
)
def test_matches_independent_per_customer_computation(freq, window, end, mode):
    tx = random_log(seed=7, n_customers=150, n_rows=900)
    got = cohort_matrix(tx, freq, normalize=True, observation_end=end, mode=mode, window=window)
    share, counts = reference(tx, freq, end, mode, window)
    assert got.index.astype(str).tolist() == share.index.astype(str).tolist()
    assert got.columns.tolist() == share.columns.tolist()
    np.testing.assert_allclose(got.to_numpy(), share.to_numpy(), rtol=1e-12)
    assert eligible_matrix(got).to_numpy().tolist() == counts.to_numpy().tolist()


@pytest.mark.parametrize("window", ["calendar", "rolling"])
def test_on_or_after_is_at_least_on(window):
    tx = random_log(seed=3, n_customers=150, n_rows=900)
    on = cohort_matrix(tx, "M", normalize=True, window=window)
    after = cohort_matrix(tx, "M", normalize=True, window=window, mode="on_or_after")
    assert (after.fillna(1) >= on.fillna(1)).all().all()
    assert (after.isna() == on.isna()).all().all()
    if window == "calendar":  # same denominators at every age: it never rises
        assert (after.diff(axis=1).stack().dropna() <= 0).all()


def test_curves_by_mode_stack_both_curves():
    both = retention_curves_by_mode(
        tx_frame(LOG), "M", END, window="rolling", data_start="2024-01-01", min_cohorts=1
    )
    assert both["mode"].tolist() == ["on"] * 3 + ["on_or_after"] * 3
    assert both["retained"].tolist() == [3, 1, 1, 3, 2, 1]
    assert both["customers"].tolist() == [3, 2, 1] * 2
    assert (both.attrs["window"], both.attrs["cautions"]) == ("rolling", [])


def test_mode_plot_names_the_definitions_with_n_and_units():
    both = retention_curves_by_mode(
        tx_frame(LOG), "M", END, window="rolling", data_start="2024-01-01", min_cohorts=1
    )
    ax = plot_retention_modes(both)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["return on month N (n=3)", "return on or after month N (n=3)"]
    assert ax.get_xlabel() == "Months since acquisition (rolling 30-day months)"
    assert ax.get_ylabel() == "Customers retained (% of eligible)"
    on, after = (line.get_ydata().tolist() for line in ax.get_lines())
    assert on == pytest.approx([100, 50, 100])
    assert after == pytest.approx([100, 100, 100])


def test_left_censored_caution_names_the_on_or_after_curve():
    curve = retention_curve(censored_log(), observation_end="2024-06-30", mode="on_or_after")
    assert curve.attrs["cautions"] == [
        'The first cohort (2024-01, 6 customers) is left out of the average "on or after" '
        "retention curve and revenue per customer: it also holds customers who bought before "
        "the data begin. With it, retention at month 2 would read 50.0 % instead of 0.0 %."
    ]


class _SparkOptions(ibis.config.Config):
    treat_nan_as_null: bool = False


@pytest.mark.parametrize("window", ["calendar", "rolling"])
def test_cohort_query_compiles_for_spark_without_window_or_distinct_counts(window, monkeypatch):
    # ibis' Spark compiler reads an option the pyspark backend registers (not installed here)
    monkeypatch.setattr(ibis.options, "pyspark", _SparkOptions())
    schema = {"customer_id": "string", "order_date": "timestamp", "amount": "float64"}
    table = ibis.table({**schema, "order_id": "string", "channel": "string"}, name="tx")
    days = engine.purchase_days_expr(table)
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp(END)
    grid = PeriodGrid("M", period_index(start, "M"), period_index(end, "M"), start, end)
    segments = engine.customer_segment_expr(table, "channel")
    expr = engine.cohort_counts_expr(days, grid, window=window, segments=segments)
    sql = ibis.to_sql(expr, dialect="pyspark").upper()
    assert "GROUP BY" in sql
    assert "COUNT(DISTINCT" not in sql and " OVER " not in sql and "PIVOT" not in sql
