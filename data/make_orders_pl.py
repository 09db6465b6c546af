"""Write data/sample/orders_pl.csv: the demo shop's first customers as a Polish shop exports them.

The rows are those of ``data/sample/transactions.csv`` for customers C00001 to C00080
(purchases and returns), amounts converted at 4.30 PLN per EUR and rounded to the grosz,
written the way Polish accounting software and Excel write a CSV: cp1250 encoding, ``;`` as
delimiter, decimal commas, a space between thousands, the currency after the number
(``1 234,50 zł``), day-first dates (``31.12.2024 14:05``), and a city column with Polish
letters. Deterministic: the same input gives the same file (``python data/make_orders_pl.py``).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd

from retention_utils.config import SAMPLE_DIR, SAMPLE_TRANSACTIONS

OUT = SAMPLE_DIR / "orders_pl.csv"
CUSTOMERS = 80
PLN_PER_EUR = 4.30
CITIES = [
    "Łódź",
    "Kraków",
    "Gdańsk",
    "Częstochowa",
    "Świnoujście",
    "Łomża",
    "Dąbrowa Górnicza",
    "Żyrardów",
    "Ćmielów",
    "Poznań",
    "Zielona Góra",
    "Wrocław",
]


def polish_amount(value: float) -> str:
    """``-1234.5`` -> ``-1 234,50 zł``."""
    whole, cents = divmod(round(abs(value) * 100), 100)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole:,}".replace(",", " ") + f",{cents:02d} zł"


def orders_pl(source: Path = SAMPLE_TRANSACTIONS) -> pd.DataFrame:
    """The Polish export as text cells, in the order of the demo file."""
    tx = pd.read_csv(source, dtype=str)
    first = [f"C{i:05d}" for i in range(1, CUSTOMERS + 1)]
    tx = tx[tx["customer_id"].isin(first)]
    number = tx["customer_id"].str[1:].astype(int)
    pln = (tx["amount"].astype(float) * PLN_PER_EUR).round(2)
    return pd.DataFrame(
        {
            "klient": "K" + tx["customer_id"].str[1:],
            "data": pd.to_datetime(tx["order_date"]).dt.strftime("%d.%m.%Y %H:%M"),
            "kwota": pln.map(polish_amount),
            "zamówienie": tx["order_id"],
            "miasto": [CITIES[n % len(CITIES)] for n in number],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output file")
    args = parser.parse_args()
    frame = orders_pl()
    with open(args.out, "w", encoding="cp1250", newline="") as handle:
        frame.to_csv(handle, sep=";", index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    print(f"{args.out}: {len(frame):,} rows")


if __name__ == "__main__":
    main()
