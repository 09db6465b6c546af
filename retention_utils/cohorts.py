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

The aggregation runs in :mod:`retention_utils.engine` (DuckDB); this module reshapes the
small result in pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils import engine, periods
from retention_utils.config import CONFIDENCE, DEFAULT_FREQ
from retention_utils.errors import whole_number
from retention_utils.segment_comparison import compare_retention
from retention_utils.stats import wilson_interval

__all__ = [
    "cohort_matrix",
    "cohort_table",
    "compare_retention",
    "retention_curve",
]

_NORMALIZE = {False: None, None: None, True: "first", "first": "first", "size": "size"}
_PERIOD_WORDS = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def _last_censored_cohort(first_day: pd.Timestamp, data_start, freq: str) -> int | None:
    """Index of the last left-censored cohort (they run from the first), None for none: the
    cohorts holding a day of data before ``data_start``; by default the first cohort only."""
    if data_start is None:
        return periods.period_index(first_day, freq)
    before = periods.as_day(data_start, "data_start") - pd.Timedelta(days=1)
    return periods.period_index(before, freq) if before >= first_day else None


def cohort_table(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
    include_incomplete: bool = False,
    data_start=None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Every (cohort, age) cell in long form, with retention and revenue measures.

    Parameters
    ----------
    transactions : DataFrame, Parquet/CSV path or glob, or ibis table
        Canonical columns ``customer_id``, ``order_date``, ``amount``, optional ``order_id``
        and segment columns.
    freq : {"W", "M", "Q", "Y"}, default "M"
        Calendar period of cohorts and ages.
    observation_end : date-like, optional
        Last observed day, inclusive (default: the last transaction day).
    segment : str, optional
        Column to split by (customer's value on their first purchase day).
    segment_col, segment_value : optional
        Keep only the customers of one segment (``""``/None: all).
    include_incomplete : bool, default False
        Treat a last period cut short by ``observation_end`` as observed.
    data_start : date-like, optional
        The day from which the history is complete (no customer bought before it without
        appearing in the data). Default: unknown, so the cohort of the first period of data
        is left-censored. On or before the first day of data: no cohort is.
    confidence : float, default 0.95
        Level of the Wilson intervals of the retention points.

    Returns
    -------
    DataFrame
        One row per (``segment``,) ``cohort`` and ``age``, from age 0 to the oldest age
        observable for any cohort (cohorts acquired after the last observable period are
        left out):
        ``cohort`` (pandas Period), ``age`` (int, periods), ``period`` (Period ``cohort +
        age``), ``observable`` (bool), ``left_censored`` (bool: the cohort may hold customers
        acquired before the data begin), ``cohort_size`` (customers acquired), ``customers``,
        ``retention`` (fraction), ``retention_low``, ``retention_high`` (Wilson interval,
        fraction), ``revenue``, ``revenue_per_customer`` (revenue / cohort size),
        ``cumulative_revenue`` and ``cumulative_revenue_per_customer`` (sums over ages
        ``0 .. age``; currency). Unobservable cells hold NaN in every measure.
    """
    counts = engine.cohort_counts(
        transactions,
        freq=freq,
        observation_end=observation_end,
        segment=segment,
        segment_col=segment_col,
        segment_value=segment_value,
    )
    grid: periods.PeriodGrid = counts.attrs["grid"]
    last_observed = grid.last if include_incomplete or not grid.incomplete_last else grid.last - 1
    keys = ["segment", "cohort"] if segment else ["cohort"]

    sizes = counts.loc[counts["age"] == 0, [*keys, "customers"]].rename(
        columns={"customers": "cohort_size"}
    )
    sizes = sizes[(sizes["cohort_size"] > 0) & (sizes["cohort"] <= last_observed)]
    columns = [
        *keys,
        "age",
        "period",
        "observable",
        "left_censored",
        "cohort_size",
        "customers",
        "retention",
        "retention_low",
        "retention_high",
        "revenue",
        "revenue_per_customer",
        "cumulative_revenue",
        "cumulative_revenue_per_customer",
    ]
    if sizes.empty:
        empty = pd.DataFrame(columns=columns)
        empty.attrs = {"freq": freq, "observation_end": grid.observation_end}
        return empty
    # The rectangle of cohorts x ages up to the oldest observable age; later cells are NaN.
    max_age = last_observed - int(sizes["cohort"].min())
    ages = pd.DataFrame({"age": np.arange(max_age + 1, dtype="int64")})
    cells = sizes.merge(ages, how="cross")
    cells = cells.merge(counts, on=[*keys, "age"], how="left")
    cells["observable"] = cells["cohort"] + cells["age"] <= last_observed
    last_censored = _last_censored_cohort(counts.attrs["first_day"], data_start, freq)
    cells["left_censored"] = last_censored is not None and cells["cohort"] <= last_censored
    obs = cells["observable"]
    for col in ("customers", "revenue"):
        cells[col] = cells[col].astype(float).fillna(0.0).where(obs)
    cells = cells.sort_values([*keys, "age"]).reset_index(drop=True)
    size = cells["cohort_size"].astype(float)
    cells["retention"] = cells["customers"] / size
    low, high = wilson_interval(cells["customers"].to_numpy(), size.to_numpy(), confidence)
    cells["retention_low"] = np.where(obs, low, np.nan)
    cells["retention_high"] = np.where(obs, high, np.nan)
    cells["revenue_per_customer"] = cells["revenue"] / size
    cells["cumulative_revenue"] = cells.groupby(keys, sort=False)["revenue"].cumsum().where(obs)
    cells["cumulative_revenue_per_customer"] = cells["cumulative_revenue"] / size
    cells["period"] = [periods.period_label(i, freq) for i in cells["cohort"] + cells["age"]]
    cells["period"] = pd.PeriodIndex(cells["period"], freq=freq)
    cells["cohort"] = pd.PeriodIndex([periods.period_label(i, freq) for i in cells["cohort"]])
    cells["customers"] = cells["customers"].astype("Float64").astype(float)
    out = cells[columns]
    out.attrs = {
        "freq": freq,
        "observation_end": grid.observation_end,
        "incomplete_last": grid.incomplete_last,
    }
    return out


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
        False: counts / currency. True or ``"first"``: divided by column 0, as a **fraction**
        (for customers this is the retention ``customers[c, k] / customers[c, 0]``; for
        revenue, revenue relative to the acquisition period). ``"size"``: divided by the cohort
        size (customers acquired): for revenue, revenue per acquired customer (currency).
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
        include_incomplete=include_incomplete,
        data_start=data_start,
    )
    keys = ["segment", "cohort"] if segment else ["cohort"]
    value = ("cumulative_revenue" if cumulative else "revenue") if metric == "revenue" else metric
    matrix = table.set_index([*keys, "age"])[value].unstack("age").sort_index()
    if not table.empty:
        matrix = matrix.reindex(columns=range(int(table["age"].max()) + 1))
    matrix.columns.name = "age"
    sizes = table[table["age"] == 0].set_index(keys)["cohort_size"].reindex(matrix.index)
    mode = _NORMALIZE[normalize]
    if mode == "first":
        matrix = matrix.div(matrix[0], axis=0) if 0 in matrix.columns else matrix
    elif mode == "size":
        matrix = matrix.div(sizes.astype(float), axis=0)
    matrix = matrix.astype(float)
    matrix.attrs = {
        # Plain {row label as text: size}: attrs must stay JSON-friendly (to_parquet writes
        # them), and a dict still lines up with any subset of the rows.
        "cohort_size": {str(k): int(v) for k, v in sizes.items() if pd.notna(v)},
        "left_censored": _censored_labels(table),
        "metric": metric,
        "normalize": mode,
        "cumulative": cumulative,
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


def retention_curve(
    transactions,
    freq: str = DEFAULT_FREQ,
    observation_end=None,
    *,
    segment: str | None = None,
    segment_col: str | None = None,
    segment_value=None,
    include_incomplete: bool = False,
    include_left_censored: bool = False,
    min_cohorts: int = 3,
    data_start=None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Cohort-size-weighted average retention curve, with Wilson intervals, and cumulative
    revenue per acquired customer; per segment with ``segment=``.

    At age ``k`` the average is taken over the cohorts whose cell ``k`` is observable:
    ``retention = sum_c customers[c, k] / sum_c customers[c, 0]`` (the cohort-size-weighted
    mean of the cohort retentions), a **fraction**, with a Wilson interval treating the
    ``sum_c customers[c, 0]`` acquired customers as the trials.

    Two rules keep late ages honest. The left-censored cohort (the first period of data,
    which also holds every customer who bought before the data begin) is left out: at high
    ages it would be the only cohort left and the curve would climb. And an age is shown only
    when at least ``min_cohorts`` cohorts support it.

    Parameters
    ----------
    transactions, freq, observation_end, segment, segment_col, segment_value, include_incomplete, data_start
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
        ``customers`` (their acquired customers, the denominator), ``retained`` (of them,
        purchasing at that age), ``retention``, ``low``, ``high`` (fractions),
        ``revenue_per_customer`` (revenue at that age per acquired customer) and
        ``cumulative_revenue_per_customer`` (revenue of ages ``0 .. age`` per acquired
        customer), both in currency. ``attrs``: ``left_censored`` (the cohorts left out, as
        text), ``min_cohorts`` and ``cautions`` (sentences for the report: the left-censored
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
        cautions += _censored_caution(curve, everyone, seen[censored], keys, freq)
    if curve.empty and not seen.empty:
        cautions.append(
            f"The average retention curve is empty: no age is observed in {min_cohorts} or "
            "more cohorts" + (" besides the left-censored one." if left_out else ".")
        )
    curve.attrs = {
        **table.attrs,
        "left_censored": left_out,
        "min_cohorts": min_cohorts,
        "cautions": cautions,
    }
    return curve


def _weighted_curve(
    seen: pd.DataFrame, keys: list[str], min_cohorts: int, confidence: float
) -> pd.DataFrame:
    """The weighted average curve of the observable cells ``seen`` (see
    :func:`retention_curve`), ages with fewer than ``min_cohorts`` cohorts left out."""
    curve = seen.groupby(keys, sort=True).agg(
        cohorts=("cohort", "size"),
        customers=("cohort_size", "sum"),
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


def _censored_caution(
    curve: pd.DataFrame, everyone: pd.DataFrame, censored: pd.DataFrame, keys: list[str], freq
) -> list[str]:
    """The caution sentence for a curve that leaves the left-censored cohort out, when that
    changes what the reader sees: with the cohort, the curve would leave the interval drawn
    at some age (the largest such move is quoted)."""
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
    return [
        f"The first cohort ({cohort}, {size:,} customers) is left out of the average retention "
        "curve and revenue per customer: it also holds customers who bought before the data "
        f"begin. With it, retention at {where} would read {at['retention_with']:.0%} instead "
        f"of {at['retention']:.0%}."
    ]
