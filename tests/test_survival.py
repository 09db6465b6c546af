"""Survival curves and the log-rank test: hand-computed examples and agreement with lifelines
(the independent oracle) on random data."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from retention_utils import survival
from retention_utils.plots.survival import at_risk_at, plot_survival_curve
from retention_utils.report.numbers import format_p_value

matplotlib.use("Agg")


def transactions(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "channel"])
    df["order_date"] = pd.to_datetime(df["order_date"])
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df


def random_transactions(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
        channel = ["web", "store", "app"][i % 3]
        gaps = rng.exponential(60 + 80 * (i % 3), rng.integers(1, 8)).astype(int)
        day = start
        for gap in np.r_[0, gaps]:
            day = day + pd.Timedelta(days=int(gap))
            if day <= pd.Timestamp("2024-06-30"):
                rows.append((f"c{i}", day, float(rng.integers(5, 90)), channel))
    return transactions(rows)


def durations(tx: pd.DataFrame, active_days: int, end: pd.Timestamp) -> pd.DataFrame:
    """Time in the base per customer, computed directly from the rows (SPEC section 4)."""
    days = tx.assign(day=tx["order_date"].dt.normalize())
    per = days.groupby("customer_id").agg(
        first=("day", "min"), last=("day", "max"), channel=("channel", "first")
    )
    event = (end - per["last"]).dt.days >= active_days
    time = np.where(
        event,
        (per["last"] - per["first"]).dt.days + active_days,
        (end + pd.Timedelta(days=1) - per["first"]).dt.days,
    )
    return per.assign(time=time, event=event)


def test_hand_computed_curve():
    # a: 2024-01-01 .. 2024-01-11, silent 40 days at the end: left at day 10 + 30 = 40
    # b: first 2024-01-01, last 2024-02-15, 5 days before the end: censored at 51 days
    # c: first 2024-01-20 only, 30 days before the end: left at 0 + 30 = 30
    tx = transactions(
        [
            ("a", "2024-01-01", 10.0, "web"),
            ("a", "2024-01-11", 10.0, "web"),
            ("b", "2024-01-01", 10.0, "web"),
            ("b", "2024-02-15", 10.0, "web"),
            ("c", "2024-01-20", 10.0, "store"),
        ]
    )
    curve = survival.survival_curve(tx, active_days=30, observation_end="2024-02-19")
    assert curve["time"].tolist() == [30, 40, 50]
    assert curve["at_risk"].tolist() == [3, 2, 1]
    assert curve["events"].tolist() == [1, 1, 0]
    assert curve["censored"].tolist() == [0, 0, 1]
    assert curve["survival"].tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert curve.attrs["median_days"] == 40.0


@pytest.mark.parametrize("seed", [0, 1])
def test_curve_equals_lifelines(seed):
    tx = random_transactions(seed)
    end = pd.Timestamp("2024-06-30")
    expected = durations(tx, 120, end)
    kmf = KaplanMeierFitter().fit(expected["time"], expected["event"])
    curve = survival.survival_curve(tx, active_days=120, observation_end=end)
    table = kmf.event_table.iloc[1:] if kmf.event_table.index[0] == 0 else kmf.event_table
    assert curve["time"].tolist() == table.index.astype(int).tolist()
    assert curve["at_risk"].tolist() == table["at_risk"].tolist()
    assert curve["events"].tolist() == table["observed"].tolist()
    at = curve["time"].to_numpy()
    np.testing.assert_allclose(curve["survival"], kmf.survival_function_.loc[at].iloc[:, 0])
    ci = kmf.confidence_interval_.loc[at]
    np.testing.assert_allclose(curve["low"], ci.iloc[:, 0], rtol=1e-9)
    np.testing.assert_allclose(curve["high"], ci.iloc[:, 1], rtol=1e-9)
    assert curve.attrs["median_days"] == kmf.median_survival_time_


def test_median_is_nan_when_the_curve_stays_above_half():
    tx = transactions(
        [
            ("a", "2024-01-01", 1.0, "web"),  # silent for 64 days: left at day 30
            ("b", "2024-01-01", 1.0, "web"),
            ("b", "2024-03-02", 1.0, "web"),  # still in the base: censored at 65 days
            ("c", "2024-01-01", 1.0, "web"),
            ("c", "2024-03-01", 1.0, "web"),
        ]
    )
    curve = survival.survival_curve(tx, active_days=30, observation_end="2024-03-05")
    assert curve["survival"].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert np.isnan(curve.attrs["median_days"])


# lifelines' log-rank test calls pandas' sum positionally (a Pandas4Warning on pandas 3)
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_curves_by_segment_and_logrank_equal_lifelines():
    tx = random_transactions(2, n=600)
    end = pd.Timestamp("2024-06-30")
    expected = durations(tx, 90, end)
    curves = survival.survival_curve(tx, active_days=90, observation_end=end, by="channel")
    assert sorted(curves["channel"].unique()) == ["app", "store", "web"]
    for channel, part in expected.groupby("channel"):
        kmf = KaplanMeierFitter().fit(part["time"], part["event"])
        assert curves.attrs["median_days"][channel] == kmf.median_survival_time_
    test = survival.compare_survival(tx, by="channel", active_days=90, observation_end=end)
    ref = multivariate_logrank_test(expected["time"], expected["channel"], expected["event"])
    assert test["df"].iloc[0] == 2
    assert test["chi2"].iloc[0] == pytest.approx(ref.test_statistic, rel=1e-9)
    assert test["p_value"].iloc[0] == pytest.approx(ref.p_value, rel=1e-6)


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_a_group_nobody_of_which_is_at_risk_at_an_event_adds_nothing():
    # B's only customer leaves the data (censored) at day 1, before the first departure
    durations_by_group = {
        "A": [(5, 1), (10, 1), (12, 0), (20, 0)],
        "B": [(1, 0)],
        "C": [(3, 1), (8, 0), (10, 1), (15, 1)],
    }
    counts = pd.DataFrame(
        [
            {"group": g, "time": t, "events": e, "censored": 1 - e}
            for g, rows in durations_by_group.items()
            for t, e in rows
        ]
    )
    test = survival.logrank_test(counts)
    two = counts[counts["group"] != "B"]
    ref = multivariate_logrank_test(two["time"], two["group"], two["events"])
    assert (test["df"].iloc[0], test["groups"].iloc[0]) == (1, 3)
    assert test["chi2"].iloc[0] == pytest.approx(ref.test_statistic, rel=1e-12)
    assert test["p_value"].iloc[0] == pytest.approx(ref.p_value, rel=1e-12)


def test_the_survival_sentence_says_which_segments_add_nothing():
    tx = transactions(
        [
            ("a1", "2024-01-01", 1.0, "web"),  # leaves at day 30
            ("a2", "2024-01-01", 1.0, "web"),
            ("a2", "2024-03-01", 1.0, "web"),  # in the base at the end
            ("b1", "2024-03-04", 1.0, "store"),  # followed 1 day, before anyone leaves
            ("c1", "2024-01-01", 1.0, "app"),
            ("c1", "2024-01-20", 1.0, "app"),  # leaves at day 49
            ("c2", "2024-01-01", 1.0, "app"),  # leaves at day 30
        ]
    )
    got = survival.survival_by_segment(tx, "channel", 30, "2024-03-05")
    assert (got.test["df"].iloc[0], got.test["groups"].iloc[0]) == (1, 3)
    assert ", 1 df, " in got.sentence
    assert got.sentence.endswith(
        " 1 of them had nobody in the base when a customer left and add nothing."
    )


def test_logrank_needs_two_groups():
    tx = random_transactions(3, n=30).assign(channel="web")
    with pytest.raises(ValueError, match=r"at least two groups; found 1 \(web\)"):
        survival.compare_survival(tx, by="channel", active_days=90)


def test_subscription_survival_hand_computed():
    subs = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "start_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01", "2024-03-01"]),
            "end_date": pd.to_datetime(["2024-02-01", "2024-03-01", None, "2024-03-11"]),
            "mrr": [10.0, 20.0, 5.0, 5.0],
        }
    )
    curve = survival.subscription_survival(subs, observation_end="2024-03-31")
    # a: 2024-01-01 to 2024-03-01 = 60 days (event); c: 10 days (event); b: open, 91 days
    assert curve["time"].tolist() == [10, 60, 91]
    assert curve["events"].tolist() == [1, 1, 0]
    assert curve["survival"].tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])


def test_survival_lifespan_is_the_area_under_the_curve():
    curve = pd.DataFrame({"time": [365, 730], "survival": [0.5, 0.0]})
    # 1 year at 1.0, then 1 year at 0.5: 1.5 years (days counted as 365.25 a year)
    assert survival.survival_lifespan_years(curve) == pytest.approx((365 + 0.5 * 365) / 365.25)


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_survival_by_segment_sentence_and_test_equal_lifelines():
    tx = random_transactions(2, n=600)
    end = pd.Timestamp("2024-06-30")
    expected = durations(tx, 90, end)
    got = survival.survival_by_segment(tx, "channel", 90, end)
    ref = multivariate_logrank_test(expected["time"], expected["channel"], expected["event"])
    assert got.test["chi2"].iloc[0] == pytest.approx(ref.test_statistic, rel=1e-9)
    assert sorted(got.curves["channel"].unique()) == ["app", "store", "web"]
    assert got.sentence == (
        "Log-rank test over 3 channel segments: they stay in the base for different lengths "
        f"of time (chi2 = {ref.test_statistic:.1f}, 2 df, {format_p_value(ref.p_value)})."
    )


def test_survival_by_segment_says_why_there_is_no_comparison():
    tx = random_transactions(3, n=30)
    missing = survival.survival_by_segment(tx, "region", 90)
    assert (missing.curves, missing.test) == (None, None)
    assert missing.sentence == "No survival comparison: column 'region' is not in the data."
    one = survival.survival_by_segment(tx.assign(channel="web"), "channel", 90)
    assert one.test is None
    assert one.sentence == "No survival comparison: every customer has the same 'channel' (web)."
    assert survival.survival_by_segment(tx, "", 90).sentence == (
        "No survival comparison: no segment column given."
    )


def test_survival_curve_of_one_segment_equals_lifelines_on_its_customers():
    tx = random_transactions(4)
    end = pd.Timestamp("2024-06-30")
    expected = durations(tx, 120, end)
    store = expected[expected["channel"] == "store"]
    kmf = KaplanMeierFitter().fit(store["time"], store["event"])
    curve = survival.survival_curve(tx, 120, end, segment_col="channel", segment_value="store")
    assert curve.attrs["customers"] == len(store)
    at = curve["time"].to_numpy()
    np.testing.assert_allclose(curve["survival"], kmf.survival_function_.loc[at].iloc[:, 0])


def test_lifespan_comparison_brackets_the_survival_lifespan():
    curve = pd.DataFrame({"time": [365, 730], "survival": [0.5, 0.25]})
    inputs = {"lifespan_years": 2.0, "aov": 50.0, "purchase_frequency": 3.0}
    table = survival.lifespan_comparison(inputs, curve)
    assert table["lifespan"].tolist() == [
        "1 / annual churn",
        "survival curve, observed part",
        "survival curve, held flat",
    ]
    # observed: 365 days at 1.0 and 365 at 0.5; held flat: plus 0.25 up to 10 years
    observed = (365 + 0.5 * 365) / 365.25
    held = observed + 0.25 * (10 - 730 / 365.25)
    assert table["lifespan_years"].tolist() == pytest.approx([2.0, observed, held])
    assert table["clv"].tolist() == pytest.approx([300.0, 150.0 * observed, 150.0 * held])
    assert table["basis"].tolist()[1:] == [
        "area under the curve over the 2.0 years observed (lower bound)",
        "the curve held at 25 % from 2.0 to 10 years (upper bound)",
    ]


def test_survival_plot_shows_at_risk_counts_of_lifelines_and_the_median():
    tx = random_transactions(0)
    end = pd.Timestamp("2024-06-30")
    expected = durations(tx, 120, end)
    curve = survival.survival_curve(tx, active_days=120, observation_end=end)
    # lifelines counts at risk at t the customers whose time is t or more
    times = [0, 90, 180, 500, 10_000]
    assert at_risk_at(curve, times) == [int((expected["time"] >= t).sum()) for t in times]
    ax = plot_survival_curve(curve)
    median = curve.attrs["median_days"]
    label = ax.get_legend().get_texts()[0].get_text()
    assert label == f"all customers (n={len(expected):,}, median {median:,.0f} days)"
    assert ax.get_ylabel() == "Customers still in the base (%)"
    assert ax.get_xlabel().startswith("Days since first purchase")
    shown = [t.get_text() for t in ax.texts]
    ticks = [t for t in ax.get_xticks() if 0 <= t <= ax.get_xlim()[1]]
    assert [f"{n:,}" for n in at_risk_at(curve, ticks)] == [
        s for s in shown if s.replace(",", "").isdigit()
    ]


def test_cautions_when_the_curve_is_too_short_for_a_median():
    tx = transactions(
        [
            ("a", "2024-01-01", 1.0, "web"),  # silent for 64 days: left at day 30
            ("b", "2024-01-01", 1.0, "web"),
            ("b", "2024-03-02", 1.0, "web"),
            ("c", "2024-01-01", 1.0, "web"),
            ("c", "2024-03-01", 1.0, "web"),
        ]
    )
    curve = survival.survival_curve(tx, active_days=30, observation_end="2024-03-05")
    assert curve.attrs["cautions"] == [
        "More than half the customers are still in the base at the end of the survival curve "
        "(67 % after 65 days): the median lifetime is longer than the data show."
    ]
    nobody = survival.survival_curve(tx, active_days=90, observation_end="2024-03-05")
    assert nobody.attrs["cautions"] == [
        "No customer has been seen leaving the base yet: a customer leaves 90 days after "
        "their last purchase, and the longest follow-up is 65 days. The survival curve, its "
        "median and the survival-based lifespan need a longer history (or a shorter "
        "active_days)."
    ]
    fine = survival.survival_curve(tx, active_days=10, observation_end="2024-03-30")
    assert fine.attrs["cautions"] == []


def test_median_figures_in_whole_days_with_the_customers_followed():
    curve = pd.DataFrame(
        {"time": [400, 633, 700], "at_risk": [10, 6, 2], "survival": [0.8, 0.5, 0.4]}
    )
    curve.attrs["median_days"] = 633.0
    assert survival.median_figures(curve) == [
        {
            "name": "median_lifetime_days",
            "value": 633,  # an int: the report reads "633 days", not "633.00 days"
            "label": "Median time in the base (Kaplan-Meier)",
            "unit": "days",
            "note": "10 customers followed",
        }
    ]
    curve.attrs["median_days"] = float("nan")
    [figure] = survival.median_figures(curve)
    assert figure["value"] is None
    assert figure["note"] == "10 customers followed; more than half still in the base"


def test_lifespan_figures_hand_computed():
    curve = pd.DataFrame({"time": [365, 730], "survival": [0.5, 0.0]})
    clv = {"lifespan_years": 2.0, "aov": 10.0, "purchase_frequency": 3.0}
    [figure] = survival.lifespan_figures(survival.lifespan_comparison(clv, curve))
    # One year at 100 %, one at 50 %, then nobody left: 1.5 years of 365 days.
    assert figure["value"] == pytest.approx(547.5 / 365.25)
    assert figure["unit"] == "years"
    assert figure["note"] == "held flat to 10 years: 1.5 years"
