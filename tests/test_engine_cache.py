"""The engine's reuse of daily purchase tables for large DataFrames gives the same numbers as
computing from the transactions every time, and never serves a stale table."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from retention_utils import cohorts, engine, io, kpis
from retention_utils.engine import backend

END = "2025-06-30"


@pytest.fixture(scope="module")
def tx():
    return io.open_dataset("demo")


@pytest.fixture
def cache_on(monkeypatch):
    """Every DataFrame is kept, whatever its size."""
    engine.clear_cache()
    monkeypatch.setattr(backend, "CACHE_MIN_ROWS", 0)
    yield
    engine.clear_cache()


def _everything(tx: pd.DataFrame) -> dict:
    return {
        "rfm_days": engine.rfm_summary(tx),
        "rfm_weeks_end": engine.rfm_summary(tx, freq="W", observation_end=END),
        "holdout": engine.calibration_holdout(tx, calibration_end="2025-01-31", freq="D"),
        "history": engine.customer_history(tx, observation_end=END),
        "tracking": engine.purchase_tracking(tx, observation_end=END),
        "kpi": engine.kpi_counts(tx, freq="M", observation_end=END),
        "kpi_segment": engine.kpi_counts(
            tx, freq="Q", segment_col="channel", segment_value="social"
        ),
        "cohorts": engine.cohort_counts(tx, freq="M", segment="channel"),
        "window": pd.Series(
            engine.window_counts(tx, start="2024-07-01", end="2025-07-01", active_days=180)
        ).to_frame(),
        "simple_clv": pd.Series(kpis.simple_clv_inputs(tx, END)).to_frame(),
        "curve": cohorts.retention_curve(tx, "M", END),
    }


def _assert_same(got: dict, expected: dict) -> None:
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_exact=False, rtol=1e-12, obj=name)


def test_kept_daily_table_gives_the_same_results(tx, cache_on):
    backend.CACHE_MIN_ROWS = 10**12
    fresh = _everything(tx)
    backend.CACHE_MIN_ROWS = 0
    first = _everything(tx)  # builds the kept table
    assert len(backend._cache) == 1
    assert next(iter(backend._cache.values())).daily is not None
    second = _everything(tx)  # reuses it
    _assert_same(first, fresh)
    _assert_same(second, fresh)


def test_a_frame_edited_in_place_is_not_served_from_the_cache(tx, cache_on):
    frame = tx.copy()
    before = engine.customer_history(frame)
    customer = frame.loc[0, "customer_id"]
    frame.loc[0, "amount"] += 1000.0  # same object, new content
    after = engine.customer_history(frame)
    assert after.loc[customer, "revenue"] == pytest.approx(before.loc[customer, "revenue"] + 1000)
    assert len(backend._cache) == 2  # one entry per content


def test_an_equal_copy_reuses_the_kept_table_and_the_oldest_is_dropped(tx, cache_on):
    engine.rfm_summary(tx)
    engine.rfm_summary(tx.copy())
    assert len(backend._cache) == 1
    kept = next(iter(backend._cache.values())).daily.get_name().rsplit(".", 1)[-1]
    assert kept in _duckdb_tables()
    for extra in (1.0, 2.0):
        engine.rfm_summary(tx.assign(amount=tx["amount"] + extra))
    assert len(backend._cache) == backend.CACHE_SIZE
    assert kept not in _duckdb_tables()
    engine.clear_cache()
    assert not [n for n in _duckdb_tables() if n.startswith("_retention_daily")]


def _duckdb_tables() -> set[str]:
    rows = engine.connection().con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    return {name for (name,) in rows}


def test_small_frames_and_object_columns_are_not_kept(tx, cache_on):
    backend.CACHE_MIN_ROWS = len(tx) + 1
    engine.rfm_summary(tx)
    assert len(backend._cache) == 0
    backend.CACHE_MIN_ROWS = 0
    engine.rfm_summary(tx.assign(note=pd.Series("text", index=tx.index, dtype=object)))
    assert len(backend._cache) == 0


def test_scratch_duckdb_queries_work_inside_a_jupyter_kernel(tmp_path):
    """In a kernel, DuckDB tries to draw a progress bar (and fails without ipywidgets) unless
    it is switched off; the fallbacks would then hide the failure and just run slowly."""
    import nbformat
    import papermill as pm

    code = """
import pandas as pd
from retention_utils import engine, io
from retention_utils.engine import backend

def no_pandas(*args, **kwargs):
    raise AssertionError("pandas fallback used")

frame = pd.DataFrame({"a": pd.array(["x", "x", "y"], dtype="str"), "b": [1.0, 1.0, 2.0]})
pd.DataFrame.duplicated = no_pandas
assert io._count_duplicates(frame) == 1
assert backend._content_key(frame) is not None
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    path = tmp_path / "kernel.ipynb"
    nbformat.write(notebook, path)
    pm.execute_notebook(
        str(path), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False
    )


def test_the_daily_table_is_written_only_when_asked_for_twice(tx, cache_on):
    engine.customer_history(tx)
    (entry,) = backend._cache.values()
    assert entry.daily is None  # one call: straight from the transactions
    engine.customer_history(tx)
    assert entry.daily is not None


def test_keep_builds_the_daily_table_at_once_and_gives_the_same_results(tx, cache_on):
    backend.CACHE_MIN_ROWS = 10**12
    fresh = engine.customer_history(tx)
    engine.keep(tx)  # below the threshold: nothing is kept
    assert len(backend._cache) == 0
    backend.CACHE_MIN_ROWS = 0
    engine.keep(tx)
    (entry,) = backend._cache.values()
    assert entry.daily is not None
    assert_frame_equal(engine.customer_history(tx), fresh, check_exact=False, rtol=1e-12)
    with pytest.raises(TypeError, match="DataFrame"):
        engine.keep("transactions.parquet")
