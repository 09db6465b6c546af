"""The summary block a report opens with: headline tiles, cautions, and what they mean.

Built from the figures and cautions a notebook recorded with :mod:`retention_utils.record`
(or from given payloads): :func:`summary_block` picks the tiles of a report ``kind`` in a
fixed order (unknown figures follow as plain tiles) and writes 3-5 plain sentences from the
figures that are present; a missing figure shows as a dash and is never claimed in a
sentence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retention_utils.record import recorded_cautions, recorded_headlines
from retention_utils.report.notes import caution_html, text_html
from retention_utils.report.numbers import DASH, format_figure, format_interval, format_number
from retention_utils.report.style import with_style

#: Tiles of each report kind, in order; a name ending in "_" is a prefix.
TILE_ORDER: dict[str, tuple[str, ...]] = {
    "cohort": (
        "customers",
        "revenue",
        "retention_strict_last",
        "churn_rate_last",
        "retention_age_",
        "repeat_purchase_rate",
        "simple_clv",
        "nrr_last",
    ),
    "clv": (
        "customers",
        "repeat_buyers",
        "mean_clv",
        "total_clv",
        "high_value_at_risk_pct",
        "holdout_error_pct",
    ),
    "satisfaction": (
        "responses",
        "nps",
        "csat",
        "ces",
        "repurchase_gap_nps",
        "clv_promoters",
        "clv_detractors",
    ),
}
#: Figures recorded for the index but not shown as tiles (model parameters, folded notes).
NOT_TILES: dict[str, tuple[str, ...]] = {
    "clv": ("bgnbd_", "holdout_actual", "holdout_predicted"),
}
#: Money figures: shown in the report's currency when recorded without a unit.
MONEY = frozenset(
    {"revenue", "simple_clv", "mean_clv", "total_clv", "clv_promoters", "clv_detractors"}
)
MISSING_NOTE = "Not available for this data."
#: The last sentence of each summary: where to look next (section titles of the notebooks).
NEXT_STEPS: dict[str, str] = {
    "cohort": "Look next at “Acquisition cohorts”, to see whether recent cohorts keep fewer "
    "customers than older ones, and at “Segments: is the difference real?” before acting on "
    "a segment gap.",
    "clv": "Look next at “Who is still active?” for the customers the model counts as lost, "
    "and at “Model CLV versus the simple seed formula” for where the two disagree.",
    "satisfaction": "Look next at the detractor follow-up list, and at “Segments compared” "
    "for the groups that score lowest.",
}
#: Sentences drawn from the figures, at most; the pointer to what next comes after them.
MAX_FIGURE_SENTENCES = 4


@dataclass(frozen=True)
class Tile:
    """One headline figure as shown: label, value text, unit, interval and note."""

    name: str
    label: str
    value: str
    unit: str | None = None
    interval: str | None = None
    note: str | None = None

    @property
    def missing(self) -> bool:
        return self.value == DASH

    def to_html(self) -> str:
        unit = ""
        if self.unit and not self.missing:
            unit = f' <span class="ru-tile-unit">{html.escape(self.unit)}</span>'
        parts = [
            f'<div class="ru-tile-label">{text_html(self.label)}</div>',
            f'<div class="ru-tile-value"><span class="ru-tile-number">{html.escape(self.value)}'
            f"</span>{unit}</div>",
        ]
        if self.interval:
            parts.append(f'<div class="ru-tile-interval">{text_html(self.interval)}</div>')
        if self.note:
            parts.append(f'<div class="ru-tile-note">{text_html(self.note)}</div>')
        missing = " ru-tile-missing" if self.missing else ""
        return f'<div class="ru-tile{missing}">{"".join(parts)}</div>'

    def __str__(self) -> str:
        text = self.value if self.missing or not self.unit else f"{self.value} {self.unit}"
        extra = "; ".join(t for t in (self.interval, self.note) if t)
        return f"{self.label}: {text}" + (f" ({extra})" if extra else "")


@dataclass
class SummaryBlock:
    """What a report says first (SPEC section 5): tiles, cautions and sentences."""

    title: str
    tiles: list[Tile] = field(default_factory=list)
    cautions: list[dict] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        """The ``<section id="summary">`` markup, every text from the data escaped."""
        tiles = "".join(tile.to_html() for tile in self.tiles)
        cautions = "".join(caution_html(c["text"], section=c.get("section")) for c in self.cautions)
        sentences = "".join(f"<li>{text_html(s)}</li>" for s in self.sentences)
        return (
            '<section id="summary" class="ru-summary">'
            f'<h2 class="ru-summary-title">{html.escape(self.title)}</h2>'
            + (f'<div class="ru-tiles">{tiles}</div>' if tiles else "")
            + (f'<div class="ru-cautions">{cautions}</div>' if cautions else "")
            + (f'<ul class="ru-sentences">{sentences}</ul>' if sentences else "")
            + "</section>"
        )

    def _repr_html_(self) -> str:
        return with_style(self.to_html())

    def __repr__(self) -> str:
        lines = [self.title, *(f"- {tile}" for tile in self.tiles)]
        lines += [f"Caution: {c['text']}" for c in self.cautions]
        return "\n".join([*lines, *self.sentences])


def summary_block(
    kind: str,
    headlines: Iterable[Mapping[str, Any]] | None = None,
    cautions: Iterable[Mapping[str, Any] | str] | None = None,
    currency: str | None = None,
    *,
    title: str = "Summary",
) -> SummaryBlock:
    """The summary block of a report of ``kind`` ("cohort", "clv" or "satisfaction").

    Parameters
    ----------
    kind : str
        Chooses the tiles (and their order) and the sentence templates.
    headlines : iterable of dict, optional
        Payloads of :func:`retention_utils.record.record`; by default the ones recorded in
        this kernel.
    cautions : iterable of dict or str, optional
        Caution payloads or sentences; by default the ones recorded in this kernel.
    currency : str, optional
        Unit of money figures recorded without one (e.g. ``"GBP"``).
    title : str
        Heading of the block.

    Returns
    -------
    SummaryBlock
        Displayed as HTML in a notebook (``<section id="summary">``).
    """
    if kind not in TILE_ORDER:
        raise ValueError(f"Unknown report kind {kind!r}: use one of {', '.join(TILE_ORDER)}.")
    payloads = recorded_headlines() if headlines is None else [dict(h) for h in headlines]
    for payload in payloads:
        if payload.get("name") in MONEY and not payload.get("unit") and currency:
            payload["unit"] = currency
    found = {p["name"]: p for p in payloads}
    tiles = [_tile(p, kind, found) for p in _tile_payloads(kind, payloads)]
    sentences = [*_SENTENCES[kind](found)[:MAX_FIGURE_SENTENCES], NEXT_STEPS[kind]]
    listed = recorded_cautions() if cautions is None else cautions
    notes = [{"text": c, "section": None} if isinstance(c, str) else dict(c) for c in listed]
    return SummaryBlock(title, tiles, notes, sentences)


def _matches(name: str, pattern: str) -> bool:
    return name.startswith(pattern) if pattern.endswith("_") else name == pattern


def _tile_payloads(kind: str, payloads: list[dict]) -> list[dict]:
    ordered = [p for pattern in TILE_ORDER[kind] for p in payloads if _matches(p["name"], pattern)]
    hidden = TILE_ORDER[kind] + NOT_TILES.get(kind, ())
    return ordered + [p for p in payloads if not any(_matches(p["name"], h) for h in hidden)]


def _tile(payload: dict, kind: str, found: Mapping[str, dict]) -> Tile:
    value, unit = payload.get("value"), payload.get("unit")
    text = format_figure(value, unit).removesuffix(f" {unit}") if unit else format_figure(value)
    note = payload.get("note")
    if value is None:
        note = note or MISSING_NOTE
    elif payload["name"] == "holdout_error_pct" and not note and kind == "clv":
        actual, predicted = _value(found, "holdout_actual"), _value(found, "holdout_predicted")
        if actual is not None and predicted is not None:
            predicted, actual = (format_number(v, decimals=0) for v in (predicted, actual))
            note = f"predicted {predicted} vs actual {actual} purchases"
    interval = format_interval(payload.get("low"), payload.get("high"), unit)
    return Tile(
        payload["name"],
        str(payload.get("label") or payload["name"]),
        text,
        unit,
        None if interval is None else f"interval {interval}",
        note,
    )


# --- sentences ----------------------------------------------------------------------------


def _value(found: Mapping[str, dict], name: str) -> Any:
    payload = found.get(name)
    return None if payload is None else payload.get("value")


def _fig(found: Mapping[str, dict], name: str) -> str:
    payload = found[name]
    return format_figure(payload["value"], payload.get("unit"))


def _points(value: float) -> str:
    return f"{format_number(abs(value), decimals=1)} percentage points"


def _cohort_sentences(found: Mapping[str, dict]) -> list[str]:
    said = []
    if _value(found, "customers") is not None:
        revenue = (
            f", for a net revenue of {_fig(found, 'revenue')}"
            if _value(found, "revenue") is not None
            else ""
        )
        said.append(f"{_fig(found, 'customers')} customers bought in the period analysed{revenue}.")
    retention, churn = _value(found, "retention_strict_last"), _value(found, "churn_rate_last")
    if retention is not None:
        churned = f", and {_fig(found, 'churn_rate_last')} churned" if churn is not None else ""
        said.append(
            f"In the last complete period, {_fig(found, 'retention_strict_last')} of the "
            f"previous period's customers bought again (strict retention){churned}."
        )
    elif churn is not None:
        said.append(
            f"In the last complete period, {_fig(found, 'churn_rate_last')} of customers churned."
        )
    ages = [n for n in found if n.startswith("retention_age_") and _value(found, n) is not None]
    if ages:
        age = ages[0].removeprefix("retention_age_")
        unit = re.search(r"\b(day|week|month|quarter|year)", str(found[ages[0]].get("label")))
        plural = "" if age == "1" else "s"
        said.append(
            f"Averaged over the acquisition cohorts, {_fig(found, ages[0])} of customers "
            f"bought again {age} {unit.group(1) if unit else 'period'}{plural} after their "
            "first purchase."
        )
    repeat, clv = _value(found, "repeat_purchase_rate"), _value(found, "simple_clv")
    if repeat is not None and clv is not None:
        said.append(
            f"{_fig(found, 'repeat_purchase_rate')} of customers made a repeat purchase, and the "
            f"simple CLV formula gives {_fig(found, 'simple_clv')} per customer."
        )
    elif repeat is not None:
        said.append(f"{_fig(found, 'repeat_purchase_rate')} of customers made a repeat purchase.")
    elif clv is not None:
        said.append(f"The simple CLV formula gives {_fig(found, 'simple_clv')} per customer.")
    nrr = _value(found, "nrr_last")
    if nrr is not None and nrr < 100:
        said.append(
            f"Net revenue retention of {_fig(found, 'nrr_last')} is below 100 %: subscription "
            "revenue from existing customers is shrinking (see “Subscription revenue (MRR)”)."
        )
    return said


def _clv_sentences(found: Mapping[str, dict]) -> list[str]:
    said = []
    customers, repeat = _value(found, "customers"), _value(found, "repeat_buyers")
    if customers is not None and repeat is not None and customers:
        share = format_figure(100 * repeat / customers, "%")
        said.append(
            f"The model covers {_fig(found, 'customers')} customers, of whom "
            f"{_fig(found, 'repeat_buyers')} ({share}) bought more than once."
        )
    elif customers is not None:
        said.append(f"The model covers {_fig(found, 'customers')} customers.")
    error = _value(found, "holdout_error_pct")
    if error is not None:
        model = _value(found, "model") or "BG/NBD"
        size = format_figure(abs(error), "%")
        direction = "over-predicted" if error > 0 else "under-predicted"
        verdict = (
            "close enough to rank customers and plan with the CLV figures"
            if abs(error) <= 10
            else "read the CLV figures as rough and see “When (not) to trust these predictions”"
        )
        said.append(
            f"On the holdout period the {model} model {direction} total repeat purchases by "
            f"{size}: {verdict}."
        )
    mean, total = _value(found, "mean_clv"), _value(found, "total_clv")
    if mean is not None:
        months = re.search(r"(\d+)-month", str(found["mean_clv"].get("label", "")))
        horizon = f" over the next {months.group(1)} months" if months else ""
        in_total = ""
        if total is not None:
            payload = found["total_clv"]
            interval = format_interval(payload.get("low"), payload.get("high"), payload.get("unit"))
            in_total = f", {_fig(found, 'total_clv')} in total" + (
                f" (interval {interval})" if interval else ""
            )
        said.append(
            f"Predicted CLV{horizon} averages {_fig(found, 'mean_clv')} per customer{in_total}."
        )
    at_risk = _value(found, "high_value_at_risk_pct")
    if at_risk is not None:
        said.append(
            f"{_fig(found, 'high_value_at_risk_pct')} of customers are high value but at risk "
            "of lapsing: they are the first list to contact "
            "(see “Customer table and value segments”)."
        )
    elif mean is not None:
        said.append(
            "The data show no customers leaving, so nobody can be flagged as at risk: rank "
            "customers by CLV and expected purchases (see “Who is still active?”)."
        )
    return said


def _satisfaction_sentences(found: Mapping[str, dict]) -> list[str]:
    said = []
    scores = [
        f"{word} of {_fig(found, name)}"
        for name, word in (("nps", "an NPS"), ("csat", "a CSAT"), ("ces", "a CES"))
        if _value(found, name) is not None
    ]
    listed = (
        ", ".join(scores[:-1]) + (" and " if len(scores) > 1 else "") + scores[-1] if scores else ""
    )
    if _value(found, "responses") is not None:
        gives = f" give {listed}" if listed else " were read"
        said.append(f"{_fig(found, 'responses')} survey responses{gives}.")
    elif listed:
        said.append(f"The survey gives {listed}.")
    nps = _value(found, "nps")
    if nps is not None:
        low, high = found["nps"].get("low"), found["nps"].get("high")
        interval = format_interval(low, high, found["nps"].get("unit"))
        if interval is None:
            said.append(
                "An NPS above 0 means promoters outnumber detractors."
                if nps > 0
                else "An NPS of 0 or below means detractors are at least as many as promoters."
            )
        elif low <= 0 <= high:
            said.append(
                f"The NPS interval ({interval}) includes 0: promoters and detractors may be "
                "about as many."
            )
        else:
            more, fewer = ("promoters", "detractors") if nps > 0 else ("detractors", "promoters")
            said.append(
                f"The whole NPS interval ({interval}) is {'above' if nps > 0 else 'below'} 0: "
                f"{more} clearly outnumber {fewer}."
            )
    gap = _value(found, "repurchase_gap_nps")
    if gap is not None:
        low, high = found["repurchase_gap_nps"].get("low"), found["repurchase_gap_nps"].get("high")
        interval = format_interval(low, high, "pp")
        more = "more" if gap > 0 else "less"
        days = re.search(r"within \d+ days", str(found["repurchase_gap_nps"].get("label")))
        within = f" {days.group(0)}" if days else ""
        claim = f"Promoters bought again{within} {_points(gap)} {more} often than detractors"
        if interval is None:
            said.append(f"{claim}.")
        elif low <= 0 <= high:
            said.append(f"{claim}, but the interval ({interval}) includes 0: it may be noise.")
        else:
            said.append(f"{claim} (interval {interval}).")
    promoters, detractors = _value(found, "clv_promoters"), _value(found, "clv_detractors")
    if promoters is not None and detractors is not None:
        said.append(
            f"Promoters' mean predicted CLV is {_fig(found, 'clv_promoters')}, against "
            f"{_fig(found, 'clv_detractors')} for detractors."
        )
    return said


_SENTENCES: dict[str, Callable[[Mapping[str, dict]], list[str]]] = {
    "cohort": _cohort_sentences,
    "clv": _clv_sentences,
    "satisfaction": _satisfaction_sentences,
}
