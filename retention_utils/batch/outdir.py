"""The output folder: what the runner may write there, one run at a time, atomically.

SPEC section 5, "The output folder is safe":

* a manifest (:data:`MANIFEST`) lists every file and folder the runner wrote in ``--out``;
  the runner removes or replaces only those, and refuses a run that would overwrite anything
  else;
* a folder that holds one of the run's inputs (a notebook, a data file) is refused, and so
  are report names that clash with the runner's own files (:data:`RESERVED_NAMES`);
* a lock file (:data:`LOCK`) lets one run at a time write into a folder; a second run is
  refused with the process ID and start time of the first;
* ``index.html``, ``summary.json`` and the manifest are written to a temporary file and
  moved into place (:func:`atomic_write`), so a reader never sees half a file.

Every refusal raises :class:`OutputFolderError` before any kernel starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The runner's own files in ``--out`` (besides the reports).
INDEX = "index.html"
SUMMARY = "summary.json"
LOCK = ".retention-report.lock"
MANIFEST = ".retention-report-manifest.json"
LOGS = "logs"
#: Folder of the per-segment Parquet files of a ``--segment-by`` run.
SEGMENT_DATA = "segment_data"
#: Report names that would clash with the runner's own files.
RESERVED_NAMES = frozenset({"index", "summary", LOGS, SEGMENT_DATA})
MANIFEST_VERSION = 1


class OutputFolderError(OSError):
    """The output folder cannot be used for this run (the message says why and what to do)."""


def report_files(name: str) -> tuple[str, ...]:
    """Paths, relative to the output folder, that the report ``name`` writes."""
    return (f"{name}.ipynb", f"{name}.html", f"{LOGS}/{name}.log", f"{name}_files")


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, then replace ``path``.

    A reader sees the old file or the new one, never a part of it.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_inputs(out: str | Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output folder that holds (at any depth) one of the run's input files.

    Raises
    ------
    OutputFolderError
        Naming the first input found inside the folder.
    """
    folder = Path(out).resolve()
    for item in inputs:
        path = Path(item).resolve()
        if _inside(path, folder):
            raise OutputFolderError(
                f"--out {out} holds an input of this run ({path}); the runner replaces files "
                "in its output folder, so give a folder of its own, e.g. --out "
                f"{Path(out) / 'reports'}."
            )


def check_names(names: Iterable[str]) -> None:
    """Refuse report names that clash with the runner's own files.

    Raises
    ------
    OutputFolderError
        Naming the report and the reserved names.
    """
    for name in names:
        if name.lower() in RESERVED_NAMES:
            raise OutputFolderError(
                f"A report may not be named {name!r}: the runner writes its own "
                f"{name}{'.html' if name.lower() == 'index' else ''} there (reserved names: "
                f"{', '.join(sorted(RESERVED_NAMES))}). Give the run another 'name' in the "
                "config, or rename the notebook."
            )


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock of an output folder."""

    pid: int
    host: str
    started: str

    def alive(self) -> bool:
        """True unless the holder is a process of this machine that no longer runs."""
        if self.host != socket.gethostname():
            return True  # cannot tell: assume it still runs
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _read_lock(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def locked(out: str | Path) -> Iterator[Path]:
    """Create the output folder and hold its lock for the duration of the block.

    A lock left by a process of this machine that no longer runs is taken over.

    Raises
    ------
    OutputFolderError
        When the folder cannot be created or written (naming the path), or another run holds
        the lock (naming its process ID and start time).
    """
    folder = Path(out)
    lock = folder / LOCK
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = _read_lock(lock)
                if other is not None and other.alive():
                    raise OutputFolderError(
                        f"Another run is writing into {folder} (process {other.pid} on "
                        f"{other.host}, started {other.started}). Wait for it to finish or "
                        f"give another --out. If that process no longer runs, delete {lock}."
                    ) from None
                lock.unlink(missing_ok=True)  # left by a run that died
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(holder, handle)
            break
    except OutputFolderError:
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputFolderError(
            f"Cannot write into the output folder {folder}: {reason} "
            f"({exc.filename or folder}). Give a folder you can write to with --out."
        ) from None
    try:
        yield folder
    finally:
        still = _read_lock(lock)
        if still is not None and still.pid == os.getpid():
            lock.unlink(missing_ok=True)


# --- the manifest ---------------------------------------------------------------------------


@dataclass
class Manifest:
    """Files the runner wrote in an output folder, by report name.

    ``reports`` maps a report name to ``{"files": [...], "run": start time of the run that
    wrote it, "title": ..., "html": ...}``; ``files`` are relative to the folder.
    ``previous`` is the same mapping as read from the folder, before this run claimed any.
    """

    folder: Path
    reports: dict[str, dict[str, Any]]
    previous: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, out: str | Path) -> Manifest:
        """The manifest of a folder (empty when there is none or it cannot be read)."""
        folder = Path(out)
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            reports = {str(k): dict(v) for k, v in data.get("reports", {}).items()}
        except (OSError, ValueError, AttributeError, TypeError):
            reports = {}
        return cls(folder, reports, {k: dict(v) for k, v in reports.items()})

    def owned(self) -> set[str]:
        """Every relative path the manifest lists, plus the runner's own files."""
        paths = {INDEX, SUMMARY, MANIFEST, LOCK, LOGS, SEGMENT_DATA}
        for entry in self.reports.values():
            paths.update(entry.get("files", []))
        return paths

    def foreign(self, names: Iterable[str]) -> list[str]:
        """Files this run would write over that the runner did not write (relative paths)."""
        owned = self.owned()
        wanted = [INDEX, SUMMARY, SEGMENT_DATA]
        for name in names:
            wanted.extend(report_files(name))
        return [p for p in wanted if p not in owned and (self.folder / p).exists()]

    def claim(self, names: Iterable[str], *, run: str, titles: dict[str, str]) -> None:
        """Record that this run writes the files of ``names`` (before it writes them)."""
        for name in names:
            self.reports[name] = {
                "files": list(report_files(name)),
                "run": run,
                "title": titles.get(name, name),
                "html": f"{name}.html",
            }

    def earlier(self, finished: Iterable[str]) -> list[dict[str, Any]]:
        """Reports left in the folder by earlier runs and not rewritten by this one.

        From the manifest (``name``, ``title``, ``html``, ``run``), then any other HTML page
        in the folder that the runner did not write (``run`` None: an older version of the
        runner, or not the runner at all). A report this run planned but did not finish
        counts when its earlier page is still there.
        """
        done = set(finished)
        found = []
        for name, entry in self.previous.items():
            html = entry.get("html") or f"{name}.html"
            if name not in done and (self.folder / html).is_file():
                found.append(
                    {
                        "name": name,
                        "title": entry.get("title", name),
                        "html": html,
                        "run": entry.get("run"),
                    }
                )
        listed = {e["html"] for e in found} | self.owned() | {f"{n}.html" for n in done}
        for page in sorted(self.folder.glob("*.html")):
            if page.name not in listed:
                found.append(
                    {"name": page.stem, "title": page.stem, "html": page.name, "run": None}
                )
        return found

    def write(self) -> Path:
        """Write the manifest atomically."""
        text = json.dumps({"version": MANIFEST_VERSION, "reports": self.reports}, indent=1)
        return atomic_write(self.folder / MANIFEST, text + "\n")


def check_foreign_files(manifest: Manifest, names: Iterable[str]) -> None:
    """Refuse a run that would overwrite files the runner did not write.

    Raises
    ------
    OutputFolderError
        Listing up to five such files.
    """
    foreign = manifest.foreign(names)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputFolderError(
            f"--out {manifest.folder} already holds files this run would replace that "
            f"retention-report did not write: {shown}. Move them away or give another --out."
        )
