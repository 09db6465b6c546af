"""What the toolkit is compared with: lifetimes, and plain pandas written the obvious way.

The pandas versions of the KPI table and the cohort matrix are what an analyst would write
from the definitions of SPEC section 4 with plain groupbys and one loop over periods: no
engine, no tricks. They support calendar months only (``freq="M"``) and data without
returns, which is what the benchmark generates; on such data they must give the same
numbers as :func:`retention_utils.kpis.kpi_table` and
:func:`retention_utils.cohorts.cohort_matrix` (checked in :mod:`bench.checks`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

CUSTOMER, DATE, AMOUNT, ORDER = "customer_id", "order_date", "amount", "order_id"


# --- lifetimes ----------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_lifetimes() -> Iterator[None]:
    """Hide the Pandas4Warning lifetimes emits on pandas 3 (that warning only)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=pd.errors.Pandas4Warning, module=r"lifetimes(\.|$)"
        )
        yield


def import_lifetimes():
    """lifetimes' utils and fitters (imported once per process, outside the timings)."""
    with warnings.catch_warnings():
        # its import sets a deprecated pandas option, which warns on pandas 3
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning)
        import lifetimes
        import lifetimes.utils
    return lifetimes


def lifetimes_summary(transactions: pd.DataFrame) -> pd.DataFrame:
    """``summary_data_from_transaction_data`` in days, with the monetary column."""
    lifetimes = import_lifetimes()
    with quiet_lifetimes():
        return lifetimes.utils.summary_data_from_transaction_data(
            transactions, CUSTOMER, DATE, monetary_value_col=AMOUNT
        )


def lifetimes_holdout(transactions: pd.DataFrame, calibration_end: str) -> pd.DataFrame:
    """``calibration_and_holdout_data`` in days, with the monetary column.

    lifetimes compares timestamps with ``calibration_period_end``; the toolkit's calibration
    end is a whole day (inclusive). The same split in lifetimes' terms is the last instant
    of that day, which is what is passed here (its period, and so every day count, is the
    same day). Without a monetary column lifetimes' function fails on pandas 3 (SPEC
    section 2), so it is always given one.
    """
    lifetimes = import_lifetimes()
    end_of_day = pd.Timestamp(calibration_end) + pd.Timedelta(days=1) - pd.Timedelta(1, "us")
    with quiet_lifetimes():
        return lifetimes.utils.calibration_and_holdout_data(
            transactions,
            CUSTOMER,
            DATE,
            calibration_period_end=end_of_day,
            monetary_value_col=AMOUNT,
        )


def lifetimes_fits(summary: pd.DataFrame) -> dict:
    """BG/NBD and Gamma-Gamma fitted on every row of the summary, without weights.

    Gamma-Gamma uses the repeat buyers with a positive spend, as the toolkit does.
    """
    lifetimes = import_lifetimes()
    f, r, t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    with quiet_lifetimes(), np.errstate(all="ignore"):
        bgf = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(f, r, t)
        ggf = lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(
            repeat["frequency"].to_numpy(dtype=float),
            repeat["monetary_value"].to_numpy(dtype=float),
        )
    return {
        "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
        "gamma_gamma": {k: float(v) for k, v in ggf.params_.items()},
        "rows_fitted": {"bgnbd": len(f), "gamma_gamma": len(repeat)},
    }


# --- plain pandas KPI table and cohort matrix ---------------------------------------------


def _purchase_days(transactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = transactions.assign(day=transactions[DATE].dt.normalize())
    daily = tx.groupby([CUSTOMER, "day"], as_index=False)[AMOUNT].sum()
    return tx, daily[daily[AMOUNT] > 0]


def kpi_table_pandas(transactions: pd.DataFrame, active_days: int = 365) -> pd.DataFrame:
    """Monthly retention KPIs (SPEC section 4) with plain pandas, one loop over months.

    Columns: ``period``, ``incomplete``, ``customers_start`` (S), ``customers_end`` (E),
    ``new_customers`` (N), ``churned``, ``returning``, ``revenue``, ``orders``,
    ``retention_rate``, ``churn_rate``, ``return_rate`` (percent; NaN for an incomplete last
    month or S = 0) and ``aov``.
    """
    tx, purchases = _purchase_days(transactions)
    first_day = purchases.groupby(CUSTOMER)["day"].min()
    last_day = tx["day"].max()
    cut = last_day + pd.Timedelta(days=1)  # end of the observed data, exclusive
    window = pd.Timedelta(days=active_days)

    def base(at: pd.Timestamp) -> pd.Index:
        recent = (purchases["day"] >= at - window) & (purchases["day"] < at)
        return pd.Index(purchases.loc[recent, CUSTOMER].unique())

    rows = []
    for period in pd.period_range(tx["day"].min(), last_day, freq="M"):
        start = period.start_time
        calendar_end = (period + 1).start_time
        end = min(calendar_end, cut)
        s, e = base(start), base(end)
        bought = (purchases["day"] >= start) & (purchases["day"] < end)
        active = pd.Index(purchases.loc[bought, CUSTOMER].unique())
        in_period = (tx["day"] >= start) & (tx["day"] < end)
        rows.append(
            {
                "period": period,
                "incomplete": calendar_end > cut,
                "customers_start": len(s),
                "customers_end": len(e),
                "new_customers": int(((first_day >= start) & (first_day < end)).sum()),
                "churned": len(s.difference(e)),
                "returning": len(s.intersection(active)),
                "revenue": float(tx.loc[in_period, AMOUNT].sum()),
                "orders": int(tx.loc[in_period, ORDER].nunique()),
            }
        )
    out = pd.DataFrame(rows)
    s = out["customers_start"].where(out["customers_start"] > 0)
    rates = {
        "retention_rate": (out["customers_end"] - out["new_customers"]) / s * 100,
        "churn_rate": out["churned"] / s * 100,
        "return_rate": out["returning"] / s * 100,
    }
    for name, values in rates.items():
        out[name] = values.where(~out["incomplete"])
    out["aov"] = out["revenue"] / out["orders"]
    return out


def cohort_matrix_pandas(transactions: pd.DataFrame) -> pd.DataFrame:
    """Monthly cohorts x months since acquisition: distinct customers with a purchase.

    Cohort = month of the first purchase day. An incomplete last month (the data end before
    its last day) is left out, as the toolkit does by default.
    """
    tx, purchases = _purchase_days(transactions)
    last_day = tx["day"].max()
    month = purchases["day"].dt.year * 12 + purchases["day"].dt.month - 1
    purchases = purchases.assign(month=month)
    if (last_day + pd.Timedelta(days=1)).day != 1:  # the last month is cut short
        purchases = purchases[purchases["month"] < last_day.year * 12 + last_day.month - 1]
    cohort = purchases.groupby(CUSTOMER)["month"].transform("min")
    purchases = purchases.assign(cohort=cohort, age=purchases["month"] - cohort)
    matrix = purchases.groupby(["cohort", "age"])[CUSTOMER].nunique().unstack("age")
    matrix.index = pd.PeriodIndex(
        [pd.Period(year=c // 12, month=c % 12 + 1, freq="M") for c in matrix.index],
        name="cohort",
    )
    return matrix.astype(float)
