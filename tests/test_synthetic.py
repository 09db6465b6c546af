"""Tests for the synthetic demo shop (retention_utils/synthetic.py) and data/sample/."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from retention_utils.config import SAMPLE_DIR
from retention_utils.stats import two_proportion_test
from retention_utils.synthetic import (
    DEMO_FILES,
    DEMO_SEED,
    DemoParameters,
    format_csv,
    generate_costs,
    generate_customers,
    generate_demo,
    generate_subscriptions,
    generate_surveys,
    generate_transactions,
    generate_transactions_large,
)

END = pd.Timestamp("2025-12-31")
WINDOW_END = END + pd.Timedelta(days=1)  # the window is [2024-01-01, 2026-01-01)
TRUE = DemoParameters()

# Parameter-recovery tolerances: relative error of a lifetimes fit on the daily summary of
# the purchases of 5,000 customers. Measured with this generator over 40 seeds (100-139) as
# mean (sd), worst case: r +2.1% (2.9%), +7.1%; alpha +5.3% (3.8%), +14%; a -1.4% (5.8%),
# -16%; b -2.2% (9.3%), +/-22%; mean rate r/alpha -3.0% (1.7%), -6.8%; mean dropout
# a/(a+b) +1.0% (4.0%), +11%.
# The alpha bias comes from the daily summary, not from the generator: a daily summary merges
# repeat purchases made on the same calendar day (about 2% of them at these rates), so the fitted
# mean rate comes out ~3% low; a continuous-time fit of the same process is unbiased.
# Tolerance = |bias| + 3.5 sd, rounded up: a fresh seed should not fail, a wrong process
# should (dropout at the first purchase moves r by -42% and b by +67%; rates in weeks
# instead of days move alpha 7x).
BGNBD_TOLERANCE = {"r": 0.13, "alpha": 0.20, "a": 0.25, "b": 0.35}
BGNBD_DERIVED_TOLERANCE = {"mean_rate": 0.10, "mean_dropout": 0.15}
# Gamma-Gamma over the same 40 seeds: p +0.5% (6.6%), worst +16%; q -0.4% (3.7%), -8.2%;
# v +0.9% (10.3%), +23%; implied mean order value p*v/(q-1) +1.3% (1.1%), +3.5%. p, q and v
# are strongly correlated (only their combination is sharp), so the implied mean is checked
# tightly and the individual parameters loosely (same |bias| + 3.5 sd rule).
GAMMA_GAMMA_TOLERANCE = {"p": 0.25, "q": 0.15, "v": 0.40, "mean": 0.06}


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return generate_demo()


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_customers()


def _lifetimes_summary(transactions: pd.DataFrame) -> pd.DataFrame:
    """lifetimes' daily RFM summary of the purchases (returns dropped)."""
    with warnings.catch_warnings():
        # lifetimes.utils sets a deprecated pandas option on import and in summaries
        warnings.filterwarnings(
            "ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes\.utils"
        )
        from lifetimes.utils import summary_data_from_transaction_data

        purchases = transactions[transactions["amount"] > 0]
        return summary_data_from_transaction_data(
            purchases,
            "customer_id",
            "order_date",
            "amount",
            observation_period_end=END,
            freq="D",
        )


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_same_tables_and_other_seed_differs() -> None:
    first, again = generate_demo(seed=11, n_customers=300), generate_demo(seed=11, n_customers=300)
    for name in DEMO_FILES:
        pd.testing.assert_frame_equal(first[name], again[name])
    other = generate_transactions(300, seed=12)
    assert not first["transactions"]["amount"].equals(other["amount"])


def test_tables_can_be_generated_one_by_one_consistently(demo, customers) -> None:
    transactions = generate_transactions()
    pd.testing.assert_frame_equal(transactions, demo["transactions"])
    pd.testing.assert_frame_equal(generate_surveys(customers, transactions), demo["surveys"])
    pd.testing.assert_frame_equal(
        generate_subscriptions(customers, transactions), demo["subscriptions"]
    )
    pd.testing.assert_frame_equal(generate_costs(transactions), demo["retention_costs"])


def test_committed_sample_equals_a_fresh_regeneration(demo) -> None:
    for name, file_name in DEMO_FILES.items():
        committed = (SAMPLE_DIR / file_name).read_bytes().decode("utf-8")
        assert committed == format_csv(demo[name]), (
            f"data/sample/{file_name} differs from the generator's output: run `make data` "
            "and commit the regenerated files together with the generator change."
        )


def test_sample_files_stay_small() -> None:
    total = sum((SAMPLE_DIR / name).stat().st_size for name in DEMO_FILES.values())
    assert total < 2.5e6


# --------------------------------------------------------------------------- schema


def test_transactions_schema_and_values(demo) -> None:
    tx = demo["transactions"]
    assert list(tx.columns) == [
        "customer_id",
        "order_date",
        "amount",
        "order_id",
        "channel",
        "country",
    ]
    assert tx["order_date"].dtype == "datetime64[us]"
    assert tx["amount"].dtype == "float64"
    for column in ("customer_id", "order_id", "channel", "country"):
        assert pd.api.types.is_string_dtype(tx[column]), column
    assert 25_000 <= len(tx) <= 40_000
    assert tx["customer_id"].nunique() == 5000
    assert tx["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert tx["order_id"].str.fullmatch(r"[OR]1\d{5}").all()
    assert tx["order_id"].is_unique
    assert tx["order_date"].is_monotonic_increasing
    assert tx["order_date"].min() >= pd.Timestamp("2024-01-01")
    assert tx["order_date"].max() < WINDOW_END
    # real times of day, not midnight stamps
    assert (tx["order_date"] != tx["order_date"].dt.normalize()).mean() > 0.99
    assert np.allclose(tx["amount"], tx["amount"].round(2))
    assert (tx["amount"] != 0).all()
    assert set(tx["channel"]) == set(TRUE.channels)
    assert set(tx["country"]) == set(TRUE.countries)
    # a customer keeps one channel and one country
    assert (tx.groupby("customer_id")[["channel", "country"]].nunique() == 1).all().all()
    purchases = tx[tx["amount"] > 0]
    assert 45 < purchases["amount"].mean() < 80  # AOV in EUR


def test_customers_are_numbered_in_order_of_their_first_purchase(demo, customers) -> None:
    first = demo["transactions"].groupby("customer_id")["order_date"].min()
    assert customers["acquired_at"].is_monotonic_increasing
    assert (first.loc[customers["customer_id"]].to_numpy() == customers["acquired_at"]).all()
    # acquisitions spread over the 24 months
    per_quarter = customers["acquired_at"].dt.to_period("Q").value_counts()
    assert len(per_quarter) == 8 and per_quarter.min() > 500


def test_surveys_schema_and_score_ranges(demo) -> None:
    surveys = demo["surveys"]
    assert list(surveys.columns) == [
        "customer_id", "response_date", "csat", "nps", "ces", "channel", "country",
    ]  # fmt: skip
    assert 2000 <= len(surveys) <= 5000
    for column, low, high in (("csat", 1, 5), ("nps", 0, 10), ("ces", 1, 7)):
        scores = surveys[column]
        assert scores.dtype == "Int64"
        assert scores.dropna().between(low, high).all()
        assert set(scores.dropna().unique()) == set(range(low, high + 1)), column
        assert 0.02 < scores.isna().mean() < 0.35, column
    assert surveys[["csat", "nps", "ces"]].notna().any(axis=1).all()
    assert surveys["response_date"].max() < WINDOW_END
    assert set(surveys["customer_id"]) <= set(demo["transactions"]["customer_id"])


def test_each_survey_response_follows_a_purchase_within_a_week(demo) -> None:
    tx, surveys = demo["transactions"], demo["surveys"]
    purchases = tx.loc[tx["amount"] > 0, ["customer_id", "order_date"]].sort_values("order_date")
    matched = pd.merge_asof(
        surveys.sort_values("response_date"),
        purchases,
        left_on="response_date",
        right_on="order_date",
        by="customer_id",
        direction="backward",
    )
    lag = matched["response_date"] - matched["order_date"]
    assert lag.notna().all()
    assert (lag >= pd.Timedelta(0)).all() and (lag <= pd.Timedelta(days=7)).all()


# --------------------------------------------------------------------------- process


def test_dropout_never_happens_at_the_first_purchase() -> None:
    # With p ~ 1 every customer leaves right after the first *repeat* purchase. If dropout
    # could happen at the first purchase, almost nobody would make a repeat purchase;
    # under BG/NBD the share with one equals P(Poisson(lambda * T) >= 1).
    certain_dropout = DemoParameters(a=1000.0, b=0.001)
    customers = generate_customers(2000, seed=5, params=certain_dropout)
    tx = generate_transactions(2000, seed=5, params=certain_dropout, returns=False)
    purchases = tx.groupby("customer_id").size()
    assert set(purchases.unique()) == {1, 2}
    exposure_days = (WINDOW_END - customers["acquired_at"]).dt.total_seconds() / 86_400
    expected = (1 - np.exp(-customers["purchase_rate"] * exposure_days)).mean()
    assert (purchases == 2).mean() == pytest.approx(expected, abs=0.03)
    assert expected > 0.7


def test_latent_truth_is_consistent_with_the_transactions(demo, customers) -> None:
    assert (customers["repeats_before_dropout"] >= 1).all()
    # no repeat purchase -> never had the chance to drop out -> alive
    assert customers.loc[customers["repeat_purchases"] == 0, "alive"].all()
    dropped = ~customers["alive"]
    assert (
        customers.loc[dropped, "repeat_purchases"]
        == customers.loc[dropped, "repeats_before_dropout"]
    ).all()
    purchases = demo["transactions"].query("amount > 0").groupby("customer_id").size()
    assert (
        purchases.loc[customers["customer_id"]].to_numpy() == customers["repeat_purchases"] + 1
    ).all()
    assert 0.5 < customers["alive"].mean() < 0.7


def test_latent_distributions_match_the_parameters(customers) -> None:
    n = len(customers)
    rate = customers["purchase_rate"]
    assert rate.mean() == pytest.approx(TRUE.r / TRUE.alpha, rel=4 * np.sqrt(1 / (TRUE.r * n)))
    dropout = customers["dropout_probability"]
    sd = np.sqrt(TRUE.a * TRUE.b / ((TRUE.a + TRUE.b) ** 2 * (TRUE.a + TRUE.b + 1)))
    assert dropout.mean() == pytest.approx(TRUE.mean_dropout, abs=4 * sd / np.sqrt(n))


def test_channels_differ_in_dropout_as_documented(customers) -> None:
    truth = TRUE.segment_truth().set_index("value")
    by_channel = customers.groupby("channel")["dropout_probability"].agg(["mean", "size"])
    for channel, row in by_channel.iterrows():
        assert row["size"] / len(customers) == pytest.approx(truth.loc[channel, "share"], abs=0.03)
        assert row["mean"] == pytest.approx(truth.loc[channel, "mean_dropout"], abs=0.02)
    assert by_channel.loc["organic", "mean"] < by_channel.loc["social", "mean"] - 0.08
    by_country = customers.groupby("country")["purchase_rate"].mean()
    assert by_country["FR"] < 0.75 * by_country["DE"]
    # exact quadrature of the tilt: the mix-weighted means give back the population means
    channels = truth[truth["segment"] == "channel"]
    assert (channels["share"] * channels["mean_dropout"]).sum() == pytest.approx(TRUE.mean_dropout)
    countries = truth[truth["segment"] == "country"]
    assert (countries["share"] * countries["mean_purchase_rate"]).sum() == pytest.approx(
        TRUE.mean_purchase_rate
    )


def test_returns_are_a_small_share_and_refund_an_earlier_purchase(demo) -> None:
    tx = demo["transactions"]
    returns = tx[tx["amount"] < 0]
    purchases = tx[tx["amount"] > 0]
    assert 0.02 < len(returns) / len(purchases) < 0.04
    assert returns["order_id"].str.startswith("R").all()
    assert purchases["order_id"].str.startswith("O").all()
    # each return refunds at most the largest earlier purchase of the same customer
    candidates = returns.reset_index().merge(purchases, on="customer_id", suffixes=("", "_p"))
    candidates = candidates[candidates["order_date_p"] <= candidates["order_date"]]
    largest = candidates.groupby("index")["amount_p"].max()
    assert largest.index.sort_values().equals(returns.index.sort_values())
    assert (largest >= -returns["amount"].loc[largest.index] - 1e-9).all()
    same_day = candidates[
        candidates["order_date_p"].dt.normalize() == candidates["order_date"].dt.normalize()
    ]
    share_same_day = same_day["index"].nunique() / len(returns)
    assert 0.2 < share_same_day < 0.45


def test_no_returns_when_switched_off() -> None:
    tx = generate_transactions(500, seed=3, returns=False)
    assert (tx["amount"] > 0).all()
    assert tx["order_id"].str.startswith("O").all()


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("seed", [DEMO_SEED, 7])
def test_lifetimes_recovers_the_true_bgnbd_parameters(seed) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes")
        from lifetimes import BetaGeoFitter

    summary = _lifetimes_summary(generate_transactions(seed=seed))
    fitted = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"]).params_
    for name, tolerance in BGNBD_TOLERANCE.items():
        true = getattr(TRUE, name)
        assert fitted[name] == pytest.approx(true, rel=tolerance), (name, fitted[name], true)
    mean_rate = fitted["r"] / fitted["alpha"]
    assert mean_rate == pytest.approx(
        TRUE.mean_purchase_rate, rel=BGNBD_DERIVED_TOLERANCE["mean_rate"]
    )
    mean_dropout = fitted["a"] / (fitted["a"] + fitted["b"])
    assert mean_dropout == pytest.approx(
        TRUE.mean_dropout, rel=BGNBD_DERIVED_TOLERANCE["mean_dropout"]
    )


def test_a_wrong_time_unit_would_fail_the_recovery_check() -> None:
    # The tolerance must be able to fail: a process whose rates are in weeks (alpha / 7)
    # is far outside it.
    weekly = DemoParameters(alpha=TRUE.alpha / 7)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes")
        from lifetimes import BetaGeoFitter

    summary = _lifetimes_summary(generate_transactions(1000, seed=1, params=weekly))
    fitted = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"]).params_
    assert abs(fitted["alpha"] / TRUE.alpha - 1) > 3 * BGNBD_TOLERANCE["alpha"]


def test_lifetimes_recovers_the_gamma_gamma_spend() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes")
        from lifetimes import GammaGammaFitter

    summary = _lifetimes_summary(generate_transactions())
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    fitted = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]).params_
    assert fitted["p"] == pytest.approx(TRUE.p_spend, rel=GAMMA_GAMMA_TOLERANCE["p"])
    assert fitted["q"] == pytest.approx(TRUE.q, rel=GAMMA_GAMMA_TOLERANCE["q"])
    assert fitted["v"] == pytest.approx(TRUE.gamma, rel=GAMMA_GAMMA_TOLERANCE["v"])
    implied_mean = fitted["p"] * fitted["v"] / (fitted["q"] - 1)
    assert implied_mean == pytest.approx(TRUE.mean_order_value, rel=GAMMA_GAMMA_TOLERANCE["mean"])


# --------------------------------------------------------------------------- satisfaction


def test_satisfaction_predicts_repurchase(demo, customers) -> None:
    tx, surveys = demo["transactions"], demo["surveys"]
    surveys = surveys[surveys["nps"].notna()]
    day0 = surveys["response_date"].dt.normalize()
    eligible = surveys[day0 + pd.Timedelta(days=90) <= END]
    day0 = eligible["response_date"].dt.normalize()
    purchase_days = (
        tx.loc[tx["amount"] > 0]
        .assign(day=lambda t: t["order_date"].dt.normalize())[["customer_id", "day"]]
        .drop_duplicates()
    )
    pairs = eligible.assign(day0=day0).reset_index().merge(purchase_days, on="customer_id")
    later = pairs[
        (pairs["day"] > pairs["day0"]) & (pairs["day"] <= pairs["day0"] + pd.Timedelta(days=90))
    ]
    repurchased = eligible.index.isin(later["index"])
    detractor = (eligible["nps"] <= 6).to_numpy()
    promoter = (eligible["nps"] >= 9).to_numpy()
    test = two_proportion_test(
        repurchased[detractor].sum(), detractor.sum(), repurchased[promoter].sum(), promoter.sum()
    )
    assert detractor.sum() > 300 and promoter.sum() > 800
    assert test.difference > 0.08  # promoters repurchase at least 8 points more often
    assert test.p_value < 1e-4
    # and the mechanism: detractors' customers have the higher latent dropout probability
    dropout = customers.set_index("customer_id")["dropout_probability"]
    mean_p = (
        eligible.assign(p=dropout.loc[eligible["customer_id"]].to_numpy())
        .groupby(np.select([detractor, promoter], ["detractor", "promoter"], "passive"))["p"]
        .mean()
    )
    assert mean_p["detractor"] > 1.5 * mean_p["promoter"]


def test_no_satisfaction_signal_means_no_relation() -> None:
    flat = DemoParameters(satisfaction_signal=0.0)
    tables = generate_demo(params=flat)
    customers = generate_customers(params=flat)
    merged = tables["surveys"].merge(
        customers[["customer_id", "dropout_probability"]], on="customer_id"
    )
    merged = merged[merged["nps"].notna()]
    correlation = np.corrcoef(merged["nps"].astype(float), merged["dropout_probability"])[0, 1]
    assert abs(correlation) < 0.06


# --------------------------------------------------------------------------- subscriptions, costs


def test_subscriptions_have_plan_changes_cancellations_and_no_overlap(demo) -> None:
    subs = demo["subscriptions"]
    assert list(subs.columns) == ["customer_id", "start_date", "end_date", "mrr", "plan"]
    assert subs["customer_id"].nunique() == 800
    assert (subs["start_date"] == subs["start_date"].dt.normalize()).all()
    ended = subs["end_date"].notna()
    assert (subs.loc[ended, "end_date"] > subs.loc[ended, "start_date"]).all()
    assert (subs.loc[ended, "end_date"] <= END).all()
    assert set(zip(subs["plan"], subs["mrr"], strict=True)) <= set(
        zip(TRUE.plans, TRUE.plan_mrr, strict=True)
    )
    ordered = subs.sort_values(["customer_id", "start_date"])
    previous_end = ordered.groupby("customer_id")["end_date"].shift()
    previous_mrr = ordered.groupby("customer_id")["mrr"].shift()
    follows = previous_end.notna()
    # a change ends one row and starts the next on the same day, at another price
    assert (ordered.loc[follows, "start_date"] == previous_end[follows]).all()
    assert (ordered.loc[follows, "mrr"] != previous_mrr[follows]).all()
    assert (
        ordered.groupby("customer_id")["end_date"].apply(lambda e: e.iloc[:-1].notna().all()).all()
    )
    upgrades = (ordered["mrr"] > previous_mrr).sum()
    downgrades = (ordered["mrr"] < previous_mrr).sum()
    last = ordered.groupby("customer_id").tail(1)
    cancelled, active = last["end_date"].notna().sum(), last["end_date"].isna().sum()
    assert upgrades > 50 and downgrades > 20 and cancelled > 50 and active > 400
    # members sign up on a purchase day
    purchase_days = set(
        zip(
            demo["transactions"]["customer_id"],
            demo["transactions"]["order_date"].dt.normalize(),
            strict=True,
        )
    )
    first = ordered.groupby("customer_id").head(1)
    assert all(
        key in purchase_days for key in zip(first["customer_id"], first["start_date"], strict=True)
    )


def test_costs_are_monthly_and_follow_the_customer_base(demo) -> None:
    costs = demo["retention_costs"]
    assert list(costs.columns) == ["period_start", "cost"]
    assert len(costs) == 24
    assert (costs["period_start"] == pd.date_range("2024-01-01", "2025-12-01", freq="MS")).all()
    assert (costs["cost"] > 0).all()
    assert np.allclose(costs["cost"], costs["cost"].round(2))
    # no base before the first month: the fixed part only, times the noise
    assert costs["cost"].iloc[0] == pytest.approx(TRUE.cost_fixed, rel=4 * TRUE.cost_noise)
    assert costs["cost"].iloc[-1] > 2 * costs["cost"].iloc[0]


# --------------------------------------------------------------------------- large logs, parameters


def test_large_log_has_the_requested_rows_and_no_returns() -> None:
    big = generate_transactions_large(200_003, rows_per_customer=4, seed=9)
    assert len(big) == 200_003
    assert list(big.columns) == ["customer_id", "order_date", "amount", "order_id"]
    assert big["order_date"].dtype == "datetime64[us]"
    assert (big["amount"] > 0).all()
    assert big["order_id"].is_unique
    per_customer = big.groupby("customer_id").size()
    assert per_customer.mean() == pytest.approx(4, rel=0.05)
    assert big["order_date"].min() >= pd.Timestamp("2024-01-01")
    assert big["order_date"].max() < WINDOW_END
    # the customer's first row is their first purchase
    first_row = big.groupby("customer_id")["order_date"].first()
    assert (first_row == big.groupby("customer_id")["order_date"].min()).all()


def test_large_log_is_reproducible() -> None:
    first = generate_transactions_large(5000, seed=2)
    pd.testing.assert_frame_equal(first, generate_transactions_large(5000, seed=2))


def test_invalid_parameters_are_reported_together() -> None:
    with pytest.raises(
        ValueError,
        match=r"Invalid DemoParameters: r must be > 0 \(got -1\); the channels mix must sum to 1",
    ):
        DemoParameters(r=-1, channel_mix=(0.5, 0.3, 0.3))
    with pytest.raises(ValueError, match="the countries tilts weighted by the mix must sum to 0"):
        DemoParameters(country_rate_tilt=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="n_customers must be at least 1"):
        generate_transactions(0)
    with pytest.raises(ValueError, match="n_rows must be at least 1"):
        generate_transactions_large(0)
    with pytest.raises(ValueError, match=r"end \(2023-01-01\) is before start"):
        generate_transactions(10, end="2023-01-01")


def test_committed_csat_reviews_equal_a_fresh_regeneration() -> None:
    from retention_utils.synthetic import REVIEWS_FILE, generate_csat_reviews

    reviews = generate_csat_reviews()
    assert format_csv(reviews) == (SAMPLE_DIR / REVIEWS_FILE).read_text(), "run `make data`"
    assert set(reviews["rating"].dropna().unique()) == {1, 2, 3, 4, 5}
    known = set(pd.read_csv(SAMPLE_DIR / "transactions.csv", dtype=str)["customer_id"])
    assert set(reviews["customer_id"]) <= known
