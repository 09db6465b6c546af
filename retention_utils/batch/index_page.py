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
.error { color: #611a15; font-size: 0.9em; margin: 0.4em 0; white-space: pre-wrap;
  word-break: break-word; }
.error a { color: #611a15; font-weight: bold; }
ul.cautions { color: #5d4200; background: #fff8e6; border: 1px solid #e6b34a;
  border-left: 5px solid #e09b00; border-radius: 4px; font-size: 0.9em; margin: 0.6em 0;
  padding: 0.4em 0.8em 0.4em 2em; }
table.segment-reports ul.cautions { font-size: 0.85em; max-width: 40em; }
ul.plain { list-style: none; padding: 0; margin: 0; }
ul.plain li { margin: 0.1em 0; }
code { font-size: 0.9em; background: #f3f3f3; padding: 0 0.25em; border-radius: 3px;
  word-break: break-all; }
.links a { margin-right: 0.8em; white-space: nowrap; }
.fig-note { color: #666; font-size: 0.85em; font-weight: normal; white-space: normal;
  max-width: 14em; margin-left: auto; }
.cards { display: grid; gap: 1.2em; margin-top: 0.8em; }
.report-card { border: 1px solid #d0d7de; border-left: 6px solid #2e7d32; border-radius: 6px;
  padding: 0.8em 1.2em 0.6em; background: #fff; min-width: 0; }
.report-card.caution { border-left-color: #e09b00; }
.report-card.failed { border-left-color: #c62828; }
.report-card.interrupted { border-left-color: #78909c; }
.card-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3em 0.8em;
  margin-bottom: 0.6em; }
.card-head h3 { margin: 0; font-size: 1.2em; }
.card-head h3 a { color: #0b57d0; }
.card-meta { color: #555; font-size: 0.85em; }
.card-foot { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3em 1.5em;
  font-size: 0.9em; border-top: 1px solid #eee; padding-top: 0.4em; }
.card-foot details { flex: 1 1 20em; min-width: 0; }
.report-card .ru-tiles { margin-bottom: 0.6em; }
{{ report_css }}
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
{%- if cards %}
<h2 id="reports">{{ 'Reports on all customers' if comparison else 'Reports of this run' }}</h2>
<div class="cards">
{%- for r in cards %}
<article class="report-card {{ r.status }}" id="report-{{ r.name }}">
<div class="card-head">
<h3>{% if r.link %}<a href="{{ r.link }}">{{ r.title }}</a>{% else %}{{ r.title }}{% endif %}</h3>
<span class="status {{ r.status }}">{{ r.status }}</span>
<span class="card-meta"><code>{{ r.name }}</code> &middot; {{ '%.1f' | format(r.duration_s) }} s</span>
</div>
{%- if r.status in ('failed', 'interrupted') %}
<p class="error">{% if r.link %}<a href="{{ r.link }}">{{ r.error_kind or r.status }}</a>{% else %}{{ r.error_kind or r.status }}{% endif %}: {{ r.cause_short }}</p>
{%- endif %}
{%- if r.cautions %}
<ul class="cautions">{% for text in r.cautions %}<li>{{ text }}</li>{% endfor %}</ul>
{%- endif %}
{%- if r.tiles %}
{%- if r.status in ('failed', 'interrupted') %}<p class="note">Figures computed before the report stopped:</p>{% endif %}
{{ r.tiles }}
{%- endif %}
<div class="card-foot">
<span class="links">{% if r.html %}<a href="{{ r.link }}">Open the report</a>{% endif %}
{%- if r.executed_notebook %}<a href="{{ r.executed_notebook }}">notebook</a>{% endif %}
{%- if r.log %}<a href="{{ r.log }}">log</a>{% endif %}</span>
<details class="more"><summary>{{ r.shown_parameters | length or 'No' }} parameter{{ '' if r.shown_parameters | length == 1 else 's' }} set</summary><ul class="plain">{% for name, value in r.shown_parameters %}<li><code>{{ name }}</code> = {{ value }}</li>{% else %}<li>defaults</li>{% endfor %}</ul></details>
</div>
</article>
{%- endfor %}
</div>
{%- endif %}
{%- if comparison %}
<h2 id="comparison">Segments by {{ segment_column }}</h2>
<p class="note">One row per segment of at least {{ min_customers }} customer{{ '' if min_customers == 1 else 's' }} (a customer's
segment is the value on their first purchase), largest first; the headline figures of each
report as columns.{% if skipped %} {{ skipped | length }} segment{{ '' if skipped | length == 1 else 's' }}
without a report {{ 'is' if skipped | length == 1 else 'are' }} listed below the table.{% endif %}</p>
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
{%- for f in row.figures %}<td class="num"{% if f.interval %} title="{{ f.interval }}"{% endif %}>{{ f.text }}{% if f.note %}<div class="fig-note">{{ f.note }}</div>{% endif %}</td>{% endfor %}
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
{%- if segment_reports %}
<h2 id="segment-reports">Segment reports</h2>
<table class="segment-reports">
<thead><tr><th>Report</th><th>{{ segment_column }}</th><th>Status</th><th class="num">Duration</th><th>Files</th></tr></thead>
<tbody>
{%- for r in segment_reports %}
<tr id="report-{{ r.name }}">
<td>{% if r.link %}<a href="{{ r.link }}">{{ r.title }}</a>{% else %}{{ r.title }}{% endif %}<br><code>{{ r.name }}</code></td>
<td>{{ r.segment[1] }}</td>
<td><span class="status {{ r.status }}">{{ r.status }}</span>
{%- if r.status in ('failed', 'interrupted') %}<div class="error">{{ r.error_kind or r.status }}: {{ r.cause_short }}</div>{% endif %}
{%- if r.cautions %}<ul class="cautions">{% for text in r.cautions %}<li>{{ text }}</li>{% endfor %}</ul>{% endif %}</td>
<td class="num">{{ '%.1f' | format(r.duration_s) }} s</td>
<td class="links">{% if r.html %}<a href="{{ r.html }}">HTML</a>{% endif %}
{%- if r.executed_notebook %}<a href="{{ r.executed_notebook }}">notebook</a>{% endif %}
{%- if r.log %}<a href="{{ r.log }}">log</a>{% endif %}</td>
</tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
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
