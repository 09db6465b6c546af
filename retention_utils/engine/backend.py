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
import re
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
from ibis.common.exceptions import TableNotFound
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
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession
except ImportError:  # pragma: no cover - depends on the installation
    pyspark = None
    SparkSession = None
    AnalysisException = TableNotFound

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
    """Hide known warnings of this stack, and only those: the Pandas4Warning of ibis's and
    pyspark's pandas bridges on pandas 3, and the DuckDB 2.0 deprecation of
    ``fetch_arrow_table`` that ibis 12's DuckDB backend triggers when it reads files or
    creates tables."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            category=pd.errors.Pandas4Warning,
            module=r"ibis\.formats\.pandas|pyspark\.sql\.pandas",
        )
        warnings.filterwarnings(
            "ignore",
            message=r"fetch_arrow_table\(\) is deprecated",
            category=DeprecationWarning,
            module=r"ibis\.backends\.duckdb",
        )
        yield


# --- Spark ------------------------------------------------------------------------------

#: Sessions started here: no web UI, dates in UTC. A local session also gets one shuffle
#: partition per core (Spark's default 200 is for clusters; with local[1] each extra
#: partition is a task run after the others).
SPARK_LOCAL_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
}

#: Spark masters a session can be started with (``local[2]``, ``spark://host:7077``, ...).
_LOCAL = r"local(?:\[(\d+|\*)(?:,\d+)?\])?"
_MASTER = re.compile(rf"{_LOCAL}|(spark|k8s|mesos)://\S+|yarn")


def local_cores(master: str) -> int | None:
    """Cores of a local master (``local[2]``: 2, ``local``: 1, ``local[*]``: all of this
    machine); None for a cluster's master.

    >>> local_cores("local[2]"), local_cores("local"), local_cores("spark://host:7077")
    (2, 1, None)
    """
    match = re.fullmatch(_LOCAL, master)
    if match is None:
        return None
    return (os.cpu_count() or 1) if match.group(1) == "*" else int(match.group(1) or 1)


_REMOTE = re.compile(r"sc://\S+")
_PARTITIONS = ("spark.sql.shuffle.partitions", "spark.default.parallelism")


def check_spark(*, master: str | None = None, remote: str | None = None) -> None:
    """Refuse, before anything starts, a Spark set-up that cannot work.

    Raises
    ------
    ValueError
        When both ``master`` and ``remote`` are given, or one is not written as Spark expects
        (``local[2]``, ``spark://host:7077``, ``yarn``; ``sc://host:15002``).
    RuntimeError
        When the ``[spark]`` extra is not installed, or (for a session started here, not a
        Spark Connect one) Java is not found; the message says what to run.
    """
    if master and remote:
        raise ValueError("Give spark_master or spark_remote, not both.")
    if master and not _MASTER.fullmatch(master):
        raise ValueError(
            f"spark_master {master!r} is not a Spark master: use local[N] (N cores of this "
            "machine), spark://host:7077, k8s://..., or yarn."
        )
    if remote and not _REMOTE.fullmatch(remote):
        raise ValueError(
            f"spark_remote {remote!r} is not a Spark Connect address: use sc://host:15002."
        )
    if pyspark is None:
        raise RuntimeError(
            "Spark is not installed: run `make setup-spark` (or pip install -e '.[spark]')."
        )
    if not remote and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise RuntimeError(
            "Spark needs Java 17 or later: install it (Debian: apt-get install "
            "default-jre-headless) or set JAVA_HOME."
        )


_spark_backends: dict[tuple[str | None, str | None], Any] = {}


def spark_session(*, master: str | None = None, remote: str | None = None):
    """A Spark session: local (``master="local[2]"``, the default) or Spark Connect
    (``remote="sc://host:15002"``).

    A session started here gets a per-run warehouse folder under the temporary directory
    (removed at exit), no web UI and the session time zone UTC (so that dates of naive
    timestamps are the ones written in the data); a local one also one shuffle partition per
    core. Starting one takes 15-30 s.

    Raises
    ------
    ValueError, RuntimeError
        See :func:`check_spark`.
    """
    check_spark(master=master, remote=remote)
    if remote:
        return SparkSession.builder.remote(remote).getOrCreate()
    warehouse = tempfile.mkdtemp(prefix="retention-spark-")
    atexit.register(shutil.rmtree, warehouse, ignore_errors=True)
    master = master or "local[2]"
    cores = local_cores(master)
    partitions = {} if cores is None else dict.fromkeys(_PARTITIONS, str(cores))
    builder = SparkSession.builder.master(master).appName("retention_utils")
    for key, value in {
        **SPARK_LOCAL_CONFIG,
        **partitions,
        "spark.sql.warehouse.dir": os.path.join(warehouse, "warehouse"),
        "spark.local.dir": os.path.join(warehouse, "scratch"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
    }.items():
        builder = builder.config(key, value)
    with _output_to(os.path.join(warehouse, "spark.log")):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[None]:
    """Point this process's standard output and error (file descriptors 1 and 2) at ``path``
    while Spark's JVM starts: the JVM inherits them and writes its start-up notices and logs
    there for the rest of the session, not into a report (a Jupyter kernel shows whatever
    reaches its descriptors in the running cell). Python's own output is unchanged."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
    finally:
        for fd, copy in enumerate(saved, start=1):
            os.dup2(copy, fd)
            os.close(copy)


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
        With ``engine="spark"``, a path is read by Spark (also a folder of Parquet files, or
        an address such as ``s3://bucket/orders/`` or ``dbfs:/orders.parquet``), a name that
        is not a file is a table of the Spark catalog (``table``, ``db.table`` or
        ``catalog.db.table``), and a frame is sent to Spark once.
    engine : {"duckdb", "spark"}
    spark_master, spark_remote : str, optional
        Where Spark runs (default ``local[2]``); see :func:`spark_session`.
    """
    check_engine(engine)
    if engine == "duckdb" or isinstance(source, ir.Table):
        return as_table(source)
    con = spark_backend(master=spark_master or None, remote=spark_remote or None)
    if isinstance(source, pd.DataFrame):
        return spark_table(source, con)
    return as_table(spark_source(str(source), con))


def check_engine(engine: str) -> None:
    """Refuse an engine name that is not one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}.")


#: File suffixes the engine reads itself (anything else goes through the pandas loaders).
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".gz")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")
_CATALOG_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}")


def is_catalog_name(text: str) -> bool:
    """True when ``text`` names a table of a Spark catalog (``db.table``), not a file: it is
    not an existing path, has no file suffix and is made of one to three identifiers."""
    suffix = Path(text).suffix.lower()
    return (
        bool(_CATALOG_NAME.fullmatch(text))
        and not Path(text).exists()
        and suffix not in (*PARQUET_SUFFIXES, *CSV_SUFFIXES, ".xlsx", ".xls", ".json")
    )


def spark_reads(source: Source) -> bool:
    """True when Spark reads ``source`` itself: a Parquet/CSV path, glob or folder, an address
    (``s3://...``) or a catalog table name; False for a built-in data set name, a frame or
    another file type (loaded by pandas, then sent to Spark)."""
    if not isinstance(source, str | os.PathLike):
        return False
    text = str(source)
    if _URI.match(text) or is_catalog_name(text) or Path(text).is_dir():
        return True
    return Path(text.rstrip("*")).suffix.lower() in (*PARQUET_SUFFIXES, *CSV_SUFFIXES)


def spark_source(text: str, con) -> ir.Table:
    """A catalog table or the files at ``text`` as a table of the Spark backend ``con``."""
    if not is_catalog_name(text):
        return read_path(text, con)
    *database, name = text.split(".")
    try:
        return con.table(name, database=".".join(database) or None)
    except (TableNotFound, AnalysisException):  # no such table, or no such database
        raise FileNotFoundError(
            f"{text!r} is neither a file nor a table of the Spark catalog."
        ) from None


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
        table = read_path(source)
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


def read_path(path: str | os.PathLike, con=None) -> ir.Table:
    """Parquet or CSV files (a path, a glob or a folder of Parquet files) as a table of ``con``
    (default: DuckDB). An address such as ``s3://bucket/orders/`` is passed to the backend
    as it is."""
    text = str(path)
    if _URI.match(text):
        matches = [text]
    elif any(ch in text for ch in "*?["):
        matches = _glob.glob(text)
    else:
        matches = [text] if Path(text).exists() else []
    if not matches:
        raise FileNotFoundError(f"No file found at {text!r}.")
    first = matches[0].rstrip("/")
    folder = Path(first).is_dir() or (_URI.match(first) and not Path(first).suffix)
    suffix = PARQUET_SUFFIXES[0] if folder else Path(first).suffix.lower()
    con = connection() if con is None else con
    duckdb = con is connection()
    options = {} if duckdb else {"header": True, "inferSchema": True}
    if folder and duckdb:
        text = os.path.join(text, "**", "*.parquet")
    with quiet_bridge():
        if suffix in PARQUET_SUFFIXES:
            return con.read_parquet(text)
        if suffix in CSV_SUFFIXES:
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
