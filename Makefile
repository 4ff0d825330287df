# The two commands that matter: `make demo` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_COMPILE_BYTECODE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test check portability dev install lint bench clean browser

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/dangol demo

# The tests run on every core (pytest-xdist), a file to a worker: a file's tests share its fixtures.
test: check browser
	$(BIN)/python -m pytest -q -m "not slow" -n auto --dist loadfile

# What guards the house before any test runs: lint, layout, types, the dbt project and the Dagster definitions.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet
	mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(MAKE) --no-print-directory portability

# The models as compiled, linted for what runs on DuckDB only (scripts/portability_lint.py); an empty
# throwaway warehouse, so the lint never touches a real one.
portability: install
	DANGOL_DBT_TARGET=duckdb DANGOL_WAREHOUSE=$(CURDIR)/dbt_project/target/lint/empty.duckdb $(BIN)/dbt compile \
		--project-dir dbt_project --profiles-dir dbt_project --target-path target/lint --quiet --select resource_type:model
	$(BIN)/python scripts/portability_lint.py dbt_project/target/lint/manifest.json

dev: install
	$(BIN)/dangol dev

# Benchmarks (never timed tests): the one-machine figures into bench/results/scale.md and scale.svg.
bench: install
	$(BIN)/python -m bench.scale

# Debian's Chromium and Korean fonts for the UI test (tests/browser), installed with apt when missing.
browser:
	scripts/install-browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) warehouse demo_data .dagster_home dbt_project/target
