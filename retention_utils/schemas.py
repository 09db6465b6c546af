"""Canonical tables, declared once with pandera (SPEC section 3).

The loaders in :mod:`retention_utils.io` parse raw files into these shapes and validate them
lazily, so every broken rule is reported at once through
:class:`retention_utils.DataValidationError`.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

# Score scales the survey loader accepts (inclusive bounds).
CSAT_SCALES = {5: (1, 5), 7: (1, 7), 10: (1, 10)}
CES_SCALES = {5: (1, 5), 7: (1, 7)}
NPS_SCALE = (0, 10)


class Transactions(pa.DataFrameModel):
    """One row per order line: who bought, when, for how much (net, returns negative)."""

    customer_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    order_date: Series[pa.DateTime] = pa.Field(nullable=False)
    amount: Series[float] = pa.Field(nullable=False, ignore_na=False)
    order_id: Series[str] = pa.Field(nullable=False)

    @pa.check("amount", error="amount must be a finite number")
    def amount_finite(cls, amount: Series[float]) -> Series[bool]:
        return amount.abs() < float("inf")

    class Config:
        strict = False
        coerce = False


class Subscriptions(pa.DataFrameModel):
    """One row per subscription spell; an open spell has no ``end_date``."""

    customer_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    start_date: Series[pa.DateTime] = pa.Field(nullable=False)
    end_date: Series[pa.DateTime] = pa.Field(nullable=True)
    mrr: Series[float] = pa.Field(ge=0, nullable=False)

    @pa.dataframe_check(error="end_date must not be before start_date")
    def end_after_start(cls, df) -> Series[bool]:
        return df["end_date"].isna() | (df["end_date"] >= df["start_date"])

    class Config:
        strict = False


class RetentionCosts(pa.DataFrameModel):
    """Retention spend per period (the period starting on ``period_start``)."""

    period_start: Series[pa.DateTime] = pa.Field(nullable=False, unique=True)
    cost: Series[float] = pa.Field(ge=0, nullable=False)

    class Config:
        strict = False


def survey_schema(
    scores: dict[str, tuple[int, int]],
) -> pa.DataFrameSchema:
    """Schema of a survey table with the given score columns and their inclusive scales.

    Scores are nullable (a respondent may skip a question) but, when present, must be whole
    numbers within the scale.
    """
    columns = {
        "customer_id": pa.Column(str, nullable=False),
        "response_date": pa.Column(pa.DateTime, nullable=False),
    }
    for name, (low, high) in scores.items():
        columns[name] = pa.Column(
            "Int64",
            checks=pa.Check.in_range(low, high, error=f"score must be between {low} and {high}"),
            nullable=True,
            coerce=False,
        )
    return pa.DataFrameSchema(columns, strict=False)
