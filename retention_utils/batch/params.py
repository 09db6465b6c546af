"""Notebook parameters: what a notebook declares, and checking values before any kernel starts.

papermill itself is permissive: it only warns about a name the notebook does not declare,
writes every name verbatim into the injected code cell, and turns a value it does not know
(such as the bytes of a YAML ``!!binary`` scalar) into source text without escaping it. The
batch runner therefore checks everything here first:

* a name must be a Python identifier (not a keyword) that the notebook's ``parameters`` cell
  declares;
* a value is parsed against the declared type (``str``, ``int``, ``float``, ``bool``,
  ``list``/``list[...]``); text given for a ``str`` parameter stays text, so IDs such as
  ``007`` and dates such as ``2011-12-09`` are never turned into numbers or dates;
* after parsing, only ``str``, ``int``, ``float``, ``bool``, ``None`` and lists of those are
  accepted, which are exactly the values papermill's Python translator escapes correctly.

Every problem raises :class:`ParameterError` with a message naming the parameter.
"""

from __future__ import annotations

import ast
import io
import keyword
import logging
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml
from papermill import inspect_notebook

Scalar = str | int | float | bool | None
Value = Scalar | list[Scalar]

_SCALAR_TYPES = ("str", "int", "float", "bool")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PLAIN_INT = re.compile(r"[+-]?(0|[1-9]\d*)")  # no leading zeros: "007" stays text
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL = {"none", "null", "~"}


class ParameterError(ValueError):
    """A notebook parameter that the batch runner refuses (unknown name, wrong type, ...)."""


@dataclass(frozen=True)
class NotebookParameter:
    """One parameter declared in a notebook's ``parameters`` cell.

    Attributes
    ----------
    name : str
        Variable name.
    type_name : str
        Normalised declared type: ``"str"``, ``"int"``, ``"float"``, ``"bool"``,
        ``"list[<item>]"`` (item ``any`` when not given), ``"any"`` when the cell gives no
        annotation and the default is None, or the annotation as written for a type the
        runner cannot pass (e.g. ``"dict"``).
    default : str
        Source text of the default value.
    help : str
        The trailing comment of the declaration.
    """

    name: str
    type_name: str
    default: str
    help: str

    @property
    def default_value(self) -> Any:
        """The default as a Python value (None when it is not a literal)."""
        try:
            return ast.literal_eval(self.default)
        except (ValueError, SyntaxError):
            return None


# --- declared parameters ------------------------------------------------------------------


def _normalise_type(annotation: str | None, default: str) -> str:
    text = (annotation or "").replace(" ", "")
    if text in ("", "None"):
        # No annotation: the type of the default literal, or "any".
        try:
            value = ast.literal_eval(default)
        except (ValueError, SyntaxError):
            return "any"
        if isinstance(value, bool):
            return "bool"
        for kind in (int, float, str):
            if isinstance(value, kind):
                return kind.__name__
        return "list[any]" if isinstance(value, list) else "any"
    lowered = text.lower()
    if lowered in _SCALAR_TYPES:
        return lowered
    match = re.fullmatch(r"(?:list|typing\.list)(?:\[(\w+)\])?", lowered)
    if match:
        item = match.group(1) or "any"
        return f"list[{item}]"
    return text


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def _assignments(source: str) -> list[NotebookParameter]:
    """Top-level ``name[: type] = value`` statements of a cell, read with :mod:`ast`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    comments = _comments_by_line(source)
    found = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, annotation = node.target.id, ast.unparse(node.annotation)
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, annotation = node.targets[0].id, None
        else:
            continue
        default = ast.get_source_segment(source, node.value) or ""
        found.append(
            NotebookParameter(
                name=name,
                type_name=_normalise_type(annotation, default),
                default=default,
                help=comments.get(node.end_lineno or node.lineno, ""),
            )
        )
    return found


def declared_parameters(notebook: str | Path) -> dict[str, NotebookParameter]:
    """Parameters declared in a notebook's cell tagged ``parameters``, in cell order.

    Read with papermill's notebook inspection (``papermill.inspect_notebook``, the same
    reading as ``papermill --help-notebook``). papermill skips a line whose comment contains
    ``=``; such declarations are recovered by parsing the cell with :mod:`ast`.

    Parameters
    ----------
    notebook : str or Path
        Path to an ``.ipynb`` file.

    Returns
    -------
    dict[str, NotebookParameter]
        By name; empty when the notebook has no ``parameters`` cell.
    """
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"Notebook not found: {path}")
    # papermill logs a warning for each line it cannot read; those lines are recovered below.
    pm_logger = logging.getLogger("papermill")
    level = pm_logger.level
    pm_logger.setLevel(logging.ERROR)
    try:
        inspected = inspect_notebook(str(path))
    finally:
        pm_logger.setLevel(level)
    nb = nbformat.read(path, as_version=4)
    cell = next(
        (c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None
    )
    parsed = {p.name: p for p in _assignments(cell.source)} if cell is not None else {}

    declared: dict[str, NotebookParameter] = {}
    for name, info in inspected.items():
        default = info["default"]
        declared[name] = NotebookParameter(
            name=name,
            type_name=_normalise_type(info["inferred_type_name"], default),
            default=default,
            help=info["help"],
        )
    for name, param in parsed.items():
        declared.setdefault(name, param)
    order = list(parsed) + [n for n in declared if n not in parsed]
    return {name: declared[name] for name in order}


# --- parsing and checking values ----------------------------------------------------------


def check_name(name: str) -> str:
    """Return ``name`` if it can be a parameter name (a Python identifier), else raise."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(
            f"{name!r} is not a valid parameter name: names are Python identifiers such as "
            "observation_end (letters, digits and underscores, not starting with a digit)."
        )
    return name


def split_assignment(text: str) -> tuple[str, str]:
    """Split a command-line ``NAME=VALUE`` into its parts (the value may contain ``=``)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ParameterError(
            f"-p {text!r}: expected NAME=VALUE, e.g. -p observation_end=2011-12-09."
        )
    return check_name(name.strip()), value


def _describe(type_name: str) -> str:
    return {
        "int": "an int (a whole number such as 12)",
        "float": "a float (a number such as 0.05)",
        "bool": "a bool (true or false)",
        "str": "a str",
    }.get(type_name, f"a {type_name}")


def _parse_scalar(name: str, text: str, type_name: str) -> Scalar:
    stripped = text.strip()
    if type_name == "str":
        return text
    if type_name == "int":
        if _INT.fullmatch(stripped):
            return int(stripped)
    elif type_name == "float":
        if _FLOAT.fullmatch(stripped):
            return float(stripped)
    elif type_name == "bool":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
    elif type_name == "any":
        lowered = stripped.lower()
        if lowered in _NULL:
            return None
        if lowered in ("true", "false"):
            return lowered == "true"
        if _PLAIN_INT.fullmatch(stripped):
            return int(stripped)
        if _FLOAT.fullmatch(stripped) and not _INT.fullmatch(stripped):
            return float(stripped)
        return text
    else:
        raise ParameterError(
            f"Parameter {name!r} is declared as {type_name}, which the batch runner cannot "
            "pass: only str, int, float, bool and lists of them."
        )
    raise ParameterError(f"Parameter {name!r} expects {_describe(type_name)}, got {text!r}.")


def _item_type(type_name: str) -> str | None:
    match = re.fullmatch(r"list\[(\w+)\]", type_name)
    return match.group(1) if match else None


def parse_value(param: NotebookParameter, text: str) -> Value:
    """Parse command-line text for a declared parameter.

    ``str`` parameters keep the text as given (``"007"``, ``"2011-12-09"``). A list parameter
    takes ``a,b,c`` or ``[a, b, c]``; each item is parsed with the list's item type.

    Raises
    ------
    ParameterError
        When the text is not a value of the declared type.
    """
    item = _item_type(param.type_name)
    if item is None:
        return check_value(param, _parse_scalar(param.name, text, param.type_name))
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = yaml.load(stripped, Loader=_TextLoader)
        except yaml.YAMLError as exc:
            raise ParameterError(
                f"Parameter {param.name!r} expects a list such as [1, 2] or 1,2; got {text!r}."
            ) from exc
        if not isinstance(items, list) or any(isinstance(v, list | dict) for v in items):
            raise ParameterError(
                f"Parameter {param.name!r} expects a flat list such as [1, 2]; got {text!r}."
            )
    else:
        items = [part.strip() for part in stripped.split(",")] if stripped else []
    return [
        item_value
        if not isinstance(item_value, str)
        else _parse_scalar(param.name, item_value, item)
        for item_value in items
    ]


def _type_label(value: Any) -> str:
    if isinstance(value, bytes):
        return "binary data (YAML !!binary)"
    return type(value).__name__


def _check_scalar(name: str, value: Any, type_name: str) -> Scalar:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ParameterError(
            f"Parameter {name!r}: a value of type {_type_label(value)} is not allowed; "
            "parameters are str, int, float, bool, null or lists of them."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"Parameter {name!r}: {value!r} is not a finite number.")
    if type_name == "any":
        return value
    if isinstance(value, str):
        # Text (a YAML scalar or a command-line value) is parsed like a command-line value.
        return _parse_scalar(name, value, type_name)
    ok = {
        "str": False,
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }.get(type_name)
    if ok is None:
        raise ParameterError(
            f"Parameter {name!r} is declared as {type_name}, which the batch runner cannot "
            "pass: only str, int, float, bool and lists of them."
        )
    if not ok:
        shown = "null" if value is None else repr(value)
        hint = ' (use "" for "not set")' if value is None and type_name == "str" else ""
        raise ParameterError(
            f"Parameter {name!r} expects {_describe(type_name)}, got {shown}{hint}."
        )
    return float(value) if type_name == "float" else value


def check_value(param: NotebookParameter, value: Any) -> Value:
    """Check an already-typed value (e.g. from a YAML config) against the declared type.

    Strings are parsed as on the command line; numbers, booleans and null must match the
    declared type (an int is accepted for a float). Bytes, dates, mappings and nested lists
    are refused.

    Raises
    ------
    ParameterError
        Naming the parameter and what was expected.
    """
    item = _item_type(param.type_name)
    if isinstance(value, list):
        if item is None and param.type_name != "any":
            raise ParameterError(
                f"Parameter {param.name!r} expects {_describe(param.type_name)}, got a list."
            )
        out = []
        for element in value:
            if isinstance(element, list | dict | tuple):
                raise ParameterError(
                    f"Parameter {param.name!r}: nested lists and mappings are not allowed."
                )
            out.append(_check_scalar(param.name, element, item or "any"))
        return out
    if item is not None:
        if isinstance(value, str):
            return parse_value(param, value)
        raise ParameterError(f"Parameter {param.name!r} expects a list, got {value!r}.")
    return _check_scalar(param.name, value, param.type_name)


def validate_parameters(
    declared: dict[str, NotebookParameter],
    values: dict[str, Any],
    *,
    notebook: str,
) -> dict[str, Value]:
    """Check names and values for one notebook; return the values to inject.

    Parameters
    ----------
    declared : dict
        From :func:`declared_parameters`.
    values : dict
        Name -> value; a str value is parsed against the declared type.
    notebook : str
        Name used in messages.

    Raises
    ------
    ParameterError
        For a name that is not an identifier, a name the notebook does not declare (the
        message lists the declared names), or an ill-typed value.
    """
    checked: dict[str, Value] = {}
    for name, value in values.items():
        check_name(name)
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ParameterError(
                f"Notebook {notebook!r} has no parameter {name!r}. Declared parameters: {known}."
            )
        checked[name] = check_value(declared[name], value)
    return checked


# --- YAML run configs ---------------------------------------------------------------------


class _TextLoader(yaml.SafeLoader):
    """SafeLoader that resolves no plain scalar to a number, date or bool: they stay text.

    Only ``null``/``~``/empty become None. Values are then parsed against the notebook's
    declared types, exactly like command-line values, so ``007`` and ``2011-12-09`` given for
    a ``str`` parameter arrive unchanged. Explicit tags (``!!int``, ``!!binary``...) are
    still constructed, and the result is checked by :func:`check_value`.
    """


_TextLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text(path: str | Path) -> Any:
    """Read a YAML file with :class:`_TextLoader`; raise :class:`ParameterError` if invalid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"Cannot read the runs config {path}: {exc.strerror}.") from exc
    try:
        return yaml.load(text, Loader=_TextLoader)
    except yaml.YAMLError as exc:
        raise ParameterError(f"The runs config {path} is not valid YAML: {exc}") from exc
