"""The stylesheet of the report's display objects (summary, notes, tables).

Display objects put it in a ``<style>`` element before their markup so they look right in
Jupyter; the HTML exporter drops such elements, so it must add :data:`REPORT_CSS` to the
page's own stylesheet.
"""

from __future__ import annotations

REPORT_CSS = """
.ru-summary { margin: 0.5em 0 2em; font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
.ru-summary h2.ru-summary-title { margin: 0 0 0.6em; }
.ru-tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(13em, 1fr));
  gap: 0.6em; margin: 0 0 1em; }
.ru-tile { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6em 0.8em;
  background: #f8fafc; min-width: 0; overflow-wrap: anywhere; }
.ru-tile-label { color: #444; font-size: 0.85em; line-height: 1.25; }
.ru-tile-value { font-size: 1.45em; font-weight: 600; margin: 0.15em 0;
  font-variant-numeric: tabular-nums; }
.ru-tile-number { white-space: nowrap; }
.ru-tile-unit { font-size: 0.6em; font-weight: 400; color: #555; }
.ru-tile-interval, .ru-tile-note { color: #555; font-size: 0.8em; line-height: 1.3; }
.ru-tile-missing .ru-tile-value { color: #888; }
.ru-sentences { margin: 0.8em 0 0; padding-left: 1.2em; line-height: 1.5; }
.ru-sentences li { margin: 0.2em 0; }
.ru-note { border: 1px solid #e6b34a; border-left: 5px solid #e09b00; background: #fff8e6;
  border-radius: 4px; padding: 0.5em 0.8em; margin: 0.5em 0; line-height: 1.45;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
.ru-note-label { color: #7a4d00; font-weight: 700; margin-right: 0.4em; }
.ru-note-section { color: #7a4d00; font-size: 0.85em; margin-left: 0.4em; }
.ru-nowrap { white-space: nowrap; }
.ru-empty { color: #555; font-style: italic; margin: 0.4em 0; }
.ru-table-wrap { overflow-x: auto; max-width: 100%; margin: 0.4em 0 1em; }
.ru-table-wrap table.ru-table { table-layout: auto; border-collapse: collapse; margin: 0;
  font-size: 0.9em; font-variant-numeric: tabular-nums; }
.ru-table-wrap table.ru-table th, .ru-table-wrap table.ru-table td { padding: 0.25em 0.7em;
  border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
.ru-table-wrap table.ru-table th { white-space: nowrap; background: #f3f5f7; }
.ru-table-wrap table.ru-table .ru-num { text-align: right; white-space: nowrap; }
.ru-table-wrap table.ru-table .ru-period { white-space: nowrap; }
.ru-table-wrap table.ru-table td.ru-text { min-width: 12em; }
.ru-table-wrap table.ru-table caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.ru-table-footnote { color: #555; font-size: 0.8em; margin: 0.3em 0 0; }
"""


def with_style(markup: str) -> str:
    """``markup`` preceded by the report stylesheet (for Jupyter; exporters drop it)."""
    return f"<style>{REPORT_CSS}</style>\n{markup}"
