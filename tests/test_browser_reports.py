"""Reports read cleanly in a browser: no sideways overflow, no overlaps, no warning text.

The check (``tests/browser.py``, :data:`browser.LAYOUT_JS`) is first tested on small pages
with one defect each, then run on the demo pack at 1366 and 1920 px.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import WIDTHS, check_pages, find_chromium, readme_screenshots, report_pages

pytestmark = pytest.mark.browser

PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
#: A page a reader should find clean: a wide table scrolling in its own box, a folded
#: traceback, tiles, an image, a missing value shown as a dash.
CLEAN = f"""
<h1>Report</h1>
<section id="summary"><h2>Summary</h2>
<div style="display:grid; grid-template-columns:repeat(auto-fill, minmax(13em, 1fr)); gap:.6em">
<div class="ru-tile">Customers<br><b>5,000</b></div><div class="ru-tile">Revenue<br><b>12 EUR</b></div>
</div></section>
<p>Some text under the tiles, long enough to wrap on a narrow window and still stay in its
box: the quick brown fox jumps over the lazy dog.</p>
<div style="overflow-x:auto"><table><tr>{"<td>2024-01&nbsp;column&nbsp;value</td>" * 120}</tr>
<tr><td>–</td><td>Caution: the warm-up period is left out.</td></tr></table></div>
<img src="{PNG}" width="300" height="100">
<div id="report-error"><p>This report failed.</p><details class="report-traceback">
<summary>Error details</summary><pre>Traceback (most recent call last):
UserWarning: folded with the cause</pre></details></div>
"""
#: One page per defect: the page body and the kind of problem it must give.
DEFECTS = {
    "overflow": (
        '<div style="width:1300px">a chart as wide as a desktop screen</div>',
        "page overflow",
    ),
    "overlap": (
        '<p style="margin-bottom:-2.5em">First paragraph.</p><p>Second paragraph on top.</p>',
        "overlap",
    ),
    "spill": (
        '<div style="display:flex; gap:4px"><div style="width:80px; white-space:nowrap">'
        "153,166,166.96 GBP</div><div>next tile</div></div>",
        "overlap",
    ),
    "warning": (
        "<pre>/tmp/ipykernel_4242/1234.py:1: ModelAssumptionWarning: few repeat buyers</pre>",
        "warning text",
    ),
    "traceback": ("<pre>Traceback (most recent call last):\n  File x</pre>", "warning text"),
    "nan": ("<table><tr><th>period</th><td>2024-01</td><td>NaN</td></tr></table>", "warning text"),
}


def chromium_or_skip() -> None:
    """Under CI a missing Chromium fails the test; locally it skips with the reason."""
    if find_chromium() is not None:
        return
    reason = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}, and CI must run the browser tests.")
    pytest.skip(reason)


def write_page(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.html"
    path.write_text(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
        "<style>body { font-family: sans-serif; max-width: 1100px; margin: 0 auto; "
        "padding: 1em 2em; }</style></head>"
        f"<body><main>{body}</main></body></html>",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def fixture_checks(tmp_path_factory):
    chromium_or_skip()
    folder = tmp_path_factory.mktemp("pages")
    pages = [write_page(folder, "clean", CLEAN)]
    pages += [write_page(folder, name, body) for name, (body, _) in DEFECTS.items()]
    return {c.path.stem: c for c in check_pages(pages, widths=WIDTHS)}


def test_a_clean_page_passes(fixture_checks):
    assert fixture_checks["clean"].problems() == []


@pytest.mark.parametrize("name", list(DEFECTS))
def test_each_defect_is_found(fixture_checks, name):
    kind = DEFECTS[name][1]
    problems = fixture_checks[name].problems()
    assert problems, f"the {name} page passed"
    assert all(f": {kind}: " in line for line in problems), problems


def test_overflow_is_measured_per_window_width(fixture_checks):
    (line,) = fixture_checks["overflow"].problems()  # 1,300 px fits a 1,920 px window
    assert line.startswith("at 1366 px: page overflow: ")
    assert 'div "a chart as wide as a desktop screen" reaches' in line


def test_the_defect_is_named(fixture_checks):
    overlap = fixture_checks["overlap"].problems()[0]
    assert 'p "Second paragraph on top." overlaps p "First paragraph."' in overlap
    spill = fixture_checks["spill"].problems()[0]
    assert 'text "153,166,166.96 GBP" runs' in spill
    warning = " ".join(fixture_checks["warning"].problems())
    assert 'kernel path: "/tmp/ipykernel_4242/1234.py:1: ModelAssumptionWarning:' in warning
    assert 'warning: "tmp/ipykernel_4242/1234.py:1: ModelAssumptionWarning: few repeat' in warning
    nan = fixture_checks["nan"].problems()[0]
    assert '1 missing value(s) shown as "NaN"' in nan


@pytest.mark.slow
def test_demo_reports_read_cleanly_at_1366_and_1920_px(demo):
    chromium_or_skip()
    checks = check_pages(report_pages(demo["out"]), widths=WIDTHS)  # no screenshots: slow
    names = [c.path.name for c in checks]
    assert names == ["index.html", "cohort.html", "clv.html", "satisfaction.html"]
    problems = [f"{c.path.name}: {line}" for c in checks for line in c.problems()]
    assert problems == [], "\n".join(problems)


@pytest.mark.slow
def test_readme_screenshots_show_the_summary_and_the_index(demo, tmp_path):
    chromium_or_skip()
    summary, index = readme_screenshots(demo["out"], tmp_path)
    for path in (summary, index):
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(header[16:20], "big")
        assert width == 1366, path.name
