"""engine.segment_sizes / split_by_segment: one Parquet file per segment, in one pass."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from retention_utils import engine, io


@pytest.fixture
def transactions() -> pd.DataFrame:
    """Seven customers; c1 moved from DE to FR (first purchase in DE); c6 only returned."""
    rows = [
        ("c1", "2024-01-01", 10.0, "DE"),
        ("c1", "2024-02-01", 20.0, "FR"),
        ("c2", "2024-01-03", 5.0, "DE"),
        ("c2", "2024-01-04", 5.0, "DE"),
        ("c3", "2024-01-05", 7.0, "FR"),
        ("c4", "2024-01-06", 8.0, "FR"),
        ("c5", "2024-01-07", 9.0, "Unspecified"),
        ("c6", "2024-01-08", -3.0, "DE"),
        ("c7", "2024-01-09", 4.0, None),
        ("c8", "2024-01-10", 4.0, "IT"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "Country"])
    return io.load_transactions(frame, order_col=None)


def test_segment_sizes_count_customers_by_first_purchase(transactions):
    sizes = engine.segment_sizes(transactions, "Country", min_customers=2)
    table = {
        (row.segment, row.kind): (row.customers, row.rows, row.skipped)
        for row in sizes.itertuples()
    }
    assert table[("DE", "segment")] == (2, 4, None)  # c1 (both rows) and c2
    assert table[("FR", "segment")] == (2, 2, None)
    assert table[("IT", "segment")] == (
        1,
        1,
        "1 customer, fewer than the minimum of 2 for a report of its own.",
    )
    no_value = table[(None, "no value")]
    assert no_value[:2] == (2, 2)  # c5 "Unspecified" and c7 missing
    assert no_value[2].startswith("2 customers without a Country value (missing, blank or a ")
    no_purchase = table[(None, "no purchase")]
    assert no_purchase[:2] == (1, 1)  # c6
    assert "whose days are all returns" in no_purchase[2]
    assert list(sizes["segment"][:2]) == ["DE", "FR"]  # largest first, then by name


def test_split_writes_one_file_per_segment_with_its_rows(transactions, tmp_path):
    written = engine.split_by_segment(transactions, "Country", tmp_path / "split", min_customers=2)
    paths = written.dropna(subset=["path"])
    assert list(paths["segment"]) == ["DE", "FR"]
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == [
        "segment_001.json",
        "segment_001.parquet",
        "segment_002.json",
        "segment_002.parquet",
    ]
    de = pd.read_parquet(paths["path"].iloc[0])
    assert sorted(de["customer_id"]) == ["c1", "c1", "c2", "c2"]
    assert list(de.columns) == ["customer_id", "order_date", "amount", "order_id", "Country"]
    fr = pd.read_parquet(paths["path"].iloc[1])
    assert sorted(fr["customer_id"]) == ["c3", "c4"]
    for path, rows in zip(paths["path"], paths["rows"], strict=True):
        assert len(pd.read_parquet(path)) == rows
    assert written.loc[written["segment"] == "IT", "path"].iloc[0] is None
    side = json.loads((tmp_path / "split" / "segment_001.json").read_text())
    assert (side["segment_col"], side["segment_value"]) == ("Country", "DE")


def test_a_split_file_loads_with_its_own_data_quality(tmp_path):
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", None, "c", "c"],
            "order_date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
            "amount": ["1", "2", "3", "4", "-1"],
            "Country": ["DE", "FR", "DE", "DE", "DE"],
        }
    )
    whole = io.load_transactions(raw, order_col=None)
    written = engine.split_by_segment(whole, "Country", tmp_path, min_customers=1)
    de = io.open_dataset(written.loc[written["segment"] == "DE", "path"].iloc[0])
    quality = de.attrs["quality"]
    assert quality["customers"] == 2  # a and c, not the whole data set's 3
    assert quality["rows_kept"] == 3
    assert quality["returns"] == 1
    assert quality["source"] == "DataFrame, segment Country = DE (split by the runner)"
    assert quality["corrections"][0] == (
        "before the split, in the whole data set (5 rows read): rows dropped: 1 missing customer ID"
    )
