# Every target creates .venv when missing and installs the package into it
# with the pinned versions of constraints.txt (the same set CI tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= results/demo
UPSTREAM_DIR ?= results/upstream
# SpeechBrain's pinned ruff (its lint-requirements.txt), beside ours: the
# tests check the files `make upstream` writes with it
SB_RUFF := $(VENV)/sb-ruff/bin/ruff
ARGS ?=

.PHONY: install test lint format demo bench upstream clean gpu-wheels gpu-check \
	gpu-report

install: $(STAMP) $(SB_RUFF)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

$(SB_RUFF): | $(STAMP)
	$(BIN)/python -m pip install -q --upgrade --target $(VENV)/sb-ruff ruff==0.12.4

CODE := lobes hparams recipes bench demo tests upstream

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m hparams.recipes --check

format: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

test: lint $(SB_RUFF)
	$(BIN)/python -m pytest -q --durations=10 $(ARGS)

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_DIR)

# the benchmark suite against upstream SpeechBrain; e.g. make bench ARGS="--quick"
bench: $(STAMP)
	$(BIN)/python -m bench.suite $(ARGS)

# The GPU report (bench/gpu, README.md "GPU report"), for the bare, offline
# GPU machine the device tool lends (python3 with torch, no SpeechBrain):
# 1. here, with PyPI: `make gpu-wheels` writes .whl/ (the wheels it lacks,
#    pinned by constraints.txt; `make gpu-check` tries them with torch alone);
# 2. the device tool's run, command `make gpu-report`, carry=[".whl"]: no
#    .venv, it unpacks .whl into .gpu-site and runs python3 -m bench.gpu
#    (ARGS="--budget S" to change its time, 420 s by default), which writes
#    bench/results/gpu_report.md, suite_cuda*.{csv,md} and the CSVs, and the
#    same into $OUT, which the tool returns;
# 3. here: copy the returned files into bench/results/ and commit them.
gpu-wheels: $(STAMP)
	$(BIN)/python -m bench.gpu.wheels

gpu-check: $(STAMP)
	$(BIN)/python -m bench.gpu.isolation

gpu-report:
	python3 -m bench.gpu.install .whl .gpu-site && PYTHONPATH=.:.gpu-site python3 -m bench.gpu $(ARGS)

# the lobes as a SpeechBrain pull request (see upstream/__init__.py)
upstream: $(STAMP)
	$(BIN)/python -m upstream $(UPSTREAM_DIR)

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache *.egg-info .whl .gpu-site
