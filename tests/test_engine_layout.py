"""The engine package: one module per concern, imports flowing one way (SPEC section 2)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from retention_utils import engine
from retention_utils.engine import sources

ENGINE = Path(engine.__file__).parent
#: The engine's modules, in the order of the package docstring: each imports only those
#: before it.
ORDER = [
    "backend",
    "sources",
    "daily",
    "grid",
    "segments",
    "rfm",
    "counts",
    "cohorts",
    "survival",
    "surveys",
]
#: The modules below the engine (SPEC section 2), which it may import.
BELOW = {"config", "errors", "periods", "io", "reading", "parsing", "quality", "schemas"}


def _imported(path: Path) -> set[str]:
    """``retention_utils`` modules imported anywhere in ``path`` (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {
            n.removeprefix("retention_utils.") for n in names if n.startswith("retention_utils.")
        }
    return found


def test_every_engine_module_is_in_the_map():
    modules = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__")
    assert modules == sorted(ORDER)
    for name in ORDER:
        assert f":mod:`~retention_utils.engine.{name}`" in engine.__doc__


def test_engine_modules_import_only_modules_before_them_or_below_the_engine():
    wrong = {}
    for i, name in enumerate(ORDER):
        allowed = BELOW | {f"engine.{before}" for before in ORDER[:i]}
        extra = _imported(ENGINE / f"{name}.py") - allowed
        if extra:
            wrong[name] = sorted(extra)
    assert wrong == {}
    assert _imported(ENGINE / "daily.py") == {"config", "engine.backend", "periods"}
    assert _imported(ENGINE / "sources.py") == {
        "config",
        "engine.backend",
        "errors",
        "io",
        "periods",
    }


def test_the_package_exports_resolve():
    assert [name for name in engine.__all__ if not hasattr(engine, name)] == []
    assert engine.open_report_transactions is sources.open_report_transactions
    assert engine.kpi_counts.__module__ == "retention_utils.engine.counts"


def test_importing_the_engine_leaves_the_pandas_loaders_unloaded():
    """``open_report_transactions`` comes with the loaders (and pandera): loaded on first use."""
    code = (
        "import sys; from retention_utils import engine; "
        "print(sorted(m for m in ('retention_utils.io', 'retention_utils.engine.sources', "
        "'pandera') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
