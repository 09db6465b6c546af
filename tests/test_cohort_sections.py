"""The cohort report's sections: readable tables, figures, and one sentence when there is
nothing to show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from matplotlib.figure import Figure

from retention_utils import cohorts, kpis
from retention_utils.plots import cohorts as cohort_plots
from retention_utils.report import EmptySection, ReportTable
from retention_utils.report import cohort_sections as sections

# Jan cohort a, b; Feb cohort c. a buys again in Feb and Mar, b in Mar.
LOG = [
    ("a", "2024-01-03", 10.0),
    ("b", "2024-01-20", 30.0),
    ("a", "2024-02-05", 5.0),
    ("c", "2024-02-10", 8.0),
    ("a", "2024-03-01", 4.0),
    ("b", "2024-03-02", 6.0),
]


def subscriptions(n_small: int = 2, n_large: int = 40) -> pd.DataFrame:
    """``n_small`` subscribers from 1 January, ``n_large`` more from 10 February, 10 a month
    each; one January subscriber cancels on 15 February."""
    ids = [f"s{i}" for i in range(n_small + n_large)]
    start = ["2024-01-01"] * n_small + ["2024-02-10"] * n_large
    end = ["2024-02-15"] + [None] * (n_small + n_large - 1)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "start_date": pd.to_datetime(start),
            "end_date": pd.to_datetime(end),
            "mrr": 10.0,
        }
    )


def test_kpi_table_shows_reader_columns_with_percent_once_and_a_status():
    kpi = kpis.kpi_table(tx_frame(LOG), active_days=31, observation_end="2024-03-31")
    table = sections.kpi_table(kpi)
    assert isinstance(table, ReportTable)
    assert list(table.cells.columns) == [
        "period",
        "status",
        "S (start)",
        "E (end)",
        "N (new)",
        "churned",
        "reactivated",
        "strict retention",
        "CRR",
        "churn",
        "return",
    ]
    # 1 March: a and c in the base (b's 20 January purchase is 40 days old); a stays, c lapses.
    march = table.cells.iloc[-1].tolist()
    assert march[:3] == ["2024-03", "", "2"]
    assert table.cells["status"].tolist() == ["warm-up", "warm-up", ""]
    assert table.cells["strict retention"].iloc[-1] == "50.0 %"
    assert table.cells["strict retention"].iloc[0] == "–"  # nobody in the base in January
    assert table.footnote == (
        "– means no value: no customers at the period start, or an incomplete period."
    )
    assert "retention_strict" in kpi.columns  # the full frame stays with the user


def test_revenue_table_has_money_with_separators_and_marks_only_incomplete_periods():
    kpi = kpis.kpi_table(
        tx_frame([*LOG, ("d", "2024-03-05", 1234567.891)]), observation_end="2024-03-20"
    )
    table = sections.revenue_table(kpi)
    assert list(table.cells.columns)[:5] == ["period", "status", "revenue", "orders", "AOV"]
    assert table.cells["revenue"].tolist() == ["40.00", "13.00", "1,234,577.89"]
    assert table.cells["status"].tolist() == ["", "", "incomplete"]


def test_mrr_section_leaves_out_rates_on_too_few_subscribers():
    mrr = kpis.mrr_table(subscriptions(), "M", "2024-03-31")
    shown = sections.mrr_section(mrr, currency="EUR")
    table, figure = shown.parts
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    cells = table.cells.set_index("period")
    # February starts with 2 subscribers (below 30): no rate; March starts with 41.
    assert cells.loc["2024-02", ["subscribers", "revenue churn", "GRR", "NRR"]].tolist() == [
        "2",
        "–",
        "–",
        "–",
    ]
    assert cells.loc["2024-03", ["subscribers", "GRR", "NRR"]].tolist() == [
        "41",
        "100.0 %",
        "100.0 %",
    ]
    assert "reactivation" not in cells.columns  # nobody came back: no column of zeros
    assert table.footnote == (
        "– means no rate: an incomplete period, or fewer than 30 subscribers at the period start."
    )


def test_revenue_retention_greys_rates_on_a_small_base_and_keeps_the_legend_off_the_data():
    mrr = kpis.mrr_table(subscriptions(), "M", "2024-03-31")
    ax = cohort_plots.plot_revenue_retention(mrr, currency="EUR", ax=Figure().add_subplot())
    nrr_line, grey_nrr = ax.lines[0], ax.lines[1]
    # Subscribers at the start: Jan 2, Feb 2, Mar 41; NRR Jan 100, Feb 50 (one of 2 left).
    np.testing.assert_array_equal(nrr_line.get_ydata(), [np.nan, np.nan, 100.0])
    np.testing.assert_allclose(grey_nrr.get_ydata(), [100.0, 50.0])
    assert grey_nrr.get_markerfacecolor() == "none"
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1
    assert (
        "grey hollow points: fewer than 30 subscribers at the period start (MRR base at most "
        "20 EUR), too few for a stable rate"
    ) in ax.get_xlabel()


def test_sections_without_data_say_so_in_one_sentence():
    mrr = kpis.mrr_table(None, "M", "2024-03-31")
    assert sections.mrr_section(mrr).sentence == (
        "No subscription table was given, so MRR is not shown."
    )
    kpi = kpis.kpi_table(tx_frame(LOG), observation_end="2024-03-31")
    assert sections.retention_cost_section(kpi).sentence == (
        "No retention-cost table was given, so the retention cost per customer is not shown."
    )
    curve = cohorts.segment_curve(tx_frame(LOG), "")
    shown = sections.segment_section(curve, age=1)
    assert isinstance(shown, EmptySection)
    assert shown.sentence == "No segment comparison: no comparison column was given (compare_by)."


def test_retention_counts_table_hand_computed():
    counts = cohorts.retention_counts(tx_frame(LOG), observation_end="2024-03-31")
    table = sections.retention_counts_table(counts, max_periods=3)
    assert table.cells.values.tolist() == [
        ["2024-01 (left-censored)", "2", "1 (50 %)", "2 (100 %)"],
        ["2024-02", "1", "0 (0 %)", "–"],
    ]
    assert table.kinds["1"] == "num" and table.footnote == "– means not observable yet."


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567.0, "1.2M"),
        (12345.0, "12k"),
        (1234.4, "1,234"),
        (12.4, "12"),
        (9.96, "10"),
        (9.94, "9.9"),
        (-3.0, "-3.0"),
        (np.nan, ""),
    ],
)
def test_heatmap_cells_are_compact(value, text):
    assert cohort_plots.compact_number(value) == text


def test_revenue_heatmap_is_labelled_in_the_currency():
    matrix = cohorts.revenue_matrix(tx_frame(LOG), observation_end="2024-03-31", per="acquired")
    ax = cohort_plots.plot_cohort_heatmap(matrix, currency="EUR", ax=Figure().add_subplot())
    assert ax.get_title() == "Net revenue per acquired customer, by acquisition cohort"
    assert [t.get_text() for t in ax.texts[:3]] == ["20", "2.5", "5.0"]  # 40/2, 5/2, 10/2
    assert ax.collections[0].colorbar.ax.get_ylabel() == "EUR"  # the title says per what


def test_curve_sections_show_figure_and_table_or_say_why_there_is_no_curve():
    tx = tx_frame(LOG)
    curve = cohorts.retention_curve(tx, observation_end="2024-03-31", min_cohorts=1)
    figure, table = sections.curve_section(curve).parts
    assert isinstance(figure, Figure)
    # Age 1: a of the January cohort {a, b} (left-censored, left out) -> only February's c: 0 of 1.
    assert table.cells[["age", "customers", "retained", "retention"]].values.tolist() == [
        ["0", "1", "1", "100.0 %"],
        ["1", "1", "0", "0.0 %"],
    ]
    empty = cohorts.retention_curve(tx, observation_end="2024-03-31")  # 3 cohorts needed
    expected = (
        "No average curve: no age is observed in 3 or more cohorts besides the left-censored one "
        "(see the caution)."
    )
    assert sections.curve_section(empty).sentence == expected
    assert sections.cumulative_revenue_section(empty).sentence == expected
    modes = cohorts.retention_curves_by_mode(tx, observation_end="2024-03-31")
    assert sections.modes_section(modes).sentence == expected


def test_day_n_table_counts_and_share():
    day_n = pd.DataFrame(
        {
            "day": [7, 14],
            "eligible": [3, 1200],
            "bought_in_week": [1, 300],
            "in_week_pct": [100 / 3, 25.0],
            "bought_since": [2, 1000],
            "since_pct": [200 / 3, 1000 / 12],
        }
    )
    table = sections.day_n_table(day_n)
    assert table.cells.values.tolist() == [
        ["7", "3", "1 (33 %)", "2 (67 %)"],
        ["14", "1,200", "300 (25 %)", "1,000 (83 %)"],
    ]
    assert set(table.kinds.values()) == {"num"}
    assert sections.day_n_table(day_n.iloc[:0]).sentence == (
        "No customer has been followed for a full week after their first purchase."
    )


def test_simple_clv_table_says_a_partial_base_is_no_headline():
    # CDNOW: the table showed 198.52 USD while the summary tile said the CLV is not available.
    clv = {
        "window_start": pd.Timestamp("1997-07-01"),
        "window_end": pd.Timestamp("1998-07-01"),
        "customers": 8332,
        "orders": 26977,
        "revenue": 1069356.5,
        "aov": 39.64,
        "purchase_frequency": 3.24,
        "repeat_purchase_rate": 61.4,
        "customers_start": 23570,
        "churned": 15238,
        "annual_churn_rate": 64.6,
        "lifespan_years": 1.548,
        "clv": 198.52,
        "history_complete": False,
    }
    rows = dict(sections.clv_table(clv, currency="USD").cells.values.tolist())
    assert rows["simple CLV (USD)"] == "198.52 (partial base: not a headline figure)"
    assert rows["history complete"] == "no (partial base)"
    complete = dict(sections.clv_table({**clv, "history_complete": True}).cells.values.tolist())
    assert complete["simple CLV"] == "198.52" and complete["history complete"] == "yes"


def test_modes_table_names_its_label_column():
    modes = pd.DataFrame(
        {
            "mode": ["on", "on", "on_or_after", "on_or_after"],
            "age": [0, 1, 0, 1],
            "retention": [1.0, 0.196, 1.0, 0.614],
        }
    )
    modes.attrs["freq"] = "M"
    shown = sections._modes_table(modes)
    # The label column's header was blank.
    assert shown.cells.columns.tolist() == ["measure", "0", "1"]
    assert shown.cells.values.tolist() == [
        ["return on month N", "100.0 %", "19.6 %"],
        ["return on or after month N", "100.0 %", "61.4 %"],
    ]
