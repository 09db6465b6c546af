"""HTML export: nothing from the data becomes live markup, nothing loads from the network."""

from __future__ import annotations

import base64
import io
import re

import matplotlib
import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

from retention_utils.batch.export import (
    clean_output_html,
    render_report,
    sanitize_styler_css,
    unsafe_markup,
)
from retention_utils.batch.models import ParameterRow, ReportPage, notebook_title

matplotlib.use("Agg")

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ATTACKS = [SCRIPT, IMG]


def png_bytes() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def display(data: dict, kind: str = "display_data") -> nbformat.NotebookNode:
    if kind == "execute_result":
        return new_output("execute_result", data=data, execution_count=1)
    return new_output("display_data", data=data)


def hostile_notebook() -> nbformat.NotebookNode:
    """An executed notebook whose outputs carry script text from the data, every way."""
    frame = pd.DataFrame({"customer_id": [SCRIPT, IMG, "[x](javascript:alert(1))"], "v": [1, 2, 3]})
    styled = frame.style.background_gradient(subset=["v"]).set_caption(IMG).to_html()
    params = new_code_cell('label = "all"')
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell(f"# Parameters\nlabel = {SCRIPT!r}\n")
    injected.metadata["tags"] = ["injected-parameters"]
    code = new_code_cell("customers")
    code.outputs = [
        display({"text/html": frame.to_html(), "text/plain": repr(frame)}, "execute_result"),
        display({"text/html": styled, "text/plain": "styled"}),
        display({"text/markdown": f"Top customer: {SCRIPT} and {IMG} [a](javascript:alert(1))"}),
        display({"text/html": f"<p>{IMG}<svg onload=alert(1)></svg><iframe src=//e.com></iframe>"}),
        display({"application/javascript": "alert(1)", "text/plain": "<Javascript>"}),
        display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}}),
        display({"image/png": png_bytes(), "text/plain": "<Figure>"}),
        display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'}),
        new_output("stream", name="stdout", text=f"{SCRIPT} {IMG}\n"),
        new_output("error", ename="ValueError", evalue=SCRIPT, traceback=[f"ValueError: {SCRIPT}"]),
    ]
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# Hostile report\n\nA markdown cell quoting {IMG}."),
            params,
            injected,
            code,
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


@pytest.fixture(scope="module")
def page_html() -> str:
    page = ReportPage(
        title=f"Hostile {SCRIPT}",
        parameters=[
            ParameterRow("label", SCRIPT, help=f"help with {IMG}", set_by_run=True),
            ParameterRow("observation_end", "", help="last day"),
        ],
        status="failed",
        error_kind="cell error",
        error=f"ValueError: {SCRIPT}",
        failed_cell=3,
        notebook_name="hostile.ipynb",
    )
    return render_report(hostile_notebook(), page)


def test_export_has_no_script_handlers_or_script_urls(page_html):
    soup = BeautifulSoup(page_html, "html.parser")
    assert soup.find_all("script") == []
    assert soup.find_all(["iframe", "object", "embed", "svg", "link", "base", "form"]) == []
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (tag.name, name)
            text = " ".join(value) if isinstance(value, list) else value
            assert "javascript:" not in text.lower(), (tag.name, name, text)
    assert unsafe_markup(page_html) == []


def test_injection_strings_show_as_text(page_html):
    soup = BeautifulSoup(page_html, "html.parser")
    text = soup.find("main").get_text(" ")
    # Plain DataFrame (pandas escapes), stream, traceback, parameters table, banner: verbatim.
    assert text.count(SCRIPT) >= 7
    assert text.count(IMG) >= 3
    # df.style and Markdown/HTML outputs: the same tags, escaped as html5lib serialises them.
    assert text.count('<img onerror="alert(1)" src="x"/>') >= 3
    assert '<svg onload="alert(1)"></svg>' in text
    # The only <img> elements are embedded images (the PNG and the SVG output).
    sources = [img["src"] for img in soup.find_all("img")]
    assert len(sources) == 2
    assert sources[0].startswith("data:image/png;base64,")
    assert sources[1].startswith("data:image/svg+xml;base64,")


def test_page_is_self_contained_and_forbids_scripts(page_html):
    soup = BeautifulSoup(page_html, "html.parser")
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
    assert "default-src 'none'" in csp["content"]
    assert "script-src" not in csp["content"]  # falls back to 'none'
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:")
    for style in soup.find_all("style"):
        assert not re.search(r"url\(\s*['\"]?\s*(https?:|//)|@import", style.get_text())


def test_title_parameters_table_and_failure_banner(page_html):
    soup = BeautifulSoup(page_html, "html.parser")
    assert soup.title.get_text() == f"Hostile {SCRIPT}"
    # The injected cell's code is gone; a parameters table stands in its place.
    assert "# Parameters" not in soup.get_text()
    table = soup.find("table", class_="report-parameters")
    rows = [[c.get_text() for c in tr.find_all(["th", "td"])] for tr in table.tbody.find_all("tr")]
    assert rows == [
        ["label", SCRIPT, f"help with {IMG}"],
        ["observation_end", "(not set)", "last day"],
    ]
    banner = soup.find(id="report-error")
    assert "This report failed (cell error)." in banner.get_text()
    assert f"ValueError: {SCRIPT}" in banner.get_text()
    assert banner.find("a")["href"] == "#failed-cell"
    assert soup.find(id="failed-cell") is not None
    # Code hidden by default.
    assert "customers" not in [pre.get_text().strip() for pre in soup.find_all("pre")]
    assert soup.find("div", class_="jp-InputArea") is None or not soup.select(
        ".jp-CodeCell .jp-InputArea"
    )


def test_show_code_shows_source_but_stays_inert():
    html = render_report(hostile_notebook(), ReportPage(title="t"), show_code=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("table", class_="report-parameters") is None  # no rows, no empty table
    assert soup.select(".jp-CodeCell .jp-InputArea")
    assert "customers" in soup.get_text()
    assert unsafe_markup(html) == []


def test_styler_colours_survive_and_hostile_css_does_not():
    frame = pd.DataFrame({"v": [1.0, 5.0]})
    styled = frame.style.background_gradient().to_html()
    cleaned = clean_output_html(styled)
    assert "background-color: #fff7fb" in cleaned
    assert "#T_" in cleaned
    css = (
        "#T_1_row0_col0 { background-color: red; background: url(https://e.com/x) }\n"
        "body { display: none }\n"
        "@import url(https://e.com/a.css);\n"
        "#T_2 td { color: expression(alert(1)); font-weight: bold }\n"
        "#T_3 { color: red</style><script>alert(1)</script> }"
    )
    assert sanitize_styler_css(css) == (
        "#T_1_row0_col0 { background-color: red }\n#T_2 td { font-weight: bold }"
    )


def test_style_inside_data_is_escaped_not_applied():
    cleaned = clean_output_html(
        "<table><tr><td><style>body{display:none}</style></td></tr></table>"
    )
    assert "&lt;style&gt;body{display:none}&lt;/style&gt;" in cleaned


def test_unsafe_markup_finds_live_markup():
    assert unsafe_markup("<p>fine</p>") == []
    found = unsafe_markup(
        '<script>x</script><img src="x" onerror="y"><a href=" javascript:x">a</a>'
        '<img src="https://e.com/x.png"><style>@import url(https://e.com/a.css);</style>'
    )
    assert "<script> element" in found
    assert "<img onerror=...> event handler" in found
    assert any("script URL" in f for f in found)
    assert any("external resource" in f for f in found)
    assert "<style> loading from the network" in found


def test_notebook_title():
    nb = new_notebook(cells=[new_markdown_cell("Intro\n\n## **Customer** lifetime value ##")])
    assert notebook_title(nb, "x") == "Customer lifetime value"
    assert notebook_title(new_notebook(), "fallback") == "fallback"


def test_markdown_images_are_embedded_from_the_notebook_folder(tmp_path):
    (tmp_path / "logo.png").write_bytes(base64.b64decode(png_bytes()))
    nb = new_notebook(
        cells=[new_markdown_cell("# T\n\n![logo](logo.png)\n\n![remote](https://e.com/x.png)")]
    )
    soup = BeautifulSoup(
        render_report(nb, ReportPage(title="t"), notebook_dir=tmp_path), "html.parser"
    )
    (img,) = soup.find_all("img")
    assert img["src"].startswith("data:image/png;base64,")
    assert '<img alt="remote" src="https://e.com/x.png"/>' in soup.get_text()  # shown as text


def tagged(cell: nbformat.NotebookNode, *tags: str) -> nbformat.NotebookNode:
    cell.metadata["tags"] = list(tags)
    return cell


def appendix_notebook() -> nbformat.NotebookNode:
    """A report whose definitions and data-quality table are tagged `appendix`, with the
    summary block computed last (as the notebooks do)."""
    quality = tagged(new_code_cell("quality"), "appendix")
    quality.outputs = [display({"text/html": "<table><tr><td>rows read</td></tr></table>"})]
    summary = new_code_cell("summary_block('cohort')")
    summary.outputs = [
        display({"text/html": '<section id="summary"><h2>Summary</h2></section>'}, "execute_result")
    ]
    retention = new_code_cell("plot")
    retention.outputs = [display({"image/png": png_bytes(), "text/plain": "<Figure>"})]
    return new_notebook(
        cells=[
            new_markdown_cell("# Cohort report\n\nHow many customers stay."),
            tagged(new_markdown_cell("## Definitions\n\nA period is a month."), "appendix"),
            tagged(new_code_cell('freq = "M"'), "parameters"),
            tagged(new_code_cell('# Parameters\nfreq = "W"\n'), "injected-parameters"),
            new_markdown_cell("## Set-up and data"),
            quality,
            new_markdown_cell("## Retention"),
            retention,
            tagged(new_markdown_cell("## Data quality notes\n\nRows read as given."), "appendix"),
            new_markdown_cell("## Summary\n\nIn the exported report this block comes first."),
            summary,
        ]
    )


def headings_in_order(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find("main").find_all(["h1", "h2", "table", "img"]):
        if tag.name == "table":
            found.append("parameters" if "report-parameters" in tag.get("class", []) else "table")
        elif tag.name == "img":
            found.append("image")
        else:
            found.append(tag.get_text(strip=True).rstrip("¶"))
    return found


def test_appendix_cells_and_parameters_move_to_the_end_in_their_order():
    page = ReportPage(title="t", parameters=[ParameterRow("freq", "W", set_by_run=True)])
    html = render_report(appendix_notebook(), page)
    assert headings_in_order(html) == [
        "Cohort report",
        "Summary",
        "Set-up and data",
        "Retention",
        "image",
        "Appendix",
        "Definitions",
        "table",  # the data-quality output, after the definitions as in the notebook
        "Data quality notes",
        "parameters",
    ]
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("h2", id="appendix").get_text() == "Appendix"
    assert "this block comes first" not in html  # the notebook's own summary heading is left out
    assert unsafe_markup(html) == []


def test_charts_are_described_by_their_section():
    html = render_report(appendix_notebook(), ReportPage(title="t"))
    images = BeautifulSoup(html, "html.parser").find_all("img")
    assert [img["alt"] for img in images] == ["Chart: Retention"]
    assert "No description has been provided" not in html


def test_without_tagged_cells_the_parameters_table_alone_is_the_appendix():
    nb = appendix_notebook()
    for cell in nb.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "appendix"]
    page = ReportPage(title="t", parameters=[ParameterRow("freq", "W", set_by_run=True)])
    order = headings_in_order(render_report(nb, page))
    assert order[:3] == ["Cohort report", "Summary", "Definitions"]
    assert order[-2:] == ["Appendix", "parameters"]
    # no parameters and nothing tagged: no empty appendix
    assert "Appendix" not in headings_in_order(render_report(nb, ReportPage(title="t")))


def test_a_failing_appendix_cell_keeps_its_marker():
    nb = appendix_notebook()
    page = ReportPage(title="t", status="failed", error="boom", failed_cell=5)
    soup = BeautifulSoup(render_report(nb, page), "html.parser")
    marker = soup.find(id="failed-cell")
    appendix = soup.find("h2", id="appendix")
    assert appendix in marker.find_all_previous("h2")  # moved along with its cell


def test_cautions_banner_only_on_pages_without_a_summary_block():
    page = ReportPage(title="t", status="caution", cautions=["Only 12 customers."])
    with_summary = BeautifulSoup(render_report(appendix_notebook(), page), "html.parser")
    assert with_summary.find(id="report-cautions") is None  # the summary block lists them
    plain = new_notebook(cells=[new_markdown_cell("# T")])
    without = BeautifulSoup(render_report(plain, page), "html.parser")
    assert "1 caution:" in without.find(id="report-cautions").get_text()
    assert "Only 12 customers." in without.find(id="report-cautions").get_text()
