"""``retention-report`` (also ``python -m retention_utils``): run the report pack in batch.

Commands
--------
run            execute notebooks with parameters, export HTML, write index.html/summary.json
params         list the parameters a notebook declares
demo           the full pack on the embedded demo data
browser-check  open the reports of a folder in headless Chromium (offline) and check them

Exit codes: 0 all reports ok; 1 a report failed (or the browser check found a problem);
2 invalid input (unknown or ill-typed parameter, missing file), before any kernel started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Run the retention report notebooks in batch and export them to HTML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_OUT = Path("reports") / "latest"  # relative to the working directory
DEFAULT_TIMEOUT = 600.0


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _input_errors() -> tuple[type[BaseException], ...]:
    from retention_utils.batch.params import ParameterError

    errors: list[type[BaseException]] = [ParameterError, FileNotFoundError]
    try:
        from retention_utils.io import DataValidationError

        errors.append(DataValidationError)
    except ImportError:  # pragma: no cover - io is part of the package
        pass
    return tuple(errors)


#: Currency of the embedded demo shop's amounts (data/README.md).
DEMO_CURRENCY = "EUR"


def run_batch(
    notebooks: list[str] | None,
    *,
    out: Path,
    data: dict[str, str | None] | None = None,
    assignments: list[str] | None = None,
    config_path: Path | None = None,
    segment_by: str | None = None,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    show_code: bool = False,
    progress: bool = True,
    link_clv: bool = False,
) -> int:
    """Plan, run and index a batch; return the exit code (0 ok, 1 failures, 2 bad input)."""
    from retention_utils.batch.execute import FAILED, run_reports
    from retention_utils.batch.index import write_index
    from retention_utils.batch.plan import plan_runs

    started = time.perf_counter()
    notices: list[str] = []
    try:
        runs = plan_runs(
            notebooks,
            out=out,
            data=data,
            assignments=assignments or (),
            config_path=config_path,
            segment_by=segment_by,
            notices=notices,
            link_clv=link_clv,
        )
    except _input_errors() as exc:
        raise _fail(str(exc)) from None
    for notice in notices:
        typer.secho(notice, err=True, fg=typer.colors.YELLOW)
    results = run_reports(
        runs,
        out,
        jobs=jobs,
        timeout=timeout if timeout and timeout > 0 else None,
        show_code=show_code,
        progress=progress,
    )
    index, _ = write_index(results, out, wall_time_s=time.perf_counter() - started)
    failed = [r for r in results if r.status == FAILED]
    for result in failed:
        typer.secho(
            f"FAILED {result.name} ({result.error_kind}): {result.error}",
            err=True,
            fg=typer.colors.RED,
        )
    ok = len(results) - len(failed)
    typer.echo(f"{ok} of {len(results)} reports ok. Index: {index}")
    return 1 if failed else 0


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
            help="Also run each notebook once per value of this column of the transactions.",
        ),
    ] = None,
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
        jobs=jobs,
        timeout=timeout,
        show_code=show_code,
        link_clv=link_clv,
    )
    raise typer.Exit(code)


@app.command()
def params(
    notebook: Annotated[str, typer.Argument(help="cohort, clv, satisfaction, or a path.")],
) -> None:
    """List the parameters a notebook declares: name, type, default and meaning."""
    from retention_utils.batch.plan import load_spec

    try:
        spec = load_spec(notebook)
    except _input_errors() as exc:
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


@app.command("browser-check")
def browser_check(
    folder: Annotated[Path, typer.Argument(help="A report folder (with index.html).")] = Path(
        "reports/demo"
    ),
) -> None:
    """Open index.html and every report in headless Chromium with the network off.

    Checks that every image loaded and no script error occurred; saves screenshots into
    FOLDER/screenshots/.
    """
    from retention_utils.batch.browser import BrowserError, check_report_folder, iter_problems

    try:
        checks = check_report_folder(folder)
    except (BrowserError, FileNotFoundError) as exc:
        raise _fail(str(exc), code=1) from None
    for check in checks:
        status = "ok" if check.ok else "PROBLEM"
        typer.echo(f"{status:7} {check.path.name}: {check.images} images -> {check.screenshot}")
    problems = list(iter_problems(checks))
    for problem in problems:
        typer.secho(problem, err=True, fg=typer.colors.RED)
    raise typer.Exit(1 if problems else 0)
