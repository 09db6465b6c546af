"""RFM summary and calibration/holdout in the engine: hand-computed examples, and equality
with lifetimes' ``summary_data_from_transaction_data`` / ``calibration_and_holdout_data`` on
random data without returns (days, weeks, ``freq_multiplier``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from pandas.testing import assert_frame_equal

from retention_utils.engine import (
    as_table,
    calibration_holdout,
    customer_history,
    customer_purchase_days,
    daily_purchases,
    purchase_days_expr,
    purchase_tracking,
    rfm_counts,
    rfm_summary,
    to_pandas,
)
from retention_utils.io import load_cdnow


def lifetimes_utils():
    """lifetimes.utils with its import side effects contained (tests only)."""
    from retention_utils import clv

    clv.base.lifetimes_classes()  # imports lifetimes once, restoring the global state it changes
    import lifetimes.utils as utils

    return utils


def random_transactions(seed: int, n: int = 250, with_time: bool = True) -> pd.DataFrame:
    """Random purchases (no returns): several per day possible, times of day optional."""
    rng = np.random.default_rng(seed)
    per_customer = rng.integers(1, 12, n)
    customers = np.repeat([f"c{i:04d}" for i in range(n)], per_customer)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    starts = np.repeat(start.to_numpy(), per_customer)
    offset = rng.integers(0, 400, len(customers)) * np.timedelta64(1, "D")
    if with_time:
        offset = offset + rng.integers(0, 86400, len(customers)) * np.timedelta64(1, "s")
    offset[np.r_[0, np.cumsum(per_customer)[:-1]]] = np.timedelta64(0, "s")
    df = pd.DataFrame(
        {
            "customer_id": customers,
            "order_date": starts + offset,
            "amount": np.round(rng.gamma(2, 30, len(customers)), 2),
        }
    )
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df.sample(frac=1, random_state=seed).reset_index(drop=True)


def lifetimes_summary(df, **kwargs) -> pd.DataFrame:
    utils = lifetimes_utils()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return utils.summary_data_from_transaction_data(
            df, "customer_id", "order_date", "amount", **kwargs
        )


# --- hand-computed ------------------------------------------------------------------------


def test_rfm_summary_hand_computed_days():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-01", 5.0),  # same day: one purchase period of 15
            ("a", "2024-01-08", 20.0),
            ("a", "2024-01-09", 30.0),
            ("b", "2024-01-05", 7.0),
        ]
    )
    out = rfm_summary(tx, observation_end="2024-01-10")
    assert list(out.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert out.index.name == "customer_id"
    assert out.loc["a"].tolist() == [2.0, 8.0, 9.0, 25.0]  # repeat periods 20 and 30
    assert out.loc["b"].tolist() == [0.0, 0.0, 5.0, 0.0]
    assert out.attrs["unit_days"] == 1
    assert out.attrs["observation_end"] == "2024-01-10"


def test_rfm_summary_hand_computed_weeks_and_multiplier():
    # 2024-01-01 is a Monday: weeks are Mon-Sun as pandas' "W" periods
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-07", 5.0),  # same week as the first purchase
            ("a", "2024-01-08", 20.0),
            ("a", "2024-01-20", 30.0),
        ]
    )
    weeks = rfm_summary(tx, freq="W", observation_end="2024-01-31")
    # periods: week of 01-01 (15), of 01-08 (20), of 01-15 (30); end week starts 01-29
    assert weeks.loc["a"].tolist() == [2.0, 2.0, 4.0, 25.0]
    assert weeks.attrs["unit_days"] == 7
    fractional = rfm_summary(tx, freq="D", freq_multiplier=7, observation_end="2024-01-31")
    assert fractional.loc["a", "recency"] == 19 / 7
    assert fractional.loc["a", "T"] == 30 / 7
    assert fractional.loc["a", "frequency"] == 3.0
    assert fractional.attrs["unit_days"] == 7
    two_weeks = rfm_summary(tx, freq="W", freq_multiplier=2, observation_end="2024-01-31")
    assert two_weeks.loc["a", "T"] == 2.0
    assert two_weeks.attrs["unit_days"] == 14


def test_returns_are_netted_per_customer_day():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 50.0),
            ("a", "2024-01-03", 40.0),
            ("a", "2024-01-03", -40.0),  # net 0: not a purchase day
            ("a", "2024-01-05", 30.0),
            ("a", "2024-01-05", -10.0),  # net 20: a purchase of 20
            ("b", "2024-01-02", -5.0),  # only a return: not a customer of the summary
        ]
    )
    out = rfm_summary(tx, observation_end="2024-01-06")
    assert list(out.index) == ["a"]
    assert out.loc["a"].tolist() == [1.0, 4.0, 5.0, 20.0]


def test_rows_after_observation_end_are_left_out():
    tx = tx_frame([("a", "2024-01-01", 10.0), ("a", "2024-01-05", 20.0), ("a", "2024-01-09", 99.0)])
    out = rfm_summary(tx, observation_end="2024-01-06")
    assert out.loc["a"].tolist() == [1.0, 4.0, 5.0, 20.0]
    default = rfm_summary(tx)
    assert default.attrs["observation_end"] == "2024-01-09"
    assert default.loc["a"].tolist() == [2.0, 8.0, 8.0, 59.5]


def test_calibration_holdout_hand_computed():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0, "o1"),
            ("a", "2024-01-04", 20.0, "o2"),
            ("a", "2024-01-12", 30.0, "o3"),
            ("a", "2024-01-12", 50.0, "o4"),  # two orders on one holdout day
            ("a", "2024-01-15", 10.0, "o5"),
            ("b", "2024-01-10", 5.0, "o6"),
            ("c", "2024-01-11", 8.0, "o7"),  # first purchase in the holdout: not included
        ]
    )
    out = calibration_holdout(tx, calibration_end="2024-01-10", observation_end="2024-01-20")
    assert list(out.columns) == [
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ]
    assert list(out.index) == ["a", "b"]
    assert out.loc["a"].tolist() == [1.0, 3.0, 9.0, 20.0, 2.0, 30.0, 10.0]
    assert out.loc["b"].tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0]
    assert out.attrs["calibration_end"] == "2024-01-10"
    same = calibration_holdout(tx, holdout_days=10, observation_end="2024-01-20")
    assert_frame_equal(same, out)


def test_customer_history_and_purchase_tracking():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0, "o1"),
            ("a", "2024-01-03", 20.0, "o2"),
            ("a", "2024-01-03", -5.0, "o3"),
            ("b", "2024-01-03", 7.0, "o4"),
            ("b", "2024-01-04", -7.0, "o5"),
        ]
    )
    history = customer_history(tx)
    assert history.loc["a", ["orders", "revenue"]].tolist() == [2, 25.0]
    assert history.loc["b", ["orders", "revenue"]].tolist() == [1, 0.0]
    assert history.loc["b", "last_purchase"] == pd.Timestamp("2024-01-03")
    tracking = purchase_tracking(tx)
    assert tracking["day"].tolist() == list(pd.date_range("2024-01-01", "2024-01-04"))
    assert tracking["first_purchases"].tolist() == [1, 0, 1, 0]
    assert tracking["repeat_purchases"].tolist() == [0, 0, 1, 0]


def test_customer_purchase_days():
    tx = tx_frame(
        [
            ("a", "2024-01-01 10:00", 10.0),
            ("a", "2024-01-01 18:00", 5.0),
            ("a", "2024-01-03", -2.0),
            ("b", "2024-01-02", 7.0),
            ("c", "2024-01-04", 9.0),
        ]
    )
    out = customer_purchase_days(tx, ["a", "b"])
    assert out[["customer_id", "day", "amount"]].values.tolist() == [
        ["a", pd.Timestamp("2024-01-01"), 15.0],
        ["b", pd.Timestamp("2024-01-02"), 7.0],
    ]
    assert out.attrs["observation_end"] == "2024-01-04"


def test_parquet_source_gives_the_same_summary(tmp_path):
    tx = random_transactions(7, n=40)
    path = tmp_path / "tx.parquet"
    tx.to_parquet(path)
    assert_frame_equal(rfm_summary(str(path), freq="W"), rfm_summary(tx, freq="W"))


# --- equality with lifetimes ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("freq, multiplier", [("D", 1), ("W", 1), ("D", 7), ("W", 2)])
def test_rfm_summary_equals_lifetimes(seed, freq, multiplier):
    tx = random_transactions(seed)
    expected = lifetimes_summary(tx, freq=freq, freq_multiplier=multiplier)
    got = rfm_summary(tx, freq=freq, freq_multiplier=multiplier)
    # frequency, recency and T are bit-for-bit equal; monetary means may differ in the
    # last bit because DuckDB and pandas add in a different order
    assert_frame_equal(got[["frequency", "recency", "T"]], expected[["frequency", "recency", "T"]])
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=0)


@pytest.mark.parametrize("freq, multiplier", [("D", 1), ("W", 1), ("D", 7)])
def test_rfm_summary_equals_lifetimes_with_observation_end(freq, multiplier):
    tx = random_transactions(3)
    end = "2024-02-11"  # a Sunday: lifetimes' week of the end is complete
    expected = lifetimes_summary(
        tx, freq=freq, freq_multiplier=multiplier, observation_period_end=end
    )
    got = rfm_summary(tx, freq=freq, freq_multiplier=multiplier, observation_end=end)
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("freq, multiplier", [("D", 1), ("W", 1), ("D", 7), ("W", 2)])
def test_calibration_holdout_equals_lifetimes(seed, freq, multiplier):
    # lifetimes compares timestamps with a midnight calibration end (so it would move
    # purchases made later on that day into the holdout); the engine works in whole days,
    # which is the same on date-only data. Without a monetary column lifetimes' function
    # fails on pandas 3, so compare with one.
    tx = random_transactions(seed, with_time=False)
    utils = lifetimes_utils()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = utils.calibration_and_holdout_data(
            tx,
            "customer_id",
            "order_date",
            calibration_period_end="2023-12-31",
            observation_period_end="2024-03-05",
            freq=freq,
            freq_multiplier=multiplier,
            monetary_value_col="amount",
        )
    got = calibration_holdout(
        tx,
        calibration_end="2023-12-31",
        observation_end="2024-03-05",
        freq=freq,
        freq_multiplier=multiplier,
    )
    assert (got["frequency_holdout"] == 0).any()  # the comparison covers both cases
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=0)
    assert got.attrs["unit_days"] == {"D": 1, "W": 7}[freq] * multiplier


# --- bad input ------------------------------------------------------------------------------


def test_bad_freq_and_multiplier():
    tx = random_transactions(0, n=5)
    with pytest.raises(ValueError, match=r"freq must be 'D' \(days\) or 'W'.*freq_multiplier=7"):
        rfm_summary(tx, freq="M")
    with pytest.raises(ValueError, match="freq_multiplier must be a whole number >= 1, got 0"):
        rfm_summary(tx, freq_multiplier=0)
    with pytest.raises(ValueError, match="freq_multiplier must be a whole number >= 1, got 1.5"):
        rfm_summary(tx, freq_multiplier=1.5)


def test_bad_dates():
    tx = random_transactions(0, n=5)
    with pytest.raises(ValueError, match="observation_end='soon' is not a date"):
        rfm_summary(tx, observation_end="soon")
    with pytest.raises(ValueError, match=r"calibration_end \(2024-03-01\) must be before"):
        calibration_holdout(tx, calibration_end="2024-03-01", observation_end="2024-01-01")
    with pytest.raises(ValueError, match="exactly one of calibration_end .* and holdout_days"):
        calibration_holdout(tx)
    with pytest.raises(ValueError, match="exactly one of calibration_end"):
        calibration_holdout(tx, calibration_end="2024-01-01", holdout_days=30)
    with pytest.raises(ValueError, match="holdout_days must be a whole number of days"):
        calibration_holdout(tx, holdout_days=-3)


def test_empty_holdout_is_refused():
    tx = tx_frame([("a", "2024-01-01", 10.0), ("a", "2024-01-05", 20.0)])
    with pytest.raises(ValueError, match="no transaction in the holdout period 2024-01-06"):
        calibration_holdout(tx, calibration_end="2024-01-05", observation_end="2024-01-31")


def test_empty_data_is_refused():
    tx = tx_frame([("a", "2024-01-01", 10.0)]).iloc[:0]
    with pytest.raises(ValueError, match="There are no transactions"):
        rfm_summary(tx)


def test_missing_column_names_the_mapping():
    io = pytest.importorskip("retention_utils.io")
    tx = tx_frame([("a", "2024-01-01", 10.0)]).rename(columns={"amount": "value"})
    with pytest.raises(io.DataValidationError, match="amount"):
        rfm_summary(tx)


def test_summaries_can_be_written_to_parquet(tmp_path):
    # pandas writes attrs into the Parquet metadata as JSON: they must stay serialisable
    tx = random_transactions(1, n=30, with_time=False)
    summary = calibration_holdout(tx, holdout_days=60)
    summary.to_parquet(tmp_path / "summary.parquet")
    back = pd.read_parquet(tmp_path / "summary.parquet")
    assert back.attrs["unit_days"] == 1
    assert back.attrs["calibration_end"] == summary.attrs["calibration_end"]


# --- the purchase rule and exact money (SPEC section 3) -------------------------------------


@pytest.mark.parametrize("freq, multiplier", [("D", 1), ("W", 1), ("D", 7)])
def test_rfm_summary_equals_lifetimes_with_free_orders(freq, multiplier):
    # $0.00 orders with no return line are purchases, as lifetimes counts them
    tx = random_transactions(4)
    tx.loc[tx.index % 7 == 0, "amount"] = 0.0
    expected = lifetimes_summary(tx, freq=freq, freq_multiplier=multiplier)
    got = rfm_summary(tx, freq=freq, freq_multiplier=multiplier)
    assert len(got) == len(expected) == tx["customer_id"].nunique()
    assert_frame_equal(got[["frequency", "recency", "T"]], expected[["frequency", "recency", "T"]])
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=0)


def test_a_purchase_returned_in_full_nets_to_exactly_zero():
    # 0.1 + 0.2 - 0.3 is 5.6e-17 in floating point: without exact sums the day would count
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "order_date": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01", "2024-01-01"]
            ),
            "amount": [0.1, 0.2, -0.3, 5.0, 0.0],
            "order_id": ["o1", "o1", "o1", "o2", "o3"],
        }
    )
    days = daily_purchases(tx)
    assert days["amount"].tolist() == [0.0, 5.0, 0.0]
    assert days["is_purchase"].tolist() == [False, True, True]  # b's $0.00 order is a purchase
    assert days["orders"].tolist() == [0, 1, 1]
    summary = rfm_summary(tx)
    assert summary.loc["a", ["frequency", "recency", "T"]].tolist() == [0.0, 0.0, 0.0]
    assert summary.loc["b", ["frequency", "T"]].tolist() == [0.0, 31.0]


def test_a_free_order_on_a_day_with_a_return_is_not_a_purchase():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-05"]),
            "amount": [10.0, 0.0, -2.5],
            "order_id": ["o1", "o2", "o3"],
        }
    )
    days = daily_purchases(tx)
    assert days["is_purchase"].tolist() == [True, False]
    assert days["orders"].tolist() == [1, 1]  # o2 has no return line: it counts as an order
    assert rfm_summary(tx).loc["a", "frequency"] == 0.0


def test_results_do_not_depend_on_row_order():
    tx = random_transactions(5)
    returns = tx.sample(40, random_state=1).assign(amount=lambda d: -d["amount"])
    tx = pd.concat([tx, returns], ignore_index=True)
    first = rfm_summary(tx, freq="D", freq_multiplier=7)
    for seed in range(3):
        shuffled = tx.sample(frac=1, random_state=seed).reset_index(drop=True)
        assert_frame_equal(rfm_summary(shuffled, freq="D", freq_multiplier=7), first)
        assert_frame_equal(daily_purchases(shuffled), daily_purchases(tx))


def test_the_daily_table_without_orders_has_the_same_days_and_sums():
    tx = random_transactions(5)
    returns = tx.sample(40, random_state=1).assign(amount=lambda d: -d["amount"])
    tx = pd.concat([tx, returns, tx.head(30).assign(amount=0.0)], ignore_index=True)
    table = as_table(tx)
    keys = ["customer_id", "day"]
    full = to_pandas(purchase_days_expr(table).order_by(keys)).drop(columns="orders")
    light = to_pandas(purchase_days_expr(table, orders=False).order_by(keys))
    assert_frame_equal(light[full.columns], full)
    assert not light["is_purchase"].all() and "orders" not in light.columns


# --- histories shorter than the holdout (SPEC section 6) ----------------------------------


def _daily_purchases(days: int, amount: float = 10.0) -> pd.DataFrame:
    """One order a day from 2024-01-01 for ``days`` days, seven customers taking turns."""
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % 7}" for i in range(days)],
            "order_date": pd.date_range("2024-01-01", periods=days, freq="D"),
            "amount": amount,
            "order_id": [f"o{i}" for i in range(days)],
        }
    )


def test_history_shorter_than_the_holdout_names_holdout_days():
    tx = _daily_purchases(60)
    with pytest.raises(ValueError) as error:
        calibration_holdout(tx, holdout_days=180)
    assert str(error.value) == (
        "The history is 60 days long (2024-01-01 to 2024-02-29), shorter than the holdout: "
        "holdout_days=180 puts calibration_end at 2023-09-02, before the first purchase, so "
        "the calibration period is empty; use holdout_days=20 (a third of the history) or a "
        "calibration_end from 2024-01-01 to 2024-02-28."
    )
    with pytest.raises(ValueError) as error:
        calibration_holdout(tx, calibration_end="2023-12-01")
    assert str(error.value) == (
        "The history is 60 days long (2024-01-01 to 2024-02-29), shorter than the holdout: "
        "calibration_end=2023-12-01 is before the first purchase, so the calibration period "
        "is empty; use holdout_days=20 (a third of the history) or a calibration_end from "
        "2024-01-01 to 2024-02-28."
    )
    assert len(calibration_holdout(tx, holdout_days=20)) == 7  # the suggestion works


def test_no_purchase_day_and_one_day_histories_are_one_sentence():
    with pytest.raises(ValueError) as error:
        calibration_holdout(_daily_purchases(60, amount=-10.0), holdout_days=180)
    assert str(error.value) == (
        "There is no purchase day up to 2024-02-29 (every customer-day is a return or is "
        "cancelled by its returns), so there is no customer to split into a calibration and "
        "a holdout period."
    )
    one_day = _daily_purchases(30).assign(order_date=pd.Timestamp("2024-01-01"))
    with pytest.raises(ValueError) as error:
        calibration_holdout(one_day, holdout_days=180)
    assert str(error.value) == (
        "The history is 1 day long (2024-01-01 to 2024-01-01), too short to split into a "
        "calibration and a holdout period: holdout_days=180 puts calibration_end at "
        "2023-07-05, before the first purchase."
    )


@pytest.mark.parametrize("options", [{}, {"freq": "W"}, {"freq": "D", "freq_multiplier": 7}])
def test_rfm_counts_are_the_summary_rows_counted(options):
    tx = load_cdnow(sample=True)
    summary = rfm_summary(tx, **options)
    expected = (
        summary.groupby(["frequency", "recency", "T"]).size().rename("customers").reset_index()
    )
    got = rfm_counts(tx, **options)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs == summary.attrs
