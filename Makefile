# Two commands do all set-up on a fresh machine with Python 3.11 and Java 17:
#   make demo   - the main job on data/sample_reviews.csv (local Spark, local folders)
#   make test   - lint, import contracts, type check, the docs site and the whole test suite
# PYSPARK picks the Spark line: 3.5.6 (Glue 5.1 parity, default) or 4.1.1 (Glue 6.0 parity).

PYTHON  ?= python3
PYSPARK ?= 3.5.6
VENV    ?= .venv
OUT     ?= out
BIN     := $(VENV)/bin
# Static checkers of the CloudFormation template, in their own virtualenv: checkov pins
# many libraries that must not constrain the package's own dependencies.
TOOLS   ?= .venv-tools

.PHONY: demo test test-properties lint typecheck pytest tools browser bench bench-burst bench-history bench-all package clean docs

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

# The report's browser test opens it in headless Chromium (Debian's package; needs root).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

demo: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/reviews-etl run data/sample_reviews.csv --output $(OUT)

lint: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/mypy

# The docs site (mkdocs.yml, docs/) into site/; --strict: a broken link, anchor or docstring
# fails it.
docs: $(VENV)/.dev-$(PYSPARK)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

pytest: $(VENV)/.dev-$(PYSPARK) tools browser
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(BIN)/pytest

test: lint typecheck docs pytest

# The property-based differential test with many more examples than CI runs (minutes).
test-properties: $(VENV)/.dev-$(PYSPARK)
	HYPOTHESIS_PROFILE=deep $(BIN)/pytest tests/contract/test_properties.py

# Benchmarks (docs/performance.md; never run in CI, which runs tests/benchmarks/).
# Run them on a quiet machine; figures and logs go to $(BENCH_OUT)/.
#   make bench          1M rows: pipeline, DuckDB, seed-style, Spark floor (+ multiLine=False)
#   make bench-burst    200 files x 5,000 rows through `watch --once` vs one 1M-row file
#   make bench-history  one 10,000-row file into histories of 0, 1M and 10M curated rows
#   make bench-all      1M + 5M + 20M in one run (targets, per-row growth), then burst and
#                       history: several hours on 2 cores
BENCH_OUT     ?= bench-out
BENCH_REPEATS ?= 3

bench: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/python benchmarks/run.py --rows 1000000 --repeats $(BENCH_REPEATS) \
		--work-dir $(BENCH_OUT) --json $(BENCH_OUT)/results-1m.json

bench-burst: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/python benchmarks/burst.py --files 200 --rows-per-file 5000 \
		--repeats $(BENCH_REPEATS) --work-dir $(BENCH_OUT) --json $(BENCH_OUT)/burst.json

bench-history: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/python benchmarks/history.py --prefill 0 1000000 10000000 --rows 10000 \
		--repeats $(BENCH_REPEATS) --work-dir $(BENCH_OUT) --json $(BENCH_OUT)/history.json

bench-all: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/python benchmarks/run.py --sizes 1000000 5000000 20000000 \
		--repeats $(BENCH_REPEATS) --timeout 7200 --work-dir $(BENCH_OUT) \
		--json $(BENCH_OUT)/results-all.json
	$(MAKE) bench-burst bench-history

package: $(VENV)/.dev-$(PYSPARK)
	$(BIN)/reviews-etl package --out dist

clean:
	rm -rf $(OUT) dist build site .pytest_cache .mypy_cache .ruff_cache spark-warehouse
