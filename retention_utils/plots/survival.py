"""Survival plots: Kaplan-Meier curves with their intervals, median and at-risk counts."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MultipleLocator

from retention_utils.plots import COLORS, get_ax, percent_axis

__all__ = ["at_risk_at", "plot_survival_curve"]


def at_risk_at(curve: pd.DataFrame, times) -> list[int]:
    """Customers at risk at each of ``times`` (days): those whose time in the base is at
    least that long, as lifelines counts them (0 after the last time of the curve)."""
    time = curve["time"].to_numpy()
    at_risk = curve["at_risk"].to_numpy()
    where = np.searchsorted(time, np.asarray(times, dtype=float), side="left")
    return [int(at_risk[i]) if i < len(time) else 0 for i in where]


def plot_survival_curve(
    curve: pd.DataFrame,
    *,
    by: str | None = None,
    ci: bool = True,
    max_groups: int = 6,
    title: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """Kaplan-Meier curve(s) of the time in the customer base, with 95 % bands, the median
    and the customers still at risk under the x axis.

    Parameters
    ----------
    curve : DataFrame
        :func:`retention_utils.survival.survival_curve` output (times in days), one curve or
        one per value of ``by``.
    by : str, optional
        The segment column of a curve per segment.
    ci : bool, default True
        Draw the interval bands (Greenwood, log(-log)).
    max_groups : int, default 6
        Largest segments drawn.
    title : str, optional
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.step``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    if curve.empty:
        ax.text(0.5, 0.5, "No customer to follow", ha="center", va="center")
        ax.set_axis_off()
        return ax
    groups = [(None, curve)]
    if by:
        sizes = curve.groupby(by)["at_risk"].max().sort_values(ascending=False)
        groups = [(g, curve[curve[by] == g]) for g in sizes.index[:max_groups]]
    palette = sns.color_palette("colorblind", len(groups))
    longest = float(curve["time"].max())
    step = 365 if longest > 3 * 365 else 90 if longest > 360 else 30
    ticks = np.arange(0, longest + 1, step)
    medians = []
    for color, (name, part) in zip(palette, groups, strict=True):
        color = COLORS["actual"] if name is None else color
        n = int(part["at_risk"].max())
        median = part.attrs.get("median_days") if name is None else _median(part)
        medians.append(median)
        label = f"{'all customers' if name is None else name} (n={n:,}"
        label += f", median {median:,.0f} days)" if np.isfinite(median) else ", median not reached)"
        time = np.r_[0.0, part["time"].to_numpy(dtype=float)]
        surv = np.r_[1.0, part["survival"].to_numpy(dtype=float)] * 100
        ax.step(time, surv, where="post", color=color, label=label, **kwargs)
        if ci:
            low = np.r_[1.0, part["low"].to_numpy(dtype=float)] * 100
            high = np.r_[1.0, part["high"].to_numpy(dtype=float)] * 100
            ax.fill_between(time, low, high, step="post", color=color, alpha=0.18, linewidth=0)
        if np.isfinite(median):
            ax.vlines(median, 0, 50, colors=color, linestyles=":", linewidth=1)
    ax.axhline(50, color=COLORS["baseline"], linestyle="--", linewidth=0.8)
    percent_axis(ax)
    ax.set_ylim(0, 105)
    ax.set_xlim(0, max(ticks[-1], longest))
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.set_ylabel("Customers still in the base (%)")
    _at_risk_table(ax, groups, ticks, palette)
    ax.set_xlabel(
        "Days since first purchase (numbers above: customers still at risk)",
        labelpad=8 + 11 * len(groups),
    )
    ax.set_title(title or "How long customers stay (Kaplan-Meier)")
    ax.legend(
        loc="lower left",
        fontsize=8,
        title="bands: 95 % intervals; dotted: median",
        title_fontsize=8,
        frameon=True,
    )
    return ax


def _median(part: pd.DataFrame) -> float:
    below = part.loc[part["survival"] <= 0.5, "time"]
    return float(below.iloc[0]) if len(below) else float("nan")


def _at_risk_table(ax: plt.Axes, groups, ticks, palette) -> None:
    """The customers at risk at each tick, one row per curve, between the tick labels and
    the axis label (as lifelines' ``add_at_risk_counts``)."""
    for row, (color, (name, part)) in enumerate(zip(palette, groups, strict=True)):
        y = -0.1 - 0.05 * row
        color = COLORS["actual"] if name is None else color
        style = {"va": "top", "fontsize": 7, "color": color, "clip_on": False}
        ax.text(
            -0.05,
            y,
            "at risk" if name is None else str(name)[:14],
            ha="right",
            transform=ax.transAxes,
            **style,
        )
        for tick, n in zip(ticks, at_risk_at(part, ticks), strict=True):
            ax.text(tick, y, f"{n:,}", ha="center", transform=ax.get_xaxis_transform(), **style)
