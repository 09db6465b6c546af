"""Purchase models beside BG/NBD: MBG/NBD and Pareto/NBD (published CDNOW fit, equality with
lifetimes, finite conditional methods for frequent buyers) and the holdout model choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import integrate
from test_clv import CALIBRATION_END, OBSERVATION_END, synthetic_summary

from retention_utils import clv, engine
from retention_utils.clv import base, choice, models, pareto_nbd
from retention_utils.io import load_cdnow


@pytest.fixture(scope="module")
def cdnow_calibration() -> pd.DataFrame:
    return engine.calibration_holdout(
        load_cdnow(sample=True),
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        freq="D",
        freq_multiplier=7,
    )


@pytest.fixture(scope="module")
def cdnow_pareto(cdnow_calibration):
    return clv.fit_model(cdnow_calibration, "pareto_nbd")


@pytest.fixture(scope="module")
def comparison(cdnow_calibration):
    return clv.compare_models(cdnow_calibration)


# --- Pareto/NBD -----------------------------------------------------------------------------


def test_pareto_nbd_reproduces_the_published_cdnow_fit(cdnow_pareto):
    # Fader, Hardie & Lee (2005), "RFM and CLV", and Hardie's note 008: CDNOW sample in weeks
    assert isinstance(cdnow_pareto, base.lifetimes_classes()["ParetoNBDFitter"])
    assert_allclose(
        cdnow_pareto.params_[["r", "alpha", "s", "beta"]],
        [0.553, 10.578, 0.606, 11.669],
        atol=0.0006,
    )
    assert cdnow_pareto.info_.log_likelihood == pytest.approx(-9595.0, abs=0.05)
    assert cdnow_pareto.info_ == clv.FitInfo(
        model="pareto_nbd",
        penalizer=0.0,
        penalizer_ladder=(0.0,),
        tol=1e-7,
        n_customers=2357,
        n_repeat_buyers=946,
        unit_days=7,
        log_likelihood=cdnow_pareto.info_.log_likelihood,
    )
    assert cdnow_pareto.unit_days_ == 7 and cdnow_pareto.n_repeat_buyers_ == 946


def test_pareto_nbd_dropout_names_the_time_unit(cdnow_pareto):
    # beta / s = 11.669 / 0.606 = 19.3 weeks (the caution said "time units").
    identified, text = models.dropout_measure(cdnow_pareto)
    longest = cdnow_pareto.data["T"].max()
    assert identified and text == (
        "mean lifetime beta / s = 19 weeks, "
        f"{models._plain(cdnow_pareto.params_['beta'] / cdnow_pareto.params_['s'] / longest)} "
        "times the longest customer age"
    )


def test_pareto_nbd_equals_lifetimes_where_lifetimes_is_finite(cdnow_calibration, cdnow_pareto):
    data = base.rfm_arrays(cdnow_calibration)
    x, t_x, t_age = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    theirs = base.lifetimes_classes()["ParetoNBDFitter"]()
    theirs.params_ = cdnow_pareto.params_.copy()
    with base.quiet_lifetimes():
        assert_allclose(
            cdnow_pareto.conditional_probability_alive(x, t_x, t_age),
            theirs.conditional_probability_alive(x, t_x, t_age),
            rtol=1e-10,
        )
        assert_allclose(
            cdnow_pareto.predict(39, x, t_x, t_age),
            theirs.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, t_age),
            rtol=1e-10,
        )


def _p_alive_by_quadrature(params, x, t_x, t_age):
    """P(alive) from the likelihood's integral over the lifetime (FHL note 009, eq. 16),
    evaluated independently in log space with scipy's adaptive quadrature.

    P(dead) / P(alive) = s * int_{t_x}^{T} (alpha + u)^-(r + x) (beta + u)^-(s + 1) du
    / ((alpha + T)^-(r + x) (beta + T)^-s); the integrand is scaled by its value at t_x.
    """
    r, alpha, s, beta = params

    def scaled(u):
        return np.exp(
            -(r + x) * (np.log(alpha + u) - np.log(alpha + t_x))
            - (s + 1) * (np.log(beta + u) - np.log(beta + t_x))
        )

    width = (alpha + t_x) / (r + x + s + 1)  # the integrand decays over this length
    end = min(t_age, t_x + 200 * width)
    integral, _ = integrate.quad(scaled, t_x, end, epsabs=0, epsrel=1e-12, limit=200)
    log_odds_dead = (
        np.log(s)
        - (r + x) * np.log(alpha + t_x)
        - (s + 1) * np.log(beta + t_x)
        + np.log(integral)
        + (r + x) * np.log(alpha + t_age)
        + s * np.log(beta + t_age)
    )
    return 1 / (1 + np.exp(log_odds_dead))


@pytest.mark.parametrize(
    ("x", "t_x", "t_age"),
    [
        (2, 30.43, 38.86),
        (60, 70.0, 78.0),
        (300, 400.0, 420.0),
        (2000, 1500.0, 1510.0),
        (5000, 700.0, 702.0),
        (20000, 729.0, 730.0),
    ],
)
@pytest.mark.parametrize(
    "params",
    [(0.553, 10.578, 0.606, 11.669), (0.9, 40.0, 0.3, 6.0), (0.3, 5.0, 2.0, 300.0)],
)
def test_pareto_nbd_conditional_methods_for_frequent_buyers(params, x, t_x, t_age):
    fitter = pareto_nbd.fitter_class()()
    fitter.params_ = pd.Series(params, index=["r", "alpha", "s", "beta"])
    got = fitter.conditional_probability_alive(x, t_x, t_age)
    assert np.isfinite(got)
    assert got == pytest.approx(_p_alive_by_quadrature(params, x, t_x, t_age), rel=1e-8)
    r, alpha, s, beta = params
    expected = (
        got
        * (r + x)
        * (beta + t_age)
        / ((alpha + t_age) * (s - 1))
        * (1 - ((beta + t_age) / (beta + t_age + 52)) ** (s - 1))
    )  # note 009, eq. 41
    assert fitter.conditional_expected_number_of_purchases_up_to_time(
        52, x, t_x, t_age
    ) == pytest.approx(expected, rel=1e-8)


def test_lifetimes_pareto_nbd_is_not_finite_for_frequent_buyers():
    # what the log-space module fixes: with alpha < beta, lifetimes' hypergeometric series
    # overflow from a few thousand repeat purchases (NaN)
    theirs = base.lifetimes_classes()["ParetoNBDFitter"]()
    theirs.params_ = pd.Series([0.3, 5.0, 2.0, 300.0], index=["r", "alpha", "s", "beta"])
    with base.quiet_lifetimes():
        assert np.isnan(theirs.conditional_probability_alive(5000, 700.0, 702.0))
        assert np.isnan(
            theirs.conditional_expected_number_of_purchases_up_to_time(10, 5000, 700.0, 702.0)
        )
    ours = pareto_nbd.fitter_class()()
    ours.params_ = theirs.params_
    assert ours.conditional_probability_alive(5000, 700.0, 702.0) == pytest.approx(
        0.0024843070555618484, rel=1e-9
    )  # the quadrature's value


def test_pareto_nbd_purchase_probabilities(cdnow_pareto, cdnow_calibration):
    params = models.params_of(cdnow_pareto)
    total = sum(pareto_nbd.probability_of_purchases(params, [30.0, 70.0], n) for n in range(400))
    assert_allclose(total, 1.0, atol=1e-10)
    # E[X(t)] = sum_n n P(X(t) = n) equals the closed form of note 009 (eq. 27)
    mean = sum(n * pareto_nbd.probability_of_purchases(params, [30.0], n)[0] for n in range(400))
    r, alpha, s, beta = params
    assert mean == pytest.approx(
        r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + 30)) ** (s - 1))
    )
    table = clv.period_transactions(cdnow_calibration, cdnow_pareto)
    assert table["expected"].sum() == pytest.approx(len(cdnow_calibration))


# --- MBG/NBD --------------------------------------------------------------------------------


def test_mbgnbd_equals_lifetimes_unweighted_fit(cdnow_calibration):
    ours = clv.fit_model(cdnow_calibration, "mbgnbd")
    data = base.rfm_arrays(cdnow_calibration)
    with base.quiet_lifetimes():
        theirs = base.lifetimes_classes()["ModifiedBetaGeoFitter"]().fit(
            data["frequency"], data["recency"], data["T"]
        )
    assert type(ours).__name__ == "ModifiedBetaGeoFitter"
    assert_allclose(ours.params_, theirs.params_, rtol=1e-4)
    x, t_x, t_age = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    params = models.params_of(ours)
    with base.quiet_lifetimes():
        assert_allclose(
            clv.mbgnbd.p_alive(params, x, t_x, t_age),
            ours.conditional_probability_alive(x, t_x, t_age),
            rtol=1e-12,
        )
        assert_allclose(
            clv.mbgnbd.p_alive(params, x, t_x, t_age)
            * clv.mbgnbd.purchases_if_alive(params, 39, x, t_age),
            ours.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, t_age),
            rtol=1e-10,
        )
        for n in range(4):
            assert clv.mbgnbd.probability_of_purchases(params, [30.0], n)[0] == pytest.approx(
                ours.probability_of_n_purchases_up_to_time(30.0, n), rel=1e-10
            )
    # total log-likelihood: lifetimes' mean negative log-likelihood times the customers
    with base.quiet_lifetimes():
        mean_nll = ours._negative_log_likelihood(
            np.log(params), x, t_x, t_age, np.ones(len(x)), 0.0
        )
    assert ours.info_.log_likelihood == pytest.approx(-mean_nll * len(x), rel=1e-12)


def test_bgnbd_formulas_equal_lifetimes(cdnow_calibration):
    bgf = clv.fit_model(cdnow_calibration, "bgnbd")
    data = base.rfm_arrays(cdnow_calibration)
    x, t_x, t_age = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    params = models.params_of(bgf)
    with base.quiet_lifetimes():
        assert_allclose(
            clv.bgnbd.p_alive(params, x, t_x, t_age),
            bgf.conditional_probability_alive(x, t_x, t_age),
            rtol=1e-12,
        )
        assert_allclose(
            clv.bgnbd.p_alive(params, x, t_x, t_age)
            * clv.bgnbd.purchases_if_alive(params, 39, x, t_age),
            bgf.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, t_age),
            rtol=1e-10,
        )
    assert bgf.info_.log_likelihood == pytest.approx(clv.bgnbd_log_likelihood(bgf), rel=1e-12)


def test_log_covariance_equals_lifetimes_variance_in_log_space(cdnow_calibration):
    # lifetimes' variances are params^2 times the diagonal of the inverse Hessian in
    # log-parameters (its off-diagonal terms scale by one parameter only, so they differ)
    bgf = clv.fit_model(cdnow_calibration, "bgnbd")
    with base.quiet_lifetimes():
        theirs = np.diag(bgf.variance_matrix_.to_numpy()) / bgf.params_.to_numpy() ** 2
    assert_allclose(np.diag(clv.log_covariance(bgf).to_numpy()), theirs, rtol=2e-3)


def test_fit_model_refusals():
    with pytest.raises(
        ValueError, match=r"^model must be one of 'bgnbd', 'mbgnbd', 'pareto_nbd', got 'nbd'\.$"
    ):
        clv.fit_model(synthetic_summary(50, seed=1), "nbd")
    few = synthetic_summary(40, seed=1)
    few["frequency"] = 0.0
    few["recency"] = 0.0
    few.iloc[:3, few.columns.get_loc("frequency")] = 1.0
    few.iloc[:3, few.columns.get_loc("recency")] = 5.0
    with pytest.raises(clv.ModelDataError) as error:
        clv.fit_model(few, "pareto_nbd")
    assert str(error.value) == (
        "Only 3 of 40 customers made a repeat purchase, and the Pareto/NBD model needs at "
        "least 10 to estimate its parameters: use a longer observation period or more "
        "customers (e.g. no segment filter)."
    )


def test_weighted_pareto_fit_equals_the_fit_of_every_customer():
    summary = synthetic_summary(600, seed=5)
    weighted = clv.fit_model(summary, "pareto_nbd")
    rows = summary.reset_index(drop=True)[["frequency", "recency", "T"]].assign(weights=1)
    every = pareto_nbd.fit(rows, 0.0, 1e-7)
    assert_allclose(weighted.params_, every.params_, rtol=1e-4)


# --- model choice -----------------------------------------------------------------------------


def test_compare_models_by_hand(cdnow_calibration, comparison):
    cal = cdnow_calibration
    assert list(comparison.columns) == [
        "model",
        "log_likelihood",
        "n_params",
        "bic",
        "holdout_actual",
        "holdout_predicted",
        "holdout_error",
        "bucket_error",
        "dropout_identified",
        "chosen",
    ]
    table = comparison.set_index("model")
    actual = cal["frequency_holdout"].astype(float)
    bucket = cal["frequency_cal"].clip(upper=7).astype(int)
    duration = cal["duration_holdout"].iloc[0]
    for model, fitter_name in (
        ("bgnbd", "BetaGeoFitter"),
        ("mbgnbd", "ModifiedBetaGeoFitter"),
    ):
        # lifetimes' own unweighted fit and prediction, bucketed with plain pandas
        with base.quiet_lifetimes():
            fitter = base.lifetimes_classes()[fitter_name]().fit(
                cal["frequency_cal"], cal["recency_cal"], cal["T_cal"]
            )
            predicted = fitter.predict(
                duration, cal["frequency_cal"], cal["recency_cal"], cal["T_cal"]
            )
            mean_nll = fitter._negative_log_likelihood(
                np.log(fitter.params_.to_numpy()),
                cal["frequency_cal"].to_numpy(float),
                cal["recency_cal"].to_numpy(float),
                cal["T_cal"].to_numpy(float),
                np.ones(len(cal)),
                0.0,
            )
        frame = pd.DataFrame({"bucket": bucket, "actual": actual, "predicted": predicted})
        means = frame.groupby("bucket")[["actual", "predicted"]].mean()
        row = table.loc[model]
        log_likelihood = -mean_nll * len(cal)
        assert row["log_likelihood"] == pytest.approx(log_likelihood, abs=0.01)
        assert row["bic"] == pytest.approx(-2 * log_likelihood + 4 * np.log(2357), abs=0.02)
        assert row["holdout_actual"] == actual.sum() == 1882
        assert row["holdout_predicted"] == pytest.approx(predicted.sum(), rel=1e-4)
        assert row["holdout_error"] == pytest.approx(
            100 * (predicted.sum() - 1882) / 1882, abs=0.01
        )
        assert row["bucket_error"] == pytest.approx(
            (means["predicted"] - means["actual"]).abs().mean(), rel=1e-3
        )
    assert table.loc["bgnbd", "log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert table.loc["pareto_nbd", "log_likelihood"] == pytest.approx(-9595.0, abs=0.05)
    assert table["dropout_identified"].all()
    # the lowest bucket error among models that identify dropout
    assert table["chosen"].sum() == 1
    assert table["bucket_error"].idxmin() == "pareto_nbd" == comparison.attrs["chosen"]
    assert comparison.attrs["cautions"] == []
    assert comparison.attrs["reason"] == (
        "Pareto/NBD is used: among the models that identify customer dropout it predicted "
        "the holdout purchases of each frequency group most closely (mean error "
        f"{table.loc['pareto_nbd', 'bucket_error']:.3f} purchases per customer, against "
        f"{table.loc['bgnbd', 'bucket_error']:.3f} for BG/NBD, "
        f"{table.loc['mbgnbd', 'bucket_error']:.3f} for MBG/NBD)."
    )
    by_frequency = comparison.attrs["by_frequency"]
    assert by_frequency["customers"].tolist() == bucket.value_counts().sort_index().tolist()
    assert clv.chosen_model(comparison) == "pareto_nbd"
    assert clv.chosen_model(comparison, "mbgnbd") == "mbgnbd"


def test_choice_skips_a_bgnbd_without_dropout_and_says_so(cdnow_calibration, monkeypatch):
    real = models.dropout_measure

    def no_bgnbd_dropout(fitter):
        if models.family_of(fitter)[0] == "bgnbd":
            return False, "a / (a + b) = 0.000000001 per purchase"
        return real(fitter)

    monkeypatch.setattr(models, "dropout_measure", no_bgnbd_dropout)
    out = clv.compare_models(cdnow_calibration, ("bgnbd", "mbgnbd"))
    assert out["dropout_identified"].tolist() == [False, True]
    assert out["chosen"].tolist() == [False, True]  # although BG/NBD follows the holdout better
    assert out.attrs["cautions"] == [
        "BG/NBD does not identify customer dropout on these data (its P(alive) would be about "
        "1 for everyone), so the report uses MBG/NBD, which does."
    ]
    assert out.attrs["reason"].endswith("; BG/NBD does not identify dropout on these data.")


def test_predict_clv_with_each_model_and_margin(cdnow_calibration):
    summary = engine.rfm_summary(load_cdnow(sample=True), freq="D", freq_multiplier=7)
    ggf = clv.fit_gamma_gamma(summary)
    for model in clv.MODELS:
        fitter = clv.fit_model(summary, model)
        full = clv.predict_clv(summary, fitter, ggf)
        profit = clv.predict_clv(summary, fitter, ggf, margin=0.3)
        assert np.isfinite(full.to_numpy()).all()
        assert_allclose(profit["clv"], 0.3 * full["clv"], rtol=1e-12)
        assert_allclose(profit["expected_avg_value"], full["expected_avg_value"])
        assert profit.attrs["margin"] == 0.3
    with pytest.raises(ValueError, match=r"margin is the share of revenue that is profit"):
        clv.predict_clv(summary, fitter, ggf, margin=1.5)


def test_compare_models_refuses_one_time_buyers_in_one_sentence():
    calibration = synthetic_summary(60, seed=2).add_suffix("_cal")
    calibration["frequency_cal"] = 0.0
    calibration["recency_cal"] = 0.0
    calibration["frequency_holdout"] = 0.0
    calibration["duration_holdout"] = 26.0
    calibration.attrs["unit_days"] = 7
    with pytest.raises(clv.ModelDataError) as error:
        clv.compare_models(calibration)
    assert str(error.value).startswith(
        "All 60 customers are one-time buyers (frequency 0), and the BG/NBD model learns "
        "from repeat purchases"
    )


# --- fits from the distinct rows counted on the backend ----------------------------------


def test_fits_from_rfm_counts_equal_the_fits_of_every_customer():
    # rfm_counts leaves the backend with one row per distinct (frequency, recency, T): the
    # fits receive it as weights and give the parameters of the per-customer summary
    # (the published CDNOW BG/NBD fit)
    tx = load_cdnow(sample=True)
    tx = tx[tx["order_date"] <= CALIBRATION_END]  # the paper's 39-week calibration period
    counts = engine.rfm_counts(tx, freq="D", freq_multiplier=7)
    summary = engine.rfm_summary(tx, freq="D", freq_multiplier=7)
    assert len(counts) < len(summary) and counts["customers"].sum() == len(summary)
    for model in clv.MODELS:
        from_counts = clv.fit_model(counts, model)
        from_customers = clv.fit_model(summary, model)
        assert_allclose(from_counts.params_, from_customers.params_, rtol=1e-12)
        assert from_counts.info_ == from_customers.info_
    bgf = clv.fit_model(counts, "bgnbd")
    assert_allclose(bgf.params_, [0.243, 4.414, 0.793, 2.426], atol=0.0006)
    assert bgf.info_.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert bgf.info_.n_customers == 2357 and bgf.info_.n_repeat_buyers == 946
    assert bgf.info_.unit_days == 7
    bad = counts.assign(customers=0.5)
    with pytest.raises(ValueError, match=r"^The customers column of the counts must hold"):
        clv.fit_model(bad)


def test_compare_models_on_counted_rows_equals_the_per_customer_table(
    cdnow_calibration, comparison
):
    columns = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    counts = cdnow_calibration.groupby(columns, as_index=False).size()
    counts = counts.rename(columns={"size": "customers"})
    counts.attrs = dict(cdnow_calibration.attrs)
    assert len(counts) < len(cdnow_calibration)
    got = clv.compare_models(counts)
    pd.testing.assert_frame_equal(got, comparison, rtol=1e-9)
    pd.testing.assert_frame_equal(
        got.attrs["by_frequency"], comparison.attrs["by_frequency"], rtol=1e-9
    )
    assert got.attrs["chosen"] == comparison.attrs["chosen"]


def test_pareto_hypergeometric_terms_are_evaluated_once_per_frequency_and_age(
    cdnow_calibration, cdnow_pareto, monkeypatch
):
    data = base.rfm_arrays(cdnow_calibration)
    x, t_x, t_age = (data[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = models.params_of(cdnow_pareto)
    direct = pareto_nbd.log_likelihood(params, x, t_x, t_age)
    sizes = []
    log_hyp = pareto_nbd._log_hyp

    def counted(rsx, b, log_one_minus_z, z):
        sizes.append(np.size(z))
        return log_hyp(rsx, b, log_one_minus_z, z)

    monkeypatch.setattr(pareto_nbd, "_log_hyp", counted)
    got = pareto_nbd.log_likelihood(params, x, t_x, t_age)
    pairs = [len(pd.DataFrame({"x": x, "age": age}).drop_duplicates()) for age in (t_x, t_age)]
    assert sizes == pairs and max(pairs) < len(x) / 2
    np.testing.assert_array_equal(got, direct)
    # parameter draws of shape (draws, 1), as in the Hessian and the intervals
    draws = tuple(np.array([[v], [1.01 * v]]) for v in params)
    every_row = pareto_nbd._log_integral(draws, x, t_age)
    np.testing.assert_array_equal(pareto_nbd._log_integral_per_pair(draws, x, t_age), every_row)


def test_compare_models_equals_the_table_scored_customer_by_customer(
    cdnow_calibration, comparison, monkeypatch
):
    # the previous way: every hypergeometric term and every prediction on every customer's row
    monkeypatch.setattr(pareto_nbd, "_log_integral_per_pair", pareto_nbd._log_integral)
    monkeypatch.setattr(choice, "distinct_rows", lambda f, r, t: ((f, r, t), np.arange(len(f))))
    before = clv.compare_models(cdnow_calibration)
    pd.testing.assert_frame_equal(comparison, before, rtol=1e-12)
    pd.testing.assert_frame_equal(
        comparison.attrs["by_frequency"], before.attrs["by_frequency"], rtol=1e-12
    )
    assert comparison.attrs["reason"] == before.attrs["reason"]
