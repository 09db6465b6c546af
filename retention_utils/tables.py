"""Tables as a reader sees them in a report: fixed decimals and thousands separators.

pandas switches a whole float column to scientific notation as soon as its values span a
few orders of magnitude (``3.385705e+08`` next to ``457.0``), which is hard to read in a
report. :func:`readable` returns a copy with every number written out as text.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def readable(
    frame: pd.DataFrame, decimals: int | Mapping[str, int] = 2, *, missing: str = ""
) -> pd.DataFrame:
    """A copy of ``frame`` for display: numbers as text with thousands separators.

    Parameters
    ----------
    frame : DataFrame
        Any table; only numeric columns change.
    decimals : int or mapping of column to int
        Decimals of float columns (default 2); a mapping sets some columns and leaves the
        others at 2. Integer columns get none.
    missing : str
        Text shown for missing values.

    Examples
    --------
    >>> readable(pd.DataFrame({"revenue": [338570500.0, 457.123], "n": [1200, 3]}))
              revenue      n
    0  338,570,500.00  1,200
    1          457.12      3
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        if pd.api.types.is_integer_dtype(values):
            places = 0
        elif isinstance(decimals, Mapping):
            places = int(decimals.get(column, 2))
        else:
            places = int(decimals)
        out[column] = [
            missing if pd.isna(v) else f"{v:,.{places}f}" if np.isfinite(v) else str(v)
            for v in values.to_numpy(dtype=float, na_value=np.nan)
        ]
    return out
