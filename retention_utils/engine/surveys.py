"""Survey responses linked to purchases: is the respondent a customer, did they buy again?"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from retention_utils.config import CUSTOMER
from retention_utils.engine.backend import Source, as_table, quiet_bridge, to_pandas
from retention_utils.engine.daily import _observation_end, purchase_days_expr, within_observation


def response_followups(
    transactions: Source,
    customers: pd.Series,
    response_days: pd.Series,
    *,
    followup_days: int,
    observation_end=None,
) -> pd.DataFrame:
    """For each survey response: is its customer known, and did they buy again in time?

    Parameters
    ----------
    transactions : DataFrame, path/glob to Parquet/CSV, or ibis table
        Canonical transactions.
    customers : Series
        Customer ID of each response (text).
    response_days : Series
        Day of each response (``d0``), same length.
    followup_days : int
        Length of the follow-up window, in days.
    observation_end : date-like, optional
        Last day of data (inclusive); default the last transaction day.

    Returns
    -------
    DataFrame
        One row per response, in order: ``known`` (the customer has a transaction up to
        ``observation_end``) and ``repurchased`` (a purchase day ``d`` with
        ``d0 < d <= d0 + followup_days``). ``attrs["observation_end"]`` (Timestamp).
    """
    table = as_table(transactions)
    end = _observation_end(table, observation_end)
    table = within_observation(table, end)
    d0 = pd.to_datetime(pd.Series(response_days).to_numpy()).normalize()
    responses = pd.DataFrame(
        {
            "_response": np.arange(len(d0)),
            CUSTOMER: pd.Series(customers).astype("string").fillna("").to_numpy(dtype=str),
            "d0": d0,
            "d1": d0 + pd.Timedelta(days=int(followup_days)),
        }
    )
    with quiet_bridge():
        resp = ibis.memtable(responses)
    resp = resp.mutate(d0=resp.d0.date(), d1=resp.d1.date())
    surveyed = resp.select(CUSTOMER).distinct()
    # Only the surveyed customers' transactions matter: filter first, aggregate after.
    tx = table.semi_join(surveyed, table[CUSTOMER].cast("string") == surveyed[CUSTOMER])
    known = to_pandas(tx.select(tx[CUSTOMER].cast("string").name(CUSTOMER)).distinct())
    days = purchase_days_expr(tx)
    days = days.filter(days.is_purchase).select(
        days[CUSTOMER].cast("string").name("_customer"), "day"
    )
    hits = (
        resp.join(days, [resp[CUSTOMER] == days._customer, days.day > resp.d0, days.day <= resp.d1])
        .select("_response")
        .distinct()
    )
    repurchased = to_pandas(hits)["_response"].to_numpy()
    out = pd.DataFrame(
        {
            "known": np.isin(responses[CUSTOMER].to_numpy(), known[CUSTOMER].to_numpy()),
            "repurchased": np.isin(responses["_response"].to_numpy(), repurchased),
        }
    )
    out.attrs["observation_end"] = end
    return out
