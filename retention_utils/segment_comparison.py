"""Whether segments differ in retention: two-proportion tests on the weighted retention
curves of :func:`retention_utils.cohorts.retention_curve` (one row per segment and age)."""

from __future__ import annotations

import pandas as pd

from retention_utils.config import CONFIDENCE
from retention_utils.stats import two_proportion_test

__all__ = ["compare_retention"]


def compare_retention(
    curve: pd.DataFrame,
    *,
    age: int = 1,
    reference=None,
    min_customers: int = 30,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Test whether segments differ in weighted retention at one age.

    Each segment is compared with a reference segment by a two-sided two-proportion z test
    (pooled standard error; interval from the unpooled one, see
    :func:`retention_utils.stats.two_proportion_test`) on ``retained`` out of ``customers``
    at ``age``. Customers are independent trials here; a difference whose interval excludes 0
    (``p_value`` below ``1 - confidence``) is unlikely to be noise. With many segments, expect
    about one in twenty comparisons to look significant by chance.

    Parameters
    ----------
    curve : DataFrame
        Output of :func:`retention_curve` with ``segment=``.
    age : int, default 1
        Periods since acquisition at which to compare.
    reference : optional
        Reference segment; default the segment with the most customers at that age.
    min_customers : int, default 30
        Segments with fewer customers at that age are not tested (the normal approximation
        of the test needs a few dozen); they are listed in ``attrs["skipped"]``.
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        One row per other segment: ``segment``, ``reference``, ``customers``, ``retention``,
        ``reference_customers``, ``reference_retention``, ``difference`` (segment minus
        reference), ``low``, ``high`` (its interval), ``p_value``, ``significant``. Retention
        and differences are fractions (multiply by 100 for percentage points).
    """
    if "segment" not in curve.columns:
        raise ValueError(
            "compare_retention needs a retention curve split by segment: "
            "retention_curve(transactions, segment='your_column')."
        )
    at = curve[curve["age"] == age].set_index("segment")
    if at.empty:
        raise ValueError(
            f"No cohort is observable at age {age}; choose a smaller age (periods since "
            "acquisition)."
        )
    if reference is None:
        reference = at["customers"].idxmax()
    elif str(reference) not in at.index:
        raise ValueError(
            f"Reference segment {reference!r} has no observable cohort at age {age}; "
            f"segments: {', '.join(map(str, at.index))}."
        )
    reference = str(reference)
    ref = at.loc[reference]
    small = at.index[(at["customers"] < min_customers) & (at.index != reference)]
    rows = []
    for name, row in at.drop(index=[reference, *small]).iterrows():
        test = two_proportion_test(
            int(ref["retained"]),
            int(ref["customers"]),
            int(row["retained"]),
            int(row["customers"]),
            confidence,
        )
        rows.append(
            {
                "segment": name,
                "reference": reference,
                "customers": int(row["customers"]),
                "retention": float(row["retention"]),
                "reference_customers": int(ref["customers"]),
                "reference_retention": float(ref["retention"]),
                "difference": test.difference,
                "low": test.low,
                "high": test.high,
                "p_value": test.p_value,
                "significant": test.significant,
            }
        )
    columns = [
        "segment",
        "reference",
        "customers",
        "retention",
        "reference_customers",
        "reference_retention",
        "difference",
        "low",
        "high",
        "p_value",
        "significant",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs = {"age": age, "confidence": confidence, "skipped": [str(x) for x in small]}
    return out
