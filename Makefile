# Common jobs. `make report` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= reports/demo

.PHONY: setup setup-spark test report lab lint format data bench bench-smoke browser-check \
	screenshots clean

setup: $(STAMP)

# Redone whenever the lock or the package metadata changes.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Spark engine: pyspark (built from an sdist, about 2 minutes) beside the lock; needs Java 17.
SPARK_STAMP := $(VENV)/.spark-installed
setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[spark]"
	$(BIN)/python -m pip check
	touch $(SPARK_STAMP)

test: setup
	$(BIN)/python -m pytest

report: setup
	$(BIN)/python -m retention_utils demo --out $(OUT)

lab: setup
	$(BIN)/jupyter lab notebooks/

lint: setup
	$(BIN)/ruff check retention_utils tests notebooks bench
	$(BIN)/ruff format --check retention_utils tests notebooks bench

format: setup
	$(BIN)/ruff format retention_utils tests notebooks bench
	$(BIN)/ruff check --fix retention_utils tests notebooks bench

data: setup
	$(BIN)/python data/make_sample.py

bench: setup
	$(BIN)/python -m bench.run

bench-smoke: setup
	$(BIN)/python -m bench.run --smoke

# Each report and the index in headless Chromium at 1366 and 1920 px: broken images, script
# errors, network loads, sideways overflow, overlaps, warning text (after `make report`).
browser-check: setup
	$(BIN)/python tests/browser.py $(OUT)

# The README's pictures (the cohort report's summary and the index), after `make report`.
screenshots: setup
	$(BIN)/python tests/browser.py --screenshots $(OUT) reports/screenshots

clean:
	rm -rf reports/demo bench/out .pytest_cache .ruff_cache
