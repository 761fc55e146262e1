# modelyard — the two commands users need are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PEERS := .venv-peers
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck layers pytest peers bench bench-ingest bench-training bench-serving clean

# A stamp per install flavour: reinstall only when pyproject.toml changes.
$(VENV)/.stamp-base: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.stamp-dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.stamp-base

## demo: create .venv, install, and run the main job on the embedded default store
demo: $(VENV)/.stamp-base
	$(BIN)/modelyard demo

## test: create .venv with the dev extras and run ruff, mypy, import-linter and pytest
test: lint typecheck layers pytest

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

layers: $(VENV)/.stamp-dev
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test; that is not a failure of the suite.
pytest: $(VENV)/.stamp-dev
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

## peers: a separate virtualenv with the tools the benchmarks compare against
peers: $(PEERS)/.stamp
$(PEERS)/.stamp: benchmarks/peers.txt
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install $(PIP_FLAGS) -r benchmarks/peers.txt
	touch $@

## bench: run the tracking benchmark against MLflow
bench: $(VENV)/.stamp-dev peers
	$(BIN)/python -m benchmarks.tracking

## bench-ingest: CSV ingest speed and peak memory against plain pyarrow (~1 GiB CSV, cached)
bench-ingest: $(VENV)/.stamp-dev
	$(BIN)/python -m benchmarks.ingest --keep

## bench-training: our training job vs a hand-written Optuna + scikit-learn loop, and the quality bar
bench-training: $(VENV)/.stamp-dev
	$(BIN)/python -m benchmarks.training

## bench-serving: one sklearn model served by ours, `mlflow models serve`, MLServer and a bare ASGI floor, under wrk
bench-serving: $(VENV)/.stamp-dev peers
	@command -v wrk >/dev/null || { echo "wrk is not installed; install it with: apt-get install -y wrk (Debian/Ubuntu)"; exit 1; }
	$(BIN)/python -m benchmarks.serving

clean:
	rm -rf $(VENV) $(PEERS) .mypy_cache .ruff_cache .pytest_cache
