"""Benchmark inputs: synthetic transaction logs and RFM summaries, cached as Parquet.

Transaction logs come from :func:`retention_utils.synthetic.generate_transactions_large`
(about 5 rows per customer, no returns, one order per row, 2024-01-01 to 2025-12-31), sorted
by ``order_date`` as an export of a transaction log usually is. The model fits use the RFM
summary of such a log in the CLV report's default time unit, exact fractional weeks
(``freq="D", freq_multiplier=7``, :func:`retention_utils.clv.time_unit` ``"W"``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
OUT_DIR = BENCH_DIR / "out"
RESULTS = BENCH_DIR / "RESULTS.md"

SEED = 7
ROWS_PER_CUSTOMER = 5
#: Time unit of the summaries the fits use: exact fractional weeks (the CLV report default).
SUMMARY_UNIT = {"freq": "D", "freq_multiplier": 7}


def transactions_path(n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    return Path(data_dir) / f"transactions_{n_rows}_seed{seed}.parquet"


def summary_path(n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """The RFM summary (weeks) of the transaction log of ``n_rows`` rows."""
    return Path(data_dir) / f"summary_weeks_{n_rows}_seed{seed}.parquet"


def note(path: Path) -> dict | None:
    """The note written beside a prepared input (``<file>.json``: rows, customers, seed), or
    None when the input is not (completely) prepared.

    The note is written last, so its presence means the Parquet file is complete. Reading it
    needs no pyarrow: the runner stays small (see ``bench/README.md``, Memory).
    """
    try:
        found = json.loads(Path(f"{path}.json").read_text())
    except (OSError, ValueError):
        return None
    return found if Path(path).exists() else None


def _write_note(path: Path, **fields) -> None:
    Path(f"{path}.json").write_text(json.dumps(fields))


def _atomic_write(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}.json").unlink(missing_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    frame.to_parquet(tmp, index=frame.index.name is not None)
    tmp.replace(path)


def write_transactions(n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """Generate the log of ``n_rows`` rows unless it is prepared already; return its path."""
    path = transactions_path(n_rows, data_dir, seed)
    if (note(path) or {}).get("rows") == n_rows:
        return path
    from retention_utils.synthetic import generate_transactions_large

    frame = generate_transactions_large(n_rows, rows_per_customer=ROWS_PER_CUSTOMER, seed=seed)
    frame = frame.sort_values("order_date", kind="stable", ignore_index=True)
    _atomic_write(frame, path)
    _write_note(path, rows=n_rows, customers=int(frame["customer_id"].nunique()), seed=seed)
    return path


def csv_copy(path: Path) -> Path:
    """A CSV copy of a Parquet log (same stem, ``.csv``), written by DuckDB once, then reused:
    the input of the loading case's CSV side."""
    target = path.with_suffix(".csv")
    if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
        import duckdb

        tmp = target.with_suffix(f".tmp{os.getpid()}.csv")
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{path}')) TO '{tmp}' "
                "(HEADER, DELIMITER ',', TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
            )
        tmp.replace(target)
    return target


def write_summary(n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """The RFM summary in weeks of the log of ``n_rows`` rows (built by the engine), cached."""
    path = summary_path(n_rows, data_dir, seed)
    if note(path) is not None:
        return path
    from retention_utils.engine import rfm_summary

    source = write_transactions(n_rows, data_dir, seed)
    summary = rfm_summary(str(source), **SUMMARY_UNIT)
    _atomic_write(summary, path)
    _write_note(path, rows=len(summary), customers=len(summary), seed=seed)
    return path


def surveys_path(source: str | int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    return Path(data_dir) / f"surveys_{source}_seed{seed}.parquet"


#: Survey responses per customer of the report-pack data (at most MAX_RESPONSES).
RESPONSE_SHARE = 0.05
MAX_RESPONSES = 50_000


def write_surveys(source: str | int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """Survey responses of the customers of ``source`` ("cdnow" or a log's row count).

    The report pack's satisfaction report links survey answers to later purchases, so its
    surveys must be about the same customers: 5% of customers (at most 50,000) answer once,
    1 to 14 days after one of their orders (never after the last transaction day), with
    CSAT 1-5, NPS 0-10 and CES 1-7 (some questions skipped) and a ``channel`` column.
    """
    import numpy as np
    import pandas as pd

    path = surveys_path(source, data_dir, seed)
    if note(path) is not None:
        return path
    if source == "cdnow":
        from retention_utils.io import load_cdnow

        tx = load_cdnow()[["customer_id", "order_date"]]
    else:
        tx = pd.read_parquet(write_transactions(int(source), data_dir, seed))
        tx = tx[["customer_id", "order_date"]]
    rng = np.random.default_rng(seed)
    customers = tx["customer_id"].nunique()
    n = max(50, min(MAX_RESPONSES, int(customers * RESPONSE_SHARE)))
    orders = tx.drop_duplicates("customer_id").sample(n=n, random_state=seed)
    last = tx["order_date"].max().normalize() + pd.Timedelta(hours=23)
    seconds = rng.integers(86_400, 15 * 86_400, n)
    response = (orders["order_date"] + pd.to_timedelta(seconds, unit="s")).clip(upper=last)

    def scores(low: int, probabilities: list[float], skip: float) -> pd.array:
        weights = np.array(probabilities) / sum(probabilities)
        values = low + rng.choice(len(weights), n, p=weights)
        return pd.array(np.where(rng.random(n) < skip, None, values), dtype="Int64")

    surveys = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy(),
            "response_date": response.to_numpy(),
            "csat": scores(1, [0.06, 0.09, 0.2, 0.35, 0.3], 0.1),
            "nps": scores(0, [0.03] * 5 + [0.05, 0.07, 0.15, 0.2, 0.2, 0.2], 0.1),
            "ces": scores(1, [0.04, 0.06, 0.1, 0.15, 0.25, 0.25, 0.15], 0.3),
            "channel": rng.choice(["email", "web", "app"], n, p=[0.5, 0.3, 0.2]),
        }
    ).sort_values("response_date", ignore_index=True)
    _atomic_write(surveys, path)
    _write_note(path, rows=len(surveys), customers=len(surveys), seed=seed)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.data {transactions,summary,surveys} SIZE [--data-dir DIR]``: prepare one
    input (SIZE: rows of the log, or ``cdnow`` for surveys) and print its path."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.data")
    parser.add_argument("kind", choices=["transactions", "summary", "surveys"])
    parser.add_argument("size", help="rows of the log (or 'cdnow' for surveys)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if args.kind == "surveys":
        size = args.size if args.size == "cdnow" else int(args.size)
        print(write_surveys(size, args.data_dir))
        return 0
    write = write_transactions if args.kind == "transactions" else write_summary
    print(write(int(args.size), args.data_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
