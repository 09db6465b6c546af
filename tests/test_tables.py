"""Readable tables: numbers written out, never in scientific notation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils.tables import readable


def test_numbers_are_written_out_with_separators_and_fixed_decimals():
    frame = pd.DataFrame(
        {
            "segment": ["high value", "at risk"],
            "customers": [398_905, 457],
            "revenue": [3.385705e08, 342_040.2],
            "p_alive": [0.990004, 0.3326925],
            "flag": [True, False],
        }
    )
    out = readable(frame, {"p_alive": 3})
    assert out.to_dict("list") == {
        "segment": ["high value", "at risk"],
        "customers": ["398,905", "457"],
        "revenue": ["338,570,500.00", "342,040.20"],
        "p_alive": ["0.990", "0.333"],
        "flag": [True, False],
    }
    assert frame["revenue"].iloc[0] == 3.385705e08  # the input is left alone


def test_missing_and_infinite_values_stay_visible():
    frame = pd.DataFrame(
        {"x": [np.nan, np.inf, -1234.5], "n": pd.array([None, 2, 3000], dtype="Int64")}
    )
    out = readable(frame, 1, missing="n/a")
    assert out["x"].tolist() == ["n/a", "inf", "-1,234.5"]
    assert out["n"].tolist() == ["n/a", "2", "3,000"]
