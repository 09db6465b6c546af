"""``retention-report`` (also ``python -m retention_utils``): run the report pack in batch.

Commands
--------
run     execute notebooks with parameters, export HTML, write index.html/summary.json
params  list the parameters a notebook declares
demo    the full pack on the embedded demo data

Exit codes: 0 no report failed; 1 a report failed; 2 invalid input (unknown or ill-typed
parameter, missing file, an output folder that holds an input, is locked by another run or
cannot be written), decided before any kernel starts; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from retention_utils import engine
from retention_utils.batch.index import write_index
from retention_utils.batch.models import CAUTION, FAILED, INTERRUPTED, OK, ReportResult
from retention_utils.batch.outdir import (
    SEGMENT_DATA,
    Manifest,
    OutputFolderError,
    check_foreign_files,
    check_inputs,
    check_names,
    locked,
    report_files,
)
from retention_utils.batch.plan import BatchPlan, load_spec, plan_batch
from retention_utils.batch.runner import interrupted, run_reports

app = typer.Typer(
    help="Run the retention report notebooks in batch and export them to HTML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_OUT = Path("reports") / "latest"  # relative to the working directory
DEFAULT_TIMEOUT = 600.0
#: Currency of the embedded demo shop's amounts (data/README.md).
DEMO_CURRENCY = "EUR"
#: Exit codes (SPEC section 5, "Status").
EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
# ValueError: the loaders refuse an impossible column mapping with it (a ParameterError and a
# DataValidationError are ValueErrors too).
_INPUT_ERRORS = (ValueError, FileNotFoundError, OutputFolderError)
_COLOURS = {OK: typer.colors.GREEN, CAUTION: typer.colors.YELLOW, FAILED: typer.colors.RED}


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def plan_lines(plan: BatchPlan, out: Path) -> list[str]:
    """What ``--dry-run`` prints: each report, its parameters and files, skipped segments."""
    lines = [f"Dry run: nothing runs and nothing is written. Output folder: {out}"]
    lines.append(f"{len(plan.runs)} report{'s' if len(plan.runs) != 1 else ''} planned:")
    for run in plan.runs:
        lines.append(f"  {run.name}  ({run.notebook})")
        lines.append(f"    writes: {', '.join(report_files(run.name))}")
        for row in run.rows:
            if row.set_by_run:
                lines.append(f"    {row.name} = {row.text}")
    if plan.fan_out is not None:
        fan_out = plan.fan_out
        lines.append(
            f"Segments by {fan_out.column} (at least {fan_out.min_customers} customers): split "
            f"files in {out / SEGMENT_DATA}"
        )
        for entry in plan.skipped_segments():
            shown = entry["segment"] if entry["segment"] is not None else "(no value)"
            lines.append(f"  skipped {shown}: {entry['reason']}")
    return lines


def _segments(plan: BatchPlan) -> dict | None:
    fan_out = plan.fan_out
    if fan_out is None:
        return None
    first = fan_out.sources[0] if fan_out.sources else None
    return {
        "column": fan_out.column,
        "min_customers": fan_out.min_customers,
        "all": {
            "customers": int(first.sizes["customers"].sum()) if first else None,
            "rows": int(first.sizes["rows"].sum()) if first else None,
        },
        "sizes": fan_out.sizes(),
        "skipped": plan.skipped_segments(),
    }


def _report_lines(results: list[ReportResult]) -> list[tuple[str, str | None]]:
    """Each report's status line and its cautions, with a colour per line."""
    lines: list[tuple[str, str | None]] = []
    width = max(len(r.status) for r in results)
    for r in results:
        cause = f": {r.cause}" if r.cause else ""
        lines.append((f"{r.status:<{width}}  {r.name}{cause}", _COLOURS.get(r.status)))
        lines += [(f"{'':<{width}}    caution: {text}", None) for text in r.cautions]
    return lines


def _execute(plan: BatchPlan, out: Path, *, started: float, **options) -> int:
    """Run a checked plan in a locked output folder; return the exit code."""
    names = [run.name for run in plan.runs]
    with locked(out):
        manifest = Manifest.read(out)
        check_foreign_files(manifest, names)
        this_run = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        manifest.claim(names, run=this_run, titles={r.name: r.title for r in plan.runs})
        manifest.write()
        try:
            if plan.fan_out is not None:
                plan.fan_out.write(out.resolve())
            results = run_reports(plan.runs, out, **options)
        except KeyboardInterrupt:  # before the reports started (during the split)
            results = [interrupted(run) for run in plan.runs]
        stopped = any(r.status == INTERRUPTED for r in results)
        finished = [r.name for r in results if r.status != INTERRUPTED]
        index, _ = write_index(
            results,
            out,
            wall_time_s=time.perf_counter() - started,
            segments=_segments(plan),
            earlier=manifest.earlier(finished),
            interrupted=stopped,
        )
    for text, colour in _report_lines(results):
        typer.secho(text, err=colour == typer.colors.RED, fg=colour)
    for entry in plan.skipped_segments():
        shown = entry["segment"] if entry["segment"] is not None else "(no value)"
        typer.echo(f"skipped segment {shown}: {entry['reason']}")
    counts = {s: sum(r.status == s for r in results) for s in (OK, CAUTION, FAILED)}
    if stopped:
        typer.secho(
            f"Interrupted: {len(finished)} of {len(results)} reports finished; the others are "
            f"marked interrupted in {index}.",
            err=True,
            fg=typer.colors.RED,
        )
        return EXIT_INTERRUPTED
    typer.echo(
        f"{counts[OK]} of {len(results)} reports ok, {counts[CAUTION]} caution, "
        f"{counts[FAILED]} failed. Index: {index}"
    )
    return EXIT_FAILED if counts[FAILED] else EXIT_OK


def run_batch(
    notebooks: list[str] | None,
    *,
    out: Path,
    data: dict[str, str | None] | None = None,
    assignments: list[str] | None = None,
    config_path: Path | None = None,
    segment_by: str | None = None,
    min_customers: int = engine.MIN_SEGMENT_CUSTOMERS,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    show_code: bool = False,
    progress: bool = True,
    link_clv: bool = False,
    dry_run: bool = False,
    engine_options: dict[str, str | None] | None = None,
) -> int:
    """Plan, check, run and index a batch; return the exit code.

    0 no report failed, 1 a report failed, 2 invalid input or an unusable output folder
    (decided before any kernel starts), 130 interrupted.
    """
    started = time.perf_counter()
    try:
        plan = plan_batch(
            notebooks,
            out=out,
            data=data,
            assignments=assignments or (),
            config_path=config_path,
            segment_by=segment_by,
            min_customers=min_customers,
            link_clv=link_clv,
            engine_options=engine_options,
        )
        check_names(run.name for run in plan.runs)
        check_inputs(out, plan.inputs)
    except _INPUT_ERRORS as exc:
        raise _fail(str(exc)) from None
    for notice in plan.notices:
        typer.secho(notice, err=True, fg=typer.colors.YELLOW)
    if dry_run:
        for line in plan_lines(plan, Path(out).resolve()):
            typer.echo(line)
        return EXIT_OK
    try:
        return _execute(
            plan,
            Path(out),
            started=started,
            jobs=jobs,
            timeout=timeout if timeout and timeout > 0 else None,
            show_code=show_code,
            progress=progress,
        )
    except OutputFolderError as exc:
        raise _fail(str(exc)) from None


@app.command()
def run(
    notebooks: Annotated[
        list[str] | None,
        typer.Argument(
            help="Notebooks: cohort, clv, satisfaction, or paths to .ipynb files. "
            "Default: all three."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Transactions: CSV/Parquet/Excel path or glob, or demo, cdnow, "
            "cdnow_sample, online_retail. Sets the 'transactions' parameter.",
        ),
    ] = None,
    surveys: Annotated[
        str | None, typer.Option(help="Survey responses (the 'surveys' parameter).")
    ] = None,
    subscriptions: Annotated[
        str | None, typer.Option(help="Subscriptions (the 'subscriptions' parameter).")
    ] = None,
    costs: Annotated[
        str | None, typer.Option(help="Retention costs (the 'costs' parameter).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-p",
            "--param",
            metavar="NAME=VALUE",
            help="A notebook parameter; repeatable. Checked against each notebook's "
            "declared parameters and types (see the 'params' command).",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file listing runs (notebook, name, parameters)."),
    ] = None,
    segment_by: Annotated[
        str | None,
        typer.Option(
            "--segment-by",
            metavar="COLUMN",
            help="Also run each notebook once per segment of this column of the transactions "
            "(a customer's value on their first purchase); the data are split once.",
        ),
    ] = None,
    min_customers: Annotated[
        int,
        typer.Option(
            "--min-customers",
            min=1,
            help="With --segment-by: segments with fewer customers get no report (listed "
            "with the reason in the index and summary.json).",
        ),
    ] = engine.MIN_SEGMENT_CUSTOMERS,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the planned reports, their parameters and output files; run and "
            "write nothing.",
        ),
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Worker processes (one kernel each).")
    ] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = DEFAULT_OUT,
    show_code: Annotated[
        bool, typer.Option("--show-code", help="Show code cells in the HTML exports.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(help="Per-cell timeout in seconds (0: no limit)."),
    ] = DEFAULT_TIMEOUT,
    link_clv: Annotated[
        bool,
        typer.Option(
            "--link-clv",
            help="Run the satisfaction report after the CLV report, with its customer "
            "table, to compare predicted value across NPS groups (slower: no overlap).",
        ),
    ] = False,
    engine_name: Annotated[
        str | None,
        typer.Option(
            "--engine",
            metavar="duckdb|spark",
            help="Where the aggregation runs: duckdb (embedded, the default) or spark "
            "(--data is then read by Spark: a Parquet/CSV path or a catalog table name).",
        ),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            metavar="MASTER",
            help="With --engine spark: the Spark master, e.g. local[2] (the default: 2 cores "
            "of this machine) or spark://host:7077.",
        ),
    ] = None,
    spark_remote: Annotated[
        str | None,
        typer.Option(
            "--spark-remote",
            metavar="sc://HOST:PORT",
            help="With --engine spark: a Spark Connect server, e.g. sc://host:15002.",
        ),
    ] = None,
) -> None:
    """Execute report notebooks, export them to HTML and write index.html and summary.json."""
    code = run_batch(
        notebooks,
        out=out,
        data={
            "transactions": data,
            "surveys": surveys,
            "subscriptions": subscriptions,
            "costs": costs,
        },
        assignments=param,
        config_path=config_file,
        segment_by=segment_by,
        min_customers=min_customers,
        jobs=jobs,
        timeout=timeout,
        show_code=show_code,
        link_clv=link_clv,
        dry_run=dry_run,
        engine_options={
            "engine": engine_name,
            "spark_master": spark_master,
            "spark_remote": spark_remote,
        },
    )
    raise typer.Exit(code)


@app.command()
def params(
    notebook: Annotated[str, typer.Argument(help="cohort, clv, satisfaction, or a path.")],
) -> None:
    """List the parameters a notebook declares: name, type, default and meaning."""
    try:
        spec = load_spec(notebook)
    except _INPUT_ERRORS as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{spec.title} ({spec.path.name})")
    if not spec.declared:
        typer.echo("  This notebook has no cell tagged 'parameters'.")
        return
    name_width = max(len(p.name) for p in spec.declared.values())
    type_width = max(len(p.type_name) for p in spec.declared.values())
    for p in spec.declared.values():
        line = f"  {p.name:<{name_width}}  {p.type_name:<{type_width}}  default {p.default}"
        typer.echo(line + (f"\n  {'':<{name_width}}  {p.help}" if p.help else ""))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("reports/demo"),
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Worker processes (one kernel each).")
    ] = min(3, os.cpu_count() or 1),
) -> None:
    """Run the full report pack on the embedded demo data (amounts in EUR), with the
    satisfaction report using the CLV report's customer table."""
    raise typer.Exit(
        run_batch(
            None, out=out, jobs=jobs, assignments=[f"currency={DEMO_CURRENCY}"], link_clv=True
        )
    )
