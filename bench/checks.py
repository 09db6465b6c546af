"""Same-result assertions between the sides of a case (run on the pickled results).

Each check takes ``{side: result}`` and returns a short description of what was compared;
it raises ``AssertionError`` when the results differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

#: Relative tolerance of the fitted parameters (weighted vs unweighted fit).
PARAMETER_RTOL = 1e-4


def _pairs(results: dict, baseline: str):
    for side, result in results.items():
        if side != baseline:
            yield side, result, results[baseline]


def check_rfm(results: dict, baseline: str = "lifetimes") -> str:
    """frequency, recency and T bit-for-bit; monetary_value to 1e-12 (summation order)."""
    for side, got, expected in _pairs(results, baseline):
        got, expected = got.sort_index(), expected.sort_index()
        exact = ["frequency", "recency", "T"]
        try:
            assert_frame_equal(got[exact], expected[exact], check_names=False)
            assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=0)
        except AssertionError as exc:
            raise AssertionError(f"{side} differs from {baseline}: {exc}") from None
    n = len(results[baseline])
    return f"{n:,} customers: frequency, recency, T identical; monetary_value within 1e-12"


def check_holdout(results: dict, baseline: str = "lifetimes") -> str:
    """Every column (lifetimes' names) within 1e-12 relative."""
    for side, got, expected in _pairs(results, baseline):
        got, expected = got.sort_index(), expected.sort_index()
        try:
            assert_frame_equal(got, expected[got.columns], check_exact=False, rtol=1e-12, atol=0)
        except AssertionError as exc:
            raise AssertionError(f"{side} differs from {baseline}: {exc}") from None
    n = len(results[baseline])
    return f"{n:,} customers: all 7 columns within 1e-12"


def check_fit(results: dict, baseline: str = "lifetimes") -> str:
    """BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) within 1e-4 relative."""
    worst = 0.0
    for side, got, expected in _pairs(results, baseline):
        for model in ("bgnbd", "gamma_gamma"):
            for name, value in expected[model].items():
                other = got[model][name]
                rel = abs(other - value) / abs(value)
                worst = max(worst, rel)
                if not rel <= PARAMETER_RTOL:
                    raise AssertionError(
                        f"{side} {model} {name} = {other!r} differs from {baseline} {value!r} "
                        f"(relative {rel:.1e} > {PARAMETER_RTOL:g})"
                    )
    params = results[baseline]
    shown = ", ".join(
        f"{k}={v:.4g}" for m in ("bgnbd", "gamma_gamma") for k, v in params[m].items()
    )
    return f"parameters equal within {PARAMETER_RTOL:g} (largest relative gap {worst:.1e}): {shown}"


KPI_COMPARED = [
    "customers_start",
    "customers_end",
    "new_customers",
    "churned",
    "returning",
    "revenue",
    "orders",
    "retention_rate",
    "churn_rate",
    "return_rate",
    "aov",
]


def check_kpi(results: dict, baseline: str = "pandas") -> str:
    """Every month: S, E, N, churned, returning, orders equal; money and rates to 1e-9."""
    expected = results[baseline]
    for side, got, _ in _pairs(results, baseline):
        got = got.reset_index(drop=True)
        if list(got["period"].astype(str)) != list(expected["period"].astype(str)):
            raise AssertionError(f"{side}: periods differ from {baseline}")
        if not (got["incomplete"].to_numpy() == expected["incomplete"].to_numpy()).all():
            raise AssertionError(f"{side}: incomplete flags differ from {baseline}")
        try:
            assert_frame_equal(
                got[KPI_COMPARED].astype(float),
                expected[KPI_COMPARED].astype(float),
                check_exact=False,
                rtol=1e-9,
                atol=1e-6,
            )
        except AssertionError as exc:
            raise AssertionError(f"{side} differs from {baseline}: {exc}") from None
    return f"{len(expected)} months x {len(KPI_COMPARED)} columns equal"


def check_cohort(results: dict, baseline: str = "pandas") -> str:
    """Same cohorts and counts; cells NaN in the toolkit (not observable) are NaN here too.

    The pandas pivot has NaN where an observable cell holds no customer; the toolkit has 0
    there, so those compare as 0.
    """
    expected = results[baseline]
    for side, got, _ in _pairs(results, baseline):
        exp = expected.reindex(index=got.index, columns=got.columns)
        if len(got.index) != len(expected.index) or not got.index.equals(expected.index):
            raise AssertionError(f"{side}: cohorts differ from {baseline}")
        if (expected.columns.difference(got.columns)).size:
            raise AssertionError(f"{side}: ages differ from {baseline}")
        if (got.isna() & exp.notna()).to_numpy().any():
            raise AssertionError(f"{side}: NaN where {baseline} has a count")
        a, b = got.fillna(0).to_numpy(), exp.fillna(0).to_numpy()
        if not np.array_equal(a, b):
            bad = int((a != b).sum())
            raise AssertionError(f"{side}: {bad} cells differ from {baseline}")
    toolkit = next(r for side, r in results.items() if side != baseline)
    observable = int(toolkit.notna().to_numpy().sum())
    return f"{len(expected)} cohorts, {observable} observable cells equal"


def check_load(results: dict, baseline: str = "pandas") -> str:
    """Every loaded column equals the file's: IDs as text, timestamps, amounts exactly."""
    expected = results[baseline]
    for side, got, _ in _pairs(results, baseline):
        if len(got) != len(expected):
            raise AssertionError(f"{side}: {len(got)} rows, {baseline} {len(expected)}")
        for column in expected.columns:
            want = expected[column]
            have = got[column]
            if column.endswith("_id"):
                want = want.astype(str)
            elif column == "order_date":
                want = want.astype("datetime64[us]")
            if not np.array_equal(have.to_numpy(), want.to_numpy()):
                raise AssertionError(f"{side}: column {column} differs from {baseline}")
    return f"{len(expected):,} rows x {len(expected.columns)} columns equal"


def check_intervals(results: dict, baseline: str = "toolkit") -> str:
    """Each total's interval holds the estimate (sum of predict_clv)."""
    result = results[baseline]
    for name, value in result["estimate"].items():
        low, high = result["totals"]["low"][name], result["totals"]["high"][name]
        if not low <= value <= high:
            raise AssertionError(f"{name}: estimate {value:,.1f} outside [{low:,.1f}, {high:,.1f}]")
    return "each total's 90 % interval holds its estimate"


def check_compare(results: dict, baseline: str = "toolkit") -> str:
    """The chosen model has the lowest bucket error among those with dropout identified."""
    table = results[baseline]["table"]
    rows = list(
        zip(table["model"], table["bucket_error"], table["dropout_identified"], strict=True)
    )
    eligible = [r for r in rows if r[2]] or rows
    best = min(eligible, key=lambda r: r[1])[0]
    if best != results[baseline]["chosen"]:
        raise AssertionError(f"chosen {results[baseline]['chosen']}, lowest bucket error {best}")
    return f"chosen: {best} (lowest bucket error among models with dropout identified)"


def check_scale(results: dict, baseline: str = "rfm") -> str:
    """The RFM summary has one row per customer the KPI table counts as new (the two
    queries count the customers of 100 million rows independently)."""
    rfm, kpi = results[baseline], results["kpi"]
    if rfm["customers"] != kpi["customers"]:
        raise AssertionError(
            f"rfm_summary has {rfm['customers']:,} customers, kpi_table counts "
            f"{kpi['customers']:,} new customers"
        )
    return f"{rfm['customers']:,} customers in both; {kpi['orders']:,} orders"


CHECKS = {
    "scale": check_scale,
    "spark": lambda results, baseline="duckdb": check_rfm(results, baseline),
    "spark_kpi": lambda results, baseline="duckdb": check_kpi(results, baseline),
    "intervals": check_intervals,
    "compare": check_compare,
    "rfm": check_rfm,
    "holdout": check_holdout,
    "fit": check_fit,
    "kpi": check_kpi,
    "cohort": check_cohort,
    "load": check_load,
}


def run_check(case: str, paths: dict, baseline: str) -> dict:
    """Load the pickled results and run the case's check: ``{"ok": bool, "detail": str}``."""
    results = {side: pd.read_pickle(path) for side, path in paths.items()}
    try:
        return {"ok": True, "detail": CHECKS[case](results, baseline)}
    except AssertionError as exc:
        return {"ok": False, "detail": str(exc)[:1500]}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.checks CASE BASELINE SIDE=PICKLE ...``: print the check as JSON.

    Run in its own process so that the runner never holds results (see ``bench/run.py``).
    """
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.checks")
    parser.add_argument("case", choices=sorted(CHECKS))
    parser.add_argument("baseline")
    parser.add_argument("results", nargs="+", metavar="SIDE=PICKLE")
    args = parser.parse_args(argv)
    paths = dict(item.split("=", 1) for item in args.results)
    print(json.dumps(run_check(args.case, paths, args.baseline)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
