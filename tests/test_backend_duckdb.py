"""The engine's DuckDB: one database per process (what a report's first call pays), and a
memory limit for data larger than memory (SPEC section 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retention_utils import engine
from retention_utils.engine import backend

PROJECT = Path(__file__).resolve().parents[1]


def _setting(name: str) -> str:
    return engine.connection().con.execute(f"SELECT current_setting('{name}')").fetchone()[0]


@pytest.fixture
def restore_settings():
    """Put the engine connection's settings back after a test changes them."""
    saved = dict(backend.DUCKDB_SETTINGS)
    before = {name: _setting(name) for name in ("memory_limit", "threads")}
    yield
    backend.DUCKDB_SETTINGS.clear()
    backend.DUCKDB_SETTINGS.update(saved)
    backend.configure_duckdb(**before)


def test_a_fresh_process_uses_one_duckdb_database_and_loads_one_sql_compiler():
    """A first call in a fresh process pays for every module and connection it loads: the
    engine needs neither pandera (loading and validation), nor ibis's own default DuckDB
    connection (a second database), nor the compilers of ibis's other SQL dialects."""
    code = """
import json, sys
import ibis, pandas as pd
from retention_utils import engine
tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
                   "order_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-02"]),
                   "amount": [10.0, 5.0, 7.0]})
out = engine.rfm_summary(tx)
compilers = sorted(m.rsplit(".", 1)[1] for m in sys.modules
                   if m.startswith("ibis.backends.sql.compilers."))
print(json.dumps({"default_backend": repr(ibis.options.default_backend),
                  "compilers": compilers, "pandera": "pandera" in sys.modules,
                  "frequency": out["frequency"].tolist(),
                  "observation_end": out.attrs["observation_end"]}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "default_backend": "None",
        "compilers": ["_compat", "base", "duckdb"],
        "pandera": False,
        "frequency": [1.0, 0.0],
        "observation_end": "2024-01-05",
    }


def test_sql_of_other_dialects_still_compiles():
    """ibis loads a dialect's compiler when asked for it."""
    table = ibis.table({"a": "int64"}, name="t")
    sql = ibis.to_sql(table.filter(table.a > 1), dialect="postgres")
    assert " ".join(sql.split()) == 'SELECT * FROM "t" AS "t0" WHERE "t0"."a" > 1'


def test_dataframe_queries_run_on_the_engine_connection():
    tx = pd.DataFrame(
        {"customer_id": ["a"], "order_date": pd.to_datetime(["2024-01-01"]), "amount": [1.0]}
    )
    assert backend.backend_of(engine.as_table(tx)) is engine.connection()


def test_configure_duckdb_sets_the_limit_and_the_threads(restore_settings):
    backend.configure_duckdb(memory_limit="3GB", threads=1)
    assert _setting("memory_limit") == "2.7 GiB"  # DuckDB's GB are 10**9 bytes
    assert _setting("threads") == 1
    assert backend.DUCKDB_SETTINGS["memory_limit"] == "3GB"


def test_a_query_larger_than_the_memory_limit_spills_and_gives_the_same_result(tmp_path):
    """60,000 customers over 300,000 rows, with DuckDB limited to 50 MB (in a process of its
    own: a spill folder cannot change once used): the aggregations spill to the folder and
    return the summary and KPI counts computed without a limit."""
    rng = np.random.default_rng(3)
    n = 300_000
    tx = pd.DataFrame(
        {
            "customer_id": pd.array([f"C{i:07d}" for i in rng.integers(0, 60_000, n)], dtype="str"),
            "order_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 730 * 86_400, n), unit="s"),
            "amount": rng.integers(100, 10_000, n) / 100,
        }
    )
    path = tmp_path / "tx.parquet"
    tx.to_parquet(path)
    code = f"""
import pandas as pd
from retention_utils import engine
from retention_utils.engine import backend
backend.configure_duckdb(memory_limit="50MB", temp_directory={str(tmp_path / "spill")!r})
engine.rfm_summary({str(path)!r}).to_pickle({str(tmp_path / "rfm.pkl")!r})
engine.kpi_counts({str(path)!r}).to_pickle({str(tmp_path / "kpi.pkl")!r})
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pd.testing.assert_frame_equal(
        pd.read_pickle(tmp_path / "rfm.pkl"), engine.rfm_summary(str(path))
    )
    pd.testing.assert_frame_equal(
        pd.read_pickle(tmp_path / "kpi.pkl"), engine.kpi_counts(str(path))
    )


def test_the_last_day_comes_from_the_frame_or_from_a_query_alike():
    """A DataFrame's last order day is read from the frame; an Arrow table's (or a zoned
    frame's) from a query. Both give the same summary."""
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_date": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-08 23:30", "2024-01-05 00:00"]
            ),
            "amount": [10.0, 20.0, 7.0],
        }
    )
    arrow = ibis.memtable(pa.Table.from_pandas(tx))
    assert backend.frame_of(engine.as_table(tx)) is tx
    assert backend.frame_of(arrow) is None
    from_frame, from_arrow = engine.rfm_summary(tx), engine.rfm_summary(arrow)
    pd.testing.assert_frame_equal(from_frame, from_arrow)
    assert from_frame.attrs["observation_end"] == "2024-01-08"
    assert from_frame["T"].tolist() == [7.0, 3.0]
