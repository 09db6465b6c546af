"""Opening the HTML reports in headless Chromium, offline, as a reader would.

For every page (``index.html`` and each report) the check records:

* images that did not load (``naturalWidth == 0``),
* script errors and console errors (uncaught exceptions, CSP violations, failed loads),
* any request that is not a local file or an embedded ``data:`` URI (the network is off:
  DevTools offline emulation, plus a dead proxy as a second wall),

and saves a full-page screenshot. With ``widths`` it also reads the page as laid out at each
window width (:data:`LAYOUT_JS`, :meth:`Chromium.layout`):

* horizontal overflow of the page (``scrollWidth`` wider than the window; a wide table must
  scroll inside its own box), naming the elements that stick out;
* blocks overlapping each other (headings, paragraphs, table cells, tiles, images: boxes of
  siblings in the flow that intersect) and text running out of its box;
* warning text a reader must never see: ``Warning``, ``ipykernel_``, ``Traceback`` outside a
  failed report's folded details, ``nan``/``NaN`` as a table cell.

Chromium is driven through the DevTools protocol over a
websocket (``websocket-client``, already a Jupyter dependency), so no extra package is
needed; the browser itself is Debian's ``chromium`` package.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_IMAGES_JS = """
(() => Array.from(document.images).map(img => ({
  src: (img.currentSrc || img.src || '').slice(0, 300),  // data: URIs are cut short
  loaded: img.complete && img.naturalWidth > 0,
  width: img.naturalWidth,
})))()
"""
_MAX_SCREENSHOT_HEIGHT = 16000  # px; longer pages are cut there
#: Window widths at which reports must read cleanly (a laptop and a desktop screen), px.
WIDTHS = (1366, 1920)
_HEIGHT = 900  # px, window height
_DEFAULT_WIDTH = 1280  # px, window width of a plain check

#: Measures the page as laid out; returns ``{overflow, overlaps, spills, warnings}``.
LAYOUT_JS = r"""
(() => {
  const TOLERANCE = 2;  // px: sub-pixel rounding and borders that touch
  const width = window.innerWidth;
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += '#' + el.id;
    const classes = (typeof el.className === 'string' ? el.className : '')
      .split(/\s+/).filter(c => c && !c.startsWith('jp-')).slice(0, 2);
    if (classes.length) text += '.' + classes.join('.');
    const words = (el.innerText || el.alt || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return words ? `${text} "${words}"` : text;
  };
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return null;
    if (style.position === 'absolute' || style.position === 'fixed') return null;
    if (style.display === 'inline' && el.tagName !== 'IMG') return null;
    if (style.display === 'contents' || style.float !== 'none') return null;
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0 ? rect : null;
  };
  const clippedBy = (el) => {  // the nearest ancestor that scrolls or clips its content
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return p;
    }
    return null;
  };
  const skipped = (el) => ['SCRIPT', 'STYLE', 'HEAD', 'TITLE', 'META'].includes(el.tagName);

  // 1. horizontal overflow of the page, and the outermost elements that cause it
  const scrollWidth = document.documentElement.scrollWidth;
  const overflow = [];
  if (scrollWidth > width + TOLERANCE) {
    const walk = (el) => {
      for (const child of el.children) {
        if (skipped(child)) continue;
        const rect = child.getBoundingClientRect();
        if (rect.right > width + TOLERANCE && !clippedBy(child)) {
          overflow.push(`${name(child)} reaches ${Math.round(rect.right)} px`);
        } else {
          walk(child);
        }
        if (overflow.length >= 5) return;
      }
    };
    walk(document.body);
  }

  // 2. siblings in the flow whose boxes intersect (a sweep over their tops)
  const overlaps = [];
  for (const parent of document.body.querySelectorAll('*')) {
    if (skipped(parent) || parent.children.length < 2) continue;
    const boxes = [];
    for (const child of parent.children) {
      if (skipped(child)) continue;
      const rect = shown(child);
      if (rect) boxes.push([child, rect]);
    }
    boxes.sort((a, b) => a[1].top - b[1].top);
    for (let i = 0; i < boxes.length && overlaps.length < 20; i++) {
      const [a, ra] = boxes[i];
      for (let j = i + 1; j < boxes.length && boxes[j][1].top < ra.bottom - TOLERANCE; j++) {
        const [b, rb] = boxes[j];
        const across = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const down = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (across > TOLERANCE && down > TOLERANCE) {
          overlaps.push(`${name(a)} overlaps ${name(b)} (${Math.round(across)} x ${Math.round(down)} px)`);
        }
      }
    }
  }

  // 3. text running out of its box (it lands on whatever is beside it); a box that clips
  //    or scrolls its content keeps the text inside
  const spills = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node && spills.length < 20; node = walker.nextNode()) {
    let block = node.parentElement;
    if (!node.textContent.trim() || !block || skipped(block)) continue;
    while (block.parentElement && getComputedStyle(block).display === 'inline') {
      block = block.parentElement;
    }
    if (getComputedStyle(block).overflowX !== 'visible') continue;
    const outer = block.getBoundingClientRect();
    const beyond = (rect) => Math.max(rect.right - outer.right, outer.left - rect.left);
    range.selectNodeContents(node);
    if (!Array.from(range.getClientRects()).some(line => beyond(line) > TOLERANCE)) continue;
    // a line box may end with a hanging space (pre-wrap): only visible characters count
    const text = node.textContent;
    for (let i = 0; i < Math.min(text.length, 5000); i++) {
      if (!text[i].trim()) continue;
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const out = beyond(range.getBoundingClientRect());
      if (out > TOLERANCE) {
        spills.push(`text "${text.trim().slice(0, 40)}" runs ${Math.round(out)} px out of ${name(block)}`);
        break;
      }
    }
  }

  // 4. warning text a reader must never see (a failed report's folded details excepted)
  const warnings = [];
  const PATTERNS = [[/\b\w*Warning\b/, 'warning'], [/ipykernel_/, 'kernel path'],
                    [/Traceback/, 'traceback']];
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node && warnings.length < 20; node = texts.nextNode()) {
    const el = node.parentElement;
    if (!el || skipped(el) || el.closest('details.report-traceback')) continue;
    for (const [pattern, what] of PATTERNS) {
      const found = node.textContent.match(pattern);
      if (found) {
        const at = node.textContent.indexOf(found[0]);
        const around = node.textContent.slice(Math.max(0, at - 30), at + 50).replace(/\s+/g, ' ');
        warnings.push(`${what}: "${around.trim()}" in ${name(el).split(' ')[0]}`);
      }
    }
  }
  for (const table of document.querySelectorAll('table')) {
    const cells = Array.from(table.querySelectorAll('td, th'))
      .filter(cell => cell.closest('table') === table)
      .filter(cell => /^(nan|NaN|NaT|<NA>)$/.test(cell.textContent.trim()));
    if (cells.length) {
      const row = cells[0].closest('tr');
      warnings.push(`${cells.length} missing value(s) shown as "${cells[0].textContent.trim()}" ` +
                    `in a table, first in ${name(row)}`);
    }
  }
  return {width, scrollWidth, overflow, overlaps, spills, warnings};
})()
"""


def _remove_tree(path: Path, attempts: int = 50) -> None:
    """Remove a browser profile; files still being closed by dying processes get retries."""
    for _ in range(attempts):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(path, ignore_errors=True)  # a leftover temp folder is not worth failing for


class BrowserError(RuntimeError):
    """Chromium could not be started or stopped answering."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``$CHROMIUM`` first), or None."""
    explicit = os.environ.get("CHROMIUM")
    if explicit and shutil.which(explicit):
        return shutil.which(explicit)
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageCheck:
    """What the browser saw on one page."""

    path: Path
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # non-local requests attempted
    screenshot: Path | None = None
    #: Layout and text defects, each prefixed by the window width ("at 1366 px: ...").
    layout: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)  # one per width checked

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        return (
            [f"image did not load: {src}" for src in self.broken_images]
            + [f"error: {text}" for text in self.errors]
            + [f"network request: {url}" for url in self.requests]
            + self.layout
        )


def layout_problems(measured: dict) -> list[str]:
    """One line per defect in the result of :data:`LAYOUT_JS` at one window width."""
    at = f"at {measured['width']} px"
    lines = []
    if measured["scrollWidth"] > measured["width"] + 2:
        culprits = "; ".join(measured["overflow"]) or "no single element found"
        lines.append(
            f"{at}: page overflow: {measured['scrollWidth']} px wide in a {measured['width']} px "
            f"window ({culprits})"
        )
    lines += [f"{at}: overlap: {text}" for text in measured["overlaps"]]
    lines += [f"{at}: overlap: {text}" for text in measured["spills"]]
    lines += [f"{at}: warning text: {text}" for text in measured["warnings"]]
    return lines


class Chromium:
    """A headless Chromium with one tab, driven over the DevTools protocol.

    Use as a context manager; the browser and its temporary profile are removed on exit.
    """

    def __init__(self, executable: str | None = None, *, timeout: float = 30.0) -> None:
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise BrowserError(
                "Chromium is not installed (Debian: apt-get install chromium; or set $CHROMIUM)."
            )
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        self._process: subprocess.Popen | None = None
        self._profile: Path | None = None
        self._socket: Any = None
        self._session: str | None = None

    # -- lifecycle --

    def __enter__(self) -> Chromium:
        import websocket

        self._profile = profile = Path(tempfile.mkdtemp(prefix="retention-chromium-"))
        args = [
            self.executable,
            "--headless=new",
            "--no-sandbox",  # containers and CI run as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",  # nothing listens there: no network
            "--proxy-bypass-list=<-loopback>",
            "--remote-allow-origins=*",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        # Its own process group, so helpers (crashpad, zygotes) are stopped with it.
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self._process.poll() is not None:
                self.__exit__(None, None, None)
                raise BrowserError(
                    f"Chromium exited at start-up (code {self._process.returncode})."
                )
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise BrowserError("Chromium did not open its DevTools port in time.")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        self._socket = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=self.timeout, suppress_origin=True
        )
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self._session = attached["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.send(method)
        self.send(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        self.resize(_DEFAULT_WIDTH)
        return self

    def resize(self, width: int, height: int = _HEIGHT) -> None:
        """Set the window size in CSS px (the page is laid out again)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def __exit__(self, *exc: object) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):  # a clean close flushes the profile
                self.send("Browser.close", session=False)
            with contextlib.suppress(Exception):
                self._socket.close()
            self._socket = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
            # Child processes can outlive the browser and keep writing to the profile.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process = None
        if self._profile is not None:
            _remove_tree(self._profile)
            self._profile = None

    # -- protocol --

    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        """Send one DevTools command and return its result (events are queued)."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session and self._session:
            message["sessionId"] = self._session
        self._socket.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
        raise BrowserError(f"No answer to {method} within {self.timeout:g} s.")

    def _wait_for(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(e["method"] == method for e in self._events):
                return
            self._socket.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                event = json.loads(self._socket.recv())
            finally:
                self._socket.settimeout(self.timeout)
            if "method" in event:
                self._events.append(event)
        raise BrowserError(f"The page did not finish loading within {self.timeout:g} s.")

    def _drain(self, seconds: float) -> None:
        """Collect events for a short while (late errors after the load event)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._socket.settimeout(left)
            try:
                event = json.loads(self._socket.recv())
            except Exception:  # websocket timeout: nothing more arrived
                break
            finally:
                self._socket.settimeout(self.timeout)
            if "method" in event:
                self._events.append(event)

    # -- checking a page --

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the current page."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"Script failed: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def layout(self, width: int) -> list[str]:
        """Layout and text defects of the current page in a window ``width`` px wide."""
        self.resize(width)
        return layout_problems(self.evaluate(LAYOUT_JS))

    def open(self, page: Path) -> None:
        """Load a local HTML file and wait for its load event."""
        self._events.clear()
        self.send("Page.navigate", {"url": Path(page).resolve().as_uri()})
        self._wait_for("Page.loadEventFired")
        self._drain(0.3)

    def check(
        self, page: Path, screenshot: Path | None = None, *, widths: Iterable[int] = ()
    ) -> PageCheck:
        """Open ``page`` (a local HTML file) and report what went wrong, if anything.

        With ``widths``, the layout is also checked at each window width (see
        :data:`LAYOUT_JS`), and ``screenshot`` becomes one PNG per width,
        ``<stem>-<width>.png``.
        """
        page = Path(page).resolve()
        result = PageCheck(path=page)
        self.open(page)
        images = self.evaluate(_IMAGES_JS) or []
        result.images = len(images)
        result.broken_images = [img["src"] or "(no src)" for img in images if not img["loaded"]]
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                result.errors.append(f"uncaught exception: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                result.errors.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                result.errors.append(f"{entry.get('source')}: {entry.get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:")):
                    result.requests.append(url)
        for width in widths:
            result.layout += self.layout(width)
            if screenshot is not None:
                shot = Path(screenshot)
                result.screenshots.append(
                    self.screenshot(shot.with_name(f"{shot.stem}-{width}{shot.suffix}"))
                )
        if widths:
            self.resize(_DEFAULT_WIDTH)
            result.screenshot = result.screenshots[0] if result.screenshots else None
        elif screenshot is not None:
            result.screenshot = self.screenshot(screenshot)
        return result

    def screenshot(self, path: Path, *, height: int | None = None) -> Path:
        """Save a PNG of the current page: the whole page (cut at 16,000 px), or its top
        ``height`` px."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(1, int(size["width"]))
        height = max(1, min(int(size["height"]), height or _MAX_SCREENSHOT_HEIGHT))
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def report_pages(out_dir: str | Path) -> list[Path]:
    """``index.html`` of a report folder followed by every local HTML page it links to."""
    out = Path(out_dir)
    index = out / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"No index.html in {out}: run the reports first.")
    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    pages = [index]
    for link in soup.find_all("a", href=True):
        target = link["href"].split("#", 1)[0]
        if target.endswith(".html") and "://" not in target:
            path = (out / target).resolve()
            if path.is_file() and path not in pages:
                pages.append(path)
    return pages


def check_pages(
    pages: Iterable[str | Path],
    screenshot_dir: str | Path | None = None,
    *,
    widths: Iterable[int] = (),
    executable: str | None = None,
    timeout: float = 30.0,
) -> list[PageCheck]:
    """Open each page in one headless Chromium; screenshots as ``<stem>.png`` (with
    ``widths``: the layout checked and a screenshot ``<stem>-<width>.png`` per width)."""
    results = []
    widths = tuple(widths)
    with Chromium(executable, timeout=timeout) as browser:
        for page in pages:
            page = Path(page)
            shot = Path(screenshot_dir) / f"{page.stem}.png" if screenshot_dir else None
            results.append(browser.check(page, shot, widths=widths))
    return results


def check_report_folder(out_dir: str | Path, **kwargs: Any) -> list[PageCheck]:
    """Check ``index.html`` and every report it links to; screenshots in ``screenshots/``."""
    out = Path(out_dir)
    return check_pages(report_pages(out), out / "screenshots", **kwargs)


def iter_problems(checks: Iterable[PageCheck]) -> Iterator[str]:
    """One line per problem, prefixed by the page's file name."""
    for check in checks:
        for problem in check.problems():
            yield f"{check.path.name}: {problem}"


#: Bottom of the summary block in page coordinates (px), or null when there is none.
_SUMMARY_BOTTOM_JS = """
(() => {
  const summary = document.getElementById('summary');
  return summary ? Math.ceil(summary.getBoundingClientRect().bottom + window.scrollY) : null;
})()
"""


def readme_screenshots(
    source: str | Path,
    dest: str | Path,
    *,
    report: str = "cohort.html",
    width: int = 1366,
    max_height: int = 1800,
    executable: str | None = None,
) -> list[Path]:
    """The README's two pictures, from a report folder: the top of ``report`` down to the
    end of its summary block (``<dest>/report-summary.png``) and the top of the index
    (``<dest>/index.png``), both at ``width`` px and at most ``max_height`` px tall."""
    source, dest = Path(source), Path(dest)
    for page in (source / report, source / "index.html"):
        if not page.is_file():
            raise FileNotFoundError(f"No {page.name} in {source}: run the reports first.")
    with Chromium(executable) as browser:
        browser.resize(width)
        browser.open(source / report)
        bottom = browser.evaluate(_SUMMARY_BOTTOM_JS)
        summary = browser.screenshot(
            dest / "report-summary.png", height=min(max_height, (bottom or _HEIGHT) + 24)
        )
        browser.open(source / "index.html")
        index = browser.screenshot(dest / "index.png", height=min(max_height, 1300))
    return [summary, index]


def main(argv: list[str] | None = None) -> int:
    """Check a report folder in headless Chromium, or take the README's screenshots.

    ``python tests/browser.py [FOLDER]`` (``make browser-check``): opens ``index.html`` and
    every report with the network off, at 1366 and 1920 px; checks that every image loaded,
    no script error occurred, the page does not overflow sideways, no block overlaps another
    and no warning text shows; saves screenshots into ``FOLDER/screenshots/``. Exit code 0
    when every page is clean, 1 otherwise.

    ``python tests/browser.py --screenshots [FOLDER [DEST]]`` (``make screenshots``): writes
    the README's pictures (:func:`readme_screenshots`) from ``reports/demo`` into
    ``reports/screenshots``.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--screenshots"]:
        source = Path(args[1] if len(args) > 1 else "reports/demo")
        dest = Path(args[2] if len(args) > 2 else "reports/screenshots")
        try:
            for path in readme_screenshots(source, dest):
                print(path)
        except (BrowserError, FileNotFoundError) as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        return 0
    folder = Path(args[0] if args else "reports/demo")
    try:
        checks = check_report_folder(folder, widths=WIDTHS)
    except (BrowserError, FileNotFoundError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for check in checks:
        status = "ok" if check.ok else "PROBLEM"
        shots = ", ".join(str(p) for p in check.screenshots)
        print(f"{status:7} {check.path.name}: {check.images} images -> {shots}")
    problems = list(iter_problems(checks))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
