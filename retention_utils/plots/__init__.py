"""Plots: one seaborn theme, every function takes ``ax`` and returns it.

Plot functions live in one module per analysis (``plots.cohorts``, ``plots.clv``,
``plots.satisfaction``) and share the helpers here. They never draw on pyplot's current
figure: without ``ax`` they create their own figure and axes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import PercentFormatter

PALETTE = "colorblind"
# Colours with a meaning, used the same way in every report.
COLORS = {
    "actual": "#0173b2",
    "predicted": "#de8f05",
    "baseline": "#949494",
    "detractor": "#d55e00",
    "passive": "#c7c7c7",
    "promoter": "#029e73",
    "negative": "#d55e00",
    "positive": "#029e73",
    "low_n": "#cc78bc",
}
#: The word of a calendar period code (``freq``), for axis labels and sentences.
PERIOD_WORDS = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def theme_rc() -> dict:
    """Matplotlib rc parameters of the toolkit's theme (seaborn ``whitegrid``, ``notebook``)."""
    rc = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("notebook", font_scale=0.95))
    rc.update(
        {
            "figure.figsize": (8.0, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "savefig.bbox": "tight",
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.prop_cycle": mpl.cycler(color=sns.color_palette(PALETTE)),
        }
    )
    return rc


def use_theme() -> None:
    """Apply the theme for the rest of the session (notebooks call this once at the top)."""
    mpl.rcParams.update(theme_rc())


@contextlib.contextmanager
def themed() -> Iterator[None]:
    """Apply the theme inside a ``with`` block only."""
    with mpl.rc_context(theme_rc()):
        yield


def get_ax(ax: plt.Axes | None = None, figsize: tuple[float, float] | None = None) -> plt.Axes:
    """The given axes, or the axes of a new figure (never pyplot's current one)."""
    if ax is not None:
        return ax
    fig, new_ax = plt.subplots(figsize=figsize or tuple(mpl.rcParams["figure.figsize"]))
    return new_ax


def percent_text(value: float, decimals: int = 0) -> str:
    """A percentage (0-100) as the reports write it, with a space: ``"12 %"``; "" if missing."""
    return f"{value:,.{decimals}f} %" if np.isfinite(value) else ""


def percent_axis(ax: plt.Axes, axis: str = "y", xmax: float = 100, decimals: int = 0) -> None:
    """Format an axis whose values are percentages (0-100): ticks read ``"12 %"``."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=xmax, decimals=decimals, symbol=" %"))


def note(ax: plt.Axes, text: str, loc: str = "lower right") -> None:
    """Small grey annotation in a corner (sample sizes, sources)."""
    positions = {
        "lower right": (0.99, 0.02, "right", "bottom"),
        "lower left": (0.01, 0.02, "left", "bottom"),
        "upper right": (0.99, 0.98, "right", "top"),
        "upper left": (0.01, 0.98, "left", "top"),
    }
    x, y, ha, va = positions[loc]
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8, color="#555555")
