"""The one-sentence cause of a failed report (no kernel runs here)."""

from __future__ import annotations

from retention_utils.batch.execute import failure_cause, plain_traceback

PANDAS_TRACEBACK = """\
Cell In[12], line 1
----> 1 customers = clv.customer_table(tx, summary, predictions)
File ~/work/retention_utils/clv.py:1210, in customer_table(transactions, summary, predictions)
   1209 first = history.groupby("customer_id").first()
-> 1210 value = first.iloc[0]
File ~/.venv/lib/python3.11/site-packages/pandas/core/indexing.py:1191, in _LocationIndexer.__getitem__(self, key)
File ~/.venv/lib/python3.11/site-packages/pandas/core/indexing.py:1752, in _iLocIndexer._getitem_axis(self, key, axis)
IndexError: single positional indexer is out-of-bounds
"""


def test_an_error_raised_by_the_toolkit_is_its_own_cause():
    traceback = (
        "Cell In[5], line 1\n"
        "File ~/work/retention_utils/clv.py:470, in fit_gamma_gamma(summary)\n"
        "ValueError: Too few repeat buyers (4) to fit the Gamma-Gamma model\n"
    )
    cause = failure_cause(
        "ValueError", "Too few repeat buyers (4) to fit the Gamma-Gamma model", traceback
    )
    assert cause == "Too few repeat buyers (4) to fit the Gamma-Gamma model."


def test_a_data_validation_error_becomes_one_line():
    message = (
        "2 problems in the transactions:\n- column 'amount': not a number (3 rows)\n"
        "- column 'order_date': not a date (1 row)"
    )
    assert failure_cause("DataValidationError", message, "Cell In[3], line 2\n") == (
        "2 problems in the transactions: column 'amount': not a number (3 rows); column "
        "'order_date': not a date (1 row)."
    )


def test_an_error_from_inside_pandas_names_the_toolkit_function_it_broke_in():
    cause = failure_cause(
        "IndexError", "single positional indexer is out-of-bounds", PANDAS_TRACEBACK
    )
    assert cause == (
        "The report broke on an unexpected IndexError in retention_utils/clv.py "
        "(customer_table), raised inside pandas (single positional indexer is "
        "out-of-bounds); this is a defect of the toolkit on these data, not a problem with "
        "your data."
    )


def test_tracebacks_lose_their_colours():
    assert plain_traceback(["\x1b[0;31mValueError\x1b[0m: x", "line"]) == "ValueError: x\nline"
