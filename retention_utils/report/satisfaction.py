"""The satisfaction report, section by section: one call per section returns what to show.

Each ``*_section`` function takes the loaded survey (and, for the links, the transactions or
the CLV customer table) and returns a :class:`Section`: its charts, readable tables and
sentences in display order, the headline figures it contributes (``figures``, for
:func:`retention_utils.record.record_all`), its cautions (``cautions``, for
:func:`retention_utils.record.caution_all`) and the computed tables (``data``). A section
whose score, column or link is absent shows one sentence instead
(:func:`retention_utils.report.empty_section`), so the notebook needs no branching.

CES is shown on its own answer scale (``5.43 / 7``), p values as a reader reads them
(``p < 0.001``), intervals beside their figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from retention_utils import satisfaction as sat
from retention_utils import satisfaction_links as links
from retention_utils.config import (
    CUSTOMER,
    DEFAULT_FOLLOWUP_DAYS,
    DEFAULT_FREQ,
    DEFAULT_MIN_RESPONSES,
    RESPONSE_DATE,
)
from retention_utils.engine import customer_history
from retention_utils.plots import satisfaction as splots
from retention_utils.report.notes import EmptySection, empty_section, text_html
from retention_utils.report.numbers import DASH, format_number, format_p_value
from retention_utils.report.style import with_style
from retention_utils.report.tables import report_table
from retention_utils.satisfaction import LABELS, Scales, display_columns
from retention_utils.stats import Comparison

__all__ = [
    "FOLLOWUP_FILE",
    "Findings",
    "Scales",
    "Section",
    "change_sentence",
    "clv_section",
    "followup_section",
    "gap_sentence",
    "read_customer_table",
    "repurchase_section",
    "score_section",
    "scores_section",
    "segment_section",
]

#: Scales of a survey that does not say otherwise: CSAT 1-5 (4+ satisfied), CES 1-7.
DEFAULT_SCALES = Scales()
#: The follow-up list written next to the report (in ``output_dir``).
FOLLOWUP_FILE = "detractor_followups.csv"
_DIFF_UNITS = {"nps": "points", "csat": "percentage points", "ces": "points"}
#: Decimals of a score: NPS and CSAT in points or percent, CES as a mean answer.
_DECIMALS = {"nps": 1, "csat": 1, "ces": 2}


@dataclass(frozen=True)
class Findings:
    """Plain sentences shown as a short list; numbers with their unit never break a line."""

    sentences: tuple[str, ...]

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{text_html(s)}</li>" for s in self.sentences)
        return with_style(f'<ul class="ru-sentences">{items}</ul>')

    def __repr__(self) -> str:
        return "\n".join(self.sentences)


@dataclass
class Section:
    """What one report section shows, and what it adds to the summary.

    Attributes
    ----------
    parts : list
        Displayed in order: matplotlib figures, tables, :class:`Findings`, empty-section
        sentences.
    figures : list of dict
        Headline figures (keywords of :func:`retention_utils.record.record`).
    cautions : list of str
        Caution sentences of the section.
    data : dict
        The computed tables, by name, for readers who want the numbers.
    """

    parts: list = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the section shows only the sentence saying why it has nothing."""
        return all(isinstance(p, EmptySection) for p in self.parts)

    def _ipython_display_(self) -> None:
        for part in self.parts:
            display(part)

    def __repr__(self) -> str:
        return "\n".join(
            f"<figure: {p.axes[0].get_title()}>" if isinstance(p, plt.Figure) else repr(p)
            for p in self.parts
        )


def _nothing(sentence: str, **extra: Any) -> Section:
    return Section([empty_section(sentence)], **extra)


def _figure(nrows: int, ncols: int = 1, *, width: float = 9.0, height: float = 4.2):
    """A figure for a section: closed at once, so that only the section displays it."""
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height * nrows), squeeze=False, layout="constrained"
    )
    plt.close(fig)
    return fig, axes.ravel()


def _interval(low: Any, high: Any, decimals: int = 1) -> str:
    if pd.isna(low) or pd.isna(high):
        return DASH
    low, high = (format_number(float(v), decimals=decimals) for v in (low, high))
    return f"{low} to {high}"


def _signed(value: float, decimals: int = 1) -> str:
    return DASH if pd.isna(value) else f"{value:+,.{decimals}f}"


def _signed_interval(low: float, high: float, decimals: int = 1) -> str:
    """An interval of a difference: ``"+14.5 to +25.1"``."""
    return f"{_signed(low, decimals)} to {_signed(high, decimals)}"


def _shown(score: str, value: float, scale_max: int | None = None) -> str:
    """``"21.4 points"``, ``"78.0 %"``, ``"5.43 / 7"``."""
    if pd.isna(value):
        return DASH
    unit = sat.score_unit(score, scale_max)
    return f"{format_number(float(value), decimals=_DECIMALS[score])} {unit}"


def _p(p_value: float) -> str:
    """A p value for a column headed "p": ``"< 0.001"``, ``"0.03"``."""
    return _p_text(p_value).removeprefix("p ").removeprefix("= ")


def _p_text(p_value: float) -> str:
    """``"p < 0.001"``, ``"p = 0.29"``; three decimals from 0.01 to 0.1, so that a p value
    of 0.046 ("beyond noise") never reads as 0.05."""
    if 0.01 <= p_value < 0.1:
        return f"p = {p_value:.3f}"
    return format_p_value(p_value)


def _verdict(comparison: Comparison) -> str:
    return "beyond noise" if comparison.significant else "within noise"


# --- sentences ------------------------------------------------------------------------------


def change_sentence(
    comparison: Comparison | None,
    *,
    score: str,
    n_first: int,
    n_second: int,
    between: str = "",
    segments: tuple[str, str] | None = None,
) -> str:
    """One plain sentence about a difference ``second - first`` of a score.

    Over time (``between`` names the periods): ``"NPS fell 6.0 points (2025-05 to 2025-06),
    within noise at n=140 vs n=152 (95 % CI -17.1 to +5.1; p = 0.29)."`` Between segments
    (``segments=(first, second)``): ``"NPS is 11.8 points lower for paid_search than for
    organic, beyond noise at n=758 vs n=1,489 (...)."`` CES differences are in points of its
    answer scale, with two decimals. "Beyond noise" means p < 0.05.
    """
    label, decimals = LABELS[score], _DECIMALS[score]
    where = f" ({between})" if between else ""
    if comparison is None:
        return (
            f"{label}{where}: the change cannot be tested at n={n_first} vs n={n_second} (too "
            "few answers, or every answer of a period alike)."
        )
    diff, unit = comparison.difference, _DIFF_UNITS[score]
    tail = (
        f"(95 % CI {_signed(comparison.low, decimals)} to {_signed(comparison.high, decimals)}; "
        f"{_p_text(comparison.p_value)})."
    )
    size = format_number(abs(diff), decimals=decimals)
    same = round(diff, decimals) == 0
    if segments is not None:
        first, second = segments
        movement = (
            f"{label} is the same for {second} as for {first}"
            if same
            else f"{label} is {size} {unit} {'higher' if diff > 0 else 'lower'} for {second} "
            f"than for {first}"
        )
        return f"{movement}, {_verdict(comparison)} at n={n_second:,} vs n={n_first:,} {tail}"
    movement = (
        f"{label} was unchanged"
        if same
        else f"{label} {'rose' if diff > 0 else 'fell'} {size} {unit}"
    )
    return f"{movement}{where}, {_verdict(comparison)} at n={n_first:,} vs n={n_second:,} {tail}"


def gap_sentence(by_score: pd.DataFrame) -> str:
    """The repurchase gap of :func:`retention_utils.satisfaction.repurchase_by_score` in one
    sentence: ``"Promoters bought again within 90 days 16.9 percentage points more often than
    detractors (49 % vs 32 %; 95 % CI +12.5 to +21.3; p < 0.001), beyond noise."``"""
    score = by_score.attrs.get("score", "nps")
    high, low = (
        ("promoters", "detractors")
        if score == "nps"
        else ("satisfied customers", "dissatisfied ones")
    )
    days = by_score.attrs.get("followup_days", DEFAULT_FOLLOWUP_DAYS)
    gap = links.repurchase_gap(by_score, allow_empty=True)
    if gap is None:
        return f"Too few responses observed for {days} days to compare {high} with {low}."
    rates = by_score.set_index("group")["rate"]
    second = rates["promoter" if score == "nps" else "positive"]
    first = rates["detractor" if score == "nps" else "negative"]
    return (
        f"{high[0].upper()}{high[1:]} bought again within {days} days {abs(gap.difference):.1f} "
        f"percentage points {'more' if gap.difference >= 0 else 'less'} often than {low} "
        f"({second:.0f} % vs {first:.0f} %; 95 % CI {gap.low:+.1f} to {gap.high:+.1f}; "
        f"{_p_text(gap.p_value)}), {_verdict(gap)}."
    )


# --- sections -------------------------------------------------------------------------------


def scores_section(responses: pd.DataFrame, *, scales: Scales = DEFAULT_SCALES) -> Section:
    """Each score over all responses, with its 95 % interval and the answers behind it.

    Figures: ``responses``, ``nps``, ``csat``, ``ces`` (see
    :func:`retention_utils.satisfaction.score_figures`).
    """
    summary = sat.score_summary(
        responses,
        csat_scale_max=scales.csat_scale_max,
        positive_min=scales.positive_min or None,
        ces_scale_max=scales.ces_scale_max,
    )
    figures = sat.score_figures(responses, summary)
    summary = summary[summary["n"] > 0]
    if summary.empty:
        return _nothing(
            "The survey file has no NPS, CSAT or CES answers: there is no score to show.",
            figures=figures,
        )
    rows = []
    for row in summary.itertuples(index=False):
        score = row.score.lower()
        top = int(row.scale.split("-")[1])
        value, low, high = (getattr(row, c) for c in display_columns(score))
        rows.append(
            {
                "score": row.score,
                "answers": row.n,
                "skipped": row.missing,
                "result": _shown(score, value, top),
                "95 % interval": _interval(low, high, _DECIMALS[score]),
                "mean answer": f"{format_number(row.mean, decimals=2)} on {row.scale}",
            }
        )
    table = report_table(pd.DataFrame(rows))
    return Section([table], figures=figures, data={"summary": summary})


def score_section(
    responses: pd.DataFrame,
    score: str,
    *,
    freq: str = DEFAULT_FREQ,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    observation_end=None,
    scales: Scales = DEFAULT_SCALES,
) -> Section:
    """One score over time: charts, the latest change in words, and the table per period.

    NPS: the 0-10 answer counts, the NPS per period and its composition; CSAT: the percent
    satisfied per period; CES: the spread of answers and the mean answer per period, on the
    answer scale. A score absent from the survey gives a one-sentence section.
    """
    label = LABELS[score]
    if score not in sat.available_scores(responses):
        return _nothing(
            f"No {label} answers in this survey file ({score}_col is empty or the column has "
            f"no answers): the {label} section is left out."
        )
    trend = sat.score_trend(
        responses,
        score,
        freq=freq,
        min_responses=min_responses,
        observation_end=observation_end,
        **scales.options(score),
    )
    data: dict[str, Any] = {"trend": trend}
    if score == "nps":
        distribution = sat.nps_distribution(responses)
        data["distribution"] = distribution
        fig, axes = _figure(3)
        splots.plot_nps_distribution(distribution, ax=axes[0])
        splots.plot_score_trend(trend, ax=axes[1])
        splots.plot_nps_composition(trend, ax=axes[2])
    elif score == "ces":
        fig, axes = _figure(2)
        splots.plot_ces_distribution(responses["ces"], scale_max=scales.ces_scale_max, ax=axes[0])
        splots.plot_score_trend(trend, ax=axes[1])
    else:
        fig, axes = _figure(1)
        splots.plot_score_trend(trend, ax=axes[0])
    return Section([fig, Findings(_latest_changes(trend)), _trend_table(trend)], data=data)


def _latest_changes(trend: pd.DataFrame, count: int = 2) -> tuple[str, ...]:
    """Sentences on the last ``count`` changes between consecutive periods with answers."""
    score = trend.attrs["score"]
    rows = trend[trend["n"] > 0].reset_index(drop=True)
    said = []
    for i in range(max(len(rows) - count, 1), len(rows)):
        before, after = rows.iloc[i - 1], rows.iloc[i]
        comparison = None
        if pd.notna(after["p_value"]) and after["period"] == before["period"] + 1:
            comparison = Comparison(
                after["change"], float("nan"), float("nan"), after["p_value"],
                after["change_low"], after["change_high"],
            )  # fmt: skip
        said.append(
            change_sentence(
                comparison,
                score=score,
                n_first=int(before["n"]),
                n_second=int(after["n"]),
                between=f"{before['period']} to {after['period']}",
            )
        )
    if not said:
        said.append("Only one period has answers: there is no change to test yet.")
    return tuple(said)


def _heading(score: str, scale_max: int | None) -> str:
    """Column heading of a score with its unit: ``NPS (points)``, ``CSAT %``, ``CES (of 7)``."""
    return {"nps": "NPS (points)", "csat": "CSAT %"}.get(score) or f"CES (of {scale_max or 7})"


def _rounded(values: pd.Series, decimals: int) -> pd.Series:
    """Values rounded for display, without a "-0.00" (adding 0.0 turns -0.0 into 0.0)."""
    return values.astype(float).round(decimals) + 0.0


def _trend_table(trend: pd.DataFrame):
    score = trend.attrs["score"]
    value, low, high = display_columns(score)
    decimals = _DECIMALS[score]
    heading = _heading(score, trend.attrs.get("scale_max"))
    table = pd.DataFrame(
        {
            "period": trend["period"].astype(str),
            "answers": trend["n"],
            heading: _rounded(trend[value], decimals),
            "95 % interval": [
                _interval(a, b, decimals) for a, b in zip(trend[low], trend[high], strict=True)
            ],
        }
    )
    if score == "nps":
        for column in ("detractors", "passives", "promoters"):
            table[f"{column} %"] = _rounded(trend[column], 1)
    table["change"] = _rounded(trend["change"], decimals)
    table["p"] = [DASH if pd.isna(p) else _p(p) for p in trend["p_value"]]
    flags = []
    for few, cut in zip(trend["low_n"], trend["incomplete"], strict=True):
        flags.append(", ".join(t for t, on in (("few answers", few), ("cut short", cut)) if on))
    table["note"] = flags
    shares = {f"{c} %": 1 for c in ("detractors", "passives", "promoters")}
    return report_table(
        table,
        decimals={heading: decimals, "change": decimals, **shares},
        missing_note="no answer in this period, or no previous period to compare with",
    )


def segment_section(
    responses: pd.DataFrame,
    compare_by: str,
    *,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    scales: Scales = DEFAULT_SCALES,
) -> Section:
    """Every score per value of ``compare_by``: chart, table, and the pairs that differ.

    A ``compare_by`` the survey lacks is a caution (the comparison asked for is left out).
    Figure: ``lowest_segment`` (the segment with the lowest first score, among segments with
    at least ``min_responses`` answers).
    """
    if not compare_by:
        return _nothing(
            "No comparison column is set (compare_by) and the data set has no default one: "
            "segments are not compared."
        )
    if compare_by not in responses.columns:
        missing = (
            f"The survey has no column {compare_by!r} (compare_by): segments are not compared. "
            f"Columns found: {', '.join(map(str, responses.columns))}."
        )
        sentence = f"Segments are not compared: the survey has no column {compare_by!r}."
        return _nothing(sentence, cautions=[missing])
    if responses[compare_by].nunique() < 2:
        return _nothing(
            f"Only one value of {compare_by!r} in these responses: there are no segments to "
            "compare."
        )
    scores = sat.available_scores(responses)
    if not scores:
        return _nothing("The survey has no scores to compare between segments.")
    segments = min(responses[compare_by].nunique(), 12)
    fig, axes = _figure(len(scores), height=max(2.2, 0.4 * segments + 1.2))
    tables, pairs = [], []
    for ax, score in zip(axes, scores, strict=True):
        options = scales.options(score)
        by_segment = sat.score_by_segment(
            responses, score, compare_by, min_responses=min_responses, **options
        )
        splots.plot_segment_scores(by_segment, ax=ax)
        tables.append(by_segment)
        pairs.append(sat.compare_segments(responses, score, compare_by, **options))
    figures = [f for f in [sat.lowest_segment(tables[0])] if f is not None]
    found, table = _significant_pairs(pairs)
    parts = [fig, _segment_table(tables, compare_by), Findings(found)]
    if table is not None:
        parts.append(table)
    return Section(parts, figures=figures, data={"by_segment": tables, "pairs": pairs})


def _segment_table(tables: list[pd.DataFrame], by: str):
    order = list(tables[0][by])
    out = pd.DataFrame({by: [str(v) for v in order]})
    decimals = {}
    for table in tables:
        score = table.attrs["score"]
        value, low, high = display_columns(score)
        heading = _heading(score, table.attrs.get("scale_max"))
        rows = table.set_index(by).reindex(order)
        out[heading] = _rounded(rows[value], _DECIMALS[score]).to_numpy()
        out[f"{LABELS[score]} 95 % interval"] = [
            _interval(a, b, _DECIMALS[score]) for a, b in zip(rows[low], rows[high], strict=True)
        ]
        decimals[heading] = _DECIMALS[score]
    caption = f"Scores by {by}, largest segments first (answers per segment: see the charts)"
    return report_table(out, decimals=decimals, caption=caption)


def _significant_pairs(pairs: list[pd.DataFrame]):
    tested = sum(len(p) for p in pairs)
    rows = []
    for table in pairs:
        score = table.attrs["score"]
        for row in table[table["significant"]].itertuples(index=False):
            rows.append(
                {
                    "score": LABELS[score],
                    "segments": f"{row.second} vs {row.first}",
                    "difference": _signed(row.difference, _DECIMALS[score]),
                    "95 % interval": _signed_interval(row.low, row.high, _DECIMALS[score]),
                    "p (Holm)": _p(row.p_holm),
                }
            )
    if not rows:
        return (
            f"{tested:,} pairs of segments tested: none differs beyond noise once the p values "
            "are adjusted for the number of pairs (Holm).",
        ), None
    said = (
        f"{tested:,} pairs of segments tested; {len(rows):,} differ beyond noise after the "
        "Holm adjustment for the number of pairs (below; difference = first segment minus "
        "second, in points of the score).",
    )
    return said, report_table(pd.DataFrame(rows))


def repurchase_section(
    responses: pd.DataFrame,
    transactions,
    *,
    followup_days: int = DEFAULT_FOLLOWUP_DAYS,
    observation_end=None,
    scales: Scales = DEFAULT_SCALES,
) -> Section:
    """Repurchase within ``followup_days`` after answering, by NPS group and CSAT outcome:
    chart, table of rates, the gap with its interval and p value.

    Figures: ``repurchase_gap_nps`` and/or ``repurchase_gap_csat``. Cautions: responses of
    customers missing from the transactions above 5 % of those eligible.
    """
    scores = [s for s in ("nps", "csat") if s in sat.available_scores(responses)]
    if transactions is None:
        return _nothing(
            "No transactions were given (transactions is empty): whether satisfied customers "
            "buy again cannot be checked."
        )
    if not scores:
        return _nothing(
            "Neither NPS nor CSAT answers in this survey file: repurchase by satisfaction "
            "cannot be shown."
        )
    tables = {}
    try:
        for score in scores:
            tables[score] = links.repurchase_by_score(
                responses,
                transactions,
                score,
                followup_days,
                observation_end,
                **scales.options(score),
            )
    except links.UnlinkedSurveyError as error:
        sentence = (
            "Repurchase by satisfaction cannot be shown: no surveyed customer appears in the "
            "transactions."
        )
        return _nothing(sentence, cautions=[str(error)])
    fig, axes = _figure(1, len(tables), width=6.0 * len(tables), height=4.6)
    for ax, table in zip(axes, tables.values(), strict=True):
        splots.plot_repurchase_by_score(table, ax=ax)
    rates, gaps = [], []
    for score, table in tables.items():
        for row in table.itertuples(index=False):
            rates.append(
                {
                    "score": LABELS[score],
                    "group": row.group,
                    "responses observed": row.n,
                    "bought again": row.repurchased,
                    "rate %": row.rate,
                    "95 % interval": _interval(row.low, row.high),
                }
            )
        gap = links.repurchase_gap(table, allow_empty=True)
        if gap is not None:
            gaps.append(
                {
                    "comparison": "promoters minus detractors"
                    if score == "nps"
                    else "satisfied minus dissatisfied",
                    "difference (pp)": _signed(gap.difference),
                    "95 % interval": _signed_interval(gap.low, gap.high),
                    "p": _p(gap.p_value),
                    "reading": _verdict(gap),
                }
            )
    first = next(iter(tables.values())).attrs
    said = [gap_sentence(table) for table in tables.values()]
    said.append(_observed_sentence(first))
    parts = [fig, Findings(tuple(said)), report_table(pd.DataFrame(rates), decimals=1)]
    if gaps:
        parts.append(report_table(pd.DataFrame(gaps)))
    cautions = list(dict.fromkeys(c for t in tables.values() for c in t.attrs.get("cautions", [])))
    figures = [links.repurchase_figure(table) for table in tables.values()]
    return Section(parts, figures=figures, cautions=cautions, data={"repurchase": tables})


def _observed_sentence(attrs: dict) -> str:
    days = attrs.get("followup_days")
    said = (
        f"{attrs['eligible']:,} of {attrs['responses']:,} responses were answered at least "
        f"{days} days before the end of the data ({attrs['observation_end']:%Y-%m-%d}) and are used"
    )
    unmatched = attrs.get("unmatched_responses", 0)
    if unmatched:
        said += (
            f"; {unmatched:,} more, from customers not found in the transactions, "
            f"{'is' if unmatched == 1 else 'are'} left out (not counted as not buying again)"
        )
    return said + "."


def read_customer_table(source) -> pd.DataFrame | None:
    """The CLV report's customer table from a Parquet or CSV path (``customer_id`` as
    text), a DataFrame as given, or None for ``""``/None."""
    if source is None or isinstance(source, pd.DataFrame):
        return source
    if not str(source).strip():
        return None
    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={CUSTOMER: "string"})


def clv_section(
    responses: pd.DataFrame,
    clv_customers,
    *,
    currency: str | None = None,
    scales: Scales = DEFAULT_SCALES,
) -> Section:
    """Mean P(alive) and predicted CLV by NPS group (and CSAT outcome) of each surveyed
    customer's latest answer, with intervals and the promoter-detractor test.

    Figures: ``clv_promoters``, ``clv_detractors``. Cautions: surveyed customers missing
    from the CLV table above 5 %.
    """
    table = read_customer_table(clv_customers)
    if table is None:
        return _nothing(
            "No CLV customer table was given (clv_customers is empty): predicted value is not "
            "compared across NPS groups. Run the CLV report first and set clv_customers to its "
            "customer table (clv_customers.parquet in its output folder), or use --link-clv "
            "in batch."
        )
    scores = [s for s in ("nps", "csat") if s in sat.available_scores(responses)]
    if not scores:
        return _nothing("Neither NPS nor CSAT answers in this survey file: no group to compare.")
    money = f" ({currency})" if currency else ""
    tables, rows, tests = {}, [], []
    for score in scores:
        link = links.clv_by_score(
            responses,
            table,
            score=score,
            **scales.options(score),
        )
        tables[score] = link
        for row in link.itertuples(index=False):
            rows.append(
                {
                    "score": LABELS[score],
                    "group": row.group,
                    "customers": row.customers,
                    "mean P(alive) %": row.p_alive * 100,
                    "P(alive) 95 % interval": _interval(
                        row.p_alive_low * 100, row.p_alive_high * 100
                    ),
                    f"mean CLV{money}": row.clv,
                    "CLV 95 % interval": _interval(row.clv_low, row.clv_high, 2),
                }
            )
        comparison = link.attrs["comparison"]
        if comparison is not None:
            tests.append(
                {
                    "comparison": "promoters minus detractors"
                    if score == "nps"
                    else "satisfied minus dissatisfied",
                    f"difference in mean CLV{money}": _signed(comparison.difference, 2),
                    "95 % interval": _signed_interval(comparison.low, comparison.high, 2),
                    "p": _p(comparison.p_value),
                    "reading": _verdict(comparison),
                }
            )
    attrs = next(iter(tables.values())).attrs
    said = (
        f"{attrs['customers_matched']:,} of {attrs['customers_surveyed']:,} surveyed customers "
        f"found in the CLV table; each is counted once, in the group of their latest answer; "
        f"CLV in {currency or 'the currency of the transactions'} (Welch's t test for the "
        "difference).",
    )
    decimals = {"mean P(alive) %": 1, f"mean CLV{money}": 2}
    parts = [Findings(said), report_table(pd.DataFrame(rows), decimals=decimals)]
    if tests:
        parts.append(report_table(pd.DataFrame(tests)))
    cautions = list(dict.fromkeys(c for t in tables.values() for c in t.attrs.get("cautions", [])))
    figures = links.clv_figures(tables["nps"], currency=currency or None) if "nps" in tables else []
    return Section(parts, figures=figures, cautions=cautions, data={"clv": tables})


def followup_section(
    responses: pd.DataFrame,
    transactions=None,
    clv_customers=None,
    *,
    limit: int = 20,
    output_dir: str | Path = "",
    observation_end=None,
    currency: str | None = None,
    scales: Scales = DEFAULT_SCALES,
) -> Section:
    """The customers to call back: latest answer a detractor (NPS 0-6) or a dissatisfied
    CSAT, most valuable first, ``limit`` shown, the whole list written to
    ``output_dir``/:data:`FOLLOWUP_FILE` when ``output_dir`` is given.

    Value comes from the transactions (last purchase, orders, revenue) and the CLV table
    (CLV, P(alive)) when given. Figure: ``customers_to_follow_up``.
    """
    if not [s for s in ("nps", "csat") if s in sat.available_scores(responses)]:
        return _nothing("Neither NPS nor CSAT answers in this survey file: no detractor to list.")
    history = (
        None
        if transactions is None
        else customer_history(transactions, observation_end=observation_end or None)
    )
    followups = links.detractor_followups(
        responses,
        history=history,
        clv_customers=read_customer_table(clv_customers),
        csat_scale_max=scales.csat_scale_max,
        positive_min=scales.positive_min or None,
    )
    figures = [links.followup_figure(followups)]
    rule = followups.attrs["rule"]
    if followups.empty:
        return _nothing(
            f"No customer to follow up: no surveyed customer's {rule}.", figures=figures
        )
    written = None
    if str(output_dir).strip():
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written = folder / FOLLOWUP_FILE
        followups.to_csv(written, index=False, date_format="%Y-%m-%d")
    order = {
        "clv": "highest predicted CLV first",
        "revenue": "highest revenue first",
        RESPONSE_DATE: "most recent answer first",
    }[followups.attrs["sorted_by"]]
    shown = min(limit, len(followups))
    said = (
        f"{len(followups):,} of the {followups.attrs['customers_surveyed']:,} customers who "
        f"answered are to follow up ({rule}); "
        + (
            f"all are listed, {order}."
            if shown == len(followups)
            else f"the first {shown:,} are listed, {order}."
        )
        + (f" The whole list is in {written.name}, next to this report." if written else ""),
    )
    return Section(
        [Findings(said), _followup_table(followups.head(limit), currency)],
        figures=figures,
        data={"followups": followups, "file": written},
    )


def _followup_table(followups: pd.DataFrame, currency: str | None):
    money = f" ({currency})" if currency else ""
    names = {
        CUSTOMER: "customer",
        RESPONSE_DATE: "answered",
        "nps": "NPS",
        "csat": "CSAT",
        "last_purchase": "last purchase",
        "orders": "orders",
        "revenue": f"revenue{money}",
        "clv": f"predicted CLV{money}",
        "p_alive": "P(alive) %",
    }
    shown = followups.rename(columns=names)
    shown["answered"] = shown["answered"].dt.normalize()
    if "P(alive) %" in shown:
        shown["P(alive) %"] = shown["P(alive) %"] * 100
    for column in ("NPS", "CSAT"):
        if column in shown:
            shown[column] = shown[column].astype("float")
    return report_table(
        shown,
        decimals={"NPS": 0, "CSAT": 0, "orders": 0, "P(alive) %": 0},
        missing_note="not answered, or not found in the transactions or the CLV table",
    )
