"""Segment fan-out: read the data once, plan one report per large enough segment, split.

With ``--segment-by COLUMN`` the transactions are loaded once per distinct source (and
column mapping), the engine counts customers per segment (:func:`engine.segment_sizes`) and,
once the batch is cleared to run, writes one Parquet file per segment
(:func:`engine.split_by_segment`) under ``--out``/``segment_data/``. Each segment report then
reads only its file, with the canonical column names as its mapping parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from retention_utils import engine, io
from retention_utils.batch.outdir import SEGMENT_DATA
from retention_utils.batch.params import ParameterError
from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE
from retention_utils.engine.sources import PANDAS_ONLY

#: Notebook parameters that map the transaction columns, with their values for a split file
#: (which has the canonical columns).
CANONICAL_MAPPING: dict[str, Any] = {
    "customer_col": CUSTOMER,
    "date_col": ORDER_DATE,
    "amount_col": AMOUNT,
    "order_col": ORDER,
    "quantity_col": "",
    "unit_price_col": "",
    # a split file is Parquet with typed columns, already de-duplicated as asked
    **PANDAS_ONLY,
}


def reads_split_files(declared: Any) -> bool:
    """True when a notebook's column-mapping parameters describe its transactions only.

    A notebook that also reads surveys (the satisfaction report) uses ``date_col`` for the
    survey dates; it keeps its own data and filters the segment itself.
    """
    return "transactions" in declared and "surveys" not in declared


@dataclass
class SegmentSource:
    """One loaded transaction source and its segments."""

    number: int  # 1, 2, ...: the folder of its split files
    source: str
    mapping: dict[str, Any]
    column: str
    transactions: pd.DataFrame
    sizes: pd.DataFrame  # engine.segment_sizes(...)
    lost: list[dict[str, Any]] = field(default_factory=list)  # see lost_segments()

    def reported(self) -> list[str]:
        """Segment values that get a report, largest first."""
        return [str(v) for v in self.sizes.loc[self.sizes["skipped"].isna(), "segment"]]

    def folder(self, out: Path) -> Path:
        """Where its split files go."""
        return out / SEGMENT_DATA / f"source_{self.number}"

    def path(self, out: Path, value: str) -> Path:
        """The planned file of a segment (as numbered by :func:`engine.split_by_segment`)."""
        return self.folder(out) / f"segment_{self.reported().index(value) + 1:03d}.parquet"

    def skipped(self) -> list[dict[str, Any]]:
        """Segments without a report: ``segment``, ``customers``, ``rows``, ``reason``."""
        rows = self.sizes[self.sizes["skipped"].notna()]
        return [
            {
                "segment": r.segment,
                "customers": int(r.customers),
                "rows": int(r.rows),
                "reason": r.skipped,
            }
            for r in rows.itertuples()
        ] + self.lost


def lost_segments(
    transactions: pd.DataFrame, column: str, sizes: pd.DataFrame
) -> list[dict[str, Any]]:
    """Segments of the file as read that no row is left of after loading.

    For example UCI Online Retail's Hong Kong, whose rows all lack a customer ID. Read from
    the loaded table's source when it is a Parquet file (whose values keep their type, so
    they compare with the loaded ones); otherwise nothing is reported.
    """
    path = Path(str(transactions.attrs.get("quality", {}).get("source", "")))
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return []
    raw = engine.as_table(path, required=())
    if column not in raw.columns:
        return []
    value = raw[column].cast("string")
    counts = engine.to_pandas(raw.group_by(value.name("segment")).aggregate(rows=raw.count()))
    known = set(sizes["segment"].dropna().astype(str))
    counts = counts[counts["segment"].notna() & ~counts["segment"].isin(known)]
    blank = counts["segment"].str.strip().str.lower().isin(engine.NO_SEGMENT_VALUES)
    return [
        {
            "segment": r.segment,
            "customers": 0,
            "rows": int(r.rows),
            "reason": f"none of its {int(r.rows):,} rows is left after loading (e.g. no "
            "customer ID); see the data quality of the all-customers report.",
        }
        for r in counts[~blank].sort_values("segment").itertuples()
    ]


@dataclass
class FanOut:
    """The segment fan-out of a batch: sources loaded once, split when the batch runs."""

    column: str
    min_customers: int = engine.MIN_SEGMENT_CUSTOMERS
    sources: list[SegmentSource] = field(default_factory=list)

    def source(self, values: dict[str, Any]) -> SegmentSource:
        """The loaded source of a notebook's parameter values (loaded on first use).

        Raises
        ------
        ParameterError
            When the segment column is not in the loaded transactions.
        """
        source = str(values.get("transactions") or "demo")
        # Rows after the observation end are left out of the split (and counted as dropped
        # in the whole data set's quality), so the segment sizes match the reports.
        keys = (*CANONICAL_MAPPING, "observation_end")
        mapping = {k: values[k] for k in keys if k in values}
        for known in self.sources:
            if known.source == source and known.mapping == mapping:
                return known
        transactions = io.open_dataset(source, **mapping)
        if self.column not in transactions.columns:
            raise ParameterError(
                f"--segment-by: column {self.column!r} not in {Path(source).name}; columns: "
                f"{', '.join(map(str, transactions.columns))}."
            )
        sizes = engine.segment_sizes(transactions, self.column, min_customers=self.min_customers)
        loaded = SegmentSource(
            len(self.sources) + 1,
            source,
            mapping,
            self.column,
            transactions,
            sizes,
            lost_segments(transactions, self.column, sizes),
        )
        self.sources.append(loaded)
        return loaded

    def write(self, out: Path) -> None:
        """Write every source's split files under ``out`` (one pass over each source).

        Raises
        ------
        RuntimeError
            If the engine numbered the files differently from the plan (a defect).
        """
        for source in self.sources:
            written = engine.split_by_segment(
                source.transactions,
                self.column,
                source.folder(out),
                min_customers=self.min_customers,
            )
            for value, path in zip(written["segment"], written["path"], strict=True):
                if path is not None and Path(path) != source.path(out, str(value)):
                    raise RuntimeError(f"Split file of {value!r} is {path}, not as planned.")

    def skipped(self) -> list[dict[str, Any]]:
        """Skipped segments of every source (see :meth:`SegmentSource.skipped`)."""
        return [{**entry, "source": s.source} for s in self.sources for entry in s.skipped()]

    def sizes(self) -> dict[str, dict[str, int]]:
        """Customers and rows of each reported segment (of the first source that has it)."""
        found: dict[str, dict[str, int]] = {}
        for s in self.sources:
            for r in s.sizes.itertuples():
                if r.segment is not None and str(r.segment) not in found:
                    found[str(r.segment)] = {"customers": int(r.customers), "rows": int(r.rows)}
        return found
