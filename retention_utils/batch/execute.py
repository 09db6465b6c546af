"""Executing one report notebook with papermill, and saying why it failed.

A report's status comes only from what papermill raises: ``PapermillExecutionError`` (a cell
raised), nbclient's ``DeadKernelError`` (the kernel died) or ``CellTimeoutError`` (a cell ran
past the per-cell timeout), or any other exception (e.g. the kernel did not start). The
output notebook's metadata is not used: papermill marks a notebook whose kernel died as
"completed". A failure is summed up in one sentence (:func:`failure_cause`): the message of
the error the report itself raised (a ``DataValidationError``, a ``ValueError`` naming the
problem), or, when the error came from inside a library, which toolkit function it broke in.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError

from retention_utils.batch.plan import ReportRun
from retention_utils.record import read_cautions, read_headlines

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython 8+ frame headers: "File ~/x/retention_utils/clv.py:123, in predict(...)" and
# "Cell In[7], line 3".
_FRAME = re.compile(
    r"^(?:File\s+(?P<file>.+?):\d+, in (?P<func>\w+)|(?P<cell>Cell In\[\d+\]))", re.M
)
_PACKAGE = "retention_utils"


@dataclass
class Execution:
    """What executing a report notebook produced.

    ``nb`` is the executed notebook (or the source notebook when the kernel never started);
    the error fields are None when every cell ran.
    """

    nb: nbformat.NotebookNode
    executed: Path | None
    log: Path | None
    headlines: list[dict]
    cautions: list[str]
    error_kind: str | None = None
    error: str | None = None
    cause: str | None = None
    traceback: str | None = None
    failed_cell: int | None = None


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


def plain_traceback(lines: list[str] | None) -> str:
    """A traceback as plain text (IPython colours it with ANSI escapes)."""
    return _ANSI.sub("", "\n".join(lines or [])).strip()


def _sentence(text: str) -> str:
    text = str(text).replace(":\n- ", ": ").replace("\n- ", "; ")
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _module_name(file: str) -> str:
    """``retention_utils/clv.py`` from a frame's file path."""
    parts = Path(file.replace("~", "")).parts
    if _PACKAGE in parts:
        return "/".join(parts[len(parts) - parts[::-1].index(_PACKAGE) - 1 :])
    return Path(file).name


def _library(file: str) -> str:
    """``pandas`` for ``.../site-packages/pandas/core/indexing.py``."""
    parts = Path(file).parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return Path(file).name


def failure_cause(ename: str, evalue: str, traceback: str = "") -> str:
    """One sentence saying why a cell failed.

    When the error was raised by the notebook's own code or by the toolkit, its message is
    the cause (it names the problem and what to do). When it came from inside a library
    (pandas, numpy, lifetimes) the cause names the toolkit function it broke in: that is a
    defect of the toolkit on these data, not a problem of the data.

    >>> failure_cause("ValueError", "too few repeat buyers (3) to fit the model")
    'Too few repeat buyers (3) to fit the model.'
    """
    frames = list(_FRAME.finditer(traceback))
    last = frames[-1] if frames else None
    own = last is None or last["cell"] or _PACKAGE in Path(last["file"]).parts
    message = evalue.strip() or ename
    if own:
        return _sentence(message)
    ours = [f for f in frames if f["file"] and _PACKAGE in Path(f["file"]).parts]
    where = f" in {_module_name(ours[-1]['file'])} ({ours[-1]['func']})" if ours else ""
    library = _library(last["file"])
    return (
        f"The report broke on an unexpected {ename}{where}, raised inside {library} "
        f"({' '.join(message.split())}); this is a defect of the toolkit on these data, not "
        "a problem with your data."
    )


def classify(exc: BaseException, timeout: float | None) -> tuple[str, str, str, str | None]:
    """Kind, message, one-sentence cause and plain traceback of a papermill exception."""
    if isinstance(exc, PapermillExecutionError):
        traceback = plain_traceback(exc.traceback)
        cause = failure_cause(exc.ename, exc.evalue, traceback)
        return "cell error", f"{exc.ename}: {exc.evalue}", cause, traceback or None
    if isinstance(exc, DeadKernelError):
        message = (
            "The kernel died while running a cell (it was killed, ran out of memory, or "
            "crashed in native code)."
        )
        return "kernel died", message, message, None
    if isinstance(exc, CellTimeoutError):
        limit = f"{timeout:g} s" if timeout else "the time limit"
        message = f"A cell ran longer than the per-cell timeout of {limit}."
        return "cell timeout", message, message, None
    message = f"{type(exc).__name__}: {exc}"
    return "error", message, _sentence(f"The report could not run: {message}"), None


def execute_notebook(
    run: ReportRun,
    out: Path,
    *,
    timeout: float | None = None,
    start_timeout: float = 60.0,
    capture_output: bool = False,
) -> Execution:
    """Execute one report with papermill into ``out/<name>.ipynb``.

    Never raises for a failing report: the returned :class:`Execution` carries the kind of
    failure (``"cell error"``, ``"kernel died"``, ``"cell timeout"``, ``"error"``), the
    message, a one-sentence cause and the failing cell. The report's earlier files (listed
    in the runner's manifest, checked before the batch started) are removed first.
    """
    ipynb = out / f"{run.name}.ipynb"
    log = out / "logs" / f"{run.name}.log"
    for stale in (ipynb, out / f"{run.name}.html", log):
        stale.unlink(missing_ok=True)
    redirect = _output_to(log) if capture_output else contextlib.nullcontext()
    error: Exception | None = None
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
                start_timeout=start_timeout,
                execution_timeout=timeout,
            )
        except Exception as exc:  # the status comes from here, whatever the metadata says
            error = exc
    if not ipynb.exists() and engine.last_manager is not None:
        # A dead kernel or a timeout: papermill raised without writing the notebook.
        nbformat.write(engine.last_manager.nb, ipynb)
    executed = ipynb if ipynb.exists() else None
    # The kernel never started: the report shows the notebook as it was.
    nb = nbformat.read(executed or run.notebook, as_version=4)
    result = Execution(
        nb=nb,
        executed=executed,
        log=log if capture_output and log.exists() else None,
        headlines=read_headlines(nb),
        cautions=read_cautions(nb),
    )
    if error is not None:
        result.error_kind, result.error, result.cause, result.traceback = classify(error, timeout)
        cell_error = result.error_kind == "cell error"
        result.failed_cell = _raising_cell(nb) if cell_error else _last_started_cell(nb)
    return result
