"""Shared test helpers."""

from __future__ import annotations

import pandas as pd

#: Columns of the tuples given to :func:`tx_frame`, in order (a tuple may stop early).
TX_COLUMNS = ("customer_id", "order_date", "amount", "order_id", "channel")


def tx_frame(rows, columns: tuple[str, ...] = TX_COLUMNS) -> pd.DataFrame:
    """Canonical transactions from (customer, date, amount[, order_id[, channel]]) tuples;
    ``columns`` names the tuple fields otherwise. Without ``order_id`` each row is its own
    order (``o0``, ``o1``, ...)."""
    df = pd.DataFrame([tuple(r) for r in rows], columns=list(columns[: len(rows[0])]))
    df["order_date"] = pd.to_datetime(df["order_date"], format="ISO8601")
    df["amount"] = df["amount"].astype(float)
    if "order_id" not in df:
        df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df
