"""Satisfaction scores, their tests, and the link to repurchase (retention_utils.satisfaction)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats

from retention_utils import satisfaction as sat
from retention_utils.config import NOTEBOOK_DIR, SAMPLE_DIR, SAMPLE_SURVEYS
from retention_utils.io import DataValidationError
from retention_utils.plots import satisfaction as splots
from retention_utils.record import read_headlines

Z = stats.norm.ppf(0.975)


def wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson interval in percent, written out independently of retention_utils.stats."""
    p = x / n
    denom = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / denom
    return max(centre - half, 0) * 100, min(centre + half, 1) * 100


# --- the three scores, by hand --------------------------------------------------------------


def test_nps_hand_computed():
    # 5 promoters (9-10), 2 passives (7-8), 3 detractors (0-6) out of 10.
    est = sat.nps([10, 9, 8, 7, 6, 0, 10, 9, 5, 10])
    assert est.value == pytest.approx(20.0)
    assert est.n == 10 and est.missing == 0
    # SE = 100 * sqrt((0.5 + 0.3 - 0.2^2) / 10) = 100 * sqrt(0.076)
    assert est.se == pytest.approx(27.568097504180443)
    assert est.low == pytest.approx(20 - 1.96 * 27.568097504180443)
    assert est.high == pytest.approx(20 + 1.96 * 27.568097504180443)
    assert (est.low, est.high) == pytest.approx((-34.03347, 74.03347), abs=1e-5)


def test_nps_excludes_and_counts_missing_answers():
    est = sat.nps(pd.Series([10, None, 0, np.nan, 8], dtype="object"))
    assert (est.n, est.missing, est.value) == (3, 2, 0.0)
    est = sat.nps(pd.array([10, pd.NA, 9], dtype="Int64"))
    assert (est.n, est.missing, est.value) == (2, 1, 100.0)
    # No spread: SE 0, the interval collapses to the point (and never leaves -100..100).
    assert (est.se, est.low, est.high) == (0.0, 100.0, 100.0)


def test_nps_without_responses_is_nan():
    est = sat.nps([None, None])
    assert est.n == 0 and est.missing == 2
    assert math.isnan(est.value) and math.isnan(est.low) and math.isnan(est.high)


def test_csat_hand_computed_with_wilson_interval():
    est = sat.csat([5, 4, 3, 5, None])
    assert (est.value, est.n, est.missing) == (75.0, 4, 1)
    assert (est.low, est.high) == pytest.approx((30.064184258240186, 95.44127391902994))
    assert (est.low, est.high) == pytest.approx(wilson(3, 4))
    assert est.mean == pytest.approx(4.25)


def test_csat_scales_and_threshold():
    # 1-10: default threshold is the top two boxes (9-10).
    scores = [10, 9, 8, 7, 3]
    assert sat.csat(scores, scale_max=10).value == pytest.approx(40.0)
    assert sat.csat(scores, scale_max=10, positive_min=8).value == pytest.approx(60.0)
    # 1-7: top two boxes are 6-7.
    assert sat.csat([7, 6, 5, 1], scale_max=7).value == pytest.approx(50.0)
    # 1-5 default threshold is 4, as SPEC section 4 says.
    assert sat.csat([4, 3]).value == pytest.approx(50.0)
    with pytest.raises(ValueError, match=r"positive_min must be between 2 and 5 on a 1-5 CSAT"):
        sat.csat([4, 3], positive_min=6)
    with pytest.raises(ValueError, match=r"CSAT scale_max must be one of 5 \(a 1-5 scale\)"):
        sat.csat([4, 3], scale_max=6)
    with pytest.raises(ValueError, match=r"CES scale_max must be one of 5 \(a 1-5 scale\), 7"):
        sat.ces([4, 3], scale_max=10)


def test_ces_hand_computed_with_t_interval():
    scores = [5, 6, 4, 7, 5, 6]
    est = sat.ces(scores)
    mean = 33 / 6
    sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / 5)
    half = stats.t.ppf(0.975, 5) * sd / math.sqrt(6)
    assert est.mean == pytest.approx(5.5)
    assert est.value == pytest.approx(5.5 / 7 * 100)
    assert (est.mean_low, est.mean_high) == pytest.approx((5.5 - half, 5.5 + half))
    assert (est.low, est.high) == pytest.approx(((5.5 - half) / 7 * 100, (5.5 + half) / 7 * 100))
    assert sat.ces([5, 4, 3], scale_max=5).value == pytest.approx(80.0)


def test_ces_interval_stays_on_the_scale():
    est = sat.ces([7, 6, 5, 6])  # t interval of the mean would reach 7.30
    assert est.mean_high == 7 and est.high == pytest.approx(100.0)


# --- bad scores -----------------------------------------------------------------------------


def test_scores_out_of_scale_or_not_whole_are_rejected_with_rows():
    scores = pd.Series([1, 11, 2.5, -1, 7, None], index=[10, 11, 12, 13, 14, 15], name="q_nps")
    with pytest.raises(DataValidationError) as info:
        sat.nps(scores)
    message = str(info.value)
    assert message.startswith("2 problems in the NPS scores:")
    assert (
        "- column 'q_nps': scores outside the 0-10 scale (2 rows); e.g. 11.0 (row 2), -1.0 (row 4)"
        in message
    )
    assert (
        "- column 'q_nps': scores that are not whole numbers (1 row); e.g. 2.5 (row 3)" in message
    )
    problems = {p["rule"]: p for p in info.value.problems}
    assert problems["scores outside the 0-10 scale"]["rows"] == [2, 4]
    assert problems["scores outside the 0-10 scale"]["count"] == 2
    assert problems["scores that are not whole numbers"]["rows"] == [3]


def test_csat_rejects_zero_on_a_one_to_five_scale_and_text():
    with pytest.raises(DataValidationError) as info:
        sat.csat([0, 5, "great", 3])
    problems = {p["rule"]: p for p in info.value.problems}
    assert problems["scores outside the 1-5 scale"]["rows"] == [1]
    assert problems["scores that are not numbers"]["rows"] == [3]
    assert problems["scores that are not numbers"]["examples"] == ["great"]
    assert "check the column mapping (csat_col=) and the scale (csat_scale_max=)" in str(info.value)


def test_ces_on_five_point_scale_rejects_six():
    with pytest.raises(DataValidationError, match="scores outside the 1-5 scale"):
        sat.ces([5, 6], scale_max=5)


def test_score_tables_reject_bad_scores_passed_directly():
    bad = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "response_date": pd.to_datetime(["2025-01-01"] * 2),
            "nps": [9, 12],
        }  # fmt: skip
    )
    with pytest.raises(DataValidationError, match=r"scores outside the 0-10 scale \(1 row\)"):
        sat.score_trend(bad, "nps")
    with pytest.raises(DataValidationError, match="scores outside the 0-10 scale"):
        sat.score_summary(bad)


# --- significance tests against scipy -------------------------------------------------------


def test_csat_difference_matches_scipy_two_proportion_test():
    a = [5] * 30 + [2] * 20  # 60 % satisfied
    b = [4] * 45 + [1] * 15  # 75 % satisfied
    c = sat.compare_scores(a, b, score="csat")
    assert c.difference == pytest.approx(15.0)
    table = np.array([[30, 20], [45, 15]])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert c.p_value == pytest.approx(p)
    assert c.statistic**2 == pytest.approx(chi2)
    se = math.sqrt(0.6 * 0.4 / 50 + 0.75 * 0.25 / 60) * 100
    assert (c.low, c.high) == pytest.approx((15 - Z * se, 15 + Z * se))


def test_ces_difference_matches_scipy_welch():
    a = [3, 4, 5, 4, 6, 2, 5, 4]
    b = [6, 5, 7, 6, 5, 7, 4]
    c = sat.compare_scores(a, b, score="ces")
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert c.p_value == pytest.approx(ref.pvalue)
    assert c.statistic == pytest.approx(ref.statistic)
    # Differences are in points of the CES index (percent of the scale maximum 7).
    assert c.difference == pytest.approx((np.mean(b) - np.mean(a)) / 7 * 100)
    assert (c.low, c.high) == pytest.approx((ci.low / 7 * 100, ci.high / 7 * 100))


def test_nps_difference_uses_root_sum_of_squared_standard_errors():
    a = [10] * 40 + [8] * 30 + [3] * 30  # NPS 10
    b = [10] * 50 + [8] * 30 + [3] * 20  # NPS 30
    ea, eb = sat.nps(a), sat.nps(b)
    c = sat.compare_scores(a, b, score="nps")
    se = math.sqrt(ea.se**2 + eb.se**2)
    assert c.difference == pytest.approx(20.0)
    assert c.se == pytest.approx(se)
    assert c.p_value == pytest.approx(2 * stats.norm.sf(20 / se))


def test_describe_change_in_plain_language():
    a = [10] * 40 + [8] * 30 + [3] * 30
    b = [10] * 38 + [8] * 30 + [3] * 32
    c = sat.compare_scores(a, b, score="nps")
    text = sat.describe_change(c, score="nps", n_first=100, n_second=100, between="May to June")
    assert text.startswith("NPS fell 4.0 points (May to June), within noise at n=100 vs n=100")
    assert "95% CI" in text and "p=0.7" in text
    assert "too few responses" in sat.describe_change(None, score="ces", n_first=1, n_second=5)


# --- trends and segments --------------------------------------------------------------------


@pytest.fixture
def surveys() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
            "response_date": pd.to_datetime(
                [
                    "2025-01-05",
                    "2025-01-20",
                    "2025-01-31",
                    "2025-03-02",
                    "2025-03-03",
                    "2025-03-31",
                    "2025-03-15",
                ]  # fmt: skip
            ),
            "nps": pd.array([10, 9, 0, 10, 6, 5, pd.NA], dtype="Int64"),
            "csat": pd.array([5, 4, 2, 5, 3, 1, 4], dtype="Int64"),
            "channel": ["web", "web", "store", "web", "store", "store", None],
        }
    )


def test_score_trend_per_month(surveys):
    trend = sat.score_trend(surveys, "nps", freq="M", min_responses=3)
    assert [str(p) for p in trend["period"]] == ["2025-01", "2025-02", "2025-03"]
    assert trend["n"].tolist() == [3, 0, 3]
    assert trend["missing"].tolist() == [0, 0, 1]
    assert trend.loc[0, "value"] == pytest.approx(100 * (2 - 1) / 3)
    assert math.isnan(trend.loc[1, "value"])
    assert trend.loc[2, "value"] == pytest.approx(100 * (1 - 2) / 3)
    assert trend["low_n"].tolist() == [False, True, False]
    assert trend.loc[0, ["detractors", "passives", "promoters"]].tolist() == pytest.approx(
        [100 / 3, 0, 200 / 3]
    )
    # No responses in February: nothing to test there.
    assert math.isnan(trend.loc[1, "change"])
    assert "too few responses" in trend.loc[1, "verdict"]
    assert trend.attrs["score"] == "nps" and trend.attrs["freq"] == "M"


def test_score_trend_change_is_the_comparison_of_consecutive_periods(surveys):
    trend = sat.score_trend(surveys, "csat", freq="Q", min_responses=30)
    assert [str(p) for p in trend["period"]] == ["2025Q1"]
    two = surveys.assign(response_date=surveys["response_date"] + pd.offsets.DateOffset(months=3))
    both = pd.concat([surveys, two.assign(csat=pd.array([5] * 7, dtype="Int64"))])
    trend = sat.score_trend(both.reset_index(drop=True), "csat", freq="Q")
    ref = sat.compare_scores(surveys["csat"], [5] * 7, score="csat")
    assert trend.loc[1, "change"] == pytest.approx(ref.difference)
    assert trend.loc[1, "p_value"] == pytest.approx(ref.p_value)
    assert trend["low_n"].all()
    assert trend.loc[1, "verdict"].startswith("CSAT rose 42.9 percentage points (2025Q1 to 2025Q2)")


def test_score_trend_observation_end_drops_later_responses(surveys):
    trend = sat.score_trend(surveys, "csat", observation_end="2025-03-15")
    assert trend["n"].tolist() == [3, 0, 3]
    assert trend["incomplete"].tolist() == [False, False, True]
    assert trend.attrs["after_observation_end"] == 1


def test_score_trend_rejects_unknown_freq(surveys):
    with pytest.raises(ValueError, match="freq must be one of W, M, Q, Y"):
        sat.score_trend(surveys, "nps", freq="D")


def test_score_by_segment_and_pairwise_tests(surveys):
    table = sat.score_by_segment(surveys, "csat", "channel", min_responses=5)
    assert table["channel"].tolist() == ["store", "web"]
    assert table["n"].tolist() == [3, 3]
    assert table["value"].tolist() == pytest.approx([0.0, 100.0])
    assert table.attrs["missing_segment"] == 1
    pairs = sat.compare_segments(surveys, "csat", "channel")
    assert len(pairs) == 1
    ref = sat.compare_scores([2, 3, 1], [5, 4, 5], score="csat")
    assert pairs.loc[0, "difference"] == pytest.approx(ref.difference)
    assert pairs.loc[0, "p_value"] == pytest.approx(ref.p_value)
    assert pairs.loc[0, "p_holm"] == pytest.approx(ref.p_value)  # one pair: no adjustment


def test_holm_adjustment():
    adjusted = sat._holm(np.array([0.01, 0.04, 0.03, 0.20]))
    assert adjusted.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.20])


def test_only_some_scores_present(surveys):
    csat_only = surveys[["customer_id", "response_date", "csat"]]
    assert sat.available_scores(csat_only) == ["csat"]
    summary = sat.score_summary(csat_only)
    assert summary["score"].tolist() == ["CSAT"]
    assert summary.loc[0, "value"] == pytest.approx(400 / 7)
    with pytest.raises(ValueError, match=r"needs the column\(s\) nps; columns found"):
        sat.score_trend(csat_only, "nps")


# --- link to behaviour ----------------------------------------------------------------------


@pytest.fixture
def linked_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    surveys = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
            "response_date": pd.to_datetime(["2025-01-10 14:30"] * 6 + ["2025-01-10 00:00"]),
            "nps": pd.array([10, 9, 0, 6, 10, pd.NA, 7], dtype="Int64"),
            "csat": pd.array([5, 4, 2, 3, 5, 4, 4], dtype="Int64"),
        }
    )
    surveys.loc[4, "response_date"] = pd.Timestamp("2025-10-01")  # too recent to follow up
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c", "d", "d", "f"],
            "order_date": pd.to_datetime(
                [
                    "2025-01-01",
                    "2025-01-20",
                    "2025-12-01",  # a: bought 10 days later
                    "2025-01-10 18:00",
                    "2025-04-10",  # b: same day ignored; day 90 counts
                    "2025-04-11",  # c: day 91 is too late
                    "2025-02-01",
                    "2025-02-01",  # d: purchase fully returned the same day
                    "2025-02-01",
                ],  # fmt: skip
                format="ISO8601",
            ),
            "amount": [10.0, 20.0, 5.0, 7.0, 8.0, 9.0, 20.0, -20.0, 3.0],
            "order_id": ["1", "2", "3", "4", "5", "6", "7", "8", "9"],
        }
    )
    return surveys, tx


def test_repurchase_by_nps_group_hand_built(linked_data):
    surveys, tx = linked_data
    table = sat.repurchase_by_score(surveys, tx, score="nps")
    assert table["group"].tolist() == ["detractor", "passive", "promoter"]
    # c, d | - | a, b  (e too recent, f no answer, g not a customer in the transactions)
    assert table["n"].tolist() == [2, 0, 2]
    assert table["repurchased"].tolist() == [0, 0, 2]
    assert table["rate"].tolist()[::2] == pytest.approx([0.0, 100.0])
    assert (table.loc[2, "low"], table.loc[2, "high"]) == pytest.approx(wilson(2, 2))
    assert (table.loc[0, "low"], table.loc[0, "high"]) == pytest.approx(wilson(0, 2))
    assert table.attrs["observation_end"] == pd.Timestamp("2025-12-01")
    assert table.attrs["eligible"] == 5 and table.attrs["ineligible"] == 1
    assert table.attrs["unmatched_responses"] == 1
    assert table.attrs["missing"] == 1
    assert table.attrs["customers_matched"] == 5  # g never bought anything
    assert table.attrs["cautions"] == [
        "1 of 6 responses (17%) are from customers not found in the transactions; they are "
        "left out of the comparison. Check that both files use the same customer IDs "
        "(customer_col=)."
    ]


def test_unknown_customers_do_not_count_as_not_buying_again(linked_data):
    # Seen: 1,000 promoter answers of unknown IDs turned "promoters buy again more often"
    # into "less often". They are left out, counted, and flagged.
    surveys, tx = linked_data
    unknown = pd.DataFrame(
        {
            "customer_id": [f"x{i}" for i in range(50)],
            "response_date": pd.Timestamp("2025-01-10"),
            "nps": pd.array([10] * 50, dtype="Int64"),
            "csat": pd.array([5] * 50, dtype="Int64"),
        }
    )
    base = sat.repurchase_by_score(surveys, tx, score="nps")
    mixed = sat.repurchase_by_score(pd.concat([surveys, unknown]), tx, score="nps")
    assert_frame_equal(mixed, base)
    assert mixed.attrs["unmatched_responses"] == 51
    assert mixed.attrs["cautions"][0].startswith("51 of 56 responses (91%) are from customers")


def test_repurchase_matches_independent_pandas_computation(linked_data):
    surveys, tx = linked_data
    linked = sat.response_repurchases(surveys, tx)
    daily = tx.assign(day=tx["order_date"].dt.normalize()).groupby(["customer_id", "day"])
    purchase_days = daily["amount"].sum().loc[lambda s: s > 0].reset_index()
    expected = []
    for row in surveys.itertuples():
        d0 = row.response_date.normalize()
        if d0 + pd.Timedelta(days=90) > pd.Timestamp("2025-12-01"):
            continue
        if row.customer_id not in set(tx["customer_id"]):
            continue  # not a customer of the transactions: not used
        days = purchase_days.loc[purchase_days["customer_id"] == row.customer_id, "day"]
        expected.append(bool(((days > d0) & (days <= d0 + pd.Timedelta(days=90))).any()))
    assert linked["repurchased"].tolist() == expected
    assert linked["customer_id"].tolist() == ["a", "b", "c", "d", "f"]


def test_repurchase_by_csat_and_observation_end(linked_data, tmp_path):
    surveys, tx = linked_data
    table = sat.repurchase_by_score(surveys, tx, score="csat")
    assert table["group"].tolist() == ["positive", "negative"]
    assert table["n"].tolist() == [3, 2]  # a, b, f | c, d  (g is not in the transactions)
    assert table["repurchased"].tolist() == [3, 0]  # f bought on 2025-02-01
    # The follow-up must fit before observation_end: on 2025-04-09 no response qualifies.
    empty = sat.repurchase_by_score(surveys, tx, "csat", observation_end="2025-04-09")
    assert empty["n"].tolist() == [0, 0]
    assert empty["rate"].isna().all()
    # The engine reads the transactions from a file just the same.
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    from_file = sat.repurchase_by_score(surveys, str(path), score="csat")
    assert from_file["repurchased"].tolist() == [3, 0]


def test_repurchase_gap(linked_data):
    surveys, tx = linked_data
    gap = sat.repurchase_gap(sat.repurchase_by_score(surveys, tx, score="nps"))
    ref = stats.chi2_contingency(np.array([[0, 2], [2, 0]]), correction=False)
    assert gap.difference == pytest.approx(100.0)
    assert gap.p_value == pytest.approx(ref.pvalue)


def test_repurchase_needs_matching_customers(linked_data):
    surveys, tx = linked_data
    with pytest.raises(ValueError, match="None of the surveyed customers appears"):
        sat.repurchase_by_score(surveys, tx.assign(customer_id="zz"), score="nps")
    with pytest.raises(ValueError, match="followup_days must be at least 1 day"):
        sat.repurchase_by_score(surveys, tx, followup_days=0)


def test_clv_by_nps_group_uses_latest_answer(linked_data):
    surveys, _ = linked_data
    surveys = pd.concat(
        [
            surveys,
            pd.DataFrame(
                {
                    "customer_id": ["c"],
                    "response_date": [pd.Timestamp("2025-06-01")],
                    "nps": pd.array([10], dtype="Int64"),
                }
            ),
        ]  # fmt: skip
    ).reset_index(drop=True)
    clv = pd.DataFrame(
        {"p_alive": [0.9, 0.7, 0.2, 0.4, 0.5], "clv": [100.0, 50.0, 10.0, 30.0, 0.0]},
        index=pd.Index(["a", "b", "c", "d", "x"], name="customer_id"),
    )
    table = sat.clv_by_score(surveys, clv).set_index("group")
    # Latest answers: a, b, c, e promoters; d detractor; g passive (no CLV row).
    assert table["customers"].tolist() == [1, 0, 3]
    assert table.loc["promoter", "p_alive"] == pytest.approx((0.9 + 0.7 + 0.2) / 3)
    assert table.loc["promoter", "clv"] == pytest.approx(160 / 3)
    assert table.loc["detractor", "clv"] == pytest.approx(30.0)
    # e and g answered but are not in the CLV table: left out, counted, flagged (2 of 6)
    assert table.attrs["customers_surveyed"] == 6
    assert table.attrs["unmatched_responses"] == 2
    assert table.attrs["cautions"] == [
        "2 of 6 responses (33%) are from customers not found in the CLV customer table; they "
        "are left out of the comparison. Check that both files use the same customer IDs "
        "(customer_col=)."
    ]
    with pytest.raises(ValueError, match=r"needs the column\(s\) clv"):
        sat.clv_by_score(surveys, clv.drop(columns="clv"))


# --- plots ----------------------------------------------------------------------------------


def test_plots_are_labelled(surveys, linked_data):
    trend = sat.score_trend(surveys, "nps", min_responses=3)
    fig, axes = plt.subplots(2, 3)
    ax = splots.plot_score_trend(trend, ax=axes[0, 0])
    assert ax is axes[0, 0]
    assert ax.get_title() == "NPS by month, with 95% interval"
    assert ax.get_ylabel() == "NPS (points, -100 to 100)"
    ax = splots.plot_nps_composition(trend, ax=axes[0, 1])
    assert len(ax.patches) == 9  # 3 periods x 3 groups
    ax = splots.plot_ces_distribution([7, 6, 6, None], ax=axes[0, 2])
    assert ax.get_title() == "Customer effort: distribution of answers (n=3)"
    ax = splots.plot_segment_scores(sat.score_by_segment(surveys, "csat", "channel"), ax=axes[1, 0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["web (n=3)", "store (n=3)"]
    rep = sat.repurchase_by_score(*linked_data, score="nps")
    ax = splots.plot_repurchase_by_score(rep, ax=axes[1, 1])
    assert ax.get_ylabel() == "Bought again within 90 days (% of responses)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "detractors (0-6)", "passives (7-8)", "promoters (9-10)"]  # fmt: skip
    plt.close(fig)


def test_describe_repurchase_gap(linked_data):
    surveys, tx = linked_data
    table = sat.repurchase_by_score(surveys, tx, score="nps")
    text = sat.describe_repurchase_gap(table)
    assert text.startswith(
        "Promoters bought again within 90 days 100.0 percentage points more often than "
        "detractors (100% vs 0%;"
    )
    assert text.endswith(
        "5 of 7 responses were observed for 90 days; 1 more, from customers not in the "
        "transactions, is left out."
    )
    late = sat.repurchase_by_score(surveys, tx, score="nps", observation_end="2025-04-09")
    assert sat.repurchase_gap(late, allow_empty=True) is None
    assert sat.describe_repurchase_gap(late).startswith("Too few responses to compare")
    with pytest.raises(ValueError, match="The detractor group has no eligible response"):
        sat.repurchase_gap(late)


def test_segment_verdict_reads_as_a_contrast(surveys):
    pairs = sat.compare_segments(surveys, "csat", "channel")
    assert pairs.loc[0, ["first", "second"]].tolist() == ["store", "web"]
    assert pairs.loc[0, "verdict"].startswith(
        "CSAT is 100.0 percentage points higher for web than for store, beyond noise at "
        "n=3 vs n=3 (95% CI"
    )


# --- the notebook ---------------------------------------------------------------------------

NOTEBOOK = NOTEBOOK_DIR / "satisfaction_analysis.ipynb"
REVIEWS = SAMPLE_DIR / "reviews_csat_only.csv"


def _run_notebook(tmp_path, parameters: dict):
    import nbformat
    import papermill as pm

    out = tmp_path / "satisfaction.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK), str(out), parameters=parameters, cwd=str(tmp_path),
        kernel_name="python3", progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    return {h["name"]: h for h in read_headlines(nb)}, text, stderr, images


@pytest.mark.slow
def test_notebook_on_demo_data(tmp_path):
    heads, text, stderr, images = _run_notebook(tmp_path, {})
    raw = pd.read_csv(SAMPLE_SURVEYS)
    nps_answers = raw["nps"].dropna()
    expected_nps = 100 * ((nps_answers >= 9).mean() - (nps_answers <= 6).mean())
    csat_answers = raw["csat"].dropna()
    assert heads["responses"]["value"] == len(raw)
    assert heads["nps"]["value"] == pytest.approx(expected_nps)
    assert heads["csat"]["value"] == pytest.approx(100 * (csat_answers >= 4).mean())
    assert heads["ces"]["value"] == pytest.approx(raw["ces"].dropna().mean() / 7 * 100)
    assert heads["repurchase_gap_nps"]["value"] is not None
    assert "Promoters bought again within 90 days" in text
    assert "section skipped" not in text
    assert images >= 7  # NPS trend + composition, CSAT, CES x2, segments, repurchase
    assert "Warning" not in stderr


@pytest.mark.slow
def test_notebook_on_csat_only_reviews(tmp_path):
    params = {"surveys": str(REVIEWS), "date_col": "review_date", "csat_col": "rating",
              "nps_col": "", "ces_col": ""}  # fmt: skip
    heads, text, stderr, images = _run_notebook(tmp_path, params)
    raw = pd.read_csv(REVIEWS)
    assert heads["responses"]["value"] == len(raw)
    assert heads["csat"]["value"] == pytest.approx(100 * (raw["rating"].dropna() >= 4).mean())
    assert heads["nps"]["value"] is None and heads["ces"]["value"] is None
    assert heads["repurchase_gap_nps"]["value"] is None
    assert "NPS section skipped" in text and "CES section skipped" in text
    assert "Satisfied bought again within 90 days" in text
    assert "Warning" not in stderr
