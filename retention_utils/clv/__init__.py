"""Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, holdout validation.

The models are lifetimes' ``BetaGeoFitter`` (BG/NBD, Fader, Hardie & Lee 2005) and
``GammaGammaFitter`` (Fader & Hardie 2013). This package is the only place that imports
lifetimes (lazily, without its global side effects: :mod:`.base`). Everything lifetimes does
wrong on the current stack (holdout split, alive paths, tracking and heatmap plots) is done
here, in :mod:`retention_utils.engine` or in :mod:`retention_utils.plots.clv` instead.

Inputs are engine outputs: the per-customer summaries of
:func:`retention_utils.engine.rfm_summary` (``frequency``, ``recency``, ``T``,
``monetary_value``) or :func:`retention_utils.engine.calibration_holdout` (the same with
``_cal``), whose time unit is read from ``attrs["unit_days"]``, and the small frames of
``customer_history``, ``customer_purchase_days`` and ``purchase_tracking``.

Modules: :mod:`.base` (lifetimes, input checks, penalizer ladder), :mod:`.bgnbd`,
:mod:`.gamma_gamma`, :mod:`.holdout` (holdout length and validation), :mod:`.tracking`
(repeat purchases over calendar time), :mod:`.diagnostics` (parameters, model checks and
cautions) and :mod:`.customers` (predictions, customer table, segments, files).

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://www.brucehardie.com/notes/025/
"""

from retention_utils.clv.base import (
    DAYS_PER_MONTH,
    MIN_REPEAT_BUYERS,
    PENALIZER_LADDER,
    TIME_UNITS,
    ModelAssumptionWarning,
    ModelDataError,
    PenalizerWarning,
    time_unit,
)
from retention_utils.clv.bgnbd import (
    DROPOUT_WARNING,
    alive_history,
    bgnbd_log_likelihood,
    dropout_probability,
    expected_repeat_purchases,
    fit_bgnbd,
    frequency_recency_grid,
    probability_of_purchases,
)
from retention_utils.clv.customers import (
    SEGMENTS,
    at_risk_customers,
    customer_table,
    predict_clv,
    seed_formula_comparison,
    segment_summary,
    write_customer_table,
)
from retention_utils.clv.diagnostics import (
    CAUTION_REPEAT_BUYERS,
    HOLDOUT_ERROR_CAUTION,
    dropout_identified,
    model_cautions,
    model_checks,
    parameter_table,
    period_transactions,
)
from retention_utils.clv.gamma_gamma import CORRELATION_WARNING, fit_gamma_gamma
from retention_utils.clv.holdout import (
    HoldoutPlan,
    HoldoutValidation,
    holdout_plan,
    validate_holdout,
)
from retention_utils.clv.tracking import repeat_purchase_tracking

__all__ = [
    "CAUTION_REPEAT_BUYERS",
    "CORRELATION_WARNING",
    "DAYS_PER_MONTH",
    "DROPOUT_WARNING",
    "HOLDOUT_ERROR_CAUTION",
    "MIN_REPEAT_BUYERS",
    "PENALIZER_LADDER",
    "SEGMENTS",
    "TIME_UNITS",
    "HoldoutPlan",
    "HoldoutValidation",
    "ModelAssumptionWarning",
    "ModelDataError",
    "PenalizerWarning",
    "alive_history",
    "at_risk_customers",
    "bgnbd_log_likelihood",
    "customer_table",
    "dropout_identified",
    "dropout_probability",
    "expected_repeat_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "frequency_recency_grid",
    "holdout_plan",
    "model_cautions",
    "model_checks",
    "parameter_table",
    "period_transactions",
    "predict_clv",
    "probability_of_purchases",
    "repeat_purchase_tracking",
    "seed_formula_comparison",
    "segment_summary",
    "time_unit",
    "validate_holdout",
    "write_customer_table",
]
