"""What the CLV report states: headline figures built as data, and on data where no model
identifies dropout, one sentence instead of P(alive) = 1 for everyone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_clv import synthetic_summary

from retention_utils import clv, engine
from retention_utils.clv.models import dropout_detail
from retention_utils.io import load_cdnow
from retention_utils.plots import clv as clv_plots
from retention_utils.report import report_table, summary_block
from retention_utils.report.numbers import format_interval


def _report_frames(summary: pd.DataFrame, bgf):
    """Predictions, customer table with intervals, intervals and a holdout validation."""
    ggf = clv.fit_gamma_gamma(summary)
    predictions = clv.predict_clv(summary, bgf, ggf)
    history = pd.DataFrame(
        {
            "orders": summary["frequency"] + 1,
            "revenue": summary["monetary_value"] * (summary["frequency"] + 1),
            "first_purchase": pd.Timestamp("2024-01-01"),
            "last_purchase": pd.Timestamp("2024-06-01"),
        },
        index=summary.index,
    )
    customers = clv.customer_table(history, summary, predictions)
    intervals = clv.clv_intervals(summary, bgf, ggf, draws=20, groups=customers["segment"])
    customers = clv.with_intervals(customers, intervals)
    totals = pd.DataFrame(
        {"actual": [100.0], "predicted": [90.0], "error_pct": [-10.0], "mae": [1.0]},
        index=["BG/NBD"],
    )
    validation = clv.HoldoutValidation(None, totals, None, 26.0)
    return predictions, customers, intervals, validation


@pytest.fixture(scope="module")
def no_dropout():
    # simulated with (almost) no dropout: the BG/NBD fit finds none (a / (a + b) ~ 1e-11,
    # standard errors not finite), as on UCI Online Retail
    summary = synthetic_summary(3000, seed=12, a=1e-6, b=1.0)
    rng = np.random.default_rng(12)
    summary["monetary_value"] = np.where(
        summary["frequency"] > 0, rng.gamma(4.0, 10.0, len(summary)), 0.0
    )
    bgf = clv.fit_bgnbd(summary)
    assert not clv.dropout_identified(bgf)
    return summary, bgf, *_report_frames(summary, bgf)


@pytest.fixture(scope="module")
def cdnow():
    summary = engine.rfm_summary(load_cdnow(sample=True), freq="D", freq_multiplier=7)
    bgf = clv.fit_bgnbd(summary)
    return summary, bgf, *_report_frames(summary, bgf)


def test_without_dropout_the_report_says_why_instead_of_p_alive_one(no_dropout):
    summary, bgf, predictions, customers, intervals, validation = no_dropout
    assert (predictions["p_alive"] > 0.999).all()  # what the report must not present
    assert clv.alive_statement(bgf) == (
        "P(alive) cannot be estimated from this history: the BG/NBD fit finds no sign of "
        f"customers leaving ({dropout_detail(bgf)}), so it would show every customer as "
        "certainly active; expected purchases and CLV still hold, because a customer silent "
        "for long compared with their own buying rhythm gets a low expected purchase rate "
        "and a low CLV, so rank customers by those."
    )
    pointer = clv.alive_pointer(bgf)
    assert pointer == (
        "Not shown: P(alive) cannot be estimated from this history (see “Who is still "
        "active?”); rank customers by CLV and expected purchases."
    )
    # no P(alive) anywhere the reader looks
    assert "p_alive" not in clv.listed_columns(customers)
    assert "P(alive)" not in clv.prediction_summary(predictions).index
    segments = clv.segment_summary(customers)
    assert "mean_p_alive" not in segments.columns
    assert segments.index.tolist() == ["high value, active", "active", "one-time buyer"]
    totals = clv.interval_totals(predictions, intervals)
    assert totals.index.tolist() == ["expected purchases", "CLV"]
    history = pd.DataFrame(
        {"customer_id": "c1", "day": pd.date_range("2024-01-01", periods=3), "p_alive": 1.0}
    ).assign(purchase=[True, False, False])
    assert clv_plots.plot_alive_histories(history, note=pointer).text == pointer
    figure = clv_plots.plot_activity_heatmaps(
        clv.frequency_recency_grid(bgf, metric="p_alive"),
        clv.frequency_recency_grid(bgf, metric="expected_purchases"),
        unit_days=1,
        show_alive=clv.dropout_identified(bgf),
    )
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["Expected purchases in the next 30 days"]
    at_risk = clv.at_risk_customers(customers, bgf)
    assert at_risk.empty and at_risk.attrs["note"].startswith(
        "No customer is listed as at risk: P(alive) cannot be estimated from this history"
    )
    names = [f["name"] for f in clv.headline_figures(customers, bgf, validation, intervals)]
    assert "high_value_at_risk_pct" not in names


def test_headline_figures_as_data(cdnow):
    summary, bgf, predictions, customers, intervals, validation = cdnow
    assert clv.dropout_identified(bgf) and clv.alive_pointer(bgf) is None
    assert clv.listed_columns(customers)[:4] == ["revenue", "orders", "last_purchase", "p_alive"]
    spread = clv.prediction_summary(predictions)
    assert spread.index.tolist() == [
        "P(alive)",
        "expected purchases",
        "expected value per purchase",
        "CLV",
    ]
    # As the report shows it (decimals=3): money to the cent, the others to 3 decimals.
    shown = report_table(spread, index=True, decimals=3).cells.set_index("prediction")
    assert shown.loc["CLV", "mean"] == f"{predictions['clv'].mean():,.2f}"
    assert shown.loc["P(alive)", "mean"] == f"{predictions['p_alive'].mean():,.3f}"
    figures = {
        f["name"]: f
        for f in clv.headline_figures(customers, bgf, validation, intervals, currency="USD")
    }
    assert list(figures) == [
        "customers",
        "repeat_buyers",
        "model",
        "holdout_actual",
        "holdout_predicted",
        "holdout_error_pct",
        "mean_clv",
        "total_clv",
        "high_value_at_risk_pct",
    ]
    assert (
        figures["customers"]["value"] == 2357
        and figures["repeat_buyers"]["value"] == bgf.n_repeat_buyers_ == 1139
    )
    total = figures["total_clv"]
    assert total["value"] == pytest.approx(predictions["clv"].sum())
    assert total["low"] < total["value"] < total["high"] and total["unit"] == "USD"
    assert total["label"] == "Total 12-month CLV" and total["note"] == (
        "90 % interval: the uncertainty of the parameters only"
    )
    at_risk = 100 * (customers["segment"] == "high value at risk").mean()
    assert figures["high_value_at_risk_pct"]["value"] == pytest.approx(at_risk)
    # without intervals (a model's parameters could not be drawn) the tile names none
    missing = intervals.copy()
    missing.attrs = {**intervals.attrs, "totals": intervals.attrs["totals"] * np.nan}
    total = {f["name"]: f for f in clv.headline_figures(customers, bgf, validation, missing)}[
        "total_clv"
    ]
    assert np.isnan(total["low"]) and total["note"] is None
    assert figures["holdout_error_pct"] == {
        "name": "holdout_error_pct",
        "value": -10.0,
        "label": "Holdout total error",
        "unit": "%",
    }


def test_written_files_say_what_was_written(tmp_path, cdnow):
    customers = cdnow[3]
    written = clv.write_customer_table(customers, tmp_path)
    table = clv.written_files(written, customers)
    assert table.to_dict(orient="list") == {
        "file": ["clv_customers.csv", "clv_customers.parquet"],
        "format": ["CSV (text, for spreadsheets and CRM imports)", "Parquet"],
        "contents": [
            f"one row per customer (2,357 customers, {customers.shape[1] + 1} columns with "
            "customer_id)"
        ]
        * 2,
    }


def test_summary_sentences_name_the_model_and_say_when_nobody_can_be_at_risk(no_dropout):
    summary, bgf, predictions, customers, intervals, validation = no_dropout
    figures = clv.headline_figures(customers, bgf, validation, intervals, currency="GBP")
    for figure in figures:
        if figure["name"] == "model":
            figure["value"] = "MBG/NBD"
    total = next(f for f in figures if f["name"] == "total_clv")
    sentences = summary_block("clv", figures, []).sentences
    assert sentences[1] == (
        "On the holdout period the MBG/NBD model under-predicted total repeat purchases by "
        "10.0 %: close enough to rank customers and plan with the CLV figures."
    )
    assert sentences[2].endswith(
        f" in total (interval {format_interval(total['low'], total['high'], 'GBP')})."
    )
    assert sentences[3] == (
        "The data show no customers leaving, so nobody can be flagged as at risk: rank "
        "customers by CLV and expected purchases (see “Who is still active?”)."
    )
    assert sentences[-1] == (
        "Look next at “Customer table and value segments” for the customers with the highest "
        "predicted value, and at “Model CLV versus the simple seed formula” for where the two "
        "disagree."
    )
