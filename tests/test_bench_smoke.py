"""The benchmark harness (bench/): a tiny end-to-end run, and its building blocks.

The smoke run generates a 3,000 row log in a temporary folder, runs every case once in
fresh processes and checks that each toolkit result was compared with its baseline
(lifetimes, or plain pandas) and found equal. Timings are not asserted (SPEC section 7 is
measured by ``make bench``, not by tests).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:  # bench/ is a folder of the project, not an installed package
    sys.path.insert(0, str(PROJECT))

from bench import checks, report, run  # noqa: E402
from bench.case import CASES, _missing  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,  # about 60 s on a quiet machine; shared CI machines are slower
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), out


def test_smoke_run_measures_every_case_and_side(smoke):
    results, _ = smoke
    assert results["smoke"] is True and results["repeats"] == 1
    smoke_cases = [c for c in run.CASE_ORDER if c not in run.SMOKE_SKIP]
    assert [e["case"] for e in results["cases"]] == smoke_cases
    for entry in results["cases"]:
        assert entry["rows"] == run.SMOKE_ROWS
        assert entry["customers"] > 100
        assert set(entry["sides"]) == {s.name for s in CASES[entry["case"]].sides}
        for name, side in entry["sides"].items():
            assert side["status"] == "ok", (entry["case"], name, side.get("error"))
            assert len(side["runs_s"]) == 1 and side["median_s"] > 0
            # peak memory of the measuring process: at least the Python + pandas baseline
            assert 50 < side["setup_peak_mb"] <= side["peak_mb"] < 4000
        assert entry["sides"][entry["baseline"]]["speedup"] == pytest.approx(1.0)
    # Linux keeps a process's peak RSS across exec: the children's figures are only theirs
    # if the runner itself stays below them
    smallest = min(side["setup_peak_mb"] for e in results["cases"] for side in e["sides"].values())
    assert results["machine"]["runner_peak_mb"] < smallest


def test_smoke_run_asserted_the_same_results(smoke):
    results, _ = smoke
    by_case = {e["case"]: e["check"] for e in results["cases"]}
    assert all(check["ok"] is True for check in by_case.values()), by_case
    assert "frequency, recency, T identical" in by_case["rfm"]["detail"]
    assert "all 7 columns within 1e-12" in by_case["holdout"]["detail"]
    assert by_case["fit"]["detail"].startswith("parameters equal within 0.0001")
    assert "24 months x 11 columns equal" in by_case["kpi"]["detail"]
    assert "observable cells equal" in by_case["cohort"]["detail"]


def test_smoke_run_writes_results_md_and_keeps_earlier_runs(smoke, tmp_path):
    results, out = smoke
    text = (out / "RESULTS.md").read_text()
    assert text.startswith("# Benchmark results")
    assert "smoke run (tiny sizes)" in text
    rfm = results["cases"][0]
    assert f"| 3,000 | {rfm['customers']:,} | engine, from Parquet |" in text
    assert "### SPEC section 7 targets" in text
    # a later run goes on top, the earlier one stays below, unchanged
    path = tmp_path / "RESULTS.md"
    report.write_results(results, path)
    later = copy.deepcopy(results)
    later["started"] = "2030-01-02T03:04:05+00:00"
    report.write_results(later, path)
    both = path.read_text()
    assert both.count("# Benchmark results") == 1
    assert both.index("## 2030-01-02 03:04 UTC") < both.index(
        results["started"][:10] + " " + results["started"][11:16]
    )
    assert both.count("### SPEC section 7 targets") == 2
    # re-rendering a run (to add a note) replaces its own section, wherever it is
    noted = dict(results, note="DuckDB used 2 threads.")
    report.write_results(noted, path)
    again = path.read_text()
    assert again.count("### SPEC section 7 targets") == 2
    assert again.index("## 2030-01-02") < again.index("### Notes\n\nDuckDB used 2 threads.")
    assert again.replace("### Notes\n\nDuckDB used 2 threads.\n", "").rstrip() == both.rstrip()


def test_checks_detect_a_different_result():
    index = pd.Index(["a", "b"], name="customer_id")
    summary = pd.DataFrame(
        {"frequency": [1.0, 0.0], "recency": [3.0, 0.0], "T": [9.0, 5.0]}, index=index
    )
    summary["monetary_value"] = [12.5, 0.0]
    assert "identical" in checks.check_rfm({"engine": summary, "lifetimes": summary.copy()})
    off = summary.copy()
    off.loc["a", "recency"] = 4.0
    with pytest.raises(AssertionError, match="engine differs from lifetimes"):
        checks.check_rfm({"engine": off, "lifetimes": summary})

    params = {"bgnbd": {"r": 0.5, "alpha": 4.0}, "gamma_gamma": {"p": 4.0}}
    near = {"bgnbd": {"r": 0.5 * (1 + 5e-5), "alpha": 4.0}, "gamma_gamma": {"p": 4.0}}
    far = {"bgnbd": {"r": 0.5 * (1 + 5e-4), "alpha": 4.0}, "gamma_gamma": {"p": 4.0}}
    assert checks.check_fit({"toolkit": near, "lifetimes": params}).startswith("parameters")
    with pytest.raises(
        AssertionError, match=r"toolkit bgnbd r = 0\.50025 .* \(relative 5\.0e-04 > 0\.0001\)"
    ):
        checks.check_fit({"toolkit": far, "lifetimes": params})


def _entry(case: str, rows: int, baseline: str, sides: dict) -> dict:
    entry = {"case": case, "rows": rows, "baseline": baseline, "check": {"ok": True}}
    entry["sides"] = {
        name: {"label": name, "status": "ok", "median_s": call, "import_s": imports}
        | {"peak_mb": 300.0, "process_peak_mb": peak, "info": {}}
        for name, (call, imports, peak) in sides.items()
    }
    run._add_ratios(entry)
    return entry


def test_first_call_targets_compare_the_calls_and_show_the_imports():
    rfm = _entry(
        "rfm",
        100_000,
        "lifetimes",
        {"engine_frame": (0.05, 0.9, 300.0), "lifetimes": (0.08, 1.2, 300.0)},
    )
    cohort = _entry(
        "cohort",
        1_000_000,
        "pandas",
        {"engine_frame": (0.5, 1.0, 300.0), "pandas": (0.4, 0.3, 300.0)},
    )
    targets = {t["key"]: t for t in run.evaluate_targets([rfm, cohort], [])}
    assert targets["first_rfm"]["met"] is True
    assert targets["first_rfm"]["measured"] == (
        "1.60x at 100,000 rows (50 ms vs 80 ms), same result: yes; imports 900 ms vs "
        "1.20 s, import + first call 1.35x"  # (1.2 + 0.08) / (0.9 + 0.05)
    )
    assert targets["first_cohort"]["met"] is False
    assert (targets["first_cohort"]["case"], targets["first_cohort"]["side"]) == (
        "cohort",
        "engine_frame",
    )


def test_scale_target_is_the_peak_of_the_whole_process():
    sides = {"rfm": (1900.0, 1.0, 4360.0), "kpi": (2500.0, 1.0, 5600.0)}
    target = next(
        t
        for t in run.evaluate_targets([_entry("scale", 100_000_000, "rfm", sides)], [])
        if t["key"] == "scale"
    )
    assert target["met"] is True
    assert target["measured"] == "rfm 1900 s, peak 4,360 MiB, kpi 2500 s, peak 5,600 MiB"
    sides["kpi"] = (2500.0, 1.0, 5800.0)  # 6.08 GB
    assert not next(
        t
        for t in run.evaluate_targets([_entry("scale", 100_000_000, "rfm", sides)], [])
        if t["key"] == "scale"
    )["met"]


def test_scale_check_detects_a_different_customer_count():
    rfm = {"customers": 19_104_184}
    assert checks.check_scale({"rfm": rfm, "kpi": {"customers": 19_104_184, "orders": 10}})
    with pytest.raises(AssertionError, match="kpi_table counts 19,104,183 new customers"):
        checks.check_scale({"rfm": rfm, "kpi": {"customers": 19_104_183, "orders": 10}})


def test_cohort_check_treats_observable_empty_cells_as_zero_only():
    idx = pd.PeriodIndex(["2024-01", "2024-02"], freq="M", name="cohort")
    toolkit = pd.DataFrame([[5.0, 0.0], [3.0, np.nan]], index=idx, columns=[0, 1])
    pivot = pd.DataFrame([[5.0, np.nan], [3.0, np.nan]], index=idx, columns=[0, 1])
    assert "3 observable cells equal" in checks.check_cohort({"engine": toolkit, "pandas": pivot})
    wrong = pivot.copy()
    wrong.iloc[1, 1] = 2.0  # a count where the toolkit says "not observable yet"
    with pytest.raises(AssertionError, match="NaN where pandas has a count"):
        checks.check_cohort({"engine": toolkit, "pandas": wrong})


def test_missing_toolkit_function_is_reported_not_crashing():
    assert _missing(("engine:rfm_summary",)) == []
    assert _missing(("engine:no_such_function", "nomodule:x")) == [
        "retention_utils.engine.no_such_function",
        "retention_utils.nomodule.x",
    ]


def test_process_peak_memory_and_wall_time(tmp_path):
    code = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * (len(b) // 4096)"
    code += "; time.sleep(0.3)"
    done = run.run_process([sys.executable, "-c", code], log_stem=tmp_path / "p", timeout=60)
    assert done.returncode == 0
    assert 300 < done.maxrss_mb < 600
    assert done.wall_s >= 0.3


def test_notebook_stages_group_cells_by_section():
    def cell(kind, source, seconds=None):
        meta = {"papermill": {"duration": seconds}} if seconds is not None else {}
        return {"cell_type": kind, "source": source, "metadata": meta}

    nb = {
        "metadata": {"papermill": {"duration": 10.0}},
        "cells": [
            cell("code", "import x", 3.0),
            cell("markdown", "# Title\ntext"),
            cell("code", "a()", 1.0),
            cell("markdown", "## Fit the model"),
            cell("code", "fit()", 4.0),
            cell("code", "plot()", 0.5),
            cell("markdown", "no heading here"),
            cell("code", "more()", 0.5),
        ],
    }
    stages = report.notebook_stages(nb)
    assert stages["sections"][0] == ("Fit the model", 5.0)
    assert dict(stages["sections"]) == {
        "setup (imports, parameters)": 3.0,
        "Title": 1.0,
        "Fit the model": 5.0,
    }
    assert stages["cells_s"] == 9.0 and stages["kernel_s"] == pytest.approx(1.0)


def test_profile_notebook_times_cells_by_section(tmp_path):
    from bench.profile_notebook import profile_notebook

    def cell(kind, source, tags=()):
        return {"cell_type": kind, "source": source, "metadata": {"tags": list(tags)}}

    nb = {
        "cells": [
            cell("code", "delay: float = 0.0  # seconds to wait", tags=["parameters"]),
            cell("markdown", "## Waiting\ntext"),
            cell("code", "import time\ntime.sleep(delay)\ndisplay('shown nowhere')"),
            cell("markdown", "## Quick"),
            cell("code", "x = delay * 2"),
        ]
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    out = tmp_path / "profile.txt"
    # values arrive as text (--param NAME=VALUE) and take the declared type
    summary = profile_notebook(path, {"delay": "1.1", "not_declared": "5"}, out)
    slowest = summary["slowest"][0]
    assert slowest["section"] == "Waiting" and 1.1 <= slowest["seconds"] < 3
    text = out.read_text()
    assert "[Waiting]  import time time.sleep(delay)" in text
    assert "[Quick]" not in text.split("---")[0]  # cells under 1 s are not listed
