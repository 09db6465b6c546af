"""The backend layer: clear errors when Spark cannot start, one set of dtypes whatever runs the
query, and the engine's re-exports."""

from __future__ import annotations

import pandas as pd
import pytest

from retention_utils import engine
from retention_utils.engine import backend


def test_spark_without_the_extra_says_what_to_run(monkeypatch):
    monkeypatch.setattr(backend, "pyspark", None)
    with pytest.raises(RuntimeError) as info:
        engine.spark_session(master="local[1]")
    assert str(info.value) == (
        "Spark is not installed: run `make setup-spark` (or pip install -e '.[spark]')."
    )


def test_spark_without_java_says_what_to_install(monkeypatch):
    if backend.pyspark is None:
        monkeypatch.setattr(backend, "pyspark", object())
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(backend.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError) as info:
        engine.spark_session(master="local[1]")
    assert str(info.value) == (
        "Spark needs Java 17 or later: install it (Debian: apt-get install "
        "default-jre-headless) or set JAVA_HOME."
    )


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of duckdb, spark, got 'polars'"):
        engine.open_transactions(pd.DataFrame(), engine="polars")


def test_dates_and_timestamps_come_back_in_one_unit_each():
    tx = pd.DataFrame(
        {
            "customer_id": ["a"],
            "order_date": pd.to_datetime(["2024-01-01 10:00"]).astype("datetime64[ns]"),
            "amount": [1.0],
        }
    )
    table = engine.as_table(tx)
    out = engine.to_pandas(table.select("order_date", day=table.order_date.date()))
    assert out.dtypes.astype(str).tolist() == ["datetime64[us]", "datetime64[s]"]
    assert out["day"].iloc[0] == pd.Timestamp("2024-01-01")
