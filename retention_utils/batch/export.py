"""HTML export of an executed report: code hidden, parameters as a table, safe and offline.

nbconvert's default HTML export copies ``text/html`` outputs and Markdown verbatim, so text
from the data becomes live markup as soon as it reaches a ``DataFrame.style`` table or a
Markdown/HTML display object (a customer named ``<img src=x onerror=alert(1)>``). It also
links require.js and MathJax from a CDN. This exporter:

* renders with nbconvert's ``lab`` template, minus every ``<script>`` (require.js, MathJax,
  mermaid, widgets, JavaScript outputs);
* sanitises every ``text/html`` and ``text/markdown`` output with a strict allowlist
  (:func:`clean_output_html`): unknown tags such as ``<script>`` or ``<img>`` are escaped, so
  they show as text; event-handler attributes and ``javascript:`` URLs are dropped; pandas
  Styler CSS is kept only after parsing it and keeping plain colour/format rules;
* sanitises the notebook's own Markdown cells too (:func:`clean_html`; images only as
  embedded ``data:`` URIs);
* adds a Content-Security-Policy that forbids scripts and every network load, and checks the
  final page (:func:`unsafe_markup`) before writing it: an export that still contained live
  markup would be refused, not written;
* replaces papermill's injected-parameters cell with a table of all parameters, adds a title
  and, for a failed report, a banner naming the error with a link to the failing cell;
* puts the answer first (SPEC section 5): the summary block right after the title, the
  cells tagged ``appendix`` and the parameters table in an appendix at the end.
"""

from __future__ import annotations

import base64
import copy
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bleach
import jinja2
import nbformat
import tinycss2
from bleach.css_sanitizer import CSSSanitizer
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbconvert.filters.markdown import markdown2html

from retention_utils.batch.models import OK, ParameterRow, ReportPage
from retention_utils.record import CAUTION_MIME_TYPE, MIME_TYPE
from retention_utils.report import REPORT_CSS
from retention_utils.report.notes import caution_html

# Cell outputs kept in the export; everything else (JavaScript, widgets, mermaid, headline
# payloads, JSON) is dropped. Headline figures keep their text/plain line.
_KEPT_MIME_TYPES = (
    "text/html",
    "text/markdown",
    "text/latex",
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "text/plain",
)

_TEXT_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul", "var", "section",
}  # fmt: skip
_IMAGE_URI = re.compile(r"data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]+", re.I)
_STYLE_PROPERTIES = frozenset(
    {"color", "background-color", "font-weight", "font-style", "font-size", "text-align"}
)
_CSS_SANITIZER = CSSSanitizer(allowed_css_properties=_STYLE_PROPERTIES)

# Styler CSS: rules for pandas' generated ids only, with plain values.
_STYLER_SELECTOR = re.compile(r"#T_[\w-]+(\s*[ ,>]\s*[#.]?[\w-]+|:hover|:nth-child\(\w+\))*")
_CSS_VALUE = re.compile(r"[#\w\s.,%()+\-/!]*")
_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
_STYLER_PROPERTIES = frozenset(
    {
        "color", "background-color", "font-weight", "font-style", "font-size", "text-align",
        "vertical-align", "white-space", "border", "border-top", "border-bottom",
        "border-left", "border-right", "border-collapse", "padding", "width", "min-width",
        "max-width", "opacity", "text-decoration",
    }
)  # fmt: skip

#: Cell tag of appendix material (definitions, data-quality table): exported at the end.
APPENDIX_TAG = "appendix"
#: ``id`` of the appendix heading in the exported page.
APPENDIX_ID = "appendix"

_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'"
)


# --- sanitising ---------------------------------------------------------------------------


def _href_ok(value: str) -> bool:
    scheme = value.split(":", 1)[0].lower() if ":" in value.split("/", 1)[0] else ""
    return scheme in ("", "http", "https", "mailto")


def _attribute_filter(allow_images: bool):
    def allowed(tag: str, name: str, value: str) -> bool:
        if name in ("class", "id", "title", "lang", "dir"):
            return True
        if name == "style":
            return True  # values go through the CSS sanitizer
        if tag == "a" and name == "href":
            return _href_ok(value.strip())
        if tag == "img" and allow_images:
            if name == "src":
                return bool(_IMAGE_URI.fullmatch(value.strip()))
            return name in ("alt", "width", "height")
        if tag in ("td", "th") and name in ("colspan", "rowspan", "align", "scope"):
            return True
        if tag in ("col", "colgroup") and name == "span":
            return True
        if tag == "ol" and name == "start":
            return True
        return tag == "table" and name == "border"

    return allowed


def _clean(markup: str, *, allow_images: bool) -> str:
    tags = _TEXT_TAGS | {"img"} if allow_images else _TEXT_TAGS
    return bleach.clean(
        markup,
        tags=tags,
        attributes=_attribute_filter(allow_images),
        protocols={"http", "https", "mailto", "data"},
        strip=False,  # disallowed tags are escaped: they show as text
        strip_comments=True,
        css_sanitizer=_CSS_SANITIZER,
    )


def clean_html(markup: Any) -> str:
    """Sanitise HTML written by the notebook's author (Markdown cells, highlighted code).

    Allows text formatting, tables, headings, links (http, https, mailto, in-page) and images
    embedded as ``data:image/...`` URIs; everything else is escaped.
    """
    markup = markup.decode() if isinstance(markup, bytes) else str(markup)
    if "<img" in markup.lower():
        # An image that is not embedded would be a broken image offline: show it as text.
        soup = BeautifulSoup(markup, "html.parser")
        for img in soup.find_all("img"):
            if not _IMAGE_URI.fullmatch(str(img.get("src", "")).strip()):
                img.replace_with(str(img))
        markup = str(soup)
    return _clean(markup, allow_images=True)


def sanitize_styler_css(css: str) -> str:
    """Keep only the harmless part of a pandas Styler stylesheet.

    Rules survive only when their selector targets Styler's generated ids (``#T_...``) and
    each declaration is an allowlisted property with a plain value (colours, lengths,
    keywords; no ``url()``, no escapes, no quotes). Returns ``""`` when nothing is left.
    """
    kept = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue  # at-rules (@import, @font-face...) and parse errors
        selector = tinycss2.serialize(rule.prelude).strip()
        if not all(_STYLER_SELECTOR.fullmatch(part.strip()) for part in selector.split(",")):
            continue
        declarations = []
        for decl in tinycss2.parse_blocks_contents(rule.content, skip_comments=True):
            if decl.type != "declaration" or decl.lower_name not in _STYLER_PROPERTIES:
                continue
            value = tinycss2.serialize(decl.value).strip()
            if not _CSS_VALUE.fullmatch(value) or not all(
                token.type != "url"
                and (token.type != "function" or token.lower_name in _CSS_FUNCTIONS)
                for token in decl.value
            ):
                continue
            important = " !important" if decl.important else ""
            declarations.append(f"{decl.lower_name}: {value}{important}")
        if declarations:
            kept.append(f"{selector} {{ {'; '.join(declarations)} }}")
    return "\n".join(kept)


def clean_output_html(markup: Any) -> str:
    """Sanitise HTML produced by code (``text/html`` and rendered ``text/markdown`` outputs).

    Such HTML may carry text from the data, so the allowlist has no images and no embedded
    media: ``<script>``, ``<img>``, ``<iframe>``, ``<svg>`` and any other tag outside it are
    escaped and show as text; ``on*`` attributes and ``javascript:`` links are removed.
    ``<style>`` blocks at the top level of the output (the ones pandas writes for DataFrames
    and Styler tables) are replaced by :func:`sanitize_styler_css` of their content; a
    ``<style>`` inside the content is escaped like any other tag.
    """
    markup = markup.decode() if isinstance(markup, bytes) else str(markup)
    soup = BeautifulSoup(markup, "html.parser")
    css_parts = []
    for style in soup.find_all("style"):
        if all(parent.name in ("div", "[document]") for parent in style.parents):
            css_parts.append(style.get_text())
            style.decompose()
    css = sanitize_styler_css("\n".join(css_parts)) if css_parts else ""
    cleaned = _clean(str(soup), allow_images=False)
    # `css` holds no "<" (the selector and value patterns exclude it), so it cannot close
    # the element early.
    return f"<style>{css}</style>\n{cleaned}" if css and "<" not in css else cleaned


def unsafe_markup(page: str) -> list[str]:
    """Live markup found in an HTML page: scripts, event handlers, script URLs, network loads.

    Returns a list of findings (empty when the page is inert and self-contained). Used as a
    last check on every export and in the tests.
    """
    soup = BeautifulSoup(page, "html.parser")
    found = []
    for tag in soup.find_all(True):
        if tag.name in ("script", "iframe", "object", "embed", "frame", "base", "form", "link"):
            found.append(f"<{tag.name}> element")
        if tag.name == "meta" and tag.get("http-equiv", "").lower() == "refresh":
            found.append("<meta http-equiv=refresh>")
        for name, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}=...> event handler")
            squeezed = re.sub(r"[\s\x00-\x1f]", "", text).lower()
            if name.lower() in ("href", "src", "action", "formaction", "xlink:href"):
                if squeezed.startswith(("javascript:", "vbscript:")):
                    found.append(f"<{tag.name} {name}={text[:40]!r}> script URL")
                if name.lower() != "href" and not squeezed.startswith("data:"):
                    found.append(f"<{tag.name} {name}={text[:40]!r}> external resource")
    for style in soup.find_all("style"):
        if re.search(r"url\s*\(\s*['\"]?\s*(https?:|//)|@import", style.get_text(), re.I):
            found.append("<style> loading from the network")
    return found


# --- notebook preparation -----------------------------------------------------------------


def _parameters_cell(rows: Iterable[ParameterRow]) -> nbformat.NotebookNode:
    body = "".join(
        f'<tr class="{"set" if row.set_by_run else "default"}">'
        f"<th>{html.escape(row.name)}</th><td>{html.escape(row.text)}</td>"
        f"<td>{html.escape(row.help)}</td></tr>"
        for row in rows
    )
    table = (
        '<table class="report-parameters"><caption>Parameters of this run</caption>'
        "<thead><tr><th>Parameter</th><th>Value</th><th>Meaning</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    cell = nbformat.v4.new_markdown_cell(table)
    cell.metadata["tags"] = ["report-parameters"]
    return cell


def _failed_cell_marker(page: ReportPage) -> nbformat.NotebookNode:
    kind = f" ({page.error_kind})" if page.error_kind else ""
    text = html.escape(f"This cell failed{kind}: {page.cause or page.error or ''}".strip())
    return nbformat.v4.new_markdown_cell(
        f'<div id="failed-cell" class="report-failed-cell">{text}</div>'
    )


def _svg_as_image(svg: str) -> str:
    # An SVG shown through <img> cannot run script; the page keeps it as an embedded image.
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{encoded}">'


def _appendix_heading() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        f'<h2 id="{APPENDIX_ID}" class="report-appendix-title">Appendix</h2>'
    )
    cell.metadata["tags"] = ["report-appendix"]
    return cell


def prepare_notebook(nb: nbformat.NotebookNode, page: ReportPage) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready for export (see the module docstring).

    The report answers first (SPEC section 5): the summary block moves right after the
    title, and the cells tagged ``appendix`` (in their order) and the parameters table move
    to an "Appendix" at the end (``<h2 id="appendix">``). The notebook itself keeps its order.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata["title"] = page.title
    body, appendix = [], []
    failed = page.failed_cell
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:
            continue  # replaced by our banner and marker
        if "injected-parameters" in tags:
            continue  # replaced by the parameters table, in the appendix
        cells = appendix if APPENDIX_TAG in tags else body
        if index == failed and page.status != OK:
            cells.append(_failed_cell_marker(page))
        if cell.cell_type == "code":
            cell["outputs"] = _shown_outputs(cell.get("outputs", []), page)
        cells.append(cell)
    if page.parameters:
        appendix.append(_parameters_cell(page.parameters))
    if appendix:
        appendix.insert(0, _appendix_heading())
    nb.cells = _summary_first(body) + appendix
    return nb


def _shown_outputs(outputs: list, page: ReportPage) -> list:
    """The outputs of a code cell as the reader sees them (see the module docstring)."""
    shown = []
    for output in outputs:
        if output.get("output_type") == "error" and page.traceback:
            continue  # folded under the cause in the banner, not spread in the page
        if "data" in output:
            if MIME_TYPE in output["data"]:
                continue  # a headline figure: shown in the summary block's tiles
            if CAUTION_MIME_TYPE in output["data"]:
                # a caution: a styled note in its section (it is in the summary too)
                note = output["data"][CAUTION_MIME_TYPE]
                text = caution_html(note.get("text", ""), section=note.get("section"))
                output["data"] = {"text/html": text}
            data = {k: v for k, v in output["data"].items() if k in _KEPT_MIME_TYPES}
            if "image/svg+xml" in data:
                svg = data.pop("image/svg+xml")
                if "image/png" not in data:
                    data = {"text/html": _svg_as_image(svg), **data}
                    output.setdefault("metadata", {})["report_svg_image"] = True
            if not data:
                continue
            output["data"] = data
        shown.append(output)
    return shown


def _is_summary(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and any(
        'id="summary"' in str((output.get("data") or {}).get("text/html", ""))
        for output in cell.get("outputs", [])
    )


def _introduces_summary(cells: list, i: int) -> bool:
    """The notebook's own "## Summary" markdown right before the summary block: in the
    export the block moves to the top with its own heading, so this cell would be left
    behind as an empty section at the end."""
    cell = cells[i]
    return (
        cell.cell_type == "markdown"
        and _is_summary(cells[i + 1])
        and re.match(r"\s{0,3}#{1,6}\s+summary\b", cell.source, re.IGNORECASE) is not None
    )


def _summary_first(cells: list) -> list:
    """The report answers first (SPEC section 5): the cell showing the summary block
    (``<section id="summary">``, see :mod:`retention_utils.report`) moves right after the
    title, wherever the notebook computed it."""
    summary = [c for c in cells if _is_summary(c)]
    if not summary:
        return cells
    rest = [
        c
        for i, c in enumerate(cells)
        if not _is_summary(c) and not (i + 1 < len(cells) and _introduces_summary(cells, i))
    ]
    title = next(
        (
            i
            for i, c in enumerate(rest)
            if c.cell_type == "markdown" and re.match(r"\s{0,3}#\s", c.source)
        ),
        -1,
    )
    return rest[: title + 1] + summary + rest[title + 1 :]


# --- the exporter -------------------------------------------------------------------------

_TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}

{%- block html_head -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.report_csp }}">
{{ super() }}
{%- endblock html_head -%}

{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block data_javascript scoped -%}{%- endblock data_javascript -%}
{%- block data_widget_view scoped -%}{%- endblock data_widget_view -%}
{%- block data_mermaid scoped -%}{%- endblock data_mermaid -%}

{%- block data_html scoped -%}
<div class="jp-RenderedHTMLCommon jp-RenderedHTML jp-OutputArea-output {{ extra_class }}" data-mime-type="text/html">
{%- if output.metadata.get('report_svg_image') %}
{{ output.data['text/html'] | clean_html }}
{%- else %}
{{ output.data['text/html'] | clean_output_html }}
{%- endif %}
</div>
{%- endblock data_html -%}

{%- block data_markdown scoped -%}
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-OutputArea-output {{ extra_class }}" data-mime-type="text/markdown">
{{ output.data['text/markdown'] | markdown2html_plain | clean_output_html }}
</div>
{%- endblock data_markdown -%}

{%- block extra_css -%}
<style type="text/css">
{{ resources.report_css }}
</style>
{%- endblock extra_css -%}

{%- block body_header -%}
{{ super() }}
{%- set report = resources.report -%}
<header class="report-header">
<p class="report-nav"><a href="index.html">All reports</a></p>
{%- if report.status in ('failed', 'interrupted') %}
<div id="report-error" class="report-banner report-failed">
<strong>This report {{ 'was interrupted' if report.status == 'interrupted' else 'failed' }}{% if report.error_kind %} ({{ report.error_kind | e }}){% endif %}.</strong>
{%- if report.cause %}
<p class="report-cause">{{ report.cause | e }}</p>
{%- endif %}
{%- if report.error or report.traceback %}
<details class="report-traceback"><summary>Error details</summary>
<pre>{{ report.error | e }}{% if report.traceback %}

{{ report.traceback | e }}{% endif %}</pre>
</details>
{%- endif %}
{%- if report.failed_cell is not none %}
<a href="#failed-cell">Go to the failing cell</a>.
{%- endif %}
Results above that point are shown; nothing after it ran.
</div>
{%- endif %}
{%- if report.cautions and not resources.report_has_summary %}
<div id="report-cautions" class="report-banner report-caution">
<strong>{{ report.cautions | length }} caution{{ '' if report.cautions | length == 1 else 's' }}:</strong>
<ul>{% for text in report.cautions %}<li>{{ text | e }}</li>{% endfor %}</ul>
</div>
{%- endif %}
<p class="report-meta">{{ report.title | e }} &middot; {{ report.notebook_name | e }}{% if report.generated %} &middot; generated {{ report.generated | e }}{% endif %}</p>
</header>
{%- endblock body_header -%}
"""

_CSS = (
    REPORT_CSS
    + """
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; }
.report-header { font-family: var(--jp-ui-font-family); margin-bottom: 1em; }
.report-nav a { font-size: 0.9em; }
.report-meta { color: #555; font-size: 0.85em; margin: 0.2em 0; }
.report-banner { border-radius: 4px; padding: 0.8em 1em; margin: 0.8em 0; }
.report-failed { background: #fdecea; border: 1px solid #e0625a; color: #611a15; }
.report-failed pre { white-space: pre-wrap; margin: 0.5em 0; font-size: 0.85em; }
.report-cause { font-size: 1.05em; margin: 0.4em 0; }
.report-caution { background: #fff8e1; border: 1px solid #e0a800; color: #5d4200; }
.report-caution ul { margin: 0.3em 0 0; }
.report-failed-cell { background: #fdecea; border-left: 4px solid #e0625a; padding: 0.5em 1em;
  white-space: pre-wrap; font-family: var(--jp-code-font-family); font-size: 0.85em; }
.report-header a, a.report-link { color: #0b57d0; text-decoration: underline; }
h2.report-appendix-title { margin-top: 2.5em; padding-top: 0.6em; border-top: 2px solid #d0d7de; }
table.report-parameters { font-size: 0.85em; margin: 0.5em 0 1.5em !important; }
table.report-parameters caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
table.report-parameters tr.default td { color: #777; }
table.report-parameters th { text-align: left; font-family: var(--jp-code-font-family); }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
"""
)


class ReportHTMLExporter(HTMLExporter):
    """nbconvert's lab HTML export without scripts, with strict sanitising (see module)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("extra_loaders", [jinja2.DictLoader({"report.html.j2": _TEMPLATE})])
        super().__init__(**kwargs)
        self.template_file = "report.html.j2"
        self.sanitize_html = True
        self.embed_images = True
        self.exclude_input_prompt = True
        self.exclude_output_prompt = True

    def default_filters(self):
        yield from super().default_filters()
        yield ("clean_html", clean_html)
        yield ("clean_output_html", clean_output_html)
        # Markdown built by code may carry data: rendered without the HTML rewriting of the
        # notebook renderer (which reorders the text of a <script> element).
        yield ("markdown2html_plain", markdown2html)


#: nbconvert's alternative text of an image that has none.
_NO_ALT = "No description has been provided for this image"


def _describe_charts(page: str) -> str:
    """The page with each chart's alternative text naming the section it stands in
    ("Chart: Holdout validation"), in place of nbconvert's "no description" sentence."""
    if _NO_ALT not in page:
        return page
    soup = BeautifulSoup(page, "html.parser")
    for img in soup.find_all("img", alt=_NO_ALT):
        heading = img.find_previous(["h1", "h2", "h3", "h4"])
        title = heading.get_text(" ", strip=True).rstrip("¶").strip() if heading else ""
        img["alt"] = f"Chart: {title}" if title else "Chart"
    return str(soup)


class UnsafeExportError(RuntimeError):
    """The rendered page still contained live markup; it was not written."""


def render_report(
    nb: nbformat.NotebookNode,
    page: ReportPage,
    *,
    show_code: bool = False,
    notebook_dir: str | Path | None = None,
) -> str:
    """Render an executed notebook to one self-contained, inert HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (as written by papermill).
    page : ReportPage
        Title, parameters, status and error shown around the notebook.
    show_code : bool, default False
        Show the code cells' source (outputs are always shown).
    notebook_dir : path, optional
        Folder of the source notebook: images that its Markdown cells reference by a
        relative path are read from there and embedded.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    UnsafeExportError
        If, against expectation, the page contains a script, an event handler, a script URL
        or a network load.
    """
    exporter = ReportHTMLExporter(exclude_input=not show_code)
    prepared = prepare_notebook(nb, page)
    resources = {
        "report": page,
        # the summary block lists every caution; the header banner is for pages without one
        "report_has_summary": any(_is_summary(c) for c in nb.cells),
        "report_css": _CSS,
        "report_csp": _CSP,
        "metadata": {"name": page.title, "path": str(notebook_dir or "")},
    }
    body, _ = exporter.from_notebook_node(prepared, resources=resources)
    body = _describe_charts(body)
    problems = unsafe_markup(body)
    if problems:
        raise UnsafeExportError(
            "The HTML export was refused because it still contained live markup: "
            + "; ".join(sorted(set(problems))[:5])
        )
    return body


def write_report(
    nb: nbformat.NotebookNode,
    page: ReportPage,
    path: str | Path,
    *,
    show_code: bool = False,
    notebook_dir: str | Path | None = None,
) -> Path:
    """Render with :func:`render_report` and write the page to ``path`` (UTF-8)."""
    path = Path(path)
    html = render_report(nb, page, show_code=show_code, notebook_dir=notebook_dir)
    path.write_text(html, encoding="utf-8")
    return path
