"""Kept for notebooks written before :mod:`retention_utils.report`: use
:func:`retention_utils.report.tables.readable`."""

from retention_utils.report.tables import readable

__all__ = ["readable"]
