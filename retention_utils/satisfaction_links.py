"""Satisfaction against behaviour: did the customer buy again, what are they worth, and who
to call back.

* :func:`repurchase_by_score` (SPEC section 4): repurchase within ``followup_days`` after
  answering, by NPS group or CSAT outcome, with Wilson intervals; :func:`repurchase_gap`
  tests promoters against detractors.
* :func:`clv_by_score`: mean P(alive) and predicted CLV by group of each customer's latest
  answer, with t intervals and Welch's test.
* :func:`detractor_followups`: the customers whose latest answer is a detractor's, most
  valuable first.

Only responses whose customer appears in the transactions (or the CLV table) are used: an
unknown customer is not a customer who did not buy again. The others are counted and, above
:data:`UNMATCHED_CAUTION_PCT` percent, carry a caution. The purchase days come from the
aggregation engine (:func:`retention_utils.engine.response_followups`), so the transactions
may be files larger than memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retention_utils import engine
from retention_utils.config import CUSTOMER, DEFAULT_FOLLOWUP_DAYS, RESPONSE_DATE
from retention_utils.satisfaction import (
    CSAT_GROUPS,
    NPS_GROUPS,
    available_scores,
    checked_column,
    headline,
    require_columns,
    score_groups,
)
from retention_utils.stats import (
    Comparison,
    mean_interval,
    two_proportion_test,
    welch_test,
    wilson_interval,
)

__all__ = [
    "UNMATCHED_CAUTION_PCT",
    "UnlinkedSurveyError",
    "clv_by_score",
    "clv_figures",
    "detractor_followups",
    "followup_figure",
    "repurchase_by_score",
    "repurchase_figure",
    "repurchase_gap",
    "response_repurchases",
]


def _check_followup(followup_days: int) -> None:
    if isinstance(followup_days, bool) or not isinstance(followup_days, int | np.integer):
        raise ValueError(f"followup_days must be a whole number of days, got {followup_days!r}.")
    if followup_days < 1:
        raise ValueError(f"followup_days must be at least 1 day, got {followup_days}.")


class UnlinkedSurveyError(ValueError):
    """No surveyed customer appears in the transactions: the two files do not share IDs."""


#: Above this share of unmatched eligible responses (percent) a link carries a caution.
UNMATCHED_CAUTION_PCT = 5.0


def _unmatched_caution(unmatched: int, total: int, what: str) -> list[str]:
    """The caution sentence when more than :data:`UNMATCHED_CAUTION_PCT` of ``total`` responses
    could not be matched to a customer of ``what`` (none otherwise)."""
    if not total or unmatched / total * 100 <= UNMATCHED_CAUTION_PCT:
        return []
    return [
        f"{unmatched:,} of {total:,} responses ({unmatched / total * 100:.0f} %) are from customers "
        f"not found in {what}; they are left out of the comparison. Check that both files use "
        "the same customer IDs (customer_col=)."
    ]


def _link(
    surveys: pd.DataFrame,
    transactions: engine.Source,
    *,
    followup_days: int,
    observation_end,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Positions of the responses used (eligible, customer known), whether each repurchased,
    and the counts."""
    _check_followup(followup_days)
    require_columns(surveys, [CUSTOMER, RESPONSE_DATE], "The repurchase link")
    customers = surveys[CUSTOMER].astype("string")
    followups = engine.response_followups(
        transactions,
        customers,
        surveys[RESPONSE_DATE],
        followup_days=followup_days,
        observation_end=observation_end or None,
    )
    end = followups.attrs["observation_end"]
    d0 = pd.to_datetime(surveys[RESPONSE_DATE]).dt.normalize()
    eligible = (d0 + pd.Timedelta(days=int(followup_days)) <= end).to_numpy()
    known = followups["known"].to_numpy()
    if not known.any():
        raise UnlinkedSurveyError(
            "None of the surveyed customers appears in the transactions, so repurchases cannot "
            "be linked. Check that both files use the same customer IDs (customer_col=) or set "
            'transactions="" to skip the behaviour link.'
        )
    used = eligible & known
    unmatched = int((eligible & ~known).sum())
    attrs = {
        "responses": len(surveys),
        "eligible": int(used.sum()),
        "ineligible": int((~eligible).sum()),
        "unmatched_responses": unmatched,
        "followup_days": int(followup_days),
        "observation_end": end,
        "customers_matched": int(customers[known].nunique()),
        "customers_surveyed": int(customers.nunique()),
        "cautions": _unmatched_caution(unmatched, int(eligible.sum()), "the transactions"),
    }
    positions = np.flatnonzero(used)
    return positions, followups["repurchased"].to_numpy()[used], attrs


def response_repurchases(
    surveys: pd.DataFrame,
    transactions: engine.Source,
    *,
    followup_days: int = DEFAULT_FOLLOWUP_DAYS,
    observation_end=None,
) -> pd.DataFrame:
    """For each response observed long enough: did the customer buy again within the follow-up?

    A response dated on day ``d0`` is eligible when ``d0 + followup_days <= observation_end``;
    it is repurchased when its customer has a purchase day ``d`` (a day with net amount > 0,
    see :func:`retention_utils.engine.purchase_days_expr`) with ``d0 < d <= d0 + followup_days``.
    The purchase days are computed and matched in the aggregation engine (DuckDB), so the
    transaction source may be a path to files larger than memory.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table (``customer_id``, ``response_date``, scores).
    transactions : DataFrame, path or ibis table
        Canonical transactions (see :mod:`retention_utils.engine`).
    followup_days : int
        Length of the follow-up window in days (default 90).
    observation_end : date-like, optional
        Last day of data; transactions after it are ignored. Default: the last transaction day.

    Returns
    -------
    DataFrame
        The eligible responses (all survey columns) plus ``repurchased`` (bool), in survey
        order. ``attrs``: ``responses``, ``eligible``, ``ineligible`` (too recent to be
        followed up), ``followup_days``, ``observation_end`` (Timestamp),
        ``customers_matched`` and ``customers_surveyed``.

    Raises
    ------
    ValueError
        When no surveyed customer appears in the transactions (the customer IDs of the two
        files do not match: check ``customer_col=``).
    """
    positions, repurchased, attrs = _link(
        surveys, transactions, followup_days=followup_days, observation_end=observation_end
    )
    out = surveys.iloc[positions].copy()
    out["repurchased"] = repurchased
    out.attrs.update(attrs)
    return out


def repurchase_by_score(
    surveys: pd.DataFrame,
    transactions: engine.Source,
    score: str = "nps",
    followup_days: int = DEFAULT_FOLLOWUP_DAYS,
    observation_end=None,
    *,
    scale_max: int | None = None,
    positive_min: int | None = None,
) -> pd.DataFrame:
    """Repurchase rate within ``followup_days`` after answering, by NPS group or CSAT outcome.

    Eligibility and repurchase follow :func:`response_repurchases` (SPEC section 4).

    Parameters
    ----------
    surveys, transactions, followup_days, observation_end
        As in :func:`response_repurchases`.
    score : {"nps", "csat"}
        NPS groups (detractor 0-6, passive 7-8, promoter 9-10) or CSAT outcome (positive:
        score >= ``positive_min``; negative otherwise).
    scale_max, positive_min : int, optional
        CSAT scale and threshold (see :func:`csat`).

    Returns
    -------
    DataFrame
        One row per group (NPS: detractor, passive, promoter; CSAT: positive, negative), every
        group listed even when empty: ``group``, ``n`` (eligible responses with this score),
        ``repurchased``, ``rate`` (percent) and its 95 % Wilson interval ``low``, ``high``
        (percent). ``attrs`` carries the counts of :func:`response_repurchases` plus
        ``missing`` (eligible responses without this score) and ``score``.

    Examples
    --------
    See ``tests/test_satisfaction.py`` for a hand-built example.
    """
    if score not in ("nps", "csat"):
        raise ValueError(f"score must be 'nps' or 'csat' for the repurchase link, got {score!r}.")
    values, _, threshold = checked_column(surveys, score, scale_max, positive_min)
    positions, bought, attrs = _link(
        surveys, transactions, followup_days=followup_days, observation_end=observation_end
    )
    groups = score_groups(values[positions], score, threshold)
    order = NPS_GROUPS if score == "nps" else CSAT_GROUPS
    n = np.array([int((groups == g).sum()) for g in order])
    x = np.array([int(((groups == g) & bought).sum()) for g in order])
    low, high = wilson_interval(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1) * 100, np.nan)
    out = pd.DataFrame(
        {
            "group": list(order),
            "n": n,
            "repurchased": x,
            "rate": rate,
            "low": low * 100,
            "high": high * 100,
        }  # fmt: skip
    )
    out.attrs.update(attrs)
    out.attrs.update(
        score=score,
        missing=int(sum(g is None for g in groups)),
        positive_min=threshold if score == "csat" else None,
    )
    return out


def repurchase_gap(
    by_score: pd.DataFrame,
    *,
    first: str | None = None,
    second: str | None = None,
    allow_empty: bool = False,
) -> Comparison | None:
    """Difference in repurchase rate between two groups of :func:`repurchase_by_score`.

    Parameters
    ----------
    by_score : DataFrame
        Output of :func:`repurchase_by_score`.
    first, second : str, optional
        Groups compared as ``second - first``. Default: detractor vs promoter for NPS,
        negative vs positive for CSAT.
    allow_empty : bool
        Return None instead of raising when a group has no eligible response.

    Returns
    -------
    retention_utils.stats.Comparison or None
        Difference in percentage points, Newcombe 95 % interval and the pooled two-proportion z
        test.

    Raises
    ------
    ValueError
        When a group is unknown or (unless ``allow_empty``) has no eligible response.
    """
    score = by_score.attrs.get("score", "nps" if "promoter" in set(by_score["group"]) else "csat")
    first = first or ("detractor" if score == "nps" else "negative")
    second = second or ("promoter" if score == "nps" else "positive")
    table = by_score.set_index("group")
    for g in (first, second):
        if g not in table.index:
            raise ValueError(f"Unknown group {g!r}; groups are {', '.join(table.index)}.")
        if table.loc[g, "n"] == 0:
            if allow_empty:
                return None
            raise ValueError(f"The {g} group has no eligible response to compare.")
    c = two_proportion_test(
        int(table.loc[first, "repurchased"]),
        int(table.loc[first, "n"]),
        int(table.loc[second, "repurchased"]),
        int(table.loc[second, "n"]),
        interval="newcombe",
    )
    return c.scaled(100)


def _customer_columns(
    table: pd.DataFrame, columns: Sequence[str], what: str, source: str
) -> pd.DataFrame:
    """``customer_id`` (as text) and ``columns`` of a per-customer table (ID as a column or
    the index), or a ValueError naming the missing columns."""
    if CUSTOMER not in table.columns and table.index.name == CUSTOMER:
        table = table.reset_index()
    missing = [c for c in (CUSTOMER, *columns) if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what} needs the column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(map(str, table.columns))}. Use the table written by {source}."
        )
    out = table[[CUSTOMER, *columns]]
    return out.assign(**{CUSTOMER: out[CUSTOMER].astype("string")})


def _latest_answers(surveys: pd.DataFrame, name: str, values) -> pd.DataFrame:
    """Each customer's latest answer with a value: ``customer_id``, ``response_date`` and
    ``name`` (``values``, one per response; a missing one is skipped). Of two answers on the
    same date, the later row counts."""
    answers = pd.DataFrame(
        {
            CUSTOMER: surveys[CUSTOMER].astype("string").to_numpy(),
            RESPONSE_DATE: pd.to_datetime(surveys[RESPONSE_DATE]).to_numpy(),
            name: values,
        }
    ).dropna(subset=[name])
    latest = answers.sort_values([CUSTOMER, RESPONSE_DATE], kind="stable")
    return latest.drop_duplicates(CUSTOMER, keep="last")


def clv_by_score(
    surveys: pd.DataFrame,
    clv_customers: pd.DataFrame,
    *,
    score: str = "nps",
    scale_max: int | None = None,
    positive_min: int | None = None,
) -> pd.DataFrame:
    """Mean P(alive) and CLV by NPS group (or CSAT outcome) of each customer's latest answer.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table.
    clv_customers : DataFrame
        Customer table of the CLV analysis (``predict_clv`` output): ``customer_id`` as a
        column or the index, ``p_alive`` (probability, 0-1) and ``clv`` (currency).
    score : {"nps", "csat"}

    Returns
    -------
    DataFrame
        One row per group: ``group``, ``customers`` (surveyed customers found in the CLV
        table), ``p_alive`` (mean probability, 0-1) with t interval ``p_alive_low``,
        ``p_alive_high``, and ``clv`` (mean, currency) with ``clv_low``, ``clv_high``.
        ``attrs``: ``customers_matched``, ``customers_surveyed``, ``unmatched_responses``
        (latest answers of customers missing from the CLV table: left out, not counted as
        customers of no value), ``cautions`` (a sentence when those exceed 5 %) and
        ``comparison``: Welch's t test of the mean CLV of promoters minus detractors
        (CSAT: positive minus negative; ``compared`` names the two groups), a
        :class:`~retention_utils.stats.Comparison` in currency, or None when a group has
        fewer than two customers.
    """
    if score not in ("nps", "csat"):
        raise ValueError(f"score must be 'nps' or 'csat', got {score!r}.")
    require_columns(surveys, [CUSTOMER, RESPONSE_DATE], "The CLV link")
    values, _, threshold = checked_column(surveys, score, scale_max, positive_min)
    clv = _customer_columns(
        clv_customers,
        ["p_alive", "clv"],
        "The CLV customer table",
        "the CLV analysis (predict_clv)",
    )
    latest = _latest_answers(surveys, "group", score_groups(values, score, threshold))
    merged = latest.merge(clv, on=CUSTOMER, how="inner")
    order = NPS_GROUPS if score == "nps" else CSAT_GROUPS
    rows = []
    for g in order:
        part = merged[merged["group"] == g]
        pa = mean_interval(part["p_alive"].to_numpy(dtype=float))
        cv = mean_interval(part["clv"].to_numpy(dtype=float))
        rows.append(
            {
                "group": g,
                "customers": len(part),
                "p_alive": pa.value,
                "p_alive_low": pa.low,
                "p_alive_high": pa.high,
                "clv": cv.value,
                "clv_low": cv.low,
                "clv_high": cv.high,
            }  # fmt: skip
        )
    out = pd.DataFrame(rows)
    matched, surveyed = int(merged[CUSTOMER].nunique()), int(latest[CUSTOMER].nunique())
    low_group, high_group = order[0], order[-1]
    if score == "csat":
        low_group, high_group = "negative", "positive"
    first = merged.loc[merged["group"] == low_group, "clv"].to_numpy(dtype=float)
    second = merged.loc[merged["group"] == high_group, "clv"].to_numpy(dtype=float)
    out.attrs.update(
        comparison=welch_test(first, second) if min(len(first), len(second)) >= 2 else None,
        compared=(low_group, high_group),
        score=score,
        customers_matched=matched,
        customers_surveyed=surveyed,
        unmatched_responses=surveyed - matched,
        cautions=_unmatched_caution(surveyed - matched, surveyed, "the CLV customer table"),
    )
    return out


def detractor_followups(
    surveys: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    clv_customers: pd.DataFrame | None = None,
    csat_scale_max: int = 5,
    positive_min: int | None = None,
) -> pd.DataFrame:
    """Customers to call back: those whose latest NPS answer is a detractor's (0-6), most
    valuable first; for a survey without NPS, those whose latest CSAT answer is below
    ``positive_min``.

    A customer's most recent answer decides (a detractor who answered 9 since is not
    listed; a response that skipped the question does not count); answers of the same day
    keep the later row.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table: ``customer_id``, ``response_date`` and ``nps`` and/or ``csat``.
    history : DataFrame, optional
        Per-customer purchases (:func:`retention_utils.engine.customer_history`):
        ``customer_id`` (column or index), ``last_purchase``, ``orders``, ``revenue``.
    clv_customers : DataFrame, optional
        Customer table of the CLV analysis: ``customer_id``, ``clv``, ``p_alive``.
    csat_scale_max, positive_min : int
        CSAT scale and the lowest satisfied answer (see :func:`csat`), for a survey without
        NPS answers.

    Returns
    -------
    DataFrame
        One row per customer to follow up: ``customer_id``, ``response_date`` and ``nps``
        (or ``csat``) of the latest answer, then with
        ``history`` ``last_purchase``, ``orders``, ``revenue`` (currency), with
        ``clv_customers`` ``clv`` (currency) and ``p_alive`` (0-1); missing for a customer
        not found there. Sorted by ``clv`` when given, else ``revenue``, else the answer
        date, highest first (missing last); ties by the most recent answer, then ID.
        ``attrs``: ``customers_surveyed``, ``sorted_by`` and ``rule`` (what lists a
        customer, in words).

    Examples
    --------
    >>> answers = pd.DataFrame({"customer_id": ["a", "a", "b"], "nps": [3, 9, 6],
    ...     "response_date": pd.to_datetime(["2025-01-02", "2025-03-01", "2025-02-01"])})
    >>> detractor_followups(answers)["customer_id"].tolist()
    ['b']
    """
    require_columns(surveys, [CUSTOMER, RESPONSE_DATE], "The follow-up list")
    score = next((s for s in ("nps", "csat") if s in available_scores(surveys)), None)
    if score is None:
        raise ValueError("The follow-up list needs NPS or CSAT answers; the survey has neither.")
    values, _, threshold = checked_column(
        surveys, score, csat_scale_max if score == "csat" else None, positive_min
    )
    latest = _latest_answers(surveys, score, pd.array(values, dtype="Float64").astype("Int64"))
    low = latest[score] <= 6 if score == "nps" else latest[score] < threshold
    out = latest[low.to_numpy()]
    rule = (
        "latest NPS answer is 0-6" if score == "nps" else f"latest CSAT answer is below {threshold}"
    )
    sort_by = RESPONSE_DATE
    if history is not None:
        what = "The purchase history"
        table = _customer_columns(
            history, ["last_purchase", "orders", "revenue"], what, "the engine's customer_history"
        )
        out = out.merge(table, on=CUSTOMER, how="left")
        sort_by = "revenue"
    if clv_customers is not None:
        what = "The CLV customer table"
        table = _customer_columns(clv_customers, ["clv", "p_alive"], what, "the CLV analysis")
        out = out.merge(table, on=CUSTOMER, how="left")
        sort_by = "clv"
    keys = [sort_by] if sort_by == RESPONSE_DATE else [sort_by, RESPONSE_DATE]
    # Equal keys: the customer ID decides, so the list does not depend on the file order.
    out = out.sort_values(
        [*keys, CUSTOMER], ascending=[False] * len(keys) + [True], na_position="last"
    ).reset_index(drop=True)
    out.attrs.update(
        customers_surveyed=int(latest[CUSTOMER].nunique()),
        sorted_by=sort_by,
        rule=rule,
    )
    return out


def repurchase_figure(by_score: pd.DataFrame) -> dict:
    """Headline figure of :func:`repurchase_by_score`: the repurchase rate of promoters
    minus detractors (CSAT: satisfied minus dissatisfied), in percentage points, with its
    95 % interval; named ``repurchase_gap_nps`` or ``repurchase_gap_csat``."""
    score = by_score.attrs.get("score", "nps")
    days = by_score.attrs.get("followup_days", DEFAULT_FOLLOWUP_DAYS)
    who = "promoters minus detractors" if score == "nps" else "satisfied minus dissatisfied"
    label = f"Repurchase within {days} days, {who}"
    gap = repurchase_gap(by_score, allow_empty=True)
    if gap is None:
        return headline(f"repurchase_gap_{score}", None, label, "pp")
    observed = by_score.attrs.get("eligible")
    note = None if observed is None else f"{observed:,} responses observed {days} days"
    return headline(f"repurchase_gap_{score}", gap.difference, label, "pp",
                   low=gap.low, high=gap.high, note=note)  # fmt: skip


def clv_figures(by_group: pd.DataFrame, *, currency: str | None = None) -> list[dict]:
    """Headline figures of :func:`clv_by_score` by NPS group: mean predicted CLV of
    promoters and of detractors (``clv_promoters``, ``clv_detractors``) with their t
    intervals and the number of customers as the note. None for CSAT groups."""
    if by_group.attrs.get("score", "nps") != "nps":
        return []
    rows = by_group.set_index("group")
    return [
        headline(
            f"clv_{group}s",
            rows.loc[group, "clv"],
            f"Mean predicted CLV of {group}s",
            currency,
            low=rows.loc[group, "clv_low"],
            high=rows.loc[group, "clv_high"],
            note=f"n={int(rows.loc[group, 'customers']):,} customers",
        )  # fmt: skip
        for group in ("promoter", "detractor")
    ]


def followup_figure(followups: pd.DataFrame) -> dict:
    """Headline figure of :func:`detractor_followups`: how many customers to call back."""
    return headline("customers_to_follow_up", len(followups), "Customers to follow up",
                   note=followups.attrs.get("rule"))  # fmt: skip
