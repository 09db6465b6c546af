"""Loaders and validation: every loading case of SPEC section 6."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from retention_utils import io, quality
from retention_utils.io import DataValidationError


def write(tmp_path, text, name="tx.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


TX = "customer_id,order_date,amount,order_id\n"


# --- files --------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"transactions file .*nope\.csv' does not exist"):
        io.load_transactions(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    with pytest.raises(DataValidationError, match=r"the file .*tx\.csv' is empty"):
        io.load_transactions(write(tmp_path, ""))


def test_header_only_file(tmp_path):
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(write(tmp_path, TX))
    assert "has a header (customer_id, order_date, amount, order_id) but no data rows" in str(
        err.value
    )


def test_unknown_file_type(tmp_path):
    with pytest.raises(ValueError, match=r"use a \.csv, \.parquet or \.xlsx file"):
        io.load_transactions(write(tmp_path, "x", name="tx.json"))


def test_parquet_and_excel_read_like_csv(tmp_path):
    df = pd.DataFrame(
        {
            "customer_id": ["007", "008"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [1.5, 2.0],
            "order_id": ["a", "b"],
        }
    )
    df.to_parquet(tmp_path / "tx.parquet")
    df.to_excel(tmp_path / "tx.xlsx", index=False)
    for name in ["tx.parquet", "tx.xlsx"]:
        out = io.load_transactions(tmp_path / name)
        assert out["customer_id"].tolist() == ["007", "008"]
        assert out["amount"].tolist() == [1.5, 2.0]
        assert out["order_date"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))


# --- columns ------------------------------------------------------------------------------


def test_misnamed_column_says_which_lists_found_and_names_parameter(tmp_path):
    path = write(tmp_path, "CustomerID,Date,Revenue\n1,2024-01-01,3\n")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path, amount_col="Revenue", customer_col="CustomerID")
    msg = str(err.value)
    assert "column 'order_date': column not found (mapping parameter date_col)" in msg
    assert "Columns found: CustomerID, Date, Revenue" in msg
    assert "Pass date_col='<your column name>'" in msg
    # only the date column is missing: order_col at its default may be absent
    assert len(err.value.problems) == 1


def test_close_column_name_is_suggested(tmp_path):
    path = write(tmp_path, "customer_id,order_dat,amount\nc1,2024-01-01,3\n")
    with pytest.raises(DataValidationError, match=r"did you mean date_col='order_dat'\?"):
        io.load_transactions(path)


def test_explicit_order_column_must_exist(tmp_path):
    path = write(tmp_path, "customer_id,order_date,amount\nc1,2024-01-01,3\n")
    with pytest.raises(
        DataValidationError,
        match=r"column 'Invoice': column not found \(mapping parameter order_col\)",
    ):
        io.load_transactions(path, order_col="Invoice")


# --- IDs ----------------------------------------------------------------------------------


def test_leading_zeros_kept_and_float_ids_become_whole(tmp_path):
    out = io.load_transactions(write(tmp_path, TX + "00042,2024-01-01,1,o1\n"))
    assert out["customer_id"].tolist() == ["00042"]
    floats = pd.DataFrame(
        {
            "customer_id": [12345.0, 7.0],
            "order_date": ["2024-01-01", "2024-01-02"],
            "amount": [1, 2],
        }
    )
    out = io.load_transactions(floats)
    assert out["customer_id"].tolist() == ["12345", "7"]
    assert any("read as whole numbers" in c for c in out.attrs["quality"]["corrections"])
    text_floats = io.load_transactions(write(tmp_path, TX + "12345.0,2024-01-01,1,o1\n"))
    assert text_floats["customer_id"].tolist() == ["12345"]


def test_missing_ids_dropped_and_counted(tmp_path):
    out = io.load_transactions(write(tmp_path, TX + "c1,2024-01-01,1,o1\n,2024-01-02,5,o2\n"))
    assert out["customer_id"].tolist() == ["c1"]
    q = out.attrs["quality"]
    assert q["rows_read"] == 2 and q["rows_kept"] == 1
    assert q["dropped"] == {"missing customer ID": 1}


# --- dates --------------------------------------------------------------------------------


def test_unparseable_dates_listed_with_rows(tmp_path):
    text = TX + "c1,2024-01-01,1,o1\nc2,not a date,1,o2\nc3,2024-02-30,1,o3\n"
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(write(tmp_path, text))
    (problem,) = err.value.problems
    assert problem["column"] == "order_date"
    assert problem["count"] == 2
    assert problem["examples"] == ["not a date", "2024-02-30"]
    assert problem["rows"] == [2, 3]
    assert "ISO 8601" in problem["rule"]


def test_mixed_format_dates_rejected_not_guessed(tmp_path):
    text = TX + "c1,2024-01-05,1,o1\nc2,05/01/2024,1,o2\n"
    with pytest.raises(DataValidationError, match=r"mixes date formats; pass date_format="):
        io.load_transactions(write(tmp_path, text))


def test_day_first_dates(tmp_path):
    text = TX + "c1,03/04/2024,1,o1\nc2,25/04/2024,1,o2\n"
    with pytest.raises(DataValidationError, match=r"These look day-first .*pass dayfirst=True"):
        io.load_transactions(write(tmp_path, text))
    out = io.load_transactions(write(tmp_path, text), dayfirst=True)
    assert out["order_date"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-04-25")]
    explicit = io.load_transactions(write(tmp_path, text), date_format="%d/%m/%Y")
    assert explicit["order_date"].equals(out["order_date"])


def test_ambiguous_month_first_is_noted(tmp_path):
    out = io.load_transactions(write(tmp_path, TX + "c1,03/04/2024,1,o1\n"))
    assert out["order_date"].iloc[0] == pd.Timestamp("2024-03-04")
    assert any("read month-first" in c for c in out.attrs["quality"]["corrections"])


def test_day_first_first_value_is_noted_as_day_first_without_a_warning(tmp_path):
    # A survey export: "19.05.2023" can only be day-first; the note said "read month-first"
    # and pandas' UserWarning reached the report.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = io.load_transactions(write(tmp_path, TX + "c1,19.05.2023,1,o1\nc2,01.02.2024,1,o2\n"))
    assert out["order_date"].tolist() == [pd.Timestamp("2023-05-19"), pd.Timestamp("2024-02-01")]
    assert (
        "order_date: dates like '19.05.2023' read day-first (%d.%m.%Y), as its day above 12 shows"
        in (out.attrs["quality"]["corrections"])
    )


def test_time_zone_offsets_converted_to_utc(tmp_path):
    text = TX + "c1,2024-01-01T10:00:00+02:00,1,o1\nc2,2024-01-01T10:00:00-05:00,1,o2\n"
    out = io.load_transactions(write(tmp_path, text))
    assert out["order_date"].tolist() == [
        pd.Timestamp("2024-01-01 08:00"),
        pd.Timestamp("2024-01-01 15:00"),
    ]
    assert out["order_date"].dt.tz is None


def test_offsets_mixed_with_naive_times_rejected(tmp_path):
    text = TX + "c1,2024-01-01T10:00:00+02:00,1,o1\nc2,2024-01-01T10:00:00,1,o2\n"
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(write(tmp_path, text))
    assert err.value.problems[0]["rule"] == "mixes timestamps with and without a time-zone offset"
    assert err.value.problems[0]["rows"] == [2]


def test_dates_after_observation_end_dropped_and_counted(tmp_path):
    text = TX + "c1,2024-01-31T23:59:00,1,o1\nc1,2024-02-01,1,o2\nc2,2024-03-01,1,o3\n"
    out = io.load_transactions(write(tmp_path, text), observation_end="2024-01-31")
    assert out["order_id"].tolist() == ["o1"]
    assert out.attrs["quality"]["dropped"] == {"dated after observation_end 2024-01-31": 2}


# --- amounts ------------------------------------------------------------------------------


def test_currency_strings_parsed(tmp_path):
    text = (
        TX
        + 'c1,2024-01-01,"$1,234.50",o1\nc1,2024-01-02,(12.00),o2\nc1,2024-01-03,3 USD,o3\nc1,2024-01-04,-2.5,o4\n'
    )
    out = io.load_transactions(write(tmp_path, text))
    assert out["amount"].tolist() == [1234.5, -12.0, 3.0, -2.5]
    assert any(
        "3 amounts parsed from currency text" in c for c in out.attrs["quality"]["corrections"]
    )


def test_bad_amounts_rejected_with_examples(tmp_path):
    text = (
        TX
        + 'c1,2024-01-01,"1.234,50",o1\nc1,2024-01-02,twelve,o2\nc1,2024-01-03,,o3\nc1,2024-01-04,5,o4\n'
    )
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(write(tmp_path, text))
    european, other = err.value.problems
    assert european["rule"] == "values that look like European numbers (decimal comma)"
    assert (european["examples"], european["rows"]) == (["1.234,50"], [1])
    assert "Pass decimal=','" in european["hint"]
    assert other["rule"] == "values that are not amounts"
    assert other["count"] == 2
    assert other["examples"] == ["twelve", None]
    assert other["rows"] == [2, 3]


def test_negative_amounts_are_returns(tmp_path):
    text = TX + "c1,2024-01-01,10,o1\nc1,2024-01-01,-4,o2\nc2,2024-01-02,-1,o3\n"
    out = io.load_transactions(write(tmp_path, text))
    assert out.attrs["quality"]["returns"] == 2
    assert out["amount"].sum() == 5
    dropped = io.load_transactions(write(tmp_path, text), returns="drop")
    assert dropped["amount"].tolist() == [10.0]
    assert dropped.attrs["quality"]["dropped"] == {"return (negative amount), returns='drop'": 2}


def test_all_problems_reported_at_once(tmp_path):
    text = TX + "c1,yesterday,ten,o1\n"
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(write(tmp_path, text))
    assert {p["column"] for p in err.value.problems} == {"order_date", "amount"}
    assert str(err.value).startswith(f"2 problems in the transactions file '{tmp_path}/tx.csv':")


# --- rows ---------------------------------------------------------------------------------


def test_duplicates_counted_kept_by_default_dropped_on_request(tmp_path):
    text = TX + "c1,2024-01-01,1,o1\nc1,2024-01-01,1,o1\nc2,2024-01-01,1,o2\n"
    kept = io.load_transactions(write(tmp_path, text))
    assert len(kept) == 3 and kept.attrs["quality"]["duplicates"] == 1
    dropped = io.load_transactions(write(tmp_path, text), duplicates="drop")
    assert len(dropped) == 2
    assert dropped.attrs["quality"]["dropped"] == {"exact duplicate row (duplicates='drop')": 1}


@pytest.mark.parametrize(
    "extra",
    [
        pd.Series([None, None, "x", None, None], dtype="str"),  # missing values are equal
        pd.Series([pd.NA, pd.NA, 2, pd.NA, pd.NA], dtype="Int64"),
        pd.Series([1, 1, "1", 2.5, (1, 2)], dtype=object),  # 1 and "1" differ
    ],
)
def test_duplicate_count_agrees_with_pandas_on_missing_and_mixed_values(extra):
    raw = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2", "c2"],
            "order_date": ["2024-01-01"] * 5,
            "amount": [1.0, 1.0, 1.0, 2.0, 2.0],
            "score": [1.0, 1.0, 1.0, float("nan"), float("nan")],
            "note": extra,
        }
    )
    expected = 1 if extra.dtype == object else 2  # rows 2 and 5 (NaN scores are equal)
    assert io._count_duplicates(raw) == expected == int(raw.duplicated().sum())
    out = io.load_transactions(raw, duplicates="drop")
    assert len(out) == 5 - expected


def test_without_order_column_each_customer_timestamp_is_one_order(tmp_path):
    text = "customer_id,order_date,amount\nc1,2024-01-01 10:00,1\nc1,2024-01-01 10:00,2\nc1,2024-01-01 11:00,3\n"
    out = io.load_transactions(write(tmp_path, text))
    assert out["order_id"].nunique() == 2
    assert out["order_id"].iloc[0] == "c1@2024-01-01T10:00:00"


def test_line_items_amount_is_quantity_times_price(tmp_path):
    text = "cust,when,qty,price,inv,Country\n1,2024-01-01,3,2.5,A1,UK\n1,2024-01-01,-1,2.5,C1,UK\n"
    out = io.load_transactions(
        write(tmp_path, text),
        customer_col="cust",
        date_col="when",
        quantity_col="qty",
        unit_price_col="price",
        order_col="inv",
    )
    assert out["amount"].tolist() == [7.5, -2.5]
    assert out["order_id"].tolist() == ["A1", "C1"]
    assert list(out.columns) == ["customer_id", "order_date", "amount", "order_id", "Country"]


def test_input_frame_not_mutated():
    df = pd.DataFrame({"customer_id": [1.0], "order_date": ["2024-01-01"], "amount": ["$3"]})
    before = df.copy()
    io.load_transactions(df)
    pd.testing.assert_frame_equal(df, before)


# --- surveys, subscriptions, costs --------------------------------------------------------


def test_survey_scores_out_of_scale_or_fractional_rejected(tmp_path):
    text = "customer_id,response_date,csat,nps,ces\na,2024-01-01,6,10,3\nb,2024-01-02,4.5,11,\nc,2024-01-03,5,-1,7\n"
    with pytest.raises(DataValidationError) as err:
        io.load_surveys(write(tmp_path, text, "s.csv"))
    problems = {(p["column"], p["rule"]): (p["count"], p["rows"]) for p in err.value.problems}
    assert problems == {
        ("csat", "scores outside the 1-5 scale"): (1, [1]),
        ("csat", "scores that are not whole numbers"): (1, [2]),
        ("nps", "scores outside the 0-10 scale"): (2, [2, 3]),
    }


def test_surveys_with_only_some_scores_and_scales(tmp_path):
    text = "customer_id,response_date,rating\na,2024-01-01,9\nb,2024-01-02,\n"
    out = io.load_surveys(write(tmp_path, text, "s.csv"), csat_col="rating", csat_scale_max=10)
    assert list(out.columns) == ["customer_id", "response_date", "csat"]
    assert out["csat"].tolist()[0] == 9 and pd.isna(out["csat"].iloc[1])
    assert out.attrs["quality"]["corrections"] == ["rating: 1 responses without a score (skipped)"]
    with pytest.raises(DataValidationError, match="no score column found"):
        io.load_surveys(write(tmp_path, "customer_id,response_date\na,2024-01-01\n", "e.csv"))


def test_surveys_and_subscriptions_name_a_missing_segment_column(tmp_path):
    # Transactions said so already; surveys and subscriptions stopped on a bare KeyError.
    surveys = write(tmp_path, "customer_id,response_date,nps\na,2024-01-01,9\n", "s.csv")
    with pytest.raises(DataValidationError) as err:
        io.load_surveys(surveys, segment_cols=["region"])
    assert [p["column"] for p in err.value.problems] == ["region"]
    text = "customer_id,start_date,end_date,mrr,plan\na,2024-01-01,,10,pro\n"
    subscriptions = write(tmp_path, text, "sub.csv")
    with pytest.raises(DataValidationError) as err:
        io.load_subscriptions(subscriptions, segment_cols=["region"])
    assert [p["column"] for p in err.value.problems] == ["region"]
    kept = io.load_subscriptions(subscriptions, segment_cols=["plan"])
    assert kept["plan"].tolist() == ["pro"]
    assert io.load_subscriptions(subscriptions)["plan"].tolist() == ["pro"]


def test_subscriptions_end_before_start_and_negative_mrr(tmp_path):
    text = "customer_id,start_date,end_date,mrr\na,2024-02-01,2024-01-01,10\nb,2024-01-01,,-5\nc,2024-01-01,,5\n"
    with pytest.raises(DataValidationError) as err:
        io.load_subscriptions(write(tmp_path, text, "sub.csv"))
    rules = {(p["column"], p["count"]) for p in err.value.problems}
    assert ("mrr", 1) in rules
    assert any("end_date must not be before start_date" in p["rule"] for p in err.value.problems)
    ok = io.load_subscriptions(
        write(tmp_path, text.replace("-5", "5").replace("2024-02-01", "2023-12-01"), "s2.csv")
    )
    assert ok["end_date"].isna().tolist() == [False, True, True]


def test_costs_must_be_non_negative(tmp_path):
    with pytest.raises(DataValidationError, match=r"column 'cost'"):
        io.load_costs(write(tmp_path, "period_start,cost\n2024-01-01,-3\n", "c.csv"))


# --- built-in data ------------------------------------------------------------------------


def test_online_retail_loads_to_4372_customers_with_string_ids():
    df = io.open_dataset("online_retail")
    raw = pd.read_parquet(io.config.ONLINE_RETAIL)
    with_customer = raw[raw["CustomerID"].notna()]
    assert df["customer_id"].nunique() == 4372
    assert df["customer_id"].iloc[0] == "17850"
    assert not df["customer_id"].str.contains(r"\.").any()
    assert df["amount"].sum() == pytest.approx(
        (with_customer["Quantity"] * with_customer["UnitPrice"]).sum(), rel=1e-12
    )
    q = df.attrs["quality"]
    assert q["dropped"] == {"missing customer ID": 135_080}
    assert q["returns"] == int((with_customer["Quantity"] * with_customer["UnitPrice"] < 0).sum())
    assert q["duplicates"] == int(raw.duplicated().sum())


def test_cdnow_master_and_sample():
    master = io.load_cdnow()
    assert (len(master), master["customer_id"].nunique()) == (69_659, 23_570)
    assert master["order_date"].min() == pd.Timestamp("1997-01-01")
    sample = io.load_cdnow(sample=True)
    assert sample["customer_id"].nunique() == 2_357
    assert np.isclose(master["amount"].sum(), 2_500_315.63)


def test_open_dataset_names_and_paths(tmp_path):
    assert io.open_dataset("") is None
    demo = io.open_dataset("demo")
    assert demo["customer_id"].nunique() == 5000
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            "built-in transactions data set (cdnow, cdnow_sample, demo, online_retail)"
        ),
    ):
        io.open_dataset("cdnwo")
    path = write(tmp_path, "customer_id,order_date,amount\nc1,2024-01-01,1\n")
    out = io.open_dataset(str(path), order_col="", quantity_col="", date_format="")
    assert out["order_id"].tolist() == ["c1@2024-01-01T00:00:00"]
    cut = io.open_dataset("cdnow", observation_end="1997-03-31")
    assert cut["order_date"].max() <= pd.Timestamp("1997-03-31")


def test_quality_table_lists_drops_and_corrections(tmp_path):
    text = TX + "c1,2024-01-01,$3,o1\n,2024-01-01,1,o2\n"
    table = io.quality_table(io.load_transactions(write(tmp_path, text)))
    as_dict = dict(zip(table["check"], table["result"], strict=False))
    assert as_dict["rows read"] == "2"
    assert as_dict["rows dropped: missing customer ID"] == "1"
    assert as_dict["customers"] == "1"
    with pytest.raises(ValueError, match="not produced by a retention_utils loader"):
        io.quality_table(pd.DataFrame())


def test_distinct_count_of_large_text_columns_agrees_with_pandas():
    values = pd.Series([f"c{i % 12_345}" for i in range(150_000)] + [None] * 10, dtype="str")
    assert quality.count_distinct(values) == values.nunique() == 12_345


# --- rows dated in the future (SPEC section 3) ----------------------------------------------


def test_future_dated_rows_are_refused_with_their_rows(tmp_path):
    path = write(tmp_path, TX + "a,2024-01-05,10,o1\nb,2099-05-01,5,o2\nc,2024-02-01,7,o3\n")
    with pytest.raises(DataValidationError) as err:
        io.load_transactions(path)
    message = str(err.value)
    assert "dates in the future" in message
    assert "'2099-05-01' (row 2)" in message
    assert "observation_end=" in message


def test_future_dated_rows_are_dropped_and_counted_with_an_observation_end(tmp_path):
    path = write(tmp_path, TX + "a,2024-01-05,10,o1\nb,2099-05-01,5,o2\nc,2024-02-01,7,o3\n")
    tx = io.load_transactions(path, observation_end="2024-12-31")
    assert sorted(tx["customer_id"]) == ["a", "c"]
    assert tx.attrs["quality"]["dropped"] == {"dated after observation_end 2024-12-31": 1}


def test_future_dated_survey_answers_are_refused(tmp_path):
    path = write(
        tmp_path, "customer_id,response_date,nps\na,2024-01-05,9\nb,2099-01-01,3\n", "s.csv"
    )
    with pytest.raises(DataValidationError, match=r"dates in the future.*'2099-01-01' \(row 2\)"):
        io.load_surveys(path)


def test_built_in_data_sets_know_their_currency_and_comparison_column():
    assert io.dataset_defaults("online_retail") == io.DatasetDefaults(currency="GBP")
    assert io.dataset_defaults("cdnow_sample") == io.DatasetDefaults(
        currency="USD", data_start="1997-01-01"
    )
    assert io.dataset_defaults("demo") == io.DatasetDefaults(currency="EUR", compare_by="channel")
    assert io.dataset_defaults("my_orders.csv") == io.DatasetDefaults()
    assert io.dataset_defaults(pd.DataFrame()) == io.DatasetDefaults()


def test_companion_tables_are_the_demo_ones_for_the_demo_only():
    # A report's subscriptions / costs parameters left at "" mean these.
    assert io.companion_table("demo", "subscriptions") == "demo"
    assert io.companion_table(" demo ", "costs") == "demo"
    assert io.companion_table("online_retail", "subscriptions") == ""
    assert io.companion_table("cdnow_sample", "costs") == ""
    assert io.companion_table("orders.csv", "costs") == ""
    assert io.companion_table(pd.DataFrame(), "subscriptions") == ""
