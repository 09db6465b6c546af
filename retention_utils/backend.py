"""Where the engine's queries run: the embedded DuckDB, or Spark (classic or Spark Connect).

A pandas frame or a Parquet/CSV path runs on an in-process DuckDB connection; an ibis table
runs on its own backend (for example a Spark table from :func:`spark_table`, or one read by
:func:`open_transactions`). Results come back through :func:`to_pandas` with the same dtypes
whatever the backend. This module also keeps the daily purchase tables of large frames (and of
tables given to ``keep``) so that repeated engine calls do not rescan every transaction.

Spark needs the ``[spark]`` extra (``make setup-spark``) and Java 17 or later.
"""

from __future__ import annotations

import atexit
import contextlib
import glob as _glob
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import types
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
from ibis.formats.pandas import PandasDataFrameProxy

from retention_utils.config import AMOUNT, CUSTOMER, ORDER_DATE
from retention_utils.errors import DataValidationError
from retention_utils.quality import progress_bar_off


def _compilers_on_demand() -> None:
    """Let ibis load the SQL compiler of the backends in use only.

    ``ibis.backends.sql.compilers`` imports the compilers of all twenty SQL dialects ibis
    knows (and sqlglot builds a tokenizer for each) when any backend is first used: about
    half of the DuckDB backend's import, a fixed cost each report and each fresh process
    pays before its first query (measured in ``bench/RESULTS.md``). Registered in its
    place, this module imports a compiler when a backend asks for it (``sc.duckdb``,
    ``sc.pyspark``, ``sc.DuckDBCompiler``). Nothing changes when the package is loaded
    already or cannot be found.
    """
    name = "ibis.backends.sql.compilers"
    spec = None if name in sys.modules else importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)

    def compiler(attr: str) -> types.ModuleType | type:
        module = attr.removesuffix("Compiler").lower()
        try:
            found = importlib.import_module(f"{name}.{module}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None
        return found if module == attr else getattr(found, attr)

    package.__getattr__ = compiler
    sys.modules[name] = package
    sys.modules["ibis.backends.sql"].compilers = package


_compilers_on_demand()

import ibis.backends.duckdb  # noqa: E402  (after _compilers_on_demand, on purpose)

try:  # the [spark] extra
    import pyspark
    from pyspark.sql import SparkSession
except ImportError:  # pragma: no cover - depends on the installation
    pyspark = None
    SparkSession = None

Source = pd.DataFrame | str | os.PathLike | ir.Table

#: The engines a user can choose (CLI ``--engine``, notebook parameter ``engine``).
ENGINES = ("duckdb", "spark")

_connection: Any = None

#: DuckDB settings of the engine's connection: ``memory_limit`` (DuckDB's default is 80% of
#: the machine's memory) and ``temp_directory`` (where a query spills beyond the limit), read
#: from ``RETENTION_DUCKDB_MEMORY_LIMIT`` / ``_TEMP_DIRECTORY`` / ``_THREADS`` when set, or
#: given to :func:`configure_duckdb`.
DUCKDB_SETTINGS: dict[str, str] = {
    name: os.environ[f"RETENTION_DUCKDB_{name.upper()}"]
    for name in ("memory_limit", "temp_directory", "threads")
    if os.environ.get(f"RETENTION_DUCKDB_{name.upper()}")
}


def connection():
    """The in-process DuckDB connection used when a source is a DataFrame or a path."""
    global _connection
    if _connection is None:
        # the backend class itself: ``ibis.duckdb`` would first scan every installed
        # package's entry points for ibis backends
        con = ibis.backends.duckdb.Backend().connect()
        progress_bar_off(con.con)
        _connection = con
        _apply_settings(con)
    return _connection


def configure_duckdb(
    *,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
    threads: int | None = None,
) -> None:
    """Limit the memory of the engine's DuckDB, for data larger than memory.

    Parameters
    ----------
    memory_limit : str, optional
        DuckDB's limit for its own buffers, e.g. ``"4GB"``: beyond it, aggregations, sorts
        and kept tables spill to ``temp_directory`` instead of failing. The whole process
        needs more than this (Python, pandas results): leave 1-2 GB of headroom.
    temp_directory : str, optional
        Folder for the spilled data (DuckDB's default: ``.tmp`` in the working folder).
    threads : int, optional
        Threads DuckDB may use (default: one per core).
    """
    given = {"memory_limit": memory_limit, "temp_directory": temp_directory, "threads": threads}
    DUCKDB_SETTINGS.update({k: str(v) for k, v in given.items() if v is not None})
    if _connection is not None:
        _apply_settings(_connection)


def _apply_settings(con) -> None:
    for name, value in DUCKDB_SETTINGS.items():
        con.con.execute(f"SET {name} = ?", [value])


@contextlib.contextmanager
def quiet_bridge() -> Iterator[None]:
    """Hide two known warnings of this stack, and only those: the Pandas4Warning of ibis's
    pandas bridge on pandas 3, and the DuckDB 2.0 deprecation of ``fetch_arrow_table`` that
    ibis 12's DuckDB backend triggers when it reads files or creates tables."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=pd.errors.Pandas4Warning, module=r"ibis\.formats\.pandas"
        )
        warnings.filterwarnings(
            "ignore",
            message=r"fetch_arrow_table\(\) is deprecated",
            category=DeprecationWarning,
            module=r"ibis\.backends\.duckdb",
        )
        yield


# --- Spark ------------------------------------------------------------------------------

#: Local sessions: few shuffle partitions (the default 200 is for clusters), no web UI.
SPARK_LOCAL_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
}

_spark_backends: dict[tuple[str | None, str | None], Any] = {}


def spark_session(*, master: str | None = None, remote: str | None = None):
    """A Spark session: local (``master="local[2]"``, the default) or Spark Connect
    (``remote="sc://host:15002"``).

    A local session gets a per-run warehouse folder under the temporary directory (removed
    at exit), no web UI, 4 shuffle partitions and the session time zone UTC (so that dates of
    naive timestamps are the ones written in the data). Starting one takes 15-30 s.

    Raises
    ------
    RuntimeError
        When the ``[spark]`` extra is not installed, or (for a local session) Java is not
        found; the message says what to run.
    """
    if pyspark is None:
        raise RuntimeError(
            "Spark is not installed: run `make setup-spark` (or pip install -e '.[spark]')."
        )
    if master and remote:
        raise ValueError("Give spark_master or spark_remote, not both.")
    if remote:
        return SparkSession.builder.remote(remote).getOrCreate()
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise RuntimeError(
            "Spark needs Java 17 or later: install it (Debian: apt-get install "
            "default-jre-headless) or set JAVA_HOME."
        )
    warehouse = tempfile.mkdtemp(prefix="retention-spark-")
    atexit.register(shutil.rmtree, warehouse, ignore_errors=True)
    builder = SparkSession.builder.master(master or "local[2]").appName("retention_utils")
    for key, value in {
        **SPARK_LOCAL_CONFIG,
        "spark.sql.warehouse.dir": os.path.join(warehouse, "warehouse"),
        "spark.local.dir": os.path.join(warehouse, "scratch"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_backend(*, master: str | None = None, remote: str | None = None, session=None):
    """The ibis backend of a Spark session (``session``, or one started with
    :func:`spark_session`); one per master/remote for the life of the process."""
    if session is not None:
        return ibis.pyspark.connect(session)
    key = (master, remote)
    if key not in _spark_backends:
        _spark_backends[key] = ibis.pyspark.connect(spark_session(master=master, remote=remote))
    return _spark_backends[key]


def is_spark(table: ir.Table) -> bool:
    """True when ``table`` runs on Spark (classic or Spark Connect)."""
    bound = _bound_backend(table)
    return bound is not None and bound.name == "pyspark"


def _bound_backend(expr: ir.Expr):
    try:
        return expr._find_backend(use_default=False)
    except Exception:  # an expression of memtables only has no backend yet
        return None


def backend_of(expr: ir.Expr):
    """The backend that runs ``expr``: its table's, or the engine's DuckDB connection for
    expressions of DataFrames only (not ibis's default backend: that would be a second
    DuckDB database, which costs a connection per process and ignores
    :func:`configure_duckdb`)."""
    bound = _bound_backend(expr)
    return connection() if bound is None else bound


def open_transactions(
    source: Source,
    *,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_remote: str | None = None,
) -> ir.Table:
    """The transactions as an ibis table on the chosen engine.

    Parameters
    ----------
    source : DataFrame, path/glob to Parquet/CSV, catalog table name, or ibis table
        With ``engine="spark"``, a path is read by Spark, a name that is not a file is a
        table of the Spark catalog (``db.table``), and a frame is sent to Spark once.
    engine : {"duckdb", "spark"}
    spark_master, spark_remote : str, optional
        Where Spark runs (default ``local[2]``); see :func:`spark_session`.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}.")
    if engine == "duckdb" or isinstance(source, ir.Table):
        return as_table(source)
    con = spark_backend(master=spark_master or None, remote=spark_remote or None)
    if isinstance(source, pd.DataFrame):
        return spark_table(source, con)
    text = str(source)
    if isinstance(source, os.PathLike) or _glob.glob(text) or os.sep in text:
        return as_table(read_path(Path(text), con))
    return as_table(con.table(text))


def spark_table(frame: pd.DataFrame, con) -> ir.Table:
    """A pandas frame as a Spark table of the ibis backend ``con`` (a cached Spark view)."""
    name = f"_retention_{id(frame):x}_{len(frame)}"
    # Missing text would reach Spark as the text "nan": send it as None (a null).
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    if text:
        frame = frame.astype({c: object for c in text})
        frame[text] = frame[text].where(frame[text].notna(), None)
    with quiet_bridge():
        con.create_view(name, ibis.memtable(frame), overwrite=True)
        return con.table(name).cache()


# --- Sources ----------------------------------------------------------------------------


def as_table(source: Source, *, required: tuple[str, ...] = (CUSTOMER, ORDER_DATE, AMOUNT)):
    """An ibis table for a DataFrame, a Parquet/CSV path or glob, or an ibis table.

    Raises
    ------
    FileNotFoundError
        When a path or glob matches no file.
    retention_utils.DataValidationError
        When a required canonical column is missing, or has a type the engine cannot use
        (dates must be timestamps or dates, amounts numbers): the message names the column
        and the type found.
    """
    if isinstance(source, ir.Table):
        table = source
    elif isinstance(source, pd.DataFrame):
        table = frame_table(source)
    elif isinstance(source, str | os.PathLike):
        table = read_path(Path(source))
    else:
        raise TypeError(
            f"Expected a DataFrame, a Parquet/CSV path or an ibis table, got {type(source).__name__}."
        )
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataValidationError(
            [
                {
                    "column": col,
                    "rule": "required column is missing",
                    "count": 0,
                    "examples": [],
                    "rows": [],
                    "hint": f"columns found: {', '.join(table.columns)}; load the file with "
                    "load_transactions(..., customer_col=, date_col=, amount_col=) to map "
                    "your column names",
                }
                for col in missing
            ]
        )
    _check_types(table, required, source)
    return table


#: What the engine needs of each canonical column it computes with.
_DATE_COLUMNS = {ORDER_DATE, "start_date", "end_date"}
_NUMBER_COLUMNS = {AMOUNT, "mrr"}


def _check_types(table: ir.Table, required: tuple[str, ...], source: Source) -> None:
    """Refuse text dates or text amounts before a query fails deep inside ibis."""
    schema = table.schema()
    problems = []
    for col in required:
        dtype = schema[col]
        if col in _DATE_COLUMNS and not (dtype.is_timestamp() or dtype.is_date()):
            needed = "a timestamp or a date"
        elif col in _NUMBER_COLUMNS and not dtype.is_numeric():
            needed = "numbers"
        else:
            continue
        problems.append(
            {
                "column": col,
                "rule": f"has type {dtype} where the engine needs {needed}",
                "count": 0,
                "hint": "Load the data with load_transactions(...) (it parses text dates and "
                "amounts, with date_format=, dayfirst=, decimal=), or store the column with "
                "that type in the file",
            }
        )
    if problems:
        where = f"file {str(source)!r}" if isinstance(source, str | os.PathLike) else "table"
        raise DataValidationError(problems, f"engine's input {where}")


def read_path(path: Path, con=None) -> ir.Table:
    """Parquet or CSV files (a path or a glob) as a table of ``con`` (default: DuckDB)."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        matches = _glob.glob(text)
    else:
        matches = [text] if path.exists() else []
    if not matches:
        raise FileNotFoundError(f"No file found at {text!r}.")
    suffix = Path(matches[0]).suffix.lower()
    con = connection() if con is None else con
    options = {} if con is connection() else {"header": True, "inferSchema": True}
    with quiet_bridge():
        if suffix in {".parquet", ".pq"}:
            return con.read_parquet(text)
        if suffix in {".csv", ".txt", ".gz"}:
            return con.read_csv(text, **options)
    raise ValueError(
        f"The engine reads Parquet or CSV files, not {suffix!r}; load other formats with "
        "retention_utils.load_transactions first."
    )


def to_pandas(expr: ir.Table) -> pd.DataFrame:
    """Execute an expression and return a pandas DataFrame, with the same dtypes on every
    backend: dates as ``datetime64[s]``, timestamps as ``datetime64[us]``, text as ``str``
    (Spark returns ``datetime64[ns]`` and object columns)."""
    schema = expr.schema()
    with quiet_bridge():
        out = backend_of(expr).to_pandas(expr)
    for name, dtype in schema.items():
        col = out[name]
        if dtype.is_date() and col.dtype != "datetime64[s]":
            out[name] = pd.to_datetime(col).astype("datetime64[s]")
        elif dtype.is_timestamp() and dtype.timezone is None and col.dtype != "datetime64[us]":
            out[name] = pd.to_datetime(col).astype("datetime64[us]")
        elif dtype.is_string() and col.dtype == object:
            out[name] = col.astype("str")
    return out


def cache(expr: ir.Table) -> ir.Table:
    """``expr`` computed once into a temporary table of the backend that runs it (see
    :func:`backend_of`); ``.release()`` drops it."""
    with quiet_bridge():
        return backend_of(expr)._cached_table(expr)


def scalar(expr: ir.Scalar):
    """Execute a scalar expression (a count, a min or max) on its backend; timestamps come
    back in microseconds on every backend (Spark gives nanoseconds)."""
    with quiet_bridge():
        value = backend_of(expr).execute(expr)
    if isinstance(value, pd.Timestamp):
        return value.as_unit("us")
    return value


# --- Reuse across calls ----------------------------------------------------------------
#
# A notebook calls the engine many times on the same large DataFrame, and each call would
# rebuild the daily purchase table from every transaction row (about 1.5 s per call for ten
# million rows). For DataFrames of CACHE_MIN_ROWS rows or more, the engine keeps the daily
# table of the last CACHE_SIZE frames on its backend and reuses it while the frame's content
# is unchanged: the key is a hash of every row (0.15 s for ten million rows), so editing the
# frame in place, or passing another frame, simply misses the cache. Paths and ibis tables
# are kept only when given to ``keep`` (on Spark the daily table is cached by Spark, never
# collected). ``clear_cache()`` releases the memory.

#: DataFrames with at least this many rows have their daily purchase table kept.
CACHE_MIN_ROWS = 200_000
#: How many sources are kept (least recently used first out).
CACHE_SIZE = 2


@dataclass
class _Cached:
    table: ir.Table  # the DataFrame as an ibis memtable, or the ibis table given to keep
    daily: ir.Table | None = None  # its daily purchase table, materialised on second use
    requests: int = 0  # times the daily table was asked for


_cache: OrderedDict[tuple, _Cached] = OrderedDict()


def clear_cache() -> None:
    """Forget the daily purchase tables kept for large DataFrames and kept tables."""
    for entry in _cache.values():
        _drop_daily(entry)
    _cache.clear()


def _drop_daily(entry: _Cached) -> None:
    if entry.daily is None:
        return
    if is_spark(entry.daily):
        entry.daily.release()
    else:
        name = entry.daily.get_name().rsplit(".", 1)[-1]
        connection().raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    entry.daily = None


def _content_key(frame: pd.DataFrame) -> tuple | None:
    """Rows, columns, dtypes and the sum of every row's hash; None when DuckDB cannot hash
    the frame faithfully (see :func:`retention_utils.quality.query_frame`).

    Hashed on a cursor of the engine's connection: a DuckDB database of its own would cost
    a connection (tens of milliseconds) on every call.
    """
    if any(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes):
        return None
    try:
        with connection().con.cursor() as cursor:
            cursor.register("frame", frame)
            row = cursor.execute("SELECT sum(hash(f)::HUGEINT) FROM frame AS f").fetchone()
    except duckdb.Error:
        return None
    return (len(frame), tuple(map(str, frame.columns)), tuple(map(str, frame.dtypes)), row[0])


def _remember(key: tuple, table: ir.Table) -> _Cached:
    entry = _cache[key] = _Cached(table)
    while len(_cache) > CACHE_SIZE:
        _drop_daily(_cache.popitem(last=False)[1])
    return entry


def frame_table(frame: pd.DataFrame) -> ir.Table:
    """The ibis table of a DataFrame: the kept one when the same content was seen before."""
    key = _content_key(frame) if CACHE_SIZE > 0 and len(frame) >= CACHE_MIN_ROWS else None
    if key is not None and key in _cache:
        _cache.move_to_end(key)
        return _cache[key].table
    with quiet_bridge():
        table = ibis.memtable(frame)
    if key is not None:
        _remember(key, table)
    return table


def frame_of(table: ir.Table) -> pd.DataFrame | None:
    """The DataFrame ``table`` was made from by :func:`frame_table` (``table`` itself, not an
    expression on it), else None."""
    op = table.op()
    pandas_data = isinstance(op, ops.InMemoryTable) and isinstance(op.data, PandasDataFrameProxy)
    return op.data.to_frame() if pandas_data else None  # the frame itself, not a copy


def kept_daily(
    table: ir.Table, build: Callable[[ir.Table], ir.Table], *, now: bool = False
) -> ir.Table | None:
    """The materialised daily purchase table (``build(table)``) of a kept source, else None.

    It is built when asked for the second time (or ``now``): a single call computes straight
    from the transactions (writing the table first would make it slower), repeated calls pay
    once.
    """
    entry = next((e for e in _cache.values() if e.table is table), None)
    if entry is None:
        return None
    entry.requests += 1
    if entry.daily is None and (now or entry.requests >= 2):
        with quiet_bridge():
            if is_spark(table):
                entry.daily = build(table).cache()  # Spark keeps it; nothing is collected
            else:
                name = f"_retention_daily_{uuid.uuid4().hex}"
                entry.daily = connection().create_table(name, build(table), temp=True)
    return entry.daily


def keep_daily(source: pd.DataFrame | ir.Table, build: Callable[[ir.Table], ir.Table]) -> None:
    """Build and keep the daily purchase table of a large DataFrame or of an ibis table now
    (see ``engine.keep``)."""
    if isinstance(source, ir.Table):
        key = ("table", id(source))
        if key not in _cache:
            _remember(key, source)
        kept_daily(source, build, now=True)
    elif isinstance(source, pd.DataFrame):
        kept_daily(frame_table(source), build, now=True)
    else:
        raise TypeError(f"keep() takes a DataFrame or an ibis table, got {type(source).__name__}.")
