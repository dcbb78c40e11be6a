# Two commands from a fresh clone (each sets up .venv on first use):
#   make keys   execute every master in answers/, render the keys, regenerate notebooks/ (tiny mode;
#               COURSE_TINY=0 make keys for full mode)
#   make test   the whole test suite: unit tests, nbval over the masters, handouts up to date
# Both install the newest releases that pyproject.toml allows. CI (.ci/run) pins the test toolchain
# through PIP_CONSTRAINT=ci/constraints-dev.txt; `make lock` refreshes that file on purpose.
# CI also runs: make test-lowest   the tiny suite again in .venv-lowest, with the lowest declared versions
#             (ci/constraints-lowest.txt, Python 3.10: LOWEST_PYTHON=/path/to/python3.10 if it is not on PATH)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

LOWEST_PYTHON ?= python3.10
LOWEST_VENV = .venv-lowest

.PHONY: keys test test-lowest lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable ".[dev]"
	touch $(STAMP)

keys: $(STAMP)
	$(BIN)/course-utils keys

test: $(STAMP)
	$(BIN)/python -m pytest

lock:
	$(PYTHON) ci/lock.py

$(LOWEST_VENV)/.installed: pyproject.toml ci/constraints-lowest.txt
	$(LOWEST_PYTHON) -m venv $(LOWEST_VENV)
	PIP_CONSTRAINT=$(CURDIR)/ci/constraints-lowest.txt $(LOWEST_VENV)/bin/python -m pip install --quiet --editable ".[dev]"
	touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -m "not realmodel"

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .hypothesis build *.egg-info test-artifacts
