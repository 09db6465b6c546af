"""Planning a batch: which notebook runs with which parameters, under which file name.

Everything here happens before any kernel starts, so a typo in a parameter, a missing data
file or an unknown segment column stops the batch at once with a message naming the problem.
"""

from __future__ import annotations

import glob
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from retention_utils import config, engine
from retention_utils.batch.models import ParameterRow, notebook_title
from retention_utils.batch.params import (
    NotebookParameter,
    ParameterError,
    Value,
    check_name,
    declared_parameters,
    load_yaml_text,
    split_assignment,
    validate_parameters,
)
from retention_utils.batch.segments import CANONICAL_MAPPING, FanOut, reads_split_files
from retention_utils.engine import backend
from retention_utils.io import BUILTIN_DATASETS

#: Short names of the report pack, in the order the pack runs them.
PACK: dict[str, str] = {
    "cohort": "cohort_analysis.ipynb",
    "clv": "clv_analysis.ipynb",
    "satisfaction": "satisfaction_analysis.ipynb",
}
#: Notebook parameters that name a data source; the matching command-line flags.
DATA_PARAMETERS: dict[str, str] = {
    "transactions": "--data",
    "surveys": "--surveys",
    "subscriptions": "--subscriptions",
    "costs": "--costs",
}
#: Notebook parameters that choose where the engine runs; the matching command-line flags.
ENGINE_PARAMETERS: dict[str, str] = {
    "engine": "--engine",
    "spark_master": "--spark-master",
    "spark_remote": "--spark-remote",
}
#: Data-source values that are not paths (see ``retention_utils.io.open_dataset``).
BUILTIN_NAMES = frozenset(name for names in BUILTIN_DATASETS.values() for name in names)
#: Most segment reports one ``--segment-by`` may fan out to (per notebook).
MAX_SEGMENTS = 100
SEGMENT_PARAMETERS = ("segment_col", "segment_value")
_CONFIG_KEYS = {"parameters", "runs"}
_RUN_KEYS = {"notebook", "parameters", "name"}


@dataclass(frozen=True)
class NotebookSpec:
    """A notebook of the batch with what its parameters cell declares."""

    path: Path
    short_name: str
    title: str
    declared: dict[str, NotebookParameter]


@dataclass(frozen=True)
class ReportRun:
    """One report to produce: a notebook, the values to inject, and the output file stem."""

    name: str
    notebook: Path
    title: str
    parameters: dict[str, Value]
    rows: tuple[ParameterRow, ...] = ()
    segment: tuple[str, str] | None = None
    #: The transactions as given (a segment report reads its split file of them instead).
    source: Value = None
    #: (name of the run, parameter): this run starts when that run is done, and the
    #: parameter points to a file the run writes (set to "" if that run fails).
    after: tuple[str, str] | None = None

    @property
    def short_name(self) -> str:
        return self.name.split("__", 1)[0]


@dataclass
class _Entry:
    spec: NotebookSpec
    values: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    from_config: bool = False


# --- notebooks ----------------------------------------------------------------------------


def resolve_notebook(ref: str | os.PathLike, *, notebook_dir: Path | None = None) -> Path:
    """Path of a notebook given as a short name (``clv``), a pack file name or a path."""
    notebook_dir = notebook_dir or config.NOTEBOOK_DIR
    text = str(ref)
    candidates = [Path(text).expanduser()]
    if text in PACK:
        candidates.insert(0, notebook_dir / PACK[text])
    candidates.append(notebook_dir / text)
    candidates.append(notebook_dir / f"{text}.ipynb")
    for candidate in candidates:
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate.resolve()
    known = ", ".join(PACK)
    raise ParameterError(
        f"Notebook {text!r} not found: give a path to an .ipynb file or one of {known}."
    )


def short_name(path: Path) -> str:
    """``clv`` for ``clv_analysis.ipynb``; other notebooks keep their file stem."""
    for short, file_name in PACK.items():
        if path.name == file_name:
            return short
    return safe_name(path.stem)


def load_spec(ref: str | os.PathLike, *, notebook_dir: Path | None = None) -> NotebookSpec:
    """Read a notebook's declared parameters and title."""
    path = resolve_notebook(ref, notebook_dir=notebook_dir)
    nb = nbformat.read(path, as_version=4)
    return NotebookSpec(
        path=path,
        short_name=short_name(path),
        title=notebook_title(nb, path.stem.replace("_", " ").capitalize()),
        declared=declared_parameters(path),
    )


# --- values -------------------------------------------------------------------------------


def safe_name(text: Any, *, max_length: int = 60) -> str:
    """A file-name-safe version of a value: ASCII letters, digits, ``.``, ``_`` and ``-``.

    >>> safe_name("E-Mail & Co/ÜK")
    'E-Mail-Co-UK'
    """
    normal = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", normal)
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    return slug[:max_length].rstrip("-._") or "blank"


def data_source(value: str, *, flag: str, spark: bool = False) -> str:
    """A data-source value ready to inject: built-in names unchanged, paths made absolute.

    Notebooks run with their own folder as working directory, so a relative path given on
    the command line would point elsewhere there. With ``spark``, an address
    (``s3://...``) and a catalog table name (``db.orders``) are passed on as they are: Spark
    reads them.

    Raises
    ------
    ParameterError
        When a path (or glob) matches no file.
    """
    text = str(value).strip()
    if text == "" or text in BUILTIN_NAMES or (spark and _spark_address(text)):
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if any(ch in text for ch in "*?["):
        if not glob.glob(str(path)):
            raise ParameterError(f"{flag}: no file matches {text!r}.")
        return str(path)
    if not path.exists():
        builtins = ", ".join(sorted(BUILTIN_NAMES))
        raise ParameterError(
            f"{flag}: file not found: {text!r} (relative paths are read from {Path.cwd()}; "
            f"built-in data sets: {builtins})."
        )
    return str(path.resolve())


def _spark_address(text: str) -> bool:
    """An address or a catalog table name that Spark reads (not a local file)."""
    return backend.is_catalog_name(text) or bool(re.match(r"[A-Za-z][\w+.-]*:/", text))


def check_engine_values(values: Mapping[str, Value], *, segment_by: str | None = None) -> None:
    """Refuse engine parameters that cannot work together, before any kernel starts: an
    unknown engine, ``spark_master``/``spark_remote`` without ``engine=spark`` or both at
    once, Spark not installed (or Java missing for a local master), or a fan-out by segment
    on Spark.

    Raises
    ------
    ParameterError
        Naming the flags.
    """
    chosen = values.get("engine") or "duckdb"
    master, remote = values.get("spark_master") or "", values.get("spark_remote") or ""
    if chosen not in backend.ENGINES:
        raise ParameterError(
            f"--engine must be one of {', '.join(backend.ENGINES)}, got {chosen!r}."
        )
    if chosen != "spark":
        for name in ("spark_master", "spark_remote"):
            if values.get(name):
                raise ParameterError(
                    f"{ENGINE_PARAMETERS[name]} is for the Spark engine: add --engine spark "
                    "(or -p engine=spark)."
                )
        return
    if master and remote:
        raise ParameterError("Give --spark-master or --spark-remote, not both.")
    try:
        backend.check_spark(master=str(master) or None, remote=str(remote) or None)
    except (ValueError, RuntimeError) as exc:
        raise ParameterError(f"--engine spark: {exc}") from None
    if segment_by is not None:
        raise ParameterError(
            "--segment-by splits the data on this machine, which --engine spark is meant to "
            "avoid: run one report per segment with -p segment_col=COLUMN -p "
            "segment_value=VALUE (or list them in a --config file)."
        )


def builtin_path(name: str) -> Path | None:
    """The file behind a built-in data set name, when it has one in the project."""
    return {
        "demo": config.SAMPLE_TRANSACTIONS,
        "online_retail": config.ONLINE_RETAIL,
    }.get(name)


# --- config -------------------------------------------------------------------------------


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParameterError(f"{where} must be a mapping of parameter names to values.")
    for key in value:
        if not isinstance(key, str):
            raise ParameterError(f"{where}: parameter names must be text, got {key!r}.")
        check_name(key)
    return dict(value)


def read_config(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read a runs config: common ``parameters`` and a list of ``runs``.

    Format::

        parameters:            # optional, for every run (only where declared)
          observation_end: 2011-12-09
        runs:
          - notebook: clv      # short name, pack file name or path
            name: clv-uk       # optional file name
            parameters:
              segment_col: country
              segment_value: United Kingdom

    Scalars stay text until they are parsed against each notebook's declared types, so
    ``2011-12-09`` and ``007`` arrive as strings in ``str`` parameters. Relative data paths
    are read from the working directory, as on the command line. Command-line values win
    over run parameters, which win over the config's common ``parameters``.
    """
    document = load_yaml_text(path)
    if not isinstance(document, dict):
        raise ParameterError(f"The runs config {path} must be a mapping with a 'runs' list.")
    unknown = set(map(str, document)) - _CONFIG_KEYS
    if unknown:
        raise ParameterError(
            f"The runs config {path} has unknown keys {sorted(unknown)}; allowed: "
            f"{sorted(_CONFIG_KEYS)}."
        )
    common = _mapping(document.get("parameters"), f"{path}: parameters")
    runs = document.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ParameterError(f"The runs config {path} needs a non-empty 'runs' list.")
    checked = []
    for i, run in enumerate(runs, start=1):
        where = f"{path}: run {i}"
        if not isinstance(run, dict) or "notebook" not in run:
            raise ParameterError(f"{where} must be a mapping with a 'notebook' key.")
        unknown = set(map(str, run)) - _RUN_KEYS
        if unknown:
            raise ParameterError(
                f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(_RUN_KEYS)}."
            )
        name = run.get("name")
        if name is not None and not isinstance(name, str):
            raise ParameterError(f"{where}: 'name' must be text.")
        checked.append(
            {
                "notebook": str(run["notebook"]),
                "name": name,
                "parameters": _mapping(run.get("parameters"), f"{where}: parameters"),
            }
        )
    return common, checked


# --- planning -----------------------------------------------------------------------------


def _parameter_rows(
    spec: NotebookSpec, values: Mapping[str, Value], name: str, out: Path
) -> tuple[ParameterRow, ...]:
    """The parameters table of a report; files inside the output folder shown relative to it
    (as the reader finds them, not as /tmp/...)."""
    rows = []
    for param in spec.declared.values():
        if param.name in values:
            value = values[param.name]
            if param.name == "output_dir":
                value = f"{name}_files/"
            elif isinstance(value, str) and value.startswith(str(out) + os.sep):
                value = Path(value).relative_to(out).as_posix()
            rows.append(ParameterRow(param.name, value, param.help, set_by_run=True))
        else:
            default = param.default_value
            shown = default if param.default_value is not None else param.default
            rows.append(ParameterRow(param.name, shown, param.help))
    return tuple(rows)


def _absolute_sources(values: dict[str, Value], origin: str, *, spark: bool) -> dict[str, Value]:
    out = dict(values)
    for name, flag in DATA_PARAMETERS.items():
        if isinstance(out.get(name), str):
            where = flag if origin == "flag" else f"parameter {name!r}"
            out[name] = data_source(out[name], flag=where, spark=spark and name == "transactions")
    return out


def _demo_surveys_for_other_transactions(values: dict[str, Value], declared) -> bool:
    """True when a notebook would link the demo surveys to transactions that are not the
    demo shop's (no customer would match)."""
    if "surveys" not in declared or "transactions" not in declared:
        return False
    surveys = values.get("surveys", declared["surveys"].default_value)
    transactions = values.get("transactions", declared["transactions"].default_value)
    return surveys == "demo" and transactions not in (None, "", "demo")


@dataclass
class BatchPlan:
    """Everything decided before any kernel starts.

    ``runs`` are the reports to produce; ``inputs`` the files they read (notebooks and data
    files: the output folder may not hold them); ``fan_out`` the loaded segment sources of a
    ``--segment-by`` batch (its files are written when the batch runs); ``notices`` one line
    per report of the default pack left out.
    """

    runs: list[ReportRun]
    inputs: list[Path]
    fan_out: FanOut | None = None
    notices: list[str] = field(default_factory=list)

    def skipped_segments(self) -> list[dict[str, Any]]:
        """Segments without a report, with the reason (empty without ``--segment-by``)."""
        return self.fan_out.skipped() if self.fan_out else []


def _entries(
    notebooks: Sequence[str] | None, config_path: str | Path | None, notebook_dir: Path | None
) -> tuple[list[_Entry], dict[str, Any]]:
    """The notebooks of the batch (from the command line or a config) and common values."""
    if config_path is None:
        refs = list(notebooks) if notebooks else list(PACK)
        return [_Entry(load_spec(ref, notebook_dir=notebook_dir)) for ref in refs], {}
    if notebooks:
        raise ParameterError("Give notebooks either on the command line or in --config, not both.")
    common, runs = read_config(config_path)
    entries = [
        _Entry(
            load_spec(run["notebook"], notebook_dir=notebook_dir),
            run["parameters"],
            run["name"],
            from_config=True,
        )
        for run in runs
    ]
    return entries, common


def _check_batch(
    entries: list[_Entry], names: Iterable[str], segment_by: str | None, fixed: Iterable[str]
) -> None:
    """Every value name is declared by some notebook; ``--segment-by`` can be used."""
    for name in names:
        if not any(name in entry.spec.declared for entry in entries):
            declared = sorted({p for e in entries for p in e.spec.declared})
            raise ParameterError(
                f"No notebook of this batch has a parameter {name!r}. Declared parameters: "
                f"{', '.join(declared) or 'none'}."
            )
    if segment_by is None:
        return
    if not segment_by.strip():
        raise ParameterError("--segment-by needs a column name.")
    clash = [p for p in SEGMENT_PARAMETERS if p in set(fixed)]
    if clash:
        raise ParameterError(f"--segment-by cannot be combined with -p {clash[0]}=...")
    if not any(all(p in e.spec.declared for p in SEGMENT_PARAMETERS) for e in entries):
        raise ParameterError(
            "--segment-by: no notebook of this batch declares the parameters segment_col "
            "and segment_value."
        )


def _base_values(
    entry: _Entry, common: Mapping[str, Any], flags: Mapping[str, str], cli: Mapping[str, str]
) -> dict[str, Value]:
    """A notebook's values: config common < run < flags < ``-p``, validated, paths made
    absolute."""
    spec = entry.spec
    declared = spec.declared
    merged: dict[str, Any] = {k: v for k, v in common.items() if k in declared}
    merged.update(validate_parameters(declared, entry.values, notebook=spec.path.name))
    merged.update({k: v for k, v in flags.items() if k in declared})
    merged.update({k: v for k, v in cli.items() if k in declared})
    base = validate_parameters(declared, merged, notebook=spec.path.name)
    return _absolute_sources(base, "parameter", spark=base.get("engine") == "spark")


def _stem(entry: _Entry, base: Mapping[str, Value]) -> str:
    """File stem of a notebook's reports: its name, or the short name plus the values a
    config run sets."""
    if entry.name:
        return safe_name(entry.name)
    stem = entry.spec.short_name
    if entry.from_config:
        for key in entry.values:
            if key in DATA_PARAMETERS or key in SEGMENT_PARAMETERS or key == "output_dir":
                continue
            stem += f"__{safe_name(key)}-{safe_name(base[key])}"
    return stem


def _segment_variants(
    spec: NotebookSpec, base: dict[str, Value], fan_out: FanOut, out: Path
) -> list[dict[str, Value]]:
    """One value set per reported segment: its split file and the canonical mapping, or
    (for a notebook that reads other data too) the segment filter on the whole data."""
    source = fan_out.source(base)
    found = source.reported()
    if len(found) > MAX_SEGMENTS:
        raise ParameterError(
            f"--segment-by {fan_out.column}: {len(found)} segments of at least "
            f"{fan_out.min_customers} customers, more than the {MAX_SEGMENTS} reports one "
            "fan-out may produce. Raise --min-customers, pick a coarser column or list the "
            "segments you need in a --config file."
        )
    variants = []
    for value in found:
        values = {**base, "segment_col": fan_out.column, "segment_value": value}
        if reads_split_files(spec.declared):
            values["transactions"] = str(source.path(out, value))
            values.update({k: v for k, v in CANONICAL_MAPPING.items() if k in spec.declared})
        variants.append(values)
    return variants


def _report_run(
    spec: NotebookSpec, stem: str, values: dict[str, Value], source: Value
) -> ReportRun:
    segment = None
    name = stem
    if values.get("segment_col") and values.get("segment_value") not in (None, ""):
        segment = (str(values["segment_col"]), str(values["segment_value"]))
        name += f"__{safe_name(segment[0])}-{safe_name(segment[1])}"
    title = spec.title + (f" ({segment[0]}: {segment[1]})" if segment else "")
    return ReportRun(
        name=name,
        notebook=spec.path,
        title=title,
        parameters=dict(values),
        segment=segment,
        source=source,
    )


def _finalise(runs: list[ReportRun], specs: Mapping[Path, NotebookSpec], out: Path):
    """Unique names, then each report's output folder and parameters table."""
    seen: dict[str, int] = {}
    final = []
    for run in runs:
        count = seen.get(run.name, 0) + 1
        seen[run.name] = count
        name = run.name if count == 1 else f"{run.name}__{count}"
        spec = specs[run.notebook]
        values = dict(run.parameters)
        if "output_dir" in spec.declared and "output_dir" not in values:
            values["output_dir"] = str(out / f"{name}_files")
        rows = _parameter_rows(spec, values, name, out)
        final.append(replace(run, name=name, parameters=values, rows=rows))
    return final


def _input_files(values: Mapping[str, Value]) -> list[Path]:
    """Data files a notebook reads (for the check that ``--out`` does not hold them)."""
    found = []
    for name in DATA_PARAMETERS:
        value = values.get(name)
        if not isinstance(value, str) or not value:
            continue
        if value not in BUILTIN_NAMES and not Path(value).exists() and _spark_address(value):
            continue  # read by Spark, not a file of this machine
        path = builtin_path(value) if value in BUILTIN_NAMES else Path(value)
        if path is not None:
            found.append(path if path.exists() else path.parent)  # a glob: its folder
    return found


def plan_batch(
    notebooks: Sequence[str] | None = None,
    *,
    out: str | Path,
    data: Mapping[str, str | None] | None = None,
    assignments: Iterable[str] = (),
    config_path: str | Path | None = None,
    segment_by: str | None = None,
    min_customers: int = engine.MIN_SEGMENT_CUSTOMERS,
    notebook_dir: Path | None = None,
    link_clv: bool = False,
    engine_options: Mapping[str, str] | None = None,
) -> BatchPlan:
    """Validate everything about a batch and list the reports to produce.

    Parameters
    ----------
    notebooks : sequence of str, optional
        Short names (``cohort``, ``clv``, ``satisfaction``) or paths; default: the pack.
    out : path
        Output folder (``output_dir`` parameters and split files point into it).
    data : mapping, optional
        Data-source parameters from the flags (``transactions``, ``surveys``,
        ``subscriptions``, ``costs``); injected only into notebooks that declare them.
    assignments : iterable of str
        ``NAME=VALUE`` texts from ``-p``; each name must be declared by at least one notebook
        of the batch and is injected into those that declare it.
    config_path : path, optional
        YAML runs config (see :func:`read_config`); replaces ``notebooks``.
    segment_by : str, optional
        Segment column: each notebook declaring ``segment_col``/``segment_value`` runs for
        all customers and once per segment of at least ``min_customers`` customers. The
        transactions are loaded once here (see :mod:`retention_utils.batch.segments`).
    min_customers : int, default 30
        Smallest segment (customers) that gets a report; smaller ones are listed as skipped.
    notebook_dir : path, optional
        Where short notebook names are looked up (default: the project's notebooks).
    link_clv : bool, default False
        Give each report declaring ``clv_customers`` (left unset) the customer table of the
        CLV report of the same data and segment, and run it after that report.
    engine_options : mapping, optional
        ``engine``, ``spark_master``, ``spark_remote`` from the flags (``--engine spark
        --spark-master local[2]``); injected into the notebooks that declare them and checked
        with :func:`check_engine_values` (as are the same values given with ``-p`` or in a
        config).

    Returns
    -------
    BatchPlan
        Runs with unique file-name-safe names, their input files, the fan-out and notices
        (a default-pack report whose surveys would stay the demo shop's while the
        transactions are yours is left out with a notice; asked for by name, it is an error).

    Raises
    ------
    ParameterError
        For any problem, before anything runs.
    """
    out = Path(out).resolve()
    entries, common = _entries(notebooks, config_path, notebook_dir)
    cli_values = dict(split_assignment(text) for text in assignments)
    engine_flags = {k: v for k, v in (engine_options or {}).items() if v}
    spark = {**common, **cli_values, **engine_flags}.get("engine") == "spark"
    flags = _absolute_sources(
        {k: v for k, v in (data or {}).items() if v is not None}, "flag", spark=spark
    )
    flags.update(engine_flags)
    names = [*common, *cli_values, *engine_flags]
    _check_batch(entries, names, segment_by, [*common, *cli_values])
    fan_out = FanOut(segment_by, min_customers) if segment_by is not None else None
    plan = BatchPlan(runs=[], inputs=[], fan_out=fan_out)
    for entry in entries:
        spec = entry.spec
        base = _base_values(entry, common, flags, cli_values)
        check_engine_values(base, segment_by=segment_by)
        if _demo_surveys_for_other_transactions(base, spec.declared):
            reason = (
                f"the {spec.short_name} report needs survey answers of the customers in "
                f"{base['transactions']} (its default surveys are the demo shop's, whose "
                "customers are different)"
            )
            if notebooks or config_path is not None:
                raise ParameterError(
                    f"{reason[0].upper()}{reason[1:]}: give --surveys PATH or -p surveys=PATH."
                )
            plan.notices.append(f"Skipped: {reason}. Give --surveys PATH to include it.")
            continue
        plan.inputs += [spec.path, *_input_files(base)]
        variants = [base]
        if fan_out is not None and all(p in spec.declared for p in SEGMENT_PARAMETERS):
            variants += _segment_variants(spec, base, fan_out, out)
        stem = _stem(entry, base)
        source = base.get("transactions")
        plan.runs += [_report_run(spec, stem, values, source) for values in variants]
    specs = {e.spec.path: e.spec for e in entries}
    plan.runs = _finalise(plan.runs, specs, out)
    if link_clv:
        plan.runs = _link_clv_tables(plan.runs, specs, out)
    return plan


def plan_runs(
    notebooks: Sequence[str] | None = None, *, notices: list[str] | None = None, **options: Any
) -> list[ReportRun]:
    """The runs of :func:`plan_batch` (its notices appended to ``notices``)."""
    plan = plan_batch(notebooks, **options)
    if notices is not None:
        notices.extend(plan.notices)
    return plan.runs


#: What the CLV report writes into its output folder (``clv.write_customer_table``).
CLV_TABLE = "clv_customers.parquet"


def _link_clv_tables(
    runs: list[ReportRun], specs: Mapping[Path, NotebookSpec], out: Path
) -> list[ReportRun]:
    """Point ``clv_customers`` of the runs that declare it to the table of the CLV run with
    the same transactions and segment, and make them wait for it."""
    producers = {
        (run.segment, run.source): run
        for run in runs
        if run.short_name == "clv" and "output_dir" in run.parameters
    }
    linked = []
    for run in runs:
        spec = specs[run.notebook]
        producer = producers.get((run.segment, run.source))
        if (
            producer is None
            or "clv_customers" not in spec.declared
            or run.parameters.get("clv_customers") not in (None, "")
        ):
            linked.append(run)
            continue
        values = {
            **run.parameters,
            "clv_customers": str(Path(str(producer.parameters["output_dir"])) / CLV_TABLE),
        }
        rows = _parameter_rows(spec, values, run.name, out)
        linked.append(
            replace(run, parameters=values, rows=rows, after=(producer.name, "clv_customers"))
        )
    return linked
