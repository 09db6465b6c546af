"""Reading raw tables: a file, a glob of files or a DataFrame in, a frame of raw cells out.

The rules of SPEC section 3 for files: the encoding of a text file is detected among UTF-8
(with or without a byte-order mark), cp1250 (Central European) and cp1252 (Western), or
given as ``encoding=``; the byte-order mark never reaches a column name; the delimiter is
detected among ``,`` ``;`` tab and ``|``; Excel files are read from ``sheet=`` (a name, or a
position counted from 0), and a sheet that lacks the needed columns while another has them
is named in the message; duplicated column names are an error; a path may be a glob, whose
files are read and stacked. Cells of text files stay text: the column parsers of
:mod:`retention_utils.parsing` give each column its one rule.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import glob
import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.errors import EmptyDataError, ParserError

from retention_utils.errors import DataValidationError

PathOrFrame = str | os.PathLike | pd.DataFrame

__all__ = ["ENCODINGS", "PathOrFrame", "RawTable", "missing_column", "read_raw"]

#: Encodings told apart automatically (any other one is given with ``encoding=``).
ENCODINGS = ("utf-8", "cp1250", "cp1252")
DELIMITERS = (",", ";", "\t", "|")
_TEXT = {".csv", ".txt", ".tsv", ".gz"}
_PARQUET = {".parquet", ".pq"}
_EXCEL = {".xlsx", ".xlsm", ".xls"}
#: Bytes read to detect the encoding and the delimiter (the whole file when it fails later).
_SAMPLE_BYTES = 1 << 20
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Letters each single-byte encoding is chosen for; a byte decoding to a symbol counts against.
_LETTERS = {
    "cp1250": set("ąćęłńśźżĄĆĘŁŃŚŹŻčďěňřšťůžČĎĚŇŘŠŤŮŽőűŐŰăşţĂŞŢ"),
    "cp1252": set("àâäçèéêëîïôöùûüÿñæœßåøãõÀÂÄÇÈÉÊËÎÏÔÖÙÛÜŸÑÆŒÅØÃÕ"),
}


@dataclass
class RawTable:
    """Raw cells of one table and where they came from.

    ``starts`` holds the first row (0-based, in ``frame``) of each file of a glob, so an
    error can name the file and the row in it. ``sheets`` lists the columns of the other
    sheets of a workbook when no sheet was asked for.
    """

    frame: pd.DataFrame
    table: str
    source: str
    files: list[str] = field(default_factory=list)
    reading: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=lambda: [0])
    sheet: str | None = None
    sheets: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What an error message calls this table (naming its file)."""
        if not self.files:
            return self.table
        if len(self.files) > 1:
            return f"{self.table} files {self.source!r} ({len(self.files)} files)"
        sheet = f", sheet {self.sheet!r}" if self.sheet is not None else ""
        return f"{self.table} file {self.source!r}{sheet}"

    def error(self, problems: list[dict]) -> DataValidationError:
        """One :class:`DataValidationError` for ``problems``, naming the file of each row."""
        if len(self.files) > 1:
            problems = [self._locate(p) for p in problems]
        return DataValidationError(problems, self.label)

    def _locate(self, entry: dict) -> dict:
        starts = np.asarray(self.starts)
        rows = []
        for row in entry.get("rows", []):
            i = int(np.searchsorted(starts, row - 1, side="right")) - 1
            rows.append(f"{Path(self.files[i]).name}:{row - int(starts[i])}")
        return {**entry, "rows": rows}

    def require(self, mapping: dict[str, tuple[str, str]]) -> None:
        """Raise one error for every column of ``mapping`` (canonical name -> (user column,
        mapping parameter)) missing from the table; when another sheet of the workbook has
        them all, one problem names that sheet and ``sheet=``."""
        found = list(self.frame.columns)
        wanted = [col for col, _ in mapping.values()]
        missing = [c for c in wanted if c not in found]
        if not missing:
            return
        better = [name for name, cols in self.sheets.items() if set(wanted) <= set(cols)]
        if better:
            rule = f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)} not on this sheet"
            hint = f"Sheet {better[0]!r} of the workbook has them: pass sheet={better[0]!r}"
            raise self.error([_file_problem(rule, hint)])
        raise self.error([missing_column(c, p, found) for c, p in mapping.values() if c in missing])


def missing_column(column: str, parameter: str, found: list[str]) -> dict:
    """A problem entry for a column that is not in the table, with the closest name found."""
    close = difflib.get_close_matches(column, found, n=1, cutoff=0.5)
    hint = f"Columns found: {', '.join(found)}. Pass {parameter}='<your column name>'"
    if close:
        hint += f" (did you mean {parameter}={close[0]!r}?)"
    return {
        "column": column,
        "rule": f"column not found (mapping parameter {parameter})",
        "count": 0,
        "hint": hint,
    }


def _file_problem(rule: str, hint: str | None = None) -> dict:
    return {"column": "(file)", "rule": rule, "count": 0, **({"hint": hint} if hint else {})}


def read_raw(
    source: PathOrFrame,
    table: str,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> RawTable:
    """The raw cells of ``source``: a DataFrame, a CSV/TSV/Parquet/Excel path, or a glob.

    Parameters
    ----------
    source : path, glob or DataFrame
        A glob (``orders_2024_*.csv``) reads every matching file, in name order, and stacks
        them; they must have the same columns.
    table : str
        What the table is ("transactions"), for messages.
    encoding : str, optional
        Encoding of text files; default: detected among UTF-8, cp1250 and cp1252.
    sheet : str or int, optional
        Excel sheet name, or position counted from 0 (also as text, ``"1"``); default the
        first sheet.

    Raises
    ------
    FileNotFoundError
        No file at the path, or none matching the glob.
    DataValidationError
        Empty file, header without rows, duplicated column names, a file that is not in the
        encoding given, a missing sheet, files of a glob with different columns.
    """
    if isinstance(source, pd.DataFrame):
        raw = RawTable(source.copy(), table, "DataFrame")
        _check_unique_columns([str(c) for c in raw.frame.columns], raw)
    elif isinstance(source, str | os.PathLike):
        raw = _read_paths(str(source), table, encoding=encoding, sheet=sheet)
    else:
        raise TypeError(
            f"Expected a file path or a pandas DataFrame for the {table}, "
            f"got {type(source).__name__}."
        )
    if len(raw.frame) == 0:
        columns = ", ".join(map(str, raw.frame.columns))
        raise raw.error(
            [_file_problem(f"{raw.source!r} has a header ({columns}) but no data rows")]
        )
    raw.frame.columns = [str(c).strip() for c in raw.frame.columns]
    raw.frame = raw.frame.reset_index(drop=True)
    return raw


def _read_paths(text: str, table: str, *, encoding: str | None, sheet) -> RawTable:
    if Path(text).exists() or not any(ch in text for ch in "*?["):
        paths = [text]
    else:
        paths = sorted(glob.glob(text))
        if not paths:
            raise FileNotFoundError(
                f"No {table} file matches {text!r} (working directory: {os.getcwd()})."
            )
    parts = [_read_file(Path(p), table, encoding=encoding, sheet=sheet) for p in paths]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    for part in parts[1:]:
        if list(part.frame.columns) != list(first.frame.columns):
            gone = [c for c in first.frame.columns if c not in part.frame.columns]
            extra = [c for c in part.frame.columns if c not in first.frame.columns]
            raise RawTable(first.frame, table, text, files=paths).error(
                [
                    _file_problem(
                        f"{part.source!r} has other columns than {first.source!r}"
                        + (f" (missing: {', '.join(gone)})" if gone else "")
                        + (f" (extra: {', '.join(extra)})" if extra else ""),
                        "Give every file of the pattern the same header, or load them apart",
                    )
                ]
            )
    starts = list(np.cumsum([0] + [len(p.frame) for p in parts[:-1]]))
    reading = [f"{len(paths)} files matching {text!r}: {', '.join(Path(p).name for p in paths)}"]
    if all(part.reading == first.reading for part in parts):  # said once for all files
        reading += first.reading
    else:
        for part in parts:
            reading += [f"{Path(part.source).name}: {r}" for r in part.reading]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    return RawTable(frame, table, text, files=paths, reading=reading, starts=starts)


def _read_file(path: Path, table: str, *, encoding: str | None, sheet) -> RawTable:
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(
            f"The {table} file {name!r} does not exist (working directory: {os.getcwd()})."
        )
    raw = RawTable(pd.DataFrame(), table, name, files=[name])
    if path.stat().st_size == 0:
        raise raw.error([_file_problem(f"the file {name!r} is empty")])
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        raw.frame = pd.read_parquet(path)
        _check_unique_columns([str(c) for c in raw.frame.columns], raw)
    elif suffix in _EXCEL:
        _read_excel(path, raw, sheet)
    elif suffix in _TEXT:
        _read_text(path, raw, encoding)
    else:
        raise ValueError(
            f"Cannot read {name!r}: use a .csv, .parquet or .xlsx file, or pass a DataFrame."
        )
    return raw


# --- text files ---------------------------------------------------------------------------


def _sample(path: Path) -> tuple[bytes, bool]:
    """The first bytes of a (possibly gzipped) file, and whether they are the whole file."""
    opener: Callable = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read(_SAMPLE_BYTES + 1)
    return data[:_SAMPLE_BYTES], len(data) <= _SAMPLE_BYTES


def detect_encoding(data: bytes, *, complete: bool = True) -> str:
    """``utf-8-sig`` (byte-order mark), ``utf-8``, or the more plausible of cp1250 and cp1252.

    Between the two single-byte encodings the choice goes to the one whose bytes above 127
    read as letters of its languages (``ł``, ``ą``, ``ż`` against ``³``, ``¹``, ``¿``);
    a tie (only letters common to both, such as ``é``) goes to cp1252.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)[128:]
    scores = {}
    for enc in ("cp1252", "cp1250"):
        score = 0
        for byte in np.flatnonzero(counts):
            char = bytes([byte + 128]).decode(enc, errors="replace")
            weight = 2 if char in _LETTERS[enc] else 1 if char.isalpha() else -3
            score += weight * int(counts[byte])
        scores[enc] = score
    return "cp1250" if scores["cp1250"] > scores["cp1252"] else "cp1252"


def _detect_delimiter(lines: list[str]) -> str:
    """The candidate that splits the header into most columns, the same number on every
    sampled line (quotes respected); a comma when nothing splits the header."""
    best, best_width = ",", 1
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        if not widths or widths[0] <= best_width:
            continue
        if all(w == widths[0] for w in widths) or best_width == 1:
            best, best_width = delimiter, widths[0]
    return best


def _read_text(path: Path, raw: RawTable, encoding: str | None) -> None:
    data, complete = _sample(path)
    if not data.strip():
        raise raw.error([_file_problem(f"the file {raw.source!r} is empty")])
    detected = encoding is None
    enc = detect_encoding(data, complete=complete) if detected else encoding
    try:
        codecs.lookup(enc)
    except LookupError:
        raise ValueError(
            f"Unknown encoding={enc!r}: use e.g. 'utf-8', 'cp1250', 'cp1252' or 'latin-1'."
        ) from None
    text = data.decode(enc, errors="replace")
    lines = text.splitlines()
    lines = lines if complete else lines[:-1]  # the last sampled line may be cut
    sep = "\t" if path.suffix.lower() == ".tsv" else _detect_delimiter(lines[:50])
    header = next(csv.reader(lines[:1], delimiter=sep), [])
    names = [h.lstrip("\ufeff").strip() for h in header]
    _check_unique_columns(names, raw)
    try:
        frame = _read_csv(path, sep, enc)
    except UnicodeDecodeError:
        whole = _whole(path)
        if not detected or enc != "utf-8":
            raise raw.error([_encoding_problem(whole, enc)]) from None
        # The sample was UTF-8 but a later byte is not: decide on the whole file.
        enc = detect_encoding(whole)
        frame = _read_csv(path, sep, enc)
    except EmptyDataError:
        raise raw.error([_file_problem(f"the file {raw.source!r} is empty")]) from None
    except ParserError as exc:
        raise raw.error(
            [
                _file_problem(
                    f"the file cannot be split into columns with the {_DELIMITER_NAMES[sep]} "
                    f"delimiter ({str(exc).strip()})",
                    "Check that every line has as many fields as the header (quote fields "
                    "that contain the delimiter)",
                )
            ]
        ) from None
    if frame.columns[0].startswith("\ufeff"):  # a mark left by encoding='utf-8'
        frame = frame.rename(columns={frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
    if enc == "utf-8-sig" or (header and header[0].startswith("\ufeff")):
        raw.reading.append("UTF-8 with a byte-order mark (removed from the header)")
    elif detected and enc != "utf-8":
        raw.reading.append(
            f"encoding {enc} (detected: not UTF-8); pass encoding= if letters look wrong"
        )
    elif not detected:
        raw.reading.append(f"encoding {enc} (encoding={encoding!r})")
    if sep != ",":
        raw.reading.append(f"{_DELIMITER_NAMES[sep]}-separated")
    raw.frame = frame


def _read_csv(path: Path, sep: str, encoding: str) -> pd.DataFrame:
    """Every cell as text (empty cells missing), by pyarrow's multithreaded reader (ten times
    faster than pandas' own on ten million rows); anything it refuses (a line with too many
    fields, bytes not in ``encoding``) is read again by pandas' C reader, whose error names
    the line."""
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "sep": sep}
    try:
        return pd.read_csv(path, engine="pyarrow", encoding=encoding, **options)
    except ParserError:
        return pd.read_csv(path, engine="c", encoding=encoding, **options)


def _whole(path: Path) -> bytes:
    opener: Callable = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        return handle.read()


def _encoding_problem(data: bytes, encoding: str) -> dict:
    """Where the file stops being ``encoding``: the byte and its line."""
    try:
        data.decode(encoding)
        where = ""
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f" (byte 0x{data[exc.start : exc.start + 1].hex()} on line {line:,})"
    others = [e for e in ENCODINGS if e != encoding.lower().replace("_", "-")]
    return _file_problem(
        f"the file is not in the encoding {encoding!r}{where}",
        f"Pass the file's encoding, e.g. encoding={others[0]!r} or encoding={others[-1]!r}, "
        "or leave encoding= out to have it detected",
    )


# --- Excel --------------------------------------------------------------------------------


def _read_excel(path: Path, raw: RawTable, sheet) -> None:
    with pd.ExcelFile(path) as book:
        names = [str(s) for s in book.sheet_names]
        chosen = _sheet_name(sheet, names, raw)
        header = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1, dtype=object)
        _check_unique_columns([str(c).strip() for c in header.iloc[0].dropna()], raw)
        raw.frame = pd.read_excel(
            book, sheet_name=chosen, dtype=object
        )  # keep text cells ("007") as text
        if sheet in (None, "") and len(names) > 1:
            raw.sheets = {
                s: [str(c).strip() for c in pd.read_excel(book, sheet_name=s, nrows=0).columns]
                for s in names
                if s != chosen
            }
    raw.sheet = chosen
    if len(names) > 1:
        raw.reading.append(f"sheet {chosen!r} of {len(names)} ({', '.join(names)})")


def _sheet_name(sheet, names: list[str], raw: RawTable) -> str:
    if sheet in (None, ""):
        return names[0]
    if str(sheet) in names:
        return str(sheet)
    text = str(sheet).strip()
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
        return names[int(text)]
    raise raw.error(
        [
            _file_problem(
                f"the workbook has no sheet {sheet!r}",
                f"Sheets: {', '.join(names)}. Pass sheet= with one of these names, or its "
                "position counted from 0",
            )
        ]
    )


# --- columns ------------------------------------------------------------------------------


def _check_unique_columns(names: list[str], raw: RawTable) -> None:
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(position)
    repeated = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if repeated:
        raise raw.error(
            [
                {
                    "column": name,
                    "rule": "column name appears "
                    f"{len(pos)} times in the header (columns {', '.join(map(str, pos))})",
                    "count": 0,
                    "hint": "Rename or remove the extra columns in the file, so that each "
                    "name is one column; then map it with the column parameters "
                    "(e.g. amount_col=)",
                }
                for name, pos in repeated.items()
            ]
        )
