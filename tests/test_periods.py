"""Days, periods and the observation-end rule."""

import pandas as pd
import pytest

from retention_utils import periods


def test_observation_end_or_last_prefers_the_given_day_and_computes_the_last_lazily():
    def never():
        raise AssertionError("the last day must not be computed when observation_end is given")

    assert periods.observation_end_or_last("2024-03-05 17:30", never) == pd.Timestamp("2024-03-05")
    assert periods.observation_end_or_last(None, lambda: "2024-02-01 08:00") == pd.Timestamp(
        "2024-02-01"
    )
    assert periods.observation_end_or_last("", pd.Timestamp("2024-01-31")) == pd.Timestamp(
        "2024-01-31"
    )


def test_as_day_converts_offsets_to_utc_and_names_a_bad_argument():
    assert periods.as_day("2024-01-01T01:00+02:00", "d") == pd.Timestamp("2023-12-31")
    with pytest.raises(ValueError, match=r"calibration_end='soon' is not a date"):
        periods.as_day("soon", "calibration_end")


def test_future_cutoff_is_one_day_after_now():
    assert periods.future_cutoff(pd.Timestamp("2026-11-30 12:00")) == pd.Timestamp(
        "2026-12-01 12:00"
    )


@pytest.mark.parametrize(
    ("day", "freq", "start"),
    [
        ("2024-02-29", "M", "2024-02-01"),
        ("2024-02-29", "Q", "2024-01-01"),
        ("2024-02-29", "Y", "2024-01-01"),
        ("2024-02-29", "W", "2024-02-26"),  # a Thursday; its week starts on Monday
    ],
)
def test_period_index_and_start_round_trip(day, freq, start):
    index = periods.period_index(day, freq)
    assert periods.period_start(index, freq) == pd.Timestamp(start)
    assert periods.period_start(index + 1, freq) > pd.Timestamp(day)
