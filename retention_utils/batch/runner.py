"""Producing reports: execute, then export, one kernel per report in worker processes.

A failed report is still exported, with its cause in one sentence, the traceback folded
below it and a marker at the failing cell; the other reports go on. A report that recorded a
caution (:func:`retention_utils.record.caution`) ends ``caution``. When the batch is
interrupted (Ctrl-C), the reports not finished are returned as ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from retention_utils.batch.execute import execute_notebook
from retention_utils.batch.export import write_report
from retention_utils.batch.models import (
    CAUTION,
    FAILED,
    INTERRUPTED,
    OK,
    ReportPage,
    ReportResult,
)
from retention_utils.batch.plan import ReportRun


@dataclass(frozen=True)
class ReportJob:
    """A planned report plus how to run it (picklable, sent to a worker process)."""

    run: ReportRun
    out_dir: Path
    timeout: float | None = None  # seconds per cell; None = no limit
    show_code: bool = False
    start_timeout: float = 60.0
    capture_output: bool = False  # send the worker's and kernel's stdout/stderr to a log


def _result(run: ReportRun, status: str, **fields) -> ReportResult:
    return ReportResult(
        name=run.name,
        title=run.title,
        notebook=str(run.notebook),
        parameters=dict(run.parameters),
        status=status,
        segment=list(run.segment) if run.segment else None,
        **fields,
    )


def produce_report(job: ReportJob) -> ReportResult:
    """Execute one report and export it to HTML; never raises for a failing report.

    The status is ``failed`` when a cell raised, the kernel died, a cell timed out or the
    export failed; else ``caution`` when the notebook recorded a caution; else ``ok``.
    """
    run = job.run
    out = Path(job.out_dir)
    started = time.perf_counter()
    done = execute_notebook(
        run,
        out,
        timeout=job.timeout,
        start_timeout=job.start_timeout,
        capture_output=job.capture_output,
    )
    status = FAILED if done.error else (CAUTION if done.cautions else OK)
    result = _result(
        run,
        status,
        cautions=done.cautions,
        cause=done.cause,
        error_kind=done.error_kind,
        error=done.error,
        failed_cell=done.failed_cell,
        headlines=done.headlines,
        executed_notebook=done.executed.name if done.executed else None,
        log=done.log.relative_to(out).as_posix() if done.log else None,
    )
    page = ReportPage(
        title=run.title,
        parameters=run.rows,
        status=status,
        error=done.error,
        error_kind=done.error_kind,
        failed_cell=done.failed_cell,
        notebook_name=run.notebook.name,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        cause=done.cause,
        traceback=done.traceback,
        cautions=tuple(done.cautions),
    )
    html = out / f"{run.name}.html"
    try:
        write_report(done.nb, page, html, show_code=job.show_code, notebook_dir=run.notebook.parent)
        result.html = html.name
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        if result.status != FAILED:
            result.status = FAILED
            result.error_kind, result.error = "export failed", message
            result.cause = f"The HTML export failed: {message}"
        else:
            result.error += f" (The HTML export failed too: {message})"
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _crashed(job: ReportJob, exc: BaseException) -> ReportResult:
    message = f"{type(exc).__name__}: {exc}"
    return _result(
        job.run,
        FAILED,
        error_kind="worker crashed",
        error=message,
        cause=f"The worker process running this report crashed ({message}).",
    )


def interrupted(run: ReportRun) -> ReportResult:
    """The result of a report that had not finished when the batch was interrupted."""
    return _result(
        run,
        INTERRUPTED,
        error_kind="interrupted",
        cause="The batch was interrupted (Ctrl-C) before this report finished.",
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
        Output folder (it must exist).
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
        In the order of ``runs``. On KeyboardInterrupt the workers are stopped and the
        reports not finished come back with status ``interrupted``.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}.")
    out = Path(out_dir).resolve()
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
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=context)
    futures: dict[Future, ReportJob] = {}
    try:
        with tqdm(total=len(work), desc="Reports", unit="report", disable=not progress) as bar:
            for job in work:
                if job not in waiting:
                    futures[pool.submit(produce_report, job)] = job
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    job = futures.pop(future)
                    try:
                        result = future.result()
                    except KeyboardInterrupt:
                        raise
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
                        futures[pool.submit(produce_report, follower)] = follower
    except KeyboardInterrupt:
        _stop(pool)
    else:
        pool.shutdown(wait=True)
    return [results.get(run.name) or interrupted(run) for run in runs]


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: cancel what has not started, terminate the workers.

    A worker's kernel notices its parent is gone and exits (ipykernel's parent poller).
    """
    # ProcessPoolExecutor has no public way to stop running work; its worker processes are
    # the documented-in-source ``_processes`` mapping.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


def _without_link(job: ReportJob) -> ReportJob:
    """The job with its link to a failed report's file emptied (it runs without it)."""
    _, parameter = job.run.after
    rows = tuple(
        replace(row, value="(not available: that report failed)") if row.name == parameter else row
        for row in job.run.rows
    )
    run = replace(job.run, parameters={**job.run.parameters, parameter: ""}, rows=rows)
    return replace(job, run=run)
