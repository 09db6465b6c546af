"""The report's summary block, notes and tables: what the reader sees first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retention_utils.record import caution, record, reset
from retention_utils.report import (
    caution_note,
    empty_section,
    format_figure,
    format_number,
    format_p_value,
    report_table,
    summary_block,
)
from retention_utils.report.numbers import format_interval
from retention_utils.report.summary import summary_tiles

HOSTILE = "<script>alert(1)</script>"


def _h(name, value, unit=None, label=None, **extra):
    return {"name": name, "value": value, "unit": unit, "label": label or name, **extra}


COHORT = [
    _h("customers", 4334, label="Customers (with a purchase)"),
    _h("revenue", 8911407.904, label="Net revenue"),
    _h("retention_strict_last", 23.456, "%", label="Retention rate (strict), 2011-11"),
    _h("churn_rate_last", 76.544, "%", label="Churn rate, 2011-11"),
    _h("retention_age_3", 18.04, "%", label="Weighted retention 3 month(s) after acquisition"),
    _h("repeat_purchase_rate", 65.59, "%"),
    _h("simple_clv", 2056.123),
    _h("nrr_last", None, "%", label="Net revenue retention"),
]
CLV = [
    _h("customers", 2357),
    _h("repeat_buyers", 1101),
    _h("bgnbd_r", 0.243),
    _h("holdout_actual", 1545.0),
    _h("holdout_predicted", 1602.3),
    _h("holdout_error_pct", 3.71, "%", label="Holdout total error"),
    _h("mean_clv", 41.208, label="Mean 12-month CLV"),
    _h("total_clv", 97127.46),
    _h("high_value_at_risk_pct", 4.2, "%"),
]
SATISFACTION = [
    _h("responses", 1204),
    _h("nps", 21.35, "points", low=18.1, high=24.6, note="n=1,204"),
    _h("csat", 78.04, "%"),
    _h("ces", None, "% of max"),
    _h("repurchase_gap_nps", 4.2, "pp", low=-1.3, high=9.7, label="Repurchase within 90 days"),
    _h("clv_promoters", 212.5, "EUR"),
    _h("clv_detractors", 150.25, "EUR"),
]


def test_numbers_are_written_for_reading():
    assert format_number(1234567.891) == "1,234,567.89"
    assert format_number(4334) == "4,334"
    assert format_number(0.0001234) == "0.000123"
    assert format_number(float("nan")) == "–"
    assert format_figure(23.456, "%") == "23.5 %"
    assert format_figure(np.float64(12.3), "GBP") == "12.30 GBP"
    assert [format_p_value(p) for p in (3.1e-14, 0.0032, 0.0312, 0.41)] == [
        "p < 0.001",
        "p = 0.003",
        "p = 0.03",
        "p = 0.41",
    ]


def test_tiles_follow_the_kind_order_with_units_intervals_and_currency():
    block = summary_block("satisfaction", list(reversed(SATISFACTION)), [])
    assert [t.name for t in block.tiles] == [
        "responses",
        "nps",
        "csat",
        "ces",
        "repurchase_gap_nps",
        "clv_promoters",
        "clv_detractors",
    ]
    nps = block.tiles[1]
    assert (nps.value, nps.unit, nps.interval, nps.note) == (
        "21.4",
        "points",
        "interval 18.1 to 24.6 points",
        "n=1,204",
    )
    assert str(block.tiles[0]) == "responses: 1,204"
    money = summary_block("cohort", COHORT, [], currency="GBP").tiles[1]
    assert (money.value, money.unit) == ("8,911,407.90", "GBP")


def test_a_missing_figure_shows_a_dash_and_a_note_and_no_sentence_claims_it():
    block = summary_block("satisfaction", SATISFACTION, [])
    ces = block.tiles[3]
    assert (ces.value, ces.note, ces.missing) == ("–", "Not available for this data.", True)
    assert not any("CES" in s for s in block.sentences)
    nrr = summary_block("cohort", COHORT, []).tiles[-1]
    assert nrr.value == "–" and "ru-tile-missing" in nrr.to_html()
    assert "%" not in nrr.to_html().split("ru-tile-value")[1].split("</div>")[0]


def test_unknown_figures_become_plain_tiles_and_model_parameters_are_not_tiles():
    block = summary_block("clv", [*CLV, _h("renamed_figure", 0.5, "%")], [])
    assert [t.name for t in block.tiles] == [
        "customers",
        "repeat_buyers",
        "mean_clv",
        "total_clv",
        "high_value_at_risk_pct",
        "holdout_error_pct",
        "renamed_figure",
    ]
    assert block.tiles[5].note == "predicted 1,602 vs actual 1,545 purchases"


def test_cohort_sentences():
    block = summary_block("cohort", COHORT, [], currency="GBP", compare_by="Country")
    assert block.sentences == [
        "4,334 customers bought in the period analysed, for a net revenue of 8,911,407.90 GBP "
        "(2,056.16 GBP per customer).",
        "In 2011-11, 23.5 % of the customers in the base at its start were still in it at its "
        "end (strict retention), and 76.5 % lapsed: a customer leaves the base only after "
        "active_days without a purchase, so this rate moves slowly and a drop is worth a look "
        "at “Customers entering and leaving the base”.",
        "Averaged over the acquisition cohorts, 18.0 % of customers bought again 3 months "
        "after their first purchase.",
        "65.6 % of customers made a repeat purchase, and the simple CLV formula gives "
        "2,056.12 GBP per customer.",
        "Look next at “Acquisition cohorts”, to see whether recent cohorts keep fewer customers "
        "than older ones, and at “Segments: is the difference real?” before acting on a "
        "segment gap.",
    ]


def test_cohort_sentences_for_a_warm_up_history_say_why_there_is_no_retention_rate():
    # UCI Online Retail: about a year of data with active_days = 365.
    figures = [
        _h("customers", 4339, label="Customers (with a purchase)"),
        _h("revenue", 8911407.9, "GBP", label="Net revenue"),
        _h("retention_strict_last", None, "%", label="Retention rate (strict)"),
        _h("retention_age_3", 23.9, "%", label="Retention 3 months after acquisition"),
        _h("retention_on_age_1", 19.6, "%", label="Retention on month 1 (calendar)"),
        _h("retention_on_or_after_age_1", 61.4, "%", label="Retention on or after month 1"),
        _h("median_lifetime_days", None, "days"),
    ]
    assert summary_block("cohort", figures, []).sentences[1:4] == [
        "No retention rate is headlined: the data do not reach active_days back from any "
        "complete period, so each period's starting base misses earlier customers (warm-up); "
        "the cohort figures below do not need that history.",
        "Averaged over the acquisition cohorts, 23.9 % of customers bought again 3 months after "
        "their first purchase; 19.6 % bought in month 1 but 61.4 % in month 1 or later: many "
        "customers skip months rather than leave.",
        "More than half the customers are still in the base at the end of the data, so the "
        "median time in the base is longer than the data show.",
    ]
    lifetime = summary_block("cohort", [_h("median_lifetime_days", 633, "days")], [])
    assert lifetime.sentences[0] == (
        "Half the customers leave the base within 633 days of their first purchase "
        "(Kaplan-Meier median, counting the active_days after their last purchase)."
    )


def test_clv_sentences():
    assert summary_block("clv", CLV, [], currency="USD").sentences == [
        "The model covers 2,357 customers, of whom 1,101 (46.7 %) bought more than once.",
        "On the holdout period the BG/NBD model over-predicted total repeat purchases by 3.7 %: "
        "close enough to rank customers and plan with the CLV figures.",
        "Predicted CLV over the next 12 months averages 41.21 USD per customer, "
        "97,127.46 USD in total.",
        "4.2 % of customers are high value but at risk of lapsing: they are the first list to "
        "contact (see “Customer table and value segments”).",
        "Look next at “Who is still active?” for the customers the model counts as lost, and at "
        "“Model CLV versus the simple seed formula” for where the two disagree.",
    ]


def test_clv_sentence_warns_when_the_holdout_error_is_large():
    block = summary_block("clv", [_h("holdout_error_pct", -23.04, "%")], [])
    assert block.sentences[0] == (
        "On the holdout period the BG/NBD model under-predicted total repeat purchases by "
        "23.0 %: read the CLV figures as rough and see “When (not) to trust these predictions”."
    )


def test_satisfaction_sentences():
    assert summary_block("satisfaction", SATISFACTION, []).sentences == [
        "1,204 survey responses give an NPS of 21.4 points and a CSAT of 78.0 %.",
        "The whole NPS interval (18.1 to 24.6 points) is above 0: promoters clearly outnumber "
        "detractors.",
        "Promoters bought again within 90 days 4.2 percentage points more often than "
        "detractors, but the interval (-1.3 to 9.7 pp) includes 0: it may be noise. "
        "Promoters' mean predicted CLV is 212.50 EUR, against 150.25 EUR for detractors.",
        "Look next at the scores over time, for a move beyond noise.",
    ]


def test_rows_of_different_quantities_keep_their_own_decimals():
    table = pd.DataFrame(
        {"seed": [4261.0, 58.834, 2.4512], "model": [5000.0, np.nan, 2.5]},
        index=pd.Index(["customers", "value", "years"], name="metric"),
    )
    table.attrs["row_decimals"] = {"customers": 0}
    assert report_table(table, index=True).cells.values.tolist() == [
        ["customers", "4,261", "5,000"],
        ["value", "58.83", "–"],
        ["years", "2.45", "2.50"],
    ]
    cells = report_table(table, index=True, row_decimals={"years": 1}).cells
    assert cells["seed"].tolist() == ["4,261.00", "58.83", "2.5"]


def test_the_pointer_names_a_segment_comparison_only_when_the_report_has_one():
    # CDNOW has no segment column: its cohort report has no segment comparison to point to.
    alone = summary_block("cohort", COHORT, [], currency="USD").sentences[-1]
    assert alone == (
        "Look next at “Acquisition cohorts”, to see whether recent cohorts keep fewer customers "
        "than older ones, and at “How long customers stay: survival” for how long a customer "
        "stays in the base."
    )
    assert "egment" not in alone
    compared = summary_block("cohort", COHORT, [], compare_by="channel").sentences[-1]
    assert "“Segments: is the difference real?”" in compared
    lowest = _h("lowest_segment", 18.18, "points", label="Lowest NPS by channel: social")
    assert summary_block("satisfaction", [*SATISFACTION, lowest], []).sentences[-1] == (
        "Look next at the scores over time, for a move beyond noise, and at “Segments "
        "compared” before acting on a segment gap."
    )


def test_tiles_show_each_unit_at_its_precision():
    # The demo's survival lifespan tile read "1.60 years" next to "held flat ...: 4.9 years".
    figures = [
        _h("survival_lifespan_observed_years", 1.5979391742514084, "years"),
        _h("median_lifetime_days", 633.0, "days"),
        _h("holdout_actual", 5763.0),
        _h("simple_clv", 0.5),
        _h("retention_age_3", 28.437949, "%", low=27.0897, high=29.8258),
    ]
    tiles = {t.name: t for t in summary_tiles("other", figures, currency="EUR")}
    assert [str(tiles[n]) for n in tiles] == [
        "survival_lifespan_observed_years: 1.6 years",
        "median_lifetime_days: 633 days",
        "holdout_actual: 5,763",
        "simple_clv: 0.50 EUR",
        "retention_age_3: 28.4 % (interval 27.1 to 29.8 %)",
    ]
    assert format_figure(1.5979, "years") == "1.6 years"
    assert format_interval(1.55, 4.88, "years") == "1.6 to 4.9 years"


def test_satisfaction_sentences_say_who_to_call_and_where_to_look():
    figures = [
        *SATISFACTION,
        _h("customers_to_follow_up", 388, note="latest NPS answer is 0-6"),
        _h("lowest_segment", 18.18, "points", label="Lowest NPS by channel: social"),
    ]
    assert summary_block("satisfaction", figures, []).sentences[3] == (
        "Next, call back the 388 customers whose latest NPS answer is 0-6 (the follow-up "
        "list) and look at social, the channel with the lowest NPS (18.2 points)."
    )


def test_satisfaction_sentences_fit_a_survey_with_one_score():
    csat_only = [
        _h("responses", 310),
        _h("nps", None, "points"),
        _h("csat", 78.04, "%", low=73.1, high=82.3),
        _h("ces", None, "/ 7"),
        _h(
            "repurchase_gap_csat",
            12.5,
            "pp",
            low=7.8,
            high=17.1,
            label="Repurchase within 90 days, satisfied minus dissatisfied",
        ),  # fmt: skip
        _h("customers_to_follow_up", 41, note="latest CSAT answer is below 4"),
    ]
    assert summary_block("satisfaction", csat_only, []).sentences[:4] == [
        "310 survey responses give a CSAT of 78.0 %.",
        "78.0 % of respondents were satisfied (interval 73.1 to 82.3 %); 22.0 % were not.",
        "Satisfied customers bought again within 90 days 12.5 percentage points more often "
        "than dissatisfied ones (interval 7.8 to 17.1 pp): satisfaction shows in repurchase.",
        "Next, call back the 41 customers whose latest CSAT answer is below 4 (the follow-up "
        "list).",
    ]
    ces_only = [_h("ces", 5.43, "/ 7", low=5.36, high=5.49)]
    assert summary_block("satisfaction", ces_only, []).sentences[:2] == [
        "The survey gives a mean effort answer of 5.43 / 7.",
        "The mean effort answer is 5.43 / 7 (interval 5.36 to 5.49 / 7); a higher answer "
        "means an easier experience.",
    ]


def test_with_no_figures_only_the_pointer_is_said():
    block = summary_block("cohort", [_h("customers", None)], [])
    assert block.sentences == [block.sentences[-1]] and block.sentences[0].startswith("Look")


def test_unknown_kind_is_refused_with_the_kinds_named():
    with pytest.raises(ValueError, match="Unknown report kind 'kpi': use one of cohort, clv"):
        summary_block("kpi", [], [])


def test_summary_html_escapes_hostile_text_and_styles_cautions_as_notes():
    block = summary_block(
        "cohort",
        [_h("customers", 3, label=HOSTILE, note=HOSTILE), _h(HOSTILE, 1.5, unit=HOSTILE)],
        [{"text": f"Segment {HOSTILE} is small.", "section": HOSTILE}, "Short history."],
        title=HOSTILE,
    )
    markup = block.to_html()
    assert markup.startswith('<section id="summary" class="ru-summary">')
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert (
        markup.count('<div class="ru-note ru-caution"><strong class="ru-note-label">Caution') == 2
    )
    assert "<script>" not in block._repr_html_().split("</style>", 1)[1]


def test_summary_reads_the_kernel_registry_by_default():
    reset()
    record("responses", 12)
    caution("Only 12 responses.", section="Survey")
    block = summary_block("satisfaction")
    assert [t.name for t in block.tiles] == ["responses"]
    assert block.cautions == [{"text": "Only 12 responses.", "section": "Survey"}]
    assert repr(block).splitlines()[:3] == [
        "Summary",
        "- responses: 12",
        "Caution: Only 12 responses.",
    ]
    reset()
    assert summary_block("satisfaction").tiles == []


def test_notes_render_as_styled_escaped_html_and_as_plain_text():
    note = caution_note(HOSTILE, section="CLV")
    assert repr(note) == f"Caution: {HOSTILE}"
    assert note._repr_html_().endswith(
        '<div class="ru-note ru-caution"><strong class="ru-note-label">Caution</strong>'
        '&lt;script&gt;alert(1)&lt;/script&gt;<span class="ru-note-section">(CLV)</span></div>'
    )
    empty = empty_section("No subscriptions: no MRR to show.")
    assert repr(empty) == "No subscriptions: no MRR to show."
    assert empty._repr_html_().endswith('<p class="ru-empty">No subscriptions: no MRR to show.</p>')


def test_report_table_hides_the_index_writes_numbers_and_notes_missing_values():
    frame = pd.DataFrame(
        {
            "period": ["2024-01", "2024-02"],
            "revenue": [1234567.891, np.nan],
            "customers": [3, 4000],
            "retention_pct": [12.345, 50.0],
            "segment": [HOSTILE, None],
        },
        index=[7, 8],
    )
    table = report_table(
        frame, decimals={"retention_pct": 1}, percent=["retention_pct"], missing_note="no sales"
    )
    assert table.cells.to_dict("list") == {
        "period": ["2024-01", "2024-02"],
        "revenue": ["1,234,567.89", "–"],
        "customers": ["3", "4,000"],
        "retention_pct": ["12.3 %", "50.0 %"],
        "segment": [HOSTILE, "–"],
    }
    assert table.footnote == "– means no sales."
    markup = table.to_html()
    assert markup.startswith('<div class="ru-table-wrap"><table class="ru-table">')
    assert '<td class="ru-period">2024-01</td>' in markup
    assert '<td class="ru-num">1,234,567.89</td>' in markup
    assert "&lt;script&gt;" in markup and "<script>" not in markup
    assert ">7<" not in markup  # the row numbers are not shown
    assert frame["revenue"].iloc[0] == 1234567.891  # the input is left alone


def test_report_table_shows_a_meaningful_index_and_no_footnote_without_gaps():
    frame = pd.DataFrame({"value": [21.35]}, index=pd.Index(["NPS"], name="score"))
    table = report_table(frame, index=True)
    assert table.cells.to_dict("list") == {"score": ["NPS"], "value": ["21.35"]}
    assert table.footnote is None
    assert repr(table) == "score value\n  NPS 21.35"


def test_tables_readable_is_still_importable_from_its_old_place():
    from retention_utils.report.tables import readable
    from retention_utils.tables import readable as old

    assert old is readable


def test_at_most_four_sentences_from_figures_then_the_pointer():
    figures = [*COHORT[:-1], _h("nrr_last", 92.5, "%")]
    sentences = summary_block("cohort", figures, []).sentences
    assert len(sentences) == 5 and sentences[-1].startswith("Look next")
    alone = summary_block("cohort", [_h("nrr_last", 92.5, "%")], []).sentences
    assert alone[0] == (
        "Net revenue retention of 92.5 % is below 100 %: subscription revenue from existing "
        "customers is shrinking (see “Subscription revenue (MRR)”)."
    )


def test_periods_and_numbers_with_units_do_not_break_across_lines():
    from retention_utils.report.notes import text_html

    assert text_html("Churn, 2011-11: 76.5 % (-1.3 to 9.7 pp), 8,911.90 GBP; <b>3</b>") == (
        'Churn, <span class="ru-nowrap">2011-11</span>: <span class="ru-nowrap">76.5 %</span> '
        '(<span class="ru-nowrap">-1.3</span> to <span class="ru-nowrap">9.7 pp</span>), '
        '<span class="ru-nowrap">8,911.90 GBP</span>; &lt;b&gt;3&lt;/b&gt;'
    )


def test_without_a_unit_in_the_label_the_sentence_speaks_of_periods_and_no_window():
    block = summary_block(
        "satisfaction",
        [_h("repurchase_gap_nps", -2.5, "pp", low=-4.0, high=-1.0)],
        [],
    )
    assert block.sentences[0] == (
        "Promoters bought again 2.5 percentage points less often than detractors "
        "(interval -4.0 to -1.0 pp): satisfaction does not go with buying again here."
    )
    cohort = summary_block("cohort", [_h("retention_age_1", 40.0, "%")], [])
    assert cohort.sentences[0] == (
        "Averaged over the acquisition cohorts, 40.0 % of customers bought again 1 period "
        "after their first purchase."
    )
