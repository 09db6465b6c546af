"""Every engine function gives the same result on Spark as on the embedded DuckDB (SPEC section
8): the same data (demo shop, a CDNOW slice, edge cases) is queried on both and the pandas
results must be equal: counts exactly, money to 1e-9.

One local Spark session (``local[1]``) serves the whole module. Without pyspark or Java the
module is skipped, except under CI (``CI`` set), where it fails: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from typer.testing import CliRunner

from retention_utils import engine, io
from retention_utils.batch.cli import app
from retention_utils.engine import backend, sources
from retention_utils.engine.sources import open_report_transactions

pytestmark = pytest.mark.spark

_MISSING = (
    "pyspark is not installed (run `make setup-spark`)"
    if backend.pyspark is None
    else "Java is not installed (Debian: apt-get install default-jre-headless)"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java"))
    else None
)
if _MISSING and os.environ.get("CI"):
    pytest.fail(f"The Spark conformance suite cannot run under CI: {_MISSING}.", pytrace=False)
if _MISSING:
    pytest.skip(f"Spark conformance suite skipped: {_MISSING}.", allow_module_level=True)


#: Returns, a $0.00 order, a purchase returned in full, times of day on both sides of
#: midnight, a customer with a segment value missing, and a return-only customer.
EDGE = tx_frame(
    [
        ("a", "2024-01-01 23:59:59", 10.0, "o1", "web"),
        ("a", "2024-01-01 00:00:01", -4.0, "o2", "web"),
        ("a", "2024-01-02 00:00:00", 0.0, "o3", "web"),  # a free item: a purchase
        ("a", "2024-02-15 12:30:00", 20.0, "o4", "shop"),
        ("b", "2024-01-10 08:00:00", 30.0, "o5", "shop"),
        ("b", "2024-01-10 18:00:00", -30.0, "o6", "shop"),  # returned in full: no purchase
        ("b", "2024-03-03 09:15:00", 12.34, "o7", "shop"),
        ("b", "2024-03-03 09:15:00", 0.01, "o7", "shop"),  # two lines of one order
        ("c", "2024-02-29 23:00:00", 5.5, "o8", None),
        ("c", "2024-04-30 01:00:00", 7.25, "o9", None),
        ("d", "2024-03-01 10:00:00", -3.0, "o10", "web"),  # only a return
        ("e", "2024-04-01 00:00:00", 99.99, "o11", "web"),
        ("e", "2024-04-08 00:00:00", 0.0, "o12", "web"),
    ]
)


#: Small data: compiling each query's whole-stage code and re-planning it adaptively cost
#: more than they save. Measured on a busy 2-core machine, kpi_counts and rfm_summary on the
#: demo shop: 54 s with Spark's defaults, 24-30 s without adaptive planning, 16 s without
#: code generation either. Results do not depend on them.
SMALL_DATA = {"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"}


@pytest.fixture(scope="module")
def spark():
    con = backend.spark_backend(master="local[1]")
    for key, value in SMALL_DATA.items():
        con._session.conf.set(key, value)
    return con


@pytest.fixture(scope="module")
def data(spark):
    """Each data set as a pandas frame (run on DuckDB) and as a Spark table."""
    frames = {
        "demo": io.open_dataset("demo"),
        "cdnow": io.load_cdnow(sample=True),
        "edge": EDGE,
    }
    return {name: (frame, backend.spark_table(frame, spark)) for name, frame in frames.items()}


@pytest.fixture(scope="module")
def subscriptions(spark):
    frame = io.open_dataset("demo", "subscriptions")
    return frame, backend.spark_table(frame, spark)


def assert_same(duck, spark) -> None:
    """Equal results: same index, columns and dtypes; counts, text and dates exactly, floats
    (money) to 1e-9."""
    if isinstance(duck, dict):
        assert duck.keys() == spark.keys()
        duck, spark = pd.Series(duck).to_frame(), pd.Series(spark).to_frame()
    pd.testing.assert_index_equal(spark.index, duck.index, exact=True)
    assert list(spark.columns) == list(duck.columns)
    for col in duck.columns:
        a, b = duck[col], spark[col]
        assert b.dtype == a.dtype, f"{col}: {b.dtype} on Spark, {a.dtype} on DuckDB"
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=0, atol=1e-9, err_msg=col)
        elif a.dtype == object:  # mixed values (window_counts' numbers, segment reasons)
            expected = [pytest.approx(v, rel=0, abs=1e-9) if isinstance(v, float) else v for v in a]
            assert b.tolist() == expected, col
        else:
            pd.testing.assert_series_equal(b, a, check_exact=True, obj=col)
    assert spark.attrs.keys() == duck.attrs.keys()


CASES = {
    "daily_purchases": (engine.daily_purchases, {}),
    "daily_purchases_by": (engine.daily_purchases, {"by": ["channel"]}),
    "rfm_days": (engine.rfm_summary, {}),
    "rfm_weeks": (engine.rfm_summary, {"freq": "W", "observation_end": "2024-04-15"}),
    "rfm_fractional_weeks": (engine.rfm_summary, {"freq": "D", "freq_multiplier": 7}),
    "rfm_counts": (engine.rfm_counts, {"freq": "D", "freq_multiplier": 7}),
    "holdout": (engine.calibration_holdout, {"holdout_days": 60}),
    "customer_history": (engine.customer_history, {}),
    "purchase_tracking": (engine.purchase_tracking, {}),
    "kpi_months": (engine.kpi_counts, {"freq": "M", "active_days": 60}),
    "kpi_weeks": (engine.kpi_counts, {"freq": "W", "active_days": 30}),
    "kpi_segment": (
        engine.kpi_counts,
        {"freq": "Q", "segment_col": "channel", "segment_value": "web"},
    ),
    "window": (
        engine.window_counts,
        {"start": "2024-02-01", "end": "2024-04-01", "active_days": 45},
    ),
    "cohorts": (engine.cohort_counts, {"freq": "M"}),
    "cohorts_by_segment": (engine.cohort_counts, {"freq": "M", "segment": "channel"}),
    "cohorts_rolling": (engine.cohort_counts, {"freq": "W", "window": "rolling"}),
    "survival": (engine.survival_counts, {"active_days": 30}),
    "survival_by_segment": (engine.survival_counts, {"active_days": 30, "by": "channel"}),
    "purchase_days": (engine.customer_purchase_days, {"customer_ids": ["a", "b", "e"]}),
    "segment_sizes": (engine.segment_sizes, {"column": "channel", "min_customers": 2}),
}

#: The larger data sets run the functions the reports lean on (their time is Spark's).
DATASET_CASES = {
    "edge": list(CASES),
    "demo": ["rfm_days", "holdout", "kpi_segment", "window", "cohorts_by_segment", "purchase_days"],
    "cdnow": ["rfm_fractional_weeks", "rfm_counts", "kpi_months"],
}
#: Options that fit the larger data sets' dates better than the edge case's.
DATASET_OPTIONS = {
    ("demo", "window"): {"start": "2024-07-01", "end": "2025-07-01", "active_days": 180},
    ("demo", "holdout"): {"calibration_end": "2025-01-31"},
    ("demo", "kpi_segment"): {"freq": "Q", "segment_col": "channel", "segment_value": "social"},
    ("cdnow", "kpi_months"): {"freq": "M", "active_days": 90},
    ("demo", "purchase_days"): {"customer_ids": ["C00001", "C00002", "C00004"]},
}


@pytest.mark.parametrize(
    ("dataset", "case"), [(d, c) for d, cases in DATASET_CASES.items() for c in cases]
)
def test_same_result_on_spark_and_duckdb(data, dataset, case):
    function, options = CASES[case]
    options = DATASET_OPTIONS.get((dataset, case), options)
    frame, table = data[dataset]
    assert_same(function(frame, **options), function(table, **options))


def test_an_empty_segment_fails_the_same_way(data):
    frame, table = data["edge"]
    options = {"freq": "M", "segment_col": "channel", "segment_value": "catalogue"}
    with pytest.raises(ValueError) as on_duckdb:
        engine.kpi_counts(frame, **options)
    with pytest.raises(ValueError) as on_spark:
        engine.kpi_counts(table, **options)
    assert str(on_spark.value) == str(on_duckdb.value)


@pytest.mark.parametrize(
    ("function", "options"),
    [
        (engine.subscription_flows, {}),
        (engine.subscription_flows, {"freq": "Q", "observation_end": "2025-03-31"}),
        (engine.subscription_survival_counts, {}),
        (engine.subscription_survival_counts, {"by": "plan", "observation_end": "2025-06-30"}),
    ],
)
def test_subscriptions(subscriptions, function, options):
    frame, table = subscriptions
    assert_same(function(frame, **options), function(table, **options))


def test_response_followups(data):
    surveys = io.open_dataset("demo", "surveys")
    frame, table = data["demo"]
    args = (surveys["customer_id"], surveys["response_date"])
    duck = engine.response_followups(frame, *args, followup_days=90)
    assert duck["repurchased"].sum() > 0
    assert_same(duck, engine.response_followups(table, *args, followup_days=90))


def test_a_kept_spark_table_is_cached_by_spark_and_gives_the_same_results(data):
    frame, table = data["edge"]
    expected = engine.customer_history(frame)
    try:
        engine.keep(table)
        (entry,) = [e for e in backend._cache.values() if e.table is table]
        assert backend.is_spark(entry.daily)
        assert_same(expected, engine.customer_history(table))
    finally:
        engine.clear_cache()


def test_paths_are_read_by_spark(tmp_path, spark):
    path = tmp_path / "tx.parquet"
    EDGE.to_parquet(path)
    table = engine.open_transactions(path, engine="spark", spark_master="local[1]")
    assert backend.is_spark(table)
    assert_same(engine.rfm_summary(EDGE), engine.rfm_summary(table))


# --- a report's transactions read by Spark (sources.open_report_transactions) -------------


def quality_rows(quality: pd.DataFrame) -> dict[str, str]:
    return dict(zip(quality["check"], quality["result"], strict=True))


def test_a_csv_with_its_own_column_names_is_mapped_cleaned_and_counted_on_spark(tmp_path, spark):
    demo = io.open_dataset("demo")
    own = demo.rename(columns={"customer_id": "cust", "order_date": "when", "amount": "value"})
    own["when"] = own["when"].dt.strftime("%Y-%m-%d %H:%M:%S")
    own.loc[3, "cust"] = None  # dropped and counted, as by the pandas loader
    path = tmp_path / "orders.csv"
    own.to_csv(path, index=False)
    mapping = {"customer_col": "cust", "date_col": "when", "amount_col": "value"}
    end = "2025-06-30"
    duck = open_report_transactions(str(path), observation_end=end, **mapping)
    on_spark = open_report_transactions(
        str(path), engine="spark", spark_master="local[1]", observation_end=end, **mapping
    )
    assert backend.is_spark(on_spark.table)
    assert_same(engine.rfm_summary(duck.table), engine.rfm_summary(on_spark.table))
    expected, seen = quality_rows(duck.quality), quality_rows(on_spark.quality)
    for check in ("rows read", "rows kept", "return lines (negative amount)", "customers"):
        assert seen[check] == expected[check], check
    assert seen["rows dropped: after the observation end"] == "9,306"
    assert seen["rows dropped: missing customer ID, date or amount"] == "1"
    # An amount Spark cannot read is dropped and counted too (the pandas loader refuses it).
    EDGE.assign(amount=EDGE["amount"].astype(str).replace("0.0", "n/a")).to_csv(path, index=False)
    edge = open_report_transactions(str(path), engine="spark", spark_master="local[1]")
    assert quality_rows(edge.quality)["rows dropped: missing customer ID, date or amount"] == "2"
    assert quality_rows(edge.quality)["rows kept"] == f"{len(EDGE) - 2:,}"
    assert seen["date range"] == "2024-01-01 to 2025-06-30"
    assert seen["source"] == f"{path} (read by Spark)"
    assert seen["not checked"] == sources.NOT_CHECKED


def test_a_catalog_table_and_a_built_in_data_set_on_spark(tmp_path, data, spark):
    frame, _ = data["demo"]
    spark._session.createDataFrame(frame.head(500).astype({"channel": object})).write.mode(
        "overwrite"
    ).saveAsTable("shop_orders")
    catalog = open_report_transactions(
        "default.shop_orders", engine="spark", spark_master="local[1]"
    )
    assert quality_rows(catalog.quality)["rows kept"] == "500"
    assert_same(engine.customer_history(frame.head(500)), engine.customer_history(catalog.table))
    built_in = open_report_transactions("demo", engine="spark", spark_master="local[1]")
    assert backend.is_spark(built_in.table)
    assert built_in.quality.iloc[-1].tolist() == [
        "engine",
        "checked by the pandas loader, then sent to Spark",
    ]
    with pytest.raises(FileNotFoundError, match="'sales.orders' is neither a file nor a table"):
        open_report_transactions("sales.orders", engine="spark", spark_master="local[1]")


def test_options_only_the_pandas_loader_applies_are_refused_on_spark(tmp_path):
    path = tmp_path / "orders.parquet"
    EDGE.to_parquet(path)
    with pytest.raises(ValueError) as refused:
        open_report_transactions(
            str(path), engine="spark", spark_master="local[1]", decimal=",", dayfirst=True
        )
    assert str(refused.value) == (
        "With engine='spark' the files are read by Spark, which does not apply dayfirst, "
        "decimal: store dates as timestamps (or ISO text) and amounts as numbers, or leave "
        "these options empty."
    )


# --- the reports on Spark ---------------------------------------------------------------


def headline_values(out) -> dict[str, dict[str, object]]:
    summary = json.loads((out / "summary.json").read_text())
    return {
        r["name"]: {h["name"]: (h["value"], h["label"]) for h in r["headlines"]}
        for r in summary["reports"]
    }


@pytest.mark.slow
def test_cohort_and_clv_reports_give_the_same_headline_figures_on_spark(tmp_path):
    """The notebooks end to end (Spark reads the Parquet file in the kernel, one session per
    report) against the same notebooks on DuckDB."""
    demo = io.open_dataset("demo")
    small = demo[demo["customer_id"] <= "C00800"]
    path = tmp_path / "orders.parquet"
    small.to_parquet(path)
    common = ["cohort", "clv", "--data", str(path), "-p", "holdout_days=120"]
    found = {}
    for name, options in {
        "duckdb": [],
        "spark": ["--engine", "spark", "--spark-master", "local[1]"],
    }.items():
        out = tmp_path / name
        result = CliRunner().invoke(app, ["run", *common, "--out", str(out), *options])
        assert result.exit_code == 0, result.output
        found[name] = headline_values(out)
        for report in ("cohort", "clv"):
            page = (out / f"{report}.html").read_text()
            assert ("(read by Spark)" in page) == (name == "spark")  # the quality table
            assert "log4j" not in page and "jdk.incubator" not in page  # no JVM notices
    assert found["spark"].keys() == found["duckdb"].keys() == {"cohort", "clv"}
    for report, figures in found["duckdb"].items():
        on_spark = found["spark"][report]
        assert on_spark.keys() == figures.keys(), report
        assert len(figures) >= 8, report
        for name, (value, label) in figures.items():
            assert on_spark[name][1] == label, (report, name)
            if isinstance(value, float):
                assert on_spark[name][0] == pytest.approx(value, rel=1e-6, abs=1e-9), name
            else:
                assert on_spark[name][0] == value, (report, name)
