"""Calendar periods and days: period codes and indexes, period grids, day arguments and the
observation-end rule. Plain pandas, no data access: the engine computes the bounds, this
module says what they mean."""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = [
    "KPI_FREQS",
    "WEEK_ORIGIN",
    "PeriodGrid",
    "as_day",
    "check_period_freq",
    "day_end",
    "future_cutoff",
    "lifetimes_period_start",
    "observation_end_or_last",
    "period_index",
    "period_label",
    "period_start",
]


def as_day(value, name: str) -> pd.Timestamp:
    """A date argument as a midnight Timestamp (naive), with a clear error when it is not one."""
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a date; give it as 'YYYY-MM-DD'.") from exc
    if pd.isna(day):
        raise ValueError(f"{name} is missing; give it as 'YYYY-MM-DD'.")
    if day.tzinfo is not None:
        day = day.tz_convert("UTC").tz_localize(None)
    return day.normalize()


def lifetimes_period_start(day: pd.Timestamp, freq: str) -> pd.Timestamp:
    """Start of the lifetimes period (``to_period(freq).to_timestamp()``) holding ``day``."""
    return day.to_period(freq).to_timestamp()


def day_end(observation_end) -> dt.datetime | None:
    """Exclusive upper bound: the instant after the last observed day."""
    if observation_end is None:
        return None
    day = pd.Timestamp(observation_end).normalize()
    return (day + pd.Timedelta(days=1)).to_pydatetime()


def observation_end_or_last(observation_end, last_day) -> pd.Timestamp:
    """The observation end of an analysis: ``observation_end`` when given, else the last day
    of data (``last_day``: a day, or a callable returning it, so it is computed only when
    needed). A midnight Timestamp, naive (UTC)."""
    if observation_end is not None and not (
        isinstance(observation_end, str) and not observation_end.strip()
    ):
        return as_day(observation_end, "observation_end")
    return as_day(last_day() if callable(last_day) else last_day, "last day of data")


#: Rows dated up to this long after the moment of loading are accepted (clocks and time
#: zones of the systems that wrote the export differ).
FUTURE_GRACE = pd.Timedelta(days=1)


def future_cutoff(now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The instant after which a row is dated in the future: the moment of loading (UTC,
    naive) plus :data:`FUTURE_GRACE`. The default observation end is the last order date, so
    one mistyped year (2099) would otherwise move it decades ahead."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else pd.Timestamp(now)
    return now + FUTURE_GRACE


#: Calendar period codes accepted by the KPI and cohort functions.
KPI_FREQS: tuple[str, ...] = ("W", "M", "Q", "Y")
WEEK_ORIGIN = dt.date(1900, 1, 1)  # a Monday: week indexes count Monday-to-Sunday weeks


def check_period_freq(freq: str) -> str:
    """``freq`` if it is a calendar period code of :data:`KPI_FREQS`, else a clear error."""
    if freq not in KPI_FREQS:
        raise ValueError(
            f"freq must be one of 'W' (Monday-to-Sunday weeks), 'M' (calendar months), "
            f"'Q' (calendar quarters) or 'Y' (calendar years), got {freq!r}."
        )
    return freq


def period_index(day, freq: str) -> int:
    """Integer index of the calendar period holding ``day`` (pandas side of
    :func:`period_index_expr`)."""
    check_period_freq(freq)
    day = pd.Timestamp(day)
    if freq == "M":
        return day.year * 12 + day.month - 1
    if freq == "Q":
        return day.year * 4 + day.quarter - 1
    if freq == "Y":
        return day.year
    return (day.normalize() - pd.Timestamp(WEEK_ORIGIN)).days // 7


def period_start(index: int, freq: str) -> pd.Timestamp:
    """Start (midnight, inclusive) of the calendar period with this index."""
    check_period_freq(freq)
    index = int(index)
    if freq == "M":
        return pd.Timestamp(year=index // 12, month=index % 12 + 1, day=1)
    if freq == "Q":
        return pd.Timestamp(year=index // 4, month=3 * (index % 4) + 1, day=1)
    if freq == "Y":
        return pd.Timestamp(year=index, month=1, day=1)
    return pd.Timestamp(WEEK_ORIGIN) + pd.Timedelta(days=7 * index)


def period_label(index: int, freq: str) -> pd.Period:
    """The calendar period with this index as a :class:`pandas.Period` (weeks are W-SUN,
    i.e. Monday to Sunday)."""
    return pd.Period(period_start(index, freq), freq=freq)


class PeriodGrid:
    """The calendar periods a KPI or cohort table covers.

    Periods ``first`` ... ``last`` (integer indexes, see :func:`period_index`) run from the
    period holding the first transaction day to the period holding ``observation_end`` (the
    last observed day, inclusive). ``final_end`` is the end instant of the last period as
    observed: its calendar end, or ``observation_end + 1 day`` when the observation end cuts
    it short (the period is then *incomplete*).
    """

    def __init__(
        self, freq: str, first: int, last: int, first_day: pd.Timestamp, observation_end
    ) -> None:
        self.freq = freq
        self.first = int(first)
        self.last = int(last)
        self.first_day = pd.Timestamp(first_day)
        self.observation_end = pd.Timestamp(observation_end)

    def __repr__(self) -> str:
        return (
            f"PeriodGrid(freq={self.freq!r}, first={period_label(self.first, self.freq)}, "
            f"last={period_label(self.last, self.freq)}, "
            f"observation_end={self.observation_end.date()})"
        )

    @property
    def cut(self) -> pd.Timestamp:
        """The instant after the last observed day (exclusive end of the data)."""
        return self.observation_end + pd.Timedelta(days=1)

    @property
    def incomplete_last(self) -> bool:
        """Whether ``observation_end`` cuts the last period short."""
        return period_start(self.last + 1, self.freq) > self.cut

    @property
    def final_end(self) -> pd.Timestamp:
        return min(period_start(self.last + 1, self.freq), self.cut)

    def frame(self) -> pd.DataFrame:
        """One row per period: ``index``, ``period``, ``period_start``, ``period_end``
        (calendar end, exclusive), ``incomplete``."""
        idx = list(range(self.first, self.last + 1))
        starts = [period_start(i, self.freq) for i in idx]
        ends = [period_start(i + 1, self.freq) for i in idx]
        return pd.DataFrame(
            {
                "index": idx,
                "period": pd.PeriodIndex([period_label(i, self.freq) for i in idx]),
                "period_start": pd.to_datetime(starts),
                "period_end": pd.to_datetime(ends),
                "incomplete": [e > self.cut for e in ends],
            }
        )
