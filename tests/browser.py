"""Opening the HTML reports in headless Chromium, offline, as a reader would.

For every page (``index.html`` and each report) the check records:

* images that did not load (``naturalWidth == 0``),
* script errors and console errors (uncaught exceptions, CSP violations, failed loads),
* any request that is not a local file or an embedded ``data:`` URI (the network is off:
  DevTools offline emulation, plus a dead proxy as a second wall),

and saves a full-page screenshot. Chromium is driven through the DevTools protocol over a
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

    @property
    def ok(self) -> bool:
        return not (self.broken_images or self.errors or self.requests)

    def problems(self) -> list[str]:
        return (
            [f"image did not load: {src}" for src in self.broken_images]
            + [f"error: {text}" for text in self.errors]
            + [f"network request: {url}" for url in self.requests]
        )


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
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

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

    def check(self, page: Path, screenshot: Path | None = None) -> PageCheck:
        """Open ``page`` (a local HTML file) and report what went wrong, if anything."""
        page = Path(page).resolve()
        result = PageCheck(path=page)
        self._events.clear()
        self.send("Page.navigate", {"url": page.as_uri()})
        self._wait_for("Page.loadEventFired")
        self._drain(0.3)
        images = self.send("Runtime.evaluate", {"expression": _IMAGES_JS, "returnByValue": True})[
            "result"
        ].get("value", [])
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
        if screenshot is not None:
            result.screenshot = self.screenshot(screenshot)
        return result

    def screenshot(self, path: Path) -> Path:
        """Save a full-page PNG of the current page (cut at 16,000 px)."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(1, int(size["width"]))
        height = max(1, min(int(size["height"]), _MAX_SCREENSHOT_HEIGHT))
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
    executable: str | None = None,
    timeout: float = 30.0,
) -> list[PageCheck]:
    """Open each page in one headless Chromium; screenshots as ``<stem>.png``."""
    results = []
    with Chromium(executable, timeout=timeout) as browser:
        for page in pages:
            page = Path(page)
            shot = Path(screenshot_dir) / f"{page.stem}.png" if screenshot_dir else None
            results.append(browser.check(page, shot))
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


def main(argv: list[str] | None = None) -> int:
    """``python tests/browser.py [FOLDER]`` (``make browser-check``): check a report folder.

    Opens ``index.html`` and every report in headless Chromium with the network off, checks
    that every image loaded and no script error occurred, and saves screenshots into
    ``FOLDER/screenshots/``. Exit code 0 when every page is clean, 1 otherwise.
    """
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "reports/demo")
    try:
        checks = check_report_folder(folder)
    except (BrowserError, FileNotFoundError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for check in checks:
        status = "ok" if check.ok else "PROBLEM"
        print(f"{status:7} {check.path.name}: {check.images} images -> {check.screenshot}")
    problems = list(iter_problems(checks))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
