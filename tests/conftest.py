"""Shared test helpers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

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


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo report pack (`python -m retention_utils demo`), run once per test session:
    ``result`` (the CLI's), ``out`` (the folder) and ``summary`` (summary.json)."""
    # Imported here: the batch CLI (papermill, nbconvert) is slow to import and most test
    # modules do not need it.
    from typer.testing import CliRunner

    from retention_utils.batch.cli import app

    out = tmp_path_factory.mktemp("demo") / "reports"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    return {"result": result, "out": out, "summary": summary}
