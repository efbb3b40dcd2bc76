# fedbench — the two commands of the README, plus helpers.
#   make report   the full default grid (45 Flower runs) -> reports/fedprox-mnist/
#   make test     unit + integration tests, benchmark smoke run, CI regression grid + check
# Both create .venv (Python 3.11) and install the pinned project if needed.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 8
STAMP  := $(VENV)/.installed

.PHONY: setup data report quick test contracts unit bench-smoke ci-grid bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

data: setup
	$(BIN)/fedbench data mnist --root resources
	$(BIN)/fedbench data fashion-mnist --root resources

report: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --profile workflow/profiles/default

quick: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores 2 --profile workflow/profiles/default --configfile configs/quick.yaml

unit: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

ci-grid: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores 2 --profile workflow/profiles/default check --configfile configs/ci.yaml

# the benchmark suite at a small size, numbers checked, timings not asserted: so it cannot rot
bench-smoke: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest benchmarks -q --benchmark-disable

# the package's layers and acyclicity (import-linter contracts in pyproject.toml)
contracts: setup
	$(BIN)/lint-imports

test: contracts unit bench-smoke ci-grid

bench: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest benchmarks -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint

# Flower's own engines on this machine, each against an in-process run of the same cell
# (about 1 and 3 minutes here; each prints "SKIP <part>: <reason>" where it cannot run):
# a two-node Ray cluster that --backend ray attaches to through RAY_ADDRESS, and a SuperLink
# with SuperNodes (insecure, on 127.0.0.1) that `flwr run` drives, one SuperNode killed mid-run
.PHONY: test-engines test-engines-ray test-engines-deployment
test-engines-ray: setup
	$(BIN)/python tests/engines/ray/run.py

test-engines-deployment: setup
	$(BIN)/python tests/engines/deployment/run.py

# The SLURM profile against a real one-node SLURM started here (as root; apt-get installs
# slurm-wlm and munge when missing, else "SKIP slurm: <reason>"): configs/quick.yaml through
# snakemake-executor-plugin-slurm with one job cancelled, equal to a local run (about 5.5 minutes)
.PHONY: test-engines-slurm
test-engines-slurm: setup
	VENV=$(VENV) tests/engines/slurm/run.sh

test-engines: test-engines-slurm test-engines-ray test-engines-deployment

clean:
	rm -rf results .snakemake
