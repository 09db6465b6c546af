"""Customer-retention analytics: cohorts and KPIs, CLV, satisfaction, and batch reports.

Public names are imported lazily, so ``import retention_utils`` stays fast and does not
import lifetimes (which changes global state on import) until a CLV function is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # loading and validation
    "DataValidationError": "errors",
    "QualitySummary": "io",
    "load_transactions": "io",
    "load_surveys": "io",
    "load_subscriptions": "io",
    "load_costs": "io",
    "load_cdnow": "io",
    "load_online_retail": "io",
    # aggregation engine
    "daily_purchases": "engine",
    "rfm_summary": "engine",
    "calibration_holdout": "engine",
    # KPIs
    "retention_rate": "kpis",
    "churn_rate": "kpis",
    "return_rate": "kpis",
    "simple_clv": "kpis",
    "retention_cost_per_customer": "kpis",
    "kpi_table": "kpis",
    "mrr_table": "kpis",
    "simple_clv_inputs": "kpis",
    # cohorts
    "cohort_matrix": "cohorts",
    "cohort_table": "cohorts",
    "retention_curve": "cohorts",
    "compare_retention": "cohorts",
    # survival
    "survival_curve": "survival",
    "compare_survival": "survival",
    "subscription_survival": "survival",
    # CLV models
    "fit_bgnbd": "clv",
    "fit_gamma_gamma": "clv",
    "predict_clv": "clv",
    "validate_holdout": "clv",
    "customer_table": "clv",
    # satisfaction
    "csat": "satisfaction",
    "nps": "satisfaction",
    "ces": "satisfaction",
    "repurchase_by_score": "satisfaction_links",
    "score_summary": "satisfaction",
    "score_trend": "satisfaction",
    "score_by_segment": "satisfaction",
    "compare_scores": "satisfaction",
    "compare_segments": "satisfaction",
    "clv_by_score": "satisfaction_links",
    # headline figures
    "record": "record",
    # synthetic demo data
    "DemoParameters": "synthetic",
    "generate_demo": "synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retention_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
