# Two commands do all set-up on a fresh machine with Python 3.11 and Java 17:
#   make demo   - the main job on data/sample_reviews.csv (local Spark, local folders)
#   make test   - lint, type check and the whole test suite
# PYSPARK picks the Spark line: 3.5.6 (Glue 5.1 parity, default) or 4.1.1 (Glue 6.0 parity).

PYTHON  ?= python3
PYSPARK ?= 3.5.6
VENV    ?= .venv
OUT     ?= out
BIN     := $(VENV)/bin
# Static checkers of the CloudFormation template, in their own virtualenv: checkov pins
# many libraries that must not constrain the package's own dependencies.
TOOLS   ?= .venv-tools

.PHONY: demo test lint typecheck pytest tools bench package clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.dev-$(PYSPARK): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]" "pyspark==$(PYSPARK)"
	rm -f $(VENV)/.dev-* && touch $@

$(TOOLS)/bin/checkov:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet "checkov>=3.2"

tools: $(TOOLS)/bin/checkov

demo: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/reviews-etl run data/sample_reviews.csv --output $(OUT)

lint: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/mypy

pytest: $(VENV)/.dev-$(PYSPARK) tools
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/python benchmarks/run.py --rows 1000000

package: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/reviews-etl package --out dist

clean:
	rm -rf $(OUT) dist build .pytest_cache .mypy_cache .ruff_cache spark-warehouse
