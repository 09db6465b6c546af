"""The benchmark runner: ``python -m bench.run`` (full) or ``python -m bench.run --smoke``.

Every measurement runs in its own process (``python -m bench.case ...`` or the batch
command); the sides of a case alternate (A B C, C B A, A B C, ...), each is repeated
``--repeats`` times (3 by default) and summarised by its median; the peak memory of each
process comes from ``os.wait4`` (the kernel's maxrss of the process and its waited-for
children), and for the report pack also from sampling the whole process tree. Results go
to ``<out>/results.json`` and, as a new dated section at the top, to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import data as bench_data
from bench.case import CASES

#: Transaction-log sizes (rows) of each case in a full run. The fits use the RFM summaries
#: of the 1e6 and 1e7 row logs (about 2e5 and 2e6 customers).
FULL_PLAN: dict[str, tuple[int, ...]] = {
    "rfm": (100_000, 1_000_000, 10_000_000),
    "holdout": (100_000, 1_000_000, 10_000_000),
    "fit": (1_000_000, 10_000_000),
    "kpi": (1_000_000, 10_000_000),
    "cohort": (1_000_000, 10_000_000),
    "load": (1_000_000, 10_000_000),
    "intervals": (10_000_000,),
    "compare": (10_000_000,),
    "scale": (100_000_000,),
    "spark": (10_000_000,),
    "spark_kpi": (10_000_000,),
}
#: Report pack: CDNOW master (built-in data set) and the 1e7 row log, with 1 and 2 workers.
PACK_DATA: tuple[str | int, ...] = ("cdnow", 10_000_000)
PACK_JOBS = (1, 2)
SMOKE_ROWS = 3_000
CASE_ORDER = (
    "rfm",
    "holdout",
    "fit",
    "kpi",
    "cohort",
    "load",
    "intervals",
    "compare",
    "scale",
    "spark",
    "spark_kpi",
)
#: Left out of the smoke run: each Spark measurement starts a session (15-30 s).
SMOKE_SKIP = ("spark", "spark_kpi")

#: SPEC section 7.
RFM_TARGET_ROWS = 10_000_000
RFM_TARGET_SPEEDUP = 6.0
RFM_TARGET_PEAK_MB = 1.5e9 / 2**20  # 1.5 GB in MiB
FIT_TARGET_ROWS = 10_000_000  # its summary has about 2 million customers
FIT_TARGET_SPEEDUP = 2.0
PACK_TARGET_S = {"cdnow": 20.0, 10_000_000: 60.0}
#: Segment fan-out (SPEC section 7): UCI Online Retail by Country, cohort and CLV reports.
FANOUT_NOTEBOOKS = ("cohort", "clv")
FANOUT_DATA = "online_retail"
FANOUT_SEGMENT_BY = "Country"
FANOUT_JOBS = 2
FANOUT_TARGET_S = 120.0
FANOUT_BEFORE_S = 735.0  # measured before the split-once design (bench/RESULTS.md)
INTERVALS_TARGET_S = 30.0  # clv_intervals, 200 Laplace draws, 2 million customers
#: Small data, first call in a fresh process: rfm_summary vs lifetimes, cohort_matrix vs pandas.
FIRST_CALL_RFM_ROWS = 100_000
FIRST_CALL_COHORT_ROWS = 1_000_000
#: Out of core: rfm_summary and kpi_table on 100 million rows, peak of the whole process.
SCALE_ROWS = 100_000_000
SCALE_TARGET_PEAK_MB = 6e9 / 2**20  # 6 GB in MiB


# --- processes ----------------------------------------------------------------------------


@dataclass
class Finished:
    returncode: int
    wall_s: float
    maxrss_mb: float
    tree_peak_mb: float | None
    stdout: str
    stderr: str
    timed_out: bool = False


def _tree_rss_mb(root) -> float:
    import psutil

    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def _kill_tree(pid: int) -> None:
    """Kill a process this runner started and its descendants, by pid."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass


def run_process(
    cmd: list[str], *, log_stem: Path, timeout: float, sample_tree: bool = False
) -> Finished:
    """Run ``cmd`` from the project folder; wall time, peak memory and output."""
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    root = None
    tree_peak = 0.0
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=bench_data.PROJECT_DIR, stdout=out, stderr=err)
        if sample_tree:
            import psutil

            root = psutil.Process(proc.pid)
        next_sample = started
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if root is not None and now >= next_sample:
                tree_peak = max(tree_peak, _tree_rss_mb(root))
                next_sample = now + 0.2
            if now - started > timeout and not timed_out:
                timed_out = True
                _kill_tree(proc.pid)
            time.sleep(0.01)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Finished(
        returncode=proc.returncode,
        wall_s=wall,
        maxrss_mb=usage.ru_maxrss / 1024,
        tree_peak_mb=tree_peak if sample_tree else None,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        timed_out=timed_out,
    )


def run_command(cmd: list[str], *, log_stem: Path, timeout: float) -> tuple[Finished, dict]:
    """A report command timed from outside, with the peak of its whole process tree."""
    done = run_process(cmd, log_stem=log_stem, timeout=timeout, sample_tree=True)
    return done, {
        "wall_s": done.wall_s,
        "returncode": done.returncode,
        "peak_mb": done.maxrss_mb,
        "tree_peak_mb": done.tree_peak_mb,
        "timed_out": done.timed_out,
    }


def _last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- the runner ---------------------------------------------------------------------------


@dataclass
class Settings:
    out: Path
    data_dir: Path
    repeats: int
    timeout: float
    smoke: bool = False
    profile_misses: bool = True

    @property
    def python(self) -> str:
        return sys.executable


class Runner:
    def __init__(self, settings: Settings, log=print) -> None:
        self.s = settings
        self.log = log

    # inputs
    def prepare(self, kind: str, size: int | str) -> Path:
        """Path of a Parquet input (``kind``: transactions, summary or surveys; ``size``:
        rows of the log, or ``"cdnow"`` for surveys), generated in a separate process when
        missing."""
        d = self.s.data_dir
        if kind == "transactions":
            path = bench_data.transactions_path(int(size), d)
        elif kind == "engine_log":
            path = bench_data.engine_log_path(int(size), d)
        elif kind == "summary":
            path = bench_data.summary_path(int(size), d)
        else:
            path = bench_data.surveys_path(size, d)
        found = bench_data.note(path)
        ready = found is not None and (
            kind not in ("transactions", "engine_log") or found.get("rows") == size
        )
        if not ready:
            self.log(f"  preparing {kind} ({size}) ...")
            cmd = [
                self.s.python,
                "-m",
                "bench.data",
                kind,
                str(size),
                "--data-dir",
                str(d),
            ]
            done = run_process(
                cmd,
                log_stem=self.s.out / "logs" / f"prepare_{kind}_{size}",
                timeout=3600,
            )
            if done.returncode != 0:
                raise RuntimeError(f"preparing {path.name} failed:\n{_tail(done.stderr, 20)}")
        return path

    def helper(self, module_args: list[str], *, tag: str) -> Any:
        """Run ``python -m <module_args>`` and return the JSON it prints (None on failure).

        Everything that loads data (checks, notebooks, machine probes) runs in a helper
        process: Linux keeps a process's peak RSS across exec, so a child can never report
        less than the runner's own peak; the runner therefore stays small.
        """
        done = run_process(
            [self.s.python, "-m", *module_args],
            log_stem=self.s.out / "logs" / tag,
            timeout=self.s.timeout,
        )
        return _last_json(done.stdout) if done.returncode == 0 else None

    # one measurement
    def measure(
        self,
        case: str,
        side: str,
        source: Path,
        *,
        tag: str,
        result: Path | None = None,
        profile: Path | None = None,
    ) -> dict:
        cmd = [self.s.python, "-m", "bench.case", case, side, "--input", str(source)]
        if result is not None:
            cmd += ["--result", str(result)]
        if profile is not None:
            cmd += ["--profile", str(profile)]
        done = run_process(cmd, log_stem=self.s.out / "logs" / tag, timeout=self.s.timeout)
        record = _last_json(done.stdout) or {
            "case": case,
            "side": side,
            "status": "failed",
            "error": f"timed out after {self.s.timeout:.0f} s"
            if done.timed_out
            else f"exit code {done.returncode}: {_tail(done.stderr)}",
        }
        record["process_wall_s"] = done.wall_s
        record["process_peak_mb"] = done.maxrss_mb
        return record

    def run_case(self, name: str, n_rows: int) -> dict:
        case = CASES[name]
        source = self.prepare(case.input, n_rows)
        sides = [side.name for side in case.sides]
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        results_dir = self.s.out / "results"
        results_dir.mkdir(parents=True, exist_ok=True)
        pickles: dict[str, Path] = {}
        for rep in range(self.s.repeats):
            order = sides if rep % 2 == 0 else sides[::-1]
            for side in order:
                if runs[side] and runs[side][0].get("status") != "ok":
                    continue  # not available or failed: not repeated
                tag = f"{name}_{n_rows}_{side}_{rep}"
                result = results_dir / f"{name}_{n_rows}_{side}.pkl" if rep == 0 else None
                record = self.measure(name, side, source, tag=tag, result=result)
                runs[side].append(record)
                if result is not None and record.get("status") == "ok":
                    pickles[side] = result
                self.log(f"  {name} {n_rows:,} {side} run {rep + 1}: {_brief(record)}")

        entry: dict[str, Any] = {
            "case": name,
            "title": case.title,
            "rows": n_rows,
            "input": str(source),
            "baseline": case.baseline.name,
            "sides": {},
        }
        entry["customers"] = (bench_data.note(source) or {}).get("customers")
        for side in case.sides:
            entry["sides"][side.name] = _summarise(side.label, runs[side.name])
        _add_ratios(entry)
        ok = all(entry["sides"][s]["status"] == "ok" for s in sides) and set(pickles) == set(sides)
        if ok:
            entry["check"] = self.helper(
                ["bench.checks", name, case.baseline.name]
                + [f"{side}={path}" for side, path in pickles.items()],
                tag=f"check_{name}_{n_rows}",
            ) or {"ok": None, "detail": "the check did not finish (see logs/)"}
        else:
            bad = [s for s in sides if entry["sides"][s]["status"] != "ok"]
            entry["check"] = {
                "ok": None,
                "detail": f"not run: {', '.join(bad)} did not run",
            }
        self.log(f"  {name} {n_rows:,} check: {entry['check']['detail']}")
        for path in pickles.values():
            path.unlink(missing_ok=True)
        return entry

    def profile(self, name: str, side: str, n_rows: int) -> str | None:
        """A pyinstrument text profile of one side (run once more, untimed)."""
        case = CASES[name]
        source = self.prepare(case.input, n_rows)
        path = self.s.out / "profiles" / f"{name}_{n_rows}_{side}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = self.measure(name, side, source, tag=f"profile_{name}_{n_rows}", profile=path)
        if record.get("status") != "ok" or not path.exists():
            return None
        return path.read_text()

    def profile_pack(self, data: str | int) -> dict[str, str]:
        """Profiles of the three notebooks on one data set (bench/profile_notebook.py)."""
        source = data if isinstance(data, str) else str(self.prepare("transactions", data))
        surveys = str(self.prepare("surveys", data))
        texts = {}
        for name in ("cohort_analysis", "clv_analysis", "satisfaction_analysis"):
            path = self.s.out / "profiles" / f"pack_{data}_{name}.txt"
            summary = self.helper(
                [
                    "bench.profile_notebook",
                    str(bench_data.PROJECT_DIR / "notebooks" / f"{name}.ipynb"),
                    "--param",
                    f"transactions={source}",
                    "--param",
                    f"surveys={surveys}",
                    "--param",
                    f"output_dir={self.s.out / 'profiles' / 'files'}",
                    "--out",
                    str(path),
                ],
                tag=f"profile_pack_{data}_{name}",
            )
            if summary is not None and path.exists():
                texts[f"pack_{data}_{name}"] = path.read_text()
        return texts

    # the report pack
    def run_pack(self, data: str | int) -> dict:
        label = data if isinstance(data, str) else f"{data:,} rows"
        source = data if isinstance(data, str) else str(self.prepare("transactions", data))
        surveys = str(self.prepare("surveys", data))
        runs: dict[int, list[dict]] = {jobs: [] for jobs in PACK_JOBS}
        for rep in range(self.s.repeats):
            order = PACK_JOBS if rep % 2 == 0 else PACK_JOBS[::-1]
            for jobs in order:
                tag = f"pack_{data}_jobs{jobs}_{rep}"
                out_dir = self.s.out / "pack" / tag
                cmd = [
                    self.s.python,
                    "-m",
                    "retention_utils",
                    "run",
                    "--data",
                    source,
                    "--surveys",
                    surveys,
                    "--out",
                    str(out_dir),
                    "--jobs",
                    str(jobs),
                ]
                done, record = run_command(
                    cmd, log_stem=self.s.out / "logs" / tag, timeout=self.s.timeout
                )
                record["out"] = str(out_dir)
                stages = self.helper(["bench.report", "stages", str(out_dir)], tag=f"{tag}_stages")
                if stages is None:
                    record["error"] = "no stage breakdown (no summary.json?): " + _tail(
                        done.stderr, 3
                    )
                else:
                    record.update(stages)
                runs[jobs].append(record)
                status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
                self.log(
                    f"  pack {label} --jobs {jobs} run {rep + 1}: {done.wall_s:.1f} s, {status}"
                )
        entry: dict[str, Any] = {
            "data": data,
            "label": label,
            "source": source,
            "surveys": surveys,
            "jobs": {},
        }
        for jobs, records in runs.items():
            walls = [r["wall_s"] for r in records]
            median = statistics.median(walls)
            # the stage breakdown of the run closest to the median
            typical = min(records, key=lambda r: abs(r["wall_s"] - median))
            entry["jobs"][jobs] = {
                "median_s": median,
                "runs_s": walls,
                "all_ok": all(r["returncode"] == 0 for r in records),
                "peak_mb": max(r["peak_mb"] for r in records),
                "tree_peak_mb": max(r["tree_peak_mb"] or 0 for r in records),
                "typical": typical,
            }
        return entry


def fanout_command(python: str, out_dir: Path) -> list[str]:
    """The fan-out benchmark's command line."""
    return [
        python,
        "-m",
        "retention_utils",
        "run",
        *FANOUT_NOTEBOOKS,
        "--data",
        FANOUT_DATA,
        "--segment-by",
        FANOUT_SEGMENT_BY,
        "--jobs",
        str(FANOUT_JOBS),
        "--out",
        str(out_dir),
    ]


def run_fanout(runner: Runner) -> dict:
    """The segment fan-out end to end, ``repeats`` times: wall time, statuses, skipped."""
    records = []
    for rep in range(runner.s.repeats):
        tag = f"fanout_{rep}"
        out_dir = runner.s.out / "fanout" / tag
        done, record = run_command(
            fanout_command(runner.s.python, out_dir),
            log_stem=runner.s.out / "logs" / tag,
            timeout=runner.s.timeout,
        )
        summary_path = out_dir / "summary.json"
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            record["counts"] = summary["counts"]
            record["skipped"] = len((summary.get("segments") or {}).get("skipped", []))
            record["statuses"] = {r["name"]: r["status"] for r in summary["reports"]}
        records.append(record)
        runner.log(f"  fan-out run {rep + 1}: {done.wall_s:.1f} s, exit {done.returncode}")
    walls = [r["wall_s"] for r in records]
    return {
        "command": " ".join(fanout_command("python", Path("DIR"))),
        "median_s": statistics.median(walls),
        "runs_s": walls,
        "before_s": FANOUT_BEFORE_S,
        "target_s": FANOUT_TARGET_S,
        "all_ok": all(r["returncode"] == 0 for r in records),
        "typical": min(records, key=lambda r: abs(r["wall_s"] - statistics.median(walls))),
    }


def _own_peak_mb() -> float:
    """The runner's own peak RSS (VmHWM): the floor under every child's reported peak.

    A child reports at least the peak of the memory it was started from (Linux keeps it
    across exec), which is why the runner leaves all data work to helper processes. VmHWM
    is that figure; ``getrusage`` would also include whatever started the runner.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _brief(record: dict) -> str:
    if record.get("status") != "ok":
        return f"{record.get('status')}: {record.get('error', '')[:200]}"
    return f"{record['wall_s']:.2f} s, peak {record['peak_mb']:.0f} MiB"


def _summarise(label: str, records: list[dict]) -> dict:
    first = records[0] if records else {"status": "not run"}
    out: dict[str, Any] = {"label": label, "status": first.get("status", "failed")}
    if out["status"] != "ok":
        out["error"] = first.get("error", "")
        return out
    walls = [r["wall_s"] for r in records]
    out.update(
        median_s=statistics.median(walls),
        runs_s=walls,
        import_s=statistics.median(r.get("import_s", 0.0) for r in records),
        setup_s=statistics.median(r["setup_s"] for r in records),
        peak_mb=max(r["peak_mb"] for r in records),
        setup_peak_mb=max(r["setup_peak_mb"] for r in records),
        process_peak_mb=max(r["process_peak_mb"] for r in records),
        info=first.get("info", {}),
    )
    return out


def _add_ratios(entry: dict) -> None:
    """``speedup``: baseline median / side median (above 1: faster than the baseline)."""
    base = entry["sides"][entry["baseline"]]
    for side in entry["sides"].values():
        if side["status"] == "ok" and base["status"] == "ok":
            side["speedup"] = base["median_s"] / side["median_s"]


# --- targets ------------------------------------------------------------------------------


def evaluate_targets(
    cases: list[dict], packs: list[dict], fanout: dict | None = None
) -> list[dict]:
    """SPEC section 7: one small function per target, each from the entry measured at the
    target's size (the largest measured, flagged when below the target's)."""
    return [
        _rfm_target(cases),
        _fit_target(cases),
        _first_call_target(cases, "rfm", FIRST_CALL_RFM_ROWS, "lifetimes' first call"),
        _first_call_target(cases, "cohort", FIRST_CALL_COHORT_ROWS, "plain pandas"),
        _scale_target(cases),
        _intervals_target(cases),
        *(_pack_target(packs, data, limit) for data, limit in PACK_TARGET_S.items()),
        _fanout_target(fanout),
    ]


def _entry(cases: list[dict], name: str, rows: int | None = None) -> dict | None:
    """The entry of case ``name`` at ``rows`` rows, or its largest when ``rows`` is None."""
    entries = [e for e in cases if e["case"] == name and rows in (None, e["rows"])]
    return max(entries, key=lambda e: e["rows"]) if entries else None


def _ratio_target(
    key: str,
    text: str,
    entry: dict | None,
    side_name: str,
    *,
    min_speedup: float,
    rows: int,
    peak_mb: float | None = None,
    detail: str = "",
) -> dict:
    """A "side at least ``min_speedup`` times faster than the baseline, same result" target
    (and a peak below ``peak_mb`` when given), met only when measured at ``rows`` rows."""
    target = {"key": key, "target": text}
    if entry is None or side_name not in entry["sides"]:
        return {**target, "met": None, "measured": "not measured"}
    side, base = entry["sides"][side_name], entry["sides"][entry["baseline"]]
    if side["status"] != "ok" or base["status"] != "ok":
        error = side.get("error") or base.get("error", "")
        return {**target, "met": None, "measured": f"not available ({error})"}
    met = side["speedup"] >= min_speedup and bool(entry["check"]["ok"])
    if peak_mb is not None:
        met = met and side["peak_mb"] < peak_mb
    measured = (
        f"{side['speedup']:.2f}x at {entry['rows']:,} rows ({_seconds(side['median_s'])} vs "
        f"{_seconds(base['median_s'])}), same result: {_yes(entry['check']['ok'])}{detail}"
    )
    if peak_mb is not None:
        measured += f", peak {side['peak_mb']:.0f} MiB"
    return {
        **target,
        "met": met if entry["rows"] >= rows else None,
        "measured": measured,
        "rows": entry["rows"],
        "case": entry["case"],
        "side": side_name,
    }


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _rfm_target(cases: list[dict]) -> dict:
    return _ratio_target(
        "rfm",
        "rfm_summary on 10M rows from Parquet: >= 6x faster than lifetimes, same result, peak "
        "memory < 1.5 GB",
        _entry(cases, "rfm"),
        "engine_parquet",
        min_speedup=RFM_TARGET_SPEEDUP,
        rows=RFM_TARGET_ROWS,
        peak_mb=RFM_TARGET_PEAK_MB,
    )


def _fit_target(cases: list[dict]) -> dict:
    entry = _entry(cases, "fit")
    detail = ""
    if entry is not None and entry["sides"]["toolkit_weighted"]["status"] == "ok":
        fitted = entry["sides"]["toolkit_weighted"]["info"].get("rows_fitted", {})
        detail = (
            f" ({entry['customers']:,} customers; distinct rows fitted: BG/NBD "
            f"{fitted.get('bgnbd', 0):,}, Gamma-Gamma {fitted.get('gamma_gamma', 0):,})"
        )
    return _ratio_target(
        "fit",
        "BG/NBD + Gamma-Gamma fit on 2M customers: >= 2x faster than the same rows "
        "unweighted, identical parameters",
        entry,
        "toolkit_weighted",
        min_speedup=FIT_TARGET_SPEEDUP,
        rows=FIT_TARGET_ROWS,
        detail=detail,
    )


def _first_call_target(cases: list[dict], name: str, rows: int, baseline: str) -> dict:
    """The first call in a fresh process on a DataFrame, against the baseline's first call;
    the imports of both (timed apart, not in the ratio) are shown beside it."""
    entry = _entry(cases, name, rows)
    detail = ""
    if entry is not None and all(s["status"] == "ok" for s in entry["sides"].values()):
        side, base = entry["sides"]["engine_frame"], entry["sides"][entry["baseline"]]
        detail = (
            f"; imports {_seconds(side['import_s'])} vs {_seconds(base['import_s'])}, import "
            f"+ first call {(base['import_s'] + base['median_s']) / (side['import_s'] + side['median_s']):.2f}x"
        )
    function = "rfm_summary" if name == "rfm" else "cohort_matrix"
    return {
        **_ratio_target(
            f"first_{name}",
            f"first {function} call in a fresh process, {rows:,} rows from a DataFrame: at "
            f"least as fast as {baseline}",
            entry,
            "engine_frame",
            min_speedup=1.0,
            rows=rows,
            detail=detail,
        ),
    }


def _scale_target(cases: list[dict]) -> dict:
    entry = _entry(cases, "scale")
    target = {
        "key": "scale",
        "target": f"out of core: rfm_summary and kpi_table on {SCALE_ROWS:,} rows from Parquet: "
        "peak memory < 6 GB",
    }
    if entry is None:
        return {**target, "met": None, "measured": "not measured"}
    sides = entry["sides"]
    if any(side["status"] != "ok" for side in sides.values()):
        errors = "; ".join(f"{k}: {v.get('error', '')}" for k, v in sides.items() if "error" in v)
        return {**target, "met": False, "measured": f"failed ({errors[:300]})"}
    peak = max(side["process_peak_mb"] for side in sides.values())
    measured = ", ".join(
        f"{side['label']} {side['median_s']:.0f} s, peak {side['process_peak_mb']:,.0f} MiB"
        for side in sides.values()
    )
    met = peak < SCALE_TARGET_PEAK_MB and bool(entry["check"]["ok"])
    return {
        **target,
        "met": met if entry["rows"] >= SCALE_ROWS else None,
        "measured": measured,
    }


def _intervals_target(cases: list[dict]) -> dict:
    entry = _entry(cases, "intervals")
    target = {
        "key": "intervals",
        "target": "clv_intervals with 200 Laplace draws on 2M customers: < 30 s",
    }
    if entry is None or entry["sides"]["toolkit"]["status"] != "ok":
        return {**target, "met": None, "measured": "not measured"}
    side = entry["sides"]["toolkit"]
    seconds = side["info"]["intervals_s"]
    return {
        **target,
        "met": seconds < INTERVALS_TARGET_S if entry["rows"] >= FIT_TARGET_ROWS else None,
        "measured": f"{seconds:.1f} s at {side['info']['customers']:,} customers (first run; "
        f"whole call with the fits: median {side['median_s']:.1f} s)",
        "rows": entry["rows"],
        "case": "intervals",
        "side": "toolkit",
    }


def _pack_target(packs: list[dict], data: str | int, limit: float) -> dict:
    label = "CDNOW master" if data == "cdnow" else f"{data:,} rows"
    target = {
        "key": f"pack_{data}",
        "target": f"three-report pack end to end (execution and HTML), {label}: < {limit:g} s",
    }
    pack = next((p for p in packs if p["data"] == data), None)
    if pack is None:
        return {**target, "met": None, "measured": "not measured"}
    best = min(pack["jobs"].values(), key=lambda j: j["median_s"])
    measured = ", ".join(
        f"--jobs {j}: {v['median_s']:.1f} s" + ("" if v["all_ok"] else " (a report FAILED)")
        for j, v in pack["jobs"].items()
    )
    met = best["median_s"] < limit and best["all_ok"]
    return {**target, "met": met, "measured": measured, "pack_data": data}


def _fanout_target(fanout: dict | None) -> dict:
    target = {
        "key": "fanout",
        "target": f"fan-out: {FANOUT_DATA} by {FANOUT_SEGMENT_BY}, cohort and CLV, --jobs "
        f"{FANOUT_JOBS}: < {FANOUT_TARGET_S:g} s (before: {FANOUT_BEFORE_S:g} s)",
    }
    if fanout is None:
        return {**target, "met": None, "measured": "not measured"}
    measured = f"{fanout['median_s']:.1f} s" + ("" if fanout["all_ok"] else " (a report FAILED)")
    return {
        **target,
        "met": fanout["median_s"] < FANOUT_TARGET_S and fanout["all_ok"],
        "measured": measured,
    }


def _yes(value) -> str:
    return {True: "yes", False: "NO", None: "not checked"}[value]


# --- machine ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from bench.report import write_results

    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 run, no report pack")
    parser.add_argument(
        "--cases",
        default=",".join([*CASE_ORDER, "pack", "fanout"]),
        help="comma-separated subset of: " + ", ".join([*CASE_ORDER, "pack", "fanout"]),
    )
    parser.add_argument("--max-rows", type=int, help="skip sizes above this many rows")
    parser.add_argument("--repeats", type=int, help="runs per side (default 3; smoke 1)")
    parser.add_argument("--out", type=Path, help="work folder (default bench/out)")
    parser.add_argument("--data-dir", type=Path, help="generated inputs (default bench/data)")
    parser.add_argument(
        "--results",
        type=Path,
        help="RESULTS.md to prepend to (default bench/RESULTS.md; smoke: <out>/RESULTS.md)",
    )
    parser.add_argument("--note", type=Path, help="markdown file added as the run's note")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per process")
    parser.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: (re)write the RESULTS.md section of a finished run from its "
        "results JSON, e.g. to add --note afterwards",
    )
    args = parser.parse_args(argv)
    if args.render:
        run = json.loads(args.render.read_text())
        if args.note:
            run["note"] = args.note.read_text()
        target = args.results or (
            args.render.parent / "RESULTS.md" if run["smoke"] else bench_data.RESULTS
        )
        write_results(run, target)
        print(f"results: {target}", flush=True)
        return 0

    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(wanted) - {*CASE_ORDER, "pack", "fanout"})
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    out = (args.out or bench_data.OUT_DIR).resolve()
    settings = Settings(
        out=out,
        data_dir=(args.data_dir or (out / "data" if args.smoke else bench_data.DATA_DIR)).resolve(),
        repeats=args.repeats or (1 if args.smoke else 3),
        timeout=args.timeout,
        smoke=args.smoke,
        profile_misses=not args.no_profile and not args.smoke,
    )
    results_md = args.results or (out / "RESULTS.md" if args.smoke else bench_data.RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(settings, log=lambda msg: print(msg, flush=True))

    started = dt.datetime.now(dt.UTC)
    machine = runner.helper(["bench.report", "machine"], tag="machine") or {}
    cases: list[dict] = []
    for name in CASE_ORDER:
        if name not in wanted:
            continue
        if args.smoke and name in SMOKE_SKIP:
            continue
        sizes = (SMOKE_ROWS,) if args.smoke else FULL_PLAN[name]
        for n_rows in sizes:
            if args.max_rows and n_rows > args.max_rows:
                continue
            print(f"{name}: {n_rows:,} rows", flush=True)
            cases.append(runner.run_case(name, n_rows))
    packs: list[dict] = []
    if "pack" in wanted and not args.smoke:
        for data in PACK_DATA:
            if isinstance(data, int) and args.max_rows and data > args.max_rows:
                continue
            print(f"report pack: {data}", flush=True)
            packs.append(runner.run_pack(data))

    fanout = None
    if "fanout" in wanted and not args.smoke:
        print(f"segment fan-out: {FANOUT_DATA} by {FANOUT_SEGMENT_BY}", flush=True)
        fanout = run_fanout(runner)

    targets = evaluate_targets(cases, packs, fanout)
    profiles: dict[str, str] = {}
    if settings.profile_misses:
        for target in targets:
            if target["met"] is False and target.get("side"):
                print(f"profiling {target['key']} ...", flush=True)
                text = runner.profile(target["case"], target["side"], target["rows"])
                if text:
                    profiles[target["key"]] = text
            elif target["met"] is False and target.get("pack_data") is not None:
                print(f"profiling the notebooks of {target['key']} ...", flush=True)
                profiles.update(runner.profile_pack(target["pack_data"]))
    machine["load_average_end"] = os.getloadavg()
    machine["runner_peak_mb"] = _own_peak_mb()
    run = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run "
        + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "smoke": args.smoke,
        "repeats": settings.repeats,
        "machine": machine,
        "cases": cases,
        "packs": packs,
        "fanout": fanout,
        "targets": targets,
        "profiles": profiles,
        "note": args.note.read_text() if args.note else None,
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (out / "results.json").write_text(json.dumps(run, indent=1, default=str))
    (out / f"results-{stamp}.json").write_text(json.dumps(run, indent=1, default=str))
    write_results(run, results_md)
    print(f"results: {results_md}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
