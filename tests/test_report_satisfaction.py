"""The satisfaction report's sections: what each shows, on small hand-built data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import tx_frame

from retention_utils.report import satisfaction as sections
from retention_utils.report.notes import EmptySection
from retention_utils.report.tables import ReportTable


@pytest.fixture
def responses() -> pd.DataFrame:
    # a, b promoters; c, d detractors (c answered 9 before turning detractor); x unknown
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "c", "d", "x", "e"],
            "response_date": pd.to_datetime(
                [
                    "2025-01-10",
                    "2025-01-12",
                    "2025-01-05",
                    "2025-02-01",
                    "2025-02-03",
                    "2025-02-04",
                    "2025-02-20",
                ]  # fmt: skip
            ),
            "nps": pd.array([10, 9, 9, 2, 5, 0, 8], dtype="Int64"),
            "channel": ["web", "web", "store", "store", "store", "web", "web"],
        }
    )


@pytest.fixture
def orders() -> pd.DataFrame:
    return tx_frame(
        [
            ("a", "2024-12-01", 50.0),
            ("a", "2025-02-01", 20.0),  # a bought again within 90 days
            ("b", "2024-11-01", 80.0),
            ("c", "2024-12-15", 400.0),
            ("d", "2024-10-01", 30.0),
            ("d", "2025-03-01", 10.0),  # d, a detractor, bought again too
            ("e", "2025-01-01", 5.0),
            ("z", "2025-12-31", 1.0),  # the end of the data
        ]
    )


def _texts(section: sections.Section) -> list[str]:
    return [s for p in section.parts if isinstance(p, sections.Findings) for s in p.sentences]


def _tables(section: sections.Section) -> list[pd.DataFrame]:
    return [p.cells for p in section.parts if isinstance(p, ReportTable)]


def test_a_score_absent_from_the_survey_is_one_sentence(responses):
    section = sections.score_section(responses, "ces")
    assert section.empty and section.figures == [] and section.cautions == []
    assert repr(section) == (
        "No CES answers in this survey file (ces_col is empty or the column has no answers): "
        "the CES section is left out."
    )


def test_scores_section_shows_each_score_with_its_interval(responses):
    data = responses.assign(ces=pd.array([7, 6, 5, 6, pd.NA, pd.NA, pd.NA], dtype="Int64"))
    section = sections.scores_section(data)
    table = _tables(section)[0]
    assert table["score"].tolist() == ["NPS", "CES"]
    # NPS: 3 promoters, 3 detractors, 1 passive of 7
    assert table.loc[0, ["answers", "result"]].tolist() == ["7", "0.0 points"]
    assert table.loc[1, ["answers", "skipped", "result"]].tolist() == ["4", "3", "6.00 / 7"]
    assert table.loc[1, "mean answer"] == "6.00 on 1-7"
    assert [f["name"] for f in section.figures] == ["responses", "nps", "csat", "ces"]


def test_nps_section_draws_the_answers_the_trend_and_the_mix(responses):
    section = sections.score_section(responses, "nps", min_responses=2)
    figure = section.parts[0]
    assert [ax.get_title() for ax in figure.axes[:3]] == [
        "NPS answers (n=7)", "NPS by month, with 95 % interval", "NPS composition by month"]  # fmt: skip
    assert not plt.fignum_exists(figure.number)  # shown by the section only, not twice
    trend = _tables(section)[0]
    assert trend.columns.tolist() == [
        "period", "answers", "NPS (points)", "95 % interval", "detractors %", "passives %",
        "promoters %", "change", "p", "note"]  # fmt: skip
    # January: a 10, b 9, c 9 (3 promoters); February: c 2, d 5, x 0 detractors, e 8 passive
    assert trend["NPS (points)"].tolist() == ["100.0", "-75.0"]
    # January's answers are all alike (SE 0): the normal test cannot judge the fall
    assert _texts(section)[0] == (
        "NPS (2025-01 to 2025-02): the change cannot be tested at n=3 vs n=4 (too few answers, "
        "or every answer of a period alike)."
    )
    assert not any("e-" in cell for cell in trend.to_numpy().ravel())
    assert trend.loc[1, "detractors %"] == "75.0"  # shares with one decimal


def test_segments_missing_or_single_are_said_and_a_missing_column_is_a_caution(responses):
    none = sections.segment_section(responses, "")
    assert none.empty and none.cautions == []
    missing = sections.segment_section(responses, "region")
    assert repr(missing) == "Segments are not compared: the survey has no column 'region'."
    assert missing.cautions == [
        "The survey has no column 'region' (compare_by): segments are not compared. Columns "
        "found: customer_id, response_date, nps, channel."
    ]
    single = sections.segment_section(responses.assign(channel="web"), "channel")
    assert repr(single) == "Only one value of 'channel' in these responses: there are no " \
        "segments to compare."  # fmt: skip
    both = sections.segment_section(responses, "channel", min_responses=3)
    table = _tables(both)[0]
    # web: a 10, b 9, x 0, e 8 -> 25.0; store: c 9, c 2, d 5 -> -33.3
    assert table[["channel", "NPS (points)"]].to_numpy().tolist() == [
        ["web", "25.0"], ["store", "-33.3"]]  # fmt: skip
    assert both.figures[0]["label"] == "Lowest NPS by channel: store"
    assert _texts(both) == [
        "1 pairs of segments tested: none differs beyond noise once the p values are adjusted "
        "for the number of pairs (Holm)."
    ]


def test_repurchase_section_without_transactions_or_shared_ids(responses, orders):
    assert repr(sections.repurchase_section(responses, None)) == (
        "No transactions were given (transactions is empty): whether satisfied customers buy "
        "again cannot be checked."
    )
    unlinked = sections.repurchase_section(responses, orders.assign(customer_id="zz"))
    assert repr(unlinked) == (
        "Repurchase by satisfaction cannot be shown: no surveyed customer appears in the "
        "transactions."
    )
    assert unlinked.cautions[0].startswith("None of the surveyed customers appears")


def test_repurchase_section_table_gap_and_unknown_customers(responses, orders):
    section = sections.repurchase_section(responses, orders)
    rates, gaps = _tables(section)
    # detractors c (no), d (yes), x unknown: left out; promoters a (yes), b (no)
    assert rates[["group", "responses observed", "bought again", "rate %"]].to_numpy().tolist() == [
        ["detractor", "2", "1", "50.0"], ["passive", "1", "0", "0.0"],
        ["promoter", "3", "1", "33.3"]]  # fmt: skip
    assert gaps.loc[0, ["comparison", "difference (pp)", "reading"]].tolist() == [
        "promoters minus detractors", "-16.7", "within noise"]  # fmt: skip
    assert section.cautions == [
        "1 of 7 responses (14 %) are from customers not found in the transactions; they are "
        "left out of the comparison. Check that both files use the same customer IDs "
        "(customer_col=)."
    ]
    assert [f["name"] for f in section.figures] == ["repurchase_gap_nps"]


def test_clv_section_compares_mean_value_and_says_what_matched(responses, tmp_path):
    assert sections.clv_section(responses, "").empty
    clv = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "p_alive": [0.9, 0.7, 0.2, 0.4],
            "clv": [100.0, 50.0, 10.0, 30.0],
        }  # fmt: skip
    )
    path = tmp_path / "clv_customers.csv"
    clv.to_csv(path, index=False)
    section = sections.clv_section(responses, str(path), currency="EUR")
    groups, tests = _tables(section)
    assert groups.loc[0, ["group", "customers", "mean CLV (EUR)"]].tolist() == [
        "detractor", "2", "20.00"]  # fmt: skip
    assert tests.loc[0, "difference in mean CLV (EUR)"] == "+55.00"
    assert _texts(section)[0].startswith("4 of 6 surveyed customers found in the CLV table")
    assert [f["value"] for f in section.figures] == [75.0, 20.0]


def test_followup_section_lists_the_most_valuable_and_writes_them_all(responses, orders, tmp_path):
    section = sections.followup_section(
        responses, orders, limit=1, output_dir=tmp_path / "files", currency="EUR"
    )
    shown = _tables(section)[0]
    # detractors by latest answer: c (revenue 400), d (40), x (unknown)
    assert shown[["customer", "NPS", "orders", "revenue (EUR)"]].to_numpy().tolist() == [
        ["c", "2", "1", "400.00"]  # orders are counted, not "1.00"
    ]
    assert _texts(section) == [
        "3 of the 6 customers who answered are to follow up (latest NPS answer is 0-6); the "
        "first 1 are listed, highest revenue first. The whole list is in "
        "detractor_followups.csv, next to this report."
    ]
    written = pd.read_csv(tmp_path / "files" / sections.FOLLOWUP_FILE)
    assert written["customer_id"].tolist() == ["c", "d", "x"]
    assert written["last_purchase"].tolist()[:2] == ["2024-12-15", "2025-03-01"]
    assert section.figures[0]["value"] == 3
    happy = responses.assign(nps=pd.array([10] * 7, dtype="Int64"))
    nobody = sections.followup_section(happy)
    assert repr(nobody) == (
        "No customer to follow up: no surveyed customer's latest NPS answer is 0-6."
    )
    assert nobody.figures[0]["value"] == 0


def test_sections_of_a_survey_without_scores_say_so(responses):
    bare = responses.drop(columns="nps")
    assert isinstance(sections.scores_section(bare).parts[0], EmptySection)
    assert sections.followup_section(bare).empty
    assert sections.clv_section(bare, pd.DataFrame()).empty
