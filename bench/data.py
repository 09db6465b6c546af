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


def engine_log_path(n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED) -> Path:
    """The log of ``n_rows`` rows written by DuckDB (see :func:`write_engine_log`)."""
    return Path(data_dir) / f"engine_transactions_{n_rows}_seed{seed}.parquet"


#: Seconds from 2024-01-01 00:00:00 to the end of 2025-12-31 (731 days).
ENGINE_LOG_SECONDS = 731 * 86_400
#: The engine's log: customers in all, and the loyal tenth that gets 40% of the rows.
LOYAL_SHARE, LOYAL_ROWS = 0.1, 0.4

#: One row per ``i`` of ``range(n)``; every random draw is ``hash(i or customer, seed, k)``,
#: so the file's content depends on the seed only (not on threads or chunking).
_ENGINE_LOG_SQL = """
WITH rows AS (
    SELECT
        i,
        CASE WHEN hash(i, {seed}, 1) % 1000 < {loyal_permille}
             THEN hash(i, {seed}, 2) % {loyal}
             ELSE hash(i, {seed}, 2) % {customers} END AS c
    FROM (SELECT range AS i FROM range({n_rows}))
)
SELECT
    'C' || lpad(CAST(c + 1 AS VARCHAR), 8, '0') AS customer_id,
    TIMESTAMP '2024-01-01' + to_seconds(CAST(i * {seconds} // {n_rows} AS BIGINT)) AS order_date,
    round((10 + (hash(c, {seed}, 3) % 9000) / 100) * (0.5 + (hash(i, {seed}, 4) % 1000) / 1000), 2)
        AS amount,
    'O' || lpad(CAST(i + 1 AS VARCHAR), 10, '0') AS order_id
FROM rows
"""


def write_engine_log(
    n_rows: int, data_dir: Path = DATA_DIR, seed: int = SEED, *, memory_limit: str = "2GB"
) -> Path:
    """A log of ``n_rows`` rows generated and written to Parquet by DuckDB (no pandas), for
    sizes that do not fit in memory: the input of the scale and Spark cases.

    ``n_rows / 5`` customers, 5 rows each on average (the loyal tenth about 23, the others
    about 3); ``order_date`` evenly spread over 2024-01-01 to 2025-12-31 in row order (so the
    file is sorted by date, as an export is), with times of day; ``amount`` 5.00 to 150.00
    (a level per customer times a factor per row, no returns); ``order_id`` unique. Written
    once, then reused (a note ``<file>.json`` beside it says it is complete).
    """
    path = engine_log_path(n_rows, data_dir, seed)
    if (note(path) or {}).get("rows") == n_rows:
        return path
    import duckdb

    customers = max(1, n_rows // ROWS_PER_CUSTOMER)
    sql = _ENGINE_LOG_SQL.format(
        seed=int(seed),
        n_rows=int(n_rows),
        customers=customers,
        loyal=max(1, int(customers * LOYAL_SHARE)),
        loyal_permille=int(LOYAL_ROWS * 1000),
        seconds=ENGINE_LOG_SECONDS,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}.json").unlink(missing_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{path.parent / '.duckdb_tmp'}'")
        con.execute(f"COPY ({sql}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
        found = con.execute(
            f"SELECT count(*), count(DISTINCT customer_id) FROM read_parquet('{tmp}')"
        ).fetchone()
    tmp.replace(path)
    _write_note(path, rows=int(found[0]), customers=int(found[1]), seed=seed)
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
    """``python -m bench.data {transactions,engine_log,summary,surveys} SIZE [--data-dir DIR]``: prepare one
    input (SIZE: rows of the log, or ``cdnow`` for surveys) and print its path."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.data")
    parser.add_argument("kind", choices=["transactions", "engine_log", "summary", "surveys"])
    parser.add_argument("size", help="rows of the log (or 'cdnow' for surveys)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if args.kind == "surveys":
        size = args.size if args.size == "cdnow" else int(args.size)
        print(write_surveys(size, args.data_dir))
        return 0
    write = {
        "transactions": write_transactions,
        "engine_log": write_engine_log,
        "summary": write_summary,
    }[args.kind]
    print(write(int(args.size), args.data_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
