"""Plots of the satisfaction analysis: score trends, NPS answers and composition, CES
answers, segments, repurchase by satisfaction group. Each takes ``ax`` and returns it.

CES is drawn on its own answer scale (the mean answer, e.g. 5.4 on 1-7); legends sit outside
the data and the notes under the axis, so that neither hides a point."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from retention_utils.plots import COLORS, PERIOD_WORDS, get_ax, percent_text
from retention_utils.satisfaction import LABELS, ces, display_columns

__all__ = [
    "plot_ces_distribution",
    "plot_nps_composition",
    "plot_nps_distribution",
    "plot_repurchase_by_score",
    "plot_score_trend",
    "plot_segment_scores",
]

_LINE = {"nps": "#0173b2", "csat": "#029e73", "ces": "#de8f05"}


def _score_of(table: pd.DataFrame, score: str | None) -> str:
    score = score or table.attrs.get("score")
    if score not in LABELS:
        raise ValueError(
            "Say which score the table holds (score='nps', 'csat' or 'ces'); it is not "
            "recorded in the table's attrs."
        )
    return score


def _value_label(score: str, attrs: dict) -> str:
    if score == "nps":
        return "NPS (points, -100 to 100)"
    if score == "csat":
        threshold, top = attrs.get("positive_min"), attrs.get("scale_max")
        scale = f", score {threshold}+ of {top}" if threshold and top else ""
        return f"CSAT (% satisfied{scale})"
    low, top = attrs.get("scale_min", 1), attrs.get("scale_max", 7)
    return f"CES (mean answer, {low}-{top})"


def _percent_label(value: float, _position=None) -> str:
    """72 -> "72 %", 72.5 -> "72.5 %": as many decimals as the tick needs, never fewer."""
    return f"{value:.2f}".rstrip("0").rstrip(".") + " %"


def _percent_axis(ax: plt.Axes, axis: str = "y") -> None:
    """Percent ticks at round steps (1, 2, 5, 10 and their powers of ten), labelled exactly."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    target.set_major_formatter(FuncFormatter(_percent_label))


def _legend_outside(ax: plt.Axes, **kwargs) -> None:
    """The legend to the right of the axes, clear of the data and of the notes."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, **kwargs)


def _note_below(ax: plt.Axes, text: str) -> None:
    """A note (sample sizes, what is left out) on its own line under the axis label."""
    ax.set_xlabel(f"{ax.get_xlabel()}\n{text}" if ax.get_xlabel() else text)


def _period_labels(periods: pd.Series, freq: str | None) -> list[str]:
    if freq == "W":
        return [p.start_time.strftime("%Y-%m-%d") for p in periods]
    return [str(p) for p in periods]


def plot_score_trend(
    trend: pd.DataFrame,
    *,
    score: str | None = None,
    ax: plt.Axes | None = None,
    color: str | None = None,
    **kwargs,
) -> plt.Axes:
    """A score per period with its 95 % band; periods with few responses marked.

    Parameters
    ----------
    trend : DataFrame
        Output of :func:`retention_utils.satisfaction.score_trend`.
    score : {"nps", "csat", "ces"}, optional
        Defaults to ``trend.attrs["score"]``.
    ax : matplotlib Axes, optional
    color : str, optional
        Line colour.
    **kwargs
        Passed to ``ax.plot`` for the line.

    Returns
    -------
    matplotlib Axes
    """
    score = _score_of(trend, score)
    ax = get_ax(ax)
    color = color or _LINE[score]
    value, lower, upper = display_columns(score)
    data = trend[trend["n"] > 0]
    x = pd.to_datetime(data["period_start"])
    ax.fill_between(x, data[lower], data[upper], color=color, alpha=0.18, lw=0,
                    label="95 % confidence interval")  # fmt: skip
    ax.plot(x, data[value], marker="o", ms=4, color=color, label=LABELS[score], **kwargs)
    min_responses = trend.attrs.get("min_responses")
    low = data[data["low_n"]]
    if len(low):
        ax.scatter(pd.to_datetime(low["period_start"]), low[value], s=60, facecolor="white",
                   edgecolor=COLORS["low_n"], linewidth=2, zorder=3,
                   label=f"fewer than {min_responses} responses" if min_responses
                   else "few responses")  # fmt: skip
    if "incomplete" in data and data["incomplete"].any():
        inc = data[data["incomplete"]]
        ax.scatter(pd.to_datetime(inc["period_start"]), inc[value], marker="x", s=50,
                   color="#333333", zorder=4, label="period cut short")  # fmt: skip
    if score == "nps":
        ax.axhline(0, color=COLORS["baseline"], lw=0.8)
    elif score == "csat":
        _percent_axis(ax)
    freq = trend.attrs.get("freq")
    if freq in ("Q", "Y") and len(data):
        # Quarters and years read better as their own labels than as month ticks.
        ax.set_xticks(x)
        ax.set_xticklabels(_period_labels(data["period"], freq))
    else:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(f"{PERIOD_WORDS.get(freq, 'period')} of response".capitalize())
    ax.set_ylabel(_value_label(score, trend.attrs))
    ax.set_title(f"{LABELS[score]} by {PERIOD_WORDS.get(freq, 'period')}, with 95 % interval")
    _legend_outside(ax)
    if len(data):
        _note_below(
            ax,
            f"{int(data['n'].sum()):,} responses; {int(data['n'].min())}-{int(data['n'].max())} "
            "per period",
        )
    return ax


def plot_nps_composition(trend: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """Detractors, passives and promoters as stacked shares of each period's responses.

    Parameters
    ----------
    trend : DataFrame
        NPS output of :func:`retention_utils.satisfaction.score_trend` (columns
        ``detractors``, ``passives``, ``promoters`` in percent, ``n``, ``low_n``).
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
        Bars of periods with few responses are drawn pale and hatched; ``n`` above each bar.
    """
    missing = [c for c in ("detractors", "passives", "promoters", "n") if c not in trend]
    if missing:
        raise ValueError(
            f"The NPS composition needs the columns {', '.join(missing)}: pass the output of "
            "score_trend(surveys, 'nps')."
        )
    ax = get_ax(ax)
    x = np.arange(len(trend))
    bottom = np.zeros(len(trend))
    alpha = np.where(trend["low_n"], 0.45, 1.0) if "low_n" in trend else np.ones(len(trend))
    for column, key in (("detractors", "detractor"), ("passives", "passive"),
                        ("promoters", "promoter")):  # fmt: skip
        heights = trend[column].fillna(0).to_numpy()
        bars = ax.bar(x, heights, bottom=bottom, color=COLORS[key], width=0.8,
                      edgecolor="white", linewidth=0.5, **kwargs)  # fmt: skip
        for bar, a, low in zip(bars, alpha, trend.get("low_n", [False] * len(x)), strict=True):
            bar.set_alpha(a)
            if low:
                bar.set_hatch("//")
        bottom += heights
    if len(x) <= 36:
        for xi, n in zip(x, trend["n"], strict=True):
            ax.text(xi, 101, f"{int(n)}", ha="center", va="bottom", fontsize=7, color="#555555")
    labels = _period_labels(trend["period"], trend.attrs.get("freq"))
    step = max(1, int(np.ceil(len(x) / 18)))
    ax.set_xticks(x[::step])
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(0, 108)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(FuncFormatter(_percent_label))
    ax.set_ylabel("Share of responses")
    freq = trend.attrs.get("freq")
    xlabel = f"{PERIOD_WORDS.get(freq, 'period')} of response".capitalize()
    ax.set_xlabel(f"{xlabel} (number above each bar: responses)" if len(x) <= 36 else xlabel)
    ax.set_title(f"NPS composition by {PERIOD_WORDS.get(freq, 'period')}")
    handles = [
        Patch(color=COLORS["promoter"], label="promoters (9-10)"),
        Patch(color=COLORS["passive"], label="passives (7-8)"),
        Patch(color=COLORS["detractor"], label="detractors (0-6)"),
    ]
    min_responses = trend.attrs.get("min_responses")
    if "low_n" in trend and trend["low_n"].any():
        handles.append(Patch(facecolor="#dddddd", hatch="//", edgecolor="#777777",
                             label=f"fewer than {min_responses} responses"))  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(axis="x", visible=False)
    return ax


def plot_ces_distribution(
    scores, *, scale_max: int = 7, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Share of responses at each CES answer, with the mean marked.

    Parameters
    ----------
    scores : array-like or Series
        CES answers on 1-``scale_max`` (higher = easier); missing answers are left out.
    scale_max : {5, 7}
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
    """
    est = ces(scores, scale_max=scale_max)
    values = pd.to_numeric(pd.Series(list(np.ravel(scores)) if not isinstance(scores, pd.Series)
                                     else scores), errors="coerce").dropna()  # fmt: skip
    levels = np.arange(1, scale_max + 1)
    counts = values.value_counts().reindex(levels, fill_value=0).to_numpy()
    shares = counts / max(counts.sum(), 1) * 100
    ax = get_ax(ax)
    ax.bar(levels, shares, color=_LINE["ces"], width=0.7, **kwargs)
    for level, share in zip(levels, shares, strict=True):
        ax.text(level, share + 0.5, percent_text(share), ha="center", va="bottom", fontsize=8)
    if est.n:
        ax.axvline(est.mean, color="#333333", lw=1.2, ls="--",
                   label=f"mean {est.mean:.2f} / {scale_max}\n(95 % CI {est.mean_low:.2f} to "
                   f"{est.mean_high:.2f})")  # fmt: skip
        _legend_outside(ax)
    ax.set_xticks(levels)
    ax.set_xlim(0.4, scale_max + 0.6)
    ax.set_ylim(0, max(shares.max() * 1.15, 10))
    _percent_axis(ax)
    ax.set_xlabel(f"CES answer (1 = very hard ... {scale_max} = very easy)")
    ax.set_ylabel("Share of responses")
    ax.set_title(f"Customer effort: distribution of answers (n={est.n:,})")
    if est.missing:
        _note_below(ax, f"{est.missing:,} missing answers left out")
    return ax


def plot_segment_scores(
    by_segment: pd.DataFrame,
    *,
    score: str | None = None,
    ax: plt.Axes | None = None,
    **kwargs,
) -> plt.Axes:
    """A score per segment with its 95 % interval (segments with few responses marked).

    Parameters
    ----------
    by_segment : DataFrame
        Output of :func:`retention_utils.satisfaction.score_by_segment`.
    score : {"nps", "csat", "ces"}, optional
        Defaults to ``by_segment.attrs["score"]``.
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.errorbar``.

    Returns
    -------
    matplotlib Axes
    """
    score = _score_of(by_segment, score)
    value, lower, upper = display_columns(score)
    by = by_segment.attrs.get("by", by_segment.columns[0])
    data = by_segment[by_segment["n"] > 0].iloc[::-1]
    ax = get_ax(ax, figsize=(8.0, max(2.5, 0.45 * len(data) + 1.5)))
    y = np.arange(len(data))
    colors = [COLORS["low_n"] if low else _LINE[score] for low in data["low_n"]]
    # Clip at 0: an interval end equal to the value can differ from it in the last bit.
    xerr = np.clip([data[value] - data[lower], data[upper] - data[value]], 0, None)
    ax.errorbar(data[value], y, xerr=xerr,
                fmt="none", ecolor="#555555", capsize=3, lw=1, **kwargs)  # fmt: skip
    ax.scatter(data[value], y, color=colors, s=40, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{label} (n={n:,})" for label, n in zip(data[by], data["n"], strict=True)])
    if score == "nps":
        ax.axvline(0, color=COLORS["baseline"], lw=0.8)
    elif score == "csat":
        _percent_axis(ax, axis="x")
    ax.set_xlabel(_value_label(score, by_segment.attrs))
    ax.set_ylabel(str(by))
    ax.set_title(f"{LABELS[score]} by {by}, with 95 % interval")
    if data["low_n"].any():
        _note_below(ax, f"pink: fewer than {by_segment.attrs.get('min_responses')} responses")
    return ax


def plot_repurchase_by_score(
    by_score: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Repurchase rate after answering, per NPS group (or CSAT outcome), with 95 % intervals.

    Parameters
    ----------
    by_score : DataFrame
        Output of :func:`retention_utils.satisfaction.repurchase_by_score`.
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    attrs = by_score.attrs
    score = attrs.get("score", "nps" if "promoter" in set(by_score["group"]) else "csat")
    days = attrs.get("followup_days")
    x = np.arange(len(by_score))
    rate = by_score["rate"].fillna(0).to_numpy()
    colors = [COLORS.get(g, COLORS["actual"]) for g in by_score["group"]]
    if score == "nps":
        colors = [COLORS["detractor"], "#949494", COLORS["promoter"]][: len(x)]
    ax.bar(x, rate, color=colors, width=0.6, **kwargs)
    has = by_score["n"].to_numpy() > 0
    ax.errorbar(x[has], rate[has],
                yerr=np.clip([rate[has] - by_score["low"].to_numpy()[has],
                              by_score["high"].to_numpy()[has] - rate[has]], 0, None),
                fmt="none", ecolor="#333333", capsize=4, lw=1.2)  # fmt: skip
    for xi, r, n, h, ok in zip(x, rate, by_score["n"], by_score["high"].fillna(0), has,
                               strict=True):  # fmt: skip
        text = f"{percent_text(r)}\nn={int(n):,}" if ok else "no responses"
        ax.text(xi, (h if ok else 0) + 2, text, ha="center", va="bottom", fontsize=8)
    if score == "csat" and attrs.get("positive_min"):
        names = [f"{g} (score {'>=' if g == 'positive' else '<'} {attrs['positive_min']})"
                 for g in by_score["group"]]  # fmt: skip
    elif score == "nps":
        ranges = {"detractor": "0-6", "passive": "7-8", "promoter": "9-10"}
        names = [f"{g}s ({ranges.get(g, '')})" for g in by_score["group"]]
    else:
        names = list(by_score["group"])
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    top = np.nanmax(np.r_[by_score["high"].to_numpy(dtype=float), 0])
    ax.set_ylim(0, min(max(top * 1.35, 10), 115))
    _percent_axis(ax)
    window = f"within {days} days" if days else "afterwards"
    ax.set_ylabel(f"Bought again {window} (% of responses)")
    ax.set_xlabel("NPS group" if score == "nps" else "CSAT answer")
    ax.set_title(f"Repurchase {window} after answering, by {LABELS[score]} group")
    end = attrs.get("observation_end")
    if end is not None and days:
        last = (pd.Timestamp(end) - pd.Timedelta(days=days)).strftime("%Y-%m-%d")
        _note_below(ax, f"95 % Wilson intervals; responses up to {last} (observed {days} days)")
    return ax


def plot_nps_distribution(
    distribution: pd.DataFrame, *, ax: plt.Axes | None = None, **kwargs
) -> plt.Axes:
    """Responses per NPS answer 0 to 10, coloured detractor, passive, promoter.

    Parameters
    ----------
    distribution : DataFrame
        Output of :func:`retention_utils.satisfaction.nps_distribution` (``answer``,
        ``group``, ``responses``, ``share``; ``attrs["n"]``).
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
        One bar per answer with its count above it; the number of answers in the title.
    """
    ax = get_ax(ax)
    counts = distribution["responses"].to_numpy()
    colors = [COLORS[g] for g in distribution["group"]]
    ax.bar(distribution["answer"], counts, color=colors, width=0.75, **kwargs)
    top = max(int(counts.max()) if len(counts) else 0, 1)
    for answer, count in zip(distribution["answer"], counts, strict=True):
        ax.text(answer, count + top * 0.01, f"{int(count):,}", ha="center", va="bottom",
                fontsize=8, color="#555555")  # fmt: skip
    ax.set_xticks(distribution["answer"])
    ax.set_xlim(-0.6, 10.6)
    ax.set_ylim(0, top * 1.12)
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("Answer to \u201cHow likely are you to recommend us?\u201d (0-10)")
    ax.set_ylabel("Responses")
    n = distribution.attrs.get("n", int(counts.sum()))
    ax.set_title(f"NPS answers (n={n:,})")
    handles = [
        Patch(color=COLORS["promoter"], label="promoters (9-10)"),
        Patch(color=COLORS["passive"], label="passives (7-8)"),
        Patch(color=COLORS["detractor"], label="detractors (0-6)"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)  # fmt: skip
    missing = distribution.attrs.get("missing")
    if missing:
        _note_below(ax, f"{missing:,} responses without an NPS answer left out")
    return ax
