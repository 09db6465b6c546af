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
        "repurchase_gap_csat",
        "clv_promoters",
        "clv_detractors",
        "customers_to_follow_up",
        "lowest_segment",
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
#: The CLV report's pointer when the model identifies no dropout (no at-risk figure): there
#: is no one the model counts as lost to look at.
CLV_NEXT_WITHOUT_DROPOUT = (
    "Look next at “Customer table and value segments” for the customers with the highest "
    "predicted value, and at “Model CLV versus the simple seed formula” for where the two "
    "disagree."
)
#: The last sentence of each summary: where to look next (section titles of the notebooks).
NEXT_STEPS: dict[str, str] = {
    "cohort": "Look next at “Acquisition cohorts”, to see whether recent cohorts keep fewer "
    "customers than older ones, and at “Segments: is the difference real?” before acting on "
    "a segment gap.",
    "clv": "Look next at “Who is still active?” for the customers the model counts as lost, "
    "and at “Model CLV versus the simple seed formula” for where the two disagree.",
    "satisfaction": "Look next at the scores over time, for a move beyond noise, and at "
    "“Segments compared” before acting on a segment gap.",
}
#: The pointer of a report that compares no segments: it names only sections with content.
NEXT_STEPS_WITHOUT_SEGMENTS: dict[str, str] = {
    "cohort": "Look next at “Acquisition cohorts”, to see whether recent cohorts keep fewer "
    "customers than older ones, and at “How long customers stay: survival” for how long a "
    "customer stays in the base.",
    "satisfaction": "Look next at the scores over time, for a move beyond noise.",
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


def tiles_html(tiles: Iterable[Tile]) -> str:
    """The ``<div class="ru-tiles">`` grid of ``tiles`` ("" when there is none)."""
    markup = "".join(tile.to_html() for tile in tiles)
    return f'<div class="ru-tiles">{markup}</div>' if markup else ""


@dataclass
class SummaryBlock:
    """What a report says first (SPEC section 5): tiles, cautions and sentences."""

    title: str
    tiles: list[Tile] = field(default_factory=list)
    cautions: list[dict] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        """The ``<section id="summary">`` markup, every text from the data escaped."""
        cautions = "".join(caution_html(c["text"], section=c.get("section")) for c in self.cautions)
        sentences = "".join(f"<li>{text_html(s)}</li>" for s in self.sentences)
        return (
            '<section id="summary" class="ru-summary">'
            f'<h2 class="ru-summary-title">{html.escape(self.title)}</h2>'
            + tiles_html(self.tiles)
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
    compare_by: str = "",
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
    compare_by : str
        The column whose segments the cohort report compares ("": none, and the last
        sentence does not point to a segment comparison). The satisfaction report's pointer
        follows its ``lowest_segment`` figure instead.

    Returns
    -------
    SummaryBlock
        Displayed as HTML in a notebook (``<section id="summary">``).
    """
    if kind not in TILE_ORDER:
        raise ValueError(f"Unknown report kind {kind!r}: use one of {', '.join(TILE_ORDER)}.")
    payloads = _with_currency(
        recorded_headlines() if headlines is None else headlines, currency=currency
    )
    found = {p["name"]: p for p in payloads}
    sentences = [
        *_SENTENCES[kind](found)[:MAX_FIGURE_SENTENCES],
        _next_step(kind, found, compare_by=compare_by),
    ]
    listed = recorded_cautions() if cautions is None else cautions
    notes = [{"text": c, "section": None} if isinstance(c, str) else dict(c) for c in listed]
    return SummaryBlock(title, summary_tiles(kind, payloads), notes, sentences)


def _next_step(kind: str, found: Mapping[str, dict], *, compare_by: str = "") -> str:
    """The summary's last sentence, naming only sections with something to read: the CLV
    pointer to customers counted as lost only when the report recorded an at-risk figure
    (the model identified dropout), the segment comparison only when segments were compared
    (``compare_by`` for the cohort report, a ``lowest_segment`` figure for satisfaction)."""
    if kind == "clv" and "mean_clv" in found and "high_value_at_risk_pct" not in found:
        return CLV_NEXT_WITHOUT_DROPOUT
    compared = {"cohort": bool(compare_by), "satisfaction": "lowest_segment" in found}
    if not compared.get(kind, True):
        return NEXT_STEPS_WITHOUT_SEGMENTS[kind]
    return NEXT_STEPS[kind]


def summary_tiles(
    kind: str, headlines: Iterable[Mapping[str, Any]], *, currency: str | None = None
) -> list[Tile]:
    """The tiles of a report's summary block, from its recorded headline payloads.

    The same tiles, in the same order and with the same intervals and notes, as
    :func:`summary_block` shows; the batch index shows them per report. A ``kind`` other
    than "cohort", "clv" or "satisfaction" gives one tile per figure, in recorded order.
    """
    payloads = _with_currency(headlines, currency=currency)
    found = {p["name"]: p for p in payloads}
    return [_tile(p, kind, found) for p in _tile_payloads(kind, payloads)]


def _with_currency(headlines: Iterable[Mapping[str, Any]], *, currency: str | None) -> list[dict]:
    """Copies of the payloads, money figures recorded without a unit in ``currency``."""
    payloads = [dict(h) for h in headlines]
    for payload in payloads:
        if payload.get("name") in MONEY and not payload.get("unit") and currency:
            payload["unit"] = currency
    return payloads


def _matches(name: str, pattern: str) -> bool:
    return name.startswith(pattern) if pattern.endswith("_") else name == pattern


def _tile_payloads(kind: str, payloads: list[dict]) -> list[dict]:
    order = TILE_ORDER.get(kind, ())
    ordered = [p for pattern in order for p in payloads if _matches(p["name"], pattern)]
    hidden = order + NOT_TILES.get(kind, ())
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
    """What the cohort figures mean, most telling first: who bought, whether the base holds
    (or why no rate is headlined), how cohorts decay, then how long customers stay, the MRR
    when it shrinks, and the repeat rate with the simple CLV."""
    said = [
        s
        for s in (
            _customers_sentence(found),
            _retention_sentence(found),
            _cohort_age_sentence(found),
            _nrr_sentence(found),
            _lifetime_sentence(found),
            _repeat_sentence(found),
        )
        if s
    ]
    return said[:MAX_FIGURE_SENTENCES]


def _customers_sentence(found: Mapping[str, dict]) -> str | None:
    customers, revenue = _value(found, "customers"), _value(found, "revenue")
    if customers is None:
        return None
    if revenue is None or not customers:
        return f"{_fig(found, 'customers')} customers bought in the period analysed."
    unit = found["revenue"].get("unit")
    each = format_figure(revenue / customers, unit)
    return (
        f"{_fig(found, 'customers')} customers bought in the period analysed, for a net "
        f"revenue of {_fig(found, 'revenue')} ({each} per customer)."
    )


def _retention_sentence(found: Mapping[str, dict]) -> str | None:
    if "retention_strict_last" not in found:
        return None
    retention, churn = _value(found, "retention_strict_last"), _value(found, "churn_rate_last")
    if retention is None:
        return (
            "No retention rate is headlined: the data do not reach active_days back from any "
            "complete period, so each period's starting base misses earlier customers "
            "(warm-up); the cohort figures below do not need that history."
        )
    period = re.search(
        r"\d{4}(?:-(?:\d{2}|Q[1-4]|W\d{2}))?", str(found["retention_strict_last"]["label"])
    )
    when = f"In {period.group(0)}" if period else "In the last complete period"
    gone = f", and {_fig(found, 'churn_rate_last')} lapsed" if churn is not None else ""
    return (
        f"{when}, {_fig(found, 'retention_strict_last')} of the customers in the base at its "
        f"start were still in it at its end (strict retention){gone}: a customer leaves the "
        "base only after active_days without a purchase, so this rate moves slowly and a drop "
        "is worth a look at “Customers entering and leaving the base”."
    )


def _cohort_age_sentence(found: Mapping[str, dict]) -> str | None:
    ages = [n for n in found if n.startswith("retention_age_") and _value(found, n) is not None]
    on, after = _value(found, "retention_on_age_1"), _value(found, "retention_on_or_after_age_1")
    said = ""
    if ages:
        age = ages[0].removeprefix("retention_age_")
        unit = re.search(r"\b(day|week|month|quarter|year)", str(found[ages[0]].get("label")))
        plural = "" if age == "1" else "s"
        said = (
            f"Averaged over the acquisition cohorts, {_fig(found, ages[0])} of customers "
            f"bought again {age} {unit.group(1) if unit else 'period'}{plural} after their "
            "first purchase"
        )
    if on is not None and after is not None and after - on >= 10:
        word = re.search(
            r"\b(day|week|month|quarter|year)", str(found["retention_on_age_1"].get("label"))
        )
        period = word.group(1) if word else "period"
        gap = (
            f"{format_figure(on, '%')} bought in {period} 1 but {format_figure(after, '%')} in "
            f"{period} 1 or later: many customers skip {period}s rather than leave"
        )
        said = f"{said}; {gap}" if said else gap[0].upper() + gap[1:]
    return f"{said}." if said else None


def _nrr_sentence(found: Mapping[str, dict]) -> str | None:
    nrr = _value(found, "nrr_last")
    if nrr is None or nrr >= 100:
        return None
    return (
        f"Net revenue retention of {_fig(found, 'nrr_last')} is below 100 %: subscription "
        "revenue from existing customers is shrinking (see “Subscription revenue (MRR)”)."
    )


def _lifetime_sentence(found: Mapping[str, dict]) -> str | None:
    if "median_lifetime_days" not in found:
        return None
    if _value(found, "median_lifetime_days") is None:
        return (
            "More than half the customers are still in the base at the end of the data, so "
            "the median time in the base is longer than the data show."
        )
    return (
        f"Half the customers leave the base within {_fig(found, 'median_lifetime_days')} of "
        "their first purchase (Kaplan-Meier median, counting the active_days after their last "
        "purchase)."
    )


def _repeat_sentence(found: Mapping[str, dict]) -> str | None:
    repeat, clv = _value(found, "repeat_purchase_rate"), _value(found, "simple_clv")
    if repeat is not None and clv is not None:
        return (
            f"{_fig(found, 'repeat_purchase_rate')} of customers made a repeat purchase, and "
            f"the simple CLV formula gives {_fig(found, 'simple_clv')} per customer."
        )
    if repeat is not None:
        return f"{_fig(found, 'repeat_purchase_rate')} of customers made a repeat purchase."
    if clv is not None:
        return f"The simple CLV formula gives {_fig(found, 'simple_clv')} per customer."
    return None


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
    """What the scores mean and what to do next, from whichever scores the survey has."""
    scores = [
        f"{word} of {_fig(found, name)}"
        for name, word in (("nps", "an NPS"), ("csat", "a CSAT"), ("ces", "a mean effort answer"))
        if _value(found, name) is not None
    ]
    listed = (
        ", ".join(scores[:-1]) + (" and " if len(scores) > 1 else "") + scores[-1] if scores else ""
    )
    said = []
    if _value(found, "responses") is not None:
        gives = f" give {listed}" if listed else " were read"
        said.append(f"{_fig(found, 'responses')} survey responses{gives}.")
    elif listed:
        said.append(f"The survey gives {listed}.")
    found_sentences = (
        _score_meaning(found),
        _repurchase_sentence(found),
        _followup_sentence(found),
    )
    return said + [sentence for sentence in found_sentences if sentence]


def _score_meaning(found: Mapping[str, dict]) -> str | None:
    """What the main score says: NPS against 0, else the share satisfied, else CES."""
    nps, csat, ces = (_value(found, n) for n in ("nps", "csat", "ces"))
    if nps is not None:
        payload = found["nps"]
        interval = format_interval(payload.get("low"), payload.get("high"), payload.get("unit"))
        if interval is None:
            return (
                "An NPS above 0 means promoters outnumber detractors."
                if nps > 0
                else "An NPS of 0 or below means detractors are at least as many as promoters."
            )
        if payload["low"] <= 0 <= payload["high"]:
            return (
                f"The NPS interval ({interval}) includes 0: promoters and detractors may be "
                "about as many."
            )
        more, fewer = ("promoters", "detractors") if nps > 0 else ("detractors", "promoters")
        side = "above" if nps > 0 else "below"
        return f"The whole NPS interval ({interval}) is {side} 0: {more} clearly outnumber {fewer}."
    if csat is not None:
        payload = found["csat"]
        interval = format_interval(payload.get("low"), payload.get("high"), "%")
        within = f" (interval {interval})" if interval else ""
        return (
            f"{_fig(found, 'csat')} of respondents were satisfied{within}; "
            f"{format_figure(100 - csat, '%')} were not."
        )
    if ces is not None:
        unit = str(found["ces"].get("unit") or "")
        interval = format_interval(found["ces"].get("low"), found["ces"].get("high"), unit)
        within = f" (interval {interval})" if interval else ""
        return (
            f"The mean effort answer is {_fig(found, 'ces')}{within}; a higher answer means an "
            "easier experience."
        )
    return None


def _repurchase_sentence(found: Mapping[str, dict]) -> str | None:
    """Whether satisfaction shows in repurchase (NPS gap, else CSAT), with predicted CLV."""
    name = next(
        (n for n in ("repurchase_gap_nps", "repurchase_gap_csat") if _value(found, n) is not None),
        None,
    )
    clv = ""
    if _value(found, "clv_promoters") is not None and _value(found, "clv_detractors") is not None:
        clv = (
            f"Promoters' mean predicted CLV is {_fig(found, 'clv_promoters')}, against "
            f"{_fig(found, 'clv_detractors')} for detractors."
        )
    if name is None:
        return clv or None
    payload = found[name]
    gap, low, high = payload["value"], payload.get("low"), payload.get("high")
    high_group, low_group = (
        ("Promoters", "detractors")
        if name.endswith("nps")
        else ("Satisfied customers", "dissatisfied ones")
    )
    days = re.search(r"within \d+ days", str(payload.get("label")))
    within = f" {days.group(0)}" if days else ""
    more = "more" if gap > 0 else "less"
    claim = f"{high_group} bought again{within} {_points(gap)} {more} often than {low_group}"
    interval = format_interval(low, high, "pp")
    if interval is None:
        said = f"{claim}."
    elif low <= 0 <= high:
        said = f"{claim}, but the interval ({interval}) includes 0: it may be noise."
    else:
        shows = "shows in repurchase" if gap > 0 else "does not go with buying again here"
        said = f"{claim} (interval {interval}): satisfaction {shows}."
    return f"{said} {clv}" if clv else said


def _followup_sentence(found: Mapping[str, dict]) -> str | None:
    """Who to call and which segment to look at."""
    parts = []
    count = _value(found, "customers_to_follow_up")
    if count:
        rule = str(found["customers_to_follow_up"].get("note") or "").strip()
        whose = f" whose {rule}" if rule else ""
        customers = _fig(found, "customers_to_follow_up")
        parts.append(f"call back the {customers} customers{whose} (the follow-up list)")
    lowest = found.get("lowest_segment")
    match = re.fullmatch(r"Lowest (\w+) by (.+?): (.+)", str((lowest or {}).get("label", "")))
    if match and lowest.get("value") is not None:
        score, by, segment = match.groups()
        parts.append(
            f"look at {segment}, the {by} with the lowest {score} ({_fig(found, 'lowest_segment')})"
        )
    if not parts:
        return None
    text = " and ".join(parts)
    return f"Next, {text}."


_SENTENCES: dict[str, Callable[[Mapping[str, dict]], list[str]]] = {
    "cohort": _cohort_sentences,
    "clv": _clv_sentences,
    "satisfaction": _satisfaction_sentences,
}
