# Two commands on a fresh machine: `make run` (whole DAG, embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format generate test-slurm dry-run clean-results

# The last step installs Vega, Vega-Lite and vega-embed for `dvc plots show` offline (.dvc/plots/offline.html).
$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml .dvc/plots/package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	npm install --prefix .dvc/plots --no-package-lock --no-audit --no-fund --silent \
	  || echo "npm install --prefix .dvc/plots failed: dvc plots show draws nothing until it succeeds"
	touch $@

# After a kill it recovers by itself: workflow/run_dag.sh releases a dead run's lock.
run: $(STAMP)
	workflow/run_dag.sh $(BIN)

# Test files run on TEST_WORKERS processes (pytest-xdist; a file's tests stay in one process, which keeps
# its fixtures): the DAG tests spend most of their time in one-core steps.
TEST_WORKERS ?= 2

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# ruff (format and checks, configured in pyproject.toml) and snakefmt, over every Python and Snakemake file;
# `make format` applies both. docs/development.md states the habit.
LINTED := src tests benchmarks workflow/scripts tools

lint: $(STAMP)
	$(BIN)/ruff format --check --quiet $(LINTED)
	$(BIN)/ruff check --quiet $(LINTED)
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(BIN)/ruff format --quiet $(LINTED)
	$(BIN)/ruff check --quiet --fix $(LINTED)
	$(BIN)/snakefmt Snakefile workflow/rules

# The files generated from one source (tools/generate.py): src/usae/options.py from the config schema.
generate: $(STAMP)
	$(BIN)/python tools/generate.py

# The workflow on a one-node SLURM cluster started on this machine (installs SLURM with apt-get as root;
# 6 to 10 minutes on 2 cores, so `make test` skips it, and so does .ci/run).
test-slurm: $(STAMP)
	USAE_TEST_SLURM=1 $(BIN)/python -m pytest -s tests/workflow/test_slurm.py

dry-run: $(STAMP)
	$(BIN)/snakemake --cores all -n

clean-results:
	rm -rf results .snakemake
