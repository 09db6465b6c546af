"""Headline figures and cautions recorded by notebooks and read back by the runner."""

from retention_utils.record import (
    CAUTION_MIME_TYPE,
    MIME_TYPE,
    caution,
    read_cautions,
    read_headlines,
    record,
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
