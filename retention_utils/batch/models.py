"""What the batch modules pass to each other: parameter rows, report pages and results.

Plain data only, so that planning and execution never import the HTML exporter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import nbformat

#: Report statuses, from best to worst (SPEC section 5, "Status").
OK = "ok"
CAUTION = "caution"
FAILED = "failed"
INTERRUPTED = "interrupted"
STATUSES = (OK, CAUTION, FAILED, INTERRUPTED)


def display_value(value: Any) -> str:
    """Text of a parameter value for tables: ``""`` shows as "(not set)", lists joined.

    >>> display_value(["a", 1, True])
    '[a, 1, true]'
    """
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(display_value(v) for v in value) + "]"
    if value == "":
        return "(not set)"
    return str(value)


@dataclass(frozen=True)
class ParameterRow:
    """One row of the parameters table of a report."""

    name: str
    value: Any
    help: str = ""
    set_by_run: bool = False

    @property
    def text(self) -> str:
        """The value as shown in the table."""
        return display_value(self.value)


@dataclass(frozen=True)
class ReportPage:
    """What the page shows besides the notebook: title, status, cause, parameters."""

    title: str
    parameters: Sequence[ParameterRow] = ()
    status: str = OK
    error: str | None = None
    error_kind: str | None = None
    failed_cell: int | None = None  # index into the executed notebook's cells
    notebook_name: str = ""
    generated: str = ""
    cause: str | None = None  # one sentence: why the report failed
    traceback: str | None = None  # plain text, folded below the cause
    cautions: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ReportResult:
    """Outcome of one report, as written to ``summary.json``.

    ``status`` is one of :data:`STATUSES`. ``cause`` is one sentence saying why a report
    failed (or was interrupted); ``error`` the exception as raised. ``duration_s`` is wall
    time in seconds (execution and export). File names are relative to the output folder.
    """

    name: str
    title: str
    notebook: str
    parameters: dict[str, Any]
    status: str
    cautions: list[str] = field(default_factory=list)
    cause: str | None = None
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
        """A JSON-ready dict of every field."""
        return asdict(self)


def notebook_title(nb: nbformat.NotebookNode, default: str) -> str:
    """The text of the first Markdown heading of a notebook, or ``default``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = re.match(r"\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
            if match:
                return re.sub(r"[*_`]", "", match.group(1)).strip()
    return default
