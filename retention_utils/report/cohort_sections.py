"""The sections of the cohort report: each function returns what its section shows.

A section is one call in the notebook: a readable table (:func:`report_table` over the
columns a reader needs, the full frames staying with the analysis functions), a figure, both,
or the one sentence saying why there is nothing to show (:func:`empty_section`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from IPython.display import Image, display
from matplotlib.figure import Figure

from retention_utils.kpis import MIN_SUBSCRIBERS
from retention_utils.plots import PERIOD_WORDS
from retention_utils.plots import cohorts as cohort_plots
from retention_utils.plots import survival as survival_plots
from retention_utils.report.notes import EmptySection, empty_section
from retention_utils.report.numbers import format_p_value
from retention_utils.report.tables import ReportTable, report_table
from retention_utils.segment_comparison import compare_retention
from retention_utils.survival import SurvivalComparison

__all__ = [
    "Shown",
    "clv_table",
    "day_n_table",
    "cumulative_revenue_section",
    "curve_section",
    "kpi_table",
    "lifespan_table",
    "modes_section",
    "mrr_section",
    "retention_cost_section",
    "revenue_table",
    "retention_counts_table",
    "segment_section",
    "survival_segment_section",
]

#: Reader columns of the KPI table: source column -> header.
KPI_VIEW = {
    "period": "period",
    "status": "status",
    "customers_start": "S (start)",
    "customers_end": "E (end)",
    "new_customers": "N (new)",
    "churned": "churned",
    "reactivated": "reactivated",
    "retention_strict": "strict retention",
    "retention_rate": "CRR",
    "churn_rate": "churn",
    "return_rate": "return",
}
#: Reader columns of the revenue table (from the KPI table): source column -> header.
REVENUE_VIEW = {
    "period": "period",
    "status": "status",
    "revenue": "revenue",
    "orders": "orders",
    "aov": "AOV",
    "purchase_frequency": "orders per buyer",
    "repeat_purchase_rate": "repeat purchase",
    "retention_cost": "retention cost",
    "retention_cost_per_customer": "retention cost per customer",
}
#: Reader columns of the MRR table: source column -> header.
MRR_VIEW = {
    "period": "period",
    "subscribers_start": "subscribers",
    "mrr_start": "MRR start",
    "new_mrr": "new",
    "reactivation_mrr": "reactivation",
    "expansion_mrr": "expansion",
    "contraction_mrr": "contraction",
    "churned_mrr": "churned",
    "mrr_end": "MRR end",
    "revenue_churn": "revenue churn",
    "grr": "GRR",
    "nrr": "NRR",
    "arpa": "ARPA",
}
_KPI_PERCENT = ("strict retention", "CRR", "churn", "return", "repeat purchase")
_STATUS_NOTE = "no value: no customers at the period start, or an incomplete period"
_MRR_RATES = ("revenue_churn", "grr", "nrr")


@dataclass(frozen=True)
class Shown:
    """What a section shows, in order: tables, notes and figures.

    In a notebook each part is its own output (a figure as a PNG image, a table as HTML), so
    the exported report shows figures as images, never as markup.
    """

    parts: Sequence[Any]

    def _ipython_display_(self) -> None:
        for part in self.parts:
            display(
                Image(data=figure_png(part), format="png") if isinstance(part, Figure) else part
            )

    def __repr__(self) -> str:
        return "\n\n".join(
            f"<figure: {_title(p)}>" if isinstance(p, Figure) else repr(p) for p in self.parts
        )


def figure_png(figure: Figure) -> bytes:
    """The PNG of a figure, cropped to its drawing (as Jupyter shows a figure)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _title(figure: Figure) -> str:
    return "; ".join(ax.get_title() for ax in figure.axes if ax.get_title())


def _figure(rows: int = 1, height: float = 4.5, width: float = 8.0) -> tuple[Figure, list]:
    """A figure outside pyplot (so the notebook shows it once, through :class:`Shown`)."""
    figure = Figure(figsize=(width, height * rows))
    axes = [figure.add_subplot(rows, 1, i + 1) for i in range(rows)]
    figure.subplots_adjust(hspace=0.9)
    return figure, axes


def _period_text(periods: pd.Series) -> list[str]:
    return [
        p.start_time.strftime("%Y-%m-%d") if getattr(p, "freqstr", "")[:1] == "W" else str(p)
        for p in periods
    ]


def _with_status(kpis: pd.DataFrame) -> pd.DataFrame:
    """The KPI table with text periods and one ``status`` column instead of the warm-up and
    incomplete flags."""
    return kpis.assign(
        period=_period_text(kpis["period"]),
        status=[
            "incomplete" if late else "warm-up" if early else ""
            for early, late in zip(kpis["warm_up"], kpis["incomplete"], strict=True)
        ],
    )


def _view(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]].rename(columns=columns)


def kpi_table(kpis: pd.DataFrame) -> ReportTable:
    """The per-period customer KPIs as a reader needs them: the counts, the rates once in
    percent, a status column instead of the warm-up / incomplete flags.

    Parameters
    ----------
    kpis : DataFrame
        :func:`retention_utils.kpis.kpi_table` (all its columns stay there for users; the
        money columns are in :func:`revenue_table`).
    """
    return report_table(
        _view(_with_status(kpis), KPI_VIEW),
        percent=_KPI_PERCENT,
        decimals=dict.fromkeys(_KPI_PERCENT, 1),
        missing_note=_STATUS_NOTE,
    )


def revenue_table(kpis: pd.DataFrame) -> ReportTable:
    """Revenue, orders and their ratios per period (money with separators), with the
    retention cost when the KPI table has it."""
    shown = _with_status(kpis).assign(
        status=lambda d: d["status"].where(d["status"] == "incomplete", "")
    )
    return report_table(
        _view(shown, REVENUE_VIEW),
        percent=("repeat purchase",),
        decimals={"repeat purchase": 1},
        missing_note=_STATUS_NOTE.replace("no customers at the period start", "no cost entry"),
    )


def _curve_table(curve: pd.DataFrame) -> ReportTable:
    """The average retention curve by age: retention and its interval in percent, revenue
    per acquired customer."""
    view = pd.DataFrame(
        {
            "age": curve["age"],
            "cohorts": curve["cohorts"],
            "customers": curve["customers"],
            "retained": curve["retained"],
            "retention": curve["retention"] * 100,
            "95 % interval": [
                f"{low * 100:.1f} to {high * 100:.1f} %"
                for low, high in zip(curve["low"], curve["high"], strict=True)
            ],
            "revenue per customer": curve["revenue_per_customer"],
            "cumulative revenue per customer": curve["cumulative_revenue_per_customer"],
        }
    )
    return report_table(view, percent=("retention",), decimals={"retention": 1})


def _modes_table(modes: pd.DataFrame) -> ReportTable:
    """Retention "on" and "on or after" by age, in percent: one row per mode."""
    period = PERIOD_WORDS.get(modes.attrs.get("freq", "M"), "period")
    wide = modes.pivot(index="mode", columns="age", values="retention").mul(100)
    labels = [cohort_plots.MODE_LABELS.get(m, m).format(period=period) for m in wide.index]
    wide.index = pd.Index(labels, name="measure")
    wide.columns = [str(age) for age in wide.columns]
    return report_table(
        wide,
        index=True,
        percent=list(wide.columns),
        decimals=1,
        missing_note="no age observed in enough cohorts",
        caption=f"Retention by {period}s since acquisition",
    )


def _no_curve(curve: pd.DataFrame) -> EmptySection:
    besides = " besides the left-censored one" if curve.attrs.get("left_censored") else ""
    return empty_section(
        f"No average curve: no age is observed in {curve.attrs.get('min_cohorts', 1)} or more "
        f"cohorts{besides} (see the caution)."
    )


def curve_section(curve: pd.DataFrame) -> Shown | EmptySection:
    """The average retention curve and its table by age, or why there is none.

    Parameters
    ----------
    curve : DataFrame
        :func:`retention_utils.cohorts.retention_curve` (without segments).
    """
    if curve.empty:
        return _no_curve(curve)
    figure, (ax,) = _figure()
    cohort_plots.plot_retention_curves(curve, ax=ax)
    return Shown([figure, _curve_table(curve)])


def cumulative_revenue_section(curve: pd.DataFrame, *, currency: str = "") -> Shown | EmptySection:
    """Cumulative revenue per acquired customer by age, or why there is no curve."""
    if curve.empty:
        return _no_curve(curve)
    figure, (ax,) = _figure()
    cohort_plots.plot_cumulative_revenue(curve, currency=currency, ax=ax)
    return Shown([figure])


def modes_section(modes: pd.DataFrame) -> Shown | EmptySection:
    """Retention "on" and "on or after" period N: the two curves and their table, or why
    there are none.

    Parameters
    ----------
    modes : DataFrame
        :func:`retention_utils.cohorts.retention_curves_by_mode`.
    """
    if modes.empty:
        return _no_curve(modes)
    figure, (ax,) = _figure()
    cohort_plots.plot_retention_modes(modes, ax=ax)
    return Shown([figure, _modes_table(modes)])


def day_n_table(day_n: pd.DataFrame) -> ReportTable | EmptySection:
    """Day-N retention as counts and percent: per day N, the customers followed that long,
    those buying in days N to N + 6 and those buying on day N or later.

    Parameters
    ----------
    day_n : DataFrame
        :func:`retention_utils.cohorts.day_n_retention`.
    """
    if day_n.empty:
        return empty_section(
            "No customer has been followed for a full week after their first purchase."
        )
    view = pd.DataFrame(
        {
            "day N": day_n["day"],
            "customers followed": day_n["eligible"],
            "bought in days N to N + 6": _count_and_share(
                day_n["bought_in_week"], day_n["in_week_pct"]
            ),
            "bought on day N or later": _count_and_share(day_n["bought_since"], day_n["since_pct"]),
        }
    )
    table = report_table(
        view, caption="Day-N retention (rolling weeks from the first purchase day)"
    )
    return replace(table, kinds=dict.fromkeys(table.kinds, "num"))


def _count_and_share(counts: pd.Series, percent: pd.Series) -> list[str]:
    return [f"{n:,} ({p:.0f} %)" for n, p in zip(counts, percent, strict=True)]


def retention_counts_table(counts: pd.DataFrame, *, max_periods: int = 12) -> ReportTable:
    """Cohort retention as counts and percent (the counts view of Amplitude's chart): one
    row per cohort, its size, then for each age "retained (percent)".

    Parameters
    ----------
    counts : DataFrame
        :func:`retention_utils.cohorts.retention_counts`.
    max_periods : int
        Ages shown (0 .. max_periods - 1).
    """
    seen = counts[(counts["age"] > 0) & (counts["age"] < max_periods)]
    cells = seen.assign(text=_count_and_share(seen["retained"], seen["retention_pct"])).pivot(
        index="cohort", columns="age", values="text"
    )
    sizes = counts.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    view = pd.DataFrame({"cohort": sizes.index, "customers": sizes.to_numpy()})
    for age in cells.columns:
        view[str(age)] = cells[age].reindex(sizes.index).to_numpy()
    censored = set(counts.loc[counts["left_censored"], "cohort"])
    view["cohort"] = [f"{c} (left-censored)" if c in censored else c for c in view["cohort"]]
    table = report_table(
        view,
        missing_note="not observable yet",
        caption="Customers of each cohort buying N periods after acquisition (share of the cohort)",
    )
    # Counts with their share read as numbers: right-aligned, on one line, not wrapped text.
    ages = {str(age) for age in cells.columns}
    return replace(table, kinds={c: "num" if c in ages else k for c, k in table.kinds.items()})


def segment_section(curve: pd.DataFrame, *, age: int) -> Shown | EmptySection:
    """Retention curves by segment and the test of each segment against the largest one at
    ``age``, or the sentence saying why there is no comparison.

    Parameters
    ----------
    curve : DataFrame
        :func:`retention_utils.cohorts.segment_curve`.
    age : int
        Periods since acquisition of the test.
    """
    if curve.attrs.get("reason"):
        return empty_section(curve.attrs["reason"])
    by = curve.attrs.get("segment", "segment")
    figure, (ax,) = _figure()
    cohort_plots.plot_retention_curves(curve, title=f"Retention curve by {by}", ax=ax)
    period = PERIOD_WORDS.get(curve.attrs.get("freq", "M"), "period")
    if not curve["age"].eq(age).any():
        return Shown(
            [
                figure,
                empty_section(
                    f"No cohort has been observed {age} {period}{'' if age == 1 else 's'} after acquisition yet: "
                    "nothing to test."
                ),
            ]
        )
    tests = compare_retention(curve, age=age)
    view = pd.DataFrame(
        {
            by: tests["segment"],
            "customers": tests["customers"],
            "retention": tests["retention"] * 100,
            f"vs {tests['reference'].iloc[0] if len(tests) else 'reference'}": tests[
                "reference_retention"
            ]
            * 100,
            "difference (pp)": tests["difference"] * 100,
            "95 % interval (pp)": [
                f"{low * 100:+.1f} to {high * 100:+.1f}"
                for low, high in zip(tests["low"], tests["high"], strict=True)
            ],
            "p-value": [
                format_p_value(p).removeprefix("p = ").removeprefix("p ") for p in tests["p_value"]
            ],
            "clear difference": ["yes" if s else "no" for s in tests["significant"]],
        }
    )
    skipped = tests.attrs.get("skipped") or []
    plural = "" if age == 1 else "s"
    caption = (
        f"Retention {age} {period}{plural} after acquisition, each segment against the largest"
    )
    table = report_table(
        view,
        percent=("retention", view.columns[3]),
        decimals=1,
        caption=caption,
    )
    parts: list[Any] = [figure, table]
    if skipped:
        parts.append(empty_section(f"Not tested (fewer than 30 customers): {', '.join(skipped)}."))
    return Shown(parts)


def clv_table(clv: dict, *, currency: str = "") -> ReportTable:
    """The inputs of the simple CLV (:func:`retention_utils.kpis.simple_clv_inputs`) as
    figure / value rows, each once, in its unit; a CLV on a partial base (history not
    complete) says it is not a headline figure, as the summary leaves it out."""
    money = f" ({currency})" if currency else ""
    complete = clv["history_complete"]
    # The summary does not headline a CLV whose churn rests on a partial base: say why here.
    partial = "" if complete else " (partial base: not a headline figure)"
    rows = [
        ("window", f"{clv['window_start']:%Y-%m-%d} to {clv['window_end']:%Y-%m-%d} (exclusive)"),
        ("customers with a purchase", f"{clv['customers']:,}"),
        ("orders", f"{clv['orders']:,}"),
        (f"net revenue{money}", f"{clv['revenue']:,.2f}"),
        (f"average order value{money}", f"{clv['aov']:,.2f}"),
        ("orders per customer per year", f"{clv['purchase_frequency']:,.2f}"),
        ("repeat purchase rate", f"{clv['repeat_purchase_rate']:.1f} %"),
        ("customers in the base at the window start", f"{clv['customers_start']:,}"),
        ("of them, churned by the window end", f"{clv['churned']:,}"),
        ("annual churn", _maybe(clv["annual_churn_rate"], "{:.1f} %")),
        ("lifespan (years)", _maybe(clv["lifespan_years"], "{:.2f}")),
        (f"simple CLV{money}", _maybe(clv["clv"], "{:,.2f}" + partial)),
        ("history complete", "yes" if complete else "no (partial base)"),
    ]
    return report_table(pd.DataFrame(rows, columns=["figure", "value"]))


def _maybe(value: float, template: str) -> str:
    return "–" if value is None or pd.isna(value) else template.format(value)


def lifespan_table(lifespans: pd.DataFrame, *, currency: str = "") -> ReportTable:
    """The simple CLV under each lifespan (:func:`retention_utils.survival.lifespan_comparison`)."""
    money = f" ({currency})" if currency else ""
    view = lifespans[["lifespan", "lifespan_years", "clv", "basis"]].rename(
        columns={"lifespan_years": "years", "clv": f"simple CLV{money}"}
    )
    return report_table(view, decimals=2, missing_note="no survival curve")


def survival_segment_section(comparison: SurvivalComparison) -> Shown | EmptySection:
    """Kaplan-Meier curves by segment with the log-rank sentence, or the sentence saying why
    there is no comparison."""
    if comparison.test is None:
        return empty_section(comparison.sentence)
    by = comparison.curves.columns[0]
    figure, (ax,) = _figure()
    survival_plots.plot_survival_curve(
        comparison.curves, by=by, title=f"Time in the base by {by} (Kaplan-Meier)", ax=ax
    )
    return Shown([figure, empty_section(comparison.sentence)])


def mrr_section(
    mrr: pd.DataFrame, *, currency: str = "", min_subscribers: int = MIN_SUBSCRIBERS
) -> Shown | EmptySection:
    """The MRR table, the MRR movements and GRR / NRR, or why there is no MRR.

    Rates of periods starting with fewer than ``min_subscribers`` subscribers are left out of
    the table (a dash) and greyed in the chart.

    Parameters
    ----------
    mrr : DataFrame
        :func:`retention_utils.kpis.mrr_table` (an empty one says why in
        ``attrs["reason"]``).
    """
    if mrr.empty:
        return empty_section(mrr.attrs.get("reason") or "The subscription table has no period.")
    small = mrr["subscribers_start"] < min_subscribers
    shown = mrr.assign(period=_period_text(mrr["period"]))
    shown.loc[small, list(_MRR_RATES)] = float("nan")
    columns = dict(MRR_VIEW)
    if not mrr["reactivation_mrr"].any():
        del columns["reactivation_mrr"]  # no customer came back: a column of zeros
    view = _view(shown, columns)
    rates = ("revenue churn", "GRR", "NRR")
    table = report_table(
        view,
        percent=rates,
        decimals=dict.fromkeys(rates, 1),
        missing_note=f"no rate: an incomplete period, or fewer than {min_subscribers} "
        "subscribers at the period start",
    )
    figure, (flows, retention) = _figure(rows=2, height=4.2)
    cohort_plots.plot_mrr_flows(mrr, currency=currency, ax=flows)
    cohort_plots.plot_revenue_retention(
        mrr, currency=currency, min_subscribers=min_subscribers, ax=retention
    )
    return Shown([table, figure])


def retention_cost_section(kpis: pd.DataFrame, *, currency: str = "") -> Shown | EmptySection:
    """Retention cost per customer over the periods, or why there is none."""
    if "retention_cost_per_customer" not in kpis.columns:
        return empty_section(
            "No retention-cost table was given, so the retention cost per customer is not shown."
        )
    figure, (ax,) = _figure()
    cohort_plots.plot_kpi_trends(
        kpis,
        metrics=["retention_cost_per_customer"],
        currency=currency,
        title="Retention cost per customer",
        ax=ax,
    )
    return Shown([figure])
