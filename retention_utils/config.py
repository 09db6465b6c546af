"""Paths and defaults in one place."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DATA_DIR = PROJECT_DIR / "data"
SAMPLE_DIR = DATA_DIR / "sample"
NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
REPORT_DIR = PROJECT_DIR / "reports"

# Embedded demo data (see data/README.md).
SAMPLE_TRANSACTIONS = SAMPLE_DIR / "transactions.csv"
SAMPLE_SURVEYS = SAMPLE_DIR / "surveys.csv"
SAMPLE_SUBSCRIPTIONS = SAMPLE_DIR / "subscriptions.csv"
SAMPLE_COSTS = SAMPLE_DIR / "retention_costs.csv"
ONLINE_RETAIL = DATA_DIR / "online_retail" / "online_retail.parquet"

# Metric defaults (SPEC section 4).
DEFAULT_FREQ = "M"
DEFAULT_ACTIVE_DAYS = 365
DEFAULT_MAX_LIFESPAN_YEARS = 10.0
DEFAULT_FOLLOWUP_DAYS = 90
DEFAULT_MIN_RESPONSES = 30
CONFIDENCE = 0.95

# Canonical column names (SPEC section 3).
CUSTOMER = "customer_id"
ORDER_DATE = "order_date"
AMOUNT = "amount"
ORDER = "order_id"
RESPONSE_DATE = "response_date"
# The same file as shipped beside the project (read-only copy), used if data/ lacks it.
SHARED_ONLINE_RETAIL = (
    PROJECT_DIR.parent / "shared" / "data" / "online_retail" / "online_retail.parquet"
)
