"""Cohort matrices, retention curves and segment tests: hand-computed logs and an independent
pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import tx_frame
from scipy import stats as st

from retention_utils import cohorts
from retention_utils.cohorts import (
    cohort_matrix,
    cohort_table,
    compare_retention,
    retention_curve,
)
from retention_utils.stats import wilson_interval

#: Fields of the tuples below (order IDs are made up: each row is an order).
CHANNEL_LOG = ("customer_id", "order_date", "amount", "channel")

# Jan cohort: a, b, c. Feb cohort: d. Mar cohort: e. Observation end 15 April (April incomplete).
LOG = [
    ("a", "2024-01-03", 10.0, "web"),
    ("b", "2024-01-10", 20.0, "store"),
    ("c", "2024-01-20", 30.0, "web"),
    ("a", "2024-02-05", 5.0, "web"),
    ("b", "2024-02-06", 7.0, "store"),
    ("d", "2024-02-10", 50.0, "web"),
    ("a", "2024-03-01", 4.0, "store"),  # a stays in "web" (segment of the first purchase)
    ("b", "2024-03-02", -7.0, "store"),  # return-only day: revenue, not a purchase
    ("e", "2024-03-03", 9.0, "store"),
    ("c", "2024-04-02", 11.0, "web"),
    ("d", "2024-04-03", 12.0, "web"),
]
END = "2024-04-15"
#: Average curves over every cohort and age (the first cohort is left-censored by default).
ALL_COHORTS = {"include_left_censored": True, "min_cohorts": 1}


def test_customer_matrix_hand_computed_with_nan_for_unobservable_cells():
    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), observation_end=END)
    assert m.index.astype(str).tolist() == ["2024-01", "2024-02", "2024-03"]
    assert m.index.name == "cohort" and m.columns.name == "age"
    assert m.columns.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(
        m.to_numpy(), [[3, 2, 1], [1, 0, np.nan], [1, np.nan, np.nan]]
    )  # April (incomplete) is NaN; Feb cohort at age 1 (March) is an observed 0
    assert m.attrs["cohort_size"] == {"2024-01": 3, "2024-02": 1, "2024-03": 1}
    assert cohorts.cohort_sizes(m.iloc[1:]).tolist() == [1, 1]


def test_cohort_matrix_round_trips_through_parquet(tmp_path):
    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), observation_end=END)
    m.columns = m.columns.astype(str)  # Parquet column names are text
    m.reset_index().assign(cohort=lambda d: d["cohort"].astype(str)).to_parquet(tmp_path / "m.pq")
    back = pd.read_parquet(tmp_path / "m.pq")
    assert back.attrs["cohort_size"] == {"2024-01": 3, "2024-02": 1, "2024-03": 1}


def test_retention_is_a_fraction_of_cohort_size():
    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), normalize=True, observation_end=END)
    np.testing.assert_allclose(
        m.to_numpy(), [[1, 2 / 3, 1 / 3], [1, 0, np.nan], [1, np.nan, np.nan]]
    )


def test_include_incomplete_counts_the_cut_period():
    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), observation_end=END, include_incomplete=True)
    assert m.index.astype(str).tolist() == ["2024-01", "2024-02", "2024-03"]
    np.testing.assert_array_equal(
        m.to_numpy(), [[3, 2, 1, 1], [1, 0, 1, np.nan], [1, 0, np.nan, np.nan]]
    )


def test_complete_last_period_is_kept():
    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), observation_end="2024-04-30")
    assert m.loc[pd.Period("2024-01", "M"), 3] == 1
    assert m.loc[pd.Period("2024-02", "M"), 2] == 1


def test_revenue_matrix_and_cumulative_revenue_per_customer():
    tx = tx_frame(LOG, CHANNEL_LOG)
    rev = cohort_matrix(tx, metric="revenue", observation_end=END)
    np.testing.assert_allclose(
        rev.to_numpy(), [[60, 12, -3], [50, 0, np.nan], [9, np.nan, np.nan]]
    )  # Jan cohort in March: a's 4 and b's return of 7
    rel = cohort_matrix(tx, metric="revenue", normalize=True, observation_end=END)
    assert rel.iloc[0, 1] == pytest.approx(12 / 60)
    cum = cohort_matrix(
        tx, metric="revenue", normalize="size", cumulative=True, observation_end=END
    )
    np.testing.assert_allclose(
        cum.to_numpy(), [[20, 24, 23], [50, 50, np.nan], [9, np.nan, np.nan]]
    )


def test_weighted_retention_curve_hand_computed():
    curve = retention_curve(tx_frame(LOG, CHANNEL_LOG), observation_end=END, **ALL_COHORTS)
    assert curve["age"].tolist() == [0, 1, 2]
    assert curve["cohorts"].tolist() == [3, 2, 1]
    assert curve["customers"].tolist() == [5, 4, 3]
    assert curve["retained"].tolist() == [5, 2, 1]
    np.testing.assert_allclose(curve["retention"], [1.0, 0.5, 1 / 3])
    low, high = wilson_interval(np.array([5, 2, 1]), np.array([5, 4, 3]))
    np.testing.assert_allclose(curve["low"], low)
    np.testing.assert_allclose(curve["high"], high)
    # cumulative revenue per acquired customer: age 1 over Jan+Feb cohorts = (72 + 50) / 4
    np.testing.assert_allclose(curve["cumulative_revenue_per_customer"], [119 / 5, 122 / 4, 69 / 3])


def test_segments_use_value_on_first_purchase():
    tx = tx_frame(LOG, CHANNEL_LOG)
    m = cohort_matrix(tx, segment="channel", observation_end=END)
    assert m.index.names == ["segment", "cohort"]
    web = m.loc["web"]
    assert web.index.astype(str).tolist() == ["2024-01", "2024-02"]
    np.testing.assert_array_equal(web.to_numpy(), [[2, 1, 1], [1, 0, np.nan]])
    store = m.loc["store"]  # no store customer was acquired in February: no row
    assert store.index.astype(str).tolist() == ["2024-01", "2024-03"]
    np.testing.assert_array_equal(store.to_numpy(), [[1, 1, 0], [1, np.nan, np.nan]])
    curve = retention_curve(tx, segment="channel", observation_end=END, **ALL_COHORTS)
    web_curve = curve[curve["segment"] == "web"]
    assert web_curve["customers"].tolist() == [3, 3, 2]
    assert web_curve["retained"].tolist() == [3, 1, 1]
    only_web = cohort_matrix(tx, segment_col="channel", segment_value="web", observation_end=END)
    np.testing.assert_array_equal(only_web.to_numpy(), web.to_numpy())


def test_compare_retention_is_a_two_proportion_z_test():
    curve = pd.DataFrame(
        {
            "segment": ["web", "store"],
            "age": [3, 3],
            "customers": [400, 300],
            "retained": [120, 66],
            "retention": [0.30, 0.22],
        }
    )
    out = compare_retention(curve, age=3)
    row = out.iloc[0]
    assert row["segment"] == "store" and row["reference"] == "web"  # largest is the reference
    p_pool = (120 + 66) / 700
    z = (0.22 - 0.30) / math.sqrt(p_pool * (1 - p_pool) * (1 / 400 + 1 / 300))
    assert row["difference"] == pytest.approx(-0.08)
    assert row["p_value"] == pytest.approx(2 * st.norm.sf(abs(z)))
    se = math.sqrt(0.3 * 0.7 / 400 + 0.22 * 0.78 / 300)
    assert row["low"] == pytest.approx(-0.08 - 1.959964 * se, abs=1e-6)
    assert bool(row["significant"]) == (row["p_value"] < 0.05)
    small = pd.concat(
        [curve, pd.DataFrame({"segment": ["app"], "age": [3], "customers": [12], "retained": [6]})]
    )
    skipped = compare_retention(small, age=3)
    assert skipped["segment"].tolist() == ["store"] and skipped.attrs["skipped"] == ["app"]
    with pytest.raises(ValueError, match="split by segment"):
        compare_retention(curve.drop(columns="segment"))
    with pytest.raises(ValueError, match="No cohort is observable at age 9"):
        compare_retention(curve, age=9)
    with pytest.raises(ValueError, match="Reference segment 'app'"):
        compare_retention(curve, age=3, reference="app")


def test_compare_retention_tells_noise_from_a_real_difference():
    rng = np.random.default_rng(1)
    rows = []
    for channel, p in (("a", 0.5), ("b", 0.5), ("c", 0.2)):
        for i in range(600):
            cid = f"{channel}{i}"
            rows.append((cid, "2024-01-05", 10.0, channel))
            if rng.random() < p:
                rows.append((cid, "2024-02-05", 10.0, channel))
    curve = retention_curve(
        tx_frame(rows, CHANNEL_LOG), segment="channel", observation_end="2024-02-29", **ALL_COHORTS
    )
    out = compare_retention(curve, age=1, reference="a").set_index("segment")
    assert not out.loc["b", "significant"]
    assert out.loc["c", "significant"] and out.loc["c", "difference"] < -0.2


def censored_log() -> pd.DataFrame:
    """Six customers already buying every month when the data begin (January, channel "old"),
    then two new customers a month, one of whom buys again the next month only."""
    rows = [(f"p{i}", f"2024-{m:02d}-05", 10.0, "old") for i in range(6) for m in range(1, 7)]
    for m in (2, 3, 4):
        rows += [
            (f"n{m}a", f"2024-{m:02d}-10", 10.0, "new"),
            (f"n{m}b", f"2024-{m:02d}-11", 10.0, "new"),
        ]
        rows.append((f"n{m}a", f"2024-{m + 1:02d}-10", 10.0, "new"))
    return tx_frame(rows, CHANNEL_LOG)


def test_wilson_bounds_are_exact_at_all_and_no_successes():
    # 53 of 53 gave a high of 0.9999999999999999, so a first cohort adding 7 of 7 at age 0
    # "left the interval": "retention at month 0 would read 100% instead of 100%".
    low, high = wilson_interval(np.array([53, 0, 7]), np.array([53, 53, 7]))
    assert high[0] == 1.0 and high[2] == 1.0 and low[1] == 0.0
    single = wilson_interval(0, 5)
    assert single[0] == 0.0 and single[1] == pytest.approx(0.4344824603)


def test_first_cohort_is_listed_as_left_censored():
    tx = censored_log()
    assert cohort_matrix(tx, observation_end="2024-06-30").attrs["left_censored"] == ["2024-01"]
    complete = cohort_matrix(tx, observation_end="2024-06-30", data_start="2024-01-01")
    assert complete.attrs["left_censored"] == []
    later = cohort_matrix(tx, observation_end="2024-06-30", data_start="2024-02-15")
    assert later.attrs["left_censored"] == ["2024-01", "2024-02"]
    # A segment whose first customer comes after the data begin has no left-censored cohort.
    new = cohort_matrix(
        tx, segment_col="channel", segment_value="new", observation_end="2024-06-30"
    )
    assert new.index.astype(str).tolist()[0] == "2024-02" and new.attrs["left_censored"] == []
    assert cohort_matrix(tx_frame(LOG, CHANNEL_LOG)).attrs["left_censored"] == ["2024-01"]


def test_average_curve_leaves_out_the_left_censored_cohort_and_thin_ages():
    tx = censored_log()
    curve = retention_curve(tx, observation_end="2024-06-30")
    assert curve["age"].tolist() == [0, 1, 2]  # age 3 has two cohorts besides January
    assert curve["cohorts"].tolist() == [3, 3, 3]
    assert curve["customers"].tolist() == [6, 6, 6]
    np.testing.assert_allclose(curve["retention"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(curve["cumulative_revenue_per_customer"], [10.0, 15.0, 15.0])
    assert curve.attrs["left_censored"] == ["2024-01"] and curve.attrs["min_cohorts"] == 3
    # With January, age 2 would read 6 / 12 = 50 %, outside the interval of 0 / 6.
    assert curve.attrs["cautions"] == [
        "The first cohort (2024-01, 6 customers) is left out of the average retention curve and "
        "revenue per customer: it also holds customers who bought before the data begin. With "
        "it, retention at month 2 would read 50.0 % instead of 0.0 %."
    ]
    everyone = retention_curve(tx, observation_end="2024-06-30", include_left_censored=True)
    np.testing.assert_allclose(everyone["retention"], [1.0, 0.75, 0.5, 0.6])
    assert everyone.attrs["left_censored"] == [] and everyone.attrs["cautions"] == []
    every_age = retention_curve(tx, observation_end="2024-06-30", **ALL_COHORTS)
    np.testing.assert_allclose(every_age["retention"], [1, 0.75, 0.5, 0.6, 0.75, 1])  # climbs


def test_data_start_says_the_history_is_complete():
    tx = censored_log()
    complete = retention_curve(tx, observation_end="2024-06-30", data_start="2024-01-01")
    pd.testing.assert_frame_equal(
        complete,
        retention_curve(tx, observation_end="2024-06-30", include_left_censored=True),
    )
    late = retention_curve(tx, observation_end="2024-06-30", data_start="2024-02-15")
    assert late.empty and late.attrs["left_censored"] == ["2024-01", "2024-02"]
    assert late.attrs["cautions"] == [
        "The average retention curve is empty: no age is observed in 3 or more cohorts besides "
        "the left-censored one. If nobody bought before the data begin (a sample of new "
        "customers), set data_start to the first day of data to count that cohort."
    ]
    with pytest.raises(ValueError, match="min_cohorts must be a whole number >= 1, got 0."):
        retention_curve(tx, min_cohorts=0)
    with pytest.raises(ValueError, match="data_start='soon' is not a date"):
        cohort_matrix(tx, data_start="soon")


def test_bad_arguments():
    tx = tx_frame(LOG, CHANNEL_LOG)
    with pytest.raises(ValueError, match="metric must be 'customers' or 'revenue'"):
        cohort_matrix(tx, metric="orders")
    with pytest.raises(ValueError, match="normalize must be"):
        cohort_matrix(tx, normalize="total")
    with pytest.raises(ValueError, match="cumulative=True applies to metric='revenue'"):
        cohort_matrix(tx, cumulative=True)
    with pytest.raises(ValueError, match="freq must be one of"):
        cohort_matrix(tx, freq="D")


# --- agreement with an independent pandas computation -----------------------------------------


def random_log(seed: int = 11, n_customers: int = 300, n_rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2022-03-01") + pd.to_timedelta(rng.integers(0, 600, n_customers), "D")
    cust = rng.integers(0, n_customers, n_rows)
    when = first[cust] + pd.to_timedelta(rng.exponential(150, n_rows).astype(int), "D")
    amount = np.round(rng.gamma(2.0, 15.0, n_rows), 2)
    amount = np.where(rng.random(n_rows) < 0.08, -amount, amount)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in cust],
            "order_date": when,
            "amount": amount,
            "order_id": np.arange(n_rows).astype(str),
            "channel": np.array(["web", "store", "app"])[rng.integers(0, 3, n_rows)],
        }
    )


def reference_matrix(tx: pd.DataFrame, freq: str, observation_end, metric: str):
    end = pd.Timestamp(observation_end)
    cut = end + pd.Timedelta(days=1)
    tx = tx[tx["order_date"] < cut].assign(day=lambda d: d["order_date"].dt.normalize())
    daily = tx.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    daily["period"] = daily["day"].dt.to_period(freq)
    buys = daily[daily["amount"] > 0]
    cohort = buys.groupby("customer_id")["period"].min().rename("cohort")
    daily = daily.join(cohort, on="customer_id", how="inner")
    last_period = end.to_period(freq)
    last_complete = last_period if (last_period + 1).start_time <= cut else last_period - 1
    cohorts = sorted(c for c in cohort.unique() if c <= last_complete)
    max_age = (last_complete - min(cohorts)).n
    out = pd.DataFrame(np.nan, index=pd.PeriodIndex(cohorts, freq=freq), columns=range(max_age + 1))
    for c in cohorts:
        members = daily[daily["cohort"] == c]
        for k in range(max_age + 1):
            p = c + k
            if p > last_complete:
                continue
            cell = members[members["period"] == p]
            if metric == "customers":
                out.loc[c, k] = cell.loc[cell["amount"] > 0, "customer_id"].nunique()
            else:
                out.loc[c, k] = cell["amount"].sum()
    return out


@pytest.mark.parametrize(
    ("freq", "observation_end", "metric"),
    [
        ("M", "2024-02-14", "customers"),
        ("M", "2024-02-29", "revenue"),
        ("W", "2023-06-30", "customers"),
        ("Q", "2023-12-31", "revenue"),
    ],
)
def test_cohort_matrix_matches_independent_pandas(freq, observation_end, metric):
    tx = random_log()
    got = cohort_matrix(tx, freq=freq, metric=metric, observation_end=observation_end)
    ref = reference_matrix(tx, freq, observation_end, metric)
    assert got.index.astype(str).tolist() == ref.index.astype(str).tolist()
    assert got.columns.tolist() == ref.columns.tolist()
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(dtype=float), rtol=1e-9, atol=1e-9)
    sizes = ref[0].to_numpy()
    weighted = np.nansum(ref.to_numpy(), axis=0) / [
        sizes[ref[k].notna().to_numpy()].sum() for k in ref.columns
    ]
    if metric == "customers":
        curve = retention_curve(tx, freq=freq, observation_end=observation_end, **ALL_COHORTS)
        np.testing.assert_allclose(curve["retention"], weighted, rtol=1e-12)


def test_cohort_table_long_form_is_consistent():
    tx = random_log(seed=5, n_rows=800)
    table = cohort_table(tx, observation_end="2023-09-30")
    seen = table[table["observable"]]
    assert seen[["customers", "retention", "revenue"]].notna().all().all()
    unseen = table[~table["observable"]]
    assert unseen[["customers", "retention", "revenue"]].isna().all().all()
    np.testing.assert_allclose(seen["retention"], seen["customers"] / seen["cohort_size"])
    assert (seen.loc[seen["age"] == 0, "retention"] == 1.0).all()
    assert (table["period"] == table["cohort"] + table["age"]).all()


# --- plots -------------------------------------------------------------------------------------


def test_percent_ticks_and_labels_are_written_as_in_the_report_text():
    # numbers.format_figure writes "12.0 %"; chart ticks read "12%" before.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retention_utils.plots import percent_axis, percent_text

    fig, ax = plt.subplots()
    percent_axis(ax)
    assert ax.yaxis.get_major_formatter()(50, 0) == "50 %"
    assert (percent_text(12.345, 1), percent_text(float("nan"))) == ("12.3 %", "")
    plt.close(fig)


def test_heatmap_labels_percent_blank_cells_and_sizes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retention_utils.plots.cohorts import plot_cohort_heatmap

    m = cohort_matrix(tx_frame(LOG, CHANNEL_LOG), normalize=True, observation_end=END)
    ax = plot_cohort_heatmap(m)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["100 %", "67 %", "33 %", "100 %", "0 %", "100 %"]  # NaN cells stay blank
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["2024-01  (n=3)  left-censored", "2024-02  (n=1)", "2024-03  (n=1)"]
    assert "5 customers" in ax.get_xlabel() and "hatched: left-censored" in ax.get_xlabel()
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert [(p.get_y(), p.get_width()) for p in hatched] == [(0, 3)]  # the first row, whole
    complete = plot_cohort_heatmap(
        cohort_matrix(tx_frame(LOG, CHANNEL_LOG), observation_end=END, data_start="2024-01-01")
    )
    assert complete.get_yticklabels()[0].get_text() == "2024-01  (n=3)"
    assert not [p for p in complete.patches if p.get_hatch()]
    with pytest.raises(ValueError, match="pass segment=<value>"):
        plot_cohort_heatmap(
            cohort_matrix(tx_frame(LOG, CHANNEL_LOG), segment="channel", observation_end=END)
        )
    plt.close("all")


def test_curve_and_flow_plots_draw_the_numbers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retention_utils.kpis import kpi_table
    from retention_utils.plots.cohorts import plot_customer_flows, plot_retention_curves

    curve = retention_curve(tx_frame(LOG, CHANNEL_LOG), observation_end=END, **ALL_COHORTS)
    fig, ax = plt.subplots()
    assert plot_retention_curves(curve, ax=ax) is ax
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [100, 50, 100 / 3])
    assert "n=5" in ax.get_legend().get_texts()[0].get_text()
    kpi = kpi_table(tx_frame(LOG, CHANNEL_LOG), active_days=31, observation_end="2024-04-30")
    ax = plot_customer_flows(kpi)
    heights = [p.get_height() for p in ax.patches]
    n = len(kpi)
    assert heights[:n] == kpi["new_customers"].tolist()
    assert heights[2 * n :] == (-kpi["churned"]).tolist()
    plt.close("all")


def test_curve_plots_say_what_the_curve_leaves_out():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retention_utils.kpis import kpi_table
    from retention_utils.plots.cohorts import (
        plot_cumulative_revenue,
        plot_kpi_trends,
        plot_retention_curves,
    )

    tx = censored_log()
    ax = plot_retention_curves(retention_curve(tx, observation_end="2024-06-30"))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [100, 50, 0])
    notes = [t.get_text() for t in ax.texts]
    assert notes == [
        "bands: 95 % Wilson intervals; cohort 2024-01 left out (left-censored); ages seen in 3+ "
        "cohorts"
    ]
    empty = retention_curve(tx, observation_end="2024-06-30", data_start="2024-02-15")
    for plot in (plot_retention_curves, plot_cumulative_revenue):
        ax = plot(empty)
        assert [t.get_text() for t in ax.texts] == ["No age is observed in 3 or more cohorts"]
        assert not ax.lines and ax.get_legend() is None
    kpi = kpi_table(tx, active_days=31, observation_end="2024-06-30")
    ax = plot_kpi_trends(kpi)
    assert ax.lines[0].get_label() == "Retention, strict: retained / S"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), kpi["retention_strict"])
    plt.close("all")


# --- the notebook ------------------------------------------------------------------------------


def test_notebook_is_stored_clean_with_one_annotated_parameters_cell():
    import ast

    import nbformat

    from retention_utils.config import NOTEBOOK_DIR

    nb = nbformat.read(NOTEBOOK_DIR / "cohort_analysis.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    body = ast.parse(params[0].source).body
    assert body and all(isinstance(stmt, ast.AnnAssign) for stmt in body)
    names = {stmt.target.id for stmt in body}
    assert {
        "transactions",
        "subscriptions",
        "costs",
        "freq",
        "active_days",
        "observation_end",
    } <= names
    assert all("#" in line for line in params[0].source.splitlines() if line.strip())
    # papermill (--help-notebook, the batch runner) must see every parameter: it skips lines
    # holding more than one "=", so comments avoid "=".
    import papermill as pm

    declared = pm.inspect_notebook(str(NOTEBOOK_DIR / "cohort_analysis.ipynb"))
    assert set(declared) == names
    for cell in code:
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, ast.FunctionDef | ast.ClassDef) for n in ast.walk(tree))


def test_notebook_answers_first_with_thin_sections():
    import ast

    import nbformat

    from retention_utils.config import NOTEBOOK_DIR

    nb = nbformat.read(NOTEBOOK_DIR / "cohort_analysis.ipynb", as_version=4)
    title = nb.cells[0]
    assert title.source.startswith("# ") and len(title.source.splitlines()) <= 5
    appendix = [c for c in nb.cells if "appendix" in c.metadata.get("tags", [])]
    sources = [c.source for c in appendix]
    assert any(s.startswith("## Definitions") for s in sources)
    assert any(s.startswith("### Data quality") for s in sources)
    assert "report.report_table(quality)" in sources
    # No branching blocks outside the data-loading cell (the Spark rework owns that one).
    mine = [c for c in nb.cells if c.cell_type == "code" and "io.open_dataset(" not in c.source]
    for cell in mine:
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, ast.If) for n in ast.walk(tree)), cell.source
        assert "engine." not in cell.source and "print(" not in cell.source
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'compare_by: str = ""' in params.source and "compare_col" not in params.source
    assert 'subscriptions: str = ""' in params.source and 'costs: str = ""' in params.source


@pytest.mark.slow
def test_notebook_runs_on_demo_data(tmp_path):
    import nbformat
    import papermill as pm

    from retention_utils import io
    from retention_utils.config import NOTEBOOK_DIR
    from retention_utils.kpis import headline_period, kpi_table
    from retention_utils.record import read_cautions, read_headlines
    from retention_utils.survival import survival_curve

    out = tmp_path / "cohort_analysis.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK_DIR / "cohort_analysis.ipynb"),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o.text for o in outputs if o.get("name") == "stderr"]  # no warnings shown
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 10
    heads = {h["name"]: h for h in read_headlines(nb)}
    expected = {
        "customers",
        "revenue",
        "retention_strict_last",
        "churn_rate_last",
        "retention_age_3",
        "repeat_purchase_rate",
        "simple_clv",
        "nrr_last",
        "retention_on_age_1",
        "retention_on_or_after_age_1",
        "median_lifetime_days",
        "survival_lifespan_observed_years",
    }
    assert expected <= set(heads)
    kpi = kpi_table(io.open_dataset("demo"))
    assert heads["customers"]["value"] == int(kpi["new_customers"].sum())
    assert heads["revenue"]["value"] == pytest.approx(kpi["revenue"].sum())
    last = kpi[~kpi["incomplete"]].iloc[-1]
    assert headline_period(kpi).label == str(last["period"])  # the demo has two years
    assert heads["retention_strict_last"]["value"] == pytest.approx(last["retention_strict"])
    assert all(h["value"] is not None for h in heads.values())
    assert read_cautions(nb) == []  # the demo's first cohort does not move the curve
    texts = [o.get("text", "") for o in outputs] + [
        str(o.get("data", {}).get("text/plain", "")) for o in outputs
    ]
    assert not [t for t in texts if "Warning" in t]  # no raw warning text anywhere
    demo = io.open_dataset("demo")
    for mode in ("on", "on_or_after"):
        curve = retention_curve(demo, "M", mode=mode)
        at_1 = float(curve.loc[curve["age"] == 1, "retention"].iloc[0] * 100)
        assert heads[f"retention_{mode}_age_1"]["value"] == pytest.approx(at_1)
    assert heads["retention_on_age_1"]["value"] < heads["retention_on_or_after_age_1"]["value"]
    lifetime = survival_curve(demo, 365)
    assert heads["median_lifetime_days"]["value"] == lifetime.attrs["median_days"]
    assert "Log-rank test over 3 channel segments" in "".join(texts)


# --- revenue cohorts, counts, segments and headline figures ------------------------------------


def test_revenue_matrix_total_per_acquired_and_per_active_customer_hand_computed():
    tx = tx_frame(LOG, CHANNEL_LOG)
    total = cohorts.revenue_matrix(tx, observation_end=END)
    # Jan cohort (a, b, c): Jan 10 + 20 + 30; Feb a 5 + b 7; Mar a 4 + b's return -7.
    np.testing.assert_array_equal(
        total.to_numpy(), [[60, 12, -3], [50, 0, np.nan], [9, np.nan, np.nan]]
    )
    assert total.attrs["per"] is None and total.attrs["metric"] == "revenue"
    acquired = cohorts.revenue_matrix(tx, observation_end=END, per="acquired")
    np.testing.assert_allclose(
        acquired.to_numpy(), [[20, 4, -1], [50, 0, np.nan], [9, np.nan, np.nan]]
    )
    # ARPA: revenue over the cohort's customers buying then (Jan 3, 2, 1; Feb 1, 0; Mar 1).
    active = cohorts.revenue_matrix(tx, observation_end=END, per="active")
    np.testing.assert_allclose(
        active.to_numpy(), [[20, 6, -3], [50, np.nan, np.nan], [9, np.nan, np.nan]]
    )
    assert active.attrs["per"] == "active" and active.attrs["cohort_size"]["2024-01"] == 3
    with pytest.raises(ValueError, match="per must be None, 'acquired' or 'active'"):
        cohorts.revenue_matrix(tx, per="customer")


def test_retention_counts_hand_computed():
    out = cohorts.retention_counts(tx_frame(LOG, CHANNEL_LOG), observation_end=END)
    assert out[["cohort", "cohort_size", "age", "eligible", "retained"]].values.tolist() == [
        ["2024-01", 3, 0, 3, 3],
        ["2024-01", 3, 1, 3, 2],
        ["2024-01", 3, 2, 3, 1],
        ["2024-02", 1, 0, 1, 1],
        ["2024-02", 1, 1, 1, 0],
        ["2024-03", 1, 0, 1, 1],
    ]
    np.testing.assert_allclose(out["retention_pct"], [100, 200 / 3, 100 / 3, 100, 0, 100])
    assert out["left_censored"].tolist() == [True, True, True, False, False, False]


def test_segment_curve_or_the_reason_there_is_none():
    tx = tx_frame(LOG, CHANNEL_LOG)
    curve = cohorts.segment_curve(tx, "channel", observation_end=END, **ALL_COHORTS)
    assert sorted(curve["segment"].unique()) == ["store", "web"] and "reason" not in curve.attrs
    assert curve.attrs["segment"] == "channel"
    # web: a, c (Jan), d (Feb); at age 1: a of {a, c} and nobody of {d}: 1 of 3.
    web = curve[(curve["segment"] == "web") & (curve["age"] == 1)].iloc[0]
    assert (web["customers"], web["retained"]) == (3, 1)
    reasons = [
        cohorts.segment_curve(tx, by, observation_end=END).attrs["reason"] for by in ("", "region")
    ]
    assert reasons == [
        "No segment comparison: no comparison column was given (compare_by).",
        "No segment comparison: column 'region' is not in the data.",
    ]
    single = cohorts.segment_curve(tx.assign(channel="web"), "channel", observation_end=END)
    assert single.empty and single.attrs["reason"] == (
        "No segment comparison: fewer than two 'channel' segments have a curve to show."
    )


def test_cohort_headline_figures_hand_computed():
    tx = tx_frame(LOG, CHANNEL_LOG)
    curve = retention_curve(tx, observation_end=END, **ALL_COHORTS)
    # Age 1: Jan cohort 2 of 3, Feb cohort 0 of 1 -> 2 of 4.
    low, high = st.binomtest(2, 4).proportion_ci(0.95, method="wilson")
    assert cohorts.headline_figures(curve, age=1) == [
        {
            "name": "retention_age_1",
            "value": 50.0,
            "label": "Retention 1 month after acquisition (cohort average)",
            "unit": "%",
            "note": "4 customers in 2 cohorts",
            "low": pytest.approx(low * 100),
            "high": pytest.approx(high * 100),
        }
    ]
    [late] = cohorts.headline_figures(curve, age=5)
    assert late["value"] is None and late["note"] == "no cohort observed 5 months after acquisition"
    assert late["label"] == "Retention 5 months after acquisition (cohort average)"
    modes = cohorts.retention_curves_by_mode(tx, observation_end=END, **ALL_COHORTS)
    figures = {f["name"]: f for f in cohorts.mode_figures(modes)}
    assert figures["retention_on_age_1"]["value"] == 50.0
    # On or after month 1: a, b (February), c (April, before the observation end) of the
    # January cohort, and d (April) of February's: 4 of 4.
    assert figures["retention_on_or_after_age_1"]["value"] == 100.0
    assert figures["retention_on_or_after_age_1"]["label"] == (
        "Retention on or after month 1 (calendar)"
    )


def test_day_n_retention_hand_computed():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-09", 10.0),  # day 8: week 1
            ("a", "2024-01-30", 10.0),  # day 29: week 4
            ("b", "2024-01-03", 10.0),
            ("b", "2024-01-20", 10.0),  # day 17: week 2
            ("c", "2024-01-05", 10.0),
        ]
    )
    out = cohorts.day_n_retention(tx, "2024-03-31", data_start="2024-01-01", min_cohorts=1)
    # Week 13 ends on day 97, after the observation end for everyone: no row.
    assert out.values.tolist() == [
        [7, 3, 1, pytest.approx(100 / 3), 2, pytest.approx(200 / 3)],
        [14, 3, 1, pytest.approx(100 / 3), 2, pytest.approx(200 / 3)],
        [28, 3, 1, pytest.approx(100 / 3), 1, pytest.approx(100 / 3)],
        [56, 3, 0, 0.0, 0, 0.0],
    ]
    assert list(out.columns) == [
        "day",
        "eligible",
        "bought_in_week",
        "in_week_pct",
        "bought_since",
        "since_pct",
    ]
    # One weekly cohort, three needed by default: no curve, an empty table (not a KeyError).
    empty = cohorts.day_n_retention(tx, "2024-03-31", data_start="2024-01-01")
    assert empty.empty and list(empty.columns) == list(out.columns)


def test_mrr_flows_stack_each_movement_on_its_side_of_zero():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retention_utils.plots.cohorts import plot_mrr_flows

    mrr = pd.DataFrame(
        {
            "period": pd.period_range("2024-01", periods=2, freq="M"),
            "new_mrr": [10.0, 5.0],
            "expansion_mrr": [2.0, 0.0],
            "contraction_mrr": [1.0, 3.0],
            "churned_mrr": [4.0, 6.0],
        }
    )
    ax = plot_mrr_flows(mrr, currency="EUR")
    bars = [(p.get_y(), p.get_height()) for p in ax.patches]
    assert bars == [
        (0, 10), (0, 5), (10, 2), (5, 0), (0, -1), (0, -3), (-1, -4), (-3, -6)
    ]  # fmt: skip
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["new", "expansion", "contraction", "churned"]
    assert ax.get_xlabel() == "Period (month)"
    plt.close("all")
