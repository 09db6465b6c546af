"""How far to trust the CLV models: parameters with intervals, the model checks and their
caution sentences, and the fit to the calibration data."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from retention_utils.clv import mbgnbd, pareto_nbd
from retention_utils.clv.base import penalizer_needed, rfm_arrays
from retention_utils.clv.bgnbd import probability_of_purchases
from retention_utils.clv.gamma_gamma import CORRELATION_WARNING
from retention_utils.clv.holdout import HoldoutValidation, frequency_buckets
from retention_utils.clv.models import (
    dropout_detail,
    dropout_identified,
    dropout_measure,
    family_of,
    params_of,
    standard_errors_finite,
)

#: Fewer repeat buyers than this and the estimates are flagged as imprecise.
CAUTION_REPEAT_BUYERS = 100


#: Holdout error of total purchases (percent, either way) beyond which the model is flagged.
HOLDOUT_ERROR_CAUTION = 20.0
#: Gamma-Gamma ``q`` at or below which spend is too heavy-tailed for a stable average.
HEAVY_TAIL_Q = 2.0


class _Check(NamedTuple):
    """One model check: its name, figure (text), meaning, and caution sentence (None: ok)."""

    check: str
    value: str
    meaning: str
    caution: str | None


def _repeat_buyers_check(bgf) -> _Check:
    n_repeat, n = bgf.n_repeat_buyers_, bgf.n_customers_
    return _Check(
        "repeat buyers",
        f"{n_repeat:,} of {n:,}",
        "The purchase models learn from repeat purchases; with fewer than "
        f"{CAUTION_REPEAT_BUYERS} repeat buyers its parameters are imprecise.",
        f"Only {n_repeat:,} of {n:,} customers are repeat buyers (fewer than "
        f"{CAUTION_REPEAT_BUYERS}), so the model parameters are imprecise (see their "
        "intervals)."
        if n_repeat < CAUTION_REPEAT_BUYERS
        else None,
    )


def _penalizer_check(model: str, fitter) -> _Check:
    return _Check(
        f"{model} penalizer",
        f"{fitter.penalizer_coef:g}",
        "0 means a plain maximum-likelihood fit; a larger penalizer than asked for was "
        "needed to converge when the status is caution, and it shrinks the parameters.",
        f"The {model} fit converged only with a penalizer of {fitter.penalizer_coef:g} "
        f"(asked: {fitter.penalizer_ladder_[0]:g}), which shrinks its parameters towards 0, "
        "so check the holdout validation before relying on its predictions."
        if penalizer_needed(fitter)
        else None,
    )


def _dropout_check(bgf) -> _Check:
    label = family_of(bgf)[1].label
    value = dropout_measure(bgf)[1]
    return _Check(
        "dropout identified",
        value if standard_errors_finite(bgf) else value + "; standard errors not finite",
        "How much the data show customers stopping (BG/NBD, MBG/NBD: the chance of "
        "stopping after a purchase; Pareto/NBD: the mean lifetime). With no dropout (or "
        "standard errors that are not finite), P(alive) is about 1 for everyone and "
        "cannot flag churners.",
        None
        if dropout_identified(bgf)
        else f"The {label} fit does not identify customer dropout ({dropout_detail(bgf)}), "
        "so P(alive) is about 1 for everyone and cannot flag customers at risk: rank "
        "customers by CLV and expected purchases instead.",
    )


def _correlation_check(ggf) -> _Check:
    corr = getattr(ggf, "correlation_", float("nan"))
    return _Check(
        "spend independent of frequency",
        f"r = {corr:.2f}",
        "Gamma-Gamma assumes spend per purchase does not depend on how often a customer "
        f"buys; |r| >= {CORRELATION_WARNING} biases expected spend.",
        f"Frequency and spend per purchase are correlated (Pearson r = {corr:.2f} over "
        f"{ggf.n_customers_:,} repeat buyers), against the Gamma-Gamma assumption of "
        "independence, so expected spend and CLV are biased for frequent or infrequent "
        "buyers."
        if abs(corr) >= CORRELATION_WARNING
        else None,
    )


def _heavy_tail_check(ggf) -> _Check:
    q = float(ggf.params_["q"])
    return _Check(
        "spend distribution (Gamma-Gamma q)",
        f"q = {q:.2f}",
        f"q <= {HEAVY_TAIL_Q:g} means a heavy tail of big spenders: the average is unstable "
        "and a few customers drive total CLV.",
        f"Spend per purchase has a heavy tail (Gamma-Gamma q = {q:.2f}, at most "
        f"{HEAVY_TAIL_Q:g}), so a few big spenders drive total CLV and their values are "
        "uncertain."
        if q <= HEAVY_TAIL_Q
        else None,
    )


def _spend_cap_check(cap) -> _Check:
    return _Check(
        "spend cap (Gamma-Gamma fit)",
        f"{cap.quantile:.3g} quantile: {cap.value:,.2f}, {cap.customers:,} customers",
        "Average spends above this quantile were capped for the spend model's fit only "
        "(spend_cap); predictions use each customer's own average.",
        f"The spend model was fitted on average spends capped at {cap.value:,.2f} (the "
        f"{cap.quantile:.3g} quantile of repeat buyers) for {cap.customers:,} customers, so "
        "its mean spend is lower than the data's; predictions use each customer's own "
        "average."
        if cap.customers
        else None,
    )


def _holdout_check(validation: HoldoutValidation) -> _Check:
    totals = validation.totals.iloc[0]
    error = float(totals["error_pct"])
    meaning = (
        "Predicted minus actual repeat purchases in the holdout, in percent of actual; "
        f"within ±{HOLDOUT_ERROR_CAUTION:g} % the model is usable for planning totals."
    )
    if np.isnan(error):
        return _Check(
            "holdout total purchases",
            "no holdout purchase",
            meaning,
            "There is no repeat purchase in the holdout period, so the model could not be "
            "checked against it.",
        )
    return _Check(
        "holdout total purchases",
        f"{error:+.1f} % vs actual",
        meaning,
        f"The model's total of holdout purchases is {error:+.1f} % off the actual "
        f"({totals['predicted']:,.0f} predicted, {totals['actual']:,.0f} actual), beyond "
        f"±{HOLDOUT_ERROR_CAUTION:g} %, so its purchase and CLV figures are not reliable "
        "for planning."
        if abs(error) > HOLDOUT_ERROR_CAUTION
        else None,
    )


def _checks(bgf, ggf, validation) -> list[_Check]:
    checks = []
    if getattr(bgf, "n_repeat_buyers_", None) is not None:  # fitted by fit_bgnbd
        checks.append(_repeat_buyers_check(bgf))
    checks += [_penalizer_check(family_of(bgf)[1].label, bgf), _dropout_check(bgf)]
    if ggf is not None:
        checks += [
            _penalizer_check("Gamma-Gamma", ggf),
            _correlation_check(ggf),
            _heavy_tail_check(ggf),
        ]
        cap = getattr(ggf, "spend_cap_", None)
        if cap is not None and cap.quantile < 1:  # capped by the user: say so
            checks.append(_spend_cap_check(cap))
    if validation is not None:
        checks.append(_holdout_check(validation))
    return checks


def model_checks(bgf, ggf=None, validation: HoldoutValidation | None = None) -> pd.DataFrame:
    """When (not) to trust the models: one row per check, with a status and its meaning.

    Checks: number of repeat buyers (caution below 100), penalizer (caution when a larger
    one than asked for was needed), dropout identified (caution when ``a / (a + b)`` <
    0.001 or a standard error is not finite), Gamma-Gamma independence (caution when
    ``|r|`` >= 0.3), Gamma-Gamma ``q`` (caution when <= 2: the spread of spend is then
    infinite and CLV is driven by a few customers), and, with a holdout validation, the
    error of total holdout purchases (caution beyond ±20 %, or no holdout purchase).

    Returns
    -------
    DataFrame
        Columns ``check``, ``value`` (text), ``status`` (``ok`` or ``caution``) and
        ``meaning``. :func:`model_cautions` gives a sentence for each ``caution``.
    """
    rows = [
        (c.check, c.value, "ok" if c.caution is None else "caution", c.meaning)
        for c in _checks(bgf, ggf, validation)
    ]
    return pd.DataFrame(rows, columns=["check", "value", "status", "meaning"])


def model_cautions(bgf, ggf=None, validation: HoldoutValidation | None = None) -> list[str]:
    """The cautions of the model checks, each one plain sentence with its figure.

    One sentence per check of :func:`model_checks` whose status is ``caution``: dropout
    not identified (``a / (a + b) < 0.001`` or a standard error not finite), fewer than 100
    repeat buyers, a penalizer needed to converge, Gamma-Gamma frequency-spend correlation
    of 0.3 or more, heavy-tailed spend (``q <= 2``), average spends capped for the spend
    fit (``spend_cap``), holdout error beyond ±20 %. A report
    passes each to :func:`retention_utils.record.caution`.

    Returns
    -------
    list of str
        Empty when every check is ok.

    Examples
    --------
    >>> for text in model_cautions(bgf, ggf, validation):  # doctest: +SKIP
    ...     caution(text, section="CLV")
    """
    return [c.caution for c in _checks(bgf, ggf, validation) if c.caution is not None]


def period_transactions(summary: pd.DataFrame, bgf, *, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases: actual vs expected under the fitted model
    (BG/NBD, MBG/NBD or Pareto/NBD).

    The expected count for ``x`` repeat purchases is ``sum_i P(X(T_i) = x)`` over customers
    (computed exactly, not simulated); the last bucket is ``max_frequency`` or more.

    Returns
    -------
    DataFrame
        ``frequency`` (bucket label), ``actual`` and ``expected`` (customers).
    """
    data = rfm_arrays(summary)
    buckets = frequency_buckets(data["frequency"], max_frequency)
    actual = pd.Series(buckets).value_counts(sort=False)
    ages = data["T"].value_counts()
    model, family = family_of(bgf)
    params = params_of(bgf)
    probability = {
        "bgnbd": lambda t, x: probability_of_purchases(bgf, t, x),
        "mbgnbd": lambda t, x: mbgnbd.probability_of_purchases(params, t, x),
        "pareto_nbd": lambda t, x: pareto_nbd.probability_of_purchases(params, t, x),
    }[model]
    probs = np.column_stack(
        [probability(ages.index.to_numpy(dtype=float), x) for x in range(max_frequency)]
    )
    expected = probs.T @ ages.to_numpy(dtype=float)
    expected = np.append(expected, len(data) - expected.sum())
    out = pd.DataFrame(
        {"frequency": actual.index.astype(str), "actual": actual.to_numpy(), "expected": expected}
    )
    out.attrs["model"] = family.label
    return out
