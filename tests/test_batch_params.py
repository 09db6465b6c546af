"""Parameter validation and batch planning: everything that happens before a kernel starts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from papermill.translators import PythonTranslator
from typer.testing import CliRunner

from retention_utils.batch.cli import app
from retention_utils.batch.params import (
    NotebookParameter,
    ParameterError,
    check_value,
    declared_parameters,
    parse_value,
    split_assignment,
    validate_parameters,
)
from retention_utils.batch.plan import (
    data_source,
    plan_batch,
    plan_runs,
    read_config,
    safe_name,
)
from retention_utils.engine import backend

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
OK = FIXTURES / "ok.ipynb"
FAILS = FIXTURES / "fails.ipynb"


def param(name: str, type_name: str, default: str = '""') -> NotebookParameter:
    return NotebookParameter(name=name, type_name=type_name, default=default, help="")


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\n"
        "007,2024-01-01,10,email\n"
        "008,2024-01-02,20,web & social\n"
        "009,2024-01-03,30,email\n"
        "010,2024-01-04,40,\n"
    )
    return path


# --- declared parameters ------------------------------------------------------------------


def test_declared_parameters_reads_names_types_defaults_and_help():
    declared = declared_parameters(OK)
    assert list(declared)[:5] == ["transactions", "n_rows", "rate", "flag", "label"]
    assert declared["n_rows"] == NotebookParameter("n_rows", "int", "3", "number of rows to show")
    assert declared["rate"].type_name == "float"
    assert declared["flag"].type_name == "bool"
    assert declared["weights"].type_name == "list[any]"
    assert declared["transactions"].default_value == "demo"


def test_satisfaction_report_reads_the_transactions_from_any_sheet():
    # Its `sheet` is the survey workbook's: orders on a workbook's second sheet could not be
    # read (the message said "pass sheet=", which went to the surveys).
    notebook = Path(__file__).parents[1] / "notebooks" / "satisfaction_analysis.ipynb"
    declared = declared_parameters(notebook)
    assert declared["order_sheet"].type_name == "str"
    assert declared["order_sheet"].default_value == ""
    assert "sheet=order_sheet," in notebook.read_text()


def test_declaration_whose_comment_contains_equals_is_not_lost():
    # papermill's inspection skips `segment_col: str = ""  # ... ("" = all customers)`.
    declared = declared_parameters(OK)
    assert declared["segment_col"].type_name == "str"
    assert declared["segment_col"].help == 'segment column ("" = all customers)'


def test_notebook_without_parameters_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Notebook not found"):
        declared_parameters(tmp_path / "missing.ipynb")


# --- parsing values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "text", "expected"),
    [
        ("str", "2011-12-09", "2011-12-09"),  # dates stay text
        ("str", "007", "007"),  # IDs keep their leading zeros
        ("str", "", ""),
        ("str", "x=1;import os", "x=1;import os"),
        ("int", "42", 42),
        ("int", "-3", -3),
        ("float", "0.05", 0.05),
        ("float", "3", 3.0),
        ("float", "1e-3", 0.001),
        ("bool", "true", True),
        ("bool", "No", False),
        ("bool", "0", False),
        ("list[any]", "1, 2.5, x", [1, 2.5, "x"]),
        ("list[any]", "[1, 2]", [1, 2]),
        ("list[int]", "1,2,3", [1, 2, 3]),
        ("list[str]", "007, 008", ["007", "008"]),
        ("list[any]", "", []),
        ("any", "007", "007"),
        ("any", "7", 7),
        ("any", "null", None),
    ],
)
def test_parse_value_follows_the_declared_type(type_name, text, expected):
    value = parse_value(param("x", type_name), text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("type_name", "text", "message"),
    [
        ("int", "1.5", "Parameter 'x' expects an int (a whole number such as 12), got '1.5'."),
        (
            "int",
            "twelve",
            "Parameter 'x' expects an int (a whole number such as 12), got 'twelve'.",
        ),
        ("float", "5%", "Parameter 'x' expects a float (a number such as 0.05), got '5%'."),
        ("float", "nan", "Parameter 'x' expects a float (a number such as 0.05), got 'nan'."),
        ("bool", "maybe", "Parameter 'x' expects a bool (true or false), got 'maybe'."),
        ("list[int]", "1,b", "Parameter 'x' expects an int (a whole number such as 12), got 'b'."),
        ("list[any]", "[[1], 2]", "Parameter 'x' expects a flat list such as [1, 2]"),
        ("dict", "{}", "Parameter 'x' is declared as dict, which the batch runner cannot pass"),
    ],
)
def test_ill_typed_values_are_refused_with_the_parameter_name(type_name, text, message):
    with pytest.raises(ParameterError) as info:
        parse_value(param("x", type_name), text)
    assert str(info.value).startswith(message)


def test_typed_values_from_yaml_are_checked():
    assert check_value(param("x", "float"), 3) == 3.0
    assert check_value(param("x", "int"), "12") == 12
    assert check_value(param("x", "list[int]"), ["1", 2]) == [1, 2]
    with pytest.raises(ParameterError, match=r"Parameter 'x' expects an int .*got True"):
        check_value(param("x", "int"), True)
    with pytest.raises(ParameterError, match=r"got null \(use \"\" for \"not set\"\)"):
        check_value(param("x", "str"), None)
    with pytest.raises(ParameterError, match=r"binary data \(YAML !!binary\) is not allowed"):
        check_value(param("x", "str"), b"abc")
    with pytest.raises(ParameterError, match="a value of type dict is not allowed"):
        check_value(param("x", "any"), {"a": 1})
    with pytest.raises(ParameterError, match="nested lists and mappings are not allowed"):
        check_value(param("x", "list[any]"), [[1]])
    with pytest.raises(ParameterError, match="expects a str, got a list"):
        check_value(param("x", "str"), ["a"])


# --- names --------------------------------------------------------------------------------


def test_papermill_alone_would_write_a_bad_name_and_bytes_into_code():
    # Why the checks below exist: papermill's translator writes names verbatim and turns
    # bytes into unescaped source text.
    assert "x=1;import os;y = 2" in PythonTranslator.codify({"x=1;import os;y": 2})
    code = PythonTranslator.codify({"x": b'"+__import__("os").getcwd()+"'})
    assert '"+__import__("os").getcwd()+"' in code


@pytest.mark.parametrize("text", ["x=1;import os", "x;import os;y=1", "1abc=2", "class=3", "=5"])
def test_assignments_need_identifier_names(text):
    name = text.partition("=")[0]
    if name == "x":
        # `x=1;import os` is the name x with the text value "1;import os": harmless text.
        assert split_assignment(text) == ("x", "1;import os")
        return
    with pytest.raises(ParameterError, match=r"is not a valid parameter name"):
        split_assignment(text)


def test_assignment_needs_an_equals_sign():
    with pytest.raises(ParameterError, match=r"expected NAME=VALUE"):
        split_assignment("observation_end")


def test_unknown_name_is_refused_and_declared_names_listed():
    declared = declared_parameters(FAILS)
    with pytest.raises(ParameterError) as info:
        validate_parameters(declared, {"obsevation_end": "2011-12-09"}, notebook="fails.ipynb")
    assert str(info.value) == (
        "Notebook 'fails.ipynb' has no parameter 'obsevation_end'. "
        "Declared parameters: transactions."
    )


# --- YAML configs -------------------------------------------------------------------------


def test_yaml_scalars_stay_text_until_typed(tmp_path):
    config = tmp_path / "runs.yaml"
    config.write_text(
        "parameters:\n  observation_end: 2011-12-09\n"
        "runs:\n  - notebook: ok.ipynb\n    parameters: {segment_value: 007, n_rows: 5}\n"
    )
    common, runs = read_config(config)
    assert common == {"observation_end": "2011-12-09"}
    assert runs[0]["parameters"] == {"segment_value": "007", "n_rows": "5"}
    planned = plan_runs(config_path=config, out=tmp_path / "out", notebook_dir=FIXTURES)
    assert planned[0].parameters["observation_end"] == "2011-12-09"
    assert planned[0].parameters["segment_value"] == "007"
    assert planned[0].parameters["n_rows"] == 5


def test_yaml_binary_value_is_refused(tmp_path):
    config = tmp_path / "runs.yaml"
    # base64 of: "+__import__("os").system("id")+"
    config.write_text(
        "runs:\n  - notebook: ok.ipynb\n    parameters:\n"
        "      label: !!binary IitfX2ltcG9ydF9fKCJvcyIpLnN5c3RlbSgiaWQiKSsi\n"
    )
    with pytest.raises(ParameterError) as info:
        plan_runs(config_path=config, out=tmp_path / "out", notebook_dir=FIXTURES)
    assert str(info.value) == (
        "Parameter 'label': a value of type binary data (YAML !!binary) is not allowed; "
        "parameters are str, int, float, bool, null or lists of them."
    )


def test_yaml_python_tags_and_bad_structure_are_refused(tmp_path):
    config = tmp_path / "runs.yaml"
    config.write_text(
        "runs:\n  - notebook: ok.ipynb\n    parameters: {label: !!python/name:os.system }\n"
    )
    with pytest.raises(ParameterError, match="is not valid YAML"):
        read_config(config)
    config.write_text("run:\n  - notebook: ok.ipynb\n")
    with pytest.raises(ParameterError, match=r"unknown keys \['run'\]"):
        read_config(config)
    config.write_text("runs:\n  - notebook: ok.ipynb\n    parameters: {'x;y': 1}\n")
    with pytest.raises(ParameterError, match="'x;y' is not a valid parameter name"):
        read_config(config)


def test_yaml_explicit_date_tag_is_refused(tmp_path):
    config = tmp_path / "runs.yaml"
    config.write_text(
        "runs:\n  - notebook: ok.ipynb\n    parameters: {observation_end: !!timestamp 2011-12-09}\n"
    )
    with pytest.raises(ParameterError, match="a value of type date is not allowed"):
        plan_runs(config_path=config, out=tmp_path, notebook_dir=FIXTURES)


# --- planning -----------------------------------------------------------------------------


def test_plan_injects_flags_only_where_declared_and_makes_paths_absolute(
    tmp_path, orders_csv, monkeypatch
):
    monkeypatch.chdir(orders_csv.parent)
    runs = plan_runs(
        [str(OK), str(FAILS)],
        out=tmp_path / "out",
        data={"transactions": "orders.csv", "surveys": "demo"},
        assignments=["n_rows=2", "observation_end=2011-12-09"],
    )
    ok, fails = runs
    assert ok.name == "ok" and fails.name == "fails"
    assert ok.parameters == {
        "transactions": str(orders_csv.resolve()),
        "n_rows": 2,
        "observation_end": "2011-12-09",
        "output_dir": str((tmp_path / "out" / "ok_files").resolve()),
    }
    assert fails.parameters == {"transactions": str(orders_csv.resolve())}
    rows = {row.name: row for row in ok.rows}
    assert rows["n_rows"].text == "2" and rows["n_rows"].set_by_run
    assert rows["label"].text == "all" and not rows["label"].set_by_run
    assert rows["output_dir"].text == "ok_files/"


def test_notebooks_come_from_the_command_line_or_the_config(tmp_path):
    config = tmp_path / "runs.yaml"
    config.write_text("runs:\n  - notebook: ok.ipynb\n")
    with pytest.raises(ParameterError) as info:
        plan_runs([str(OK)], config_path=config, out=tmp_path)
    assert str(info.value) == "Give notebooks either on the command line or in --config, not both."
    with pytest.raises(ParameterError, match=r"Notebook 'nope' not found: give a path"):
        plan_runs(["nope"], out=tmp_path)


def test_parameter_declared_by_no_notebook_is_an_error(tmp_path):
    with pytest.raises(ParameterError) as info:
        plan_runs([str(FAILS)], out=tmp_path, assignments=["n_rows=2"])
    assert str(info.value) == (
        "No notebook of this batch has a parameter 'n_rows'. Declared parameters: transactions."
    )


def test_ill_typed_cli_value_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match=r"Parameter 'n_rows' expects an int"):
        plan_runs([str(OK)], out=tmp_path, assignments=["n_rows=many"])


def test_missing_data_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"--data: file not found: 'nope.csv'"):
        plan_runs([str(OK)], out=tmp_path, data={"transactions": "nope.csv"})
    assert data_source("cdnow", flag="--data") == "cdnow"
    assert data_source("", flag="--data") == ""


def test_segment_fan_out_runs_all_customers_and_each_value(tmp_path, orders_csv):
    runs = plan_runs(
        [str(OK), str(FAILS)],
        out=tmp_path / "out",
        data={"transactions": str(orders_csv)},
        segment_by="channel",
        min_customers=1,
    )
    assert [r.name for r in runs] == ["ok", "ok__channel-email", "ok__channel-web-social", "fails"]
    email = runs[1]
    assert email.parameters["segment_col"] == "channel"
    assert email.parameters["segment_value"] == "email"
    assert email.parameters["output_dir"].endswith("ok__channel-email_files")
    assert email.title == "Fixture report (channel: email)"
    assert runs[2].parameters["segment_value"] == "web & social"
    assert "segment_col" not in runs[0].parameters


def test_segment_values_are_read_as_text(tmp_path):
    csv = tmp_path / "stores.csv"
    csv.write_text(
        "customer_id,order_date,amount,store\n"
        "a,2024-01-01,1,007\nb,2024-01-01,1,7\nc,2024-01-01,1,007\nd,2024-01-01,1,\n"
    )
    runs = plan_runs(
        [str(OK)], out=tmp_path / "out", data={"transactions": str(csv)}, segment_by="store",
        min_customers=1,
    )  # fmt: skip
    assert [r.segment for r in runs] == [None, ("store", "007"), ("store", "7")]


def test_segment_by_needs_a_notebook_with_segment_parameters(tmp_path, orders_csv):
    with pytest.raises(ParameterError) as info:
        plan_runs(
            [str(FAILS)], out=tmp_path, data={"transactions": str(orders_csv)}, segment_by="channel"
        )
    assert str(info.value) == (
        "--segment-by: no notebook of this batch declares the parameters segment_col and "
        "segment_value."
    )


def test_segment_column_must_exist(tmp_path, orders_csv):
    with pytest.raises(ParameterError) as info:
        plan_runs(
            [str(OK)], out=tmp_path, data={"transactions": str(orders_csv)}, segment_by="region"
        )
    assert str(info.value) == (
        "--segment-by: column 'region' not in orders.csv; columns: customer_id, order_date, "
        "amount, order_id, channel."
    )


def test_config_run_names_come_from_their_parameters(tmp_path):
    config = tmp_path / "runs.yaml"
    config.write_text(
        "runs:\n"
        "  - notebook: ok.ipynb\n    parameters: {n_rows: 1}\n"
        "  - notebook: ok.ipynb\n    parameters: {n_rows: 2, label: A/B test}\n"
        "  - notebook: ok.ipynb\n    name: Mein Bericht (ÜK)\n"
        "  - notebook: ok.ipynb\n"
        "  - notebook: ok.ipynb\n"
    )
    runs = plan_runs(config_path=config, out=tmp_path, notebook_dir=FIXTURES)
    assert [r.name for r in runs] == [
        "ok__n_rows-1",
        "ok__n_rows-2__label-A-B-test",
        "Mein-Bericht-UK",
        "ok",
        "ok__2",
    ]


def test_safe_name():
    assert safe_name("email") == "email"
    assert safe_name("E-Mail & Co/ÜK") == "E-Mail-Co-UK"
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("<script>") == "script"
    assert safe_name("***") == "blank"
    assert len(safe_name("x" * 500)) == 60


# --- the command line refuses before any kernel starts ------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "x;import os;y=1"], "'x;import os;y' is not a valid parameter name"),
        (["-p", "no_such_parameter=1"], "No notebook of this batch has a parameter"),
        (["-p", "n_rows=1.5"], "Parameter 'n_rows' expects an int"),
        (["-p", "flag=perhaps"], "Parameter 'flag' expects a bool"),
        (["-p", "rate=high"], "Parameter 'rate' expects a float"),
    ],
)
def test_cli_rejects_bad_parameters_with_exit_code_2(tmp_path, args, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(OK), "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()  # nothing ran, nothing was written


def test_cli_params_lists_declared_parameters():
    result = CliRunner().invoke(app, ["params", str(OK)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Fixture report (ok.ipynb)"
    assert any(line.split()[:4] == ["n_rows", "int", "default", "3"] for line in lines)
    assert "number of rows to show" in result.output


def test_summary_parameters_are_json_types(tmp_path):
    runs = plan_runs([str(OK)], out=tmp_path, assignments=["weights=[1, 2.5]", "flag=false"])
    encoded = json.loads(json.dumps(runs[0].parameters))
    assert encoded["weights"] == [1, 2.5] and encoded["flag"] is False


def test_default_pack_on_own_transactions_leaves_out_satisfaction_without_surveys(tmp_path):
    notices: list[str] = []
    runs = plan_runs(out=tmp_path, data={"transactions": "cdnow"}, notices=notices)
    assert [run.name for run in runs] == ["cohort", "clv"]
    assert len(notices) == 1
    assert "satisfaction report needs survey answers" in notices[0]
    assert "--surveys PATH" in notices[0]


def test_satisfaction_asked_for_on_own_transactions_without_surveys_is_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"needs survey answers .* --surveys PATH"):
        plan_runs(["satisfaction"], out=tmp_path, data={"transactions": "cdnow"})


def test_own_transactions_with_surveys_run_the_whole_pack(tmp_path):
    from retention_utils import config

    notices: list[str] = []
    runs = plan_runs(
        out=tmp_path,
        data={"transactions": "cdnow", "surveys": str(config.SAMPLE_SURVEYS)},
        notices=notices,
    )
    assert [run.name for run in runs] == ["cohort", "clv", "satisfaction"]
    assert notices == []
    assert plan_runs(out=tmp_path)[-1].name == "satisfaction"  # the demo pack as before


def test_segments_below_min_customers_are_skipped_with_the_reason(tmp_path, orders_csv):
    plan = plan_batch(
        [str(OK)],
        out=tmp_path / "out",
        data={"transactions": str(orders_csv)},
        segment_by="channel",
        min_customers=2,
    )
    assert [r.name for r in plan.runs] == ["ok", "ok__channel-email"]
    email = plan.runs[1]
    assert email.parameters["transactions"] == str(
        (tmp_path / "out").resolve() / "segment_data" / "source_1" / "segment_001.parquet"
    )
    assert email.source == str(orders_csv)
    assert [(s["segment"], s["customers"], s["reason"]) for s in plan.skipped_segments()] == [
        ("web & social", 1, "1 customer, fewer than the minimum of 2 for a report of its own."),
        (
            None,
            1,
            "1 customer without a channel value (missing, blank or a placeholder such as "
            "'Unspecified'); they count in the all-customers report only.",
        ),
    ]
    assert not (tmp_path / "out").exists()  # planning writes nothing


def test_pack_segment_reports_read_their_split_file_with_canonical_columns(tmp_path):
    csv = tmp_path / "shop.csv"
    csv.write_text(
        "Kunde,Datum,Betrag,Land\n"
        + "".join(f"k{i},2024-01-{1 + i:02d},{i + 1},DE\n" for i in range(3))
        + "k9,2024-02-01,5,FR\n"
    )
    plan = plan_batch(
        ["clv"],
        out=tmp_path / "out",
        data={"transactions": str(csv)},
        assignments=["customer_col=Kunde", "date_col=Datum", "amount_col=Betrag"],
        segment_by="Land",
        min_customers=3,
    )
    whole, de = plan.runs
    assert whole.parameters["customer_col"] == "Kunde"
    assert de.segment == ("Land", "DE")
    assert {k: de.parameters[k] for k in ("customer_col", "date_col", "amount_col")} == {
        "customer_col": "customer_id",
        "date_col": "order_date",
        "amount_col": "amount",
    }
    assert de.parameters["transactions"].endswith("segment_data/source_1/segment_001.parquet")
    assert plan.inputs[1] == csv


def test_a_segment_with_no_row_left_after_loading_is_listed_with_the_cause(tmp_path):
    orders = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "customer_id": ["a", "b", None, None],
            "order_date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "Country": ["DE", "DE", "Hong Kong", "Hong Kong"],
        }
    ).to_parquet(orders)
    plan = plan_batch(
        [str(OK)],
        out=tmp_path / "out",
        data={"transactions": str(orders)},
        segment_by="Country",
        min_customers=1,
    )
    assert [r.name for r in plan.runs] == ["ok", "ok__Country-DE"]
    assert plan.skipped_segments() == [
        {
            "segment": "Hong Kong",
            "customers": 0,
            "rows": 2,
            "reason": "none of its 2 rows is left after loading (e.g. no customer ID); see the "
            "data quality of the all-customers report.",
            "source": str(orders),
        }
    ]


# --- where the engine runs: --engine, --spark-master, --spark-remote ----------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--spark-master", "local[2]"],
            "--spark-master is for the Spark engine: add --engine spark (or -p engine=spark).",
        ),
        (
            ["-p", "spark_remote=sc://host:15002"],
            "--spark-remote is for the Spark engine: add --engine spark (or -p engine=spark).",
        ),
        (["--engine", "polars"], "--engine must be one of duckdb, spark, got 'polars'."),
        (
            ["--engine", "spark", "--spark-master", "local[2]", "--spark-remote", "sc://h:15002"],
            "Give --spark-master or --spark-remote, not both.",
        ),
        (
            ["--engine", "spark", "--spark-master", "local[two]"],
            "--engine spark: spark_master 'local[two]' is not a Spark master: use local[N] (N "
            "cores of this machine), spark://host:7077, k8s://..., or yarn.",
        ),
        (
            ["--engine", "spark", "--spark-remote", "host:15002"],
            "--engine spark: spark_remote 'host:15002' is not a Spark Connect address: use "
            "sc://host:15002.",
        ),
        (
            ["--engine", "spark", "--segment-by", "channel"],
            "--segment-by splits the data on this machine, which --engine spark is meant to "
            "avoid: run one report per segment with -p segment_col=COLUMN -p "
            "segment_value=VALUE (or list them in a --config file).",
        ),
    ],
)
def test_cli_refuses_engine_options_that_cannot_work_before_any_kernel_starts(
    tmp_path, args, message
):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "cohort", "clv", "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not out.exists()


def test_cli_says_how_to_install_spark_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "pyspark", None)
    result = CliRunner().invoke(app, ["run", "cohort", "--out", str(tmp_path), "--engine", "spark"])
    assert result.exit_code == 2
    assert (
        "--engine spark: Spark is not installed: run `make setup-spark` (or pip install -e "
        "'.[spark]')." in " ".join(result.output.split())
    )


def test_engine_options_need_a_notebook_that_declares_them(tmp_path):
    with pytest.raises(ParameterError, match="No notebook of this batch has a parameter 'engine'"):
        plan_runs([str(OK)], out=tmp_path, engine_options={"engine": "duckdb"})


def test_engine_options_reach_every_notebook_and_spark_reads_catalog_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "check_spark", lambda **_: None)  # installed or not
    options = {"engine": "spark", "spark_master": "local[2]", "spark_remote": None}
    runs = plan_runs(
        ["cohort", "clv"],
        out=tmp_path,
        data={"transactions": "sales.orders"},
        engine_options=options,
    )
    for run in runs:
        assert run.parameters["engine"] == "spark"
        assert run.parameters["spark_master"] == "local[2]"
        assert run.parameters["transactions"] == "sales.orders"  # a table of the catalog
        assert "spark_remote" not in run.parameters
    # The same name on DuckDB is a missing file; -p engine=spark works like the flag.
    with pytest.raises(ParameterError, match="--data: file not found: 'sales.orders'"):
        plan_runs(["clv"], out=tmp_path, data={"transactions": "sales.orders"})
    (run,) = plan_runs(
        ["clv"],
        out=tmp_path,
        data={"transactions": "s3://shop/orders/"},
        assignments=["engine=spark"],
    )
    assert run.parameters["transactions"] == "s3://shop/orders/"
