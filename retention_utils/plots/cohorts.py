"""Plots of the cohort and KPI analysis: cohort heatmap, retention curves with intervals,
KPI trends, customer flows, revenue and MRR retention. Each takes ``ax`` and returns it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from retention_utils.cohorts import cohort_sizes
from retention_utils.engine import ROLLING_DAYS
from retention_utils.kpis import MIN_SUBSCRIBERS
from retention_utils.plots import COLORS, PERIOD_WORDS, get_ax, note, percent_axis, percent_text

__all__ = [
    "compact_number",
    "plot_cohort_heatmap",
    "plot_cumulative_revenue",
    "plot_customer_flows",
    "plot_kpi_trends",
    "plot_mrr_flows",
    "plot_retention_curves",
    "plot_revenue_retention",
    "plot_revenue_trend",
]

_FREQ_WORDS = {"W": "weeks", "M": "months", "Q": "quarters", "Y": "years"}
_LABELS = {
    "retention_strict": "Retention, strict: retained / S",
    "retention_rate": "Retention rate (E - N) / S",
    "churn_rate": "Churn rate",
    "return_rate": "Return rate",
    "repeat_purchase_rate": "Repeat purchase rate",
    "revenue": "Revenue (net)",
    "orders": "Orders",
    "aov": "Average order value",
    "purchase_frequency": "Purchase frequency (orders per active customer)",
    "retention_cost_per_customer": "Retention cost per customer",
    "grr": "Gross revenue retention (GRR)",
    "nrr": "Net revenue retention (NRR)",
    "revenue_churn": "Revenue churn",
}
_PERCENT = {
    "retention_strict",
    "retention_rate",
    "churn_rate",
    "return_rate",
    "repeat_purchase_rate",
    "grr",
    "nrr",
    "revenue_churn",
}
_FLOW_COLORS = {
    "new": COLORS["positive"],
    "reactivated": "#56b4e9",
    "churned": COLORS["negative"],
    "expansion": "#56b4e9",
    "contraction": "#ece133",
}


def _period_ticks(ax: plt.Axes, periods, freq: str | None = None, max_ticks: int = 14) -> None:
    """Categorical x axis labelled with periods (every n-th label when there are many)."""
    labels = [p.start_time.strftime("%Y-%m-%d") if freq == "W" else str(p) for p in list(periods)]
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.6, len(labels) - 0.4)


def _freq_of(frame: pd.DataFrame) -> str | None:
    freq = frame.attrs.get("freq")
    if freq is None and "period" in frame and len(frame):
        first = frame["period"].iloc[0]
        freq = getattr(first, "freqstr", "M")[:1]
    return freq


def _money_label(text: str, currency: str) -> str:
    return f"{text} ({currency})" if currency else text


#: What a revenue heatmap's cells hold, by ``attrs["per"]`` of its matrix.
_REVENUE_TITLES = {
    None: "Net revenue",
    "acquired": "Net revenue per acquired customer",
    "active": "Revenue per active customer (ARPA)",
}


def compact_number(value: float) -> str:
    """A number short enough for a heatmap cell: "1.2M", "12k", "1,234", "12", "1.2";
    "" for a missing value."""
    if not np.isfinite(value):
        return ""
    size = abs(round(value, 1))
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}" if size >= 10 else f"{value:.1f}"


def plot_cohort_heatmap(
    matrix: pd.DataFrame,
    *,
    sizes: pd.Series | None = None,
    segment=None,
    max_periods: int = 24,
    max_cohorts: int = 36,
    title: str | None = None,
    annotate: bool | None = None,
    currency: str = "",
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Cohort heatmap: one row per acquisition cohort (with its size), one column per period
    since acquisition; cells not yet observable stay blank. A left-censored cohort (the first
    period of data, ``matrix.attrs["left_censored"]``) is hatched and labelled. Revenue
    matrices (:func:`retention_utils.cohorts.revenue_matrix`) are labelled in ``currency``,
    with compact cell values ("12k").

    Parameters
    ----------
    matrix : DataFrame
        Output of :func:`retention_utils.cohorts.cohort_matrix`. Retention matrices
        (``normalize=True``) are labelled in percent; other matrices with their values.
    sizes : Series, optional
        Cohort sizes shown next to the row labels; default the matrix's own
        (:func:`retention_utils.cohorts.cohort_sizes`).
    segment : optional
        For a matrix split by segment, the segment to draw (required then).
    max_periods : int, default 24
        Columns shown (ages 0 .. max_periods - 1).
    max_cohorts : int, default 36
        Rows shown: the most recent cohorts.
    title : str, optional
    annotate : bool, optional
        Write the value in each cell (default: when the grid is small enough to read).
    currency : str
        Currency of a revenue matrix, for the colour bar.
    ax : matplotlib Axes, optional
    **kwargs
        Passed to :func:`seaborn.heatmap` (e.g. ``cmap``).

    Returns
    -------
    matplotlib Axes
    """
    attrs = dict(matrix.attrs)
    if sizes is None and attrs.get("cohort_size"):
        sizes = cohort_sizes(matrix)
    if isinstance(matrix.index, pd.MultiIndex):
        if segment is None:
            raise ValueError(
                "This matrix is split by segment; pass segment=<value> to draw one segment "
                f"(segments: {', '.join(map(str, matrix.index.unique(0)))})."
            )
        matrix = matrix.xs(segment, level=0)
        if sizes is not None and isinstance(sizes.index, pd.MultiIndex):
            sizes = sizes.xs(segment, level=0)
    shown = matrix.iloc[-max_cohorts:, :max_periods]
    percent = attrs.get("normalize") == "first"
    money = attrs.get("metric") == "revenue" and not percent
    freq = attrs.get("freq") or (getattr(shown.index, "freqstr", "M") or "M")[:1]
    if ax is None:
        width = min(16.0, 2.5 + 0.5 * shown.shape[1])
        height = min(14.0, max(3.0, 1.5 + 0.32 * shown.shape[0]))
        ax = get_ax(None, figsize=(width, height))
    if shown.empty:
        ax.text(0.5, 0.5, "No observable cohort", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    labels = [
        c.start_time.strftime("%Y-%m-%d") if freq == "W" and hasattr(c, "start_time") else str(c)
        for c in shown.index
    ]
    if sizes is not None:
        n = sizes.reindex(shown.index)
        labels = [
            f"{lab}  (n={int(v):,})" if pd.notna(v) else lab
            for lab, v in zip(labels, n, strict=True)
        ]
    censored = [i for i, c in enumerate(shown.index) if str(c) in attrs.get("left_censored", [])]
    labels = [f"{lab}  left-censored" if i in censored else lab for i, lab in enumerate(labels)]
    if annotate is None:
        annotate = shown.size <= 700
    values = shown.to_numpy(dtype=float)
    later = values[:, 1:] if percent and values.shape[1] > 1 else values
    finite = later[np.isfinite(later)]
    vmax = float(np.nanpercentile(finite, 99)) if finite.size else 1.0
    options = {
        "cmap": "YlGnBu",
        "vmin": 0 if (finite.size == 0 or finite.min() >= 0) else None,
        "vmax": vmax if vmax > 0 else None,
        "annot": annotate,
        "fmt": ".0f" if percent else (".0f" if np.nanmax(np.abs(values)) >= 100 else ".1f"),
        "annot_kws": {"fontsize": 7 if shown.shape[1] > 14 else 8},
        "linewidths": 0.4,
        "linecolor": "white",
        "cbar_kws": {"label": "% of cohort" if percent else "value", "shrink": 0.8},
    }
    if percent:
        options["cbar_kws"]["format"] = plt.FuncFormatter(lambda v, _: percent_text(v * 100))
        if annotate:
            options |= {"annot": np.vectorize(percent_text)(values * 100), "fmt": ""}
    if money:
        options["cbar_kws"]["label"] = currency or "value"  # the title says what it is
        options["cbar_kws"]["format"] = StrMethodFormatter("{x:,.0f}")
        if annotate:
            options |= {"annot": np.vectorize(compact_number)(values), "fmt": ""}
    options.update(kwargs)
    sns.heatmap(
        pd.DataFrame(values, index=labels, columns=shown.columns),
        ax=ax,
        mask=~np.isfinite(values),
        **options,
    )
    for row in censored:
        ax.add_patch(
            Rectangle((0, row), shown.shape[1], 1, fill=False, hatch="///", lw=0, ec="#555555")
        )
    words = _FREQ_WORDS.get(freq, "periods")
    xlabel = f"{words.capitalize()} since acquisition (0 = acquisition {PERIOD_WORDS.get(freq, 'period')})"
    ax.set_ylabel("Acquisition cohort (customers acquired)")
    ax.tick_params(axis="y", labelsize=8)
    if title is None:
        metric = attrs.get("metric", "customers")
        title = (
            "Retention by acquisition cohort (% of the cohort buying)"
            if percent and metric == "customers"
            else f"{_REVENUE_TITLES[attrs.get('per')]}, by acquisition cohort"
            if money
            else f"Cohort {metric}"
        )
    ax.set_title(title)
    total = int(sizes.reindex(shown.index).sum()) if sizes is not None else None
    hidden = len(matrix) - len(shown)
    text = "blank = not yet observable"
    if total is not None:
        text = f"{total:,} customers in the cohorts shown; " + text
    if hidden > 0:
        text += f"; {hidden} older cohorts not shown"
    if censored:
        text += "\nhatched: left-censored cohort: it also holds customers who bought before the data begin"
    ax.set_xlabel(f"{xlabel}\n{text}")
    ax.grid(False)
    return ax


def _curve_note(curve: pd.DataFrame, text: str) -> str:
    """``text`` and what :func:`retention_utils.cohorts.retention_curve` left out."""
    if curve.attrs.get("left_censored"):
        text += f"; cohort {', '.join(curve.attrs['left_censored'])} left out (left-censored)"
    if curve.attrs.get("min_cohorts", 1) > 1:
        text += f"; ages seen in {curve.attrs['min_cohorts']}+ cohorts"
    return text


def _no_curve(ax: plt.Axes, curve: pd.DataFrame) -> plt.Axes:
    """An empty curve's axes: the reason instead of lines."""
    ax.text(
        0.5,
        0.5,
        f"No age is observed in {curve.attrs.get('min_cohorts', 1)} or more cohorts",
        ha="center",
        va="center",
        transform=ax.transAxes,
    )
    ax.set_axis_off()
    return ax


def _segments_of(
    curve: pd.DataFrame, max_segments: int, min_customers: int = 0
) -> tuple[list, int]:
    """The largest segments (at most ``max_segments``, each with ``min_customers`` acquired
    customers or more) and how many others are not drawn."""
    if "segment" not in curve.columns:
        return [None], 0
    size = curve[curve["age"] == 0].set_index("segment")["customers"].sort_values(ascending=False)
    keep = list(size[size >= min_customers].index[:max_segments])
    return keep, len(size) - len(keep)


def _segment_lines(
    curve: pd.DataFrame, max_segments: int, min_customers: int, max_age: int | None
) -> tuple[list[tuple[object, pd.DataFrame, str]], int]:
    """The lines of a chart by segment: (colour, rows up to ``max_age``, legend label with
    the customers acquired) of the largest segments (:func:`_segments_of`), or of all
    customers in the report's colour; and how many smaller segments are not drawn."""
    segments, hidden = _segments_of(curve, max_segments, min_customers)
    palette = sns.color_palette("colorblind", max(len(segments), 1))
    lines = []
    for color, seg in zip(palette, segments, strict=False):
        part = curve if seg is None else curve[curve["segment"] == seg]
        if max_age is not None:
            part = part[part["age"] <= max_age]
        if part.empty:
            continue
        n0 = int(part.loc[part["age"] == 0, "customers"].sum())
        name = "all customers" if seg is None else seg
        lines.append((COLORS["actual"] if seg is None else color, part, f"{name} (n={n0:,})"))
    return lines, hidden


def _draw_retention(ax: plt.Axes, part: pd.DataFrame, color, label: str, ci: bool, **kwargs):
    """One retention curve (percent by age) with its interval band."""
    ax.plot(
        part["age"],
        part["retention"] * 100,
        marker="o",
        markersize=3,
        color=color,
        label=label,
        **kwargs,
    )
    if ci:
        ax.fill_between(
            part["age"], part["low"] * 100, part["high"] * 100, color=color, alpha=0.18, linewidth=0
        )


def plot_retention_curves(
    curve: pd.DataFrame,
    *,
    max_segments: int = 8,
    ci: bool = True,
    min_customers: int = 30,
    max_age: int | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Weighted average retention by periods since acquisition, one line per segment, with
    the Wilson interval as a band.

    Parameters
    ----------
    curve : DataFrame
        Output of :func:`retention_utils.cohorts.retention_curve` (with or without
        ``segment``).
    max_segments : int, default 8
        Largest segments drawn (by customers acquired).
    min_customers : int, default 30
        Segments with fewer acquired customers are not drawn (too noisy to read).
    ci : bool, default True
        Draw the interval bands.
    max_age : int, optional
        Last age drawn.
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    if curve.empty:
        return _no_curve(ax, curve)
    freq = curve.attrs.get("freq", "M")
    lines, hidden = _segment_lines(curve, max_segments, min_customers, max_age)
    for color, part, label in lines:
        _draw_retention(ax, part, color, label, ci, **kwargs)
    percent_axis(ax)
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"{_FREQ_WORDS.get(freq, 'periods').capitalize()} since acquisition")
    ax.set_ylabel("Customers buying (% of cohort)")
    ax.set_title(title or "Retention curve (cohort-size-weighted average)")
    ax.legend(loc="upper right", fontsize=8, frameon=True)
    text = _curve_note(curve, "bands: 95 % Wilson intervals")
    if hidden:
        text += f"; {hidden} smaller segments not shown"
    note(ax, text, loc="lower left")
    return ax


#: Legend words of the retention modes, as Amplitude and Mixpanel name them.
MODE_LABELS = {"on": "return on {period} N", "on_or_after": "return on or after {period} N"}


def plot_retention_modes(
    curves: pd.DataFrame,
    *,
    ci: bool = True,
    max_age: int | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """The average retention curve in both modes on one axes: "on" period N and "on or
    after" period N (unbounded), with Wilson bands and the customers behind each age.

    Parameters
    ----------
    curves : DataFrame
        :func:`retention_utils.cohorts.retention_curves_by_mode` output.
    ci : bool, default True
        Draw the 95 % interval bands.
    max_age, title, ax, **kwargs
        As in :func:`plot_retention_curves`.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    if curves.empty:
        return _no_curve(ax, curves)
    freq = curves.attrs.get("freq", "M")
    period = PERIOD_WORDS.get(freq, "period")
    colors = {"on": COLORS["actual"], "on_or_after": COLORS["predicted"]}
    for mode, part in curves.groupby("mode", sort=False):
        if max_age is not None:
            part = part[part["age"] <= max_age]
        n0 = int(part.loc[part["age"] == 0, "customers"].sum())
        label = MODE_LABELS.get(mode, mode).format(period=period) + f" (n={n0:,})"
        _draw_retention(ax, part, colors.get(mode), label, ci, **kwargs)
    percent_axis(ax)
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    window = curves.attrs.get("window", "calendar")
    unit = (
        f"rolling {ROLLING_DAYS.get(freq)}-day {period}s"
        if window == "rolling"
        else f"calendar {period}s"
    )
    ax.set_xlabel(f"{_FREQ_WORDS.get(freq, 'periods').capitalize()} since acquisition ({unit})")
    ax.set_ylabel("Customers retained (% of eligible)")
    ax.set_title(title or "Retention: on period N vs on or after period N")
    ax.legend(loc="upper right", fontsize=8, frameon=True)
    note(ax, _curve_note(curves, "bands: 95 % Wilson intervals"), loc="lower left")
    return ax


def plot_cumulative_revenue(
    curve: pd.DataFrame,
    *,
    currency: str = "",
    max_segments: int = 8,
    min_customers: int = 30,
    max_age: int | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Cumulative net revenue per acquired customer by periods since acquisition.

    Parameters
    ----------
    curve : DataFrame
        Output of :func:`retention_utils.cohorts.retention_curve`.
    currency : str
        Currency code for the axis label.
    max_segments, min_customers, max_age, title, ax, **kwargs
        As in :func:`plot_retention_curves`.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    if curve.empty:
        return _no_curve(ax, curve)
    freq = curve.attrs.get("freq", "M")
    lines, hidden = _segment_lines(curve, max_segments, min_customers, max_age)
    for color, part, label in lines:
        ax.plot(
            part["age"],
            part["cumulative_revenue_per_customer"],
            marker="o",
            markersize=3,
            color=color,
            label=label,
            **kwargs,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(f"{_FREQ_WORDS.get(freq, 'periods').capitalize()} since acquisition")
    ax.set_ylabel(_money_label("Cumulative revenue per acquired customer", currency))
    ax.set_title(title or "Cumulative revenue per acquired customer")
    ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    ax.legend(loc="upper left", fontsize=8)
    text = _curve_note(curve, "average weighted by cohort size, over cohorts observed that long")
    if hidden:
        text += f"; {hidden} smaller segments not shown"
    # Under the axis, not inside it: the note is wider than the axes and would cross the
    # y label and the curve.
    ax.set_xlabel("\n".join([ax.get_xlabel(), *text.split("; ", 1)]), fontsize=9)
    return ax


def plot_kpi_trends(
    kpis: pd.DataFrame,
    *,
    metrics: tuple[str, ...] | list[str] = (
        "retention_strict",
        "retention_rate",
        "churn_rate",
        "return_rate",
    ),
    currency: str = "",
    ylabel: str | None = None,
    title: str | None = None,
    bands: bool = True,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """KPI columns of :func:`retention_utils.kpis.kpi_table` over the periods.

    Periods whose starting base is not fully observed (``warm_up``) are shaded; rates of an
    incomplete last period are NaN and therefore not drawn. Where the table holds
    ``<metric>_low`` / ``<metric>_high`` columns (churn and return rates: Wilson intervals)
    they are drawn as bands.

    Parameters
    ----------
    kpis : DataFrame
        Output of :func:`retention_utils.kpis.kpi_table`.
    metrics : sequence of str
        Columns to draw; all in percent or all in the same unit.
    currency : str
        Currency code for money metrics.
    ylabel, title : str, optional
    bands : bool, default True
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib Axes
    """
    missing = [m for m in metrics if m not in kpis.columns]
    if missing:
        raise ValueError(f"Column(s) {', '.join(missing)} not in the KPI table.")
    ax = get_ax(ax)
    freq = _freq_of(kpis)
    x = np.arange(len(kpis))
    for metric in metrics:
        (line,) = ax.plot(
            x,
            kpis[metric].astype(float),
            marker="o",
            markersize=3,
            label=_LABELS.get(metric, metric),
            **kwargs,
        )
        low, high = f"{metric}_low", f"{metric}_high"
        if bands and low in kpis.columns and high in kpis.columns:
            ax.fill_between(
                x,
                kpis[low].astype(float),
                kpis[high].astype(float),
                color=line.get_color(),
                alpha=0.15,
                linewidth=0,
            )
    if "warm_up" in kpis.columns and kpis["warm_up"].any():
        last = int(np.flatnonzero(kpis["warm_up"].to_numpy())[-1])
        ax.axvspan(
            -0.5,
            last + 0.5,
            color=COLORS["baseline"],
            alpha=0.12,
            linewidth=0,
            label="warm-up: history shorter than active_days",
        )
    _period_ticks(ax, kpis["period"], freq)
    if all(m in _PERCENT for m in metrics):
        percent_axis(ax)
        ax.set_ylabel(ylabel or "% of customers at the period start")
    else:
        money = {"revenue", "aov", "retention_cost_per_customer"}
        label = ylabel or ", ".join(_LABELS.get(m, m) for m in metrics)
        ax.set_ylabel(_money_label(label, currency) if set(metrics) <= money else label)
    xlabel = f"Period ({PERIOD_WORDS.get(freq, 'period')})"
    of_base = {"retention_strict", "retention_rate", "churn_rate", "return_rate"}
    if "customers_start" in kpis.columns and set(metrics) <= of_base:
        complete = kpis[~kpis["incomplete"]] if "incomplete" in kpis.columns else kpis
        if len(complete):
            start = int(complete["customers_start"].iloc[-1])
            xlabel += f"\ncustomers in the base at the start of the last complete period: {start:,}"
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Retention KPIs per period")
    ax.legend(loc="best", fontsize=8)
    return ax


def _flow_bars(
    ax: plt.Axes, frame: pd.DataFrame, above: dict[str, str], below: dict[str, str], **kwargs
) -> None:
    """Flows per period as bars stacked up from zero (``above``: legend name -> column) and
    down from it (``below``), each in its :data:`_FLOW_COLORS` colour, on period ticks."""
    x = np.arange(len(frame))
    for sign, flows in ((1, above), (-1, below)):
        bottom = np.zeros(len(frame))
        for name, column in flows.items():
            values = sign * frame[column].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=_FLOW_COLORS[name], label=name, **kwargs)
            bottom = bottom + values
    ax.axhline(0, color="#333333", linewidth=0.8)
    freq = _freq_of(frame)
    _period_ticks(ax, frame["period"], freq)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(f"Period ({PERIOD_WORDS.get(freq, 'period')})")


def plot_customer_flows(
    kpis: pd.DataFrame, *, title: str | None = None, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Customers entering (new, reactivated) and leaving (churned) the base per period.

    Parameters
    ----------
    kpis : DataFrame
        Output of :func:`retention_utils.kpis.kpi_table`.
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    _flow_bars(
        ax,
        kpis,
        {"new": "new_customers", "reactivated": "reactivated"},
        {"churned": "churned"},
        **kwargs,
    )
    if "incomplete" in kpis.columns and kpis["incomplete"].any():
        for i in np.flatnonzero(kpis["incomplete"].to_numpy()):
            ax.axvspan(i - 0.5, i + 0.5, color=COLORS["baseline"], alpha=0.2, linewidth=0)
        note(ax, "grey: incomplete period (observed part)", loc="lower left")
    ax.set_ylabel("Customers (churned below 0)")
    ax.set_title(title or "Customers entering and leaving the active base")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_revenue_trend(
    kpis: pd.DataFrame,
    *,
    currency: str = "",
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Net revenue per period as bars; an incomplete last period is hatched.

    Parameters
    ----------
    kpis : DataFrame
        Output of :func:`retention_utils.kpis.kpi_table`.
    currency : str
        Currency code for the axis label.
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    freq = _freq_of(kpis)
    x = np.arange(len(kpis))
    bars = ax.bar(x, kpis["revenue"].astype(float), color=COLORS["actual"], **kwargs)
    handles = []
    if "incomplete" in kpis.columns and kpis["incomplete"].any():
        for i in np.flatnonzero(kpis["incomplete"].to_numpy()):
            bars[i].set_alpha(0.45)
            bars[i].set_hatch("//")
        handles.append(
            Patch(facecolor=COLORS["actual"], alpha=0.45, hatch="//", label="incomplete period")
        )
    _period_ticks(ax, kpis["period"], freq)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_ylabel(_money_label("Net revenue", currency))
    total = f"{kpis['revenue'].sum():,.0f} {currency}".strip()
    ax.set_xlabel(
        f"Period ({PERIOD_WORDS.get(freq, 'period')})\ntotal over the periods shown: {total}"
    )
    ax.set_title(title or "Net revenue per period")
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8)
    return ax


def plot_revenue_retention(
    mrr: pd.DataFrame,
    *,
    min_subscribers: int = MIN_SUBSCRIBERS,
    currency: str = "",
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Gross and net revenue retention per period, with the 100 % line.

    Rates of periods that start with fewer than ``min_subscribers`` subscribers are drawn
    as grey hollow points, apart from the lines, and the note under the axis says the base
    they rest on: on a handful of subscriptions one cancellation moves them by ten points.
    The legend sits right of the axes, off the data.

    Parameters
    ----------
    mrr : DataFrame
        Output of :func:`retention_utils.kpis.mrr_table`.
    min_subscribers : int, default 30
        Fewest subscribers at a period start for its rates to be drawn as read.
    currency : str
        Currency of the MRR base quoted in the note.
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    freq = _freq_of(mrr)
    x = np.arange(len(mrr))
    small = mrr["subscribers_start"].to_numpy(dtype=float) < min_subscribers
    for column, color in (("nrr", COLORS["positive"]), ("grr", COLORS["actual"])):
        values = mrr[column].to_numpy(dtype=float)
        ax.plot(
            x,
            np.where(small, np.nan, values),
            marker="o",
            markersize=3,
            label=_LABELS[column],
            color=color,
            **kwargs,
        )
        ax.plot(
            x[small],
            values[small],
            linestyle="none",
            marker="o",
            markersize=4,
            markerfacecolor="none",
            color=COLORS["baseline"],
        )
    ax.axhline(100, color=COLORS["baseline"], linestyle="--", linewidth=1)
    ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
    percent_axis(ax)
    _period_ticks(ax, mrr["period"], freq)
    ax.set_ylabel("% of MRR at the period start")
    lines = [f"Period ({PERIOD_WORDS.get(freq, 'period')})"]
    shown = mrr[mrr["nrr"].notna() & ~small]
    if len(shown):
        start = f"{shown['mrr_start'].iloc[-1]:,.0f} {currency}".strip()
        lines.append(f"MRR at the start of the last period drawn: {start}")
    greyed = mrr[mrr["nrr"].notna() & small]
    if len(greyed):
        base = f"{greyed['mrr_start'].max():,.0f} {currency}".strip()
        lines.append(
            f"grey hollow points: fewer than {min_subscribers} subscribers at the period start "
            f"(MRR base at most {base}), too few for a stable rate"
        )
    ax.set_xlabel("\n".join(lines))
    ax.set_title(title or "Revenue retention of existing subscribers")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


def plot_mrr_flows(
    mrr: pd.DataFrame,
    *,
    currency: str = "",
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """MRR movements per period: new and expansion above zero, contraction and churn below.

    Parameters
    ----------
    mrr : DataFrame
        Output of :func:`retention_utils.kpis.mrr_table`.
    currency : str
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    _flow_bars(
        ax,
        mrr,
        {"new": "new_mrr", "expansion": "expansion_mrr"},
        {"contraction": "contraction_mrr", "churned": "churned_mrr"},
        **kwargs,
    )
    ax.set_ylabel(_money_label("MRR change per period", currency))
    ax.set_title(title or "MRR movements")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    return ax
