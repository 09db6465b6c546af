"""Satisfaction scores (CSAT, NPS, CES) with intervals, over time and by segment, and the
headline figures a report shows first. Their link to repurchase, CLV and the customers to
call back is in :mod:`retention_utils.satisfaction_links`.

Definitions (SPEC section 4):

* **CSAT** = responses with score >= ``positive_min`` / responses * 100 (percent satisfied),
  with a 95 % Wilson interval. Scales 1-5 (default, ``positive_min`` 4), 1-7 or 1-10.
* **NPS** = 100 * (promoters - detractors) / n on the 0-10 scale (promoters 9-10, passives
  7-8, detractors 0-6), ``SE = 100 * sqrt((p + d - (p - d)^2) / n)`` with shares ``p``, ``d``
  and 95 % CI = NPS +- 1.96 SE (points, from -100 to 100).
* **CES** = mean score / scale_max * 100 (percent of the scale maximum; scales 1-5 or 1-7,
  default 1-7, higher = easier), with a Student t interval; the mean on its own scale and its
  t interval are reported as well.

Missing answers (a respondent who skipped the question) are excluded and counted. A score
outside its scale or not a whole number is an error (:class:`retention_utils.DataValidationError`
listing the rows), never silently dropped.

Every difference (between consecutive periods, between segments) is "second minus first" in
points of the score (percentage points for CSAT, NPS points, CES points on its answer scale,
e.g. 0.3 on 1-7) and is tested: NPS with a normal test on ``SE = sqrt(SE1^2 + SE2^2)``, CSAT
with the pooled two-proportion z test, CES with Welch's t test.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_utils.config import (
    DEFAULT_FREQ,
    DEFAULT_MIN_RESPONSES,
    RESPONSE_DATE,
)
from retention_utils.errors import DataValidationError
from retention_utils.parsing import parse_scores
from retention_utils.schemas import CES_SCALES, CSAT_SCALES, NPS_SCALE
from retention_utils.stats import (
    Comparison,
    Estimate,
    mean_interval,
    normal_difference,
    two_proportion_test,
    welch_test,
    wilson_interval,
)

__all__ = [
    "NPS_GROUPS",
    "CSAT_GROUPS",
    "LABELS",
    "SCORES",
    "ScoreEstimate",
    "Scales",
    "available_scores",
    "checked_column",
    "ces",
    "compare_scores",
    "compare_segments",
    "csat",
    "display_columns",
    "headline",
    "lowest_segment",
    "nps",
    "nps_distribution",
    "require_columns",
    "score_by_segment",
    "score_figures",
    "score_groups",
    "score_summary",
    "score_trend",
    "score_unit",
]

#: Score columns of a canonical survey table, in the order reports show them.
SCORES: tuple[str, ...] = ("nps", "csat", "ces")
#: Groups of :func:`score_groups`, in display order.
NPS_GROUPS: tuple[str, ...] = ("detractor", "passive", "promoter")
CSAT_GROUPS: tuple[str, ...] = ("positive", "negative")

#: Multiplier of the NPS interval, exactly as the specification states it.
NPS_Z = 1.96
_FREQS = ("W", "M", "Q", "Y")
#: How each score is written in reports.
LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
_UNITS = {
    "nps": "points (-100 to 100)",
    "csat": "% of responses satisfied",
    "ces": "% of the scale maximum",
}


@dataclass(frozen=True)
class ScoreEstimate(Estimate):
    """A satisfaction score with its 95 % interval, sample size and what was left out.

    Attributes
    ----------
    value, low, high : float
        The score and its 95 % interval, in the score's units (CSAT percent satisfied, NPS
        points, CES percent of the scale maximum). NaN when there is no response.
    n : int
        Responses used (missing answers excluded).
    se : float
        Standard error of ``value``, same units.
    missing : int
        Missing answers excluded.
    score : str
        ``"csat"``, ``"nps"`` or ``"ces"``.
    mean, mean_low, mean_high : float
        Mean score on its own scale (e.g. 1-7) with a Student t interval.
    scale_min, scale_max : int
        The scale the scores were checked against.
    """

    se: float = float("nan")
    missing: int = 0
    score: str = ""
    mean: float = float("nan")
    mean_low: float = float("nan")
    mean_high: float = float("nan")
    scale_min: int = 0
    scale_max: int = 0


@dataclass(frozen=True)
class Scales:
    """The answer scales of a survey, given once and passed to every analysis of it.

    Attributes
    ----------
    csat_scale_max : {5, 7, 10}
        CSAT answers from 1 to this value.
    positive_min : int, optional
        Lowest CSAT answer counted as satisfied (None or 0: the top two boxes).
    ces_scale_max : {5, 7}
        CES answers from 1 to this value (higher = easier).
    """

    csat_scale_max: int = 5
    positive_min: int | None = None
    ces_scale_max: int = 7

    def options(self, score: str) -> dict:
        """``scale_max`` and ``positive_min`` keywords of the score functions for ``score``."""
        scale_max = {"csat": self.csat_scale_max, "ces": self.ces_scale_max}.get(score)
        return {"scale_max": scale_max, "positive_min": self.positive_min or None}


# --- validation -----------------------------------------------------------------------------


def _scale(score: str, scale_max: int | None) -> tuple[int, int]:
    """Inclusive (min, max) of a score's scale, after checking ``scale_max``."""
    if score == "nps":
        if scale_max not in (None, NPS_SCALE[1]):
            raise ValueError(f"NPS is always on the 0-10 scale; got scale_max={scale_max!r}.")
        return NPS_SCALE
    if score not in ("csat", "ces"):
        raise ValueError(f"score must be one of 'nps', 'csat', 'ces', got {score!r}.")
    scales = CSAT_SCALES if score == "csat" else CES_SCALES
    if scale_max is None:
        scale_max = 5 if score == "csat" else 7
    if isinstance(scale_max, bool) or scale_max not in scales:
        allowed = ", ".join(f"{hi} (a {lo}-{hi} scale)" for lo, hi in scales.values())
        raise ValueError(f"{LABELS[score]} scale_max must be one of {allowed}; got {scale_max!r}.")
    return scales[scale_max]


def _positive_min(scale: tuple[int, int], positive_min: int | None) -> int:
    """Lowest CSAT score counted as satisfied; default: the top two boxes (4 on 1-5)."""
    low, high = scale
    if positive_min is None or positive_min == 0:
        return high - 1
    if isinstance(positive_min, bool) or not float(positive_min).is_integer():
        raise ValueError(f"positive_min must be a whole number, got {positive_min!r}.")
    if not low < positive_min <= high:
        raise ValueError(
            f"positive_min must be between {low + 1} and {high} on a {low}-{high} CSAT scale, "
            f"got {positive_min}."
        )
    return int(positive_min)


def _raise(problems: list[dict], score: str) -> None:
    raise DataValidationError(problems, table=f"{LABELS[score]} scores")


def _score_values(scores, *, score: str, scale: tuple[int, int], column: str | None = None):
    """Checked scores as a float array (NaN = missing) and the number of missing answers.

    Rows in error messages are numbered from 1 in the order the scores were given.
    """
    if isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"Pass one column of scores (a Series or array) to {score}(), not a DataFrame."
        )
    raw = scores if isinstance(scores, pd.Series) else pd.Series(list(np.ravel(scores)))
    column = column or (str(raw.name) if raw.name is not None else score)
    low, high = scale
    setting = "" if score == "nps" else f" and the scale ({score}_scale_max=)"
    hint = (
        f"{LABELS[score]} scores must be whole numbers from {low} to {high}; check the column "
        f"mapping ({score}_col=){setting}"
    )
    problems: list[dict] = []
    checked = parse_scores(raw.reset_index(drop=True), column, low, high, problems, hint=hint)
    if problems:
        _raise(problems, score)
    values = checked.to_numpy(dtype=float, na_value=np.nan)
    return values, int(np.isnan(values).sum())


def _estimate(
    values: np.ndarray, missing: int, *, score: str, scale: tuple[int, int], positive_min: int
) -> ScoreEstimate:
    """Score of checked values (NaN = missing answer)."""
    x = values[~np.isnan(values)]
    n = len(x)
    mean = mean_interval(x)
    # A mean cannot leave its scale: clip the t interval to it (it only matters for tiny n).
    mean_low = max(mean.low, scale[0]) if n > 1 else mean.low
    mean_high = min(mean.high, scale[1]) if n > 1 else mean.high
    common = {
        "missing": missing,
        "score": score,
        "mean": mean.value,
        "mean_low": mean_low,
        "mean_high": mean_high,
        "scale_min": scale[0],
        "scale_max": scale[1],
    }
    nan = float("nan")
    if n == 0:
        return ScoreEstimate(nan, nan, nan, 0, se=nan, **common)
    if score == "csat":
        positive = int((x >= positive_min).sum())
        p = positive / n
        low, high = wilson_interval(positive, n)
        se = float(np.sqrt(p * (1 - p) / n)) * 100
        return ScoreEstimate(p * 100, low * 100, high * 100, n, se=se, **common)
    if score == "nps":
        p = float((x >= 9).mean())
        d = float((x <= 6).mean())
        value = 100 * (p - d)
        se = 100 * float(np.sqrt(max(p + d - (p - d) ** 2, 0.0) / n))
        low = max(value - NPS_Z * se, -100.0)
        high = min(value + NPS_Z * se, 100.0)
        return ScoreEstimate(value, low, high, n, se=se, **common)
    factor = 100 / scale[1]
    se = float(x.std(ddof=1) / np.sqrt(n)) * factor if n > 1 else nan
    return ScoreEstimate(
        mean.value * factor, mean_low * factor, mean_high * factor, n, se=se, **common
    )


# --- the three scores -----------------------------------------------------------------------


def csat(scores, *, scale_max: int = 5, positive_min: int | None = None) -> ScoreEstimate:
    """Customer satisfaction score: percent of responses at or above ``positive_min``.

    Parameters
    ----------
    scores : array-like or Series
        One answer per response; missing answers (NaN, None, empty) are excluded and counted.
    scale_max : {5, 7, 10}
        Top of the 1-``scale_max`` scale.
    positive_min : int, optional
        Lowest score counted as satisfied. Default (or 0): the top two boxes of the scale,
        i.e. 4 on 1-5, 6 on 1-7, 9 on 1-10.

    Returns
    -------
    ScoreEstimate
        ``value`` in percent of responses (0-100) with a 95 % Wilson interval ``low``,
        ``high``; ``n`` responses; ``missing``; ``mean`` rating with a t interval.

    Raises
    ------
    retention_utils.DataValidationError
        When a score is not a number, not a whole number, or outside the scale (the message
        lists the rows).

    Examples
    --------
    >>> est = csat([5, 4, 3, 5, None])
    >>> round(est.value, 1), est.n, est.missing
    (75.0, 4, 1)
    """
    scale = _scale("csat", scale_max)
    threshold = _positive_min(scale, positive_min)
    values, missing = _score_values(scores, score="csat", scale=scale)
    return _estimate(values, missing, score="csat", scale=scale, positive_min=threshold)


def nps(scores) -> ScoreEstimate:
    """Net Promoter Score: percent promoters (9-10) minus percent detractors (0-6).

    Parameters
    ----------
    scores : array-like or Series
        "How likely are you to recommend us?" answers on 0-10; missing answers are excluded
        and counted.

    Returns
    -------
    ScoreEstimate
        ``value`` in NPS points (-100 to 100); ``se = 100 * sqrt((p + d - (p - d)^2) / n)``
        with promoter and detractor shares ``p``, ``d``; ``low``, ``high`` = value +- 1.96 se
        (clipped to the possible range -100 to 100).

    Raises
    ------
    retention_utils.DataValidationError
        When a score is not a whole number from 0 to 10.

    Examples
    --------
    >>> est = nps([10, 9, 8, 7, 6, 0, 10, 9, 5, 10])
    >>> est.value, est.n
    (20.0, 10)
    """
    scale = _scale("nps", None)
    values, missing = _score_values(scores, score="nps", scale=scale)
    return _estimate(values, missing, score="nps", scale=scale, positive_min=9)


def ces(scores, *, scale_max: int = 7) -> ScoreEstimate:
    """Customer effort score: mean score as a percent of the scale maximum (higher = easier).

    Parameters
    ----------
    scores : array-like or Series
        Answers on 1-``scale_max`` where a higher score means less effort; missing answers
        are excluded and counted.
    scale_max : {5, 7}
        Top of the scale (default 1-7).

    Returns
    -------
    ScoreEstimate
        ``value`` = mean / scale_max * 100 with the Student t interval scaled the same way;
        ``mean``, ``mean_low``, ``mean_high`` on the scale itself. The interval is clipped to
        the scale (a mean cannot exceed ``scale_max``), which only matters for tiny samples.

    Examples
    --------
    >>> est = ces([7, 6, 5, 6])
    >>> round(est.value, 2), est.mean
    (85.71, 6.0)
    """
    scale = _scale("ces", scale_max)
    values, missing = _score_values(scores, score="ces", scale=scale)
    return _estimate(values, missing, score="ces", scale=scale, positive_min=0)


def _score(
    values, *, score: str, scale_max: int | None = None, positive_min: int | None = None
) -> ScoreEstimate:
    if score == "csat":
        return csat(values, scale_max=scale_max or 5, positive_min=positive_min)
    if score == "ces":
        return ces(values, scale_max=scale_max or 7)
    _scale(score, scale_max)
    return nps(values)


# --- comparisons ----------------------------------------------------------------------------


def _compare_clean(
    a: np.ndarray,
    b: np.ndarray,
    *,
    score: str,
    scale: tuple[int, int],
    positive_min: int,
) -> Comparison | None:
    """Difference b - a of two checked arrays (no NaN), or None when it cannot be tested."""
    if score == "ces":
        return welch_test(a, b) if len(a) >= 2 and len(b) >= 2 else None
    if len(a) == 0 or len(b) == 0:
        return None
    if score == "csat":
        c = two_proportion_test(
            int((a >= positive_min).sum()),
            len(a),
            int((b >= positive_min).sum()),
            len(b),
            interval="newcombe",
        )
        return c.scaled(100)
    ea = _estimate(a, 0, score="nps", scale=scale, positive_min=9)
    eb = _estimate(b, 0, score="nps", scale=scale, positive_min=9)
    if ea.se == 0 or eb.se == 0:
        # All answers in one group alike (one answer, say): the normal test has no variance
        # to work with and would call any change "beyond noise".
        return None
    return normal_difference(ea.value, ea.se, eb.value, eb.se)


def compare_scores(
    first,
    second,
    *,
    score: str,
    scale_max: int | None = None,
    positive_min: int | None = None,
) -> Comparison:
    """Test the difference ``second - first`` of a score between two groups of responses.

    Parameters
    ----------
    first, second : array-like or Series
        Scores of the two groups (missing answers excluded).
    score : {"nps", "csat", "ces"}
    scale_max, positive_min : int, optional
        Scale of CSAT/CES and the CSAT threshold, as in :func:`csat` and :func:`ces`.

    Returns
    -------
    retention_utils.stats.Comparison
        ``difference``, ``se``, ``low``, ``high`` in points of the score (percentage points
        for CSAT, NPS points, CES points on its answer scale), ``statistic`` and two-sided
        ``p_value``. NPS: normal test with ``SE = sqrt(SE1^2 + SE2^2)``; CSAT: pooled
        two-proportion z test (Newcombe interval of the difference); CES: Welch's t test.

    Raises
    ------
    ValueError
        When a group has no response (CES: fewer than two).
    """
    scale = _scale(score, scale_max)
    threshold = _positive_min(scale, positive_min) if score == "csat" else 9
    a, _ = _score_values(first, score=score, scale=scale)
    b, _ = _score_values(second, score=score, scale=scale)
    result = _compare_clean(
        a[~np.isnan(a)], b[~np.isnan(b)], score=score, scale=scale, positive_min=threshold
    )
    if result is None:
        need = "two responses" if score == "ces" else "one response"
        raise ValueError(f"Each group needs at least {need} to compare {LABELS[score]}.")
    return result


# --- survey tables --------------------------------------------------------------------------


def require_columns(surveys: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """A ValueError naming the missing columns (and those found) unless ``surveys`` has them."""
    missing = [c for c in columns if c not in surveys.columns]
    if missing:
        raise ValueError(
            f"{what} needs the column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(map(str, surveys.columns))}. Load the file with load_surveys(...) and "
            "map your column names (customer_col=, date_col=, csat_col=, nps_col=, ces_col=)."
        )


def available_scores(surveys: pd.DataFrame) -> list[str]:
    """Score columns (``nps``, ``csat``, ``ces``) present with at least one answer, in order."""
    return [s for s in SCORES if s in surveys.columns and surveys[s].notna().any()]


def checked_column(
    surveys: pd.DataFrame, score: str, scale_max: int | None, positive_min: int | None
) -> tuple[np.ndarray, tuple[int, int], int]:
    """Checked values of one score column (float, NaN = missing), its scale and the CSAT
    threshold (9 for NPS)."""
    require_columns(surveys, [score], f"The {LABELS.get(score, score)} analysis")
    scale = _scale(score, scale_max)
    threshold = _positive_min(scale, positive_min) if score == "csat" else 9
    values, _ = _score_values(surveys[score], score=score, scale=scale)
    return values, scale, threshold


def score_summary(
    surveys: pd.DataFrame,
    *,
    csat_scale_max: int = 5,
    positive_min: int | None = None,
    ces_scale_max: int = 7,
) -> pd.DataFrame:
    """One row per score present in a survey table: the score over all responses.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table (``load_surveys``) with any of ``nps``, ``csat``, ``ces``.
    csat_scale_max, positive_min, ces_scale_max : int
        Scales, as in :func:`csat` and :func:`ces`.

    Returns
    -------
    DataFrame
        Columns ``score`` (NPS, CSAT, CES), ``n``, ``missing``, ``value``, ``low``, ``high``
        (95 %), ``se``, ``unit``, ``mean``, ``mean_low``, ``mean_high`` (mean on the
        score's own scale) and ``scale`` (e.g. ``"1-5"``). Empty when no score is present.
    """
    scales = {"nps": None, "csat": csat_scale_max, "ces": ces_scale_max}
    rows = []
    for score in SCORES:
        if score not in surveys.columns:
            continue
        est = _score(
            surveys[score], score=score, scale_max=scales[score], positive_min=positive_min
        )
        rows.append(
            {
                "score": LABELS[score],
                **_fields(est),
                "unit": _UNITS[score],
                "scale": f"{est.scale_min}-{est.scale_max}",
            }
        )
    columns = ["score", "n", "missing", "value", "low", "high", "se", "unit", "mean",
               "mean_low", "mean_high", "scale"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


#: The fields of a :class:`ScoreEstimate` that tables of scores show, in order.
_ESTIMATE_FIELDS = ("n", "missing", "value", "low", "high", "se", "mean", "mean_low", "mean_high")


def _fields(est: ScoreEstimate) -> dict:
    return {name: getattr(est, name) for name in _ESTIMATE_FIELDS}


def _row(est: ScoreEstimate, values: np.ndarray, score: str, min_responses: int) -> dict:
    row = {**_fields(est), "low_n": est.n < min_responses}
    if score == "nps":
        x = values[~np.isnan(values)]
        shares = (
            [(x <= 6).mean(), ((x >= 7) & (x <= 8)).mean(), (x >= 9).mean()]
            if len(x)
            else [np.nan] * 3
        )
        row["detractors"], row["passives"], row["promoters"] = (float(v) * 100 for v in shares)
    return row


def _check_min_responses(min_responses: int) -> None:
    if isinstance(min_responses, bool) or not isinstance(min_responses, int | np.integer):
        raise ValueError(f"min_responses must be a whole number, got {min_responses!r}.")
    if min_responses < 1:
        raise ValueError(f"min_responses must be at least 1, got {min_responses}.")


def score_trend(
    surveys: pd.DataFrame,
    score: str = "nps",
    *,
    freq: str = DEFAULT_FREQ,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    scale_max: int | None = None,
    positive_min: int | None = None,
    observation_end=None,
) -> pd.DataFrame:
    """A score per calendar period, with its interval, a low-sample flag and the change test.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table with ``response_date`` and the ``score`` column.
    score : {"nps", "csat", "ces"}
    freq : {"W", "M", "Q", "Y"}
        Calendar period (weeks start on Monday).
    min_responses : int
        Periods with fewer responses are flagged ``low_n`` (default 30). They are kept: their
        wide intervals already say how little they show.
    scale_max, positive_min : int, optional
        Scale of CSAT/CES and the CSAT threshold (see :func:`csat`, :func:`ces`).
    observation_end : date-like, optional
        Last day of data used. Responses after it are dropped (counted in
        ``attrs["after_observation_end"]``) and the period it cuts short is flagged
        ``incomplete``.

    Returns
    -------
    DataFrame
        One row per period from the first to the last response (periods without responses
        have ``n`` 0 and NaN scores): ``period`` (pandas Period), ``period_start`` and
        ``period_end`` (Timestamps, the period is ``[start, end)``),
        ``n``, ``missing``, ``value``, ``low``, ``high``, ``se``, ``mean``, ``mean_low``,
        ``mean_high``, ``low_n``, ``incomplete``; for NPS also ``detractors``, ``passives``,
        ``promoters`` (percent of the period's responses); then the change from the previous
        period: ``change``, ``change_low``, ``change_high`` (points of the score; for CES
        points on the answer scale), ``p_value`` and ``significant`` (p < 0.05). ``attrs``
        records ``score``, ``freq``, ``min_responses``, ``scale_min``, ``scale_max``,
        ``positive_min``.
    """
    if freq not in _FREQS:
        raise ValueError(
            f"freq must be one of {', '.join(_FREQS)} (week, month, quarter, year), got {freq!r}."
        )
    _check_min_responses(min_responses)
    require_columns(surveys, [RESPONSE_DATE], "The trend")
    values, scale, threshold = checked_column(surveys, score, scale_max, positive_min)
    dates = pd.to_datetime(surveys[RESPONSE_DATE])
    if dates.isna().any():
        raise ValueError(
            f"{int(dates.isna().sum())} responses have no {RESPONSE_DATE}; load the file with "
            "load_surveys(..., date_col=) so that every response has a date."
        )
    keep = np.ones(len(dates), dtype=bool)
    end = None
    if observation_end is not None and observation_end != "":
        end = pd.Timestamp(observation_end).normalize()
        keep = (dates < end + pd.Timedelta(days=1)).to_numpy()
    dates, values = dates[keep], values[keep]
    periods = dates.dt.to_period(freq)
    rows = []
    previous: np.ndarray | None = None
    if len(periods):
        index = pd.period_range(periods.min(), periods.max(), freq=periods.dt.freq)
    else:
        index = pd.PeriodIndex([], freq=freq)
    codes = periods.to_numpy()
    for period in index:
        v = values[codes == period]
        est = _estimate(v, int(np.isnan(v).sum()), score=score, scale=scale, positive_min=threshold)
        row = {
            "period": period,
            "period_start": period.start_time,
            "period_end": (period + 1).start_time,
        }
        row |= _row(est, v, score, min_responses)
        row["incomplete"] = bool(end is not None and period.end_time.normalize() > end)
        x = v[~np.isnan(v)]
        comparison = None
        if previous is not None:
            comparison = _compare_clean(
                previous, x, score=score, scale=scale, positive_min=threshold
            )
        row["change"] = comparison.difference if comparison else np.nan
        row["change_low"] = comparison.low if comparison else np.nan
        row["change_high"] = comparison.high if comparison else np.nan
        row["p_value"] = comparison.p_value if comparison else np.nan
        row["significant"] = bool(comparison.significant) if comparison else False
        rows.append(row)
        previous = x
    columns = ["period", "period_start", "period_end", "n", "missing", "value", "low", "high", "se", "mean",
               "mean_low", "mean_high", "low_n", "incomplete"]  # fmt: skip
    if score == "nps":
        columns += ["detractors", "passives", "promoters"]
    columns += ["change", "change_low", "change_high", "p_value", "significant"]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs.update(
        score=score,
        freq=freq,
        min_responses=min_responses,
        scale_min=scale[0],
        scale_max=scale[1],
        positive_min=threshold if score == "csat" else None,
        after_observation_end=int((~keep).sum()),
    )
    return out


def _segments(surveys: pd.DataFrame, by: str) -> tuple[pd.Series, int]:
    require_columns(surveys, [by], "The segment comparison")
    labels = surveys[by]
    return labels, int(labels.isna().sum())


def score_by_segment(
    surveys: pd.DataFrame,
    score: str,
    by: str,
    *,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    scale_max: int | None = None,
    positive_min: int | None = None,
) -> pd.DataFrame:
    """A score per value of a segment column, largest segments first.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table with the ``score`` column and the segment column ``by``.
    score : {"nps", "csat", "ces"}
    by : str
        Segment column (e.g. ``"channel"``). Responses with no segment are left out and
        counted in ``attrs["missing_segment"]``.
    min_responses, scale_max, positive_min
        As in :func:`score_trend`.

    Returns
    -------
    DataFrame
        Columns ``by`` (the segment), ``n``, ``missing``, ``value``, ``low``, ``high``, ``se``,
        ``mean``, ``mean_low``, ``mean_high``, ``low_n`` (and the NPS composition for NPS).
    """
    _check_min_responses(min_responses)
    values, scale, threshold = checked_column(surveys, score, scale_max, positive_min)
    labels, missing_segment = _segments(surveys, by)
    rows = []
    for label in labels.dropna().unique():
        v = values[(labels == label).to_numpy()]
        est = _estimate(v, int(np.isnan(v).sum()), score=score, scale=scale, positive_min=threshold)
        rows.append({by: label} | _row(est, v, score, min_responses))
    columns = [by, "n", "missing", "value", "low", "high", "se", "mean", "mean_low",
               "mean_high", "low_n"]  # fmt: skip
    if score == "nps":
        columns += ["detractors", "passives", "promoters"]
    out = pd.DataFrame(rows, columns=columns)
    out = out.sort_values(["n", by], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.attrs.update(
        score=score,
        by=by,
        min_responses=min_responses,
        scale_min=scale[0],
        scale_max=scale[1],
        missing_segment=missing_segment,
    )
    return out


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p values (step-down, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def compare_segments(
    surveys: pd.DataFrame,
    score: str,
    by: str,
    *,
    max_segments: int = 8,
    scale_max: int | None = None,
    positive_min: int | None = None,
) -> pd.DataFrame:
    """Pairwise tests of a score between segments (the ``max_segments`` largest).

    Every pair is tested (NPS: normal test on ``SE = sqrt(SE1^2 + SE2^2)``; CSAT: pooled
    two-proportion z test; CES: Welch's t test). With many pairs some differ by chance, so
    ``p_holm`` adjusts the p values for the number of pairs (Holm-Bonferroni) and
    ``significant`` uses it.

    Returns
    -------
    DataFrame
        One row per pair: ``first``, ``second`` (segments, larger first), ``n_first``,
        ``n_second``, ``value_first``, ``value_second``, ``difference`` (second - first, in
        points; CES: the mean answers and their difference on the answer scale), ``low``,
        ``high`` (95 %), ``p_value``, ``p_holm`` and ``significant``. Pairs that cannot be
        tested (CES groups with
        fewer than two responses) are left out. ``attrs["segments_left_out"]`` counts the
        segments beyond ``max_segments``.
    """
    if isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 2:
        raise ValueError(f"max_segments must be a whole number >= 2, got {max_segments!r}.")
    values, scale, threshold = checked_column(surveys, score, scale_max, positive_min)
    labels, _ = _segments(surveys, by)
    groups = {}
    for label in labels.dropna().unique():
        v = values[(labels == label).to_numpy()]
        groups[label] = v[~np.isnan(v)]
    ordered = sorted(groups, key=lambda k: (-len(groups[k]), str(k)))
    kept = ordered[:max_segments]
    rows = []
    for first, second in itertools.combinations(kept, 2):
        a, b = groups[first], groups[second]
        c = _compare_clean(a, b, score=score, scale=scale, positive_min=threshold)
        if c is None:
            continue
        ea = _estimate(a, 0, score=score, scale=scale, positive_min=threshold)
        eb = _estimate(b, 0, score=score, scale=scale, positive_min=threshold)
        rows.append(
            {
                "first": first,
                "second": second,
                "n_first": len(a),
                "n_second": len(b),
                "value_first": ea.mean if score == "ces" else ea.value,
                "value_second": eb.mean if score == "ces" else eb.value,
                "difference": c.difference,
                "low": c.low,
                "high": c.high,
                "p_value": c.p_value,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "first",
            "second",
            "n_first",
            "n_second",
            "value_first",
            "value_second",
            "difference",
            "low",
            "high",
            "p_value",
        ],  # fmt: skip
    )
    out["p_holm"] = _holm(out["p_value"].to_numpy())
    out["significant"] = out["p_holm"] < 0.05
    out.attrs.update(score=score, by=by, segments_left_out=max(len(ordered) - max_segments, 0))
    return out


# --- answer counts and headline figures ----------------------------------------------------


def score_groups(values: np.ndarray, score: str, threshold: int) -> np.ndarray:
    """Group of each checked score: NPS ``detractor`` (0-6), ``passive`` (7-8), ``promoter``
    (9-10); CSAT ``positive`` (at least ``threshold``) or ``negative``; None where missing."""
    out = np.full(len(values), None, dtype=object)
    ok = ~np.isnan(values)
    if score == "nps":
        out[ok & (values <= 6)] = "detractor"
        out[ok & (values >= 7) & (values <= 8)] = "passive"
        out[ok & (values >= 9)] = "promoter"
    else:
        out[ok & (values >= threshold)] = "positive"
        out[ok & (values < threshold)] = "negative"
    return out


def nps_distribution(surveys: pd.DataFrame) -> pd.DataFrame:
    """Responses per NPS answer 0 to 10, each with its group.

    Parameters
    ----------
    surveys : DataFrame
        Canonical survey table with an ``nps`` column.

    Returns
    -------
    DataFrame
        Eleven rows, answers 0 to 10: ``answer``, ``group`` (detractor 0-6, passive 7-8,
        promoter 9-10), ``responses`` (count) and ``share`` (percent of the answers; NaN when
        there is none). ``attrs``: ``n`` (answers) and ``missing`` (responses without one).

    Examples
    --------
    >>> table = nps_distribution(pd.DataFrame({"nps": [10, 9, 6, 6, None]}))
    >>> table["responses"].tolist(), table.attrs["n"]
    ([0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 1], 4)
    """
    values, scale, _ = checked_column(surveys, "nps", None, None)
    answered = values[~np.isnan(values)].astype(int)
    answers = np.arange(scale[0], scale[1] + 1)
    counts = np.bincount(answered, minlength=len(answers))
    n = int(counts.sum())
    out = pd.DataFrame(
        {
            "answer": answers,
            "group": score_groups(answers.astype(float), "nps", 9),
            "responses": counts,
            "share": counts / n * 100 if n else np.full(len(answers), np.nan),
        }
    )
    out.attrs.update(n=n, missing=int(np.isnan(values).sum()))
    return out


def headline(name: str, value, label: str, unit: str | None = None, **extra) -> dict:
    """A headline figure as data: the keywords of :func:`retention_utils.record.record`."""
    return {"name": name, "value": value, "label": label, "unit": unit, **extra}


def score_unit(score: str, scale_max: int | None = None) -> str:
    """Unit a score is shown in: ``"points"`` (NPS), ``"%"`` (CSAT), ``"/ 7"`` (CES: the mean
    answer on its scale)."""
    return {"nps": "points", "csat": "%"}.get(score) or f"/ {scale_max or 7}"


def display_columns(score: str) -> tuple[str, str, str]:
    """The columns a score is shown by: CES by its mean answer, the others as computed."""
    return ("mean", "mean_low", "mean_high") if score == "ces" else ("value", "low", "high")


def score_figures(surveys: pd.DataFrame, summary: pd.DataFrame) -> list[dict]:
    """Headline figures of the survey: responses and each score with its 95 % interval.

    Parameters
    ----------
    surveys : DataFrame
        The responses analysed (for their number and dates).
    summary : DataFrame
        :func:`score_summary` of those responses.

    Returns
    -------
    list of dict
        ``responses`` (note: first to last response day), then ``nps`` (points), ``csat``
        (%), ``ces`` (the mean answer on its scale, unit ``"/ 7"``), each with ``low``,
        ``high`` and the note ``"n=1,204"``; a score the survey lacks has value None.
    """
    dates = pd.to_datetime(surveys[RESPONSE_DATE]) if RESPONSE_DATE in surveys else None
    period = None
    if dates is not None and dates.notna().any():
        period = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
    figures = [headline("responses", len(surveys), "Survey responses", note=period)]
    rows = summary.set_index("score") if len(summary) else summary
    for score in SCORES:
        label = LABELS[score]
        row = rows.loc[label] if label in rows.index and rows.loc[label, "n"] > 0 else None
        if row is None:
            figures.append(headline(score, None, label, score_unit(score)))
            continue
        top = int(str(row["scale"]).split("-")[1])
        value, low, high = (
            (row["mean"], row["mean_low"], row["mean_high"])
            if score == "ces"
            else (row["value"], row["low"], row["high"])
        )
        figures.append(
            headline(
                score,
                value,
                label,
                score_unit(score, top),
                low=low,
                high=high,
                note=f"n={int(row['n']):,}",
            )  # fmt: skip
        )
    return figures


def lowest_segment(by_segment: pd.DataFrame) -> dict | None:
    """Headline figure: the segment of :func:`score_by_segment` with the lowest score among
    segments with at least ``min_responses`` answers (CES: lowest mean answer), or None with
    fewer than two such segments. Named ``lowest_segment``; the label names the score, the
    segment column and the segment (``"Lowest NPS by channel: paid_search"``)."""
    score, by = by_segment.attrs.get("score", "nps"), by_segment.attrs.get("by")
    column, low, high = display_columns(score)
    usable = by_segment[~by_segment["low_n"] & by_segment[column].notna()]
    if len(usable) < 2:
        return None
    row = usable.loc[usable[column].idxmin()]
    return headline(
        "lowest_segment",
        row[column],
        f"Lowest {LABELS[score]} by {by}: {row[by]}",
        score_unit(score, by_segment.attrs.get("scale_max")),
        low=row[low],
        high=row[high],
        note=f"n={int(row['n']):,}",
    )
