"""Acquisition cohorts: cohort matrices and weighted retention curves.

Definitions (SPEC section 4, "Cohorts")
--------------------------------------
* A customer's **cohort** is the calendar period (``freq``: ``"W"`` Monday-to-Sunday weeks,
  ``"M"``, ``"Q"``, ``"Y"``) holding their first purchase day (a customer-day with positive
  net amount). Customers without any purchase day belong to no cohort.
* **Age** ``k`` = periods since acquisition (0 = the acquisition period).
* ``customers[c, k]`` = distinct customers of cohort ``c`` with a purchase day in period
  ``c + k``; **retention** = ``customers[c, k] / customers[c, 0]``, a **fraction** (0-1; the
  plots show it in percent). ``customers[c, 0]`` is the cohort size.
* ``revenue[c, k]`` = net revenue of cohort ``c``'s customers in period ``c + k`` (returns
  included; activity before a customer's first purchase is left out).
* A cell is **observable** when period ``c + k`` is complete: it ends on or before
  ``observation_end + 1 day`` (``observation_end`` is a day, inclusive; default the last
  transaction day). Cells not yet observable are NaN, never 0; an observable cell without
  activity is 0. By default the incomplete last period is not observable (its cells are NaN,
  and a cohort acquired in it is left out); ``include_incomplete=True`` counts it as observed.
* **Segments**: a customer's segment is the value of the segment column on their first
  purchase day; ``segment=`` splits every result by it (``segment_col=`` / ``segment_value=``
  instead keep one segment only).
* **Left-censored cohort**: the cohort of the first period of data also holds the customers
  who bought before the data begin (their first purchase *in the data* is not their first
  purchase). Its row stays in the matrix, listed in ``attrs["left_censored"]``; the average
  curves leave it out by default. ``data_start=`` (the day from which the history is
  complete) says otherwise.
* **Retention modes**: ``mode="on_or_after"`` counts a customer at age ``k`` when they buy
  in period ``k`` or any later one ("unbounded" retention), and ``window="rolling"`` measures
  ages in 7/30/91/365-day periods from each customer's first purchase day, with only the
  customers whose period has ended in the denominator (``attrs["eligible"]``). The
  definitions and the long table (:func:`cohort_table`) live in
  :mod:`retention_utils.retention_modes`.

The aggregation runs in :mod:`retention_utils.engine`; this module shapes its small result
into matrices and average curves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils import engine
from retention_utils.config import CONFIDENCE, DEFAULT_FREQ
from retention_utils.errors import whole_number
from retention_utils.retention_modes import MODES, cohort_table
from retention_utils.segment_comparison import compare_retention
from retention_utils.stats import wilson_interval

__all__ = [
    "cohort_matrix",
    "cohort_table",
    "compare_retention",
    "day_n_retention",
    "eligible_matrix",
    "headline_figures",
    "mode_figures",
    "retention_counts",
    "retention_curve",
    "retention_curves_by_mode",
    "revenue_matrix",
    "segment_curve",
]

_NORMALIZE = {False: None, None: None, True: "first", "first": "first", "size": "size"}
_PERIOD_WORDS = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}
#: What to do when the left-censored first cohort is all that stands between a report and a
#: curve (CDNOW's sample: customers acquired in three months).
_DATA_START_HINT = (
    "If nobody bought before the data begin (a sample of new customers), set data_start to "
    "the first day of data to count that cohort."
)
#: Revenue matrices of :func:`revenue_matrix`: what each cell is divided by.
_REVENUE_PER = (None, "acquired", "active")


def cohort_matrix(
    transactions,
    freq: str = DEFAULT_FREQ,
    metric: str = "customers",
    normalize: bool | str = False,
    *,
    cumulative: bool = False,
    observation_end=None,
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
    mode: str = "on",
    window: str = "calendar",
    include_incomplete: bool = False,
    data_start=None,
) -> pd.DataFrame:
    """Cohort matrix: rows = acquisition cohorts, columns = periods since acquisition.

    Parameters
    ----------
    transactions : DataFrame, Parquet/CSV path or glob, or ibis table
        Canonical transactions.
    freq : {"W", "M", "Q", "Y"}, default "M"
        Calendar period of cohorts and ages (weeks start on Monday).
    metric : {"customers", "revenue"}
        ``customers[c, k]``: distinct customers of cohort ``c`` with a purchase day in period
        ``c + k``; ``revenue[c, k]``: their net revenue in that period.
    normalize : bool or {"first", "size"}, default False
        False: counts / currency. True or ``"first"``: for customers the retention
        ``customers[c, k] / eligible[c, k]`` (a **fraction**; in calendar windows
        ``eligible[c, k]`` is the cohort size ``customers[c, 0]``); for revenue, revenue
        relative to the acquisition period. ``"size"``: divided by the eligible customers:
        for revenue, revenue per acquired customer (currency).
    cumulative : bool, default False
        Cumulative sums over ages before normalizing (``metric="revenue"`` only): with
        ``normalize="size"``, cumulative revenue per acquired customer.
    observation_end : date-like, optional
        Last observed day, inclusive (default: the last transaction day).
    segment : str, optional
        Split by this column (customer's value on their first purchase day): the index
        becomes (``segment``, ``cohort``).
    segment_col, segment_value : optional
        Keep only one segment's customers.
    mode : {"on", "on_or_after"}, default "on"
        Retained at age ``k``: a purchase day in period ``k`` ("return on period N"), or in
        period ``k`` or any later one up to ``observation_end`` ("on or after", unbounded).
    window : {"calendar", "rolling"}, default "calendar"
        Calendar periods, or rolling periods of 7, 30, 91, 365 days (W, M, Q, Y) from each
        customer's first purchase day, counted only once ended (see :func:`cohort_table`).
    include_incomplete : bool, default False
        By default the incomplete last period (cut short by ``observation_end``) is NaN and a
        cohort acquired in it is left out.
    data_start : date-like, optional
        The day from which the history is complete (see :func:`cohort_table`).

    Returns
    -------
    DataFrame
        Index ``cohort`` (pandas Period) or (``segment``, ``cohort``); columns ``0 .. K``
        (name ``age``). Cells not yet observable are NaN, never 0. ``attrs["cohort_size"]``
        holds the cohort sizes as ``{str(row label): customers}``
        (:func:`cohort_sizes` gives them as a Series on the matrix's index);
        ``attrs["left_censored"]`` lists the left-censored cohorts (``["2024-01"]``: the
        cohort of the first period of data, which also holds the customers who bought before
        the data begin; ``[]`` when ``data_start`` says the history is complete).
        ``attrs["eligible"]``: the denominators, ``{str(row label): [eligible at age 0, 1,
        ...]}`` (0 where a cell is not observable; :func:`eligible_matrix` gives them as a
        DataFrame); ``attrs["mode"]``, ``attrs["window"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10",
    ...                                   "2024-02-20"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0]})
    >>> cohort_matrix(tx, normalize=True, observation_end="2024-02-29")  # doctest: +NORMALIZE_WHITESPACE
    age        0    1
    cohort
    2024-01  1.0  0.5
    2024-02  1.0  NaN
    """
    if metric not in ("customers", "revenue"):
        raise ValueError(f"metric must be 'customers' or 'revenue', got {metric!r}.")
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be False, True, 'first' or 'size', got {normalize!r}.")
    if cumulative and metric != "revenue":
        raise ValueError(
            "cumulative=True applies to metric='revenue' (distinct customers do not add up "
            "over periods)."
        )
    table = cohort_table(
        transactions,
        freq,
        observation_end,
        segment=segment,
        segment_col=segment_col,
        segment_value=segment_value,
        mode=mode,
        window=window,
        include_incomplete=include_incomplete,
        data_start=data_start,
    )
    keys = ["segment", "cohort"] if segment else ["cohort"]
    value = ("cumulative_revenue" if cumulative else "revenue") if metric == "revenue" else metric
    by_cell = table.set_index([*keys, "age"])
    matrix = by_cell[value].unstack("age").sort_index()
    eligible = by_cell["eligible"].unstack("age").reindex(matrix.index)
    if not table.empty:
        ages = range(int(table["age"].max()) + 1)
        matrix, eligible = matrix.reindex(columns=ages), eligible.reindex(columns=ages)
    matrix.columns.name = "age"
    eligible = eligible.fillna(0).astype("int64")
    sizes = table[table["age"] == 0].set_index(keys)["cohort_size"].reindex(matrix.index)
    scale = _NORMALIZE[normalize]
    if scale == "size" or (scale == "first" and metric == "customers"):
        matrix = matrix.div(eligible.where(eligible > 0))
    elif scale == "first":
        matrix = matrix.div(matrix[0], axis=0) if 0 in matrix.columns else matrix
    matrix = matrix.astype(float)
    matrix.attrs = {
        # Plain {row label as text: ...}: attrs must stay JSON-friendly (to_parquet writes
        # them), and a dict still lines up with any subset of the rows.
        "cohort_size": {str(k): int(v) for k, v in sizes.items() if pd.notna(v)},
        "eligible": {str(k): [int(n) for n in row] for k, row in eligible.iterrows()},
        "left_censored": _censored_labels(table),
        "metric": metric,
        "normalize": scale,
        "cumulative": cumulative,
        "mode": mode,
        "window": window,
        "freq": freq,
        "observation_end": _iso_day(table.attrs.get("observation_end")),
    }
    return matrix


def _censored_labels(table: pd.DataFrame) -> list[str]:
    """The left-censored cohorts of a :func:`cohort_table`, as text ("2024-01")."""
    censored = table.loc[table["left_censored"].astype(bool), "cohort"]
    return [str(c) for c in sorted(censored.unique())]


def _iso_day(value) -> str | None:
    return None if value is None else pd.Timestamp(value).date().isoformat()


def cohort_sizes(matrix: pd.DataFrame) -> pd.Series:
    """The cohort sizes of a :func:`cohort_matrix` (or of a subset of its rows) as a Series
    on its index (NaN where unknown)."""
    known = matrix.attrs.get("cohort_size") or {}
    return pd.Series(
        [known.get(str(label), np.nan) for label in matrix.index],
        index=matrix.index,
        name="cohort_size",
        dtype="float64",
    )


def eligible_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    """The denominators of a :func:`cohort_matrix` (``attrs["eligible"]``) as integers on its
    index and columns (0 where a cell is not observable)."""
    known = matrix.attrs.get("eligible") or {}
    rows = [(known.get(str(label)) or []) for label in matrix.index]
    width = len(matrix.columns)
    values = [row[:width] + [0] * (width - len(row)) for row in rows]
    return pd.DataFrame(values, index=matrix.index, columns=matrix.columns, dtype="int64")


def retention_curve(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
    mode: str = "on",
    window: str = "calendar",
    include_incomplete: bool = False,
    include_left_censored: bool = False,
    min_cohorts: int = 3,
    data_start=None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Cohort-size-weighted average retention curve, with Wilson intervals, and cumulative
    revenue per acquired customer; per segment with ``segment=``.

    At age ``k`` the average is taken over the cohorts whose cell ``k`` is observable:
    ``retention = sum_c customers[c, k] / sum_c eligible[c, k]`` (the weighted mean of the
    cohort retentions; in calendar windows ``eligible[c, k]`` is the cohort size), a
    **fraction**, with a Wilson interval treating the eligible customers as the trials.
    ``mode`` and ``window`` are those of :func:`cohort_table`.

    Two rules keep late ages honest. The left-censored cohort (the first period of data,
    which also holds every customer who bought before the data begin) is left out: at high
    ages it would be the only cohort left and the curve would climb. And an age is shown only
    when at least ``min_cohorts`` cohorts support it.

    Parameters
    ----------
    transactions, freq, observation_end, segment, segment_col, segment_value, mode, window, include_incomplete, data_start
        As in :func:`cohort_table`.
    include_left_censored : bool, default False
        Average the left-censored cohort in too.
    min_cohorts : int, default 3
        Fewest cohorts observable at an age for the age to be shown.
    confidence : float, default 0.95
        Level of the intervals.

    Returns
    -------
    DataFrame
        One row per (``segment``,) ``age``: ``cohorts`` (cohorts observable at that age),
        ``customers`` (their eligible customers, the denominator), ``retained`` (of them,
        retained at that age in the sense of ``mode``), ``retention``, ``low``, ``high`` (fractions),
        ``revenue_per_customer`` (revenue at that age per acquired customer) and
        ``cumulative_revenue_per_customer`` (revenue of ages ``0 .. age`` per acquired
        customer), both in currency. ``attrs``: ``left_censored`` (the cohorts left out, as
        text), ``min_cohorts``, ``mode``, ``window``, ``eligible`` (``{age: denominator}``,
        or ``{segment: {age: denominator}}``) and ``cautions`` (sentences for the report: the left-censored
        cohort is left out and, with it, the curve would leave its interval at some age; or
        no age has ``min_cohorts`` cohorts).

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10",
    ...                                   "2024-02-20"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0]})
    >>> curve = retention_curve(tx, observation_end="2024-02-29", data_start="2024-01-01",
    ...                         min_cohorts=1)
    >>> curve[["age", "customers", "retention"]]
       age  customers  retention
    0    0          3        1.0
    1    1          2        0.5
    """
    min_cohorts = whole_number(min_cohorts, "min_cohorts")
    table = cohort_table(
        transactions,
        freq,
        observation_end,
        segment=segment,
        segment_col=segment_col,
        segment_value=segment_value,
        mode=mode,
        window=window,
        include_incomplete=include_incomplete,
        data_start=data_start,
    )
    keys = ["segment", "age"] if segment else ["age"]
    seen = table[table["observable"].astype(bool)]
    censored = seen["left_censored"].astype(bool)
    everyone = _weighted_curve(seen, keys, min_cohorts, confidence)
    curve = (
        everyone
        if include_left_censored
        else _weighted_curve(seen[~censored], keys, min_cohorts, confidence)
    )
    left_out = [] if include_left_censored else _censored_labels(seen)
    cautions = []
    if left_out:
        cautions += _censored_caution(curve, everyone, seen[censored], keys, freq, mode)
    if curve.empty and not seen.empty:
        cautions.append(
            f"The average retention curve is empty: no age is observed in {min_cohorts} or "
            "more cohorts"
            + (f" besides the left-censored one. {_DATA_START_HINT}" if left_out else ".")
        )
    curve.attrs = {
        **table.attrs,
        "left_censored": left_out,
        "min_cohorts": min_cohorts,
        "eligible": _curve_eligible(curve, segment),
        "cautions": cautions,
    }
    return curve


def retention_curves_by_mode(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    window: str = "calendar",
    **options,
) -> pd.DataFrame:
    """The average retention curve in both modes, stacked: "on" period ``k`` and "on or
    after" period ``k`` (unbounded), for comparing the two definitions.

    Parameters
    ----------
    transactions, freq, observation_end, window
        As in :func:`retention_curve`.
    **options
        Other keyword options of :func:`retention_curve` (``segment_col``,
        ``segment_value``, ``min_cohorts``, ``data_start``, ...).

    Returns
    -------
    DataFrame
        :func:`retention_curve` columns with ``mode`` first (``"on"``, ``"on_or_after"``).
        ``attrs``: those of the "on" curve, ``cautions`` from both without repeats.
    """
    curves = {
        mode: retention_curve(
            transactions, freq, observation_end, mode=mode, window=window, **options
        )
        for mode in MODES
    }
    out = pd.concat([c.assign(mode=m) for m, c in curves.items()], ignore_index=True)
    out = out[["mode", *curves["on"].columns]]
    cautions = [text for c in curves.values() for text in c.attrs["cautions"]]
    out.attrs = {
        **curves["on"].attrs,
        "mode": list(MODES),
        "cautions": list(dict.fromkeys(cautions)),
    }
    return out


def _weighted_curve(
    seen: pd.DataFrame, keys: list[str], min_cohorts: int, confidence: float
) -> pd.DataFrame:
    """The weighted average curve of the observable cells ``seen`` (see
    :func:`retention_curve`), ages with fewer than ``min_cohorts`` cohorts left out."""
    curve = seen.groupby(keys, sort=True).agg(
        cohorts=("cohort", "size"),
        customers=("eligible", "sum"),
        retained=("customers", "sum"),
        revenue=("revenue", "sum"),
        cumulative_revenue=("cumulative_revenue", "sum"),
    )
    curve = curve[curve["cohorts"] >= min_cohorts].reset_index()
    curve["customers"] = curve["customers"].astype("int64")
    curve["retained"] = curve["retained"].round().astype("int64")
    n = curve["customers"].astype(float)
    curve["retention"] = curve["retained"] / n
    low, high = wilson_interval(curve["retained"].to_numpy(), n.to_numpy(), confidence)
    curve["low"], curve["high"] = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    curve["revenue_per_customer"] = curve["revenue"] / n
    curve["cumulative_revenue_per_customer"] = curve["cumulative_revenue"] / n
    return curve.drop(columns=["revenue", "cumulative_revenue"])


def _curve_eligible(curve: pd.DataFrame, segment: str | None) -> dict:
    """The denominators of a curve as JSON-friendly ``{age: n}`` (per segment with one)."""
    if not segment:
        return {int(a): int(n) for a, n in zip(curve["age"], curve["customers"], strict=True)}
    return {
        str(name): {int(a): int(n) for a, n in zip(g["age"], g["customers"], strict=True)}
        for name, g in curve.groupby("segment", sort=True)
    }


def _censored_caution(
    curve: pd.DataFrame,
    everyone: pd.DataFrame,
    censored: pd.DataFrame,
    keys: list[str],
    freq: str,
    mode: str = "on",
) -> list[str]:
    """The caution sentence for a curve that leaves the left-censored cohort out, when that
    changes what the reader sees: with the cohort, the curve would leave the interval drawn
    at some age (the largest such move is quoted). The "on or after" curve says so."""
    both = curve.merge(everyone, on=keys, suffixes=("", "_with"))
    outside = both[(both["retention_with"] < both["low"]) | (both["retention_with"] > both["high"])]
    if outside.empty:
        return []
    at = outside.loc[(outside["retention_with"] - outside["retention"]).abs().idxmax()]
    where = f"{_PERIOD_WORDS.get(freq, 'period')} {int(at['age'])}"
    if "segment" in keys:
        where += f" ({at['segment']})"
    cohort = ", ".join(_censored_labels(censored))
    size = int(censored.loc[censored["age"] == 0, "cohort_size"].sum())
    curve_name = "retention curve" if mode == "on" else '"on or after" retention curve'
    return [
        f"The first cohort ({cohort}, {size:,} customers) is left out of the average "
        f"{curve_name} and revenue per customer: it also holds customers who bought before "
        f"the data begin. With it, retention at {where} would read "
        f"{at['retention_with'] * 100:.1f} % instead of {at['retention'] * 100:.1f} %."
    ]


def revenue_matrix(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    per: str | None = None,
    **options,
) -> pd.DataFrame:
    """Net revenue by acquisition cohort and age (ChartMogul's revenue cohorts), in total,
    per acquired customer or per active customer (ARPA).

    Parameters
    ----------
    transactions, freq, observation_end
        As in :func:`cohort_matrix`.
    per : {None, "acquired", "active"}
        None: net revenue of cohort ``c`` in period ``c + k`` (``revenue[c, k]``, currency).
        ``"acquired"``: ``revenue[c, k] / cohort size`` (currency per acquired customer, what
        an acquired customer brings at age ``k``). ``"active"``: ``revenue[c, k] /
        customers[c, k]``, the average revenue per active account (ARPA) of the cohort's
        customers buying at age ``k`` (NaN where nobody bought).
    **options
        Keyword options of :func:`cohort_matrix` (``segment_col``, ``segment_value``,
        ``data_start``, ``include_incomplete``).

    Returns
    -------
    DataFrame
        As :func:`cohort_matrix` (index ``cohort``, columns ``age``; NaN where not
        observable), ``attrs["per"]`` set.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10"]),
    ...     "amount": [10.0, 30.0, 6.0]})
    >>> revenue_matrix(tx, observation_end="2024-02-29", per="acquired")  # doctest: +NORMALIZE_WHITESPACE
    age        0     1
    cohort
    2024-01  8.0  15.0
    """
    if per not in _REVENUE_PER:
        raise ValueError(f"per must be None, 'acquired' or 'active', got {per!r}.")
    revenue = cohort_matrix(
        transactions,
        freq,
        "revenue",
        "size" if per == "acquired" else False,
        observation_end=observation_end,
        **options,
    )
    if per == "active":
        buyers = cohort_matrix(
            transactions, freq, "customers", observation_end=observation_end, **options
        )
        attrs = revenue.attrs
        revenue = revenue.div(buyers.where(buyers > 0))
        revenue.attrs = attrs
    revenue.attrs["per"] = per
    return revenue


def retention_counts(
    transactions, freq: str = DEFAULT_FREQ, observation_end=None, **options
) -> pd.DataFrame:
    """Retention by cohort and age as counts and percent, one row per observable cell (the
    counts view of Amplitude's retention chart).

    Parameters
    ----------
    transactions, freq, observation_end
        As in :func:`cohort_table`.
    **options
        Keyword options of :func:`cohort_table` (``mode``, ``window``, ``segment_col``,
        ``segment_value``, ``data_start``, ``include_incomplete``); ``window="rolling"`` with
        ``freq="W"`` gives day ranges (days 0-6, 7-13, ... after the first purchase).

    Returns
    -------
    DataFrame
        ``cohort`` (text), ``cohort_size`` (customers acquired), ``age`` (periods since
        acquisition), ``eligible`` (customers whose period ``age`` is observed),
        ``retained`` (of them, buying at that age in the sense of ``mode``),
        ``retention_pct`` (``retained / eligible * 100``, percent), ``left_censored``.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "order_date": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-01-10"]),
    ...     "amount": [10.0, 30.0, 6.0]})
    >>> retention_counts(tx, observation_end="2024-02-29")[["cohort", "age", "retained",
    ...                                                    "retention_pct"]]
        cohort  age  retained  retention_pct
    0  2024-01    0         2          100.0
    1  2024-01    1         1           50.0
    """
    table = cohort_table(transactions, freq, observation_end, **options)
    seen = table[table["observable"].astype(bool)]
    out = pd.DataFrame(
        {
            "cohort": seen["cohort"].astype(str),
            "cohort_size": seen["cohort_size"].astype("int64"),
            "age": seen["age"].astype("int64"),
            "eligible": seen["eligible"].astype("int64"),
            "retained": seen["customers"].round().astype("int64"),
        }
    )
    out["retention_pct"] = out["retained"] / out["eligible"] * 100
    out["left_censored"] = seen["left_censored"].astype(bool)
    out = out.reset_index(drop=True)
    out.attrs = {"freq": freq, "mode": table.attrs.get("mode"), "window": table.attrs.get("window")}
    return out


def segment_curve(
    transactions, by: str | None, freq: str = DEFAULT_FREQ, observation_end=None, **options
) -> pd.DataFrame:
    """The retention curve per segment of ``by`` (:func:`retention_curve` with
    ``segment=by``), or an empty frame whose ``attrs["reason"]`` says why there is no
    comparison: no column given, the column missing from the data, or a single segment.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "b"], "amount": [5.0, 7.0],
    ...     "order_date": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    >>> segment_curve(tx, "channel").attrs["reason"]
    "No segment comparison: column 'channel' is not in the data."
    """
    reason = None
    if not by:
        reason = "No segment comparison: no comparison column was given (compare_by)."
    elif by not in engine.as_table(transactions).columns:
        reason = f"No segment comparison: column {by!r} is not in the data."
    if reason is None:
        curve = retention_curve(transactions, freq, observation_end, segment=by, **options)
        if curve["segment"].nunique() >= 2:
            curve.attrs["segment"] = by
            return curve
        reason = f"No segment comparison: fewer than two {by!r} segments have a curve to show."
    empty = pd.DataFrame(columns=["segment", "age", "customers", "retained", "retention"])
    empty.attrs = {"reason": reason, "freq": freq, "segment": by}
    return empty


def headline_figures(curve: pd.DataFrame, *, age: int = 3) -> list[dict]:
    """The headline figure of the average retention curve, as
    :func:`retention_utils.record.record_all` takes it.

    Parameters
    ----------
    curve : DataFrame
        :func:`retention_curve` (without segments).
    age : int, default 3
        Periods since acquisition of the headline retention.

    Returns
    -------
    list of dict
        ``retention_age_<age>``: percent, with the Wilson interval and the customers and
        cohorts behind it; None when no cohort has been observed that long.
    """
    word = _PERIOD_WORDS.get(curve.attrs.get("freq", "M"), "period")
    plural = "" if age == 1 else "s"
    figure = {
        "name": f"retention_age_{age}",
        "value": None,
        "label": f"Retention {age} {word}{plural} after acquisition (cohort average)",
        "unit": "%",
        "note": f"no cohort observed {age} {word}{plural} after acquisition",
    }
    at = curve[curve["age"] == age]
    if len(at):
        row = at.iloc[0]
        figure |= {
            "value": float(row["retention"] * 100),
            "low": float(row["low"] * 100),
            "high": float(row["high"] * 100),
            "note": f"{int(row['customers']):,} customers in {int(row['cohorts'])} cohorts",
        }
    return [figure]


def mode_figures(modes: pd.DataFrame) -> list[dict]:
    """Retention "on" and "on or after" period 1 (percent; None when not observed) from
    :func:`retention_curves_by_mode`, as :func:`retention_utils.record.record_all` takes
    them."""
    word = _PERIOD_WORDS.get(modes.attrs.get("freq", "M"), "period")
    window = modes.attrs.get("window", "calendar")
    first = modes[modes["age"] == 1].set_index("mode")["retention"] * 100
    return [
        {
            "name": f"retention_{mode}_age_1",
            "value": float(first[mode]) if mode in first.index else None,
            "label": f"Retention {words} {word} 1 ({window})",
            "unit": "%",
        }
        for mode, words in (("on", "on"), ("on_or_after", "on or after"))
    ]


def day_n_retention(
    transactions,
    observation_end=None,
    *,
    weeks: tuple[int, ...] = (1, 2, 4, 8, 13, 26, 52),
    **options,
) -> pd.DataFrame:
    """Day-N retention (Amplitude's N-day and unbounded retention) in rolling weeks: of the
    customers followed long enough, how many bought in days ``7k .. 7k + 6`` after their
    first purchase day, and how many on day ``7k`` or later, as counts and percent.

    Parameters
    ----------
    transactions, observation_end
        As in :func:`retention_curve`.
    weeks : tuple of int
        The weeks ``k`` shown (day ``7k``).
    **options
        Keyword options of :func:`retention_curve` (``segment_col``, ``segment_value``,
        ``data_start``, ``min_cohorts``, ``include_left_censored``).

    Returns
    -------
    DataFrame
        One row per week ``k`` with eligible customers: ``day`` (``7k``), ``eligible``
        (customers whose day ``7k + 6`` is on or before ``observation_end``), ``bought_in_week``
        and ``in_week_pct`` (a purchase day in days ``7k .. 7k + 6``), ``bought_since`` and
        ``since_pct`` (a purchase day on day ``7k`` or later, up to ``observation_end``);
        percent of ``eligible``.
    """
    curves = retention_curves_by_mode(
        transactions, "W", observation_end, window="rolling", **options
    )
    shown = curves[curves["age"].isin(weeks)]
    on, since = (shown[shown["mode"] == mode].set_index("age") for mode in MODES)
    out = pd.DataFrame(
        {
            "day": on.index.to_numpy(dtype="int64") * 7,
            "eligible": on["customers"].to_numpy(dtype="int64"),
            "bought_in_week": on["retained"].to_numpy(dtype="int64"),
            "bought_since": since["retained"].reindex(on.index).to_numpy(dtype="int64"),
        }
    )
    out["in_week_pct"] = out["bought_in_week"] / out["eligible"] * 100
    out["since_pct"] = out["bought_since"] / out["eligible"] * 100
    out = out[["day", "eligible", "bought_in_week", "in_week_pct", "bought_since", "since_pct"]]
    out.attrs = {
        "cautions": curves.attrs["cautions"],
        "left_censored": curves.attrs["left_censored"],
    }
    return out
