"""Plots of the CLV report: model checks, tracking, heatmaps, segments.

Replacements for lifetimes' plotting module, which draws on pyplot's global state and is
partly broken on matplotlib >= 3.8. Each function takes the small frame computed by
:mod:`retention_utils.clv` and an optional ``ax``, and returns the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from retention_utils.plots import COLORS, get_ax, note
from retention_utils.report.tables import ReportTable, report_table

_UNIT_NAMES = {1.0: "days", 7.0: "weeks"}


@dataclass(frozen=True)
class Note:
    """One sentence shown in a report where a table or chart has nothing to show."""

    text: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def table_or_note(
    table: pd.DataFrame,
    decimals: int | Mapping[str, int] = 2,
    *,
    columns: Sequence[str] | None = None,
) -> ReportTable | Note:
    """The table to read (:func:`retention_utils.report.report_table`, its index, e.g. the
    customer ID, as the first column), or, when it is empty, the sentence of its
    ``attrs["note"]`` saying why (e.g. :func:`retention_utils.clv.at_risk_customers`)."""
    if table.empty:
        return Note(table.attrs.get("note") or "There is nothing to show.")
    shown = table if columns is None else table[list(columns)]
    return report_table(shown, decimals=decimals, index=True)


def _unit_name(unit_days) -> str:
    if unit_days is None:
        return "time units"
    return _UNIT_NAMES.get(float(unit_days), f"units of {float(unit_days):g} days")


def plot_period_transactions(
    table: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Customers by number of repeat purchases: actual vs expected by the model.

    Parameters
    ----------
    table : DataFrame
        :func:`retention_utils.clv.period_transactions` output.
    """
    ax = get_ax(ax)
    x = np.arange(len(table))
    width = 0.4
    ax.bar(x - width / 2, table["actual"], width, label="actual", color=COLORS["actual"], **kwargs)
    ax.bar(
        x + width / 2,
        table["expected"],
        width,
        label=f"expected ({table.attrs.get('model', 'BG/NBD')})",
        color=COLORS["predicted"],
        **kwargs,
    )
    ax.set_xticks(x, table["frequency"].astype(str))
    ax.set_xlabel("Repeat purchases in the period (frequency)")
    ax.set_ylabel("Customers")
    ax.set_title("Repeat purchases per customer: actual vs model")
    ax.legend()
    note(ax, f"n = {int(table['actual'].sum()):,} customers", loc="upper right")
    return ax


def plot_holdout_by_frequency(
    by_frequency: pd.DataFrame,
    *,
    duration: float | None = None,
    unit_days: float | None = None,
    naive: bool = True,
    model: str = "BG/NBD",
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Mean holdout purchases by calibration frequency: actual (95 % CI), model, naive.

    Parameters
    ----------
    by_frequency : DataFrame
        ``HoldoutValidation.by_frequency`` (:func:`retention_utils.clv.validate_holdout`).
    duration, unit_days : float, optional
        Holdout length and days per unit, for the axis label.
    naive : bool
        Also draw the naive baseline (calibration rate times holdout length).
    model : str
        Name of the model in the legend (``HoldoutValidation.model``).
    """
    ax = get_ax(ax)
    x = np.arange(len(by_frequency))
    ax.fill_between(
        x,
        by_frequency["actual_low"],
        by_frequency["actual_high"],
        color=COLORS["actual"],
        alpha=0.15,
        label="actual, 95 % CI",
    )
    ax.plot(x, by_frequency["actual"], "o-", color=COLORS["actual"], label="actual", **kwargs)
    ax.plot(
        x,
        by_frequency["predicted"],
        "s--",
        color=COLORS["predicted"],
        label=f"predicted ({model})",
        **kwargs,
    )
    if naive:
        ax.plot(
            x,
            by_frequency["naive"],
            ":",
            color=COLORS["baseline"],
            label="naive (calibration rate)",
            **kwargs,
        )
    ax.set_xticks(
        x,
        [
            f"{f}\nn={n:,}"
            for f, n in zip(by_frequency["frequency_cal"], by_frequency["customers"], strict=True)
        ],
    )
    ax.set_xlabel("Repeat purchases in the calibration period")
    if duration is None:
        length = ""
    elif unit_days is not None:
        length = f" ({float(duration) * float(unit_days):.0f} days)"
    else:
        length = f" ({float(duration):.3g} time units)"
    ax.set_ylabel(f"Mean purchases in the holdout{length}")
    ax.set_title("Holdout purchases by calibration frequency")
    ax.legend(loc="upper left")
    return ax


def plot_model_comparison(
    comparison: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Mean holdout purchases by calibration frequency: actual, and one line per model.

    Parameters
    ----------
    comparison : DataFrame
        :func:`retention_utils.clv.compare_models` output (its ``attrs["by_frequency"]``;
        the chosen model is drawn thicker).
    """
    ax = get_ax(ax)
    table = comparison.attrs["by_frequency"]
    labels = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}
    x = np.arange(len(table))
    ax.plot(x, table["actual"], "o-", color=COLORS["actual"], label="actual", **kwargs)
    styles = ("s--", "^-.", "D:")
    for style, model in zip(styles, [m for m in comparison["model"] if m in table], strict=False):
        chosen = model == comparison.attrs["chosen"]
        ax.plot(
            x,
            table[model],
            style,
            linewidth=2.4 if chosen else 1.2,
            label=labels.get(model, model) + (" (chosen)" if chosen else ""),
            **kwargs,
        )
    ax.set_xticks(
        x,
        [f"{f}\nn={n:,}" for f, n in zip(table["frequency_cal"], table["customers"], strict=True)],
    )
    ax.set_xlabel("Repeat purchases in the calibration period")
    duration, unit_days = comparison.attrs.get("duration"), comparison.attrs.get("unit_days")
    length = f" ({duration * unit_days:.0f} days)" if duration and unit_days else ""
    ax.set_ylabel(f"Mean purchases in the holdout{length}")
    ax.set_title("Holdout purchases by calibration frequency: the three models")
    ax.legend(loc="upper left")
    return ax


def plot_tracking(
    tracking: pd.DataFrame,
    *,
    cumulative: bool = True,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Repeat purchases over calendar time, actual vs expected, calibration end marked.

    Parameters
    ----------
    tracking : DataFrame
        :func:`retention_utils.clv.repeat_purchase_tracking` output.
    cumulative : bool
        Cumulative totals (True) or purchases per period (False).
    """
    ax = get_ax(ax)
    actual, expected = (
        ("actual_cumulative", "expected_cumulative") if cumulative else ("actual", "expected")
    )
    if not cumulative and "complete" in tracking.columns:
        # a period cut short by the observation end would look like a collapse
        tracking = tracking[tracking["complete"]]
    ax.plot(tracking.index, tracking[actual], color=COLORS["actual"], label="actual", **kwargs)
    ax.plot(
        tracking.index,
        tracking[expected],
        "--",
        color=COLORS["predicted"],
        label=f"expected ({tracking.attrs.get('model', 'BG/NBD')})",
        **kwargs,
    )
    calibration_end = tracking.attrs.get("calibration_end")
    if calibration_end is not None:
        calibration_end = pd.Timestamp(calibration_end)
        ax.axvline(calibration_end, color=COLORS["baseline"], linestyle=":", linewidth=1.2)
        # above the plotting area, where it covers no data
        ax.annotate(
            "end of calibration",
            (calibration_end, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#555555",
            annotation_clip=False,
        )
    period = {"W": "week", "D": "day", "M": "month"}.get(
        tracking.attrs.get("period", "W"), "period"
    )
    ax.set_xlabel("Date")
    ax.set_ylabel("Cumulative repeat purchases" if cumulative else f"Repeat purchases per {period}")
    ax.set_title(
        "Cumulative repeat purchases: actual vs model"
        if cumulative
        else f"Repeat purchases per {period}: actual vs model",
        pad=16,
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    # beside the plotting area, so it never hides a peak
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax


def plot_tracking_panels(tracking: pd.DataFrame) -> Figure:
    """Cumulative repeat purchases above, purchases per period below (shared dates)."""
    fig = Figure(figsize=(10, 8), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    plot_tracking(tracking, cumulative=True, ax=top)
    plot_tracking(tracking, cumulative=False, ax=bottom)
    return fig


def plot_activity_heatmaps(
    alive: pd.DataFrame,
    expected: pd.DataFrame,
    *,
    unit_days: float | None = None,
    show_alive: bool = True,
) -> Figure:
    """P(alive) and expected purchases by frequency and recency, side by side; expected
    purchases alone when ``show_alive`` is False (a model that does not identify dropout
    shows P(alive) = 1 everywhere).

    Parameters
    ----------
    alive, expected : DataFrame
        :func:`retention_utils.clv.frequency_recency_grid` with ``metric="p_alive"`` and
        ``metric="expected_purchases"``.
    unit_days : float, optional
        Days per model unit, for the axis labels.
    show_alive : bool
        Draw the P(alive) heatmap (:func:`retention_utils.clv.dropout_identified`).
    """
    grids = [alive, expected] if show_alive else [expected]
    fig = Figure(figsize=(6.5 * len(grids), 4.8), layout="constrained")
    for grid, ax in zip(grids, np.atleast_1d(fig.subplots(1, len(grids))), strict=True):
        plot_frequency_recency_heatmap(grid, unit_days=unit_days, ax=ax)
    return fig


def plot_frequency_recency_heatmap(
    grid: pd.DataFrame,
    *,
    unit_days: float | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Heatmap of P(alive) or expected purchases by frequency and recency.

    Parameters
    ----------
    grid : DataFrame
        :func:`retention_utils.clv.frequency_recency_grid` output.
    unit_days : float, optional
        Days per model unit, for the axis labels.
    """
    ax = get_ax(ax)
    metric = grid.attrs.get("metric", "p_alive")
    unit = _unit_name(unit_days)
    options = {"cmap": "viridis", "aspect": "auto", "origin": "lower"}
    options.update(kwargs)
    if metric == "p_alive":
        options.setdefault("vmin", 0.0)
        options.setdefault("vmax", 1.0)
    freq = grid.columns.to_numpy(dtype=float)
    rec = grid.index.to_numpy(dtype=float)
    image = ax.imshow(
        grid.to_numpy(),
        extent=(freq[0] - 0.5, freq[-1] + 0.5, rec[0], rec[-1]),
        **options,
    )
    ax.grid(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    colorbar = ax.figure.colorbar(image, ax=ax)
    if metric == "p_alive":
        colorbar.set_label("P(alive)")
        ax.set_title("Probability that a customer is still active")
    else:
        horizon = grid.attrs.get("horizon")
        if horizon is None:
            span = ""
        elif unit_days is not None:
            span = f" in the next {float(horizon) * float(unit_days):.0f} days"
        else:
            span = f" in the next {float(horizon):.3g} {unit}"
        colorbar.set_label("Expected purchases")
        ax.set_title(f"Expected purchases{span}")
    age = grid.attrs.get("T", rec[-1])
    ax.set_xlabel(f"Repeat purchases (frequency), for a customer aged {age:,.1f} {unit}")
    ax.set_ylabel(f"Recency: age at last purchase ({unit})")
    return ax


def plot_segments(summary: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """Share of customers and share of predicted CLV per value segment.

    Parameters
    ----------
    summary : DataFrame
        :func:`retention_utils.clv.segment_summary` output.
    """
    ax = get_ax(ax)
    y = np.arange(len(summary))
    height = 0.4
    ax.barh(
        y - height / 2,
        summary["share_pct"],
        height,
        color=COLORS["actual"],
        label="customers",
        **kwargs,
    )
    ax.barh(
        y + height / 2,
        summary["clv_share_pct"],
        height,
        color=COLORS["predicted"],
        label="predicted CLV",
        **kwargs,
    )
    ax.set_yticks(
        y, [f"{s} (n={n:,})" for s, n in zip(summary.index, summary["customers"], strict=True)]
    )
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f} %"))
    ax.set_xlabel("Share of the total (%)")
    ax.set_ylabel("Value segment")
    ax.set_title("Value segments: customers vs predicted value")
    ax.legend(loc="lower right")
    return ax


def plot_clv_distribution(
    customers: pd.DataFrame,
    *,
    currency: str = "",
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Concentration of predicted CLV: share of total CLV held by the top x % of customers.

    Parameters
    ----------
    customers : DataFrame
        :func:`retention_utils.clv.customer_table` output (column ``clv``).
    currency : str
        For the note.
    """
    ax = get_ax(ax)
    values = np.sort(customers["clv"].to_numpy(dtype=float))[::-1]
    n = len(values)
    total = values.sum()
    share_customers = 100 * np.arange(1, n + 1) / n
    share_value = 100 * np.cumsum(values) / total if total > 0 else np.zeros(n)
    ax.plot(
        share_customers, share_value, color=COLORS["predicted"], label="predicted CLV", **kwargs
    )
    ax.plot([0, 100], [0, 100], ":", color=COLORS["baseline"], label="equal value")
    top = max(1, int(round(0.2 * n)))
    ax.axvline(100 * top / n, color=COLORS["baseline"], linewidth=0.8)
    ax.annotate(
        f" top 20 % hold {share_value[top - 1]:.0f} %",
        (100 * top / n, share_value[top - 1]),
        fontsize=9,
        va="top",
    )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f} %"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f} %"))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Customers, ranked by predicted CLV (%)")
    ax.set_ylabel("Share of total predicted CLV (%)")
    ax.set_title("How concentrated is future value?")
    label = f"{total:,.0f} {currency}".strip()
    note(ax, f"n = {n:,} customers, total CLV {label}")
    ax.legend(loc="center right")
    return ax


def plot_alive_histories(history: pd.DataFrame, *, note: str | None = None) -> Figure | Note:
    """P(alive) day by day, one small panel per customer (shared axes), purchases marked.

    Parameters
    ----------
    history : DataFrame
        :func:`retention_utils.clv.alive_history` output.
    note : str, optional
        When given (:func:`retention_utils.clv.alive_pointer`: P(alive) cannot be estimated),
        this sentence is returned instead of the chart.
    """
    if note is not None:
        return Note(note)
    customers = list(dict.fromkeys(history["customer_id"]))
    fig = Figure(figsize=(9, 1.9 * len(customers) + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(customers), 1, sharex=True, sharey=True))
    for ax, customer in zip(axes, customers, strict=True):
        rows = history[history["customer_id"] == customer]
        ax.plot(rows["day"], rows["p_alive"], color=COLORS["predicted"])
        bought = rows[rows["purchase"]]
        ax.plot(
            bought["day"],
            bought["p_alive"],
            "o",
            color=COLORS["actual"],
            markersize=4,
            label="purchase",
        )
        ax.set_ylim(-0.04, 1.04)
        ax.set_yticks([0, 0.5, 1])
        ax.set_ylabel("P(alive)")
        ax.set_title(f"customer {customer}", loc="left", fontsize=9)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axes[-1].set_xlabel("Date")
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.suptitle("Probability of being active, day by day")
    return fig


def plot_expected_repeat_purchases(
    curve: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Cumulative repeat purchases expected from a newly acquired customer.

    Parameters
    ----------
    curve : DataFrame
        :func:`retention_utils.clv.expected_repeat_purchases` output.
    """
    ax = get_ax(ax)
    ax.plot(curve.index, curve["expected"], color=COLORS["predicted"], **kwargs)
    ax.set_xlabel("Days since the first purchase")
    ax.set_ylabel("Expected repeat purchases (cumulative)")
    ax.set_title("What a new customer is expected to buy")
    ax.set_xlim(0, curve.index[-1])
    ax.set_ylim(bottom=0)
    return ax
