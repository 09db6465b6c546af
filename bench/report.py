"""Machine description, report-pack stage breakdown and the ``RESULTS.md`` section of a run."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import data as bench_data

PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "pyarrow",
    "duckdb",
    "ibis-framework",
    "sqlglot",
    "lifetimes",
    "autograd",
    "papermill",
    "nbconvert",
    "nbclient",
    "matplotlib",
    "seaborn",
)
THREAD_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
HEADER = """# Benchmark results

Written by `python -m bench.run` (`make bench`): newest run first, earlier runs kept below for
comparison. What is measured and how: [README.md](README.md). Targets: SPEC section 7.

<!-- runs: newest first -->
"""
MARKER = "<!-- runs: newest first -->"


# --- machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _blas() -> str:
    """BLAS numpy was built with (threadpoolctl, which would report the live thread pools,
    is not installed in this environment)."""
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        return "; ".join(
            f"{p.get('internal_api')} {p.get('version')} {p.get('num_threads')} threads "
            f"({p.get('architecture')})"
            for p in pools
        )
    except ImportError:
        pass
    try:
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        config = " ".join(str(blas.get("openblas configuration", "")).split())
        return (
            f"{blas.get('name')} {blas.get('version')} ({config}); threadpoolctl not "
            "installed, so live thread pools are not reported"
        )
    except Exception as exc:  # diagnostic only
        return f"unknown ({type(exc).__name__})"


def _duckdb_threads() -> str:
    try:
        import duckdb

        return str(duckdb.connect().execute("select current_setting('threads')").fetchone()[0])
    except Exception as exc:  # diagnostic only
        return f"unknown ({type(exc).__name__})"


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=bench_data.PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=bench_data.PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": _cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "blas": _blas(),
        "duckdb_threads": _duckdb_threads(),
        "environment": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        "load_average_start": os.getloadavg(),
        "git": _git(),
    }


# --- report pack stages -------------------------------------------------------------------


def _heading(cell: dict) -> str | None:
    for line in "".join(cell.get("source", "")).splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def notebook_stages(nb: dict) -> dict[str, Any]:
    """Execution time of a papermill-executed notebook by section (markdown heading).

    Code cells before the first heading count as ``"setup (imports, parameters)"``;
    ``kernel_s`` is the notebook's execution time not spent in cells (kernel start-up and
    papermill's own work).
    """
    sections: dict[str, float] = {}
    current = "setup (imports, parameters)"
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            current = _heading(cell) or current
        elif cell.get("cell_type") == "code":
            seconds = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
            sections[current] = sections.get(current, 0.0) + float(seconds)
    execution = nb.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
    cells = sum(sections.values())
    return {
        "execution_s": float(execution),
        "cells_s": cells,
        "kernel_s": max(float(execution) - cells, 0.0),
        "sections": sorted(sections.items(), key=lambda kv: -kv[1]),
    }


def pack_stages(out_dir: Path) -> dict[str, Any]:
    """Per report of a batch folder: status, duration, execution, export and sections."""
    out_dir = Path(out_dir)
    summary = json.loads((out_dir / "summary.json").read_text())
    reports = []
    for report in summary["reports"]:
        entry = {
            "name": report["name"],
            "status": report["status"],
            "duration_s": float(report.get("duration_s") or 0.0),
            "error": report.get("error"),
        }
        executed = report.get("executed_notebook")
        if executed and (out_dir / executed).exists():
            stages = notebook_stages(json.loads((out_dir / executed).read_text()))
            entry.update(stages)
            entry["export_s"] = max(entry["duration_s"] - stages["execution_s"], 0.0)
        reports.append(entry)
    return {"batch_wall_s": summary.get("wall_time_s"), "reports": reports}


# --- RESULTS.md ---------------------------------------------------------------------------


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _status(met) -> str:
    return {True: "met", False: "**missed**", None: "not measured at target size"}[met]


def render_run(run: dict) -> str:
    """The markdown section of one run."""
    m = run["machine"]
    started = dt.datetime.fromisoformat(run["started"])
    kind = "smoke run (tiny sizes)" if run["smoke"] else "run"
    load0 = "/".join(f"{x:.2f}" for x in m["load_average_start"])
    load1 = "/".join(f"{x:.2f}" for x in m.get("load_average_end", m["load_average_start"]))
    versions = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    env = ", ".join(f"{k}={v}" for k, v in m["environment"].items()) or "none set"
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC: {kind}",
        "",
        f"- Command: `{run['command'].strip()}`; {run['repeats']} run(s) per side, sides "
        "alternating; finished "
        + run["finished"].replace("T", " ").replace("+00:00", " UTC")
        + ".",
        f"- Machine: {m['cpu']}, {m['nproc']} CPUs ({m['usable_cpus']} usable), "
        f"{m['memory_gib']:.1f} GiB RAM, {m['os']}; load average (1/5/15 min) {load0} at "
        f"start, {load1} at the end (other work was running when these are well above 0).",
        f"- Software: Python {m['python']}; {versions}.",
        f"- BLAS: {m['blas']}. DuckDB threads: {m['duckdb_threads']}. Thread variables: {env}.",
        f"- Code: commit {m['git']}. Runner's own peak memory: "
        f"{_mb(m.get('runner_peak_mb'))} MiB (a floor under every peak below).",
        "",
        "### SPEC section 7 targets",
        "",
        "| target | measured | status |",
        "|---|---|---|",
    ]
    for t in run["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {_status(t['met'])} |")
    lines.append("")

    by_case: dict[str, list[dict]] = {}
    for entry in run["cases"]:
        by_case.setdefault(entry["case"], []).append(entry)
    for entries in by_case.values():
        first = entries[0]
        lines += [
            f"### {first['title']}",
            "",
            "| rows | customers | side | median (s) | runs (s) | speed-up vs baseline "
            "| peak MiB (before the call) | imports (s) | input load (s) |",
            "|---:|---:|---|---:|---|---:|---:|---:|---:|",
        ]
        for e in entries:
            customers = e.get("customers")
            for name, side in e["sides"].items():
                label = side["label"] + (" (baseline)" if name == e["baseline"] else "")
                if side["status"] != "ok":
                    lines.append(
                        f"| {e['rows']:,} | {_count(customers)} | {label} | {side['status']}: "
                        f"{_escape(side.get('error', ''))[:160]} | | | | | |"
                    )
                    continue
                runs = ", ".join(_s(x) for x in side["runs_s"])
                speedup = side.get("speedup")
                lines.append(
                    f"| {e['rows']:,} | {_count(customers)} | {label} | {_s(side['median_s'])} "
                    f"| {runs} | {'-' if speedup is None else f'{speedup:.2f}x'} "
                    f"| {_mb(side['peak_mb'])} ({_mb(side['setup_peak_mb'])}) "
                    f"| {_s(side.get('import_s'))} | {_s(side['setup_s'])} |"
                )
        lines.append("")
        for e in entries:
            check = e["check"]
            verdict = {True: "same result", False: "**DIFFERENT RESULT**", None: "not checked"}
            lines.append(
                f"- {e['rows']:,} rows: {verdict[check['ok']]}: {_escape(check['detail'])}"
            )
        lines.append("")

    if run["packs"]:
        lines += [
            "### Report pack end to end",
            "",
            "`python -m retention_utils run --data D --surveys S --out DIR --jobs N`: the three "
            "notebooks executed and exported to HTML, with `index.html` and `summary.json`. "
            "S: generated survey answers of 5% of D's customers (at most 50,000), so that the "
            "satisfaction report links answers to purchases (bench/README.md).",
            "",
            "| data | jobs | median (s) | runs (s) | all reports ok | peak MiB, largest process "
            "| peak MiB, all processes |",
            "|---|---:|---:|---|---|---:|---:|",
        ]
        for pack in run["packs"]:
            for jobs, j in pack["jobs"].items():
                runs = ", ".join(_s(x) for x in j["runs_s"])
                lines.append(
                    f"| {pack['label']} | {jobs} | {_s(j['median_s'])} | {runs} "
                    f"| {'yes' if j['all_ok'] else '**no**'} | {_mb(j['peak_mb'])} "
                    f"| {_mb(j['tree_peak_mb'])} |"
                )
        lines += ["", "Stage breakdown of the run closest to the median (seconds):", ""]
        for pack in run["packs"]:
            for jobs, j in pack["jobs"].items():
                lines += _stage_lines(pack["label"], jobs, j["typical"])
        lines.append("")

    if run.get("fanout"):
        f = run["fanout"]
        typical = f["typical"]
        counts = typical.get("counts", {})
        lines += [
            "### Segment fan-out end to end",
            "",
            f"`{f['command']}`: the data read and split once (one Parquet file per segment), "
            "one report per notebook for all customers and per segment of at least 30 "
            "customers, executed and exported to HTML, with the comparison index.",
            "",
            "| median (s) | runs (s) | before (s) | target (s) | exit 0 | reports | skipped "
            "segments | peak MiB, all processes |",
            "|---:|---|---:|---:|---|---|---:|---:|",
            f"| {_s(f['median_s'])} | {', '.join(_s(x) for x in f['runs_s'])} "
            f"| {_s(f['before_s'])} | {_s(f['target_s'])} | {'yes' if f['all_ok'] else '**no**'} "
            f"| {counts.get('total', 0)} ({counts.get('ok', 0)} ok, {counts.get('caution', 0)} "
            f"caution, {counts.get('failed', 0)} failed) | {typical.get('skipped', 0)} "
            f"| {_mb(typical.get('tree_peak_mb'))} |",
            "",
        ]

    if run.get("profiles"):
        lines += [
            "### Profiles of missed targets (pyinstrument)",
            "",
            "Toolkit side of a missed case, or each notebook of a missed report pack run "
            "cell by cell in one process (bench/profile_notebook.py).",
            "",
        ]
        for key, text in run["profiles"].items():
            lines += [
                f"<details><summary>{key}</summary>",
                "",
                "```text",
                *_trim_profile(text),
                "```",
                "",
                "</details>",
                "",
            ]
    if run.get("note"):
        lines += ["### Notes", "", run["note"].strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def _escape(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _stage_lines(label: str, jobs: int, run: dict) -> list[str]:
    lines = [
        f"- {label}, `--jobs {jobs}`: {_s(run['wall_s'])} s wall (batch's own count "
        f"{_s(run.get('batch_wall_s'))} s)"
    ]
    if "reports" not in run:
        lines.append(f"  - no breakdown: {_escape(run.get('error', ''))}")
        return lines
    for r in run["reports"]:
        head = f"  - {r['name']} ({r['status']}): {_s(r['duration_s'])} total"
        if "execution_s" in r:
            top = "; ".join(f"{_escape(name)} {_s(sec)}" for name, sec in r["sections"][:6])
            head += (
                f" = kernel start {_s(r['kernel_s'])} + cells {_s(r['cells_s'])} + HTML export "
                f"{_s(r['export_s'])}. Slowest sections: {top}"
            )
        if r.get("error"):
            head += f". Error: {_escape(r['error'])[:200]}"
        lines.append(head)
    return lines


def _trim_profile(text: str, max_lines: int = 140) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return lines[:max_lines] + (["..."] if len(lines) > max_lines else [])


def write_results(run: dict, path: Path) -> None:
    """Put the run's section at the top of ``path`` (created with a header when missing).

    Earlier runs stay below, unchanged. A section of the same run (same heading, e.g. when a
    note is added with ``--render``) is replaced in place instead.
    """
    path = Path(path)
    old = path.read_text() if path.exists() else HEADER
    if MARKER not in old:  # a file from elsewhere: keep all of it below the new run
        old = HEADER + "\n" + old
    head, _, rest = old.partition(MARKER)
    section = render_run(run)
    heading = section.splitlines()[0]
    sections = _split_sections(rest)
    if any(s.splitlines()[0] == heading for s in sections):
        sections = [section if s.splitlines()[0] == heading else s for s in sections]
    else:
        sections.insert(0, section)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + MARKER + "\n\n" + "\n".join(s.rstrip("\n") + "\n" for s in sections))


def _split_sections(text: str) -> list[str]:
    """The ``## `` sections of the runs part of RESULTS.md, in order."""
    sections: list[list[str]] = []
    for line in text.strip("\n").splitlines():
        if line.startswith("## ") or not sections:
            sections.append([])
        sections[-1].append(line)
    return ["\n".join(lines) + "\n" for lines in sections if any(x.strip() for x in lines)]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report machine`` or ``python -m bench.report stages DIR``: JSON.

    Run in their own process so that the runner stays small (numpy, DuckDB and executed
    notebooks are loaded here, not in the runner).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("what", choices=["machine", "stages"])
    parser.add_argument("folder", nargs="?", type=Path)
    args = parser.parse_args(argv)
    if args.what == "machine":
        print(json.dumps(machine_info()))
    else:
        if args.folder is None:
            parser.error("stages needs the batch output folder")
        print(json.dumps(pack_stages(args.folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
