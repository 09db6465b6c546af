"""Customer lifetime value: purchase models (BG/NBD, MBG/NBD, Pareto/NBD) chosen on a
holdout, Gamma-Gamma spend, and intervals on every prediction.

The models are lifetimes' ``BetaGeoFitter`` (BG/NBD, Fader, Hardie & Lee 2005),
``ModifiedBetaGeoFitter`` (MBG/NBD, Batislam et al. 2007), ``ParetoNBDFitter`` (Pareto/NBD,
evaluated in log space here) and ``GammaGammaFitter`` (Fader & Hardie 2013). This package is the only place that imports
lifetimes (lazily, without its global side effects: :mod:`.base`). Everything lifetimes does
wrong on the current stack (holdout split, alive paths, tracking and heatmap plots) is done
here, in :mod:`retention_utils.engine` or in :mod:`retention_utils.plots.clv` instead.

Inputs are engine outputs: the per-customer summaries of
:func:`retention_utils.engine.rfm_summary` (``frequency``, ``recency``, ``T``,
``monetary_value``) or :func:`retention_utils.engine.calibration_holdout` (the same with
``_cal``), whose time unit is read from ``attrs["unit_days"]``, and the small frames of
``customer_history``, ``customer_purchase_days`` and ``purchase_tracking``.

Modules: :mod:`.base` (lifetimes, input checks, penalizer ladder, fit info), one module
per model family (:mod:`.bgnbd`, :mod:`.mbgnbd`, :mod:`.pareto_nbd`, :mod:`.gamma_gamma`),
:mod:`.models` (``fit_model``, likelihood curvature, dropout identification), :mod:`.choice`
(``compare_models``), :mod:`.uncertainty` (``parameter_table``, ``clv_intervals``),
:mod:`.holdout` (holdout length and validation), :mod:`.tracking`
(repeat purchases over calendar time), :mod:`.diagnostics` (parameters, model checks and
cautions), :mod:`.customers` (predictions, customer table, segments, files) and
:mod:`.headlines` (what the report states: headline figures, the P(alive) sentence).

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
    FitInfo,
    ModelAssumptionWarning,
    ModelDataError,
    PenalizerWarning,
    time_unit,
)
from retention_utils.clv.bgnbd import (
    alive_history,
    bgnbd_log_likelihood,
    dropout_probability,
    expected_repeat_purchases,
    frequency_recency_grid,
    probability_of_purchases,
)
from retention_utils.clv.choice import chosen_model, compare_models
from retention_utils.clv.customers import (
    SEGMENTS,
    at_risk_customers,
    customer_table,
    predict_clv,
    prediction_summary,
    seed_formula_comparison,
    segment_summary,
    with_intervals,
    write_customer_table,
)
from retention_utils.clv.diagnostics import (
    CAUTION_REPEAT_BUYERS,
    HOLDOUT_ERROR_CAUTION,
    model_cautions,
    model_checks,
    period_transactions,
)
from retention_utils.clv.gamma_gamma import CORRELATION_WARNING, fit_gamma_gamma
from retention_utils.clv.headlines import (
    alive_pointer,
    alive_statement,
    headline_figures,
    listed_columns,
    written_files,
)
from retention_utils.clv.holdout import (
    HoldoutPlan,
    HoldoutValidation,
    calibration_overview,
    holdout_plan,
    validate_holdout,
)
from retention_utils.clv.models import (
    DROPOUT_WARNING,
    MODELS,
    dropout_identified,
    fit_bgnbd,
    fit_model,
    log_covariance,
)
from retention_utils.clv.tracking import repeat_purchase_tracking
from retention_utils.clv.uncertainty import clv_intervals, interval_totals, parameter_table

__all__ = [
    "CAUTION_REPEAT_BUYERS",
    "CORRELATION_WARNING",
    "DAYS_PER_MONTH",
    "DROPOUT_WARNING",
    "HOLDOUT_ERROR_CAUTION",
    "MIN_REPEAT_BUYERS",
    "MODELS",
    "PENALIZER_LADDER",
    "SEGMENTS",
    "TIME_UNITS",
    "FitInfo",
    "HoldoutPlan",
    "HoldoutValidation",
    "ModelAssumptionWarning",
    "ModelDataError",
    "PenalizerWarning",
    "alive_history",
    "alive_pointer",
    "alive_statement",
    "at_risk_customers",
    "bgnbd_log_likelihood",
    "calibration_overview",
    "clv_intervals",
    "chosen_model",
    "compare_models",
    "customer_table",
    "dropout_identified",
    "dropout_probability",
    "expected_repeat_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_model",
    "frequency_recency_grid",
    "headline_figures",
    "holdout_plan",
    "interval_totals",
    "listed_columns",
    "log_covariance",
    "model_cautions",
    "model_checks",
    "parameter_table",
    "period_transactions",
    "predict_clv",
    "prediction_summary",
    "probability_of_purchases",
    "repeat_purchase_tracking",
    "seed_formula_comparison",
    "segment_summary",
    "time_unit",
    "validate_holdout",
    "with_intervals",
    "write_customer_table",
    "written_files",
]
