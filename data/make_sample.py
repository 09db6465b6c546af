"""Regenerate the embedded demo data in data/sample/ (run by `make data`).

The data come from `retention_utils.synthetic.generate_demo` with its default seed and true
parameters (documented in data/README.md); the tests check that the committed files equal a
fresh regeneration, so change the generator and these files together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retention_utils.config import SAMPLE_DIR
from retention_utils.synthetic import (
    DEMO_FILES,
    DEMO_SEED,
    REVIEWS_FILE,
    format_csv,
    generate_csat_reviews,
    generate_demo,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tables = generate_demo(seed=args.seed)
    for name, file_name in DEMO_FILES.items():
        path = args.out / file_name
        path.write_bytes(format_csv(tables[name]).encode("utf-8"))
        print(f"{path}: {len(tables[name]):,} rows, {path.stat().st_size / 1e6:.2f} MB")
    # The CSAT-only example follows the default demo shop, whatever --seed says.
    reviews = generate_csat_reviews()
    (args.out / REVIEWS_FILE).write_bytes(format_csv(reviews).encode("utf-8"))
    print(f"{args.out / REVIEWS_FILE}: {len(reviews):,} rows")


if __name__ == "__main__":
    main()
