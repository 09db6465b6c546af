"""Uncertainty of the CLV models: parameter intervals that cover the truth on simulated data,
and intervals of P(alive), expected purchases and CLV that are the predictions' own formulas
evaluated at drawn parameters."""

from __future__ import annotations

import copy
import decimal

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from test_clv import synthetic_summary

from retention_utils import clv, engine
from retention_utils.clv import bgnbd, models, uncertainty
from retention_utils.io import load_cdnow

TRUTH = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.4}


@pytest.fixture(scope="module")
def cdnow():
    summary = engine.rfm_summary(load_cdnow(sample=True), freq="D", freq_multiplier=7)
    ggf = clv.fit_gamma_gamma(summary)
    return summary, ggf


def test_parameter_intervals_cover_the_truth_on_simulated_data():
    # 24 data sets of 1,500 customers simulated from BG/NBD with known parameters: the 90 %
    # intervals of the four parameters cover the truth in about 90 % of the 96 cases
    covered = []
    for seed in range(24):
        bgf = clv.fit_bgnbd(synthetic_summary(1500, seed=100 + seed, **TRUTH))
        table = clv.parameter_table(bgf, level=0.9).set_index("parameter")
        covered += [table.loc[k, "low"] <= v <= table.loc[k, "high"] for k, v in TRUTH.items()]
    share = np.mean(covered)
    # 90 % of 96 Bernoulli draws: 2.5 % and 97.5 % quantiles are 80 and 91 (83 % and 95 %)
    assert 0.80 <= share <= 0.97, share


def test_parameter_table_is_the_normal_approximation_in_log_space(cdnow):
    summary, ggf = cdnow
    bgf = clv.fit_bgnbd(summary)
    table = clv.parameter_table(bgf, ggf, level=0.8)
    assert table["model"].tolist() == ["BG/NBD"] * 4 + ["Gamma-Gamma"] * 3
    assert table.attrs["level"] == 0.8
    se_log = np.sqrt(np.diag(clv.log_covariance(bgf).to_numpy()))
    z = stats.norm.ppf(0.9)
    head = table.iloc[:4]
    assert_allclose(head["low"], bgf.params_.to_numpy() * np.exp(-z * se_log))
    assert_allclose(head["high"], bgf.params_.to_numpy() * np.exp(z * se_log))
    assert_allclose(head["se"], bgf.params_.to_numpy() * se_log)
    wider = clv.parameter_table(bgf, level=0.95)
    assert (wider["low"] < head["low"]).all() and (wider["high"] > head["high"]).all()
    with pytest.raises(
        ValueError, match=r"^level is a fraction in \(0, 1\) \(0\.9 for 90 %\), got 90\.$"
    ):
        clv.parameter_table(bgf, level=90)


@pytest.mark.parametrize("model", clv.MODELS)
def test_intervals_at_the_estimate_are_the_predictions(cdnow, model, monkeypatch):
    # with every draw at the estimate, each interval collapses onto predict_clv's value
    summary, ggf = cdnow
    fitter = clv.fit_model(summary, model)

    def at_estimate(fitted, *, method, draws, seed):
        return np.tile(models.params_of(fitted), (draws, 1))

    monkeypatch.setattr(uncertainty, "parameter_draws", at_estimate)
    got = clv.clv_intervals(
        summary, fitter, ggf, months=6, draws=3, monthly_discount_rate=0.02, margin=0.4
    )
    expected = clv.predict_clv(summary, fitter, ggf, 6, 0.02, margin=0.4)
    for name in ("p_alive", "expected_purchases", "clv"):
        assert_allclose(got[f"{name}_low"], expected[name], rtol=1e-9, atol=1e-12)
        assert_allclose(got[f"{name}_high"], expected[name], rtol=1e-9, atol=1e-12)
        assert_allclose(got.attrs["totals"].loc[name], expected[name].sum(), rtol=1e-9)


def test_laplace_intervals_on_cdnow(cdnow):
    summary, ggf = cdnow
    bgf = clv.fit_bgnbd(summary)
    predictions = clv.predict_clv(summary, bgf, ggf)
    customers = clv.customer_table(
        engine.customer_history(load_cdnow(sample=True)), summary, predictions
    )
    got = clv.clv_intervals(summary, bgf, ggf, groups=customers["segment"])
    again = clv.clv_intervals(summary, bgf, ggf, groups=customers["segment"])
    pd.testing.assert_frame_equal(got, again)  # the seed fixes the draws
    assert got.index.equals(summary.index)
    for name in ("p_alive", "expected_purchases", "clv"):
        low, high = got[f"{name}_low"], got[f"{name}_high"]
        assert (low <= high).all()
        inside = (low <= predictions[name] + 1e-9) & (predictions[name] <= high + 1e-9)
        assert inside.mean() > 0.95
        totals = got.attrs["totals"].loc[name]
        assert totals["low"] < predictions[name].sum() < totals["high"]
    one_time = summary["frequency"] == 0
    assert (got.loc[one_time, "p_alive_low"] == 1).all()  # BG/NBD: P(alive) = 1 by design
    table = clv.with_intervals(customers, got)
    assert list(table.columns[table.columns.get_loc("clv") :][:3]) == ["clv", "clv_low", "clv_high"]
    segments = clv.segment_summary(table)
    assert (segments["clv_low"] <= segments["clv"] + 1e-9).all()
    assert (segments["clv"] <= segments["clv_high"] + 1e-9).all()
    totals = clv.interval_totals(predictions, got)
    assert totals.loc["CLV", "estimate"] == pytest.approx(predictions["clv"].sum())
    narrower = clv.clv_intervals(summary, bgf, ggf, level=0.5)
    assert (narrower.attrs["totals"]["high"] < got.attrs["totals"]["high"]).all()


def test_bootstrap_intervals(cdnow):
    summary, ggf = cdnow
    pnbd = clv.fit_model(summary, "pareto_nbd")
    draws = uncertainty.parameter_draws(pnbd, method="bootstrap", draws=8, seed=1)
    assert draws.shape == (8, 4) and np.isfinite(draws).all()
    # the draws scatter around the estimate as its standard errors say
    table = clv.parameter_table(pnbd, level=0.999).set_index("parameter")
    assert ((draws > table["low"].to_numpy()) & (draws < table["high"].to_numpy())).all()
    got = clv.clv_intervals(summary, pnbd, ggf, method="bootstrap", draws=8, seed=1)
    predicted = clv.predict_clv(summary, pnbd, ggf)["clv"].sum()
    low, high = got.attrs["totals"].loc["clv"]
    assert 0.8 * predicted < low < high < 1.2 * predicted
    assert got.attrs["method"] == "bootstrap" and got.attrs["cautions"] == []


def test_clv_intervals_refuses_bad_options(cdnow):
    summary, ggf = cdnow
    bgf = clv.fit_bgnbd(summary)
    with pytest.raises(
        ValueError, match=r"^method must be 'laplace' or 'bootstrap', got 'mcmc'\.$"
    ):
        clv.clv_intervals(summary, bgf, ggf, method="mcmc")
    with pytest.raises(ValueError, match=r"^draws must be a whole number >= 2, got 1\.$"):
        clv.clv_intervals(summary, bgf, ggf, draws=1)


def test_intervals_say_when_the_parameters_cannot_be_drawn(cdnow):
    summary, ggf = cdnow
    bgf = clv.fit_bgnbd(summary)
    bgf.params_ = bgf.params_.copy()
    bgf.params_["a"], bgf.params_["b"] = 1.5e-6, 5560.0  # a flat likelihood: no covariance
    got = clv.clv_intervals(summary, bgf, ggf, draws=4)
    assert got["clv_low"].isna().all()
    assert got.attrs["cautions"] == [
        "No intervals of P(alive), expected purchases and CLV: the BG/NBD model's parameters "
        "cannot be drawn (its standard errors are not finite: the fit sits at the edge of its "
        "parameter space, see the parameter table)."
    ]


def _predictions_at(fitter, ggf, purchase_draw, spend_draw, summary, **options):
    """predict_clv with both models' parameters set to one draw (NaN draws give NaN)."""
    if np.isnan(purchase_draw).any() or np.isnan(spend_draw).any():
        nan = np.full(len(summary), np.nan)
        alive = nan.copy()
        purchases = nan.copy()
        if not np.isnan(purchase_draw).any():  # only the spend draw failed
            at = copy.deepcopy(fitter)
            at.params_ = pd.Series(purchase_draw, index=fitter.params_.index)
            kept = clv.predict_clv(summary, at, ggf, **options)
            alive, purchases = kept["p_alive"].to_numpy(), kept["expected_purchases"].to_numpy()
        return pd.DataFrame({"p_alive": alive, "expected_purchases": purchases, "clv": nan})
    at, spend = copy.deepcopy(fitter), copy.deepcopy(ggf)
    at.params_ = pd.Series(purchase_draw, index=fitter.params_.index)
    spend.params_ = pd.Series(spend_draw, index=ggf.params_.index)
    return clv.predict_clv(summary, at, spend, **options).reset_index(drop=True)


@pytest.mark.parametrize("model", clv.MODELS)
def test_intervals_equal_the_per_customer_computation_draw_by_draw(cdnow, model, monkeypatch):
    # The fast path (draws evaluated per distinct row, CLV linear in mean spend, totals from
    # row sums, quantiles by sorting) against predict_clv run draw by draw on every customer,
    # np.nanquantile over the draws: equal to 1e-10, failed draws included.
    summary, ggf = cdnow
    summary = summary.iloc[::3]  # 786 customers, repeated rows included
    fitter = clv.fit_model(summary, model)
    draws = 40
    purchase = uncertainty.parameter_draws(fitter, draws=draws, seed=5)
    spend = uncertainty.parameter_draws(ggf, draws=draws, seed=6)
    purchase[3] = np.nan  # a failed draw of the purchase model
    spend[7] = np.nan  # and of the spend model
    monkeypatch.setattr(
        uncertainty,
        "parameter_draws",
        lambda fitted, **_: purchase if fitted is fitter else spend,
    )
    options = {"months": 5, "monthly_discount_rate": 0.02, "margin": 0.6}
    groups = pd.Series(np.where(summary["frequency"] > 2, "often", "rarely"), index=summary.index)
    groups.iloc[:5] = None  # customers without a group count in the totals only
    got = clv.clv_intervals(
        summary,
        fitter,
        ggf,
        level=0.8,
        draws=draws,
        groups=groups,
        **{"months": 5, "monthly_discount_rate": 0.02, "margin": 0.6},
    )
    per_draw = [
        _predictions_at(fitter, ggf, purchase[d], spend[d], summary, **options)
        for d in range(draws)
    ]
    quantiles = [0.1, 0.9]
    for name in ("p_alive", "expected_purchases", "clv"):
        values = np.column_stack([p[name].to_numpy() for p in per_draw])  # customers x draws
        low, high = np.nanquantile(values, quantiles, axis=1)
        assert_allclose(got[f"{name}_low"], low, rtol=1e-10, atol=1e-13)
        assert_allclose(got[f"{name}_high"], high, rtol=1e-10, atol=1e-13)
        total_low, total_high = np.nanquantile(values.sum(axis=0), quantiles)
        assert_allclose(got.attrs["totals"].loc[name], [total_low, total_high], rtol=1e-10)
        if name == "p_alive":
            continue
        for label in ("often", "rarely"):
            sums = values[(groups == label).to_numpy()].sum(axis=0)
            assert_allclose(
                got.attrs["group_totals"].loc[label, [f"{name}_low", f"{name}_high"]],
                np.nanquantile(sums, quantiles),
                rtol=1e-10,
            )
    label = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}[model]
    assert got.attrs["cautions"] == [
        f"1 of 40 parameter draws of the {label} model failed (a refit that did not "
        "converge), so the intervals of P(alive), expected purchases and CLV rest on 39 draws.",
        "1 of 40 parameter draws of the Gamma-Gamma model failed (a refit that did not "
        "converge), so the intervals of CLV rest on 39 draws.",
    ]


def test_interval_bounds_are_numpys_quantiles():
    rng = np.random.default_rng(3)
    for n in (2, 7, 200):
        values = rng.normal(size=(50, n))
        for level in (0.5, 0.8, 0.9, 0.95, 0.999):
            got = uncertainty._quantiles(values, level)
            expected = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=1)
            np.testing.assert_array_equal(np.array(got), expected)


def _expected_if_alive_exactly(r, alpha, a, b, x, t_age, t) -> float:
    """FHL 2005 eq. 10 without P(alive), as printed (Gauss series of 2F1(r + x, b + x;
    a + b + x - 1; z), no transformation), in 60-digit decimal arithmetic."""
    with decimal.localcontext() as context:
        context.prec = 60
        r, alpha, a, b, x, t_age, t = (
            decimal.Decimal(float(v)) for v in (r, alpha, a, b, x, t_age, t)
        )
        z = t / (alpha + t_age + t)
        top, low, c = r + x, b + x, a + b + x - 1
        term = series = decimal.Decimal(1)
        n = 0
        while True:
            ratio = (top + n) * (low + n) / ((c + n) * (n + 1)) * z
            term *= ratio
            series += term
            n += 1
            # past the peak of the terms, the rest is below term * ratio / (1 - ratio)
            if 0 < ratio < 1 and abs(term) * ratio / (1 - ratio) < abs(series) * decimal.Decimal(
                "1e-45"
            ):
                break
        rest = (top * (1 - z).ln()).exp()
        return float(c / (a - 1) * (1 - rest * series))


HORIZON_CASES = {
    # CDNOW's estimates in weeks (FHL 2005), monthly steps of 30 days
    "cdnow, weeks": ((0.243, 4.414, 0.793, 2.426), 30 / 7, [0, 1, 7, 60, 200], [0.3, 6, 39, 260]),
    # the same customers in days: long T, large frequencies
    "cdnow, days": ((0.243, 30.9, 0.793, 2.426), 30.0, [0, 2, 35, 300], [2.0, 90, 1000]),
    # dropout not identified (UCI Online Retail): a near 0, b = 5,560; E / c is then about
    # (x + r) / c = 1e-4 of its terms (the formula's own condition), so 1e-12 becomes 1e-11
    "a near 0": ((0.5, 4.1, 1.5e-6, 5560.0), 30 / 7, [0, 1, 12, 61], [0.5, 20, 104]),
    # a > 1, and r > a + b (the transformed series changes sign: left to hyp2f1)
    "a above 1": ((0.9, 12.0, 2.5, 4.0), 30 / 7, [0, 3, 40], [1.0, 52]),
    "r above a + b": ((3.0, 6.0, 0.5, 0.3), 30 / 7, [0, 3, 40], [1.0, 52]),
}


@pytest.mark.parametrize("case", HORIZON_CASES)
def test_horizon_purchases_equal_a_60_digit_evaluation(case, monkeypatch):
    (r, alpha, a, b), month, frequencies, ages = HORIZON_CASES[case]
    x, t_age = (np.array(v, dtype=float).ravel() for v in np.meshgrid(frequencies, ages))
    steps = month * np.arange(1, 13)
    discount = 1.01 ** -np.arange(1, 13)
    weights = discount - np.append(discount[1:], 0.0)
    # two draws: the parameters, and the same with alpha 10 % larger
    params = (np.array([r, r]), np.array([alpha, 1.1 * alpha]), np.array([a, a]), np.array([b, b]))
    by_hyp2f1 = []
    direct = bgnbd.purchases_if_alive

    def counted(params, t, x, t_age):
        by_hyp2f1.append(len(x))
        return direct(params, t, x, t_age)

    monkeypatch.setattr(bgnbd, "purchases_if_alive", counted)
    final, total = bgnbd.purchases_over_horizon(params, x, t_age, steps, weights)
    assert final.shape == total.shape == (len(x), 2)
    for draw in range(2):
        expected = np.array(
            [
                [_expected_if_alive_exactly(r, params[1][draw], a, b, xi, ti, t) for t in steps]
                for xi, ti in zip(x, t_age, strict=True)
            ]
        )
        rtol = 2e-11 if case == "a near 0" else 1e-12
        assert_allclose(final[:, draw], expected[:, -1], rtol=rtol)
        assert_allclose(total[:, draw], expected @ weights, rtol=rtol)
    left_to_hyp2f1 = by_hyp2f1[0] if by_hyp2f1 else 0
    if case == "r above a + b":
        assert left_to_hyp2f1 == len(x)
    else:  # the series does the work but for customers younger than a month
        assert left_to_hyp2f1 <= (t_age < month).sum()


def test_alive_table_is_bgnbd_p_alive():
    rng = np.random.default_rng(4)
    frequencies = np.array([0.0, 1, 2, 30, 400])
    ages = np.array([0.0, 0.5, 3, 39, 104, 2000])
    params = (
        rng.uniform(0.2, 0.6, 5),
        rng.uniform(3, 40, 5),
        np.array([0.79, 1.5e-6, 0.02, 2.5, 0.3]),
        np.array([2.4, 5560.0, 1.7, 4.0, 0.8]),
    )
    x, t_age, t_x = rng.integers(0, 5, 300), rng.integers(0, 6, 300), rng.integers(0, 6, 300)
    t_x = np.where(frequencies[x] == 0, 0, np.minimum(t_x, t_age))  # recency <= T
    table = bgnbd.alive_table(params, frequencies, ages)
    got = table.p_alive(x, t_age, t_x)
    expected = bgnbd.p_alive(
        tuple(p[None, :] for p in params), frequencies[x, None], ages[t_x, None], ages[t_age, None]
    )
    assert_allclose(got, expected, rtol=1e-13, atol=0)
    assert (got[frequencies[x] == 0] == 1).all()
    # the odds as a product of a factor of (x, T) and one of (x, t_x): exact but for 400
    # purchases over 2,000 units, whose factors would overflow
    exact = table.exact_products()
    np.testing.assert_array_equal(exact, [True, True, True, True, False])
    with np.errstate(invalid="ignore"):  # inf * 0 at x = 400
        odds = table.odds_factors(x, t_age, recency=False)
        odds *= table.odds_factors(x, t_x, recency=True)
    by_product = bgnbd.from_odds(odds)
    assert_allclose(by_product[exact[x]], expected[exact[x]], rtol=1e-13, atol=0)
    assert (by_product[frequencies[x] == 0] == 1).all()


@pytest.mark.parametrize("sizes", [None, [2**40, 2**40, 2**40]])
def test_ranks_are_lexicographic(sizes):
    # the second case combines codes in two steps (one combined code would overflow)
    rng = np.random.default_rng(2)
    columns = [rng.integers(0, n, 5000) for n in (7, 40, 300)]
    ranks = uncertainty._ranks(columns, sizes or [7, 40, 300])
    frame = pd.DataFrame({"a": columns[0], "b": columns[1], "c": columns[2]})
    for k, rank in enumerate(ranks, start=1):
        expected = frame.groupby(list("abc"[:k]), sort=True).ngroup().to_numpy()
        np.testing.assert_array_equal(rank, expected)


def test_bgnbd_log_likelihood_by_distinct_values_is_the_row_formula(cdnow):
    # the 1-D path (terms per distinct frequency and age) against the formula row by row,
    # bit for bit, at parameter points around CDNOW's estimate (as the Hessian's)
    summary, _ = cdnow
    rows = summary[["frequency", "recency", "T"]].drop_duplicates().iloc[:300]
    x, t_x, t_age = (rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    points = np.exp(np.log([0.243, 4.414, 0.793, 2.426]) + np.linspace(-0.1, 0.1, 5)[:, None])
    params = tuple(points[:, [i]] for i in range(4))
    got = bgnbd.log_likelihood(params, x, t_x, t_age)
    by_row = np.column_stack(
        [
            bgnbd.log_likelihood(params, np.float64(xi), np.float64(ri), np.float64(ti))
            for xi, ri, ti in zip(x, t_x, t_age, strict=True)
        ]
    )
    np.testing.assert_array_equal(got, by_row)
    assert got.shape == (5, 300) and np.isfinite(got).all()


def test_alive_blocks_use_log_odds_where_the_odds_factors_would_overflow():
    # 2,000 purchases over 5,000 weeks: (alpha + T)^(r + x) is far beyond floating point
    f, t_age, r = np.array([0.0, 1, 3, 2000]), np.array([10.0, 20, 30, 5000]), [0.0, 5, 12, 4990]
    layout = uncertainty._layout(f, np.array(r), t_age, np.ones(4), None, pd.RangeIndex(4))
    params = tuple(np.array([[v, 1.1 * v]]) for v in (0.243, 4.414, 0.793, 2.426))
    alive = uncertainty._alive("bgnbd", models.FAMILIES["bgnbd"], params, layout)
    expected = bgnbd.p_alive(
        params, layout.frequency[:, None], layout.recency[:, None], layout.age[:, None]
    )
    assert 0.01 < expected[-1, 0] < 0.99
    assert_allclose(alive(slice(0, 3)), expected[:3], rtol=1e-13, atol=0)  # by the products
    assert_allclose(alive(slice(0, 4)), expected, rtol=1e-13, atol=0)  # by the log-odds
