"""Running reports: one kernel per report, in worker processes, status from exceptions.

A report's status comes only from what papermill raises: ``PapermillExecutionError`` (a cell
raised), nbclient's ``DeadKernelError`` (the kernel died) or ``CellTimeoutError`` (a cell ran
past the per-cell timeout), or any other exception (e.g. the kernel did not start). The
output notebook's metadata is not used: papermill marks a notebook whose kernel died as
"completed". A failed report is still exported, with a banner naming the error and a marker
at the failing cell, and the other reports go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError

from retention_utils.batch.export import ReportPage, write_report
from retention_utils.batch.plan import ReportRun
from retention_utils.record import read_headlines

OK = "ok"
FAILED = "failed"


@dataclass(frozen=True)
class ReportJob:
    """A planned report plus how to run it (picklable, sent to a worker process)."""

    run: ReportRun
    out_dir: Path
    timeout: float | None = None  # seconds per cell; None = no limit
    show_code: bool = False
    start_timeout: float = 60.0
    capture_output: bool = False  # send the worker's and kernel's stdout/stderr to a log


@dataclass
class ReportResult:
    """Outcome of one report, as written to ``summary.json``.

    ``duration_s`` is wall time in seconds (execution and export). File names are relative
    to the output folder.
    """

    name: str
    title: str
    notebook: str
    parameters: dict[str, Any]
    status: str
    error_kind: str | None = None
    error: str | None = None
    failed_cell: int | None = None
    duration_s: float = 0.0
    headlines: list[dict] = field(default_factory=list)
    html: str | None = None
    executed_notebook: str | None = None
    log: str | None = None
    segment: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send file descriptors 1 and 2 (inherited by the kernel) to ``path`` for a while."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _last_started_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index of the last code cell papermill started (the one running when it stopped)."""
    found = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("metadata", {}).get("papermill", {}).get(
            "start_time"
        ):
            found = index
    return found


def _raising_cell(nb: nbformat.NotebookNode) -> int | None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ):
            return index
    return _last_started_cell(nb)


def _classify(exc: BaseException, timeout: float | None) -> tuple[str, str]:
    if isinstance(exc, PapermillExecutionError):
        return "cell error", f"{exc.ename}: {exc.evalue}"
    if isinstance(exc, DeadKernelError):
        return "kernel died", (
            "The kernel died while running a cell (it was killed, ran out of memory, or "
            "crashed in native code)."
        )
    if isinstance(exc, CellTimeoutError):
        limit = f"{timeout:g} s" if timeout else "the time limit"
        return "cell timeout", f"A cell ran longer than the per-cell timeout of {limit}."
    return "error", f"{type(exc).__name__}: {exc}"


_ENGINE_NAME = "retention-utils"


class _KeepingEngine(NBClientEngine):
    """papermill's nbclient engine, keeping a handle on the notebook being executed.

    Saving the output notebook after every cell (papermill's default) costs about a third
    of a report's run time; without it, papermill writes nothing when the kernel dies or a
    cell times out. This engine keeps the execution manager, whose notebook holds every
    output up to the failure, so the runner can write it itself. One report runs at a time
    per process, so one class attribute is enough.
    """

    last_manager: Any = None

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        cls.last_manager = nb_man
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(_ENGINE_NAME, _KeepingEngine)


def _format_escape(path: Path) -> str:
    # papermill formats output paths with the parameters (str.format); keep braces literal.
    return str(path).replace("{", "{{").replace("}", "}}")


def execute_report(job: ReportJob) -> ReportResult:
    """Execute one report with papermill and export it to HTML.

    Never raises for a failing report: the returned :class:`ReportResult` carries the
    status, the kind of failure (``"cell error"``, ``"kernel died"``, ``"cell timeout"``,
    ``"error"``, ``"export failed"``) and the message.
    """
    run = job.run
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ipynb = out / f"{run.name}.ipynb"
    html = out / f"{run.name}.html"
    log = out / "logs" / f"{run.name}.log"
    for stale in (ipynb, html, log):
        stale.unlink(missing_ok=True)
    result = ReportResult(
        name=run.name,
        title=run.title,
        notebook=str(run.notebook),
        parameters=dict(run.parameters),
        status=OK,
        segment=list(run.segment) if run.segment else None,
    )
    started = time.perf_counter()
    redirect = _output_to(log) if job.capture_output else contextlib.nullcontext()
    error: BaseException | None = None
    engine = _KeepingEngine
    engine.last_manager = None
    with redirect:
        try:
            papermill.execute_notebook(
                _format_escape(run.notebook),
                _format_escape(ipynb),
                parameters=dict(run.parameters),
                engine_name=_ENGINE_NAME,
                request_save_on_cell_execute=False,
                cwd=str(run.notebook.parent),
                progress_bar=False,
                log_output=False,
                start_timeout=job.start_timeout,
                execution_timeout=job.timeout,
            )
        except Exception as exc:  # the status comes from here, whatever the metadata says
            error = exc
    if not ipynb.exists() and engine.last_manager is not None:
        # A dead kernel or a timeout: papermill raised without writing the notebook.
        nbformat.write(engine.last_manager.nb, ipynb)
    if job.capture_output and log.exists():
        result.log = log.relative_to(out).as_posix()

    if ipynb.exists():
        nb = nbformat.read(ipynb, as_version=4)
        result.executed_notebook = ipynb.name
    else:  # the kernel never started: export the notebook as it was
        nb = nbformat.read(run.notebook, as_version=4)
    result.headlines = read_headlines(nb)
    if error is not None:
        result.status = FAILED
        result.error_kind, result.error = _classify(error, job.timeout)
        result.failed_cell = (
            _raising_cell(nb) if result.error_kind == "cell error" else _last_started_cell(nb)
        )

    page = ReportPage(
        title=run.title,
        parameters=run.rows,
        status=result.status,
        error=result.error,
        error_kind=result.error_kind,
        failed_cell=result.failed_cell,
        notebook_name=run.notebook.name,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    try:
        write_report(nb, page, html, show_code=job.show_code, notebook_dir=run.notebook.parent)
        result.html = html.name
    except Exception as exc:
        if result.status == OK:
            result.status = FAILED
            result.error_kind, result.error = "export failed", f"{type(exc).__name__}: {exc}"
        else:
            result.error += f" (The HTML export failed too: {type(exc).__name__}: {exc})"
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _crashed(job: ReportJob, exc: BaseException) -> ReportResult:
    run = job.run
    return ReportResult(
        name=run.name,
        title=run.title,
        notebook=str(run.notebook),
        parameters=dict(run.parameters),
        status=FAILED,
        error_kind="worker crashed",
        error=f"{type(exc).__name__}: {exc}",
        segment=list(run.segment) if run.segment else None,
    )


def run_reports(
    runs: Sequence[ReportRun],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    show_code: bool = False,
    progress: bool = True,
    on_result: Callable[[ReportResult], None] | None = None,
) -> list[ReportResult]:
    """Run reports in ``jobs`` worker processes (one kernel per report) with a progress bar.

    Parameters
    ----------
    runs : sequence of ReportRun
        From :func:`retention_utils.batch.plan.plan_runs`.
    out_dir : path
        Output folder.
    jobs : int, default 1
        Worker processes (each runs one report at a time).
    timeout : float, optional
        Per-cell timeout in seconds.
    show_code : bool, default False
        Show code in the HTML exports.
    progress : bool, default True
        Show a tqdm progress bar over reports on stderr.
    on_result : callable, optional
        Called with each result as it completes.

    Returns
    -------
    list of ReportResult
        In the order of ``runs``.
    """
    from tqdm import tqdm

    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}.")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = [
        ReportJob(run, out, timeout=timeout, show_code=show_code, capture_output=True)
        for run in runs
    ]
    results: dict[str, ReportResult] = {}
    if not work:
        return []
    names = {job.run.name for job in work}
    waiting = [job for job in work if job.run.after and job.run.after[0] in names]
    # spawn: a fresh interpreter per worker, no inherited threads or sockets.
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=context) as pool,
        tqdm(total=len(work), desc="Reports", unit="report", disable=not progress) as bar,
    ):
        futures = {pool.submit(execute_report, job): job for job in work if job not in waiting}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                job = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker process itself failed
                    result = _crashed(job, exc)
                results[job.run.name] = result
                bar.set_postfix_str(f"{result.name}: {result.status}", refresh=False)
                bar.update(1)
                if on_result is not None:
                    on_result(result)
                for follower in [j for j in waiting if j.run.after[0] == job.run.name]:
                    waiting.remove(follower)
                    if result.status == FAILED:
                        follower = _without_link(follower)
                    futures[pool.submit(execute_report, follower)] = follower
    return [results[run.name] for run in runs]


def _without_link(job: ReportJob) -> ReportJob:
    """The job with its link to a failed report's file emptied (it runs without it)."""
    _, parameter = job.run.after
    rows = tuple(
        replace(row, value="(not available: that report failed)") if row.name == parameter else row
        for row in job.run.rows
    )
    run = replace(job.run, parameters={**job.run.parameters, parameter: ""}, rows=rows)
    return replace(job, run=run)
