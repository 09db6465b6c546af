"""Real-world files (SPEC sections 3 and 6): encodings, European numbers, currencies, sheets,
duplicated headers, float IDs, globs, and the engine's input types."""

from __future__ import annotations

import importlib.util
import json

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest

from retention_utils import config, engine, io, kpis
from retention_utils.batch.params import declared_parameters
from retention_utils.io import DataValidationError
from retention_utils.reading import detect_encoding
from retention_utils.record import read_headlines


def write_bytes(tmp_path, data: bytes, name="tx.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write(tmp_path, text: str, name="tx.csv", encoding="utf-8"):
    return write_bytes(tmp_path, text.encode(encoding), name)


def message_lines(err) -> list[str]:
    return str(err.value).split("\n")


# --- encodings ----------------------------------------------------------------------------


def test_latin1_file_is_detected_and_read(tmp_path):
    text = "customer_id;order_date;amount;city\nc1;2024-01-01;10;Crème\nc2;2024-01-02;5;Zürich\n"
    path = write(tmp_path, text, encoding="latin-1")
    out = io.load_transactions(path)
    assert out["city"].tolist() == ["Crème", "Zürich"]
    assert out["amount"].tolist() == [10.0, 5.0]
    assert out.attrs["quality"]["reading"] == [
        "encoding cp1252 (detected: not UTF-8); pass encoding= if letters look wrong",
        "semicolon-separated",
    ]


def test_cp1250_file_is_detected_and_read(tmp_path):
    cities = ["Łódź", "Gdańsk", "Częstochowa", "Świnoujście", "Żyrardów", "Ćmielów", "Dąbrowa"]
    rows = "".join(f"c{i},2024-01-0{i + 1},1,{c}\n" for i, c in enumerate(cities))
    path = write(tmp_path, "customer_id,order_date,amount,miasto\n" + rows, encoding="cp1250")
    out = io.load_transactions(path)
    assert out["miasto"].tolist() == cities
    assert out.attrs["quality"]["reading"][0].startswith("encoding cp1250 (detected")


def test_encoding_detection_prefers_the_letters_of_each_code_page():
    assert detect_encoding("zł, żółć".encode("cp1250")) == "cp1250"
    assert detect_encoding("crème brûlée, façade".encode("cp1252")) == "cp1252"
    assert detect_encoding("zł".encode()) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfid") == "utf-8-sig"
    # A UTF-8 character cut by the end of the sample is not a decoding error.
    assert detect_encoding("aé".encode()[:-1], complete=False) == "utf-8"


def test_byte_order_mark_never_reaches_a_column_name(tmp_path):
    text = "\ufeffcustomer_id,order_date,amount\nc1,2024-01-01,10\n"
    for encoding in (None, "utf-8"):
        out = io.load_transactions(write(tmp_path, text), encoding=encoding)
        assert out["customer_id"].tolist() == ["c1"]
        assert out.attrs["quality"]["reading"] == [
            "UTF-8 with a byte-order mark (removed from the header)"
        ]


def test_wrong_encoding_given_names_the_byte_and_the_parameter(tmp_path):
    path = write(tmp_path, "customer_id,order_date,amount\nŁ1,2024-01-01,1\n", encoding="cp1250")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path, encoding="utf-8")
    assert message_lines(err) == [
        f"1 problem in the transactions file '{path}':",
        "- column '(file)': the file is not in the encoding 'utf-8' (byte 0xa3 on line 2). "
        "Pass the file's encoding, e.g. encoding='cp1250' or encoding='cp1252', or leave "
        "encoding= out to have it detected",
    ]


def test_non_utf8_byte_after_the_sample_is_still_detected(tmp_path, monkeypatch):
    monkeypatch.setattr("retention_utils.reading._SAMPLE_BYTES", 64)
    rows = "".join(f"c{i},2024-01-01,1,plain\n" for i in range(10)) + "c99,2024-01-01,1,Łódź\n"
    path = write(tmp_path, "customer_id,order_date,amount,city\n" + rows, encoding="cp1250")
    out = io.load_transactions(path)
    assert out["city"].iloc[-1] == "Łódź"


@pytest.mark.parametrize(("sep", "label"), [("\t", "tab"), ("|", "pipe"), (";", "semicolon")])
def test_delimiter_detected(tmp_path, sep, label):
    text = sep.join(["customer_id", "order_date", "amount"]) + "\n"
    text += sep.join(["c1", "2024-01-01", '"1,5"' if sep != "," else "1"]) + "\n"
    out = io.load_transactions(write(tmp_path, text), decimal=",")
    assert out["amount"].tolist() == [1.5]
    assert f"{label}-separated" in out.attrs["quality"]["reading"]


# --- European numbers and currencies ------------------------------------------------------

EURO = "customer_id;order_date;amount\n"


def test_polish_amounts_with_decimal_comma(tmp_path):
    text = EURO + (
        "c1;2024-01-01;1 234,50 zł\n"
        "c1;2024-01-02;1\u00a0000,00\u00a0zł\n"  # no-break spaces (Excel, pl-PL)
        "c2;2024-01-03;2\u202f345,10 zł\n"  # narrow no-break space (fr-FR style)
        "c2;2024-01-04;-12,05 zł\n"
        "c3;2024-01-05;7 PLN\n"
    )
    out = io.load_transactions(write(tmp_path, text), decimal=",")
    assert out["amount"].tolist() == [1234.5, 1000.0, 2345.1, -12.05, 7.0]
    corrections = out.attrs["quality"]["corrections"]
    assert "amount: 5 amounts read with a decimal comma (decimal=',')" in corrections
    assert "amount: currency marks (PLN, zł) removed from 5 amounts" in corrections


def test_euro_amounts_with_dot_thousands(tmp_path):
    text = EURO + "c1;2024-01-01;€1.234,50\nc2;2024-01-02;EUR 3,5\nc3;2024-01-03;12,50 €\n"
    out = io.load_transactions(write(tmp_path, text), decimal=",", thousands=".")
    assert out["amount"].tolist() == [1234.5, 3.5, 12.5]
    assert (
        "amount: currency marks (EUR, €) removed from 3 amounts"
        in (out.attrs["quality"]["corrections"])
    )


def test_thousands_space_with_decimal_point(tmp_path):
    text = EURO + "c1;2024-01-01;1 234.50\nc1;2024-01-02;$2.5\n"
    out = io.load_transactions(write(tmp_path, text), thousands=" ")
    assert out["amount"].tolist() == [1234.5, 2.5]


def test_european_amounts_without_decimal_name_the_parameter(tmp_path):
    path = write(
        tmp_path, EURO + "c1;2024-01-01;12,50\nc2;2024-01-02;3\nc3;2024-01-03;1 234,50 zł\n"
    )
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path)
    assert message_lines(err) == [
        f"1 problem in the transactions file '{path}':",
        "- column 'amount': values that look like European numbers (decimal comma) (2 rows); "
        "e.g. '12,50' (row 1), '1 234,50 zł' (row 3). Pass decimal=',' to read numbers such as "
        "1 234,50 or 1.234,50 (with thousands=' ' or thousands='.' for the thousands separator)",
    ]
    out = io.load_transactions(path, decimal=",")
    assert out["amount"].tolist() == [12.5, 3.0, 1234.5]


def test_decimal_comma_refuses_point_numbers_it_cannot_read(tmp_path):
    path = write(tmp_path, EURO + "c1;2024-01-01;1,234.50\nc2;2024-01-02;3,5\n")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path, decimal=",")
    (entry,) = err.value.problems
    assert (entry["rule"], entry["examples"], entry["rows"]) == (
        "values that are not amounts",
        ["1,234.50"],
        [1],
    )
    assert entry["hint"].startswith("With decimal=',' amounts are written like 1 234,50")


def test_number_format_options_are_checked():
    with pytest.raises(ValueError, match="decimal must be '.' or ',', not ';'"):
        io.load_transactions(pd.DataFrame(), decimal=";")
    with pytest.raises(ValueError, match="differ from decimal"):
        io.load_transactions(pd.DataFrame(), decimal=",", thousands=",")


def test_two_currencies_in_one_column_are_an_error_with_examples_of_each(tmp_path):
    text = "customer_id,order_date,amount\n" + "".join(
        f"c{i},2024-01-0{i},{v}\n" for i, v in enumerate(["€10", "€12", "$10", "CHF 10", "€3"], 1)
    )
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path)
    assert message_lines(err) == [
        f"1 problem in the transactions file '{path}':",
        "- column 'amount': mixes 3 currencies: EUR on 3 rows, USD on 1 row, CHF on 1 row "
        "(5 rows); e.g. '€10' (row 1), '€12' (row 2), '$10' (row 3), 'CHF 10' (row 4), '€3' "
        "(row 5). Amounts in different currencies cannot be added up: convert them to one "
        "currency before loading, or load each currency's rows separately",
    ]


def test_symbol_and_code_of_one_currency_are_one_currency(tmp_path):
    text = EURO + "c1;2024-01-01;10 kr\nc2;2024-01-02;5 SEK\nc3;2024-01-03;2\n"
    out = io.load_transactions(write(tmp_path, text))
    assert out["amount"].tolist() == [10.0, 5.0, 2.0]
    assert (
        "amount: currency marks (SEK, kr) removed from 2 amounts"
        in (out.attrs["quality"]["corrections"])
    )


def test_numeric_amount_columns_take_the_fast_path_unchanged():
    frame = pd.DataFrame(
        {"customer_id": ["a", "b"], "order_date": ["2024-01-01"] * 2, "amount": [1.25, -2.0]}
    )
    out = io.load_transactions(frame, decimal=",")
    assert out["amount"].tolist() == [1.25, -2.0]


# --- Excel sheets, duplicated headers, IDs ------------------------------------------------


def orders_frame():
    return pd.DataFrame(
        {
            "customer_id": ["007", "008"],
            "order_date": ["2024-01-01", "2024-01-02"],
            "amount": [1.5, 2.0],
        }
    )


def test_data_on_the_second_sheet_is_named_in_the_message(tmp_path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"note": ["exported 2024-12-31"]}).to_excel(
            book, sheet_name="Info", index=False
        )
        orders_frame().to_excel(book, sheet_name="Orders", index=False)
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path)
    lines = message_lines(err)
    # One problem, said once (it was repeated for each of the three columns).
    assert lines == [
        f"1 problem in the transactions file '{path}', sheet 'Info':",
        "- column '(file)': columns customer_id, order_date, amount not on this sheet. "
        "Sheet 'Orders' of the workbook has them: pass sheet='Orders'",
    ]
    for sheet in ("Orders", 1, "1"):
        out = io.load_transactions(path, sheet=sheet)
        assert out["customer_id"].tolist() == ["007", "008"]
        assert out.attrs["quality"]["reading"] == ["sheet 'Orders' of 2 (Info, Orders)"]
    with pytest.raises(DataValidationError, match=r"the workbook has no sheet 'Order'\. Sheets"):
        io.load_transactions(path, sheet="Order")


def test_duplicated_column_names_are_an_error(tmp_path):
    path = write(tmp_path, "customer_id,order_date,amount,amount\nc1,2024-01-01,1,2\n")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path)
    assert message_lines(err) == [
        f"1 problem in the transactions file '{path}':",
        "- column 'amount': column name appears 2 times in the header (columns 3, 4). Rename "
        "or remove the extra columns in the file, so that each name is one column; then map it "
        "with the column parameters (e.g. amount_col=)",
    ]
    book = tmp_path / "dup.xlsx"
    pd.DataFrame([["c1", "2024-01-01", 1, 2]]).to_excel(
        book, index=False, header=["customer_id", "order_date", "amount", "amount"]
    )
    with pytest.raises(DataValidationError, match="column name appears 2 times"):
        io.load_transactions(book)
    frame = pd.DataFrame([["c1", "2024-01-01", 1, 2]], columns=["customer_id", "d", "a", "a"])
    with pytest.raises(DataValidationError, match="'a': column name appears 2 times"):
        io.load_transactions(frame)


def test_float_id_too_large_to_be_exact_is_an_error_naming_the_column(tmp_path):
    frame = orders_frame().assign(customer_id=[1e20, 12.0])
    frame.to_parquet(tmp_path / "tx.parquet")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(tmp_path / "tx.parquet")
    assert message_lines(err) == [
        f"1 problem in the transactions file '{tmp_path / 'tx.parquet'}':",
        "- column 'customer_id': IDs stored as floats too large to be written exactly as text "
        "(digits beyond the 16th are lost) (1 row); e.g. 1e+20 (row 1). Export customer_id as "
        "text (quote it in the CSV, or format the spreadsheet column as Text), so that every "
        "digit is kept",
    ]
    exact = io.load_transactions(frame.assign(customer_id=[2.0**53 - 1, 12.0]))
    assert exact["customer_id"].tolist() == ["9007199254740991", "12"]


def test_ids_trimmed_of_spaces_and_counted(tmp_path):
    path = write(tmp_path, "customer_id,order_date,amount\n c1 ,2024-01-01,1\nc1,2024-01-02,1\n")
    out = io.load_transactions(path)
    assert out["customer_id"].tolist() == ["c1", "c1"]
    assert "customer_id: 1 IDs trimmed of surrounding spaces" in out.attrs["quality"]["corrections"]
    assert out.attrs["quality"]["customers"] == 1


# --- globs --------------------------------------------------------------------------------


def monthly_files(tmp_path, bad: bool = False):
    for month in (1, 2, 3):
        amount = "x" if bad and month == 2 else str(month)
        text = f"customer_id,order_date,amount\nc{month},2024-0{month}-01,{amount}\nc9,2024-0{month}-02,1\n"
        write(tmp_path, text, name=f"orders_2024_0{month}.csv")
    write(tmp_path, "not,an,order\n1,2,3\n", name="other.csv")
    return str(tmp_path / "orders_2024_*.csv")


def test_glob_reads_and_stacks_every_matching_file(tmp_path):
    pattern = monthly_files(tmp_path)
    for out in (io.load_transactions(pattern), io.open_dataset(pattern)):
        assert out["amount"].tolist() == [1.0, 1.0, 2.0, 1.0, 3.0, 1.0]
        assert out.attrs["quality"]["files"] == 3
        table = io.quality_table(out)
        assert table.loc[table["check"] == "files read", "result"].tolist() == ["3"]
        assert out.attrs["quality"]["reading"][0] == (
            f"3 files matching {pattern!r}: orders_2024_01.csv, orders_2024_02.csv, "
            "orders_2024_03.csv"
        )


def test_glob_says_once_how_its_files_were_read(tmp_path):
    for year in (2024, 2025):
        text = f"klient;data;kwota\nK1;01.01.{year};1 234,50 zł\n"
        write(tmp_path, text, name=f"pl_{year}.csv", encoding="cp1250")
    write(tmp_path, 'klient,data,kwota\nK2,01.02.2025,"3,5"\n', name="pl_2026.csv")
    pattern = str(tmp_path / "pl_202[45].csv")
    options = {"customer_col": "klient", "date_col": "data", "amount_col": "kwota"}
    out = io.load_transactions(pattern, **options, decimal=",", dayfirst=True)
    assert out["amount"].tolist() == [1234.5, 1234.5]
    assert out.attrs["quality"]["reading"][1:] == [
        "encoding cp1250 (detected: not UTF-8); pass encoding= if letters look wrong",
        "semicolon-separated",
    ]
    mixed = io.load_transactions(str(tmp_path / "pl_*.csv"), **options, decimal=",", dayfirst=True)
    assert mixed["amount"].tolist() == [1234.5, 1234.5, 3.5]
    assert mixed.attrs["quality"]["reading"][1:] == [
        "pl_2024.csv: encoding cp1250 (detected: not UTF-8); pass encoding= if letters look wrong",
        "pl_2024.csv: semicolon-separated",
        "pl_2025.csv: encoding cp1250 (detected: not UTF-8); pass encoding= if letters look wrong",
        "pl_2025.csv: semicolon-separated",
    ]


def test_glob_errors_name_the_file_and_its_row(tmp_path):
    pattern = monthly_files(tmp_path, bad=True)
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(pattern)
    assert message_lines(err) == [
        f"1 problem in the transactions files {pattern!r} (3 files):",
        "- column 'amount': values that are not amounts (1 row); e.g. 'x' "
        "(row orders_2024_02.csv:1). Use plain numbers with '.' as the decimal point "
        "(e.g. 1234.50)",
    ]


def test_glob_matching_nothing_or_files_of_other_columns(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"No transactions file matches '.*nothing_\*\.csv'"
    ):
        io.open_dataset(str(tmp_path / "nothing_*.csv"))
    monthly_files(tmp_path)
    with pytest.raises(DataValidationError, match=r"'.*other\.csv' has other columns than"):
        io.load_transactions(str(tmp_path / "*.csv"))


def test_glob_path_in_surveys_and_costs(tmp_path):
    for half in (1, 2):
        write(tmp_path, f'period_start,cost\n2024-0{half}-01,"1 000,5"\n', name=f"c{half}.csv")
    out = io.load_costs(str(tmp_path / "c*.csv"), decimal=",")
    assert out["cost"].tolist() == [1000.5, 1000.5]


# --- duplicates from the notebooks and the CLI -------------------------------------------


def test_duplicates_drop_through_open_dataset_and_builtin_data(tmp_path):
    text = "customer_id,order_date,amount\nc1,2024-01-01,1\nc1,2024-01-01,1\nc2,2024-01-01,1\n"
    out = io.open_dataset(str(write(tmp_path, text)), duplicates="drop", sheet="", decimal="")
    assert len(out) == 2
    assert out.attrs["quality"]["dropped"] == {"exact duplicate row (duplicates='drop')": 1}


@pytest.mark.skipif(
    not (config.ONLINE_RETAIL.exists() or config.SHARED_ONLINE_RETAIL.exists()),
    reason="Online Retail data not available",
)
def test_online_retail_duplicates_can_be_dropped_by_name():
    out = io.open_dataset("online_retail", duplicates="drop")
    assert out.attrs["quality"]["dropped"]["exact duplicate row (duplicates='drop')"] == 5268


@pytest.mark.parametrize("notebook", ["cohort_analysis", "clv_analysis", "satisfaction_analysis"])
def test_notebooks_declare_the_reading_parameters(notebook):
    declared = declared_parameters(config.NOTEBOOK_DIR / f"{notebook}.ipynb")
    got = {name: (declared[name].type_name, declared[name].default_value) for name in declared}
    assert {k: got[k] for k in ("encoding", "decimal", "thousands", "sheet", "duplicates")} == {
        "encoding": ("str", ""),
        "decimal": ("str", ""),
        "thousands": ("str", ""),
        "sheet": ("str", ""),
        "duplicates": ("str", "keep"),
    }
    load_cells = [
        c.source
        for c in nbformat.read(config.NOTEBOOK_DIR / f"{notebook}.ipynb", 4).cells
        if "open_dataset(" in c.source or "open_report_transactions(" in c.source
    ]
    assert load_cells and all("decimal=decimal" in s for s in load_cells)
    assert all("duplicates=duplicates" in s for s in load_cells)


# --- the Polish sample export -------------------------------------------------------------

POLISH = {
    "customer_col": "klient",
    "date_col": "data",
    "amount_col": "kwota",
    "order_col": "zamówienie",
    "decimal": ",",
    "dayfirst": True,
}


def test_polish_sample_equals_the_demo_rows_in_pln():
    out = io.load_transactions(config.SAMPLE_DIR / "orders_pl.csv", **POLISH)
    demo = io.load_transactions(config.SAMPLE_TRANSACTIONS)
    demo = demo[demo["customer_id"] <= "C00080"].reset_index(drop=True)
    assert len(out) == len(demo) == 646
    assert (out["customer_id"] == "K" + demo["customer_id"].str[1:]).all()
    assert (out["order_date"] == demo["order_date"].dt.floor("min")).all()
    np.testing.assert_allclose(out["amount"], (demo["amount"] * 4.30).round(2), atol=1e-9)
    assert out["order_id"].tolist() == demo["order_id"].tolist()
    assert {"Łódź", "Częstochowa", "Świnoujście", "Żyrardów", "Ćmielów"} <= set(out["miasto"])
    assert out.attrs["quality"]["reading"] == [
        "encoding cp1250 (detected: not UTF-8); pass encoding= if letters look wrong",
        "semicolon-separated",
    ]


def test_polish_sample_is_what_its_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_orders_pl", config.DATA_DIR / "make_orders_pl.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.polish_amount(-1234.5) == "-1 234,50 zł"
    frame = module.orders_pl()
    text = frame.to_csv(sep=";", index=False, lineterminator="\r\n").encode("cp1250")
    assert text == (config.SAMPLE_DIR / "orders_pl.csv").read_bytes()


@pytest.mark.slow
def test_cohort_notebook_reads_the_polish_export_and_drops_duplicates(tmp_path):
    lines = (config.SAMPLE_DIR / "orders_pl.csv").read_bytes().split(b"\r\n")
    data = tmp_path / "orders_pl_dup.csv"
    data.write_bytes(b"\r\n".join([lines[0], lines[1], *lines[1:]]))  # row 1 twice
    out = tmp_path / "cohort.ipynb"
    pm.execute_notebook(
        str(config.NOTEBOOK_DIR / "cohort_analysis.ipynb"),
        str(out),
        parameters={"transactions": str(data), **POLISH, "duplicates": "drop"},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    nb = nbformat.read(out, as_version=4)
    outputs = json.dumps(
        [c.get("outputs", []) for c in nb.cells if c.cell_type == "code"], ensure_ascii=False
    )
    assert "exact duplicate row (duplicates='drop')" in outputs
    assert "kwota: currency marks (zł) removed from 647 amounts" in outputs
    heads = {h["name"]: h["value"] for h in read_headlines(nb)}
    assert heads["customers"] == 80
    expected = io.load_transactions(config.SAMPLE_DIR / "orders_pl.csv", **POLISH)
    assert heads["revenue"] == pytest.approx(expected["amount"].sum(), abs=1e-6)


# --- the engine's input types -------------------------------------------------------------


def test_text_dates_and_amounts_in_parquet_refused_by_the_engine(tmp_path):
    path = tmp_path / "tx.parquet"
    orders_frame().assign(amount=["1.5", "2"]).to_parquet(path)
    expected = [
        f"2 problems in the engine's input file '{path}':",
        "- column 'order_date': has type string where the engine needs a timestamp or a date. "
        "Load the data with load_transactions(...) (it parses text dates and amounts, with "
        "date_format=, dayfirst=, decimal=), or store the column with that type in the file",
        "- column 'amount': has type string where the engine needs numbers. Load the data with "
        "load_transactions(...) (it parses text dates and amounts, with date_format=, dayfirst=, "
        "decimal=), or store the column with that type in the file",
    ]
    for call in (engine.rfm_summary, kpis.kpi_table):
        with pytest.raises(DataValidationError) as err:
            call(str(path))
        assert message_lines(err) == expected


@pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")
def test_text_amounts_in_an_ibis_table_refused_by_the_engine(tmp_path):
    path = tmp_path / "tx.parquet"
    orders_frame().assign(
        order_date=pd.to_datetime(["2024-01-01", "2024-01-02"]), amount=["1.5", "2"]
    ).to_parquet(path)
    table = engine.connection().read_parquet(str(path))
    with pytest.raises(DataValidationError) as err:
        engine.rfm_summary(table)
    assert err.value.problems == [
        {
            "column": "amount",
            "rule": "has type string where the engine needs numbers",
            "count": 0,
            "hint": "Load the data with load_transactions(...) (it parses text dates and "
            "amounts, with date_format=, dayfirst=, decimal=), or store the column with that "
            "type in the file",
        }
    ]
    loaded = io.load_transactions(path)
    assert engine.rfm_summary(loaded)["monetary_value"].tolist() == [0.0, 0.0]


def test_spreadsheet_number_cells_stay_numbers_with_a_decimal_comma(tmp_path):
    path = tmp_path / "mixed.xlsx"
    frame = orders_frame().assign(amount=[1.5, "2,25 zł"])
    frame.to_excel(path, index=False)
    out = io.load_transactions(path, decimal=",")
    assert out["amount"].tolist() == [1.5, 2.25]
