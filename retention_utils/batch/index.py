"""The batch's ``index.html`` and ``summary.json`` (the same content, for people and programs).

The index is a dashboard. It shows, in this order: a banner when the run was interrupted;
one card per report (on all customers) with its status, its cautions or the cause of its
failure, the headline tiles of its summary block and a link to it; with ``--segment-by``, a
comparison table (one row per segment, the headline figures as columns), the segments
skipped with the reason and one row per segment report; and the reports left in the folder
by earlier runs, marked as such. Every text is
escaped (autoescaping templates), and both files are replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from retention_utils.batch.export import _CSP, UnsafeExportError, unsafe_markup
from retention_utils.batch.index_page import INDEX_TEMPLATE
from retention_utils.batch.models import (
    CAUTION,
    FAILED,
    INTERRUPTED,
    OK,
    ReportResult,
    display_value,
)
from retention_utils.batch.outdir import INDEX, SUMMARY, atomic_write
from retention_utils.report import REPORT_CSS, Tile, summary_tiles, tiles_html

SUMMARY_VERSION = 2
#: Headline figures compared across segments, in column order (``*`` matches any text).
COMPARED = (
    "customers",
    "revenue",
    "retention_rate_last",
    "retention_age_*",
    "repeat_purchase_rate",
    "simple_clv",
    "repeat_buyers",
    "mean_clv",
    "holdout_error_pct",
    "nps",
    "csat",
    "ces",
)
#: Headline figures per report kind when none of :data:`COMPARED` is recorded.
FALLBACK_COLUMNS = 4

_INDEX = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    INDEX_TEMPLATE
)


def _shown_parameters(result: ReportResult, root: Path | None = None) -> list[tuple[str, str]]:
    # The report's own folder is implied by its name; files inside the report folder (a
    # linked CLV table, a split file) are shown relative to it, other paths as given.
    return [
        (name, display_value(_inside(value, root)))
        for name, value in result.parameters.items()
        if name != "output_dir"
    ]


def _inside(value: Any, root: Path | None) -> Any:
    if root is None or not isinstance(value, str) or not os.path.isabs(value):
        return value
    try:
        return Path(value).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return value


def _kind(name: str) -> str:
    """``clv`` for ``clv__Country-Germany``."""
    return name.split("__", 1)[0]


def summary(
    results: Sequence[ReportResult],
    *,
    wall_time_s: float,
    title: str = "Retention reports",
    segments: dict[str, Any] | None = None,
    earlier: Sequence[dict[str, Any]] = (),
    interrupted: bool = False,
) -> dict[str, Any]:
    """The content of ``summary.json``.

    Parameters
    ----------
    results : sequence of ReportResult
        This run's reports (``status`` ok, caution, failed or interrupted).
    wall_time_s : float
        Wall time of the run in seconds.
    title : str
        Title of the index page.
    segments : dict, optional
        The fan-out: ``column``, ``min_customers``, ``sizes`` (segment -> ``customers``,
        ``rows``) and ``skipped`` (``segment``, ``customers``, ``rows``, ``reason``).
    earlier : sequence of dict
        Reports left in the folder by earlier runs (``name``, ``title``, ``html``, ``run``).
    interrupted : bool
        The run was interrupted.

    Returns
    -------
    dict
        ``version``, ``title``, ``generated``, ``wall_time_s``, ``interrupted``, ``counts``
        (total and per status), ``reports`` (one dict per report, with ``status``,
        ``cautions`` and ``cause``), ``segments`` and ``earlier_reports``.
    """
    counts = {"total": len(results)}
    counts.update({s: sum(r.status == s for r in results) for s in (OK, CAUTION, FAILED)})
    counts[INTERRUPTED] = sum(r.status == INTERRUPTED for r in results)
    return {
        "version": SUMMARY_VERSION,
        "title": title,
        "generated": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        "interrupted": interrupted,
        "counts": counts,
        "reports": [r.to_dict() for r in results],
        "segments": segments,
        "earlier_reports": [dict(e) for e in earlier],
    }


def _link(result: ReportResult) -> str:
    if result.html and result.status in (FAILED, INTERRUPTED):
        return f"{result.html}#report-error"
    return result.html or result.executed_notebook or ""


def _compared_columns(results: Sequence[ReportResult], kinds: list[str]) -> list[dict]:
    """The headline columns of the comparison table: kind, name and label."""
    columns = []
    for kind in kinds:
        labels: dict[str, str] = {}
        for result in results:
            if _kind(result.name) == kind:
                for h in result.headlines:
                    labels.setdefault(h["name"], h.get("label") or h["name"])
        chosen = [n for p in COMPARED for n in labels if fnmatch.fnmatchcase(n, p)]
        chosen = list(dict.fromkeys(chosen)) or list(labels)[:FALLBACK_COLUMNS]
        columns += [{"kind": kind, "name": n, "label": labels[n]} for n in chosen]
    return columns


def comparison(content: dict[str, Any]) -> dict[str, Any] | None:
    """The comparison table of a :func:`summary` with segments: columns and rows.

    Rows: all customers first, then one per reported segment, largest first. Each row has
    ``segment``, ``customers``, ``rows``, ``reports`` (kind -> status and link) and
    ``figures``: per headline column, the ``text`` of the figure as its report's tile shows
    it, its ``note`` and its ``interval`` ("" when not recorded).
    """
    segments = content.get("segments")
    if not segments:
        return None
    results = [ReportResult(**entry) for entry in content["reports"]]
    kinds = list(dict.fromkeys(_kind(r.name) for r in results if r.segment))
    columns = _compared_columns(results, kinds)
    by_key = {(tuple(r.segment) if r.segment else None, _kind(r.name)): r for r in results}
    values = list(dict.fromkeys(r.segment[1] for r in results if r.segment))
    sizes = segments.get("sizes", {})
    values.sort(key=lambda v: -sizes.get(v, {}).get("customers", 0))
    rows = []
    for value in [None, *values]:
        key = (segments["column"], value) if value is not None else None
        reports = {k: by_key.get((key, k)) for k in kinds}
        figures = []
        for column in columns:
            result = reports.get(column["kind"])
            headlines = {h["name"]: h for h in (result.headlines if result else [])}
            payload = headlines.get(column["name"])
            if payload is None:
                figures.append({"text": "", "note": "", "interval": ""})
                continue
            tiles = {t.name: t for t in summary_tiles(column["kind"], headlines.values())}
            figures.append(_figure(tiles.get(column["name"]), payload))
        size = sizes.get(value, {}) if value is not None else segments.get("all", {})
        rows.append(
            {
                "segment": "All customers" if value is None else value,
                "customers": size.get("customers"),
                "rows": size.get("rows"),
                "reports": {
                    k: {"status": r.status, "link": _link(r), "cause": r.cause or ""} if r else None
                    for k, r in reports.items()
                },
                "figures": figures,
            }
        )
    return {"kinds": kinds, "columns": columns, "rows": rows}


def _figure(tile: Tile | None, payload: dict) -> dict[str, str]:
    """A comparison cell: the figure as its tile shows it, with its note and interval."""
    if tile is None:  # a figure that is not a tile (a model parameter): its recorded text
        return {"text": payload.get("text", ""), "note": payload.get("note") or "", "interval": ""}
    text = tile.value if tile.missing or not tile.unit else f"{tile.value} {tile.unit}"
    return {"text": text, "note": tile.note or "", "interval": tile.interval or ""}


def _report_entry(result: ReportResult, root: Path | None) -> dict[str, Any]:
    cause = result.cause or result.error or ""
    tiles = summary_tiles(_kind(result.name), result.headlines)
    return {
        **result.to_dict(),
        "link": _link(result),
        "shown_parameters": _shown_parameters(result, root),
        "cause_short": cause if len(cause) <= 300 else cause[:297] + "...",
        # Tile markup escapes every text from the data (see retention_utils.report).
        "tiles": Markup(tiles_html(tiles)),
    }


def render_index(content: dict[str, Any], root: Path | None = None) -> str:
    """HTML of the index page for a :func:`summary` dict (all text escaped); paths inside
    ``root`` (the report folder) are shown relative to it.

    Each report on all customers gets a card: status, cautions (or the cause of a failure),
    the tiles of its summary block (units, intervals, notes) and its links. Reports on one
    segment are compared in the comparison table and listed below it, one row each.
    """
    entries = [_report_entry(ReportResult(**entry), root) for entry in content["reports"]]
    segments = content.get("segments") or {}
    page = _INDEX.render(
        csp=_CSP,
        report_css=Markup(REPORT_CSS),
        title=content["title"],
        counts=content["counts"],
        interrupted=content.get("interrupted", False),
        wall_time_s=content["wall_time_s"],
        generated=content["generated"].replace("T", " "),
        cards=[e for e in entries if not e["segment"]],
        segment_reports=[e for e in entries if e["segment"]],
        comparison=comparison(content),
        segment_column=segments.get("column"),
        min_customers=segments.get("min_customers"),
        skipped=segments.get("skipped", []),
        earlier=content.get("earlier_reports", []),
    )
    problems = unsafe_markup(page)
    if problems:  # pragma: no cover - autoescaping makes this unreachable
        raise UnsafeExportError("index.html refused: " + "; ".join(problems[:5]))
    return page


def write_index(
    results: Sequence[ReportResult],
    out_dir: str | Path,
    *,
    wall_time_s: float,
    title: str = "Retention reports",
    segments: dict[str, Any] | None = None,
    earlier: Sequence[dict[str, Any]] = (),
    interrupted: bool = False,
) -> tuple[Path, Path]:
    """Replace ``summary.json`` and ``index.html`` in ``out_dir`` atomically; return both
    paths. Arguments as for :func:`summary`."""
    out = Path(out_dir)
    content = summary(
        results,
        wall_time_s=wall_time_s,
        title=title,
        segments=segments,
        earlier=earlier,
        interrupted=interrupted,
    )
    summary_path = atomic_write(out / SUMMARY, json.dumps(content, indent=2, default=str) + "\n")
    index_path = atomic_write(out / INDEX, render_index(content, out))
    return index_path, summary_path
