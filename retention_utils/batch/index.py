"""The batch's ``index.html`` (one row per report) and ``summary.json`` (the same content)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from retention_utils.batch.execute import FAILED, OK, ReportResult
from retention_utils.batch.export import _CSP, UnsafeExportError, display_value, unsafe_markup

SUMMARY_VERSION = 1

_INDEX = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{{ title }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #222; max-width: 1200px; margin: 0 auto; padding: 1.5em 2em 4em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.meta { color: #555; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; font-size: 0.92em; }
th, td { text-align: left; vertical-align: top; padding: 0.5em 0.6em; border-bottom: 1px solid #ddd; }
thead th { border-bottom: 2px solid #999; background: #f6f6f6; }
td.num { text-align: right; white-space: nowrap; }
.status { display: inline-block; padding: 0.1em 0.6em; border-radius: 1em; font-weight: bold;
  font-size: 0.85em; }
.status.ok { background: #e3f4e6; color: #1b5e20; }
.status.failed { background: #fdecea; color: #b71c1c; }
.error { color: #611a15; font-size: 0.85em; margin-top: 0.3em; max-width: 28em;
  white-space: pre-wrap; word-break: break-word; }
ul.plain { list-style: none; padding: 0; margin: 0; }
ul.plain li { margin: 0.1em 0; }
code { font-size: 0.9em; background: #f3f3f3; padding: 0 0.25em; border-radius: 3px;
  word-break: break-all; }
.headline-label { color: #555; }
.links a { margin-right: 0.6em; white-space: nowrap; }
</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
<p class="meta">{{ counts.total }} report{{ '' if counts.total == 1 else 's' }}:
{{ counts.ok }} ok, {{ counts.failed }} failed &middot; wall time {{ '%.1f' | format(wall_time_s) }} s
&middot; generated {{ generated }}</p>
<table>
<thead><tr><th>Report</th><th>Parameters</th><th>Status</th><th>Duration</th>
<th>Headline figures</th><th>Files</th></tr></thead>
<tbody>
{%- for r in reports %}
<tr id="report-{{ r.name }}">
<td><a href="{{ r.link }}">{{ r.title }}</a><br><code>{{ r.name }}</code></td>
<td><ul class="plain">{% for name, value in r.shown_parameters %}<li><code>{{ name }}</code> = {{ value }}</li>{% else %}<li>defaults</li>{% endfor %}</ul></td>
<td><span class="status {{ r.status }}">{{ r.status }}</span>
{%- if r.status != 'ok' %}<div class="error"><a href="{{ r.link }}">{{ r.error_kind }}</a>: {{ r.error_short }}</div>{% endif %}</td>
<td class="num">{{ '%.1f' | format(r.duration_s) }} s</td>
<td><ul class="plain">{% for h in r.headlines %}<li><span class="headline-label">{{ h.label }}:</span> {{ h.text }}</li>{% endfor %}</ul></td>
<td class="links">{% if r.html %}<a href="{{ r.html }}">HTML</a>{% endif %}
{%- if r.executed_notebook %}<a href="{{ r.executed_notebook }}">notebook</a>{% endif %}
{%- if r.log %}<a href="{{ r.log }}">log</a>{% endif %}</td>
</tr>
{%- endfor %}
</tbody>
</table>
</main>
</body>
</html>
"""
)


def _shown_parameters(result: ReportResult, root: Path | None = None) -> list[tuple[str, str]]:
    # The report's own folder is implied by its name; files inside the report folder (a
    # linked CLV table) are shown relative to it, other paths as given.
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


def summary(
    results: Sequence[ReportResult], *, wall_time_s: float, title: str = "Retention reports"
) -> dict[str, Any]:
    """The content of ``summary.json``: counts, wall time and one entry per report."""
    counts = {
        "total": len(results),
        "ok": sum(r.status == OK for r in results),
        "failed": sum(r.status == FAILED for r in results),
    }
    return {
        "version": SUMMARY_VERSION,
        "title": title,
        "generated": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        "counts": counts,
        "reports": [r.to_dict() for r in results],
    }


def render_index(content: dict[str, Any], root: Path | None = None) -> str:
    """HTML of the index page for a :func:`summary` dict (all text escaped); paths inside
    ``root`` (the report folder) are shown relative to it."""
    reports = []
    for entry in content["reports"]:
        result = ReportResult(**entry)
        link = result.html or result.executed_notebook or ""
        if result.status != OK and result.html:
            link = f"{result.html}#report-error"
        error = result.error or ""
        reports.append(
            {
                **entry,
                "link": link,
                "shown_parameters": _shown_parameters(result, root),
                "error_short": error if len(error) <= 300 else error[:297] + "...",
                "headlines": [
                    {"label": h.get("label") or h.get("name"), "text": h.get("text", "")}
                    for h in result.headlines
                ],
            }
        )
    page = _INDEX.render(
        csp=_CSP,
        title=content["title"],
        counts=content["counts"],
        wall_time_s=content["wall_time_s"],
        generated=content["generated"].replace("T", " "),
        reports=reports,
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
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``index.html`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    content = summary(results, wall_time_s=wall_time_s, title=title)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(content, indent=2, default=str) + "\n", encoding="utf-8")
    index_path = out / "index.html"
    index_path.write_text(render_index(content, out), encoding="utf-8")
    return index_path, summary_path
