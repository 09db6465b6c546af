"""Satisfaction scores, their tests, and the link to repurchase (retention_utils.satisfaction)."""

from __future__ import annotations

import math

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats

from retention_utils import satisfaction as sat
from retention_utils import satisfaction_links as links
from retention_utils import stats as stats_module
from retention_utils.config import NOTEBOOK_DIR, SAMPLE_DIR, SAMPLE_SURVEYS
from retention_utils.io import DataValidationError
from retention_utils.plots import COLORS
from retention_utils.plots import satisfaction as splots
from retention_utils.record import read_cautions, read_headlines
from retention_utils.report import satisfaction as sections
from retention_utils.stats import Comparison

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
    assert c.se == pytest.approx(math.sqrt(0.6 * 0.4 / 50 + 0.75 * 0.25 / 60) * 100)
    # Newcombe's interval from the two Wilson intervals, written out
    (l1, u1), (l2, u2) = wilson(30, 50), wilson(45, 60)
    low = 15 - math.sqrt((75 - l2) ** 2 + (u1 - 60) ** 2)
    high = 15 + math.sqrt((u2 - 75) ** 2 + (60 - l1) ** 2)
    assert (c.low, c.high) == pytest.approx((low, high))


def test_difference_of_proportions_reproduces_newcombe_and_agrees_with_the_test():
    # Newcombe (1998), table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    c = stats_module.two_proportion_test(48, 80, 56, 70, interval="newcombe")
    assert (round(c.low, 4), round(c.high, 4)) == (0.0524, 0.3339)
    # 4 of 4 detractors bought again, 2 of 4 promoters: p = 0.10, so the interval holds 0
    # (the Wald interval, -0.99 to -0.01, did not)
    small = stats_module.two_proportion_test(4, 4, 2, 4, interval="newcombe")
    assert small.p_value == pytest.approx(0.1025, abs=1e-4) and not small.significant
    assert small.low < 0 < small.high


def test_ces_difference_matches_scipy_welch():
    a = [3, 4, 5, 4, 6, 2, 5, 4]
    b = [6, 5, 7, 6, 5, 7, 4]
    c = sat.compare_scores(a, b, score="ces")
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert c.p_value == pytest.approx(ref.pvalue)
    assert c.statistic == pytest.approx(ref.statistic)
    # Differences are in points of the answer scale (1-7), as CES is shown.
    assert c.difference == pytest.approx(np.mean(b) - np.mean(a))
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))


def test_nps_difference_uses_root_sum_of_squared_standard_errors():
    a = [10] * 40 + [8] * 30 + [3] * 30  # NPS 10
    b = [10] * 50 + [8] * 30 + [3] * 20  # NPS 30
    ea, eb = sat.nps(a), sat.nps(b)
    c = sat.compare_scores(a, b, score="nps")
    se = math.sqrt(ea.se**2 + eb.se**2)
    assert c.difference == pytest.approx(20.0)
    assert c.se == pytest.approx(se)
    assert c.p_value == pytest.approx(2 * stats.norm.sf(20 / se))


def test_change_sentence_in_plain_language_without_scientific_notation():
    a = [10] * 40 + [8] * 30 + [3] * 30
    b = [10] * 38 + [8] * 30 + [3] * 32
    c = sat.compare_scores(a, b, score="nps")
    text = sections.change_sentence(
        c, score="nps", n_first=100, n_second=100, between="May to June"
    )
    assert text.startswith("NPS fell 4.0 points (May to June), within noise at n=100 vs n=100")
    assert f"p = {c.p_value:.2f})." in text and "95 % CI" in text
    tiny = Comparison(-0.3, 0.01, -30.0, 3.1e-14, -0.32, -0.28)
    assert sections.change_sentence(tiny, score="ces", n_first=500, n_second=400) == (
        "CES fell 0.30 points, beyond noise at n=500 vs n=400 (95 % CI -0.32 to -0.28; p < 0.001)."
    )
    assert "cannot be tested at n=1 vs n=5" in sections.change_sentence(
        None, score="ces", n_first=1, n_second=5
    )


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
    table = links.repurchase_by_score(surveys, tx, score="nps")
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
        "1 of 6 responses (17 %) are from customers not found in the transactions; they are "
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
    base = links.repurchase_by_score(surveys, tx, score="nps")
    mixed = links.repurchase_by_score(pd.concat([surveys, unknown]), tx, score="nps")
    assert_frame_equal(mixed, base)
    assert mixed.attrs["unmatched_responses"] == 51
    assert mixed.attrs["cautions"][0].startswith("51 of 56 responses (91 %) are from customers")


def test_repurchase_matches_independent_pandas_computation(linked_data):
    surveys, tx = linked_data
    linked = links.response_repurchases(surveys, tx)
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
    table = links.repurchase_by_score(surveys, tx, score="csat")
    assert table["group"].tolist() == ["positive", "negative"]
    assert table["n"].tolist() == [3, 2]  # a, b, f | c, d  (g is not in the transactions)
    assert table["repurchased"].tolist() == [3, 0]  # f bought on 2025-02-01
    # The follow-up must fit before observation_end: on 2025-04-09 no response qualifies.
    empty = links.repurchase_by_score(surveys, tx, "csat", observation_end="2025-04-09")
    assert empty["n"].tolist() == [0, 0]
    assert empty["rate"].isna().all()
    # The engine reads the transactions from a file just the same.
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    from_file = links.repurchase_by_score(surveys, str(path), score="csat")
    assert from_file["repurchased"].tolist() == [3, 0]


def test_repurchase_gap(linked_data):
    surveys, tx = linked_data
    gap = links.repurchase_gap(links.repurchase_by_score(surveys, tx, score="nps"))
    ref = stats.chi2_contingency(np.array([[0, 2], [2, 0]]), correction=False)
    assert gap.difference == pytest.approx(100.0)
    assert gap.p_value == pytest.approx(ref.pvalue)


def test_repurchase_needs_matching_customers(linked_data):
    surveys, tx = linked_data
    with pytest.raises(ValueError, match="None of the surveyed customers appears"):
        links.repurchase_by_score(surveys, tx.assign(customer_id="zz"), score="nps")
    with pytest.raises(ValueError, match="followup_days must be at least 1 day"):
        links.repurchase_by_score(surveys, tx, followup_days=0)


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
    table = links.clv_by_score(surveys, clv).set_index("group")
    # Latest answers: a, b, c, e promoters; d detractor; g passive (no CLV row).
    assert table["customers"].tolist() == [1, 0, 3]
    assert table.loc["promoter", "p_alive"] == pytest.approx((0.9 + 0.7 + 0.2) / 3)
    assert table.loc["promoter", "clv"] == pytest.approx(160 / 3)
    assert table.loc["detractor", "clv"] == pytest.approx(30.0)
    # e and g answered but are not in the CLV table: left out, counted, flagged (2 of 6)
    assert table.attrs["customers_surveyed"] == 6
    assert table.attrs["unmatched_responses"] == 2
    assert table.attrs["cautions"] == [
        "2 of 6 responses (33 %) are from customers not found in the CLV customer table; they "
        "are left out of the comparison. Check that both files use the same customer IDs "
        "(customer_col=)."
    ]
    with pytest.raises(ValueError, match=r"needs the column\(s\) clv"):
        links.clv_by_score(surveys, clv.drop(columns="clv"))


# --- plots ----------------------------------------------------------------------------------


def test_plots_are_labelled(surveys, linked_data):
    trend = sat.score_trend(surveys, "nps", min_responses=3)
    fig, axes = plt.subplots(2, 3)
    ax = splots.plot_score_trend(trend, ax=axes[0, 0])
    assert ax is axes[0, 0]
    assert ax.get_title() == "NPS by month, with 95 % interval"
    assert ax.get_ylabel() == "NPS (points, -100 to 100)"
    ax = splots.plot_nps_composition(trend, ax=axes[0, 1])
    assert len(ax.patches) == 9  # 3 periods x 3 groups
    ax = splots.plot_ces_distribution([7, 6, 6, None], ax=axes[0, 2])
    assert ax.get_title() == "Customer effort: distribution of answers (n=3)"
    ax = splots.plot_segment_scores(sat.score_by_segment(surveys, "csat", "channel"), ax=axes[1, 0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["web (n=3)", "store (n=3)"]
    rep = links.repurchase_by_score(*linked_data, score="nps")
    ax = splots.plot_repurchase_by_score(rep, ax=axes[1, 1])
    assert ax.get_ylabel() == "Bought again within 90 days (% of responses)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "detractors (0-6)", "passives (7-8)", "promoters (9-10)"]  # fmt: skip
    plt.close(fig)


def test_gap_sentence_and_who_was_observed(linked_data):
    surveys, tx = linked_data
    table = links.repurchase_by_score(surveys, tx, score="nps")
    gap = links.repurchase_gap(table)
    assert sections.gap_sentence(table) == (
        "Promoters bought again within 90 days 100.0 percentage points more often than "
        f"detractors (100 % vs 0 %; 95 % CI {gap.low:+.1f} to {gap.high:+.1f}; "
        f"p = {gap.p_value:.3f}), beyond noise."
    )
    assert sections._observed_sentence(table.attrs) == (
        "5 of 7 responses were answered at least 90 days before the end of the data "
        "(2025-12-01) and are used; 1 more, from customers not found in the transactions, is "
        "left out (not counted as not buying again)."
    )
    late = links.repurchase_by_score(surveys, tx, score="nps", observation_end="2025-04-09")
    assert links.repurchase_gap(late, allow_empty=True) is None
    assert sections.gap_sentence(late) == (
        "Too few responses observed for 90 days to compare promoters with detractors."
    )
    with pytest.raises(ValueError, match="The detractor group has no eligible response"):
        links.repurchase_gap(late)


def test_segment_sentence_reads_as_a_contrast(surveys):
    pairs = sat.compare_segments(surveys, "csat", "channel")
    assert pairs.loc[0, ["first", "second"]].tolist() == ["store", "web"]
    row = pairs.loc[0]
    c = Comparison(row["difference"], np.nan, np.nan, row["p_holm"], row["low"], row["high"])
    text = sections.change_sentence(
        c, score="csat", n_first=3, n_second=3, segments=("store", "web")
    )
    assert text.startswith(
        "CSAT is 100.0 percentage points higher for web than for store, beyond noise at "
        "n=3 vs n=3 (95 % CI"
    )


# --- the notebook ---------------------------------------------------------------------------

NOTEBOOK = NOTEBOOK_DIR / "satisfaction_analysis.ipynb"
REVIEWS = SAMPLE_DIR / "reviews_csat_only.csv"


def _run_notebook(tmp_path, parameters: dict):
    import nbformat
    import papermill as pm

    out = tmp_path / "satisfaction.ipynb"
    parameters = {"output_dir": str(tmp_path / "files"), **parameters}
    pm.execute_notebook(
        str(NOTEBOOK), str(out), parameters=parameters, cwd=str(tmp_path),
        kernel_name="python3", progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(
        o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
        for o in outputs
    )
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    run = {"heads": {h["name"]: h for h in read_headlines(nb)}, "cautions": read_cautions(nb)}
    return run, text, stderr, images


@pytest.mark.slow
def test_notebook_on_demo_data(tmp_path):
    run, text, stderr, images = _run_notebook(tmp_path, {})
    heads = run["heads"]
    raw = pd.read_csv(SAMPLE_SURVEYS)
    nps_answers = raw["nps"].dropna()
    expected_nps = 100 * ((nps_answers >= 9).mean() - (nps_answers <= 6).mean())
    csat_answers = raw["csat"].dropna()
    assert heads["responses"]["value"] == len(raw)
    assert heads["nps"]["value"] == pytest.approx(expected_nps)
    assert heads["csat"]["value"] == pytest.approx(100 * (csat_answers >= 4).mean())
    assert heads["ces"]["value"] == pytest.approx(raw["ces"].dropna().mean())
    assert heads["ces"]["unit"] == "/ 7"
    assert heads["nps"]["label"] == "NPS" and heads["nps"]["note"].startswith("n=")
    assert heads["repurchase_gap_nps"]["value"] is not None
    assert heads["lowest_segment"]["label"].startswith("Lowest NPS by channel: ")
    assert "Promoters bought again within 90 days" in text
    assert "section is left out" not in text
    assert "e-0" not in text and "e-1" not in text  # no p value in scientific notation
    assert images >= 5  # NPS, CSAT, CES, segments, repurchase
    assert "Warning" not in stderr
    listed = pd.read_csv(tmp_path / "files" / "detractor_followups.csv")
    assert len(listed) == heads["customers_to_follow_up"]["value"] > 0
    assert (listed["nps"] <= 6).all()


@pytest.mark.slow
def test_notebook_on_csat_only_reviews(tmp_path):
    params = {"surveys": str(REVIEWS), "date_col": "review_date", "csat_col": "rating",
              "nps_col": "", "ces_col": ""}  # fmt: skip
    run, text, stderr, images = _run_notebook(tmp_path, params)
    heads = run["heads"]
    raw = pd.read_csv(REVIEWS)
    assert heads["responses"]["value"] == len(raw)
    assert heads["csat"]["value"] == pytest.approx(100 * (raw["rating"].dropna() >= 4).mean())
    assert heads["nps"]["value"] is None and heads["ces"]["value"] is None
    assert "repurchase_gap_nps" not in heads and heads["repurchase_gap_csat"]["value"] is not None
    assert "the NPS section is left out" in text and "the CES section is left out" in text
    assert "Satisfied customers bought again within 90 days" in text
    assert heads["customers_to_follow_up"]["note"] == "latest CSAT answer is below 4"
    assert "Warning" not in stderr


#: A survey export as written by hand: its own column names, only NPS, four respondents
#: unknown to the transactions (one without an answer), C00020 a detractor who answered 9
#: since; no "region" column although the run asks to compare by region.
MESSY_EXPORT = """Client ID,Date,How likely to recommend
C00010,2025-03-04,10
C00020,2025-03-10,3
C00020,2025-06-02,9
C00030,2025-04-01,6
C00040,2025-04-15,9
C00050,2025-05-01,10
C00060,2025-05-20,0
C00070,2025-06-11,7
C00080,2025-07-01,5
Z9001,2025-03-15,10
Z9002,2025-04-20,2
Z9003,2025-05-05,9
Z9004,2025-06-30,
"""


@pytest.mark.slow
def test_notebook_on_a_messy_nps_only_export(tmp_path):
    path = tmp_path / "nps_export.csv"
    path.write_text(MESSY_EXPORT)
    params = {"surveys": str(path), "customer_col": "Client ID", "date_col": "Date",
              "nps_col": "How likely to recommend", "csat_col": "", "ces_col": "",
              "compare_by": "region"}  # fmt: skip
    run, text, stderr, images = _run_notebook(tmp_path, params)
    heads = run["heads"]
    # 12 answers: 6 promoters, 1 passive, 5 detractors
    p, d = 6 / 12, 5 / 12
    se = 100 * math.sqrt((p + d - (p - d) ** 2) / 12)
    nps = heads["nps"]
    assert nps["value"] == pytest.approx(100 / 12)
    assert (nps["low"], nps["high"]) == pytest.approx((100 / 12 - 1.96 * se, 100 / 12 + 1.96 * se))
    assert nps["note"] == "n=12"
    assert heads["csat"]["value"] is None and heads["ces"]["value"] is None
    assert run["cautions"] == [
        "The survey has no column 'region' (compare_by): segments are not compared. Columns "
        "found: customer_id, response_date, nps.",
        "4 of 13 responses (31 %) are from customers not found in the transactions; they are "
        "left out of the comparison. Check that both files use the same customer IDs "
        "(customer_col=).",
    ]
    # latest NPS answers 0-6, by revenue in the demo transactions; Z9002 unknown, last
    listed = pd.read_csv(tmp_path / "files" / "detractor_followups.csv")
    assert listed["customer_id"].tolist() == ["C00060", "C00030", "C00080", "Z9002"]
    assert listed["revenue"].tolist()[:3] == pytest.approx([2069.69, 851.43, 244.17])
    assert heads["customers_to_follow_up"]["value"] == 4
    assert "4 of the 11 customers who answered are to follow up" in text
    assert "the CSAT section is left out" in text
    assert "Warning" not in stderr


# --- answer counts, customers to follow up, headline figures --------------------------------


def test_nps_distribution_counts_every_answer_with_its_group():
    answers = pd.DataFrame({"nps": pd.array([10, 9, 6, 6, pd.NA, 0, 7], dtype="Int64")})
    table = sat.nps_distribution(answers)
    assert table["answer"].tolist() == list(range(11))
    assert table["responses"].tolist() == [1, 0, 0, 0, 0, 0, 2, 1, 0, 1, 1]
    assert table["group"].tolist() == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert table.loc[6, "share"] == pytest.approx(100 * 2 / 6)
    assert (table.attrs["n"], table.attrs["missing"]) == (6, 1)
    with pytest.raises(DataValidationError, match="whole numbers from 0 to 10"):
        sat.nps_distribution(pd.DataFrame({"nps": [11]}))


@pytest.fixture
def followup_data():
    surveys = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d", "e", "e", "f"],
            "response_date": pd.to_datetime(
                [
                    "2025-01-02",
                    "2025-03-01",
                    "2025-02-01",
                    "2025-02-10",
                    "2025-03-05",
                    "2025-01-15",
                    "2025-04-01",
                    "2025-03-20",
                ]  # fmt: skip
            ),
            # a: detractor, then promoter (not listed); e: 4, then skipped the question
            "nps": pd.array([3, 9, 6, 0, 8, 4, pd.NA, 5], dtype="Int64"),
            "csat": pd.array([1, 5, 2, 1, 2, 3, 5, 4], dtype="Int64"),
        }
    )
    history = pd.DataFrame(
        {
            "orders": [3, 1, 7],
            "revenue": [120.0, 40.0, 300.0],
            "first_purchase": pd.to_datetime(["2024-01-01"] * 3),
            "last_purchase": pd.to_datetime(["2025-05-01", "2025-01-20", "2025-06-01"]),
        },
        index=pd.Index(["b", "c", "e"], name="customer_id"),
    )
    clv = pd.DataFrame(
        {"customer_id": ["b", "c", "f"], "clv": [10.0, 90.0, 50.0], "p_alive": [0.2, 0.9, 0.5]}
    )
    return surveys, history, clv


def test_followups_list_latest_detractors_most_recent_first(followup_data):
    surveys, _, _ = followup_data
    table = links.detractor_followups(surveys)
    # latest NPS answers: a 9, b 6, c 0, d 8, e 4 (its last response skipped NPS), f 5
    assert table["customer_id"].tolist() == ["f", "c", "b", "e"]
    assert table["nps"].tolist() == [5, 0, 6, 4]
    assert table["response_date"].dt.strftime("%m-%d").tolist() == ["03-20", "02-10", "02-01",
                                                                    "01-15"]  # fmt: skip
    assert table.attrs == {
        "customers_surveyed": 6,
        "sorted_by": "response_date",
        "rule": "latest NPS answer is 0-6",
    }


def test_followups_most_valuable_first_with_history_and_clv(followup_data):
    surveys, history, clv = followup_data
    by_revenue = links.detractor_followups(surveys, history=history)
    # e 300, b 120, c 40, then f: not in the transactions (missing revenue) last
    assert by_revenue["customer_id"].tolist() == ["e", "b", "c", "f"]
    assert by_revenue["revenue"].tolist()[:3] == [300.0, 120.0, 40.0]
    assert pd.isna(by_revenue.loc[3, "revenue"]) and pd.isna(by_revenue.loc[3, "last_purchase"])
    by_clv = links.detractor_followups(surveys, history=history, clv_customers=clv)
    assert by_clv["customer_id"].tolist() == ["c", "f", "b", "e"]  # 90, 50, 10, missing
    assert by_clv["p_alive"].tolist()[:3] == [0.9, 0.5, 0.2]
    assert by_clv.attrs["sorted_by"] == "clv"
    with pytest.raises(ValueError, match=r"needs the column\(s\) p_alive"):
        links.detractor_followups(surveys, clv_customers=clv.drop(columns="p_alive"))


def test_followups_of_a_csat_only_survey_use_the_satisfied_threshold(followup_data):
    surveys, _, _ = followup_data
    table = links.detractor_followups(surveys.drop(columns="nps"), positive_min=4)
    # latest CSAT answers: a 5, b 2, c 1, d 2, e 5, f 4
    assert table["customer_id"].tolist() == ["d", "c", "b"]
    assert table.attrs["rule"] == "latest CSAT answer is below 4"
    with pytest.raises(ValueError, match="needs NPS or CSAT answers"):
        links.detractor_followups(surveys.drop(columns=["nps", "csat"]))


def test_score_figures_show_ces_as_its_mean_answer(surveys):
    data = surveys.assign(ces=pd.array([7, 6, 5, 6, pd.NA, pd.NA, pd.NA], dtype="Int64"))
    figures = {f["name"]: f for f in sat.score_figures(data, sat.score_summary(data))}
    assert figures["responses"] == {
        "name": "responses", "value": 7, "label": "Survey responses", "unit": None,
        "note": "2025-01-05 to 2025-03-31",
    }  # fmt: skip
    ces = figures["ces"]
    half = stats.t.ppf(0.975, 3) * np.std([7, 6, 5, 6], ddof=1) / 2
    assert (ces["value"], ces["unit"], ces["note"]) == (6.0, "/ 7", "n=4")
    assert (ces["low"], ces["high"]) == pytest.approx((6 - half, min(6 + half, 7)))
    nps = figures["nps"]  # 10 9 0 10 6 5: 3 promoters, 3 detractors
    assert (nps["value"], nps["unit"], nps["note"]) == (0.0, "points", "n=6")
    csat_only = surveys[["customer_id", "response_date", "csat"]]
    missing = {f["name"]: f for f in sat.score_figures(csat_only, sat.score_summary(csat_only))}
    assert missing["nps"]["value"] is None and missing["ces"]["unit"] == "/ 7"
    assert missing["csat"]["value"] == pytest.approx(400 / 7)


def test_repurchase_clv_followup_and_segment_figures(linked_data, surveys):
    table = links.repurchase_by_score(*linked_data, score="nps")
    gap = links.repurchase_figure(table)
    assert (gap["name"], gap["value"], gap["unit"]) == ("repurchase_gap_nps", 100.0, "pp")
    assert gap["label"] == "Repurchase within 90 days, promoters minus detractors"
    assert gap["note"] == "5 responses observed 90 days"
    csat_gap = links.repurchase_figure(links.repurchase_by_score(*linked_data, score="csat"))
    assert (csat_gap["name"], csat_gap["value"]) == ("repurchase_gap_csat", pytest.approx(100.0))
    clv = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "p_alive": [0.9, 0.7, 0.2, 0.4],
            "clv": [100.0, 50.0, 10.0, 30.0],
        }  # fmt: skip
    )
    by_group = links.clv_by_score(linked_data[0], clv)
    promoters, detractors = links.clv_figures(by_group, currency="EUR")
    assert (promoters["name"], promoters["value"], promoters["unit"]) == (
        "clv_promoters", 75.0, "EUR")  # fmt: skip
    assert promoters["note"] == "n=2 customers" and detractors["value"] == pytest.approx(20.0)
    ref = stats.ttest_ind([100.0, 50.0], [10.0, 30.0], equal_var=False)
    comparison = by_group.attrs["comparison"]
    assert comparison.difference == pytest.approx(55.0)
    assert comparison.p_value == pytest.approx(ref.pvalue)
    assert links.followup_figure(links.detractor_followups(linked_data[0])) == {
        "name": "customers_to_follow_up", "value": 2, "label": "Customers to follow up",
        "unit": None, "note": "latest NPS answer is 0-6",
    }  # fmt: skip
    by_segment = sat.score_by_segment(surveys, "csat", "channel", min_responses=3)
    lowest = sat.lowest_segment(by_segment)
    assert (lowest["label"], lowest["value"], lowest["unit"]) == (
        "Lowest CSAT by channel: store", 0.0, "%")  # fmt: skip
    # segments below min_responses are not named the lowest
    assert sat.lowest_segment(sat.score_by_segment(surveys, "csat", "channel")) is None


def test_scales_give_each_score_its_options():
    scales = sat.Scales(csat_scale_max=7, positive_min=0, ces_scale_max=5)
    assert scales.options("csat") == {"scale_max": 7, "positive_min": None}
    assert scales.options("ces") == {"scale_max": 5, "positive_min": None}
    assert scales.options("nps") == {"scale_max": None, "positive_min": None}


# --- plots on their own scales --------------------------------------------------------------


def test_nps_histogram_counts_and_colours_the_answers():
    answers = pd.DataFrame({"nps": pd.array([10, 9, 9, 7, 3, 0, pd.NA], dtype="Int64")})
    ax = splots.plot_nps_distribution(sat.nps_distribution(answers))
    bars = ax.patches
    assert [b.get_height() for b in bars] == [1, 0, 0, 1, 0, 0, 0, 1, 0, 2, 1]
    colors = {b.get_facecolor()[:3] for b in bars[:7]}, {b.get_facecolor()[:3] for b in bars[9:]}
    assert colors == ({mcolors.to_rgb(COLORS["detractor"])}, {mcolors.to_rgb(COLORS["promoter"])})
    assert ax.get_title() == "NPS answers (n=6)"
    assert "1 responses without an NPS answer left out" in ax.get_xlabel()
    plt.close(ax.figure)


def test_csat_ticks_are_labelled_exactly_and_ces_stays_on_its_scale(surveys):
    assert [splots._percent_label(v) for v in (72.5, 72.0, 70.25)] == ["72.5 %", "72 %", "70.25 %"]
    ax = splots.plot_score_trend(sat.score_trend(surveys, "csat", min_responses=3))
    ax.figure.canvas.draw()
    for tick, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True):
        assert label.get_text() in ("", splots._percent_label(tick))
    plt.close(ax.figure)
    data = surveys.assign(ces=pd.array([7, 6, 5, 6, 2, 3, 4], dtype="Int64"))
    trend = sat.score_trend(data, "ces", min_responses=3)
    ax = splots.plot_score_trend(trend)
    line = ax.get_lines()[0]
    assert line.get_ydata().tolist() == pytest.approx(trend.loc[trend["n"] > 0, "mean"].tolist())
    assert ax.get_ylabel() == "CES (mean answer, 1-7)"
    plt.close(ax.figure)


def test_legends_sit_outside_the_axes_and_notes_under_them(surveys):
    fig, axes = plt.subplots(1, 2)
    splots.plot_ces_distribution([7, 6, 6, None], ax=axes[0])
    trend = sat.score_trend(surveys.assign(ces=[7, 6, 5, 6, 2, 3, 4]), "ces", min_responses=3)
    splots.plot_score_trend(trend, ax=axes[1])
    fig.canvas.draw()
    for ax in axes:
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1  # right of the plotting area
        assert not [t for t in ax.texts if "missing" in t.get_text() or "responses" in t.get_text()]
    assert axes[0].get_xlabel().endswith("\n1 missing answers left out")
    plt.close(fig)


def test_significance_follows_the_confidence_the_test_was_run_at():
    # 30 of 100 against 45 of 100: p = 0.028 (pooled z test)
    default = stats_module.two_proportion_test(30, 100, 45, 100)
    strict = stats_module.two_proportion_test(30, 100, 45, 100, confidence=0.99)
    assert default.p_value == pytest.approx(strict.p_value) and 0.01 < default.p_value < 0.05
    assert default.significant and not strict.significant
    assert strict.high - strict.low > default.high - default.low
    points = strict.scaled(100)
    assert (points.difference, points.confidence) == (pytest.approx(15.0), 0.99)
    assert not points.significant


def test_an_nps_change_between_uniform_groups_is_not_tested():
    # One detractor after two promoters: both standard errors are 0, so the normal test
    # would find a 200-point fall "beyond noise" at n=2 vs n=1.
    answers = pd.DataFrame(
        {
            "response_date": pd.to_datetime(["2025-06-03", "2025-06-20", "2025-07-02"]),
            "nps": [10, 9, 0],
        }
    )
    trend = sat.score_trend(answers, "nps")
    assert math.isnan(trend.loc[1, "change"]) and not trend.loc[1, "significant"]
    with pytest.raises(ValueError, match="Each group needs at least one response"):
        sat.compare_scores([10, 9], [0], score="nps")


def test_the_latest_answer_of_a_day_is_the_later_row_in_both_customer_lists():
    surveys = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "response_date": pd.to_datetime(["2025-03-01"] * 2 + ["2025-03-02", "2025-03-01"]),
            "nps": pd.array([3, 9, 10, 2], dtype="Int64"),
        }
    )
    # a: 3 then 9 on one day, so a promoter; b: the 10 of 2 March is later than the 2.
    assert links.detractor_followups(surveys).empty
    clv = pd.DataFrame({"customer_id": ["a", "b"], "p_alive": [0.5, 0.9], "clv": [10.0, 30.0]})
    table = links.clv_by_score(surveys, clv).set_index("group")
    assert table["customers"].to_dict() == {"detractor": 0, "passive": 0, "promoter": 2}
    assert table.loc["promoter", "clv"] == 20.0
    surveys.loc[1, "nps"] = 4  # a's later answer of the day is now a 4
    listed = links.detractor_followups(surveys)
    assert listed[["customer_id", "nps"]].values.tolist() == [["a", 4]]
    assert listed.attrs["customers_surveyed"] == 2
