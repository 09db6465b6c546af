"""One measured call in a fresh process: ``python -m bench.case <case> <side> --input PATH``.

The process imports what the side needs and loads its input (``setup``, not timed), then
times the call with ``time.perf_counter`` and prints one JSON line (the last line of its
standard output)::

    {"case": "rfm", "side": "engine_parquet", "status": "ok", "wall_s": 1.23,
     "setup_s": 0.8, "setup_peak_mb": 210.0, "peak_mb": 480.5, "info": {...}}

``peak_mb`` is the process's peak resident memory (``getrusage`` maxrss) at the end of the
timed call, so it covers everything the process held up to then, input included;
``setup_peak_mb`` is the same before the call. ``status`` is ``"not available"`` when the
toolkit function under test does not exist (yet), ``"failed"`` when the call raised.
``--result PATH`` pickles the result for the same-result checks; ``--profile PATH`` runs
the call under pyinstrument and writes a text profile.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Calibration end of the holdout case: the last 184 days of the 2024-2025 logs are holdout.
CALIBRATION_END = "2025-06-30"


@dataclass(frozen=True)
class Side:
    """One way of computing a case's result.

    ``load``: ``"path"`` (the call gets the Parquet path), ``"csv"`` (the call gets the path
    of a CSV copy of the Parquet file, written once beside it, untimed), ``"frame"`` (the
    Parquet file is read into pandas during setup, untimed) or ``"spark"`` (a local Spark
    session, ``local[2]``, is started and the file opened on it during setup, untimed: its
    time is the side's input load). ``needs``: ``module:function`` names of the toolkit that
    must exist for the side to run; they are imported first, and that import is timed
    separately (``import_s``).
    """

    name: str
    label: str
    load: str
    call: Callable[[Any], Any]
    needs: tuple[str, ...] = ()
    baseline: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    sides: tuple[Side, ...]
    input: str = "transactions"  # or "summary" (RFM summary in weeks)
    notes: list[str] = field(default_factory=list)

    def side(self, name: str) -> Side:
        for side in self.sides:
            if side.name == name:
                return side
        raise KeyError(f"case {self.name!r} has no side {name!r}")

    @property
    def baseline(self) -> Side:
        return next(s for s in self.sides if s.baseline)


def _toolkit(name: str) -> Callable:
    module, function = name.split(":")
    return getattr(importlib.import_module(f"retention_utils.{module}"), function)


# --- the calls ----------------------------------------------------------------------------


def _rfm(source):
    return _toolkit("engine:rfm_summary")(source)


def _holdout(source):
    return _toolkit("engine:calibration_holdout")(source, calibration_end=CALIBRATION_END)


def _kpis(source):
    return _toolkit("kpis:kpi_table")(source)


def _cohorts(source):
    return _toolkit("cohorts:cohort_matrix")(source, metric="customers")


#: The scale case: DuckDB's memory limit, and where it spills beyond it (bench/out, ignored).
SCALE_MEMORY_LIMIT = "3GB"
SCALE_TEMP_DIRECTORY = Path(__file__).resolve().parent / "out" / "duckdb_tmp"
#: The Spark side of the spark cases.
SPARK_MASTER = "local[2]"


def _out_of_core(call: Callable[[Any], Any]) -> Callable[[Any], dict]:
    """``call`` on DuckDB limited to SCALE_MEMORY_LIMIT; returns a small summary (the result
    of 100 million rows is too large to pickle for the check)."""

    def scaled(source):
        _toolkit("engine.backend:configure_duckdb")(
            memory_limit=SCALE_MEMORY_LIMIT, temp_directory=str(SCALE_TEMP_DIRECTORY)
        )
        out = call(source)
        if "new_customers" in out.columns:  # a KPI table
            return {
                "periods": len(out),
                "customers": int(out["new_customers"].sum()),
                "orders": int(out["orders"].sum()),
                "revenue": float(out["revenue"].sum()),
            }
        return {
            "customers": len(out),
            "repeat_periods": float(out["frequency"].sum()),
            "mean_T": float(out["T"].mean()),
        }

    return scaled


def _load(source):
    return _toolkit("io:load_transactions")(source)


def _read_parquet(source):
    import pandas as pd

    return pd.read_parquet(source)


def _toolkit_fits(summary):
    import warnings

    fit_bgnbd, fit_gamma_gamma = (
        _toolkit("clv:fit_bgnbd"),
        _toolkit("clv:fit_gamma_gamma"),
    )
    clv = importlib.import_module("retention_utils.clv")
    with warnings.catch_warnings():
        # the benchmark data may break the Gamma-Gamma independence assumption; the fit is
        # what is measured here, its warning is not
        warnings.simplefilter("ignore", clv.ModelAssumptionWarning)
        bgf = fit_bgnbd(summary, penalizer=0.0)
        ggf = fit_gamma_gamma(summary, penalizer=0.0)
    return {
        "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
        "gamma_gamma": {k: float(v) for k, v in ggf.params_.items()},
        "rows_fitted": {"bgnbd": len(bgf.data), "gamma_gamma": len(ggf.data)},
        "penalizer": {"bgnbd": bgf.penalizer_coef, "gamma_gamma": ggf.penalizer_coef},
    }


def _toolkit_intervals(summary):
    """BG/NBD + Gamma-Gamma fits, then 200 Laplace draws of every customer's P(alive),
    expected purchases and CLV (the timed call covers all three; their split is in info)."""
    clv = importlib.import_module("retention_utils.clv")
    started = time.perf_counter()
    bgf = clv.fit_bgnbd(summary, penalizer=0.0)
    ggf = clv.fit_gamma_gamma(summary, penalizer=0.0)
    fitted, fitted_cpu = time.perf_counter(), time.process_time()
    intervals = clv.clv_intervals(summary, bgf, ggf, draws=200, method="laplace")
    done, done_cpu = time.perf_counter(), time.process_time()
    estimate = clv.predict_clv(summary, bgf, ggf)
    return {
        "fit_s": fitted - started,
        "intervals_s": done - fitted,
        # CPU seconds of the process (all threads) during clv_intervals: the machine is
        # shared, so the wall time depends on the load
        "intervals_cpu_s": done_cpu - fitted_cpu,
        "customers": len(summary),
        "rows_fitted": {"bgnbd": len(bgf.data), "gamma_gamma": len(ggf.data)},
        "totals": intervals.attrs["totals"].to_dict(),
        "estimate": {k: float(estimate[k].sum()) for k in ("p_alive", "expected_purchases", "clv")},
    }


def _toolkit_compare(source):
    """calibration_holdout (weeks) from the Parquet file, then compare_models."""
    engine = importlib.import_module("retention_utils.engine")
    clv = importlib.import_module("retention_utils.clv")
    started = time.perf_counter()
    calibration = engine.calibration_holdout(
        source, calibration_end=CALIBRATION_END, freq="D", freq_multiplier=7
    )
    split = time.perf_counter()
    table = clv.compare_models(calibration)
    done = time.perf_counter()
    return {
        "holdout_s": split - started,
        "compare_s": done - split,
        "customers": len(calibration),
        "table": table.to_dict(orient="list"),
        "chosen": table.attrs["chosen"],
    }


def _lifetimes(name: str) -> Callable:
    def call(data):
        from bench import baselines

        if name == "holdout":
            return baselines.lifetimes_holdout(data, CALIBRATION_END)
        return getattr(baselines, f"lifetimes_{name}")(data)

    return call


def _pandas(name: str) -> Callable:
    def call(data):
        from bench import baselines

        return getattr(baselines, f"{name}_pandas")(data)

    return call


def _engine_vs(name: str, title: str, call: Callable, need: str, baseline: Side) -> Case:
    """The engine from the Parquet file and from a DataFrame, against ``baseline``."""
    return Case(
        name,
        title,
        (
            Side("engine_parquet", _ENGINE_PARQUET, "path", call, (need,)),
            Side("engine_frame", _ENGINE_FRAME, "frame", call, (need,)),
            baseline,
        ),
    )


def _duckdb_vs_spark(name: str, title: str, call: Callable, need: str) -> Case:
    """The same call on the same Parquet file, on DuckDB and on a local Spark session."""
    return Case(
        name,
        f"{title} from the same Parquet file: DuckDB vs Spark {SPARK_MASTER}",
        (
            Side("duckdb", "DuckDB", "path", call, (need,), baseline=True),
            Side("spark", f"Spark {SPARK_MASTER}", "spark", call, (need,)),
        ),
        input="engine_log",
    )


_ENGINE_PARQUET = "engine, from Parquet"
_ENGINE_FRAME = "engine, from a DataFrame"

CASES: dict[str, Case] = {
    case.name: case
    for case in (
        _engine_vs(
            "rfm",
            "rfm_summary vs lifetimes summary_data_from_transaction_data (days, with monetary)",
            _rfm,
            "engine:rfm_summary",
            Side("lifetimes", "lifetimes", "frame", _lifetimes("summary"), baseline=True),
        ),
        Case(
            "holdout",
            "calibration_holdout vs lifetimes calibration_and_holdout_data "
            f"(days, with monetary, calibration end {CALIBRATION_END})",
            (
                Side(
                    "engine_parquet",
                    _ENGINE_PARQUET,
                    "path",
                    _holdout,
                    ("engine:calibration_holdout",),
                ),
                Side(
                    "lifetimes",
                    "lifetimes",
                    "frame",
                    _lifetimes("holdout"),
                    baseline=True,
                ),
            ),
        ),
        Case(
            "fit",
            "fit_bgnbd + fit_gamma_gamma (identical rows weighted) vs lifetimes fits of every "
            "row (summary in exact fractional weeks, penalizer 0)",
            (
                Side(
                    "toolkit_weighted",
                    "fit_bgnbd + fit_gamma_gamma",
                    "frame",
                    _toolkit_fits,
                    ("clv:fit_bgnbd", "clv:fit_gamma_gamma"),
                ),
                Side(
                    "lifetimes",
                    "lifetimes, unweighted",
                    "frame",
                    _lifetimes("fits"),
                    baseline=True,
                ),
            ),
            input="summary",
        ),
        Case(
            "load",
            "load_transactions (read, parse, validate, count) from Parquet and from CSV vs "
            "pandas read_parquet",
            (
                Side(
                    "loader_parquet",
                    "load_transactions, from Parquet",
                    "path",
                    _load,
                    ("io:load_transactions",),
                ),
                Side(
                    "loader_csv",
                    "load_transactions, from CSV",
                    "csv",
                    _load,
                    ("io:load_transactions",),
                ),
                Side(
                    "pandas",
                    "pandas read_parquet",
                    "path",
                    _read_parquet,
                    baseline=True,
                ),
            ),
        ),
        Case(
            "intervals",
            "fit_bgnbd + fit_gamma_gamma + clv_intervals (200 Laplace draws, 12 months) on the "
            "RFM summary in weeks",
            (
                Side(
                    "toolkit",
                    "fits + clv_intervals",
                    "frame",
                    _toolkit_intervals,
                    ("clv:clv_intervals",),
                    baseline=True,
                ),
            ),
            input="summary",
        ),
        Case(
            "compare",
            "calibration_holdout (weeks) + compare_models (BG/NBD, MBG/NBD, Pareto/NBD) from "
            f"Parquet, calibration end {CALIBRATION_END}",
            (
                Side(
                    "toolkit",
                    "calibration_holdout + compare_models",
                    "path",
                    _toolkit_compare,
                    ("clv:compare_models",),
                    baseline=True,
                ),
            ),
        ),
        _engine_vs(
            "kpi",
            "kpi_table (monthly, active_days 365) vs plain pandas",
            _kpis,
            "kpis:kpi_table",
            Side("pandas", "plain pandas", "frame", _pandas("kpi_table"), baseline=True),
        ),
        Case(
            "scale",
            f"out of core: rfm_summary and kpi_table from Parquet, DuckDB memory limit "
            f"{SCALE_MEMORY_LIMIT} (spilling to bench/out/duckdb_tmp)",
            (
                Side(
                    "rfm",
                    "rfm_summary",
                    "path",
                    _out_of_core(_rfm),
                    ("engine:rfm_summary", "engine.backend:configure_duckdb"),
                    baseline=True,
                ),
                Side(
                    "kpi",
                    "kpi_table (monthly)",
                    "path",
                    _out_of_core(_kpis),
                    ("kpis:kpi_table", "engine.backend:configure_duckdb"),
                ),
            ),
            input="engine_log",
        ),
        _duckdb_vs_spark("spark", "rfm_summary", _rfm, "engine:rfm_summary"),
        _duckdb_vs_spark("spark_kpi", "kpi_table (monthly)", _kpis, "kpis:kpi_table"),
        _engine_vs(
            "cohort",
            "cohort_matrix (monthly, distinct customers) vs plain pandas",
            _cohorts,
            "cohorts:cohort_matrix",
            Side(
                "pandas",
                "plain pandas",
                "frame",
                _pandas("cohort_matrix"),
                baseline=True,
            ),
        ),
    )
}


# --- running one measurement --------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _missing(needs: tuple[str, ...]) -> list[str]:
    missing = []
    for name in needs:
        try:
            _toolkit(name)
        except (ImportError, AttributeError):
            missing.append(f"retention_utils.{name.replace(':', '.')}")
    return missing


def _info(result: Any) -> dict:
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if k not in ("bgnbd", "gamma_gamma")}
    shape = getattr(result, "shape", None)
    return {"result_shape": list(shape)} if shape is not None else {}


def measure(
    case_name: str,
    side_name: str,
    source: str,
    *,
    result_path: str | None = None,
    profile_path: str | None = None,
) -> dict:
    """Run one side of one case on ``source``; return the JSON-able record."""
    case = CASES[case_name]
    side = case.side(side_name)
    record: dict[str, Any] = {"case": case_name, "side": side_name, "input": source}
    started = time.perf_counter()
    missing = _import_side(side)
    record["import_s"] = time.perf_counter() - started
    if missing:
        record.update(status="not available", error=f"missing: {', '.join(missing)}")
        return record
    started = time.perf_counter()
    data = _input(side, source)
    record["setup_s"] = time.perf_counter() - started
    record["setup_peak_mb"] = _peak_mb()

    profiler = None
    if profile_path:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    try:
        started = time.perf_counter()
        result = side.call(data)
        record["wall_s"] = time.perf_counter() - started
    except Exception as exc:  # reported, the runner goes on with the other measurements
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=8),
        )
        return record
    finally:
        if profiler is not None:
            profiler.stop()
    record["peak_mb"] = _peak_mb()
    record["status"] = "ok"
    record["info"] = _info(result)
    if profiler is not None:
        Path(profile_path).write_text(
            profiler.output_text(unicode=False, color=False, show_all=False)
        )
    if result_path:
        importlib.import_module("pandas").to_pickle(result, result_path)
    return record


def _import_side(side: Side) -> list[str]:
    """Import what the side calls (timed as ``import_s``): the toolkit modules it needs, or
    pandas and lifetimes for a baseline. Returns the toolkit names that are missing."""
    importlib.import_module("pandas")
    if side.name.startswith("lifetimes"):
        importlib.import_module("bench.baselines").import_lifetimes()
    elif side.baseline and not side.needs:
        importlib.import_module("bench.baselines")
    return _missing(side.needs)


def _input(side: Side, source: str) -> Any:
    """The side's input (its load time is ``setup_s``)."""
    if side.load == "csv":
        return str(importlib.import_module("bench.data").csv_copy(Path(source)))
    if side.load == "frame":
        return importlib.import_module("pandas").read_parquet(source)
    if side.load == "spark":
        engine = importlib.import_module("retention_utils.engine")
        return engine.open_transactions(source, engine="spark", spark_master=SPARK_MASTER)
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.case", description=__doc__)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("side")
    parser.add_argument("--input", required=True, help="Parquet file of the case's input")
    parser.add_argument("--result", help="pickle the result here (for the checks)")
    parser.add_argument("--profile", help="write a pyinstrument text profile here")
    args = parser.parse_args(argv)
    record = measure(
        args.case,
        args.side,
        args.input,
        result_path=args.result,
        profile_path=args.profile,
    )
    sys.stdout.flush()
    print(json.dumps(record, default=str))
    return 1 if record["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
