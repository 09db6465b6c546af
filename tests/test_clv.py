"""CLV models: published CDNOW results, equality with lifetimes, holdout validation,
customer table, the seed-formula comparison, plots, and the model-related bad inputs of
SPEC section 6."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from numpy.testing import assert_allclose
from pandas.testing import assert_series_equal

from retention_utils import clv, engine, kpis
from retention_utils.io import load_cdnow
from retention_utils.plots import clv as clv_plots
from retention_utils.report import report_table

LIFETIMES_DATA = Path(importlib.util.find_spec("lifetimes").submodule_search_locations[0]) / (
    "datasets"
)  # for Hardie's CDNOW summary file
CALIBRATION_END = "1997-09-30"
OBSERVATION_END = "1998-06-30"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_sample() -> pd.DataFrame:
    """CDNOW sample transactions (2,357 customers) as canonical transactions."""
    return load_cdnow(sample=True)


@pytest.fixture(scope="module")
def cdnow_calibration(cdnow_sample) -> pd.DataFrame:
    """The calibration/holdout split of the BG/NBD paper, on the sample as loaded (its 8
    orders of a free CD, $0.00, are purchases: SPEC section 3)."""
    return engine.calibration_holdout(
        cdnow_sample,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        freq="D",
        freq_multiplier=7,
    )


@pytest.fixture(scope="module")
def cdnow_bgf(cdnow_calibration):
    return clv.fit_bgnbd(cdnow_calibration)


@pytest.fixture(scope="module")
def cdnow_summary_file() -> pd.DataFrame:
    """lifetimes' CDNOW summary with monetary value (Hardie's file: weeks, 2 decimals)."""
    data = pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary_with_transactions.csv")
    out = data.set_index("ID").rename(
        columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )
    out.attrs["unit_days"] = 7
    return out


@pytest.fixture(scope="module")
def cdnow_models(cdnow_sample):
    summary = engine.rfm_summary(cdnow_sample, freq="D", freq_multiplier=7)
    bgf = clv.fit_bgnbd(summary)
    ggf = clv.fit_gamma_gamma(summary)
    predictions = clv.predict_clv(summary, bgf, ggf)
    customers = clv.customer_table(engine.customer_history(cdnow_sample), summary, predictions)
    return summary, bgf, ggf, predictions, customers


def synthetic_summary(n: int, seed: int, *, r=0.25, alpha=30.0, a=0.8, b=2.4) -> pd.DataFrame:
    """A daily RFM summary simulated from the BG/NBD model (continuous purchase times)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 730, n).astype(float)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    frequency, recency, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        nxt = clock[idx] + rng.exponential(1 / rate[idx])
        inside = nxt <= age[idx]
        hit = idx[inside]
        clock[hit] = nxt[inside]
        frequency[hit] += 1
        recency[hit] = nxt[inside]
        alive[idx[~inside]] = False
        alive[hit[rng.random(hit.size) < dropout[hit]]] = False
    out = pd.DataFrame(
        {"frequency": frequency, "recency": recency, "T": age},
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    out.attrs["unit_days"] = 1
    return out


# --- published CDNOW results ------------------------------------------------------------------


def test_cdnow_calibration_summary_matches_hardies_file(cdnow_calibration, cdnow_summary_file):
    # the loader keys customers by their CDNOW master ID, Hardie's file by the sample index:
    # compare the two sets of (x, t_x, T) rows
    cal = cdnow_calibration
    assert len(cal) == 2357
    assert cal["frequency_cal"].sum() == 2457
    ours = cal[["frequency_cal", "recency_cal", "T_cal"]].round(2).to_numpy()
    theirs = cdnow_summary_file[["frequency", "recency", "T"]].to_numpy(dtype=float)
    assert_allclose(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)], atol=1e-9)
    assert cal["duration_holdout"].iloc[0] == 39.0


def test_bgnbd_reproduces_published_cdnow_parameters(cdnow_bgf):
    assert_allclose(
        cdnow_bgf.params_[["r", "alpha", "a", "b"]], [0.243, 4.414, 0.793, 2.426], atol=0.0006
    )
    assert cdnow_bgf.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert cdnow_bgf.penalizer_coef == 0.0
    assert cdnow_bgf.n_repeat_buyers_ == 946
    assert cdnow_bgf.n_customers_ == 2357
    assert cdnow_bgf.unit_days_ == 7


def test_free_orders_are_purchases(cdnow_sample):
    # SPEC section 3: a $0.00 order with no return line is a purchase; the 8 customers whose
    # only order was a free CD are one-time buyers with monetary value 0, as in lifetimes
    free = cdnow_sample.loc[cdnow_sample["amount"] == 0, "customer_id"]
    assert len(free) == 8
    summary = engine.rfm_summary(cdnow_sample, freq="D", freq_multiplier=7)
    assert len(summary) == 2357
    assert (summary.loc[free, ["frequency", "monetary_value"]] == 0).all().all()


def test_expected_purchases_published_example(cdnow_bgf):
    # FHL 2005: a customer with x=2, t_x=30.43, T=38.86 makes 1.226 purchases in 39 weeks
    expected = cdnow_bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)
    assert float(expected) == pytest.approx(1.226, abs=0.001)


def test_gamma_gamma_published_cdnow_parameters(cdnow_summary_file):
    ggf = clv.fit_gamma_gamma(cdnow_summary_file)
    assert ggf.n_customers_ == 946
    assert_allclose(ggf.params_[["p", "q", "v"]], [6.25, 3.74, 15.44], atol=0.01)
    # the correlation reported for the independence assumption
    repeat = cdnow_summary_file[cdnow_summary_file["frequency"] > 0]
    assert ggf.correlation_ == pytest.approx(
        np.corrcoef(repeat["frequency"], repeat["monetary_value"])[0, 1]
    )
    assert abs(ggf.correlation_) < clv.CORRELATION_WARNING


# --- equality with lifetimes ----------------------------------------------------------------


def test_weighted_fits_equal_unweighted_lifetimes_fits(cdnow_summary_file):
    lt = clv.base.lifetimes_classes()
    data = cdnow_summary_file
    repeat = data[data["frequency"] > 0]
    with clv.base.quiet_lifetimes():
        plain_bg = lt["BetaGeoFitter"]().fit(data["frequency"], data["recency"], data["T"])
        plain_gg = lt["GammaGammaFitter"]().fit(repeat["frequency"], repeat["monetary_value"])
    bgf = clv.fit_bgnbd(data)
    ggf = clv.fit_gamma_gamma(data)
    assert len(bgf.data) < len(data)  # identical rows were fitted once
    assert bgf.data["weights"].sum() == len(data)
    assert_allclose(bgf.params_, plain_bg.params_, rtol=1e-6)
    assert_allclose(ggf.params_, plain_gg.params_, rtol=1e-6)


def test_predict_clv_equals_lifetimes_on_daily_data(cdnow_sample):
    summary = engine.rfm_summary(cdnow_sample, freq="D")
    bgf = clv.fit_bgnbd(summary)
    ggf = clv.fit_gamma_gamma(summary)
    got = clv.predict_clv(summary, bgf, ggf, months=12, monthly_discount_rate=0.01)
    with clv.base.quiet_lifetimes():
        expected = ggf.customer_lifetime_value(
            bgf,
            summary["frequency"],
            summary["recency"],
            summary["T"],
            summary["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="D",
        )
        p_alive = bgf.conditional_probability_alive(
            summary["frequency"], summary["recency"], summary["T"]
        )
        purchases = bgf.predict(360, summary["frequency"], summary["recency"], summary["T"])
        avg = ggf.conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]
        )
    assert_allclose(got["clv"], expected, rtol=1e-12, atol=0)
    assert_allclose(got["p_alive"], p_alive, rtol=1e-12)
    assert_allclose(got["expected_purchases"], purchases, rtol=1e-12)
    assert_allclose(got["expected_avg_value"], avg, rtol=1e-12)
    assert got.attrs["unit_days"] == 1.0


def test_predict_clv_in_weeks_equals_the_daily_clv(cdnow_sample):
    daily = engine.rfm_summary(cdnow_sample, freq="D")
    weekly = engine.rfm_summary(cdnow_sample, freq="D", freq_multiplier=7)
    bgf_daily = clv.fit_bgnbd(daily)
    ggf = clv.fit_gamma_gamma(daily)
    on_days = clv.predict_clv(daily, bgf_daily, ggf, months=6)
    # the same model in weeks: alpha (a rate scale) is divided by 7, r, a, b unchanged
    bgf_weekly = clv.fit_bgnbd(weekly)
    bgf_weekly.params_ = bgf_daily.params_.copy()
    bgf_weekly.params_["alpha"] /= 7
    on_weeks = clv.predict_clv(weekly, bgf_weekly, ggf, months=6)
    assert on_weeks.attrs["unit_days"] == 7.0
    assert_allclose(on_weeks.to_numpy(), on_days.to_numpy(), rtol=1e-9)
    # fitted in weeks, the parameters are the same up to the optimizer's tolerance
    refit = clv.predict_clv(weekly, clv.fit_bgnbd(weekly), ggf, months=6)
    assert_allclose(refit["clv"], on_days["clv"], rtol=1e-3)
    # an explicit unit_days overrides attrs
    unlabeled = weekly.copy()
    unlabeled.attrs = {}
    assert_allclose(
        clv.predict_clv(unlabeled, bgf_weekly, ggf, months=6, unit_days=7)["clv"],
        on_days["clv"],
        rtol=1e-9,
    )


def test_parameter_recovery_on_the_demo_generator():
    from retention_utils import synthetic

    truth = synthetic.DemoParameters()
    tx = synthetic.generate_transactions(20_000, seed=11)  # with returns, netted by the engine
    summary = engine.rfm_summary(tx, observation_end=synthetic.DEMO_END)
    bgf = clv.fit_bgnbd(summary)
    ggf = clv.fit_gamma_gamma(summary)
    assert_allclose(
        bgf.params_[["r", "alpha", "a", "b"]], [truth.r, truth.alpha, truth.a, truth.b], rtol=0.1
    )
    assert_allclose(ggf.params_[["p", "q", "v"]], [truth.p_spend, truth.q, truth.gamma], rtol=0.15)


def test_probability_of_purchases_matches_lifetimes(cdnow_bgf):
    for t in (0.5, 10.0, 38.86):
        for n in (0, 1, 3, 7):
            with clv.base.quiet_lifetimes():
                expected = cdnow_bgf.probability_of_n_purchases_up_to_time(t, n)
            got = clv.probability_of_purchases(cdnow_bgf, np.array([t]), n)
            assert got[0] == pytest.approx(float(expected), rel=1e-9)


# --- validation -----------------------------------------------------------------------------


def test_period_transactions(cdnow_calibration, cdnow_bgf):
    table = clv.period_transactions(cdnow_calibration, cdnow_bgf)
    assert table["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["actual"].tolist()[:3] == [1411, 439, 214]
    assert table["actual"].sum() == 2357
    assert table["expected"].sum() == pytest.approx(2357)
    # the model fits the calibration histogram closely (FHL 2005, figure 3)
    assert_allclose(table["expected"], table["actual"], rtol=0.15, atol=10)


def test_validate_holdout(cdnow_calibration, cdnow_bgf):
    result = clv.validate_holdout(cdnow_calibration, cdnow_bgf)
    cal = cdnow_calibration
    assert result.duration == 39.0
    assert result.totals.loc["BG/NBD", "actual"] == cal["frequency_holdout"].sum()
    with clv.base.quiet_lifetimes():
        predicted = cdnow_bgf.predict(39, cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
    assert result.totals.loc["BG/NBD", "predicted"] == pytest.approx(predicted.sum())
    naive = (cal["frequency_cal"] / cal["T_cal"] * 39).sum()
    assert result.totals.loc["naive", "predicted"] == pytest.approx(naive)
    error = result.per_customer["predicted"] - result.per_customer["actual"]
    assert result.totals.loc["BG/NBD", "mae"] == pytest.approx(error.abs().mean())
    # the model beats the naive baseline per customer, and totals are within 15 %
    assert result.totals.loc["BG/NBD", "mae"] < result.totals.loc["naive", "mae"]
    assert abs(result.totals.loc["BG/NBD", "error_pct"]) < 15
    table = result.by_frequency
    assert table["frequency_cal"].tolist()[-1] == "7+"
    assert table["customers"].sum() == len(cal)
    zero = cal[cal["frequency_cal"] == 0]["frequency_holdout"]
    assert table.loc[0, "actual"] == pytest.approx(zero.mean())
    assert table.loc[0, "actual_low"] < table.loc[0, "actual"] < table.loc[0, "actual_high"]


def test_naive_baseline_hand_computed():
    cal = pd.DataFrame(
        {
            "frequency_cal": [2.0, 0.0, 1.0],
            "recency_cal": [8.0, 0.0, 0.5],
            "T_cal": [10.0, 0.0, 4.0],
            "frequency_holdout": [1.0, 0.0, 2.0],
            "duration_holdout": [5.0, 5.0, 5.0],
        },
        index=["a", "b", "c"],
    )
    bgf = clv.fit_bgnbd(synthetic_summary(3000, seed=1))
    result = clv.validate_holdout(cal, bgf)
    assert result.per_customer["naive"].tolist() == [1.0, 0.0, 1.25]


def test_holdout_interval_of_mean_purchases_stops_at_zero():
    # Four customers with one repeat purchase; in the holdout 0, 0, 0 and 3 purchases: the
    # t interval of the mean 0.75 is 0.75 -+ 3.182 * 1.5 / 2, from -1.64 to 3.14.
    cal = pd.DataFrame(
        {
            "frequency_cal": [1.0] * 4,
            "recency_cal": [2.0, 3.0, 4.0, 5.0],
            "T_cal": [10.0] * 4,
            "frequency_holdout": [0.0, 0.0, 0.0, 3.0],
            "duration_holdout": [5.0] * 4,
        }
    )
    bgf = clv.fit_bgnbd(synthetic_summary(3000, seed=1))
    row = clv.validate_holdout(cal, bgf).by_frequency.set_index("frequency_cal").loc["1"]
    assert row["actual"] == 0.75 and row["actual_low"] == 0.0
    assert row["actual_high"] == pytest.approx(0.75 + 3.182446305 * 1.5 / 2)


def test_repeat_purchase_tracking(cdnow_sample, cdnow_bgf):
    tracking = clv.repeat_purchase_tracking(
        engine.purchase_tracking(cdnow_sample), cdnow_bgf, calibration_end=CALIBRATION_END
    )
    summary = engine.rfm_summary(cdnow_sample, freq="D", freq_multiplier=7)
    assert tracking["actual_cumulative"].iloc[-1] == summary["frequency"].sum()
    assert tracking["actual"].sum() == summary["frequency"].sum()
    # expected by the end = sum over customers of E[X(T_i)]: an independent computation
    with clv.base.quiet_lifetimes():
        direct = cdnow_bgf.expected_number_of_purchases_up_to_time(summary["T"]).sum()
    assert tracking["expected_cumulative"].iloc[-1] == pytest.approx(direct, rel=1e-9)
    assert tracking.index[-1] == pd.Timestamp(OBSERVATION_END)
    assert not tracking["complete"].iloc[-1]  # the last week is cut at the observation end
    assert tracking.attrs["calibration_end"] == CALIBRATION_END


def test_frequency_recency_grid(cdnow_bgf):
    grid = clv.frequency_recency_grid(cdnow_bgf, metric="p_alive", steps=5)
    age = cdnow_bgf.data["T"].max()
    assert grid.index[-1] == pytest.approx(age)
    with clv.base.quiet_lifetimes():
        cell = cdnow_bgf.conditional_probability_alive(3, grid.index[2], age)
    assert grid.loc[grid.index[2], 3] == pytest.approx(float(cell[0]))
    assert (grid[0] == 1.0).all()  # no repeat purchase: alive by the model's construction
    expected = clv.frequency_recency_grid(cdnow_bgf, metric="expected_purchases", steps=5)
    assert expected.attrs["horizon"] == pytest.approx(30 / 7)
    with pytest.raises(ValueError, match="metric must be 'p_alive' or 'expected_purchases'"):
        clv.frequency_recency_grid(cdnow_bgf, metric="clv")


def test_alive_history_ends_at_the_predicted_p_alive(cdnow_sample, cdnow_models):
    summary, bgf, _, predictions, _ = cdnow_models
    ids = summary.index[[0, 1, 144]].tolist()
    history = clv.alive_history(engine.customer_purchase_days(cdnow_sample, ids), bgf)
    assert history["customer_id"].unique().tolist() == ids
    last = history.groupby("customer_id").tail(1).set_index("customer_id")
    assert (last["day"] == pd.Timestamp("1998-06-30")).all()
    assert_allclose(last["p_alive"], predictions.loc[ids, "p_alive"], rtol=1e-9)
    one = history[history["customer_id"] == ids[0]]
    bought = cdnow_sample.loc[cdnow_sample["customer_id"] == ids[0], "order_date"]
    assert one.loc[one["purchase"], "day"].tolist() == sorted(bought.dt.normalize().unique())
    assert one["p_alive"].iloc[0] == 1.0  # before any repeat purchase
    with pytest.raises(ValueError, match="No purchase day of the customers to follow"):
        clv.alive_history(engine.customer_purchase_days(cdnow_sample, ["nobody"]), bgf)


def test_expected_repeat_purchases_curve(cdnow_bgf):
    curve = clv.expected_repeat_purchases(cdnow_bgf, days=273)
    with clv.base.quiet_lifetimes():
        direct = cdnow_bgf.expected_number_of_purchases_up_to_time(39)
    assert curve.loc[273, "expected"] == pytest.approx(float(direct))
    assert curve.loc[0, "expected"] == 0.0
    assert curve["expected"].is_monotonic_increasing


# --- customer table and seed formula -----------------------------------------------------------


def test_customer_table(cdnow_sample, cdnow_models):
    summary, _, _, predictions, customers = cdnow_models
    # every customer has a purchase day, the 8 with a single free CD included
    assert len(customers) == len(summary) == 2357
    assert customers["clv_rank"].tolist() == list(range(1, len(customers) + 1))
    assert customers["clv"].is_monotonic_decreasing
    revenue = cdnow_sample.groupby("customer_id")["amount"].sum()
    assert_series_equal(
        customers["revenue"].sort_index(),
        revenue.loc[customers.index].sort_index(),
        rtol=1e-9,
        check_names=False,
    )
    assert_series_equal(
        customers["clv"].sort_index(), predictions["clv"].sort_index(), check_names=False
    )
    threshold = customers["revenue"].quantile(0.8)
    seg = customers["segment"].astype(str)
    assert (seg[customers["frequency"] == 0] == "one-time buyer").all()
    at_risk = seg == "high value at risk"
    assert (customers.loc[at_risk, "revenue"] >= threshold).all()
    assert (customers.loc[at_risk, "p_alive"] < 0.5).all()
    assert (customers.loc[at_risk, "frequency"] > 0).all()
    summary_table = clv.segment_summary(customers)
    assert summary_table["customers"].sum() == len(customers)
    assert summary_table["clv"].sum() == pytest.approx(customers["clv"].sum())
    assert summary_table["share_pct"].sum() == pytest.approx(100)
    assert summary_table.loc["high value at risk", "customers"] == at_risk.sum() > 0


def test_seed_formula_comparison(cdnow_sample, cdnow_models):
    _, bgf, _, _, customers = cdnow_models
    seed = kpis.simple_clv_inputs(cdnow_sample, customers.attrs["observation_end"])
    table = clv.seed_formula_comparison(seed, customers, bgf)
    assert table.loc["customers", "seed formula"] == seed["customers"]
    assert table.loc["value per customer over the lifespan", "seed formula"] == pytest.approx(
        seed["clv"]
    )
    assert table.loc["lifespan (years)", "seed formula"] == pytest.approx(seed["lifespan_years"])
    assert table.loc["customers", "model (all customers)"] == len(customers)
    active = customers[customers["last_purchase"] >= seed["window_start"]]
    assert table.loc["customers", "model (same customers)"] == len(active)
    with clv.base.quiet_lifetimes():
        year = bgf.predict(365 / 7, active["frequency"], active["recency"], active["T"])
    assert table.loc["value per customer, 1 year", "model (same customers)"] == pytest.approx(
        (year * active["expected_avg_value"]).mean()
    )
    assert table.loc["model CLV, horizon", "model (all customers)"] == pytest.approx(
        customers["clv"].mean()
    )
    # As the report shows it: the customer count without decimals (it read "4,261.00").
    shown = report_table(table, index=True).cells.set_index("metric")
    assert shown.loc["customers"].tolist() == [
        f"{seed['customers']:,}",
        f"{len(active):,}",
        f"{len(customers):,}",
    ]
    assert shown.loc["value per purchase", "seed formula"] == f"{seed['aov']:,.2f}"


def test_model_checks(cdnow_models):
    _, bgf, ggf, _, _ = cdnow_models
    checks = clv.model_checks(bgf, ggf).set_index("check")
    assert checks.loc["repeat buyers", "status"] == "ok"
    assert checks.loc["dropout identified", "status"] == "ok"
    assert checks.loc["spend independent of frequency", "value"] == f"r = {ggf.correlation_:.2f}"


# --- bad input (SPEC section 6) -------------------------------------------------------------


def test_all_one_time_buyers_are_refused():
    summary = pd.DataFrame({"frequency": [0.0] * 50, "recency": [0.0] * 50, "T": [10.0] * 50})
    with pytest.raises(ValueError, match="All 50 customers are one-time buyers"):
        clv.fit_bgnbd(summary)
    summary["monetary_value"] = 0.0
    with pytest.raises(ValueError, match="All 50 customers are one-time buyers"):
        clv.fit_gamma_gamma(summary)


def test_too_few_repeat_buyers_are_refused():
    summary = pd.DataFrame(
        {"frequency": [0.0] * 40 + [1.0] * 9, "recency": [0.0] * 40 + [3.0] * 9, "T": 10.0}
    )
    with pytest.raises(ValueError, match="Only 9 of 49 customers made a repeat purchase"):
        clv.fit_bgnbd(summary)


def test_invalid_summaries_are_refused():
    with pytest.raises(ValueError, match=r"needs the columns frequency, recency, T .*found: x"):
        clv.fit_bgnbd(pd.DataFrame({"x": [1]}))
    bad = pd.DataFrame({"frequency": [1.0, 2.0], "recency": [5.0, 3.0], "T": [4.0, 9.0]})
    with pytest.raises(ValueError, match=r"1 customer\(s\) with recency > T"):
        clv.fit_bgnbd(bad)
    bad = pd.DataFrame({"frequency": [1.5, np.nan], "recency": [1.0, 3.0], "T": [4.0, 9.0]})
    with pytest.raises(ValueError, match="1 missing or non-numeric value"):
        clv.fit_bgnbd(bad)
    with pytest.raises(ValueError, match="frequency must be a whole number"):
        clv.fit_bgnbd(bad.fillna(1.0))
    with pytest.raises(ValueError, match="The summary has no customers"):
        clv.fit_bgnbd(bad.iloc[:0])
    with pytest.raises(ValueError, match="penalizer must be a number >= 0"):
        clv.fit_bgnbd(synthetic_summary(200, seed=0), penalizer=-1)


def test_predict_clv_needs_the_time_unit(cdnow_models):
    summary, bgf, ggf, _, _ = cdnow_models
    unlabeled = summary.copy()
    unlabeled.attrs = {}
    with pytest.raises(ValueError, match=r"time unit of the summary is unknown.*unit_days="):
        clv.predict_clv(unlabeled, bgf, ggf)
    with pytest.raises(ValueError, match="months must be a whole number >= 1"):
        clv.predict_clv(summary, bgf, ggf, months=0)
    with pytest.raises(ValueError, match="monthly_discount_rate is a fraction per month"):
        clv.predict_clv(summary, bgf, ggf, monthly_discount_rate=5)


def test_non_convergence_climbs_the_penalizer_ladder(monkeypatch, capsys):
    lt = clv.base.lifetimes_classes()
    fitter_class = lt["BetaGeoFitter"]
    original = fitter_class.fit
    calls = []

    def flaky_fit(self, *args, **kwargs):
        calls.append(self.penalizer_coef)
        if self.penalizer_coef < 0.01:
            print("lifetimes prints the scipy result before raising")
            raise lt["ConvergenceError"]("The model did not converge.")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fitter_class, "fit", flaky_fit)
    summary = synthetic_summary(2000, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a caution, not a Python warning
        bgf = clv.fit_bgnbd(summary)
    assert bgf.penalizer_coef == 0.01
    assert bgf.penalizer_ladder_ == (0.0, 0.001, 0.01)
    assert calls == [0.0, 0.0, 0.001, 0.001, 0.01]  # two tolerances per penalizer
    assert capsys.readouterr().out == ""  # lifetimes' print is not shown
    checks = clv.model_checks(bgf).set_index("check")
    assert checks.loc["BG/NBD penalizer", "status"] == "caution"
    assert clv.model_cautions(bgf) == [
        "The BG/NBD fit converged only with a penalizer of 0.01 (asked: 0), which shrinks "
        "its parameters towards 0, so check the holdout validation before relying on its "
        "predictions."
    ]

    def failing_fit(self, *args, **kwargs):
        raise lt["ConvergenceError"]("The model did not converge.")

    monkeypatch.setattr(fitter_class, "fit", failing_fit)
    with pytest.raises(ValueError, match=r"did not converge with any penalizer \(0, 0.001"):
        clv.fit_bgnbd(summary)
    with pytest.raises(ValueError, match=r"any penalizer \(0.05, 0.1\)"):
        clv.fit_bgnbd(summary, penalizer=0.05)


def test_gamma_gamma_correlation_caution():
    rng = np.random.default_rng(0)
    frequency = rng.integers(1, 20, 300).astype(float)
    summary = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": frequency,
            "T": 30.0,
            "monetary_value": 10 * frequency * rng.gamma(20, 1 / 20, 300),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a caution, not a Python warning
        ggf = clv.fit_gamma_gamma(summary)
    assert ggf.correlation_ > 0.8
    bgf = clv.fit_bgnbd(synthetic_summary(2000, 0))
    checks = clv.model_checks(bgf, ggf).set_index("check")
    assert checks.loc["spend independent of frequency", "status"] == "caution"
    correlation = (
        f"Frequency and spend per purchase are correlated (Pearson r = {ggf.correlation_:.2f} "
        "over 300 repeat buyers), against the Gamma-Gamma assumption of independence, so "
        "expected spend and CLV are biased for frequent or infrequent buyers."
    )
    assert correlation in clv.model_cautions(bgf, ggf)


def test_gamma_gamma_with_infinite_mean_spend_is_refused(monkeypatch):
    lt = clv.base.lifetimes_classes()
    original = lt["GammaGammaFitter"].fit

    def heavy_tailed(self, *args, **kwargs):
        fitted = original(self, *args, **kwargs)
        fitted.params_["q"] = 0.8
        return fitted

    monkeypatch.setattr(lt["GammaGammaFitter"], "fit", heavy_tailed)
    summary = synthetic_summary(500, seed=0)
    summary["monetary_value"] = np.where(summary["frequency"] > 0, 20.0 + summary["T"] % 7, 0)
    with pytest.raises(ValueError, match="q=0.800 <= 1, which means an infinite mean spend"):
        clv.fit_gamma_gamma(summary)


def test_a_spend_cap_fits_spend_that_a_few_wholesale_accounts_make_infinite():
    rng = np.random.default_rng(0)
    frequency = rng.integers(1, 6, 200).astype(float)
    spend = np.round(rng.gamma(4, 10, 200), 2)
    spend[:14] = np.round(rng.uniform(20_000, 90_000, 14), 2)  # 14 wholesale accounts
    summary = pd.DataFrame(
        {"frequency": frequency, "recency": 10 * frequency, "T": 100.0, "monetary_value": spend}
    )
    with pytest.raises(clv.ModelDataError) as refused:
        clv.fit_gamma_gamma(summary)
    assert str(refused.value).endswith(
        "or fit on average spends capped at a quantile that leaves them out: spend_cap=0.99, "
        "lower when they are more than 1 % of the repeat buyers (in the CLV report: "
        "-p spend_cap=0.99)."
    )
    ggf = clv.fit_gamma_gamma(summary, spend_cap=0.85)
    cap_value = np.quantile(spend, 0.85)
    assert ggf.spend_cap_ == (0.85, pytest.approx(cap_value), int((spend > cap_value).sum()))
    assert ggf.spend_cap_.customers == 30 and ggf.params_["q"] > 1
    plain = clv.fit_gamma_gamma(summary.assign(monetary_value=np.minimum(spend, cap_value)))
    assert_allclose(ggf.params_.to_numpy(), plain.params_.to_numpy(), rtol=1e-12)
    bgf = clv.fit_bgnbd(synthetic_summary(2000, 0))
    checks = clv.model_checks(bgf, ggf).set_index("check")
    assert checks.loc["spend cap (Gamma-Gamma fit)", "status"] == "caution"
    assert (
        f"The spend model was fitted on average spends capped at {cap_value:,.2f} (the 0.85 "
        "quantile of repeat buyers) for 30 customers, so its mean spend is lower than the "
        "data's; predictions use each customer's own average."
    ) in clv.model_cautions(bgf, ggf)
    assert "spend cap (Gamma-Gamma fit)" not in clv.model_checks(bgf, plain)["check"].tolist()
    with pytest.raises(ValueError, match=r"spend_cap must be a quantile in \(0, 1\], got 0\.$"):
        clv.fit_gamma_gamma(summary, spend_cap=0)


def test_no_dropout_is_flagged():
    # purchases at a steady Poisson rate, nobody stops: BG/NBD's a/(a+b) goes to 0
    rng = np.random.default_rng(5)
    n = 3000
    age = rng.uniform(100, 365, n)
    frequency = rng.poisson(age / 30)
    recency = np.where(frequency > 0, age - rng.exponential(30, n).clip(0, None), 0)
    recency = np.clip(recency, 0, age)
    summary = pd.DataFrame({"frequency": frequency, "recency": recency, "T": age})
    summary.attrs["unit_days"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a caution, not a Python warning
        bgf = clv.fit_bgnbd(summary)
    dropout = clv.dropout_probability(bgf)
    assert dropout < 1e-3
    checks = clv.model_checks(bgf).set_index("check")
    assert checks.loc["dropout identified", "status"] == "caution"
    assert not clv.dropout_identified(bgf)
    assert clv.model_cautions(bgf)[0].startswith(
        "The BG/NBD fit does not identify customer dropout (a / (a + b) = "
        + np.format_float_positional(dropout, precision=2, unique=False, fractional=False, trim="-")
        + " per purchase"
    )
    assert clv.model_cautions(bgf)[0].endswith(
        "), so P(alive) is about 1 for everyone and cannot flag customers at risk: rank "
        "customers by CLV and expected purchases instead."
    )


def test_dropout_caution_on_a_fitter_with_set_parameters():
    # the UCI Online Retail fit: a ~ 0, b = 5,560; the curvature of the likelihood is
    # recomputed at the parameters set, where it is flat (standard errors not finite)
    bgf = clv.fit_bgnbd(synthetic_summary(2000, seed=3))
    assert clv.model_cautions(bgf) == []
    bgf.params_ = bgf.params_.copy()
    bgf.params_["a"], bgf.params_["b"] = 1.5e-6, 5560.0
    assert clv.model_cautions(bgf) == [
        "The BG/NBD fit does not identify customer dropout (a / (a + b) = 0.00000000027 per "
        "purchase, standard errors not finite), so P(alive) is about 1 for everyone and "
        "cannot flag customers at risk: rank customers by CLV and expected purchases instead."
    ]
    checks = clv.model_checks(bgf).set_index("check")
    assert checks.loc["dropout identified", "status"] == "caution"
    assert checks.loc["dropout identified", "value"] == (
        "a / (a + b) = 0.00000000027 per purchase; standard errors not finite"
    )


def test_no_caution_on_the_cdnow_sample(cdnow_models, cdnow_calibration, cdnow_bgf):
    _, bgf, ggf, _, customers = cdnow_models
    assert clv.dropout_identified(cdnow_bgf)  # the published fit: a=0.793, b=2.426
    validation = clv.validate_holdout(cdnow_calibration, cdnow_bgf)
    assert clv.model_cautions(bgf, ggf, validation) == []
    at_risk = clv.at_risk_customers(customers, bgf)
    assert len(at_risk) == 20 and at_risk["revenue"].is_monotonic_decreasing
    assert (at_risk["segment"] == "high value at risk").all()


def test_holdout_error_beyond_20_percent_is_a_caution(cdnow_calibration, cdnow_bgf):
    validation = clv.validate_holdout(cdnow_calibration, cdnow_bgf)
    totals = validation.totals.copy()
    totals.loc["BG/NBD", ["actual", "predicted", "error_pct"]] = [1000.0, 1250.0, 25.0]
    off = clv.HoldoutValidation(
        validation.by_frequency, totals, validation.per_customer, validation.duration
    )
    assert clv.model_cautions(cdnow_bgf, validation=off) == [
        "The model's total of holdout purchases is +25.0 % off the actual (1,250 predicted, "
        "1,000 actual), beyond ±20 %, so its purchase and CLV figures are not reliable for "
        "planning."
    ]
    totals.loc["BG/NBD", "error_pct"] = 15.0
    assert clv.model_cautions(cdnow_bgf, validation=off) == []


def test_at_risk_section_says_why_it_is_empty():
    bgf = clv.fit_bgnbd(synthetic_summary(2000, seed=3))
    bgf.params_ = bgf.params_.copy()
    bgf.params_["a"], bgf.params_["b"] = 1.5e-6, 5560.0
    customers = pd.DataFrame(
        {"revenue": [50.0, 10.0], "p_alive": [1.0, 1.0], "segment": ["high value, active"] * 2}
    )
    at_risk = clv.at_risk_customers(customers, bgf)
    shown = clv_plots.table_or_note(at_risk)
    assert at_risk.empty
    assert shown._repr_markdown_() == (
        "No customer is listed as at risk: P(alive) cannot be estimated from this history "
        "(the BG/NBD fit does not identify dropout: a / (a + b) = 0.00000000027 per purchase, "
        "standard errors not finite), so rank customers by CLV and expected purchases instead."
    )


def test_at_risk_table_names_its_customer_column_once():
    customers = pd.DataFrame(
        {"revenue": [2921.613, 1500.0], "p_alive": [0.0561, 0.2]},
        index=pd.Index(["C00141", "C00318"], name="customer_id"),
    )
    shown = clv_plots.table_or_note(customers, {"p_alive": 3})
    assert "<th" in shown.to_html() and shown.cells.columns.tolist() == [
        "customer_id",
        "revenue",
        "p_alive",
    ]
    assert shown.cells.values.tolist() == [
        ["C00141", "2,921.61", "0.056"],
        ["C00318", "1,500.00", "0.200"],
    ]


# --- holdout plan (short histories, SPEC section 6) -----------------------------------------


def daily_transactions(days: int, *, customers: int = 7, start: str = "2024-01-01"):
    """One purchase a day for ``days`` days, the customers taking turns."""
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % customers}" for i in range(days)],
            "order_date": pd.date_range(start, periods=days, freq="D"),
            "amount": 10.0,
            "order_id": [f"o{i}" for i in range(days)],
        }
    )


def test_holdout_plan_shortens_a_short_history_to_a_third():
    summary = engine.rfm_summary(daily_transactions(60), freq="D", freq_multiplier=7)
    plan = clv.holdout_plan(summary, 180)
    assert (plan.days, plan.history_days) == (20, 60)
    assert plan.cautions == (
        "The history is 60 days long (2024-01-01 to 2024-02-29), not longer than the "
        "180-day holdout asked for, so the holdout was shortened to 20 days (a third of the "
        "history) and the validation rests on a short period.",
    )
    calibration = engine.calibration_holdout(
        daily_transactions(60), holdout_days=plan.days, freq="D", freq_multiplier=7
    )
    assert calibration.attrs["calibration_end"] == "2024-02-09"
    long = clv.holdout_plan(engine.rfm_summary(daily_transactions(200)), 180)
    assert (long.days, long.history_days, long.cautions) == (180, 200, ())


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"order_date": pd.Timestamp("2024-03-05 10:00")},
            "All purchases are on one day (2024-03-05), so no customer has a repeat purchase "
            "and the models have nothing to learn from.",
        ),
        (
            {"amount": -10.0},
            "No customer has a purchase day (every customer-day is a return or is cancelled "
            "by its returns), so there is nothing to model.",
        ),
    ],
    ids=["all purchases on one day", "all amounts negative"],
)
def test_degenerate_histories_are_refused_in_one_sentence(change, message):
    summary = engine.rfm_summary(daily_transactions(40).assign(**change))
    with pytest.raises(clv.ModelDataError) as error:
        clv.holdout_plan(summary, 180)
    assert str(error.value) == message
    assert isinstance(error.value, ValueError)


def test_lifetimes_global_state_is_left_alone():
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        option = pd.get_option("mode.chained_assignment")
    clv.fit_bgnbd(synthetic_summary(500, seed=4))
    assert warnings.filters == filters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        assert pd.get_option("mode.chained_assignment") == option


# --- plots ----------------------------------------------------------------------------------


def test_plots_draw_on_the_given_axes(cdnow_sample, cdnow_calibration, cdnow_bgf, cdnow_models):
    _, bgf, _, _, customers = cdnow_models
    validation = clv.validate_holdout(cdnow_calibration, cdnow_bgf)
    tracking = clv.repeat_purchase_tracking(
        engine.purchase_tracking(cdnow_sample), cdnow_bgf, calibration_end=CALIBRATION_END
    )
    calls = [
        lambda ax: clv_plots.plot_period_transactions(
            clv.period_transactions(cdnow_calibration, cdnow_bgf), ax=ax
        ),
        lambda ax: clv_plots.plot_holdout_by_frequency(
            validation.by_frequency, duration=39, unit_days=7, ax=ax
        ),
        lambda ax: clv_plots.plot_tracking(tracking, ax=ax),
        lambda ax: clv_plots.plot_tracking(tracking, cumulative=False, ax=ax),
        lambda ax: clv_plots.plot_frequency_recency_heatmap(
            clv.frequency_recency_grid(bgf), unit_days=7, ax=ax
        ),
        lambda ax: clv_plots.plot_segments(clv.segment_summary(customers), ax=ax),
        lambda ax: clv_plots.plot_clv_distribution(customers, currency="USD", ax=ax),
        lambda ax: clv_plots.plot_expected_repeat_purchases(
            clv.expected_repeat_purchases(bgf), ax=ax
        ),
    ]
    for draw in calls:
        fig, ax = plt.subplots()
        other_fig, other_ax = plt.subplots()  # pyplot's current axes: must stay empty
        assert draw(ax) is ax
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert not other_ax.has_data()
        plt.close(fig)
        plt.close(other_fig)
    fig, ax = plt.subplots()
    clv_plots.plot_tracking(tracking, cumulative=False, ax=ax)
    assert len(ax.lines[0].get_xdata()) == tracking["complete"].sum()
    plt.close(fig)


def test_tracking_legend_and_calibration_label_cover_no_data(cdnow_sample, cdnow_bgf):
    # the legend sits right of the plotting area and the label above it, so neither hides
    # a peak of the weekly purchases or is clipped by the frame
    tracking = clv.repeat_purchase_tracking(
        engine.purchase_tracking(cdnow_sample), cdnow_bgf, calibration_end=CALIBRATION_END
    )
    fig = clv_plots.plot_tracking_panels(tracking)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.x0 >= frame.x1  # beside the data, not on it
        (label,) = [t for t in ax.texts if t.get_text() == "end of calibration"]
        box = label.get_window_extent(renderer)
        assert box.y0 >= frame.y1 - 1  # above the frame
        assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
        title = ax.title.get_window_extent(renderer)
        assert not box.overlaps(title)


def test_alive_histories_one_panel_per_customer(cdnow_sample, cdnow_models):
    _, bgf, _, _, customers = cdnow_models
    followed = customers.index[:3].tolist()
    history = clv.alive_history(engine.customer_purchase_days(cdnow_sample, followed), bgf)
    fig = clv_plots.plot_alive_histories(history)
    shown = list(dict.fromkeys(history["customer_id"]))
    assert len(fig.axes) == 3 and sorted(shown) == sorted(followed)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [f"customer {c}" for c in shown]
    for ax, customer in zip(fig.axes, shown, strict=True):
        purchases = int(history.loc[history["customer_id"] == customer, "purchase"].sum())
        assert len(ax.lines[1].get_xdata()) == purchases  # each purchase marked
        assert ax.get_ylim() == fig.axes[0].get_ylim()  # shared axes
    note = clv_plots.plot_alive_histories(history, note="Not shown.")
    assert isinstance(note, clv_plots.Note) and note.text == "Not shown."


def test_plot_without_ax_makes_its_own_figure(cdnow_calibration, cdnow_bgf):
    before = plt.get_fignums()
    ax = clv_plots.plot_period_transactions(clv.period_transactions(cdnow_calibration, cdnow_bgf))
    assert ax.figure.number not in before
    plt.close(ax.figure)


def test_no_output_printed(capsys, cdnow_calibration):
    clv.fit_bgnbd(cdnow_calibration)
    captured = capsys.readouterr()
    assert captured.out == ""


def test_write_customer_table(tmp_path, cdnow_models):
    customers = cdnow_models[4]
    written = clv.write_customer_table(customers, tmp_path / "report")
    assert [p.name for p in written] == ["clv_customers.csv", "clv_customers.parquet"]
    from_csv = pd.read_csv(written[0], dtype={"customer_id": str}).set_index("customer_id")
    assert list(from_csv.columns) == list(customers.columns)
    assert from_csv.index.tolist() == customers.index.tolist()  # leading zeros kept
    assert_allclose(from_csv["clv"], customers["clv"], rtol=1e-15)
    assert from_csv["last_purchase"].iloc[0] == customers["last_purchase"].iloc[0].strftime(
        "%Y-%m-%d"
    )
    assert (from_csv["segment"] == customers["segment"].astype(str)).all()
    from_parquet = pd.read_parquet(written[1])
    pd.testing.assert_frame_equal(from_parquet, customers, check_dtype=False)


# --- notebook -------------------------------------------------------------------------------

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "clv_analysis.ipynb"


def test_notebook_is_stored_clean():
    import json

    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        cell["source"] = "".join(cell["source"])
    assert [c for c in code if "parameters" in c["metadata"].get("tags", [])] == [code[0]]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any(
        line.lstrip().startswith(("def ", "class "))
        for c in code
        for line in c["source"].splitlines()
    )
    # papermill documents a parameter only if its line has one "=" (none in the comment)
    lines = [line for line in code[0]["source"].splitlines() if line.strip()]
    assert all(re.fullmatch(r"\w+: (str|int|float|bool) = [^=#]+  # [^=]+", x) for x in lines)
    names = [line.split(":")[0] for line in lines]
    assert names[:2] == ["transactions", "customer_col"]
    assert {"holdout_days", "time_unit", "horizon_months", "monthly_discount_rate"} <= set(names)
    assert {"penalizer", "output_dir", "segment_col", "segment_value"} <= set(names)


@pytest.mark.slow
def test_notebook_runs_on_the_demo_data(tmp_path):
    import nbformat
    import papermill as pm

    from retention_utils.config import SAMPLE_TRANSACTIONS
    from retention_utils.record import read_cautions, read_headlines

    if not SAMPLE_TRANSACTIONS.exists():
        pytest.skip("the embedded demo data (data/sample/transactions.csv) is not generated yet")
    out = tmp_path / "clv.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"output_dir": str(tmp_path)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    from papermill.translators import PythonTranslator

    executed = nbformat.read(out, as_version=4)
    declared = [p.name for p in PythonTranslator.inspect(nbformat.read(NOTEBOOK, 4).cells[1])]
    assert len(declared) == 32  # every parameter is documented by papermill --help-notebook
    payloads = {h["name"]: h for h in read_headlines(executed)}
    headlines = {name: h["value"] for name, h in payloads.items()}
    customers = pd.read_parquet(tmp_path / "clv_customers.parquet")
    assert headlines["customers"] == len(customers) > 0
    assert 0 < headlines["repeat_buyers"] <= headlines["customers"]
    assert headlines["total_clv"] == pytest.approx(customers["clv"].sum())
    assert abs(headlines["holdout_error_pct"]) < 50
    assert (tmp_path / "clv_customers.csv").exists()
    assert read_cautions(executed) == []  # the demo data meet every model check
    # the model comparison, the chosen model and the intervals
    assert headlines["model"] in {"BG/NBD", "MBG/NBD", "Pareto/NBD"}
    total = payloads["total_clv"]
    assert total["low"] < total["value"] < total["high"]
    for name in ("p_alive", "expected_purchases", "clv"):
        assert (customers[f"{name}_low"] <= customers[f"{name}_high"]).all()
    text = "\n".join(
        str(output.get("data", {}).get("text/plain", ""))
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert f"{headlines['model']} is used: among the models that identify customer dropout" in text
    assert "pareto_nbd" in text and "bucket_error" in text  # the comparison table
    assert "CLV" in text and "customers alive (expected)" in text  # the totals with intervals


def _execute(tmp_path, transactions: pd.DataFrame):
    """Run the CLV notebook on ``transactions`` (written as CSV); the executed notebook."""
    import nbformat
    import papermill as pm

    data = tmp_path / "transactions.csv"
    transactions.to_csv(data, index=False)
    out = tmp_path / "clv.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"transactions": str(data), "output_dir": str(tmp_path)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    return nbformat.read(out, as_version=4)


@pytest.mark.slow
def test_notebook_on_a_short_history_shortens_the_holdout(tmp_path):
    from retention_utils.config import SAMPLE_TRANSACTIONS
    from retention_utils.record import read_cautions

    demo = pd.read_csv(SAMPLE_TRANSACTIONS, dtype={"customer_id": str, "order_id": str})
    days = pd.to_datetime(demo["order_date"]).dt.normalize()
    short = demo[days < days.min() + pd.Timedelta(days=100)]
    executed = _execute(tmp_path, short)
    first, last = days.min().date(), (days.min() + pd.Timedelta(days=99)).date()
    assert (short["order_date"].str[:10].max(), str(first)) == (str(last), "2024-01-01")
    assert read_cautions(executed)[0] == (
        f"The history is 100 days long ({first} to {last}), not longer than the 180-day "
        "holdout asked for, so the holdout was shortened to 33 days (a third of the history) "
        "and the validation rests on a short period."
    )
    streams = [
        o.get("text", "")
        for c in executed.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    assert not any("Warning" in text for text in streams)
    assert (tmp_path / "clv_customers.csv").exists()


@pytest.mark.slow
def test_notebook_with_all_purchases_on_one_day_fails_with_one_sentence(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    tx = daily_transactions(40).assign(order_date=pd.Timestamp("2024-03-05 10:00"))
    with pytest.raises(PapermillExecutionError) as error:
        _execute(tmp_path, tx)
    assert error.value.ename == "ModelDataError"
    assert error.value.evalue == (
        "All purchases are on one day (2024-03-05), so no customer has a repeat purchase and "
        "the models have nothing to learn from."
    )


def test_importing_lifetimes_through_clv_changes_no_global_state():
    import subprocess
    import sys

    script = """
import warnings
import pandas as pd
from retention_utils import clv  # scipy adds its own filters when imported: not lifetimes
filters = list(warnings.filters)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
    option = pd.get_option("mode.chained_assignment")
clv.base.lifetimes_classes()
assert warnings.filters == filters, "warning filters changed"
with warnings.catch_warnings():
    warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
    assert pd.get_option("mode.chained_assignment") == option, "pandas option changed"
print("clean")
"""
    result = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
