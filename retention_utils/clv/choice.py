"""Which purchase model to use: BG/NBD, MBG/NBD and Pareto/NBD fitted on the calibration
period and judged on the holdout (SPEC section 4, "Model choice")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_utils.clv.base import ModelDataError, distinct_rows, quiet_lifetimes, rfm_arrays
from retention_utils.clv.holdout import frequency_buckets
from retention_utils.clv.models import (
    FAMILIES,
    MODELS,
    dropout_identified,
    fit_model,
    standard_errors_finite,
)

#: Calibration-frequency buckets of ``bucket_error``: 0 ... 6 and 7 or more.
BUCKET_MAX = 7


def compare_models(
    calibration: pd.DataFrame,
    models: tuple[str, ...] = MODELS,
    *,
    penalizer: float | None = None,
) -> pd.DataFrame:
    """Fit each purchase model on the calibration period and score it on the holdout.

    Parameters
    ----------
    calibration : DataFrame
        From :func:`~retention_utils.engine.calibration_holdout` (``frequency_cal``,
        ``recency_cal``, ``T_cal``, ``frequency_holdout``, ``duration_holdout``); with a
        ``customers`` column, each row stands for that many customers (distinct rows with
        their counts: the same table, computed from fewer rows).
    models : tuple of str
        Among ``"bgnbd"``, ``"mbgnbd"``, ``"pareto_nbd"``.
    penalizer : float, optional
        As in :func:`~retention_utils.clv.fit_model`.

    Returns
    -------
    DataFrame
        One row per model: ``model`` (name as given to ``fit_model``), ``log_likelihood``
        (total, calibration period), ``n_params``, ``bic`` (``-2 log_likelihood + n_params
        * ln(customers)``), ``holdout_actual`` and ``holdout_predicted`` (total repeat
        purchases in the holdout), ``holdout_error`` (percent of actual),
        ``bucket_error`` (mean over the calibration-frequency buckets 0 ... 6, 7+ of the
        absolute difference between predicted and actual mean holdout purchases),
        ``dropout_identified`` and ``chosen``. The chosen model has the lowest
        ``bucket_error`` among the models that converged, identify dropout and have finite
        standard errors; when none qualifies, the lowest ``bucket_error`` among those that
        converged. ``attrs``: ``chosen`` (its name), ``reason`` (one sentence),
        ``cautions`` (one sentence when BG/NBD does not identify dropout, naming the model
        used instead),
        ``by_frequency`` (per bucket: ``customers``, ``actual`` and one column per model,
        mean holdout purchases) and ``failed`` (model: why it did not fit).
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(
            f"models must be among {', '.join(repr(m) for m in MODELS)}, got {models!r}."
        )
    needed = ["frequency_holdout", "duration_holdout"]
    missing = [c for c in needed if c not in calibration.columns]
    if missing:
        raise ValueError(
            "compare_models needs the output of calibration_holdout; missing columns: "
            f"{', '.join(missing)}."
        )
    data = rfm_arrays(calibration)
    weights = (
        calibration["customers"].to_numpy(dtype=float)
        if "customers" in calibration.columns
        else np.ones(len(data))
    )
    duration = float(calibration["duration_holdout"].iloc[0])
    actual = calibration["frequency_holdout"].to_numpy(dtype=float)
    buckets = frequency_buckets(data["frequency"], BUCKET_MAX)
    # predictions depend on (frequency, recency, T) only: scored once per distinct row
    distinct, inverse = distinct_rows(*(data[c].to_numpy() for c in ("frequency", "recency", "T")))
    by_frequency = pd.DataFrame({"bucket": buckets, "weight": weights, "actual": actual * weights})
    rows, failed = [], {}
    for model in models:
        try:
            fitter = fit_model(calibration, model, penalizer)
        except ModelDataError as exc:
            failed[model] = str(exc)
            rows.append({"model": model, "n_params": len(FAMILIES[model].params)})
            continue
        with quiet_lifetimes():
            predicted = np.asarray(
                fitter.conditional_expected_number_of_purchases_up_to_time(duration, *distinct),
                dtype=float,
            )
        by_frequency[model] = predicted[inverse] * weights
        sums = by_frequency.groupby("bucket", observed=True)[["weight", "actual", model]].sum()
        means = sums[["actual", model]].div(sums["weight"], axis=0)
        total_actual, total_predicted = float(sums["actual"].sum()), float(sums[model].sum())
        k = len(FAMILIES[model].params)
        rows.append(
            {
                "model": model,
                "log_likelihood": fitter.info_.log_likelihood,
                "n_params": k,
                "bic": -2 * fitter.info_.log_likelihood + k * np.log(weights.sum()),
                "holdout_actual": total_actual,
                "holdout_predicted": total_predicted,
                "holdout_error": 100 * (total_predicted - total_actual) / total_actual
                if total_actual
                else np.nan,
                "bucket_error": float((means[model] - means["actual"]).abs().mean()),
                "dropout_identified": dropout_identified(fitter),
                "converged": True,
                "finite_se": standard_errors_finite(fitter),
            }
        )
    if len(failed) == len(models):  # the data cannot support any model: say why, once
        raise ModelDataError(failed[models[0]])
    table = pd.DataFrame(rows)
    for col, default in (("converged", False), ("finite_se", False), ("dropout_identified", False)):
        table[col] = table[col].astype("boolean").fillna(default).astype(bool)
    eligible = table["converged"] & table["dropout_identified"] & table["finite_se"]
    pool = table[eligible] if eligible.any() else table[table["converged"]]
    chosen = pool.loc[pool["bucket_error"].idxmin(), "model"]
    table["chosen"] = table["model"] == chosen
    sums = by_frequency.groupby("bucket", observed=False).sum()
    summary = sums[["actual", *[m for m in models if m in by_frequency]]].div(
        sums["weight"], axis=0
    )
    summary.insert(0, "customers", sums["weight"].astype(np.int64))
    summary.index = summary.index.astype(str).rename("frequency_cal")
    out = table[
        [
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
    ]
    out.attrs.update(
        chosen=chosen,
        reason=choice_reason(table, chosen, eligible.any()),
        cautions=choice_cautions(table, chosen),
        by_frequency=summary.reset_index(),
        failed=failed,
        duration=duration,
        unit_days=calibration.attrs.get("unit_days"),
    )
    return out


def choice_reason(table: pd.DataFrame, chosen: str, any_eligible: bool) -> str:
    """One sentence saying which model was chosen and why."""
    row = table.set_index("model").loc[chosen]
    label = FAMILIES[chosen].label
    others = table[(table["model"] != chosen) & table["converged"]]
    if not any_eligible:
        return (
            f"{label} is used because no model identifies customer dropout with finite "
            f"standard errors; it follows the holdout most closely (mean error "
            f"{row['bucket_error']:.3f} purchases per customer across frequency groups), "
            "but its P(alive) cannot flag customers who left."
        )
    excluded = others[~(others["dropout_identified"] & others["finite_se"])]
    text = (
        f"{label} is used: among the models that identify customer dropout it predicted "
        f"the holdout purchases of each frequency group most closely (mean error "
        f"{row['bucket_error']:.3f} purchases per customer"
    )
    rivals = others[others["dropout_identified"] & others["finite_se"]]
    if not rivals.empty:
        text += ", against " + ", ".join(
            f"{r['bucket_error']:.3f} for {FAMILIES[r['model']].label}"
            for _, r in rivals.iterrows()
        )
    text += ")"
    if not excluded.empty:
        names = " and ".join(FAMILIES[m].label for m in excluded["model"])
        verb = "does" if len(excluded) == 1 else "do"
        text += f"; {names} {verb} not identify dropout on these data"
    return text + "."


def choice_cautions(table: pd.DataFrame, chosen: str) -> list[str]:
    """A sentence when BG/NBD, the reference model, does not identify dropout."""
    row = table.set_index("model").loc["bgnbd"] if "bgnbd" in set(table["model"]) else None
    if row is None or not row["converged"] or (row["dropout_identified"] and row["finite_se"]):
        return []
    if chosen == "bgnbd":
        return []  # the chosen model's own dropout check says it
    label = FAMILIES[chosen].label
    return [
        "BG/NBD does not identify customer dropout on these data (its P(alive) would be "
        f"about 1 for everyone), so the report uses {label}"
        + (
            ", which does."
            if table.set_index("model").loc[chosen, "dropout_identified"]
            else ", which follows the holdout more closely but does not identify it either."
        )
    ]


def chosen_model(comparison: pd.DataFrame, model: str = "auto") -> str:
    """The model a report uses: ``model``, or the one :func:`compare_models` chose when it
    is ``"auto"``."""
    if model == "auto":
        return comparison.attrs["chosen"]
    if model not in MODELS:
        raise ValueError(
            f"model must be 'auto' or one of {', '.join(repr(m) for m in MODELS)}, got {model!r}."
        )
    return model
