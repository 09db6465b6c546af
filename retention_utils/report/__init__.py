"""What a report shows the reader: summary block, notes and readable tables.

The present layer: imports :mod:`retention_utils.record` and below; only notebooks and the
batch runner import it.
"""

from retention_utils.report.notes import CautionNote, EmptySection, caution_note, empty_section
from retention_utils.report.numbers import format_figure, format_number, format_p_value
from retention_utils.report.style import REPORT_CSS
from retention_utils.report.summary import (
    SummaryBlock,
    Tile,
    summary_block,
    summary_tiles,
    tiles_html,
)
from retention_utils.report.tables import ReportTable, readable, report_table

__all__ = [
    "REPORT_CSS",
    "CautionNote",
    "EmptySection",
    "ReportTable",
    "SummaryBlock",
    "Tile",
    "caution_note",
    "empty_section",
    "format_figure",
    "format_number",
    "format_p_value",
    "readable",
    "report_table",
    "summary_block",
    "summary_tiles",
    "tiles_html",
]
