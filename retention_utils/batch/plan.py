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

from retention_utils import config
from retention_utils.batch.export import ParameterRow, notebook_title
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
#: Data-source values that are not paths (see ``retention_utils.io.open_dataset``).
BUILTIN_DATASETS = frozenset({"demo", "cdnow", "cdnow_sample", "online_retail"})
#: Most segment values one ``--segment-by`` may fan out to.
MAX_SEGMENTS = 50
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


def data_source(value: str, *, flag: str) -> str:
    """A data-source value ready to inject: built-in names unchanged, paths made absolute.

    Notebooks run with their own folder as working directory, so a relative path given on
    the command line would point elsewhere there.

    Raises
    ------
    ParameterError
        When a path (or glob) matches no file.
    """
    text = str(value).strip()
    if text == "" or text in BUILTIN_DATASETS:
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if any(ch in text for ch in "*?["):
        if not glob.glob(str(path)):
            raise ParameterError(f"{flag}: no file matches {text!r}.")
        return str(path)
    if not path.exists():
        builtins = ", ".join(sorted(BUILTIN_DATASETS))
        raise ParameterError(
            f"{flag}: file not found: {text!r} (relative paths are read from {Path.cwd()}; "
            f"built-in data sets: {builtins})."
        )
    return str(path.resolve())


def _builtin_path(name: str) -> Path | None:
    return {"demo": config.SAMPLE_TRANSACTIONS, "online_retail": config.ONLINE_RETAIL}.get(name)


def segment_values(source: str, column: str) -> list[str]:
    """Distinct non-empty values of ``column`` in a transaction source, as text, sorted.

    ``source`` is a path or glob (CSV, Parquet or Excel) or a built-in data set name. Files
    are scanned with DuckDB, so this works on files larger than memory.

    Raises
    ------
    ParameterError
        When the column does not exist (the message lists the columns found).
    """
    import duckdb

    path = _builtin_path(source) if source in BUILTIN_DATASETS else Path(source)
    if path is None:  # a built-in data set without a file of its own
        from retention_utils.io import open_dataset

        frame = open_dataset(source)
        if column not in frame.columns:
            raise ParameterError(
                f"--segment-by: column {column!r} not in {source!r}; columns: "
                f"{', '.join(map(str, frame.columns))}."
            )
        values = frame[column].dropna().astype(str)
        return sorted(v for v in set(values) if v.strip())
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        import pandas as pd

        frame = pd.read_excel(path, dtype=str)
        if column not in frame.columns:
            raise ParameterError(
                f"--segment-by: column {column!r} not in {path.name}; columns: "
                f"{', '.join(map(str, frame.columns))}."
            )
        return sorted(v for v in set(frame[column].dropna()) if v.strip())
    # CSV values are read as text, as the loaders read them ("007" stays "007").
    reader = "read_parquet" if suffix in (".parquet", ".pq") else "read_csv_auto"
    options = "" if reader == "read_parquet" else ", all_varchar = true"
    con = duckdb.connect()
    try:
        relation = con.sql(f"SELECT * FROM {reader}(?{options})", params=[str(path)])
        columns = relation.columns
        if column not in columns:
            raise ParameterError(
                f"--segment-by: column {column!r} not in {path.name}; columns: "
                f"{', '.join(columns)}."
            )
        quoted = '"' + column.replace('"', '""') + '"'
        rows = con.execute(
            f"SELECT DISTINCT CAST({quoted} AS VARCHAR) AS v FROM {reader}(?{options}) "
            f"WHERE {quoted} IS NOT NULL ORDER BY v",
            [str(path)],
        ).fetchall()
    finally:
        con.close()
    return [row[0] for row in rows if row[0].strip()]


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


def _parameter_rows(spec: NotebookSpec, values: Mapping[str, Value], name: str):
    rows = []
    for param in spec.declared.values():
        if param.name in values:
            value = values[param.name]
            if param.name == "output_dir":
                value = f"{name}_files/"
            rows.append(ParameterRow(param.name, value, param.help, set_by_run=True))
        else:
            default = param.default_value
            shown = default if param.default_value is not None else param.default
            rows.append(ParameterRow(param.name, shown, param.help))
    return tuple(rows)


def _absolute_sources(values: dict[str, Value], origin: str) -> dict[str, Value]:
    out = dict(values)
    for name, flag in DATA_PARAMETERS.items():
        if isinstance(out.get(name), str):
            where = flag if origin == "flag" else f"parameter {name!r}"
            out[name] = data_source(out[name], flag=where)
    return out


def _demo_surveys_for_other_transactions(values: dict[str, Value], declared) -> bool:
    """True when a notebook would link the demo surveys to transactions that are not the
    demo shop's (no customer would match)."""
    if "surveys" not in declared or "transactions" not in declared:
        return False
    surveys = values.get("surveys", declared["surveys"].default_value)
    transactions = values.get("transactions", declared["transactions"].default_value)
    return surveys == "demo" and transactions not in (None, "", "demo")


def plan_runs(
    notebooks: Sequence[str] | None = None,
    *,
    out: str | Path,
    data: Mapping[str, str | None] | None = None,
    assignments: Iterable[str] = (),
    config_path: str | Path | None = None,
    segment_by: str | None = None,
    notebook_dir: Path | None = None,
    notices: list[str] | None = None,
    link_clv: bool = False,
) -> list[ReportRun]:
    """Validate everything about a batch and list the reports to produce.

    Parameters
    ----------
    notebooks : sequence of str, optional
        Short names (``cohort``, ``clv``, ``satisfaction``) or paths; default: the pack.
    out : path
        Output folder (``output_dir`` parameters point into it).
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
        all customers and once per distinct value of the column in the transactions.
    notices : list, optional
        Receives one line per report of the default pack left out, with the reason: a
        report whose surveys would stay the demo shop's while the transactions are yours
        (it is an error when that report was asked for by name or in a config).
    link_clv : bool, default False
        Give each report declaring ``clv_customers`` (left unset) the customer table of the
        CLV report of the same data and segment, and run it after that report.

    Returns
    -------
    list of ReportRun
        With unique file-name-safe names.

    Raises
    ------
    ParameterError
        For any problem, before anything runs.
    """
    out = Path(out).resolve()
    entries: list[_Entry] = []
    common: dict[str, Any] = {}
    if config_path is not None:
        if notebooks:
            raise ParameterError(
                "Give notebooks either on the command line or in --config, not both."
            )
        common, runs = read_config(config_path)
        for run in runs:
            spec = load_spec(run["notebook"], notebook_dir=notebook_dir)
            entries.append(_Entry(spec, run["parameters"], run["name"], from_config=True))
    else:
        refs = list(notebooks) if notebooks else list(PACK)
        entries = [_Entry(load_spec(ref, notebook_dir=notebook_dir)) for ref in refs]

    cli_values: dict[str, str] = {}
    for text in assignments:
        name, value = split_assignment(text)
        cli_values[name] = value
    flags = {k: v for k, v in (data or {}).items() if v is not None}
    flags = _absolute_sources(flags, "flag")

    for name in list(common) + list(cli_values):
        if not any(name in entry.spec.declared for entry in entries):
            declared = sorted({p for e in entries for p in e.spec.declared})
            raise ParameterError(
                f"No notebook of this batch has a parameter {name!r}. Declared parameters: "
                f"{', '.join(declared) or 'none'}."
            )
    if segment_by is not None:
        if not segment_by.strip():
            raise ParameterError("--segment-by needs a column name.")
        clash = [p for p in SEGMENT_PARAMETERS if p in cli_values or p in common]
        if clash:
            raise ParameterError(f"--segment-by cannot be combined with -p {clash[0]}=...")
        if not any(all(p in e.spec.declared for p in SEGMENT_PARAMETERS) for e in entries):
            raise ParameterError(
                "--segment-by: no notebook of this batch declares the parameters segment_col "
                "and segment_value."
            )

    values_cache: dict[str, list[str]] = {}
    runs: list[ReportRun] = []
    for entry in entries:
        spec = entry.spec
        declared = spec.declared
        merged: dict[str, Any] = {k: v for k, v in common.items() if k in declared}
        merged.update(validate_parameters(declared, entry.values, notebook=spec.path.name))
        merged.update({k: v for k, v in flags.items() if k in declared})
        merged.update({k: v for k, v in cli_values.items() if k in declared})
        base = validate_parameters(declared, merged, notebook=spec.path.name)
        base = _absolute_sources(base, "parameter")
        if _demo_surveys_for_other_transactions(base, declared):
            reason = (
                f"the {spec.short_name} report needs survey answers of the customers in "
                f"{base['transactions']} (its default surveys are the demo shop's, whose "
                "customers are different)"
            )
            if notebooks or config_path is not None:
                raise ParameterError(
                    f"{reason[0].upper()}{reason[1:]}: give --surveys PATH or -p surveys=PATH."
                )
            if notices is not None:
                notices.append(f"Skipped: {reason}. Give --surveys PATH to include it.")
            continue

        stem = safe_name(entry.name) if entry.name else spec.short_name
        if entry.from_config and not entry.name:
            for key in entry.values:
                if key in DATA_PARAMETERS or key in SEGMENT_PARAMETERS or key == "output_dir":
                    continue
                stem += f"__{safe_name(key)}-{safe_name(base[key])}"

        variants: list[dict[str, Value]] = [base]
        if segment_by is not None and all(p in declared for p in SEGMENT_PARAMETERS):
            source = str(base.get("transactions") or "demo")
            if source not in values_cache:
                values_cache[source] = segment_values(source, segment_by)
            found = values_cache[source]
            if len(found) > MAX_SEGMENTS:
                raise ParameterError(
                    f"--segment-by {segment_by}: {len(found)} distinct values, more than the "
                    f"{MAX_SEGMENTS} reports one fan-out may produce. Pick a coarser column "
                    "or list the segments you need in a --config file."
                )
            variants += [
                {**base, "segment_col": segment_by, "segment_value": value} for value in found
            ]
        for values in variants:
            segment = None
            name = stem
            if values.get("segment_col") and values.get("segment_value") not in (None, ""):
                segment = (str(values["segment_col"]), str(values["segment_value"]))
                name += f"__{safe_name(segment[0])}-{safe_name(segment[1])}"
            runs.append(
                ReportRun(
                    name=name,
                    notebook=spec.path,
                    title=spec.title + (f" ({segment[0]}: {segment[1]})" if segment else ""),
                    parameters=dict(values),
                    segment=segment,
                )
            )

    # Unique names, then the per-report output folder and the parameters table.
    seen: dict[str, int] = {}
    final = []
    for run in runs:
        count = seen.get(run.name, 0) + 1
        seen[run.name] = count
        name = run.name if count == 1 else f"{run.name}__{count}"
        spec = next(e.spec for e in entries if e.spec.path == run.notebook)
        values = dict(run.parameters)
        if "output_dir" in spec.declared and "output_dir" not in values:
            values["output_dir"] = str(out / f"{name}_files")
        final.append(
            ReportRun(
                name=name,
                notebook=run.notebook,
                title=run.title,
                parameters=values,
                rows=_parameter_rows(spec, values, name),
                segment=run.segment,
            )
        )
    if link_clv:
        final = _link_clv_tables(final, {e.spec.path: e.spec for e in entries})
    return final


#: What the CLV report writes into its output folder (``clv.write_customer_table``).
CLV_TABLE = "clv_customers.parquet"


def _link_clv_tables(runs: list[ReportRun], specs: Mapping[Path, NotebookSpec]):
    """Point ``clv_customers`` of the runs that declare it to the table of the CLV run with
    the same transactions and segment, and make them wait for it."""
    producers = {
        (run.segment, run.parameters.get("transactions")): run
        for run in runs
        if run.short_name == "clv" and "output_dir" in run.parameters
    }
    linked = []
    for run in runs:
        spec = specs[run.notebook]
        producer = producers.get((run.segment, run.parameters.get("transactions")))
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
        shown = f"{producer.name}_files/{CLV_TABLE}"  # as the reader finds it, not /tmp/...
        rows = tuple(
            replace(row, value=shown) if row.name == "clv_customers" else row
            for row in _parameter_rows(spec, values, run.name)
        )
        linked.append(
            replace(run, parameters=values, rows=rows, after=(producer.name, "clv_customers"))
        )
    return linked
