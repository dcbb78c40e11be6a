# Two commands from a fresh clone (each sets up .venv on first use):
#   make keys   execute every master in answers/, render the keys, regenerate notebooks/ (tiny mode;
#               COURSE_TINY=0 make keys for full mode)
#   make test   the whole test suite: unit tests, nbval over the masters, handouts up to date
# Both install the newest releases that pyproject.toml allows. CI (.ci/run) pins the test toolchain
# through PIP_CONSTRAINT=ci/constraints-dev.txt; `make lock` refreshes that file on purpose.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: keys test lock clean

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info test-artifacts
