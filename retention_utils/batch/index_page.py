"""The Jinja template of ``index.html`` (no script; every value escaped by autoescaping)."""

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{{ title }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #222; max-width: 1400px; margin: 0 auto; padding: 1.5em 2em 4em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; }
.meta { color: #555; font-size: 0.9em; margin-top: 0; }
.note { color: #555; font-size: 0.85em; }
table { border-collapse: collapse; width: 100%; margin-top: 0.6em; font-size: 0.92em; }
th, td { text-align: left; vertical-align: top; padding: 0.5em 0.6em; border-bottom: 1px solid #ddd; }
thead th { border-bottom: 2px solid #999; background: #f6f6f6; }
td.num, th.num { text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; max-height: 80vh; overflow-y: auto; border: 1px solid #ddd; }
table.compare { font-size: 0.8em; margin: 0; }
table.compare th, table.compare td { padding: 0.25em 0.5em; }
table.compare thead th { position: sticky; top: 0; z-index: 1; min-width: 5em; max-width: 11em;
  white-space: normal; vertical-align: bottom; }
table.compare td:first-child { white-space: nowrap; }
details.more summary { cursor: pointer; color: #555; font-size: 0.9em; }
table.compare tbody tr:nth-child(even) { background: #fafafa; }
table.compare tbody tr.all { background: #eef3fb; font-weight: bold; }
.sorted::after { content: " \\25BC"; color: #777; }
.status { display: inline-block; padding: 0.1em 0.6em; border-radius: 1em; font-weight: bold;
  font-size: 0.85em; }
.status.ok { background: #e3f4e6; color: #1b5e20; }
.status.caution { background: #fff4d6; color: #6b4e00; }
.status.failed { background: #fdecea; color: #b71c1c; }
.status.interrupted, .status.skipped, .status.earlier { background: #eceff1; color: #37474f; }
.banner { border-radius: 4px; padding: 0.8em 1em; margin: 1em 0; background: #fdecea;
  border: 1px solid #e0625a; color: #611a15; }
.error { color: #611a15; font-size: 0.85em; margin-top: 0.3em; max-width: 28em;
  white-space: pre-wrap; word-break: break-word; }
.cautions { color: #5d4200; font-size: 0.85em; margin: 0.3em 0 0; padding-left: 1.1em; max-width: 28em; }
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
{{ counts.ok }} ok, {{ counts.caution }} caution, {{ counts.failed }} failed
{%- if counts.interrupted %}, {{ counts.interrupted }} interrupted{% endif %}
&middot; wall time {{ '%.1f' | format(wall_time_s) }} s &middot; generated {{ generated }}</p>
{%- if interrupted %}
<div id="interrupted" class="banner"><strong>This run was interrupted.</strong>
{{ counts.interrupted }} report{{ '' if counts.interrupted == 1 else 's' }} did not finish and
{{ 'is' if counts.interrupted == 1 else 'are' }} marked <em>interrupted</em>; the figures
below come from the reports that finished.</div>
{%- endif %}
{%- if comparison %}
<h2 id="comparison">Segments by {{ segment_column }}</h2>
<p class="note">One row per segment of at least {{ min_customers }} customer{{ '' if min_customers == 1 else 's' }} (a customer's
segment is the value on their first purchase), largest first; the headline figures of each
report as columns.{% if skipped %} {{ skipped | length }} segment{{ '' if skipped | length == 1 else 's' }}
without a report are listed below the table.{% endif %}</p>
<div class="scroll">
<table class="compare">
<thead><tr><th>{{ segment_column }}</th><th class="num sorted">Customers</th><th class="num">Rows</th>
{%- for kind in comparison.kinds %}<th>{{ kind }}</th>{% endfor %}
{%- for c in comparison.columns %}<th class="num" title="{{ c.kind }}: {{ c.name }}">{{ c.kind }}: {{ c.label }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in comparison.rows %}
<tr{% if loop.first %} class="all"{% endif %}><td>{{ row.segment }}</td>
<td class="num">{{ '{:,}'.format(row.customers) if row.customers is not none else '' }}</td>
<td class="num">{{ '{:,}'.format(row.rows) if row.rows is not none else '' }}</td>
{%- for kind in comparison.kinds %}{% set r = row.reports[kind] %}
<td>{% if r %}<a href="{{ r.link }}" title="{{ r.cause }}"><span class="status {{ r.status }}">{{ r.status }}</span></a>{% endif %}</td>
{%- endfor %}
{%- for text in row.figures %}<td class="num">{{ text }}</td>{% endfor %}
</tr>
{%- endfor %}
</tbody>
</table>
</div>
{%- endif %}
{%- if skipped %}
<h2 id="skipped">Segments without a report</h2>
<table class="skipped">
<thead><tr><th>{{ segment_column }}</th><th class="num">Customers</th><th class="num">Rows</th><th>Reason</th></tr></thead>
<tbody>
{%- for s in skipped %}
<tr><td>{{ s.segment if s.segment is not none else '(no value)' }}</td><td class="num">{{ '{:,}'.format(s.customers) }}</td>
<td class="num">{{ '{:,}'.format(s.rows) }}</td><td><span class="status skipped">skipped</span> {{ s.reason }}</td></tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
<h2 id="reports">Reports of this run</h2>
<table class="reports">
<thead><tr><th>Report</th><th>Parameters</th><th>Status</th><th>Duration</th>
<th>Headline figures</th><th>Files</th></tr></thead>
<tbody>
{%- for r in reports %}
<tr id="report-{{ r.name }}">
<td>{% if r.link %}<a href="{{ r.link }}">{{ r.title }}</a>{% else %}{{ r.title }}{% endif %}<br><code>{{ r.name }}</code></td>
<td>{% if r.shown_parameters | length > 4 %}<details class="more"><summary>{{ r.shown_parameters | length }} parameters set</summary>{% endif %}<ul class="plain">{% for name, value in r.shown_parameters %}<li><code>{{ name }}</code> = {{ value }}</li>{% else %}<li>defaults</li>{% endfor %}</ul>{% if r.shown_parameters | length > 4 %}</details>{% endif %}</td>
<td><span class="status {{ r.status }}">{{ r.status }}</span>
{%- if r.status in ('failed', 'interrupted') %}<div class="error">{% if r.link %}<a href="{{ r.link }}">{{ r.error_kind }}</a>{% else %}{{ r.error_kind }}{% endif %}: {{ r.cause_short }}</div>{% endif %}
{%- if r.cautions %}<ul class="cautions">{% for text in r.cautions %}<li>{{ text }}</li>{% endfor %}</ul>{% endif %}</td>
<td class="num">{{ '%.1f' | format(r.duration_s) }} s</td>
<td><ul class="plain">{% for h in r.headlines[:3] %}<li><span class="headline-label">{{ h.label }}:</span> {{ h.text }}</li>{% endfor %}</ul>
{%- if r.headlines | length > 3 %}<details class="more"><summary>{{ r.headlines | length - 3 }} more</summary><ul class="plain">{% for h in r.headlines[3:] %}<li><span class="headline-label">{{ h.label }}:</span> {{ h.text }}</li>{% endfor %}</ul></details>{% endif %}</td>
<td class="links">{% if r.html %}<a href="{{ r.html }}">HTML</a>{% endif %}
{%- if r.executed_notebook %}<a href="{{ r.executed_notebook }}">notebook</a>{% endif %}
{%- if r.log %}<a href="{{ r.log }}">log</a>{% endif %}</td>
</tr>
{%- endfor %}
</tbody>
</table>
{%- if earlier %}
<h2 id="earlier">Reports left by earlier runs</h2>
<p class="note">These files are in this folder but were not written by this run: their
figures may describe other data or parameters.</p>
<table class="earlier">
<thead><tr><th>Report</th><th>Status</th><th>Written by</th></tr></thead>
<tbody>
{%- for e in earlier %}
<tr><td><a href="{{ e.html }}">{{ e.title }}</a><br><code>{{ e.name }}</code></td>
<td><span class="status earlier">earlier run</span></td>
<td>{{ 'the run of ' ~ e.run if e.run else 'not recorded (another tool, or an older runner)' }}</td></tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
</main>
</body>
</html>
"""
