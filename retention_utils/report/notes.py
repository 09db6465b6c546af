"""Notes in a report section: a caution as a styled note, a section with nothing to show."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from retention_utils.report.style import with_style

# Periods ("2011-11", "2024-Q1") and numbers with their unit ("-1.3 pp", "8,911.90 GBP") are
# kept on one line: a line break inside "2011-11" or between "23.5" and "%" misreads.
_UNBROKEN = re.compile(
    r"\d{4}-(?:\d{2}|Q[1-4]|W\d{2})(?:-\d{2})?"
    r"|[-+]?\d[\d,.]* (?:%|pp|points|[A-Z]{3})(?![\w-])|[-+]\d[\d,.]*"
)


def text_html(text: str) -> str:
    """``text`` escaped, with periods and numbers with their unit kept on one line."""
    return _UNBROKEN.sub(
        lambda m: f'<span class="ru-nowrap">{m.group(0)}</span>', html.escape(str(text))
    )


def caution_html(text: str, *, section: str | None = None) -> str:
    """Markup of a caution note (amber, labelled "Caution"); ``text`` is escaped."""
    where = f'<span class="ru-note-section">({html.escape(section)})</span>' if section else ""
    return (
        '<div class="ru-note ru-caution"><strong class="ru-note-label">Caution</strong>'
        f"{text_html(text)}{where}</div>"
    )


@dataclass(frozen=True)
class CautionNote:
    """A caution shown in its section: a styled note, never raw warning text."""

    text: str
    section: str | None = None

    def _repr_html_(self) -> str:
        return with_style(caution_html(self.text, section=self.section))

    def __repr__(self) -> str:
        return f"Caution: {self.text}"


@dataclass(frozen=True)
class EmptySection:
    """A section with nothing to show: one sentence instead of an empty chart or table."""

    sentence: str

    def _repr_html_(self) -> str:
        return with_style(f'<p class="ru-empty">{html.escape(self.sentence)}</p>')

    def __repr__(self) -> str:
        return self.sentence


def caution_note(text: str, *, section: str | None = None) -> CautionNote:
    """A caution to display in its section, e.g. ``caution_note(text)`` after recording it.

    Examples
    --------
    >>> caution_note("Only 12 repeat buyers: the model is unstable.")
    Caution: Only 12 repeat buyers: the model is unstable.
    """
    return CautionNote(str(text), section)


def empty_section(sentence: str) -> EmptySection:
    """The one sentence a section shows when it has nothing to show.

    Examples
    --------
    >>> empty_section("No subscriptions in this data: there is no MRR to show.")
    No subscriptions in this data: there is no MRR to show.
    """
    return EmptySection(str(sentence))
