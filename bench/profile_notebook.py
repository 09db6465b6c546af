"""Where a report's time goes: run a notebook's cells in one process under pyinstrument.

``python -m bench.profile_notebook NOTEBOOK --param NAME=VALUE ... --out PROFILE.txt``

The cells run in order in a plain namespace (``display`` does nothing; figures are drawn to
PNG after each cell, as the kernel would, and closed), each under its own pyinstrument
profiler. The text written to ``--out`` lists every cell of 1 s or more with its section
and, for the slowest cells, the top of the call tree. A JSON line summarises the run.
Kernel start-up and the HTML export are not included (the report pack's stage breakdown
has them).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
from pathlib import Path

#: Slowest cells whose call tree is written out.
TREES = 4
TREE_LINES = 28


def _heading(source: str) -> str | None:
    for line in source.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def _typed(parameters_cell: str, params: dict) -> dict:
    """The values of ``params`` that the cell declares (``name: type = ...``), converted
    from text to the declared type (str, int, float or bool) as papermill's caller would."""
    declared = dict(re.findall(r"^(\w+)\s*:\s*(\w+)\s*=", parameters_cell, flags=re.M))
    out = {}
    for name, value in params.items():
        kind = declared.get(name)
        if kind is None:
            continue
        if isinstance(value, str) and kind in ("int", "float"):
            value = int(value) if kind == "int" else float(value)
        elif isinstance(value, str) and kind == "bool":
            value = value.strip().lower() in ("1", "true", "yes")
        out[name] = value
    return out


def _render_figures() -> None:
    import matplotlib.pyplot as plt

    for number in plt.get_fignums():
        plt.figure(number).savefig(io.BytesIO(), format="png")
    plt.close("all")


def profile_notebook(path: Path, params: dict[str, str], out: Path) -> dict:
    # Cells run in this process, without a display. Chosen here, not through MPLBACKEND at
    # import, so that kernels started later by the importing process keep their inline backend.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # the kernel's inline backend imports it at start
    from pyinstrument import Profiler

    nb = json.loads(Path(path).read_text())
    namespace: dict = {"__name__": "__main__", "display": lambda *a, **k: None}
    cells = []
    section = "setup (imports, parameters)"
    for cell in nb["cells"]:
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            section = _heading(source) or section
            continue
        if cell["cell_type"] != "code":
            continue
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source += "\n" + "\n".join(
                f"{name} = {value!r}" for name, value in _typed(source, params).items()
            )
        profiler = Profiler(interval=0.01)
        started = time.perf_counter()
        profiler.start()
        try:
            exec(compile(source, f"<{Path(path).stem} cell {len(cells)}>", "exec"), namespace)
            _render_figures()
        finally:
            profiler.stop()
        seconds = time.perf_counter() - started
        cells.append(
            {
                "section": section,
                "seconds": seconds,
                "code": " ".join(source.split())[:90],
                "tree": profiler.output_text(unicode=False, color=False, show_all=False),
            }
        )
    total = sum(c["seconds"] for c in cells)
    lines = [f"{Path(path).name}: {total:.1f} s in cells (one process, no kernel, no export)", ""]
    for c in cells:
        if c["seconds"] >= 1:
            lines.append(f"{c['seconds']:7.2f} s  [{c['section']}]  {c['code']}")
    for c in sorted(cells, key=lambda c: -c["seconds"])[:TREES]:
        tree = [x.rstrip() for x in c["tree"].splitlines() if x.strip()]
        # drop pyinstrument's banner (5 lines) and keep the top of the call tree
        body = [x for x in tree if not x.lstrip().startswith(("_", "/", "Recorded", "Profile"))]
        lines += ["", f"--- {c['seconds']:.2f} s: [{c['section']}] {c['code']}"]
        lines += body[:TREE_LINES]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return {
        "notebook": Path(path).name,
        "cells_s": total,
        "slowest": [
            {k: c[k] for k in ("section", "seconds", "code")}
            for c in sorted(cells, key=lambda c: -c["seconds"])[:8]
        ],
        "profile": str(out),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_notebook", description=__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params = dict(item.split("=", 1) for item in args.param)
    notebook, out = args.notebook.resolve(), args.out.resolve()
    os.chdir(notebook.parent)  # as papermill runs it
    summary = profile_notebook(notebook, params, out)
    sys.stdout.flush()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
