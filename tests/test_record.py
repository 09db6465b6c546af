"""Headline figures and cautions recorded by notebooks and read back by the runner."""

import pytest

from retention_utils.record import (
    CAUTION_MIME_TYPE,
    MIME_TYPE,
    caution,
    caution_all,
    format_value,
    read_cautions,
    read_headlines,
    record,
    record_all,
    recorded_cautions,
    recorded_headlines,
    reset,
)


def _notebook(*bundles: dict) -> dict:
    return {"cells": [{"cell_type": "code", "outputs": [{"data": b} for b in bundles]}]}


def test_caution_outside_a_kernel_returns_its_payload():
    assert caution("Few repeat buyers.", section="CLV") == {
        "text": "Few repeat buyers.",
        "section": "CLV",
    }


def test_read_cautions_keeps_order_and_drops_repeats():
    nb = _notebook(
        {CAUTION_MIME_TYPE: {"text": "second history is short", "section": None}},
        {MIME_TYPE: record("customers", 3)},
        {CAUTION_MIME_TYPE: {"text": "unmatched responses", "section": "link"}},
        {CAUTION_MIME_TYPE: {"text": "second history is short", "section": None}},
    )
    assert read_cautions(nb) == ["second history is short", "unmatched responses"]
    assert [h["name"] for h in read_headlines(nb)] == ["customers"]


def test_every_payload_is_kept_in_the_kernel_registry_until_reset():
    reset()
    record("customers", 3)
    caution("History is short.", section="Cohorts")
    record("customers", 4, label="Customers")
    caution("History is short.")
    assert [(h["name"], h["value"]) for h in recorded_headlines()] == [("customers", 4)]
    assert recorded_cautions() == [{"text": "History is short.", "section": "Cohorts"}]
    reset()
    assert recorded_headlines() == [] and recorded_cautions() == []


def test_record_keeps_interval_and_note_and_stays_readable_by_the_runner():
    reset()
    payload = record("nps", 21.35, unit="points", low=18.1, high=24.6, note="n=1,204")
    assert payload == {
        "name": "nps",
        "label": "nps",
        "value": 21.35,
        "unit": "points",
        "text": "21.4 points",  # one decimal, as the tile shows it
        "low": 18.1,
        "high": 24.6,
        "note": "n=1,204",
    }
    assert read_headlines(_notebook({MIME_TYPE: payload})) == [payload]
    reset()


def test_record_all_and_caution_all_record_a_section_in_one_call():
    reset()
    figures = [
        {"name": "customers", "value": 1200, "label": "Customers"},
        {"name": "clv_total", "value": 10.5, "unit": "EUR", "low": 9.0, "high": 12.0},
    ]
    payloads = record_all(figures)
    assert [p["name"] for p in payloads] == ["customers", "clv_total"]
    assert [p["name"] for p in recorded_headlines()] == ["customers", "clv_total"]
    assert recorded_headlines()[1]["low"] == 9.0
    caution_all(["First.", "Second."], section="CLV")
    assert [(c["text"], c["section"]) for c in recorded_cautions()] == [
        ("First.", "CLV"),
        ("Second.", "CLV"),
    ]
    reset()


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (633.0, "days", "633 days"),  # a Kaplan-Meier median read "633.00 days"
        (633, "days", "633 days"),
        (4372.0, None, "4,372"),
        (7995442.456, "EUR", "7,995,442.46 EUR"),
        (12.3, "GBP", "12.30 GBP"),
        (96.349, "%", "96.3 %"),
        (2.349, "years", "2.3 years"),
        (0.012345, None, "0.0123"),
        (1.5, None, "1.50"),
        (None, "%", "n/a"),
    ],
)
def test_format_value_writes_figures_at_their_precision(value, unit, text):
    assert format_value(value, unit) == text
