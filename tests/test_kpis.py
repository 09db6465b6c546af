"""KPI formulas and tables: hand-computed logs, and agreement with a plain pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from scipy import stats as st

from retention_utils import kpis
from retention_utils.kpis import (
    average_order_value,
    churn_rate,
    gross_revenue_retention,
    kpi_table,
    lifespan_years,
    mrr_table,
    net_revenue_retention,
    purchase_frequency,
    repeat_purchase_rate,
    retention_cost_per_customer,
    retention_rate,
    return_rate,
    revenue_churn,
    simple_clv,
    simple_clv_inputs,
)

# --- formulas --------------------------------------------------------------------------------


def test_retention_rate_spec_example():
    assert retention_rate(1000, 900, 200) == 70.0


def test_rate_formulas_hand_values():
    assert churn_rate(150, 1000) == 15.0
    assert return_rate(250, 1000) == 25.0
    assert average_order_value(500.0, 20) == 25.0
    assert purchase_frequency(30, 12) == 2.5
    assert repeat_purchase_rate(30, 120) == 25.0
    assert retention_cost_per_customer(4500.0, 900) == 5.0
    assert revenue_churn(50.0, 1000.0) == 5.0
    assert gross_revenue_retention(1000.0, 50.0, 30.0) == 92.0
    assert net_revenue_retention(1000.0, 50.0, 30.0, 120.0) == 104.0
    assert simple_clv(50.0, 3.0, 4.0) == 600.0


def test_rates_with_empty_base_are_nan_not_errors():
    assert math.isnan(retention_rate(0, 5, 5))
    assert math.isnan(churn_rate(0, 0))
    assert math.isnan(average_order_value(10.0, 0))
    out = retention_rate(pd.Series([0, 10]), pd.Series([3, 9]), pd.Series([3, 1]))
    assert isinstance(out, pd.Series)
    assert math.isnan(out.iloc[0]) and out.iloc[1] == 80.0


def test_negative_denominator_is_rejected():
    with pytest.raises(ValueError, match="customers_start must be >= 0"):
        churn_rate(1, -5)


def test_lifespan_is_inverse_churn_fraction_capped():
    assert lifespan_years(0.25) == 4.0
    assert lifespan_years(0.05) == 10.0
    assert lifespan_years(0.05, max_lifespan_years=30) == pytest.approx(20.0)
    assert lifespan_years(0.0) == 10.0
    assert math.isnan(lifespan_years(float("nan")))
    with pytest.raises(ValueError, match="divide a percentage by 100"):
        lifespan_years(25.0)


# --- kpi_table on hand-computed logs --------------------------------------------------------

# a: buys 5 Jan, 3 Feb, 1 Apr. b: buys 10 Jan, 1 Mar. c: only a return (-3) on 15 Mar.
SMALL = [
    ("a", "2024-01-05", 10.0),
    ("a", "2024-02-03", 20.0),
    ("a", "2024-04-01", 30.0),
    ("b", "2024-01-10", 5.0),
    ("b", "2024-03-01", 7.0),
    ("c", "2024-03-15", -3.0),
]


def test_kpi_table_hand_computed_short_activity_window():
    # active_days=31: base at 1 Feb = {a, b}; 1 Mar = {a} (a bought 3 Feb; b's 10 Jan is
    # more than 31 days back); 1 Apr = {b}; 1 May = {a}.
    out = kpi_table(tx_frame(SMALL), active_days=31, observation_end="2024-04-30")
    assert out["period"].astype(str).tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert out["customers_start"].tolist() == [0, 2, 1, 1]
    assert out["customers_end"].tolist() == [2, 1, 1, 1]
    assert out["new_customers"].tolist() == [2, 0, 0, 0]
    assert out["churned"].tolist() == [0, 1, 1, 1]
    assert out["reactivated"].tolist() == [0, 0, 1, 1]
    assert out["returning"].tolist() == [0, 1, 0, 0]
    assert out["active_customers"].tolist() == [2, 1, 1, 1]
    # c's return-only day counts in revenue (net) but is neither an order nor a purchase day.
    assert out["revenue"].tolist() == [15.0, 20.0, 4.0, 30.0]
    assert out["orders"].tolist() == [2, 1, 1, 1]
    assert out["aov"].tolist() == [7.5, 20.0, 4.0, 30.0]
    assert math.isnan(out.loc[0, "retention_rate"])  # S = 0 in the first period
    assert out["retention_rate"].tolist()[1:] == [50.0, 100.0, 100.0]
    assert out["churn_rate"].tolist()[1:] == [50.0, 100.0, 100.0]
    assert out["return_rate"].tolist()[1:] == [50.0, 0.0, 0.0]
    assert not out["incomplete"].any()


def test_kpi_table_default_window_keeps_everyone():
    out = kpi_table(tx_frame(SMALL), observation_end="2024-04-30")
    assert out["customers_start"].tolist() == [0, 2, 2, 2]
    assert out["customers_end"].tolist() == [2, 2, 2, 2]
    assert out["churned"].tolist() == [0, 0, 0, 0]
    assert out["retention_rate"].tolist()[1:] == [100.0, 100.0, 100.0]
    assert out["return_rate"].tolist()[1:] == [50.0, 50.0, 50.0]
    assert out["warm_up"].all()  # every period starts within a year of the first day


def test_reactivation_after_lapse():
    # x buys in Jan, lapses (active_days=30), comes back in April: reactivated in April.
    tx = tx_frame([("x", "2024-01-10", 5.0), ("x", "2024-04-20", 5.0), ("y", "2024-04-02", 1.0)])
    out = kpi_table(tx, active_days=30, observation_end="2024-05-31").set_index(
        out_index := "period"
    )
    out.index = out.index.astype(str)
    assert out.loc["2024-02", "churned"] == 1  # in the base on 1 Feb, not on 1 Mar
    assert out.loc["2024-04", "reactivated"] == 1  # x is back; y is new, not reactivated
    assert out.loc["2024-04", "new_customers"] == 1
    assert out.loc["2024-04", "customers_end"] == 2
    assert out.loc["2024-05", "churned"] == 2
    assert out_index == "period"


# w, y, z are in the base on 1 March (active_days=31); x and u bought in early January only,
# lapsed, and come back in March: reactivated. w churns.
LAPSE = [
    ("x", "2024-01-02", 10.0),
    ("u", "2024-01-03", 10.0),
    ("w", "2024-02-10", 10.0),
    ("y", "2024-02-15", 10.0),
    ("z", "2024-02-20", 10.0),
    ("z", "2024-03-05", 10.0),
    ("x", "2024-03-10", 10.0),
    ("u", "2024-03-12", 10.0),
    ("y", "2024-03-15", 10.0),
]


def test_retained_reactivated_and_strict_retention_hand_computed():
    out = kpi_table(tx_frame(LAPSE), active_days=31, observation_end="2024-03-31")
    assert out["customers_start"].tolist() == [0, 2, 3]
    assert out["customers_end"].tolist() == [2, 3, 4]
    assert out["new_customers"].tolist() == [2, 3, 0]
    assert out["churned"].tolist() == [0, 2, 1]
    assert out["retained"].tolist() == [0, 0, 2]  # March: y and z
    assert out["reactivated"].tolist() == [0, 0, 2]  # March: x and u
    # CRR counts x and u as retained: (4 - 0) / 3 = 133.3 %; the strict rate cannot pass 100.
    np.testing.assert_allclose(out["retention_rate"], [np.nan, 0.0, 400 / 3])
    np.testing.assert_allclose(out["retention_strict"], [np.nan, 0.0, 200 / 3])
    assert out["warm_up"].tolist() == [True, True, False]  # first day 2 Jan + 31 days
    c = kpis.engine.window_counts(
        tx_frame(LAPSE), start="2024-03-01", end="2024-04-01", active_days=31
    )
    assert (c["retained"], c["reactivated"], c["new_customers"], c["churned"]) == (2, 2, 0, 1)


def test_headline_period_is_the_last_complete_period_after_warm_up():
    head = kpis.headline_period(kpi_table(tx_frame(LAPSE), active_days=31))  # ends 15 March
    assert head.row is None  # Jan, Feb warm-up; March cut short by the observation end
    head = kpis.headline_period(
        kpi_table(tx_frame(LAPSE), active_days=31, observation_end="2024-04-30")
    )
    assert head.label == "2024-04" and head.reason is None
    assert head.value("retention_strict") == 0.0  # nobody bought in April: all four lapse
    head = kpis.headline_period(
        kpi_table(tx_frame(LAPSE), active_days=31, observation_end="2024-03-31")
    )
    assert head.label == "2024-03" and head.value("retention_strict") == pytest.approx(200 / 3)


def test_headline_period_none_when_every_period_is_warm_up_or_incomplete():
    head = kpis.headline_period(kpi_table(tx_frame(LAPSE), observation_end="2024-03-31"))
    assert head.row is None and head.label == "n/a" and head.value("retention_strict") is None
    assert head.reason == (
        "No retention headline: every period starts less than active_days (365 days) after the "
        "first day of data (2024-01-02), so its starting base misses customers who bought before "
        "the data begin (warm-up), or is cut short by the observation end. The per-period table "
        "still shows the counts; lower active_days or use a longer history for a headline."
    )
    lapsed = kpi_table(
        tx_frame([("a", "2024-01-01", 5.0)]), active_days=20, observation_end="2024-05-31"
    )
    assert kpis.headline_period(lapsed).reason == (
        "No retention headline: no complete period after the warm-up has customers in its "
        "starting base."
    )


def test_returns_are_netted_per_day_and_order():
    tx = tx_frame(
        [
            ("a", "2024-01-02 10:00", 30.0, "o1"),
            ("a", "2024-01-02 10:00", -10.0, "o1"),  # partial return on the same order
            ("a", "2024-01-02 15:00", 5.0, "o2"),
            ("b", "2024-01-03", 10.0, "o3"),
            ("b", "2024-01-03", -10.0, "o4"),  # net 0 day: not a purchase, no customer
            ("a", "2024-02-07", -25.0, "o5"),  # return-only day
        ]
    )
    out = kpi_table(tx, observation_end="2024-02-29")
    jan, feb = out.iloc[0], out.iloc[1]
    assert jan["new_customers"] == 1  # only a; b never had a purchase day
    assert jan["active_customers"] == 1
    assert jan["orders"] == 3  # o1 (net 20), o2, o3 (o4 is negative)
    assert jan["revenue"] == 25.0
    assert jan["aov"] == pytest.approx(25.0 / 3)
    assert jan["repeat_customers"] == 1 and jan["repeat_purchase_rate"] == 100.0
    assert jan["purchase_frequency"] == 3.0
    assert feb["revenue"] == -25.0 and feb["orders"] == 0 and feb["active_customers"] == 0
    assert feb["customers_start"] == 1 and feb["returning"] == 0
    assert math.isnan(feb["aov"])


def test_incomplete_last_period_is_flagged_and_left_out_of_rates():
    tx = tx_frame(SMALL)
    out = kpi_table(tx, active_days=31)  # observation end = last day, 1 April
    last = out.iloc[-1]
    assert bool(last["incomplete"]) and not out["incomplete"].iloc[:-1].any()
    assert str(last["period"]) == "2024-04"
    for col in ("retention_rate", "churn_rate", "return_rate", "repeat_purchase_rate"):
        assert math.isnan(last[col])
    # Counts describe the observed part: the end base is measured on 2 April.
    assert last["customers_start"] == 1 and last["customers_end"] == 1
    assert last["revenue"] == 30.0
    full = kpi_table(tx, active_days=31, include_incomplete=True).iloc[-1]
    assert full["retention_rate"] == 100.0 and full["churn_rate"] == 100.0


def test_observation_end_drops_later_rows():
    out = kpi_table(tx_frame(SMALL), observation_end="2024-02-29")
    assert out["period"].astype(str).tolist() == ["2024-01", "2024-02"]
    assert out["revenue"].sum() == 35.0


def test_segment_filter_uses_segment_of_first_purchase():
    tx = tx_frame(
        [
            ("a", "2024-01-05", 10.0, "1", "web"),
            ("a", "2024-02-05", 10.0, "2", "store"),  # a stays a web customer
            ("b", "2024-01-07", 4.0, "3", "store"),
            ("b", "2024-02-07", 6.0, "4", "store"),
            ("c", "2024-02-09", 8.0, "5", "web"),
        ]
    )
    web = kpi_table(tx, segment_col="channel", segment_value="web", observation_end="2024-02-29")
    assert web["new_customers"].tolist() == [1, 1]
    assert web["revenue"].tolist() == [10.0, 18.0]
    assert web["customers_end"].tolist() == [1, 2]
    store = kpi_table(
        tx, segment_col="channel", segment_value="store", observation_end="2024-02-29"
    )
    assert store["revenue"].tolist() == [4.0, 6.0]
    assert store.loc[1, "return_rate"] == 100.0
    with pytest.raises(ValueError, match="Segment column 'region' not found"):
        kpi_table(tx, segment_col="region", segment_value="x")


def test_weekly_periods_start_on_monday():
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday.
    tx = tx_frame([("a", "2024-01-07", 1.0), ("b", "2024-01-08", 1.0)])
    out = kpi_table(tx, freq="W", observation_end="2024-01-14")
    assert out["period_start"].dt.day_name().eq("Monday").all()
    assert out["new_customers"].tolist() == [1, 1]
    assert out["period_start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-08"]


def test_quarterly_and_yearly_periods():
    tx = tx_frame(SMALL)
    q = kpi_table(tx, freq="Q", observation_end="2024-06-30")
    assert q["period"].astype(str).tolist() == ["2024Q1", "2024Q2"]
    assert q["revenue"].tolist() == [39.0, 30.0]
    y = kpi_table(tx, freq="Y", observation_end="2024-12-31")
    assert y["new_customers"].tolist() == [2]


def test_bad_arguments_give_clear_errors():
    tx = tx_frame(SMALL)
    with pytest.raises(ValueError, match="freq must be one of 'W'"):
        kpi_table(tx, freq="D")
    with pytest.raises(ValueError, match="active_days must be a whole number of days >= 1"):
        kpi_table(tx, active_days=0)
    with pytest.raises(ValueError, match="There are no transactions to aggregate"):
        kpi_table(tx, observation_end="2023-01-01")
    with pytest.raises(Exception, match="amount"):
        kpi_table(tx.drop(columns=["amount"]))


# --- subscriptions and costs ----------------------------------------------------------------


def subs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "start_date": pd.to_datetime(
                ["2024-01-01", "2024-02-15", "2024-01-10", "2024-02-01", "2023-12-01"]
            ),
            "end_date": pd.to_datetime(["2024-03-10", None, "2024-02-20", None, None]),
            "mrr": [10.0, 5.0, 20.0, 7.0, 30.0],
        }
    )


def test_mrr_table_hand_computed():
    out = mrr_table(subs_frame(), observation_end="2024-03-31").set_index("period")
    out.index = out.index.astype(str)
    # MRR at 1 Jan: d 30 + a 10; 1 Feb: + b 20 + c 7; 1 Mar: a 15, c 7, d 30; 1 Apr: a 5, c 7, d 30.
    assert out["mrr_start"].tolist() == [30.0, 40.0, 67.0, 52.0]
    assert out["mrr_end"].tolist() == [40.0, 67.0, 52.0, 42.0]
    feb, mar = out.loc["2024-02"], out.loc["2024-03"]
    assert feb["expansion_mrr"] == 5.0 and feb["churned_mrr"] == 20.0
    assert feb["contraction_mrr"] == 0.0 and feb["new_mrr"] == 0.0
    assert feb["revenue_churn"] == pytest.approx(20 / 67 * 100)
    assert feb["grr"] == pytest.approx((67 - 20) / 67 * 100)
    assert feb["nrr"] == pytest.approx((67 - 20 + 5) / 67 * 100)
    assert mar["contraction_mrr"] == 10.0
    assert mar["nrr"] == pytest.approx(42 / 52 * 100)
    assert out.loc["2024-01", "new_mrr"] == 27.0  # b and c start in January (c on 1 Feb? no)
    assert out["subscribers_start"].tolist() == [1, 2, 4, 3]
    assert out.loc["2024-02", "churned_subscribers"] == 1
    assert out["new_subscribers"].tolist() == [1, 2, 1, 0]
    assert list(out.columns[:11]) == [
        "mrr_start",
        "mrr_end",
        "new_mrr",
        "reactivation_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "revenue_churn",
        "grr",
        "nrr",
        "arpa",
    ]
    # ARPA: MRR at the end over paying customers then (1 Apr: a 5, c 7, d 30)
    assert out.loc["2024-03", "arpa"] == pytest.approx(42 / 3)
    assert out["reactivation_mrr"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_mrr_table_separates_reactivation_from_new():
    # a starts in January, leaves in February and comes back in March; e starts in March
    subs = pd.DataFrame(
        {
            "customer_id": ["a", "a", "e"],
            "start_date": pd.to_datetime(["2024-01-02", "2024-03-05", "2024-03-10"]),
            "end_date": pd.to_datetime(["2024-02-15", None, None]),
            "mrr": [10.0, 12.0, 8.0],
        }
    )
    out = mrr_table(subs, observation_end="2024-03-31").set_index("period")
    out.index = out.index.astype(str)
    assert out["new_mrr"].tolist() == [10.0, 0.0, 8.0]
    assert out["reactivation_mrr"].tolist() == [0.0, 0.0, 12.0]
    assert out["churned_mrr"].tolist() == [0.0, 10.0, 0.0]
    # the MRR bridge holds: start + new + reactivation + expansion - contraction - churned
    bridge = (
        out["mrr_start"]
        + out["new_mrr"]
        + out["reactivation_mrr"]
        + out["expansion_mrr"]
        - out["contraction_mrr"]
        - out["churned_mrr"]
    )
    assert bridge.tolist() == out["mrr_end"].tolist()
    assert out.loc["2024-03", "arpa"] == pytest.approx(10.0)


def test_mrr_table_incomplete_period():
    out = mrr_table(subs_frame(), observation_end="2024-03-15")
    assert bool(out["incomplete"].iloc[-1])
    assert math.isnan(out["nrr"].iloc[-1])
    # measured on 16 March: a's first row ended on 10 March (-10 contraction).
    assert out["mrr_end"].iloc[-1] == 42.0


def test_kpi_table_with_subscriptions_and_costs():
    costs = pd.DataFrame(
        {"period_start": pd.to_datetime(["2024-02-01", "2024-03-01"]), "cost": [30.0, 10.0]}
    )
    out = kpi_table(
        tx_frame(SMALL), observation_end="2024-03-31", subscriptions=subs_frame(), costs=costs
    )
    assert out["nrr"].iloc[1] == pytest.approx((67 - 20 + 5) / 67 * 100)
    assert out["customers_end"].tolist() == [2, 2, 2]
    assert math.isnan(out["retention_cost"].iloc[0])
    assert out["retention_cost_per_customer"].tolist()[1:] == [15.0, 5.0]


def test_costs_are_summed_into_coarser_periods():
    costs = pd.DataFrame(
        {
            "period_start": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01"]),
            "cost": [1, 2, 4],
        }
    )
    out = kpis.costs_per_period(costs, "Q")
    assert out["period"].astype(str).tolist() == ["2024Q1", "2024Q2"]
    assert out["retention_cost"].tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="lacks column"):
        kpis.costs_per_period(costs.rename(columns={"cost": "amount"}))


# --- simple CLV ------------------------------------------------------------------------------


def test_simple_clv_inputs_hand_computed():
    # Window: the 365 days ending 2024-12-31 = [2024-01-02, 2025-01-01).
    tx = tx_frame(
        [
            ("a", "2023-06-01", 10.0),  # a, b, c in the base on 2024-01-02
            ("b", "2023-07-01", 10.0),
            ("c", "2023-08-01", 10.0),
            ("d", "2023-08-01", 10.0),
            ("d", "2024-01-01", 10.0),  # d's last purchase is before the window: in the base
            ("a", "2024-03-01", 30.0),
            ("a", "2024-05-01", 50.0),
            ("b", "2024-09-01", 40.0),
            ("e", "2024-10-01", 20.0),  # new
        ]
    )
    out = simple_clv_inputs(tx, observation_end="2024-12-31")
    assert out["window_start"] == pd.Timestamp("2024-01-02")
    assert out["customers"] == 3 and out["orders"] == 4 and out["revenue"] == 140.0
    assert out["aov"] == 35.0
    assert out["purchase_frequency"] == pytest.approx(4 / 3)
    assert out["repeat_purchase_rate"] == pytest.approx(100 / 3)
    assert out["customers_start"] == 4 and out["churned"] == 2  # c and d
    assert out["annual_churn_rate"] == 50.0 and out["annual_churn_fraction"] == 0.5
    assert out["lifespan_years"] == 2.0
    assert out["clv"] == pytest.approx(35.0 * 4 / 3 * 2.0)
    assert not out["history_complete"]  # data start 2023-06-01, less than 365 days before


def test_simple_clv_inputs_without_history_is_nan():
    out = simple_clv_inputs(tx_frame(SMALL))
    assert out["customers_start"] == 0
    assert math.isnan(out["clv"])


# --- agreement with an independent pandas computation on a random log ------------------------


def random_log(seed: int = 7, n_customers: int = 250, n_rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n_customers), "D")
    cust = rng.integers(0, n_customers, n_rows)
    gap = rng.exponential(120, n_rows).astype(int)
    when = (
        first[cust] + pd.to_timedelta(gap, "D") + pd.to_timedelta(rng.integers(0, 3, n_rows), "h")
    )
    amount = np.round(rng.gamma(2.0, 15.0, n_rows), 2)
    amount = np.where(rng.random(n_rows) < 0.08, -amount / 2, amount)
    order = np.where(rng.random(n_rows) < 0.3, "shared", np.arange(n_rows).astype(str))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in cust],
            "order_date": when,
            "amount": amount,
            "order_id": [f"{c}-{w:%Y%m%d}-{o}" for c, w, o in zip(cust, when, order, strict=True)],
            "channel": np.array(["web", "store", "app"])[cust % 3],
        }
    )


def reference_kpis(tx: pd.DataFrame, freq: str, active_days: int, observation_end) -> pd.DataFrame:
    """Straightforward per-period sets in pandas, independent of the engine."""
    end = pd.Timestamp(observation_end)
    cut = end + pd.Timedelta(days=1)
    tx = tx[tx["order_date"] < cut].assign(day=lambda d: d["order_date"].dt.normalize())
    per_order = tx.groupby(["customer_id", "day", "order_id"])["amount"].sum().reset_index()
    daily = per_order.groupby(["customer_id", "day"]).agg(
        amount=("amount", "sum"), orders=("amount", lambda a: int((a > 0).sum()))
    )
    daily = daily.reset_index()
    buys = daily[daily["amount"] > 0]
    first_buy = buys.groupby("customer_id")["day"].min()
    span = pd.Timedelta(days=active_days)

    def base(d):
        hit = buys[(buys["day"] >= d - span) & (buys["day"] < d)]
        return set(hit["customer_id"])

    rows = []
    for p in pd.period_range(tx["day"].min(), end, freq=freq):
        s, e = p.start_time, (p + 1).start_time
        e_eff = min(e, cut)
        S, E = base(s), base(e_eff)
        N = set(first_buy[(first_buy >= s) & (first_buy < e)].index)
        in_p = daily[(daily["day"] >= s) & (daily["day"] < e)]
        active = set(in_p.loc[in_p["amount"] > 0, "customer_id"])
        orders_pc = in_p.groupby("customer_id")["orders"].sum()
        repeat = {c for c in active if orders_pc.get(c, 0) >= 2}
        rows.append(
            {
                "period": p,
                "incomplete": e > cut,
                "customers_start": len(S),
                "customers_end": len(E),
                "new_customers": len(N),
                "churned": len(S - E),
                "reactivated": len(E - S - N),
                "returning": len(S & active),
                "active_customers": len(active),
                "repeat_customers": len(repeat),
                "revenue": in_p["amount"].sum(),
                "orders": int(in_p["orders"].sum()),
            }
        )
    ref = pd.DataFrame(rows)
    ok = ~ref["incomplete"] & (ref["customers_start"] > 0)
    ref["retention_rate"] = np.where(
        ok, (ref["customers_end"] - ref["new_customers"]) / ref["customers_start"] * 100, np.nan
    )
    ref["churn_rate"] = np.where(ok, ref["churned"] / ref["customers_start"] * 100, np.nan)
    ref["return_rate"] = np.where(ok, ref["returning"] / ref["customers_start"] * 100, np.nan)
    return ref


@pytest.mark.parametrize(
    ("freq", "active_days", "observation_end"),
    [
        ("M", 365, "2024-03-17"),
        ("M", 45, "2024-03-31"),
        ("W", 365, "2023-11-15"),
        ("W", 5, "2023-11-15"),
        ("Q", 90, "2024-01-20"),
        ("Y", 365, "2024-03-17"),
    ],
)
def test_kpi_table_matches_independent_pandas(freq, active_days, observation_end):
    tx = random_log()
    got = kpi_table(tx, freq=freq, active_days=active_days, observation_end=observation_end)
    ref = reference_kpis(tx, freq, active_days, observation_end)
    assert got["period"].astype(str).tolist() == ref["period"].astype(str).tolist()
    for col in [
        "incomplete",
        "customers_start",
        "customers_end",
        "new_customers",
        "churned",
        "reactivated",
        "returning",
        "active_customers",
        "repeat_customers",
        "orders",
    ]:
        assert got[col].tolist() == ref[col].tolist(), col
    for col in ["revenue", "retention_rate", "churn_rate", "return_rate"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, atol=1e-9, err_msg=col)
    # the log actually exercises what it should
    assert ref["reactivated"].sum() > 0 and ref["churned"].sum() > 0


def test_kpi_table_reads_parquet_like_dataframe(tmp_path):
    tx = random_log(seed=3, n_rows=500)
    path = tmp_path / "tx.parquet"
    tx.to_parquet(path)
    a = kpi_table(tx, observation_end="2023-12-31")
    b = kpi_table(str(path), observation_end="2023-12-31")
    pd.testing.assert_frame_equal(a, b)


# --- headline figures as data ------------------------------------------------------------------


def test_headline_figures_of_the_kpi_table_hand_computed():
    # March: S = 3 (w, y, z in the base on 1 March), y and z retained, w churned.
    table = kpi_table(tx_frame(LAPSE), active_days=31, observation_end="2024-03-31")
    figures = {f["name"]: f for f in kpis.headline_figures(table, currency="EUR")}
    assert list(figures) == ["customers", "revenue", "retention_strict_last", "churn_rate_last"]
    assert figures["customers"]["value"] == 5 and "unit" not in figures["customers"]
    assert figures["revenue"] == {
        "name": "revenue",
        "value": 90.0,
        "label": "Net revenue",
        "unit": "EUR",
    }
    low, high = st.binomtest(1, 3).proportion_ci(0.95, method="wilson")  # churn 1 of 3
    strict = figures["retention_strict_last"]
    assert strict["label"] == "Retention rate (strict), 2024-03"
    assert strict["value"] == pytest.approx(200 / 3)
    assert (strict["low"], strict["high"]) == pytest.approx((100 - high * 100, 100 - low * 100))
    assert strict["note"] == "3 customers at the start of 2024-03"
    churn = figures["churn_rate_last"]
    assert churn["value"] == pytest.approx(100 / 3)
    assert (churn["low"], churn["high"]) == pytest.approx((low * 100, high * 100))
    assert kpis.headline_cautions(table) == []


def test_headline_figures_without_a_headline_period_give_a_dash_and_the_caution():
    table = kpi_table(tx_frame(LAPSE), observation_end="2024-03-31")  # all warm-up
    figures = kpis.headline_figures(table)
    assert [f["name"] for f in figures] == ["customers", "revenue", "retention_strict_last"]
    assert figures[-1]["value"] is None
    assert figures[-1]["note"] == "no complete period after the warm-up (see the caution)"
    assert kpis.headline_cautions(table) == [kpis.headline_period(table).reason]


def test_mrr_figures_skip_periods_with_too_few_subscribers():
    mrr = mrr_table(subs_frame(), observation_end="2024-03-31")
    # Subscribers at the start: 1, 2, 4, 3; NRR of March 42 / 52.
    assert kpis.mrr_figures(mrr, min_subscribers=3) == [
        {
            "name": "nrr_last",
            "value": pytest.approx(42 / 52 * 100),
            "label": "Net revenue retention, 2024-03",
            "unit": "%",
            "note": "3 subscribers at the period start",
        }
    ]
    assert kpis.mrr_figures(mrr, min_subscribers=4)[0]["label"] == (
        "Net revenue retention, 2024-02"
    )
    none = kpis.mrr_figures(mrr)  # 30 by default: no period is large enough
    assert none[0]["value"] is None
    assert none[0]["note"] == "no complete period starts with 30 subscribers or more"


def test_mrr_table_without_subscriptions_is_empty_and_says_why():
    mrr = mrr_table(None, "M", "2024-03-31")
    assert mrr.empty and list(mrr.columns) == kpis.MRR_COLUMNS
    assert mrr.attrs["reason"] == "No subscription table was given, so MRR is not shown."
    assert kpis.mrr_figures(mrr) == []


def test_simple_clv_figures():
    clv = {"repeat_purchase_rate": 100 / 3, "clv": 93.3, "history_complete": True, "customers": 3}
    assert kpis.simple_clv_figures(clv, currency="GBP") == [
        {
            "name": "repeat_purchase_rate",
            "value": 100 / 3,
            "label": "Repeat purchase rate (last 365 days)",
            "unit": "%",
            "note": "3 customers with a purchase in the window",
        },
        {"name": "simple_clv", "value": 93.3, "label": "Simple CLV", "unit": "GBP", "note": None},
    ]
    # CDNOW: the churn is computed (64.6 % of 23,570 customers), but on a partial base.
    partial = {
        **clv,
        "history_complete": False,
        "customers_start": 23570,
        "annual_churn_rate": 64.6,
    }
    figure = kpis.simple_clv_figures(partial)[1]
    assert figure["value"] is None and "unit" not in figure
    assert figure["note"] == ("its churn (64.6 % of 23,570 customers) rests on a partial base")
    # Less than a year of data: nobody in the base at the window start, no churn at all.
    empty = {**partial, "customers_start": 0, "annual_churn_rate": float("nan")}
    assert kpis.simple_clv_figures(empty)[1]["note"] == (
        "no customer in the base at the start of the last 365 days: no churn to base it on"
    )
